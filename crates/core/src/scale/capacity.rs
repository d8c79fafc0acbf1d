//! How much capacity to add or take away, read over the ports only for clusters where the answer can matter:
//! the shortfall only when services wait for room, consolidation only when the reservations leave room for it.
//! The decisions themselves are [`crate::pack`] and [`super::consolidate`]; this module gathers their inputs.

use std::collections::{BTreeSet, HashMap};

use futures::{StreamExt, TryStreamExt};

use super::consolidate::{self, CANDIDATES_TRIED, ClusterState, Removal};
use crate::arn::cluster_name;
use crate::cluster::{ContainerInstance, Resources, Scheduling, Service, Task};
use crate::config::ClusterSettings;
#[cfg(test)]
use crate::lifecycle::GroupInstance;
use crate::lifecycle::{AutoScalingGroup, TAG_CLUSTER};
use crate::pack::{self, Shortfall};
use crate::ports::{AwsError, EcsApi};

/// The metric a tick publishes with the number of instances waiting tasks need.
pub const SHORTFALL_METRIC: &str = "InstancesShortfall";
/// The step adjustments of each colour's shortfall policy (a step scaling policy with ChangeInCapacity, asked
/// with ExecutePolicy, the shortfall as the metric value and a breach threshold of 0): `(lower, upper,
/// instances)` with the bounds relative to the threshold. Exact up to 15 instances, then rounded up, because a
/// policy holds at most 20 steps; an overshoot is consolidated away later, an undershoot would wait a warm-up.
/// The Terraform module writes the same table (its test checks it against this one).
pub const SHORTFALL_STEPS: [(f64, Option<f64>, u32); 20] = [
    (0.5, Some(1.5), 1),
    (1.5, Some(2.5), 2),
    (2.5, Some(3.5), 3),
    (3.5, Some(4.5), 4),
    (4.5, Some(5.5), 5),
    (5.5, Some(6.5), 6),
    (6.5, Some(7.5), 7),
    (7.5, Some(8.5), 8),
    (8.5, Some(9.5), 9),
    (9.5, Some(10.5), 10),
    (10.5, Some(11.5), 11),
    (11.5, Some(12.5), 12),
    (12.5, Some(13.5), 13),
    (13.5, Some(14.5), 14),
    (14.5, Some(15.5), 15),
    (15.5, Some(20.5), 20),
    (20.5, Some(30.5), 30),
    (30.5, Some(50.5), 50),
    (50.5, Some(80.5), 80),
    (80.5, None, 120),
];

/// The metric a tick publishes with the number of ACTIVE instances that can go at once.
pub const SURPLUS_METRIC: &str = "InstancesSurplus";
/// The surplus alarm's threshold: the ScaleStatus low alarm removes one instance, the surplus policy the rest.
pub const SURPLUS_ALARM_THRESHOLD: f64 = 2.0;

/// The step adjustments of each colour's surplus policy (step scaling, ChangeInCapacity), run by the alarm
/// `InstancesSurplus >= 2` (Minimum, every datapoint of the low alarm's window): `(lower, upper, change)` with
/// the bounds relative to that threshold. A surplus of s removes s − 1 instances, since the ScaleStatus low
/// alarm, in ALARM over the same window, removes the other one; at most 20 at a time.
pub const SURPLUS_STEPS: [(f64, Option<f64>, i32); 20] = [
    (0.0, Some(1.0), -1),
    (1.0, Some(2.0), -2),
    (2.0, Some(3.0), -3),
    (3.0, Some(4.0), -4),
    (4.0, Some(5.0), -5),
    (5.0, Some(6.0), -6),
    (6.0, Some(7.0), -7),
    (7.0, Some(8.0), -8),
    (8.0, Some(9.0), -9),
    (9.0, Some(10.0), -10),
    (10.0, Some(11.0), -11),
    (11.0, Some(12.0), -12),
    (12.0, Some(13.0), -13),
    (13.0, Some(14.0), -14),
    (14.0, Some(15.0), -15),
    (15.0, Some(16.0), -16),
    (16.0, Some(17.0), -17),
    (17.0, Some(18.0), -18),
    (18.0, Some(19.0), -19),
    (19.0, None, -20),
];

/// The step Auto Scaling picks for a shortfall of `instances`: how many it adds (0 for no shortfall).
pub fn step_for(instances: u32) -> u32 {
    let value = f64::from(instances);
    SHORTFALL_STEPS
        .iter()
        .find(|(lower, upper, _)| value >= *lower && upper.is_none_or(|upper| value < upper))
        .map_or(0, |(_, _, add)| *add)
}

