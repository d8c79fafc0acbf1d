//! Drain readiness: may a terminating container instance go now?
//!
//! Only when (a) nothing but daemon tasks is left on it, nothing is still stopping there, and (b) every REPLICA
//! service *involved in the drain* has at least ⌈desired × minHealthy%⌉ healthy RUNNING tasks on ACTIVE
//! instances. A service is involved when it has, or had since that instance's drain began, a task on a
//! DRAINING instance of the cluster (the one being released or another one): those are the services whose
//! tasks the drain is moving. Tasks on DRAINING instances never count as available, which keeps a blue/green
//! teardown from taking both copies of a service at once. Services below their minimum that the drain never
//! touched (a crash loop, a failed deployment elsewhere) are named, and never hold an instance.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::cluster::{ContainerInstance, Scheduling, Service, Task, TaskHealth};
use crate::lifecycle::LifecycleResult;

/// Service tag overriding `deploymentConfiguration.minimumHealthyPercent` for draining.
pub const TAG_MIN_HEALTHY: &str = "ecs-scaler:min-healthy-percent";
/// Container-instance attribute recording when the drain started (epoch seconds), so it survives invocations.
pub const ATTRIBUTE_DRAIN_STARTED: &str = "ecs-scaler.drain-started";
/// ECS's default minimumHealthyPercent for REPLICA services.
const DEFAULT_MIN_HEALTHY: i32 = 100;
/// At most this many task ARNs are named in a blocker, to keep log lines readable.
const NAMED_TASKS: usize = 5;

/// One snapshot of a cluster, read at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClusterSnapshot {
    pub services: Vec<Service>,
    /// Tasks whose desired status is RUNNING.
    pub tasks: Vec<Task>,
    pub instances: Vec<ContainerInstance>,
    /// Tasks whose desired status is STOPPED on the instances in `stopped_read` (ECS lists stopped tasks for
    /// about an hour): those still stopping hold their instance, and those that left a DRAINING instance since
    /// its drain began make their service part of the drain. Read per instance, and only for an instance that
    /// would otherwise be released, so the calls are paid on that path alone.
    pub stopped: Vec<Task>,
    /// The container instances whose stopped tasks are in `stopped`.
    pub stopped_read: BTreeSet<String>,
}

impl ClusterSnapshot {
    pub fn instance_by_ec2_id(&self, ec2_instance_id: &str) -> Option<&ContainerInstance> {
        self.instances.iter().find(|i| i.ec2_instance_id.as_deref() == Some(ec2_instance_id))
    }

    /// The services whose tasks a drain is moving: a task on a DRAINING instance now, or one that stopped there
    /// since that instance's drain began (or is still stopping), as far as stopped tasks have been read. A
    /// service that left another DRAINING instance and has no task on this one cannot be hurt by releasing this
    /// one, so only the instance being released needs its stopped tasks read.
    pub fn involved_services(&self) -> HashSet<&str> {
        let draining: HashMap<&str, Option<DateTime<Utc>>> =
            self.instances.iter().filter(|i| i.is_draining()).map(|i| (i.arn.as_str(), drain_started(i))).collect();
        let on_draining = |task: &&Task| task.container_instance_arn.as_deref().and_then(|arn| draining.get(arn));
        let now = self.tasks.iter().filter(|t| on_draining(t).is_some());
        let departed = self.stopped.iter().filter(|task| match on_draining(task) {
            None => false,
            Some(started) => {
                let since_drain = match (task.stopped_at, started) {
                    (Some(stopped), Some(started)) => stopped >= *started,
                    // Unknown either way: count it, which can only hold longer.
                    _ => true,
                };
                task.is_stopping() || since_drain
            }
        });
        now.chain(departed).filter_map(Task::service_name).collect()
    }
}

/// A service short of its minimum on ACTIVE instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BelowMin {
    pub name: String,
    pub running_on_active: usize,
    pub required: usize,
}

impl std::fmt::Display for BelowMin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "service {}: {} running on ACTIVE instances, {} required",
            self.name, self.running_on_active, self.required
        )
    }
}

