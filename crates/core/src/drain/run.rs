//! The drain reconciler's steps over the ports: find the targets, then per cluster read, ask for the
//! [`plan`](super::plan::plan), execute it, and ask again after any write or extra read, until the plan is to
//! act. The drain-hook Lambda, `ecs-scaler drain-check` and the simulator all run these same steps; only how
//! often, and against what, differs.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::plan::{Act, InstanceReport, Mode, Outcome, Plan, Reading, Services, Step, Target, plan};
use super::readiness::{ATTRIBUTE_DRAIN_STARTED, ClusterSnapshot};
use super::settings::DrainSettings;
use super::targets::{Targets, UnknownGroup, notified, waiting};
use crate::cluster::{ContainerInstance, Service};
use crate::lifecycle::{ActionOutcome, LifecycleAction, LifecycleHook, TAG_CLUSTER, Termination};
use crate::ports::{AutoScalingApi, AwsError, Clock, Context, Ec2Api, EcsApi, MetricsApi};

/// Writes, lookups, the stopped-task read, then acting: a plan settles within this many passes.
const MAX_PASSES: usize = 5;

/// Why the drain steps could not even find their targets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    UnknownGroup(#[from] UnknownGroup),
    #[error("could not read the terminating instances or their cluster: {0}")]
    Lookup(AwsError),
    #[error(
        "cannot tell the ECS cluster of {0}: tag its group ecs-scaler:cluster or set CLUSTER (the CLI also takes --cluster)"
    )]
    NoCluster(String),
}

/// The targets of lifecycle notifications: our hook's, for instances still in Terminating:Wait.
pub async fn notified_targets<E, A: AutoScalingApi, X, M, C>(
    ctx: Context<'_, E, A, X, M, C>,
    settings: &DrainSettings,
    terminations: &[Termination],
) -> Result<Targets, Error> {
    let names: BTreeSet<String> =
        terminations.iter().filter(|t| settings.is_our_notification(t)).map(|t| t.action.group.clone()).collect();
    if names.is_empty() {
        return Ok(Targets::default());
    }
    let names: Vec<String> = names.into_iter().collect();
    let groups = ctx.autoscaling.groups(&names).await.map_err(Error::Lookup)?;
    Ok(notified(settings, terminations, &groups)?)
}

/// Every instance in Terminating:Wait in the groups of our clusters (tagged `ecs-scaler:cluster`) and in
/// `ASG_NAMES`. `hooks` caches each group's hooks across the rounds of one invocation.
pub async fn waiting_targets<E, A: AutoScalingApi, X, M, C>(
    ctx: Context<'_, E, A, X, M, C>,
    settings: &DrainSettings,
    hooks: &mut BTreeMap<String, Result<Vec<LifecycleHook>, String>>,
) -> Result<Targets, Error> {
    let mut groups = ctx.autoscaling.tagged_groups(TAG_CLUSTER).await.map_err(Error::Lookup)?;
    let listed: Vec<String> =
        settings.group_names.iter().filter(|n| !groups.iter().any(|g| &g.name == *n)).cloned().collect();
    if !listed.is_empty() {
        groups.extend(ctx.autoscaling.groups(&listed).await.map_err(Error::Lookup)?);
    }
    for group in groups.iter().filter(|g| settings.reconciles(g) && g.terminating().next().is_some()) {
        if !hooks.contains_key(&group.name) {
            let read = ctx.autoscaling.hooks(&group.name).await.map_err(|e| e.to_string());
            hooks.insert(group.name.clone(), read);
        }
    }
    Ok(waiting(settings, &groups, hooks))
}

/// What one invocation keeps between its checks: each cluster's services, read at most once unless an
/// instance would be released (then fresh), so a reconcile that polls a busy teardown does not re-read
/// every service every round.
#[derive(Debug, Clone, Default)]
pub struct Memory {
    services: BTreeMap<String, Vec<Service>>,
}