/// Task definitions described at once.
const CONCURRENT_DESCRIBES: usize = 8;

/// What the tick has read about one cluster so far, so no later step reads it twice.
#[derive(Debug, Clone, Default)]
pub struct Gathered {
    pub services: Option<Vec<Service>>,
    pub instances: Option<Vec<ContainerInstance>>,
    /// What one task of each task definition read so far reserves.
    pub sizes: HashMap<String, Resources>,
    /// Why the services could not be read for a cluster a reservation already scales up (the decision stands;
    /// only its size is unknown).
    pub services_unread: Option<AwsError>,
    /// The desired-RUNNING tasks of each container instance read so far.
    pub tasks_on: HashMap<String, Vec<Task>>,
}

impl Gathered {
    async fn services<E: EcsApi>(&mut self, ecs: &E, cluster: &str) -> Result<&[Service], AwsError> {
        if self.services.is_none() {
            self.services = Some(ecs.services(cluster).await?);
        }
        Ok(self.services.as_deref().unwrap_or_default())
    }

    async fn instances<E: EcsApi>(&mut self, ecs: &E, cluster: &str) -> Result<&[ContainerInstance], AwsError> {
        if self.instances.is_none() {
            self.instances = Some(ecs.container_instances(cluster).await?);
        }
        Ok(self.instances.as_deref().unwrap_or_default())
    }

    /// The tasks on one container instance (one ListTasks and DescribeTasks), read once per tick, with the sizes
    /// of their task definitions.
    pub async fn tasks_on<E: EcsApi>(&mut self, ecs: &E, cluster: &str, arn: &str) -> Result<Vec<Task>, AwsError> {
        if !self.tasks_on.contains_key(arn) {
            let tasks = ecs.tasks_on(cluster, arn).await?;
            self.read_sizes(ecs, tasks.iter().filter_map(|t| t.task_definition_arn.as_deref())).await?;
            self.tasks_on.insert(arn.to_owned(), tasks);
        }
        Ok(self.tasks_on.get(arn).cloned().unwrap_or_default())
    }

    /// Read the sizes of these task definitions that are not known yet: one DescribeTaskDefinition each. A
    /// definition whose size cannot be told stays unknown (and is logged).
    pub async fn read_sizes<'a, E: EcsApi>(
        &mut self,
        ecs: &E,
        arns: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), AwsError> {
        let wanted: BTreeSet<&str> =
            arns.into_iter().filter(|a| !a.is_empty() && !self.sizes.contains_key(*a)).collect();
        let definitions: Vec<_> = futures::stream::iter(wanted.into_iter().map(|arn| ecs.task_definition(arn)))
            .buffer_unordered(CONCURRENT_DESCRIBES)
            .try_collect()
            .await?;
        for definition in definitions {
            match definition.reservation() {
                Ok(size) => {
                    self.sizes.insert(definition.arn, size);
                }
                Err(why) => tracing::warn!(task_definition = %definition.arn, why = %why, "task size unknown"),
            }
        }
        Ok(())
    }
}

/// The size of the group's instances, as the cluster shows it: the registered size most ACTIVE instances share
/// (the larger on a tie). Not the largest type registered, which would undersize a scale-out of the common one.
pub fn instance_size(instances: &[ContainerInstance]) -> Option<Resources> {
    let mut counts: HashMap<Resources, usize> = HashMap::new();
    for size in instances.iter().filter(|i| i.is_active()).filter_map(|i| i.registered) {
        *counts.entry(size).or_default() += 1;
    }
    counts.into_iter().max_by_key(|(size, count)| (*count, *size)).map(|(size, _)| size)
}