/// Something that keeps an instance from being released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Blocker {
    /// Non-daemon tasks still on the instance (standalone tasks are not moved by DRAINING).
    OwnTasks { count: usize, tasks: Vec<String> },
    /// Non-daemon tasks ECS is stopping on the instance but that have not stopped yet (deregistering from a
    /// load balancer, say): terminating now would cut their connections.
    StoppingTasks { count: usize, tasks: Vec<String> },
    /// A service the drain is moving, below its minimum on ACTIVE instances.
    Service(BelowMin),
    /// The service's `ecs-scaler:min-healthy-percent` tag is not a whole number in 0–100: hold rather than guess.
    BadMinHealthyTag { service: String, value: String },
    /// The instance is registered in other clusters, not the one the hook resolved: its tasks were never
    /// checked, so it stays until the cluster mapping is fixed (or the lifecycle hook itself times out).
    RegisteredElsewhere { clusters: Vec<String> },
}

impl std::fmt::Display for Blocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Blocker::OwnTasks { count, .. } => write!(f, "{count} task(s) still on the instance"),
            Blocker::StoppingTasks { count, .. } => write!(f, "{count} task(s) still stopping on the instance"),
            Blocker::Service(below) => below.fmt(f),
            Blocker::BadMinHealthyTag { service, value } => {
                write!(f, "service {service}: tag {TAG_MIN_HEALTHY}={value:?} is not a whole number in 0-100")
            }
            Blocker::RegisteredElsewhere { clusters } => write!(
                f,
                "registered in cluster {} instead: check the hook's cluster (notification metadata, group tag or \
                 CLUSTER)",
                clusters.join(", ")
            ),
        }
    }
}

/// What holds an instance, and which services are short without holding it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Readiness {
    /// Everything blocking the instance; empty means it may go.
    pub blockers: Vec<Blocker>,
    /// Services below their minimum that the drain never touched: named in the log, never blocking.
    pub unrelated: Vec<BelowMin>,
}

/// What holds the instance `container_instance_arn`, from one snapshot.
pub fn readiness(snapshot: &ClusterSnapshot, container_instance_arn: &str) -> Readiness {
    let daemons: HashSet<String> =
        snapshot.services.iter().filter(|s| s.scheduling == Scheduling::Daemon).map(Service::task_group).collect();
    let on_instance = |t: &&Task| {
        t.container_instance_arn.as_deref() == Some(container_instance_arn)
            && !t.group.as_ref().is_some_and(|g| daemons.contains(g))
    };
    let own: Vec<&Task> = snapshot.tasks.iter().filter(on_instance).collect();
    let stopping: Vec<&Task> = snapshot.stopped.iter().filter(on_instance).filter(|t| t.is_stopping()).collect();
    let named = |tasks: &[&Task]| tasks.iter().take(NAMED_TASKS).map(|t| t.arn.clone()).collect();
    let mut readiness = Readiness::default();
    if !own.is_empty() {
        readiness.blockers.push(Blocker::OwnTasks { count: own.len(), tasks: named(&own) });
    }
    if !stopping.is_empty() {
        readiness.blockers.push(Blocker::StoppingTasks { count: stopping.len(), tasks: named(&stopping) });
    }

    let active: HashMap<&str, bool> = snapshot.instances.iter().map(|i| (i.arn.as_str(), i.is_active())).collect();
    let counts_as_available = |task: &Task| {
        task.last_status == "RUNNING"
            && task.health != TaskHealth::Unhealthy
            // Tasks off container instances (Fargate) are not going anywhere.
            && task.container_instance_arn.as_deref().is_none_or(|arn| active.get(arn).copied().unwrap_or(false))
    };
    let mut available: HashMap<&str, usize> = HashMap::new();
    for task in snapshot.tasks.iter().filter(|t| counts_as_available(t)) {
        if let Some(service) = task.service_name() {
            *available.entry(service).or_default() += 1;
        }
    }
    let involved = snapshot.involved_services();
    for service in snapshot.services.iter().filter(|s| s.scheduling == Scheduling::Replica && s.desired > 0) {
        let is_involved = involved.contains(service.name.as_str());
        let percent = match min_healthy_percent(service) {
            Ok(percent) => percent,
            Err(value) if is_involved => {
                readiness.blockers.push(Blocker::BadMinHealthyTag { service: service.name.clone(), value });
                continue;
            }
            Err(_) => continue,
        };
        let required = required_tasks(service.desired, percent);
        let running_on_active = available.get(service.name.as_str()).copied().unwrap_or(0);
        if running_on_active < required {
            let below = BelowMin { name: service.name.clone(), running_on_active, required };
            if is_involved {
                readiness.blockers.push(Blocker::Service(below));
            } else {
                readiness.unrelated.push(below);
            }
        }
    }
    readiness
}