/// One check of `targets`, grouped by cluster, one snapshot each. Held targets are marked as having had
/// their heartbeat. Returns one report per target, in target order.
pub async fn check<E: EcsApi, A: AutoScalingApi, X, M, C: Clock>(
    ctx: Context<'_, E, A, X, M, C>,
    settings: &DrainSettings,
    targets: &mut [Target],
    mode: Mode,
    memory: &mut Memory,
) -> Vec<InstanceReport> {
    let clusters: BTreeSet<String> = targets.iter().map(|t| t.cluster.clone()).collect();
    let mut reports: Vec<Option<InstanceReport>> = vec![None; targets.len()];
    for cluster in clusters {
        let positions: Vec<usize> = (0..targets.len()).filter(|&i| targets[i].cluster == cluster).collect();
        let mut ours: Vec<Target> = positions.iter().map(|&i| targets[i].clone()).collect();
        let done = check_cluster(ctx, settings, &cluster, &mut ours, mode, memory).await;
        for ((position, target), report) in positions.into_iter().zip(ours).zip(done) {
            targets[position] = target;
            reports[position] = Some(report);
        }
    }
    reports.into_iter().flatten().collect()
}

/// Read one cluster, plan, execute, plan again, act.
async fn check_cluster<E: EcsApi, A: AutoScalingApi, X, M, C: Clock>(
    ctx: Context<'_, E, A, X, M, C>,
    settings: &DrainSettings,
    cluster: &str,
    targets: &mut [Target],
    mode: Mode,
    memory: &mut Memory,
) -> Vec<InstanceReport> {
    let now = ctx.clock.now();
    let mut reading = match read(ctx.ecs, cluster, targets, mode).await {
        Ok(snapshot) => Reading { snapshot, ..Reading::default() },
        Err(error) => return hold_unsure(ctx.autoscaling, targets, error.to_string()).await,
    };
    if let Some(services) = memory.services.get(cluster) {
        reading.snapshot.services.clone_from(services);
        reading.services = Services::Earlier;
    }
    for _ in 0..MAX_PASSES {
        let step = match plan(&reading, targets, mode, &settings.policy, now) {
            Plan::Act(steps) => return act(ctx.autoscaling, targets, steps).await,
            Plan::Drain { instances, record } => {
                drain(ctx.ecs, cluster, &mut reading.snapshot, &instances, &record).await
            }
            Plan::LookUp(instances) => look_up(ctx.ecs, &mut reading, &instances).await,
            Plan::ReadServices => ctx.ecs.services(cluster).await.map(|services| {
                memory.services.insert(cluster.to_owned(), services.clone());
                reading.snapshot.services = services;
                reading.services = Services::ThisCheck;
            }),
            Plan::ReadStopped(instances) => read_stopped(ctx.ecs, cluster, &mut reading.snapshot, &instances).await,
        };
        if let Err(error) = step {
            return hold_unsure(ctx.autoscaling, targets, error.to_string()).await;
        }
    }
    hold_unsure(ctx.autoscaling, targets, format!("the drain plan for {cluster} did not settle in {MAX_PASSES} passes"))
        .await
}

/// The snapshot a check starts from: for a readiness check every container instance and the tasks (services
/// come when the plan asks); for a notification only the notified instances' ARNs.
async fn read<E: EcsApi>(ecs: &E, cluster: &str, targets: &[Target], mode: Mode) -> Result<ClusterSnapshot, AwsError> {
    match mode {
        Mode::Start => {
            let ids: Vec<String> = targets.iter().map(|t| t.action.instance_id.clone()).collect();
            Ok(ClusterSnapshot { instances: ecs.container_instances_of(cluster, &ids).await?, ..Default::default() })
        }
        Mode::Check => {
            let (instances, tasks) = futures::try_join!(ecs.container_instances(cluster), ecs.tasks(cluster))?;
            Ok(ClusterSnapshot { tasks, instances, ..Default::default() })
        }
    }
}

async fn read_stopped<E: EcsApi>(
    ecs: &E,
    cluster: &str,
    snapshot: &mut ClusterSnapshot,
    instances: &[String],
) -> Result<(), AwsError> {
    for arn in instances {
        snapshot.stopped.extend(ecs.stopped_tasks(cluster, arn).await?);
        snapshot.stopped_read.insert(arn.clone());
    }
    Ok(())
}