/// How many fresh instances the tasks of the `unplaced` services need: first-fit decreasing into the ACTIVE
/// instances' free room, then into fresh instances of the group's size less what the daemons take on each.
/// Reads the daemons' task definitions it does not know yet; everything else was read by the placement check.
/// When no instance is there to take the size from, or a waiting task's size is unknown, it asks for at least
/// one: a cluster must grow from nothing, and the next tick sizes the rest.
pub async fn shortfall<E: EcsApi>(
    ecs: &E,
    cluster: &str,
    gathered: &mut Gathered,
    unplaced: &[String],
) -> Result<Shortfall, AwsError> {
    let services = gathered.services(ecs, cluster).await?.to_vec();
    let daemons: Vec<&Service> = services.iter().filter(|s| s.scheduling == Scheduling::Daemon).collect();
    gathered.read_sizes(ecs, daemons.iter().map(|s| s.task_definition.as_str())).await?;
    let instances = gathered.instances(ecs, cluster).await?.to_vec();
    let sizes = &gathered.sizes;

    let mut waiting = Vec::new();
    let mut unknown = false;
    for service in services.iter().filter(|s| unplaced.contains(&s.name)) {
        let count = usize::try_from(service.desired - service.running - service.pending).unwrap_or(0);
        match sizes.get(&service.task_definition) {
            Some(size) => waiting.extend(std::iter::repeat_n(*size, count)),
            None => unknown |= count > 0,
        }
    }
    let daemon_share = daemons
        .iter()
        .filter_map(|d| sizes.get(&d.task_definition))
        .fold(Resources::default(), |sum, d| Resources::new(sum.cpu + d.cpu, sum.memory + d.memory));
    let Some(size) = instance_size(&instances) else {
        return Ok(Shortfall { instances: 1, ..Shortfall::default() });
    };
    let fresh =
        Resources::new(size.cpu.saturating_sub(daemon_share.cpu), size.memory.saturating_sub(daemon_share.memory));
    let room: Vec<Resources> = instances.iter().filter(|i| i.is_active()).filter_map(|i| i.remaining).collect();
    let mut needed = pack::shortfall(&waiting, &room, fresh);
    if unknown && needed.instances == 0 {
        needed.instances = 1;
    }
    Ok(needed)
}

fn cluster_groups<'a>(groups: &'a [AutoScalingGroup], cluster: &'a str) -> impl Iterator<Item = &'a AutoScalingGroup> {
    groups.iter().filter(move |g| g.tags.get(TAG_CLUSTER).map(|c| cluster_name(c)) == Some(cluster))
}

/// Instances the cluster's groups are launching: those in a `Pending` state, and the desired ones not created
/// yet. An instance already InService is not counted, even if it has not registered with ECS: one that never
/// does (a bad AMI, a broken agent) must not hold back a scale-up forever.
pub fn pending_instances(groups: &[AutoScalingGroup], cluster: &str) -> u32 {
    cluster_groups(groups, cluster)
        .map(|g| {
            let pending = g.instances.iter().filter(|i| i.lifecycle_state.starts_with("Pending")).count();
            let live = g.instances.iter().filter(|i| !i.lifecycle_state.starts_with("Terminating")).count();
            let created = u32::try_from(live).unwrap_or(u32::MAX);
            u32::try_from(pending).unwrap_or(u32::MAX) + g.desired_capacity.saturating_sub(created)
        })
        .sum()
}

/// Whether the cluster's groups are steady: every instance InService and as many as desired, so none is
/// launching and none is leaving (an instance in Terminating:Wait that ECS does not show DRAINING yet included).
/// A cluster without groups tagged for it is never steady: its surplus cannot be acted on.
pub fn groups_steady(groups: &[AutoScalingGroup], cluster: &str) -> bool {
    let mut ours = cluster_groups(groups, cluster).peekable();
    ours.peek().is_some()
        && ours.all(|g| {
            let in_service = g.instances.iter().all(|i| i.lifecycle_state == "InService");
            in_service && u32::try_from(g.instances.len()).is_ok_and(|n| n == g.desired_capacity)
        })
}

/// Whether `pending` instances already on their way cover a scale-up: every reservation at or above its max
/// falls below it over the `registered + pending` instances, and the instances the waiting tasks need (when any
/// wait) are no more than `pending`. Returns why, for the decision's detail; `None` when they do not.
pub fn pending_covers(
    reservations: [(Option<f64>, f64); 2],
    registered: u32,
    pending: u32,
    waiting: Option<Option<Shortfall>>,
) -> Option<String> {
    if pending == 0 {
        return None;
    }
    let factor = f64::from(registered) / f64::from(registered + pending);
    let mut parts = Vec::new();
    for (name, (value, max)) in ["cpu", "memory"].into_iter().zip(reservations) {
        if let Some(value) = value.filter(|v| *v >= max) {
            let after = value * factor;
            if after >= max {
                return None;
            }
            parts.push(format!("{name} {value:.1}% would be {after:.1}%"));
        }
    }
    match waiting {
        None => {}
        Some(Some(short)) if short.instances <= pending => {
            parts.push(format!("the waiting tasks need {} instance(s)", short.instances));
        }
        // Waiting tasks that need more, or whose need is unknown, still ask.
        Some(_) => return None,
    }
    Some(format!("{} once the {pending} instance(s) launching register", parts.join(" and ")))
}