/// The tag if set, else the service's deployment configuration, else ECS's default of 100.
fn min_healthy_percent(service: &Service) -> Result<i32, String> {
    match service.tags.get(TAG_MIN_HEALTHY) {
        Some(raw) => raw.trim().parse::<i32>().ok().filter(|p| (0..=100).contains(p)).ok_or_else(|| raw.clone()),
        None => Ok(service.min_healthy_percent.unwrap_or(DEFAULT_MIN_HEALTHY).clamp(0, 100)),
    }
}

/// ⌈desired × percent / 100⌉, in integers so 20 × 50% is exactly 10.
pub fn required_tasks(desired: i32, percent: i32) -> usize {
    let product = i64::from(desired.max(0)) * i64::from(percent.clamp(0, 100));
    usize::try_from((product + 99) / 100).unwrap_or(usize::MAX)
}

/// When the drain of `instance` started, from its attribute.
pub fn drain_started(instance: &ContainerInstance) -> Option<DateTime<Utc>> {
    let seconds = instance.attributes.get(ATTRIBUTE_DRAIN_STARTED)?.parse::<i64>().ok()?;
    DateTime::from_timestamp(seconds, 0)
}

/// How long to wait, and what to do when waiting is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DrainPolicy {
    pub max_drain: Duration,
    pub timeout_result: LifecycleResult,
}

/// Why an instance is released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Release {
    /// Its tasks are gone and every service the drain moved has its minimum elsewhere.
    Ready,
    /// It never registered with ECS, or is already gone: nothing to drain.
    NotRegistered,
    /// The max drain time passed with blockers left.
    TimedOut,
}

/// Where ECS has the terminating instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration<'a> {
    /// In the cluster being checked, as this container instance ARN.
    Here(&'a str),
    /// Not in the cluster being checked, but in these ones.
    Elsewhere(&'a [String]),
    /// In no cluster: it never registered, or it has already left.
    Nowhere,
}

/// What the verdict says to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Complete { result: LifecycleResult, why: Release },
    Hold,
}

/// The verdict for one terminating instance, with what holds it and what is short without holding it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DrainVerdict {
    #[serde(flatten)]
    pub verdict: Verdict,
    pub blockers: Vec<Blocker>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unrelated: Vec<BelowMin>,
}

impl DrainVerdict {
    fn hold(blockers: Vec<Blocker>, unrelated: Vec<BelowMin>) -> Self {
        Self { verdict: Verdict::Hold, blockers, unrelated }
    }

    /// Whether this releases the instance because it is ready. Before acting on it, the services must have been
    /// read in this check and the instance's stopped tasks into [`ClusterSnapshot::stopped`]: both can only turn
    /// a release into a hold.
    pub fn is_ready(&self) -> bool {
        matches!(self.verdict, Verdict::Complete { why: Release::Ready, .. })
    }
}