/// Set the instances DRAINING and record their drain starts, and show both in the snapshot. A drain start that
/// could not be recorded is shown anyway: this invocation counts from it, the next one records it again.
async fn drain<E: EcsApi>(
    ecs: &E,
    cluster: &str,
    snapshot: &mut ClusterSnapshot,
    instances: &[String],
    record: &[(String, chrono::DateTime<chrono::Utc>)],
) -> Result<(), AwsError> {
    if !instances.is_empty() {
        let updated = ecs.drain(cluster, instances).await?;
        for instance in snapshot.instances.iter_mut() {
            if let Some(now) = updated.iter().find(|u| u.arn == instance.arn) {
                *instance = now.clone();
            }
        }
    }
    for (arn, started) in record {
        let seconds = started.timestamp().to_string();
        if let Err(error) = ecs.put_attribute(cluster, arn, ATTRIBUTE_DRAIN_STARTED, &seconds).await {
            tracing::warn!(instance = %arn, error = %error, "drain start not recorded");
        }
        if let Some(instance) = snapshot.instances.iter_mut().find(|i| &i.arn == arn) {
            instance.attributes.insert(ATTRIBUTE_DRAIN_STARTED.to_owned(), seconds);
        }
    }
    Ok(())
}

async fn look_up<E: EcsApi>(ecs: &E, reading: &mut Reading, instances: &[String]) -> Result<(), AwsError> {
    for instance in instances {
        let clusters = ecs.clusters_with_instance(instance).await?;
        reading.registrations.insert(instance.clone(), clusters);
    }
    Ok(())
}

/// Complete or heartbeat each target as planned.
async fn act<A: AutoScalingApi>(autoscaling: &A, targets: &mut [Target], steps: Vec<Step>) -> Vec<InstanceReport> {
    let mut reports = Vec::with_capacity(steps.len());
    for (target, Step { act, mut report }) in targets.iter_mut().zip(steps) {
        let done = match act {
            Act::Wait => Ok(ActionOutcome::Done),
            Act::Heartbeat => {
                let beat = heartbeat(autoscaling, &target.action).await;
                target.beaten |= beat.is_ok();
                beat
            }
            Act::Complete(result) => autoscaling.complete(&target.action, result).await,
        };
        match done {
            Ok(ActionOutcome::Done) if report.error.is_some() => report.outcome = Outcome::Failed,
            Ok(ActionOutcome::Done) => {}
            Ok(ActionOutcome::NoActiveAction) => report.outcome = Outcome::AlreadyDone,
            Err(error) => {
                report.outcome = Outcome::Failed;
                report.error = Some(match report.error.take() {
                    Some(why) => format!("{why}; {error}"),
                    None => error.to_string(),
                });
            }
        }
        reports.push(report);
    }
    reports
}

async fn heartbeat<A: AutoScalingApi>(autoscaling: &A, action: &LifecycleAction) -> Result<ActionOutcome, AwsError> {
    if action.hook.is_empty() {
        return Err(AwsError::malformed("RecordLifecycleActionHeartbeat", "no lifecycle hook known for this group"));
    }
    autoscaling.heartbeat(action).await
}

/// Cannot tell whether the targets may go: heartbeat to hold each, and report why. Never a completion.
pub async fn hold_unsure<A: AutoScalingApi>(
    autoscaling: &A,
    targets: &mut [Target],
    why: String,
) -> Vec<InstanceReport> {
    let mut reports = Vec::with_capacity(targets.len());
    for target in targets.iter_mut() {
        reports.push(hold_one(autoscaling, &target.action, Some(&target.cluster), &why).await);
        target.beaten = true;
    }
    reports
}

/// Hold one instance whose cluster or hook could not be told (heartbeat, if a hook is known) and report why.
pub async fn hold_one<A: AutoScalingApi>(
    autoscaling: &A,
    action: &LifecycleAction,
    cluster: Option<&str>,
    why: &str,
) -> InstanceReport {
    let error = match heartbeat(autoscaling, action).await {
        Ok(_) => why.to_owned(),
        Err(beat) if why.is_empty() => beat.to_string(),
        Err(beat) => format!("{why}; {beat}"),
    };
    InstanceReport::unsure(action, cluster, error)
}