/// The outcome of looking for an instance to consolidate away.
#[derive(Debug, Clone, PartialEq)]
pub enum Consolidation {
    Remove(Removal),
    /// Nothing can go; why, for the decision's detail.
    Keep(String),
}

/// Look for an instance that can go: the ACTIVE instances cheapest to remove, at most [`CANDIDATES_TRIED`] of
/// them, each judged on its own tasks (one ListTasks and DescribeTasks each, plus the task definitions not yet
/// known). Nothing is tried while an instance is DRAINING: one consolidation at a time, so a drain in progress
/// is never judged as free room.
pub async fn consolidation<E: EcsApi>(
    ecs: &E,
    settings: &ClusterSettings,
    gathered: &mut Gathered,
) -> Result<Consolidation, AwsError> {
    let cluster = settings.name.as_str();
    gathered.services(ecs, cluster).await?;
    let instances = gathered.instances(ecs, cluster).await?.to_vec();
    if let Some(draining) = instances.iter().find(|i| i.is_draining()) {
        let id = draining.ec2_instance_id.as_deref().unwrap_or(&draining.arn);
        return Ok(Consolidation::Keep(format!("instance {id} is DRAINING; one consolidation at a time")));
    }
    let order: Vec<ContainerInstance> =
        consolidate::removal_order(&instances).into_iter().take(CANDIDATES_TRIED).cloned().collect();
    let mut kept = Vec::new();
    for candidate in &order {
        let tasks = gathered.tasks_on(ecs, cluster, &candidate.arn).await?;
        let state = ClusterState {
            instances: &instances,
            services: gathered.services.as_deref().unwrap_or_default(),
            sizes: &gathered.sizes,
            cpu: settings.cpu.values(),
            memory: settings.memory.values(),
            headroom: settings.consolidate_headroom.value,
        };
        match consolidate::judge(&state, candidate, &tasks) {
            Ok(removal) => return Ok(Consolidation::Remove(removal)),
            Err(why) => {
                let id = candidate.ec2_instance_id.as_deref().unwrap_or(&candidate.arn);
                kept.push(format!("{id} stays: {why}"));
            }
        }
    }
    if kept.is_empty() {
        kept.push("no ACTIVE instance with known sizes".into());
    }
    Ok(Consolidation::Keep(kept.join("; ")))
}

/// Candidates whose tasks [`surplus`] reads per tick, cheapest first.
pub const SURPLUS_CANDIDATES: usize = 10;