impl DrainPolicy {
    /// Decide for the instance, registered as `registration`, after `drain_age` of draining.
    ///
    /// An instance registered in another cluster was never drained, so `max_drain` does not apply to it: it is
    /// held, loudly, until the cluster mapping is fixed or the lifecycle hook's own timeout ends the wait.
    pub fn verdict(
        &self,
        snapshot: &ClusterSnapshot,
        registration: Registration<'_>,
        drain_age: Duration,
    ) -> DrainVerdict {
        let arn = match registration {
            Registration::Here(arn) => arn,
            Registration::Elsewhere(clusters) => {
                return DrainVerdict::hold(vec![Blocker::RegisteredElsewhere { clusters: clusters.to_vec() }], vec![]);
            }
            Registration::Nowhere => {
                let verdict = Verdict::Complete { result: LifecycleResult::Continue, why: Release::NotRegistered };
                return DrainVerdict { verdict, blockers: vec![], unrelated: vec![] };
            }
        };
        let Readiness { blockers, unrelated } = readiness(snapshot, arn);
        let verdict = if blockers.is_empty() {
            Verdict::Complete { result: LifecycleResult::Continue, why: Release::Ready }
        } else if drain_age >= self.max_drain {
            Verdict::Complete { result: self.timeout_result, why: Release::TimedOut }
        } else {
            Verdict::Hold
        };
        DrainVerdict { verdict, blockers, unrelated }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drain::fixtures::Cluster;

    fn service_blocker(name: &str, running_on_active: usize, required: usize) -> Blocker {
        Blocker::Service(BelowMin { name: name.into(), running_on_active, required })
    }

    #[test]
    fn holds_while_a_service_it_hosted_is_below_min_on_active_instances() {
        // desired 20 at 50% needs 10 elsewhere; only 6 run on ACTIVE instances, 1 is still on the old one.
        let cluster = Cluster::new()
            .instance("old", "DRAINING")
            .instance("new", "ACTIVE")
            .service("api", 20, 50)
            .tasks("service:api", "new", 6)
            .tasks("service:api", "old", 1);
        assert_eq!(cluster.blockers("old")[1..], [service_blocker("api", 6, 10)]);
    }

    #[test]
    fn releases_once_the_minimum_runs_elsewhere_and_the_instance_is_empty() {
        let cluster = Cluster::new()
            .instance("old", "DRAINING")
            .instance("new", "ACTIVE")
            .service("api", 20, 50)
            .tasks("service:api", "new", 10)
            .stopped("service:api", "old", 10);
        assert!(cluster.blockers("old").is_empty());
    }

    #[test]
    fn a_service_that_left_the_instance_since_its_drain_began_blocks_until_it_is_back_to_its_minimum() {
        // The drain stopped api's task on old 5 minutes ago; the replacement is not RUNNING yet.
        let cluster = Cluster::new()
            .instance("old", "DRAINING")
            .drain_started_minutes_ago(10)
            .instance("new", "ACTIVE")
            .service("api", 2, 100)
            .tasks("service:api", "new", 1)
            .tasks("service:api", "new", 1)
            .last_task("PENDING", TaskHealth::Unknown)
            .stopped_minutes_ago("service:api", "old", 5);
        assert_eq!(cluster.blockers("old"), [service_blocker("api", 1, 2)]);
    }

    #[test]
    fn a_task_that_stopped_before_the_drain_began_does_not_involve_its_service() {
        // api's task on old stopped an hour ago, in an unrelated deployment: the drain moved nothing of api.
        let cluster = Cluster::new()
            .instance("old", "DRAINING")
            .drain_started_minutes_ago(10)
            .instance("new", "ACTIVE")
            .service("api", 2, 100)
            .tasks("service:api", "new", 1)
            .stopped_minutes_ago("service:api", "old", 60);
        let readiness = readiness(&cluster.snapshot, "old");
        assert!(readiness.blockers.is_empty());
        assert_eq!(readiness.unrelated, [BelowMin { name: "api".into(), running_on_active: 1, required: 2 }]);
    }

    #[test]
    fn an_unrelated_service_below_its_minimum_is_named_but_never_holds() {
        // crashloop never had a task on a DRAINING instance: a crash loop elsewhere must not hold every drain.
        let cluster = Cluster::new()
            .instance("old", "DRAINING")
            .instance("new", "ACTIVE")
            .service("crashloop", 3, 100)
            .tasks("service:crashloop", "new", 1)
            .service("moved", 1, 100)
            .tasks("service:moved", "new", 1)
            .stopped("service:moved", "old", 1);
        let readiness = readiness(&cluster.snapshot, "old");
        assert!(readiness.blockers.is_empty(), "{:?}", readiness.blockers);
        assert_eq!(readiness.unrelated, [BelowMin { name: "crashloop".into(), running_on_active: 1, required: 3 }]);
        assert_eq!(readiness.unrelated[0].to_string(), "service crashloop: 1 running on ACTIVE instances, 3 required");
    }

    #[test]
    fn a_service_on_another_draining_instance_holds_this_one_too() {
        // Two instances carry both copies of a 2-task service at 100%: neither may go first.
        let cluster = Cluster::new()
            .instance("a", "DRAINING")
            .instance("b", "DRAINING")
            .instance("c", "ACTIVE")
            .service("pair", 2, 100)
            .tasks("service:pair", "b", 1)
            .stopped("service:pair", "a", 1);
        assert_eq!(cluster.blockers("a"), [service_blocker("pair", 0, 2)]);
        assert!(cluster.blockers("b").contains(&service_blocker("pair", 0, 2)));
        // Once pair left b too, with its replacements not running yet: a alone read shows it from a's stopped task.
        let later = Cluster::new()
            .instance("a", "DRAINING")
            .instance("b", "DRAINING")
            .instance("c", "ACTIVE")
            .service("pair", 2, 100)
            .stopped("service:pair", "a", 1);
        assert_eq!(later.blockers("a"), [service_blocker("pair", 0, 2)]);
    }

    #[test]
    fn min_healthy_zero_only_waits_for_the_instance_to_empty() {
        let busy = Cluster::new().instance("old", "DRAINING").service("volume", 1, 0).tasks("service:volume", "old", 1);
        assert_eq!(busy.blockers("old"), [Blocker::OwnTasks { count: 1, tasks: vec!["task-0".into()] }]);
        let empty = Cluster::new().instance("old", "DRAINING").service("volume", 1, 0);
        assert!(empty.blockers("old").is_empty());
    }

    #[test]
    fn daemon_tasks_do_not_block() {
        let cluster = Cluster::new().instance("old", "DRAINING").daemon("logs").tasks("service:logs", "old", 1);
        assert!(cluster.blockers("old").is_empty());
    }

    #[test]
    fn standalone_tasks_block_until_they_stop() {
        let cluster = Cluster::new().instance("old", "DRAINING").tasks("family:nightly-backup", "old", 1);
        assert_eq!(cluster.blockers("old"), [Blocker::OwnTasks { count: 1, tasks: vec!["task-0".into()] }]);
    }

    #[test]
    fn tasks_still_stopping_on_the_instance_block_until_they_have_stopped() {
        // ECS started the replacement and is deregistering the old copy from its load balancer.
        let draining = Cluster::new()
            .instance("old", "DRAINING")
            .instance("new", "ACTIVE")
            .service("api", 1, 100)
            .daemon("logs")
            .tasks("service:api", "new", 1)
            .stopping("service:api", "old", "DEACTIVATING")
            .stopping("service:logs", "old", "STOPPING")
            .stopping("service:api", "new", "STOPPING");
        assert_eq!(
            draining.blockers("old"),
            [Blocker::StoppingTasks { count: 1, tasks: vec!["task-1".into()] }],
            "only the instance's own non-daemon task counts"
        );
        assert_eq!(draining.blockers("old")[0].to_string(), "1 task(s) still stopping on the instance");
        let stopped = Cluster::new()
            .instance("old", "DRAINING")
            .instance("new", "ACTIVE")
            .service("api", 1, 100)
            .tasks("service:api", "new", 1)
            .stopping("service:api", "old", "STOPPED");
        assert!(stopped.blockers("old").is_empty());
    }

    #[test]
    fn unhealthy_and_pending_tasks_do_not_count() {
        let cluster = Cluster::new()
            .instance("old", "DRAINING")
            .instance("new", "ACTIVE")
            .service("api", 2, 100)
            .tasks("service:api", "new", 1)
            .last_task("RUNNING", TaskHealth::Unhealthy)
            .tasks("service:api", "new", 1)
            .last_task("PENDING", TaskHealth::Unknown)
            .stopped("service:api", "old", 2);
        assert_eq!(cluster.blockers("old"), [service_blocker("api", 0, 2)]);
    }

    #[test]
    fn the_tag_overrides_the_deployment_configuration() {
        let cluster = Cluster::new()
            .instance("old", "DRAINING")
            .instance("new", "ACTIVE")
            .service("api", 4, 100)
            .tag(TAG_MIN_HEALTHY, "50")
            .tasks("service:api", "new", 2)
            .stopped("service:api", "old", 2);
        assert!(cluster.blockers("old").is_empty());
    }

    #[test]
    fn a_bad_tag_on_a_service_the_drain_moves_holds_and_says_why() {
        let cluster = Cluster::new()
            .instance("old", "DRAINING")
            .service("api", 4, 0)
            .tag(TAG_MIN_HEALTHY, "half")
            .stopped("service:api", "old", 1);
        let blockers = cluster.blockers("old");
        assert_eq!(blockers, [Blocker::BadMinHealthyTag { service: "api".into(), value: "half".into() }]);
        assert_eq!(
            blockers[0].to_string(),
            r#"service api: tag ecs-scaler:min-healthy-percent="half" is not a whole number in 0-100"#
        );
        let elsewhere = Cluster::new().instance("old", "DRAINING").service("api", 4, 0).tag(TAG_MIN_HEALTHY, "half");
        assert!(elsewhere.blockers("old").is_empty(), "a service the drain never touched");
    }

    #[test]
    fn services_scaled_to_zero_do_not_block() {
        let cluster =
            Cluster::new().instance("old", "DRAINING").service("off", 0, 100).stopped("service:off", "old", 1);
        assert!(cluster.blockers("old").is_empty());
    }

    #[test]
    fn required_tasks_round_up() {
        assert_eq!(required_tasks(20, 50), 10);
        assert_eq!(required_tasks(3, 50), 2);
        assert_eq!(required_tasks(1, 1), 1);
        assert_eq!(required_tasks(5, 0), 0);
        assert_eq!(required_tasks(2, 100), 2);
    }

    #[test]
    fn the_verdict_releases_unregistered_ready_or_timed_out_instances() {
        let policy = DrainPolicy { max_drain: Duration::seconds(3600), timeout_result: LifecycleResult::Abandon };
        let blocked = Cluster::new().instance("old", "DRAINING").tasks("family:backup", "old", 1);
        assert_eq!(
            policy.verdict(&blocked.snapshot, Registration::Nowhere, Duration::zero()).verdict,
            Verdict::Complete { result: LifecycleResult::Continue, why: Release::NotRegistered }
        );
        let held = policy.verdict(&blocked.snapshot, Registration::Here("old"), Duration::seconds(3599));
        assert_eq!(held.verdict, Verdict::Hold);
        let timed_out = policy.verdict(&blocked.snapshot, Registration::Here("old"), Duration::seconds(3600));
        assert_eq!(timed_out.verdict, Verdict::Complete { result: LifecycleResult::Abandon, why: Release::TimedOut });
        assert_eq!(timed_out.blockers.len(), 1);
    }

    #[test]
    fn an_instance_registered_in_another_cluster_is_held_past_the_max_drain_time() {
        let policy = DrainPolicy { max_drain: Duration::seconds(3600), timeout_result: LifecycleResult::Continue };
        let empty = Cluster::new().instance("other", "ACTIVE");
        let clusters = vec!["payments".to_owned()];
        for age in [Duration::zero(), Duration::seconds(3600), Duration::days(3)] {
            let verdict = policy.verdict(&empty.snapshot, Registration::Elsewhere(&clusters), age);
            assert_eq!(verdict.verdict, Verdict::Hold, "released at {age}");
            assert_eq!(verdict.blockers, [Blocker::RegisteredElsewhere { clusters: clusters.clone() }]);
            assert!(verdict.blockers[0].to_string().starts_with("registered in cluster payments instead"));
        }
    }

    #[test]
    fn the_drain_start_is_read_from_the_attribute() {
        let mut instance = ContainerInstance {
            arn: "a".into(),
            ec2_instance_id: None,
            status: "DRAINING".into(),
            attributes: HashMap::new(),
            ..ContainerInstance::default()
        };
        assert_eq!(drain_started(&instance), None);
        instance.attributes.insert(ATTRIBUTE_DRAIN_STARTED.into(), "1795312345".into());
        assert_eq!(drain_started(&instance).map(|t| t.timestamp()), Some(1_795_312_345));
        // Anything but whole epoch seconds (what the drain writes) is no drain start, rather than a misread one
        // that could end a drain early: the plan then records a fresh start.
        for corrupt in ["", "2026-11-22T10:00:00Z", "1795312345.5", "1795312345000000000000", "-9223372036854775808"] {
            instance.attributes.insert(ATTRIBUTE_DRAIN_STARTED.into(), corrupt.into());
            assert_eq!(drain_started(&instance), None, "{corrupt:?}");
        }
    }
}