/// A read-only readiness check of one instance, as the hook would see it once the instance is DRAINING.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inspection {
    pub instance: String,
    pub cluster: String,
    pub container_instance_arn: Option<String>,
    /// ECS status now (ACTIVE, DRAINING, ...), if registered.
    pub status: Option<String>,
    /// The hook's verdict: outcome (completed or held), drain age, blockers, services short elsewhere.
    pub report: InstanceReport,
}

impl Inspection {
    /// Whether the hook would let the instance go on its next check.
    pub fn releasable(&self) -> bool {
        matches!(self.report.outcome, Outcome::Completed { .. })
    }
}

/// Judge one instance as the drain hook would once it is DRAINING, through the same plan, and change
/// nothing: the plan's writes are only pretended in the snapshot; its reads are made. Used by
/// `ecs-scaler drain-check`.
pub async fn inspect<E: EcsApi, A: AutoScalingApi, X: Ec2Api, M: MetricsApi, C: Clock>(
    ctx: Context<'_, E, A, X, M, C>,
    settings: &DrainSettings,
    instance_id: &str,
    cluster: Option<&str>,
) -> Result<Inspection, Error> {
    let cluster = match cluster {
        Some(cluster) => cluster.to_owned(),
        None => {
            let group = ctx.autoscaling.group_of(instance_id).await.map_err(Error::Lookup)?;
            let groups = match group {
                Some(group) => ctx.autoscaling.groups(&[group]).await.map_err(Error::Lookup)?,
                None => vec![],
            };
            let tags = groups.first().map(|g| g.tags.clone()).unwrap_or_default();
            crate::lifecycle::resolve_cluster(None, &tags, settings.cluster.as_deref())
                .map(|(name, _)| name)
                .ok_or_else(|| Error::NoCluster(instance_id.to_owned()))?
        }
    };
    let action =
        LifecycleAction { group: String::new(), hook: String::new(), instance_id: instance_id.into(), token: None };
    let targets = [Target { action, cluster: cluster.clone(), since: None, beaten: true }];
    let snapshot = read(ctx.ecs, &cluster, &targets, Mode::Check).await.map_err(Error::Lookup)?;
    let found: Option<ContainerInstance> = snapshot.instance_by_ec2_id(instance_id).cloned();
    let mut reading = Reading { snapshot, ..Reading::default() };
    let now = ctx.clock.now();
    for _ in 0..MAX_PASSES {
        match plan(&reading, &targets, Mode::Check, &settings.policy, now) {
            Plan::Act(mut steps) => {
                let mut report = steps.remove(0).report;
                if found.as_ref().is_none_or(|i| i.is_active()) {
                    report.drain_age_seconds = None;
                }
                return Ok(Inspection {
                    instance: instance_id.to_owned(),
                    cluster,
                    container_instance_arn: found.as_ref().map(|i| i.arn.clone()),
                    status: found.map(|i| i.status),
                    report,
                });
            }
            Plan::Drain { instances, record } => {
                for instance in reading.snapshot.instances.iter_mut() {
                    if instances.contains(&instance.arn) {
                        instance.status = "DRAINING".into();
                    }
                    if let Some((_, started)) = record.iter().find(|(arn, _)| arn == &instance.arn) {
                        instance.attributes.insert(ATTRIBUTE_DRAIN_STARTED.into(), started.timestamp().to_string());
                    }
                }
            }
            Plan::LookUp(instances) => look_up(ctx.ecs, &mut reading, &instances).await.map_err(Error::Lookup)?,
            Plan::ReadServices => {
                reading.snapshot.services = ctx.ecs.services(&cluster).await.map_err(Error::Lookup)?;
                reading.services = Services::ThisCheck;
            }
            Plan::ReadStopped(instances) => {
                read_stopped(ctx.ecs, &cluster, &mut reading.snapshot, &instances).await.map_err(Error::Lookup)?;
            }
        }
    }
    Err(Error::Lookup(AwsError::malformed("drain-check", "the drain plan did not settle")))
}