/// How many ACTIVE instances can go at once (published as `InstancesSurplus`, which drives the sized scale-in):
/// the cheapest first, each judged as consolidation judges one, against what the earlier ones left (their tasks
/// placed on the others, their daemons gone), up to [`SURPLUS_CANDIDATES`] candidates read. 0 while an instance
/// is DRAINING: one batch at a time, and a batch in progress is never counted again.
pub async fn surplus<E: EcsApi>(ecs: &E, settings: &ClusterSettings, gathered: &mut Gathered) -> Result<u32, AwsError> {
    let cluster = settings.name.as_str();
    gathered.services(ecs, cluster).await?;
    let mut instances = gathered.instances(ecs, cluster).await?.to_vec();
    if instances.iter().any(ContainerInstance::is_draining) {
        return Ok(0);
    }
    let order: Vec<String> =
        consolidate::removal_order(&instances).iter().take(SURPLUS_CANDIDATES).map(|i| i.arn.clone()).collect();
    let mut count = 0;
    for arn in order {
        let Some(index) = instances.iter().position(|i| i.arn == arn) else { continue };
        let tasks = gathered.tasks_on(ecs, cluster, &arn).await?;
        let state = ClusterState {
            instances: &instances,
            services: gathered.services.as_deref().unwrap_or_default(),
            sizes: &gathered.sizes,
            cpu: settings.cpu.values(),
            memory: settings.memory.values(),
            headroom: settings.consolidate_headroom.value,
        };
        if let Ok(removal) = consolidate::judge(&state, &instances[index], &tasks) {
            count += 1;
            consolidate::take_room(&mut instances, index, &removal.moved_sizes);
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, TimeZone, Utc};

    use super::*;
    use crate::config::{EnvConfig, ScheduleInput, TickConfig};
    use crate::lifecycle::TAG_CLUSTER;
    use crate::ports::script::Script;
    use crate::ports::{Context, FixedClock};
    use crate::scale::tick::{ClusterReport, Summary, TAG_SHORTFALL_POLICY, run};
    use crate::scale::{Reason, ScaleStatus};

    const UNABLE: &str =
        "(service api) was unable to place a task because no container instance met all of its requirements.";
    const LARGE: (u32, u32) = (2048, 4096);

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).single().unwrap()
    }

    fn registered(status: &str, cpu: u32, memory: u32) -> ContainerInstance {
        ContainerInstance {
            status: status.into(),
            registered: Some(Resources::new(cpu, memory)),
            ..ContainerInstance::default()
        }
    }

    fn tick(cloud: &Script, clusters: &str) -> Summary {
        let env = EnvConfig::from_vars([
            ("CLUSTERS", clusters),
            ("CPU_MIN", "40"),
            ("CPU_MAX", "75"),
            ("MEMORY_MIN", "40"),
            ("MEMORY_MAX", "75"),
        ]);
        let config = TickConfig::build(&env, &ScheduleInput::default()).unwrap();
        let ctx = Context { ecs: cloud, autoscaling: cloud, metrics: cloud, clock: &FixedClock(now()) };
        futures::executor::block_on(run(ctx, &config)).unwrap()
    }

    fn report<'a>(summary: &'a Summary, cluster: &str) -> &'a ClusterReport {
        summary.clusters.iter().find(|r| r.cluster == cluster).unwrap()
    }

    /// A DAEMON service `agent` (128 CPU units, 256 MiB) beside whatever else the cluster runs.
    fn with_daemon(cloud: Script, cluster: &str) -> Script {
        let cloud = cloud.with_service(cluster, "agent", 3, 3, &[]);
        let mut state = cloud.state();
        let services = state.services.get_mut(cluster).unwrap();
        services.last_mut().unwrap().scheduling = Scheduling::Daemon;
        let definition = services.last().unwrap().task_definition.clone();
        state.task_definitions.get_mut(&definition).unwrap().containers[0] =
            crate::cluster::ContainerSize { cpu: 128, memory: None, memory_reservation: Some(256) };
        drop(state);
        cloud
    }

    /// `web`: two full instances, 8 api tasks (512/1024) waiting; the blue group serves, green is parked.
    fn short_cluster() -> Script {
        let api = "arn:aws:ecs:us-east-1:123456789012:task-definition/api:1";
        let cloud = Script::new()
            .with_cluster("web", 2, &[])
            .with_reservations("web", 60.0, 60.0, now() - Duration::minutes(1))
            .with_instance("web", "a", "ACTIVE", LARGE.0, LARGE.1)
            .with_instance("web", "b", "ACTIVE", LARGE.0, LARGE.1)
            .with_load("web", "a", Resources::new(256, 512), 4)
            .with_load("web", "b", Resources::new(256, 512), 4)
            .with_task_definition(api, 512, 1024)
            .with_service("web", "api", 14, 6, &[(now() - Duration::minutes(1), UNABLE)])
            .with_group("web-blue", 2, 2, &[(TAG_CLUSTER, "web"), (TAG_SHORTFALL_POLICY, "web-shortfall-blue")])
            .with_group("web-green", 0, 0, &[(TAG_CLUSTER, "web"), (TAG_SHORTFALL_POLICY, "web-shortfall-green")]);
        with_daemon(cloud, "web")
    }

    #[test]
    fn waiting_tasks_are_sized_into_fresh_instances_and_asked_of_the_serving_group_at_once() {
        let cloud = short_cluster();
        let summary = tick(&cloud, "web");
        let web = report(&summary, "web");
        assert_eq!(web.scale_status, Some(ScaleStatus::Up));
        // 8 tasks of 512/1024; a fresh instance holds 3 once the daemon's 128/256 is off: 3 instances.
        assert_eq!(web.shortfall, Some(Shortfall { instances: 3, fit_existing: 0, never_fit: 0 }));
        assert!(web.detail.contains("3 instance(s) short"), "{}", web.detail);
        assert_eq!(cloud.state().executed, [("web-blue".into(), "web-shortfall-blue".into(), 3.0)]);
        assert_eq!(summary.scale_outs.len(), 1);
        assert_eq!(summary.scale_outs[0].group.as_deref(), Some("web-blue"));
        let shortfall: Vec<f64> =
            cloud.published().iter().filter(|(_, m)| m.name == SHORTFALL_METRIC).map(|(_, m)| m.value).collect();
        assert_eq!(shortfall, [3.0]);
    }

    #[test]
    fn a_failed_scale_out_is_reported_and_the_scale_status_still_published() {
        let cloud = short_cluster().failing("ExecutePolicy");
        let summary = tick(&cloud, "web");
        assert_eq!(report(&summary, "web").scale_status, Some(ScaleStatus::Up));
        let error = summary.scale_outs[0].error.as_deref().unwrap_or_default();
        assert!(error.contains("ExecutePolicy"), "{error}");
        assert_eq!(summary.emitted, 1);
    }

    #[test]
    fn without_a_tagged_group_nothing_is_executed_and_the_report_says_why() {
        let cloud = short_cluster();
        cloud.state().groups.clear();
        let summary = tick(&cloud, "web");
        assert!(cloud.state().executed.is_empty());
        let error = summary.scale_outs[0].error.as_deref().unwrap_or_default();
        assert!(error.contains("no group is tagged"), "{error}");
    }

    #[test]
    fn a_scale_up_that_launching_instances_cover_holds_at_one_and_a_failed_group_read_keeps_the_two() {
        let hot = || {
            Script::new()
                .with_cluster("hot", 4, &[])
                .with_reservations("hot", 90.0, 50.0, now() - Duration::minutes(1))
                .with_group("hot-blue", 2, 6, &[(TAG_CLUSTER, "hot")])
                .with_group_state(2, "Pending")
        };
        let cloud = hot();
        let summary = tick(&cloud, "hot");
        let report = report(&summary, "hot");
        assert_eq!((report.scale_status, report.reason), (Some(ScaleStatus::Stay), Reason::CapacityPending));
        assert!(
            report.detail.contains("cpu 90.0% would be 60.0% once the 2 instance(s) launching register"),
            "{}",
            report.detail
        );

        let cloud = hot().failing("DescribeAutoScalingGroups");
        let summary = tick(&cloud, "hot");
        assert_eq!(report_of(&summary, "hot"), (Some(ScaleStatus::Up), Reason::CpuAboveMax));
    }

    fn report_of(summary: &Summary, cluster: &str) -> (Option<ScaleStatus>, Reason) {
        let found = report(summary, cluster);
        (found.scale_status, found.reason)
    }

    /// `c`: three instances; `a` runs one api task and the daemon, `b` and `c` are half full (48% reserved).
    fn loose_cluster(cpu: f64) -> Script {
        let api = "arn:aws:ecs:us-east-1:123456789012:task-definition/api:1";
        let cloud = Script::new()
            .with_cluster("c", 3, &[])
            .with_reservations("c", cpu, 48.0, now() - Duration::minutes(1))
            .with_instance("c", "a", "ACTIVE", LARGE.0, LARGE.1)
            .with_instance("c", "b", "ACTIVE", LARGE.0, LARGE.1)
            .with_instance("c", "c", "ACTIVE", LARGE.0, LARGE.1)
            .with_load("c", "a", Resources::new(1408, 2816), 2)
            .with_load("c", "b", Resources::new(896, 1792), 3)
            .with_load("c", "c", Resources::new(896, 1792), 3)
            .with_task_definition(api, 512, 1024)
            .with_service("c", "api", 5, 5, &[])
            .with_group("c-blue", 1, 3, &[(TAG_CLUSTER, "c")]);
        let cloud = with_daemon(cloud, "c");
        let agent = cloud.state().services["c"][1].task_definition.clone();
        cloud.with_task("c", "service:api", "a", api).with_task("c", "service:agent", "a", &agent)
    }

    #[test]
    fn an_instance_whose_tasks_fit_elsewhere_is_consolidated_and_named() {
        let cloud = loose_cluster(48.0);
        let summary = tick(&cloud, "c");
        let c = report(&summary, "c");
        assert_eq!((c.scale_status, c.reason), (Some(ScaleStatus::Down), Reason::Consolidation));
        assert_eq!(c.removal.as_ref().map(|r| r.container_instance_arn.as_str()), Some("a"));
        assert!(c.detail.contains("instance i-a can go"), "{}", c.detail);
        // a can go; then b, whose 1152 CPU units would leave the last instance over max, cannot: a surplus of 1.
        assert_eq!(c.surplus, 1);
        // Each instance's tasks were read once, for consolidation and the surplus together.
        assert_eq!(cloud.calls("ListTasks"), 3);
        // While the group scales (desired 2 of 3 registered: one leaving, not DRAINING yet), no surplus.
        let cloud = loose_cluster(48.0);
        cloud.state().groups[0].desired_capacity = 2;
        let c = tick(&cloud, "c").clusters.remove(0);
        assert_eq!((c.reason, c.surplus), (Reason::Consolidation, 0));
        assert!(c.detail.contains("no surplus while the groups are scaling"), "{}", c.detail);
    }

    #[test]
    fn a_quiet_cluster_s_surplus_counts_each_removal_against_what_the_earlier_ones_left() {
        let api = "arn:aws:ecs:us-east-1:123456789012:task-definition/api:1";
        let mut cloud = Script::new()
            .with_cluster("q", 4, &[])
            .with_reservations("q", 25.0, 25.0, now() - Duration::minutes(1))
            .with_task_definition(api, 512, 1024)
            .with_service("q", "api", 4, 4, &[])
            .with_group("q-blue", 1, 4, &[(TAG_CLUSTER, "q")]);
        for arn in ["a", "b", "c", "d"] {
            cloud = cloud
                .with_instance("q", arn, "ACTIVE", LARGE.0, LARGE.1)
                .with_load("q", arn, Resources::new(1536, 3072), 1)
                .with_task("q", "service:api", arn, api);
        }
        let q = tick(&cloud, "q").clusters.remove(0);
        assert_eq!(q.reason, Reason::BothBelowMin);
        // Without a: 33%; without b too: 50%; without c as well, d would be full (100% >= 75 - 5).
        assert_eq!(q.surplus, 2, "{}", q.detail);
        let surplus: Vec<f64> =
            cloud.published().iter().filter(|(_, m)| m.name == SURPLUS_METRIC).map(|(_, m)| m.value).collect();
        assert_eq!(surplus, [2.0]);
    }

    #[test]
    fn consolidation_reads_nothing_where_removing_an_instance_would_reach_max() {
        // 52% on 3 instances is 78% on 2: above the max of 75 whatever the instance.
        let cloud = loose_cluster(52.0);
        let summary = tick(&cloud, "c");
        assert_eq!(report(&summary, "c").reason, Reason::WithinThresholds);
        assert_eq!((cloud.calls("DescribeContainerInstances"), cloud.calls("ListTasks")), (0, 0));
    }

    #[test]
    fn nothing_is_consolidated_while_an_instance_drains_or_when_switched_off() {
        let cloud = loose_cluster(48.0);
        cloud.state().instances.get_mut("c").unwrap()[2].status = "DRAINING".into();
        let c = tick(&cloud, "c").clusters.remove(0);
        assert_eq!(c.reason, Reason::WithinThresholds);
        assert!(c.detail.contains("one consolidation at a time"), "{}", c.detail);
        assert_eq!(cloud.calls("ListTasks"), 0);

        let cloud = loose_cluster(48.0);
        cloud.state().clusters[0].tags.insert(crate::config::TAG_CONSOLIDATE.into(), "false".into());
        let c = tick(&cloud, "c").clusters.remove(0);
        assert_eq!(c.reason, Reason::WithinThresholds);
        assert_eq!(cloud.calls("DescribeContainerInstances"), 0);
    }

    #[test]
    fn a_failed_consolidation_read_keeps_the_rule_s_answer() {
        let cloud = loose_cluster(48.0).failing("ListTasks");
        let c = tick(&cloud, "c").clusters.remove(0);
        assert_eq!((c.scale_status, c.reason), (Some(ScaleStatus::Stay), Reason::WithinThresholds));
        assert!(c.detail.contains("consolidation could not read"), "{}", c.detail);
    }

    #[test]
    fn launching_instances_cover_a_scale_up_only_when_they_bring_every_resource_below_max() {
        let instance = |state: &str| GroupInstance { lifecycle_state: state.into(), ..GroupInstance::default() };
        let group = |cluster: &str, desired, states: &[&str]| AutoScalingGroup {
            tags: HashMap::from([(TAG_CLUSTER.to_owned(), cluster.to_owned())]),
            desired_capacity: desired,
            instances: states.iter().map(|s| instance(s)).collect(),
            ..AutoScalingGroup::default()
        };
        // 6 desired: 4 InService, 1 Pending, 1 not created yet.
        let groups = [group("web", 6, &["InService"; 4]), group("web", 0, &[]), group("api", 9, &[])];
        let mut launching = groups.clone();
        launching[0].instances.push(instance("Pending"));
        assert_eq!(pending_instances(&launching, "web"), 2);
        assert_eq!(pending_instances(&groups, "web"), 2);
        // An InService instance counts as launched whether or not ECS has it.
        assert_eq!(pending_instances(&[group("web", 4, &["InService"; 4])], "web"), 0);
        // Steady: all InService and as many as desired; a leaving instance or a missing group is not.
        assert!(groups_steady(&[group("web", 4, &["InService"; 4])], "web"));
        assert!(!groups_steady(
            &[group("web", 3, &["InService", "InService", "InService", "Terminating:Wait"])],
            "web"
        ));
        assert!(!groups_steady(&groups, "web"));
        assert!(!groups_steady(&groups, "other"));

        // 90% on 4 instances is 60% on 6.
        let covered = pending_covers([(Some(90.0), 85.0), (Some(50.0), 85.0)], 4, 2, None).unwrap();
        assert!(covered.contains("cpu 90.0% would be 60.0%"), "{covered}");
        // 95% on 10 is 86% on 11: still at max.
        assert_eq!(pending_covers([(Some(95.0), 85.0), (None, 85.0)], 10, 1, None), None);
        assert_eq!(pending_covers([(Some(90.0), 85.0), (None, 85.0)], 4, 0, None), None);
        // Waiting tasks: covered only when sized and no more than what is launching.
        let short = |instances| Some(Shortfall { instances, ..Shortfall::default() });
        assert!(pending_covers([(Some(70.0), 85.0), (None, 85.0)], 4, 3, Some(short(3))).is_some());
        assert_eq!(pending_covers([(Some(70.0), 85.0), (None, 85.0)], 4, 3, Some(short(4))), None);
        assert_eq!(pending_covers([(Some(70.0), 85.0), (None, 85.0)], 4, 3, Some(None)), None);
    }

    #[test]
    fn the_steps_are_exact_to_fifteen_then_round_up_and_never_undershoot() {
        assert_eq!(step_for(0), 0);
        assert_eq!((1..=15).map(step_for).collect::<Vec<_>>(), (1..=15).collect::<Vec<_>>());
        assert_eq!(
            (step_for(16), step_for(20), step_for(21), step_for(80), step_for(81), step_for(500)),
            (20, 20, 30, 80, 120, 120)
        );
        // Contiguous, increasing, open only at the top: what Auto Scaling accepts.
        for pair in SHORTFALL_STEPS.windows(2) {
            assert_eq!(pair[0].1, Some(pair[1].0));
            assert!(pair[0].2 < pair[1].2);
        }
        assert!((1..=120).all(|n| step_for(n) >= n));
    }

    /// A step table as the blue-green module reads it from its JSON file.
    fn written<T: serde::de::DeserializeOwned>(json: &str) -> Vec<(f64, Option<f64>, T)> {
        #[derive(serde::Deserialize)]
        struct Step<T> {
            lower: f64,
            upper: Option<f64>,
            adjustment: T,
        }
        let steps: Vec<Step<T>> = serde_json::from_str(json).unwrap();
        steps.into_iter().map(|s| (s.lower, s.upper, s.adjustment)).collect()
    }

    #[test]
    fn the_terraform_module_writes_the_same_step_table() {
        let json = include_str!("../../../../terraform/modules/ecs-cluster-blue-green/shortfall-steps.json");
        assert_eq!(written::<u32>(json), SHORTFALL_STEPS);
    }

    #[test]
    fn the_terraform_module_writes_the_same_surplus_table() {
        let json = include_str!("../../../../terraform/modules/ecs-cluster-blue-green/surplus-steps.json");
        assert_eq!(written::<i32>(json), SURPLUS_STEPS);
        // A surplus of s (metric value s, threshold 2) removes s − 1, up to 20.
        let change = |s: f64| {
            let over = s - SURPLUS_ALARM_THRESHOLD;
            SURPLUS_STEPS.iter().find(|(l, u, _)| over >= *l && u.is_none_or(|u| over < u)).map(|(_, _, c)| *c)
        };
        assert_eq!(
            (change(1.0), change(2.0), change(5.0), change(21.0), change(40.0)),
            (None, Some(-1), Some(-4), Some(-20), Some(-20))
        );
    }

    #[test]
    fn the_group_size_is_the_most_common_active_one_not_the_largest() {
        let instances = [
            registered("ACTIVE", 2048, 4096),
            registered("ACTIVE", 2048, 4096),
            registered("ACTIVE", 8192, 16384),
            registered("DRAINING", 8192, 16384),
            registered("DRAINING", 8192, 16384),
        ];
        assert_eq!(instance_size(&instances), Some(Resources::new(2048, 4096)));
        // A tie goes to the larger.
        assert_eq!(instance_size(&instances[1..3]), Some(Resources::new(8192, 16384)));
        assert_eq!(instance_size(&instances[3..]), None);
    }
}
