//! drain-hook: the Auto Scaling termination lifecycle hook for ECS container instances.
//!
//! Level-triggered, like a reconciler: every invocation finds the instances held in `Terminating:Wait`
//! (one, from a lifecycle notification, or all of them, on the per-minute schedule), sets them DRAINING,
//! reads one snapshot per cluster and asks the core's readiness rule. Ready instances are completed with
//! CONTINUE; the others get a heartbeat and are checked again every `POLL_SECONDS` until the Lambda nears its
//! deadline; the next scheduled reconcile picks them up. Nothing is stored but in AWS itself: the drain
//! start is an attribute on the container instance. It never re-invokes itself.

use std::collections::BTreeMap;

use aws_lambda_events::autoscaling::AutoScalingEvent;
use aws_lambda_events::cloudwatch_events::CloudWatchEvent;
use aws_lambda_events::sns::SnsEvent;
use chrono::{DateTime, Duration, Utc};
use ecs_scaler_core::ContainerInstance;
use ecs_scaler_core::config::ConfigError;
use ecs_scaler_core::drain::{
    ATTRIBUTE_DRAIN_STARTED, Blocker, ClusterSnapshot, DrainPolicy, DrainSettings, DrainVerdict, Registration, Release,
    drain_started,
};
use ecs_scaler_core::lifecycle::{
    ActionOutcome, LifecycleAction, LifecycleMessage, LifecycleRequest, LifecycleResult, TAG_CLUSTER, TERMINATING,
    Termination, resolve_cluster,
};
use ecs_scaler_core::ports::{AutoScalingApi, AwsError, ClusterMetric, EcsApi, MetricUnit, MetricsApi};
use lambda_runtime::Diagnostic;
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

/// The EventBridge detail-type of a termination lifecycle action.
pub const LIFECYCLE_DETAIL_TYPE: &str = "EC2 Instance-terminate Lifecycle Action";
/// Stop polling this long before the Lambda's deadline, so the last check and its heartbeat finish in time.
const DEADLINE_MARGIN: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    #[error("the event is not a lifecycle notification, a test notification or a Scheduled Event: {0}")]
    Event(String),
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("Auto Scaling group {0:?} does not exist")]
    UnknownGroup(String),
    #[error("could not read the terminating instances or their cluster: {0}")]
    Lookup(AwsError),
    #[error("{failed} of {total} terminating instance(s) could not be handled (held; see the log): {first}")]
    Incomplete { failed: usize, total: usize, first: String },
    #[error(
        "cannot tell the ECS cluster of {0}: tag its group ecs-scaler:cluster or set CLUSTER (the CLI also takes --cluster)"
    )]
    NoCluster(String),
}

impl From<DrainError> for Diagnostic {
    fn from(error: DrainError) -> Self {
        let kind = match &error {
            DrainError::Event(_) => "BadEvent",
            DrainError::Config(_) => "BadConfig",
            DrainError::UnknownGroup(_) => "UnknownGroup",
            DrainError::Lookup(_) => "LookupFailed",
            DrainError::Incomplete { .. } => "Incomplete",
            DrainError::NoCluster(_) => "NoCluster",
        };
        Diagnostic { error_type: format!("DrainHook.{kind}"), error_message: error.to_string() }
    }
}

/// What an invocation was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// `autoscaling:TEST_NOTIFICATION`: acknowledge, do nothing.
    Test,
    /// Every instance in `Terminating:Wait` in the managed groups.
    Reconcile,
    /// Specific instances, from lifecycle notifications.
    Terminations(Vec<Termination>),
}

/// Classify a Lambda event. Anything unexpected is an error, before any AWS call.
pub fn trigger(event: &Value) -> Result<Trigger, DrainError> {
    let bad = |message: String| DrainError::Event(message);
    let Value::Object(fields) = event else { return Err(bad("expected a JSON object".into())) };
    if fields.contains_key("Records") {
        let sns: SnsEvent = serde_json::from_value(event.clone()).map_err(|e| bad(format!("SNS event: {e}")))?;
        if sns.records.is_empty() {
            return Err(bad("the SNS event has no Records".into()));
        }
        let mut terminations = Vec::new();
        for record in sns.records {
            let request = LifecycleMessage::parse(&record.sns.message).and_then(LifecycleMessage::request);
            match request.map_err(|e| bad(e.to_string()))? {
                LifecycleRequest::Test => {}
                LifecycleRequest::Terminate(termination) => terminations.push(termination),
            }
        }
        return Ok(if terminations.is_empty() { Trigger::Test } else { Trigger::Terminations(terminations) });
    }
    match fields.get("detail-type").and_then(Value::as_str) {
        Some("Scheduled Event") => {
            let _: CloudWatchEvent = serde_json::from_value(event.clone()).map_err(|e| bad(e.to_string()))?;
            Ok(Trigger::Reconcile)
        }
        Some(LIFECYCLE_DETAIL_TYPE) => {
            let event: AutoScalingEvent = serde_json::from_value(event.clone()).map_err(|e| bad(e.to_string()))?;
            let detail = Value::Object(event.detail.into_iter().collect());
            let message: LifecycleMessage = serde_json::from_value(detail).map_err(|e| bad(e.to_string()))?;
            match message.request().map_err(|e| bad(e.to_string()))? {
                LifecycleRequest::Test => Ok(Trigger::Test),
                // EventBridge carries the time on the event rather than in the detail.
                LifecycleRequest::Terminate(termination) => Ok(Trigger::Terminations(vec![Termination {
                    time: termination.time.or(Some(event.time)),
                    ..termination
                }])),
            }
        }
        Some(other) => Err(bad(format!("detail-type {other:?} is not handled"))),
        None => Err(bad("neither an SNS event (Records) nor an EventBridge event (detail-type)".into())),
    }
}

/// The AWS the drain hook talks to.
#[derive(Debug)]
pub struct Aws<'a, E, A, M> {
    pub ecs: &'a E,
    pub autoscaling: &'a A,
    pub metrics: &'a M,
}

// Only references inside: copyable whatever E, A and M are (derive would demand E: Copy).
impl<E, A, M> Clone for Aws<'_, E, A, M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E, A, M> Copy for Aws<'_, E, A, M> {}

/// How one instance ended this invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Completed {
        result: LifecycleResult,
        why: Release,
    },
    /// Not ready; heartbeat sent. The next invocation looks again.
    Held,
    /// Someone else completed it (or it timed out) first.
    AlreadyDone,
    /// Something failed; nothing was completed.
    Failed,
}

/// One instance's line in the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceReport {
    pub instance: String,
    pub group: String,
    pub cluster: Option<String>,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub drain_age_seconds: Option<i64>,
    pub blockers: Vec<Blocker>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the Lambda returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub trigger: &'static str,
    pub instances: Vec<InstanceReport>,
    /// Readiness checks made (rounds × clusters).
    pub checks: usize,
}

/// A termination to work on, with its cluster resolved (or why not).
#[derive(Debug, Clone)]
struct Pending {
    action: LifecycleAction,
    cluster: Result<String, String>,
    /// When the instance entered Terminating:Wait, if a notification said.
    since: Option<DateTime<Utc>>,
}

/// The Lambda handler. `deadline` is when the Lambda will be stopped.
pub async fn handle<E: EcsApi, A: AutoScalingApi, M: MetricsApi>(
    event: &Value,
    settings: &DrainSettings,
    aws: Aws<'_, E, A, M>,
    deadline: Instant,
) -> Result<Summary, DrainError> {
    let (name, pending, draining) = match trigger(event)? {
        Trigger::Test => {
            tracing::info!("test notification acknowledged");
            return Ok(Summary { trigger: "test_notification", instances: vec![], checks: 0 });
        }
        Trigger::Terminations(terminations) => {
            ("lifecycle_notification", notified(&terminations, settings, aws).await?, None)
        }
        Trigger::Reconcile => {
            let (pending, draining) = waiting(settings, aws).await?;
            ("reconcile", pending, Some(draining))
        }
    };
    let (instances, checks) = hold(pending, settings, aws, deadline).await;

    let now = Utc::now();
    let mut metrics: Vec<ClusterMetric> = draining
        .into_iter()
        .flatten()
        .map(|(cluster, count)| metric("DrainingInstances", cluster, count as f64, MetricUnit::Count, now))
        .collect();
    for report in &instances {
        let (Outcome::Completed { why, .. }, Some(cluster)) = (report.outcome, &report.cluster) else { continue };
        let seconds = report.drain_age_seconds.unwrap_or(0) as f64;
        metrics.push(metric("DrainSeconds", cluster.clone(), seconds, MetricUnit::Seconds, now));
        if why == Release::TimedOut {
            metrics.push(metric("DrainTimeouts", cluster.clone(), 1.0, MetricUnit::Count, now));
        }
    }
    if !metrics.is_empty()
        && let Err(error) = aws.metrics.put(&settings.namespace, &metrics).await
    {
        tracing::error!(error = %error, "drain metrics not published");
    }

    let failed: Vec<&InstanceReport> = instances.iter().filter(|r| r.outcome == Outcome::Failed).collect();
    if let Some(first) = failed.first() {
        return Err(DrainError::Incomplete {
            failed: failed.len(),
            total: instances.len(),
            first: format!("{}: {}", first.instance, first.error.as_deref().unwrap_or("failed")),
        });
    }
    Ok(Summary { trigger: name, instances, checks })
}

fn metric(
    name: &'static str,
    cluster: String,
    value: f64,
    unit: MetricUnit,
    timestamp: DateTime<Utc>,
) -> ClusterMetric {
    ClusterMetric { name, cluster, value, unit, timestamp }
}

/// The notified instances that are still waiting. An unknown group is an error before anything changes.
async fn notified<E: EcsApi, A: AutoScalingApi, M: MetricsApi>(
    terminations: &[Termination],
    settings: &DrainSettings,
    aws: Aws<'_, E, A, M>,
) -> Result<Vec<Pending>, DrainError> {
    // With LIFECYCLE_HOOK_NAME set, a notification of another hook on the same topic is someone else's to
    // complete.
    let ours: Vec<&Termination> = terminations
        .iter()
        .filter(|t| match &settings.hook_name {
            Some(hook) if &t.action.hook != hook => {
                let (instance, other) = (&t.action.instance_id, &t.action.hook);
                tracing::info!(%instance, hook = %other, ours = %hook, "notification of another lifecycle hook; ignored");
                false
            }
            _ => true,
        })
        .collect();
    if ours.is_empty() {
        return Ok(vec![]);
    }
    let mut names: Vec<String> = ours.iter().map(|t| t.action.group.clone()).collect();
    names.sort();
    names.dedup();
    let groups = aws.autoscaling.groups(&names).await.map_err(DrainError::Lookup)?;
    let mut pending = Vec::new();
    for termination in ours {
        let action = &termination.action;
        let group = groups
            .iter()
            .find(|g| g.name == action.group)
            .ok_or_else(|| DrainError::UnknownGroup(action.group.clone()))?;
        if !group.terminating().any(|i| i.instance_id == action.instance_id) {
            // A duplicate notification, or one that arrived after another invocation finished the job.
            tracing::info!(instance = %action.instance_id, group = %group.name, "not in Terminating:Wait; nothing to do");
            continue;
        }
        let cluster = resolve_cluster(termination.metadata.as_deref(), &group.tags, settings.cluster.as_deref());
        pending.push(Pending {
            action: action.clone(),
            cluster: cluster.map(|(name, _)| name).ok_or_else(|| no_cluster(&group.name)),
            since: termination.time,
        });
    }
    Ok(pending)
}

fn no_cluster(group: &str) -> String {
    format!("no ECS cluster for group {group}: set the hook's NotificationMetadata, the {TAG_CLUSTER} tag or CLUSTER")
}

/// Every instance in `Terminating:Wait` in the managed groups, and the count per cluster.
async fn waiting<E: EcsApi, A: AutoScalingApi, M: MetricsApi>(
    settings: &DrainSettings,
    aws: Aws<'_, E, A, M>,
) -> Result<(Vec<Pending>, BTreeMap<String, usize>), DrainError> {
    let mut groups = aws.autoscaling.tagged_groups(TAG_CLUSTER).await.map_err(DrainError::Lookup)?;
    let listed: Vec<String> =
        settings.group_names.iter().filter(|n| !groups.iter().any(|g| &g.name == *n)).cloned().collect();
    if !listed.is_empty() {
        groups.extend(aws.autoscaling.groups(&listed).await.map_err(DrainError::Lookup)?);
    }
    let mut pending = Vec::new();
    let mut draining: BTreeMap<String, usize> = BTreeMap::new();
    for group in &groups {
        let waiting: Vec<&str> = group.terminating().map(|i| i.instance_id.as_str()).collect();
        if waiting.is_empty() {
            if let Some((cluster, _)) = resolve_cluster(None, &group.tags, settings.cluster.as_deref()) {
                draining.entry(cluster).or_default();
            }
            continue;
        }
        let hook = match aws.autoscaling.hooks(&group.name).await {
            Ok(hooks) => {
                let ours: Vec<_> = hooks
                    .into_iter()
                    .filter(|h| h.transition == TERMINATING)
                    .filter(|h| settings.hook_name.as_ref().is_none_or(|name| &h.name == name))
                    .collect();
                match ours.as_slice() {
                    [hook] => Ok(hook.clone()),
                    [] => Err(format!("group {} has no termination hook{}", group.name, hook_hint(settings))),
                    many => Err(format!(
                        "group {} has {} termination hooks ({}); set LIFECYCLE_HOOK_NAME",
                        group.name,
                        many.len(),
                        many.iter().map(|h| h.name.as_str()).collect::<Vec<_>>().join(", ")
                    )),
                }
            }
            Err(error) => Err(error.to_string()),
        };
        let metadata = hook.as_ref().ok().and_then(|h| h.metadata.as_deref());
        let cluster = resolve_cluster(metadata, &group.tags, settings.cluster.as_deref()).map(|(name, _)| name);
        if let Some(cluster) = &cluster {
            *draining.entry(cluster.clone()).or_default() += waiting.len();
        }
        for instance in waiting {
            let action = LifecycleAction {
                group: group.name.clone(),
                hook: hook.as_ref().map(|h| h.name.clone()).unwrap_or_default(),
                instance_id: instance.to_owned(),
                token: None,
            };
            let cluster = hook.clone().and_then(|_| cluster.clone().ok_or_else(|| no_cluster(&group.name)));
            pending.push(Pending { action, cluster, since: None });
        }
    }
    Ok((pending, draining))
}

fn hook_hint(settings: &DrainSettings) -> String {
    settings.hook_name.as_ref().map(|name| format!(" named {name}")).unwrap_or_default()
}

/// Check, act and re-check until every instance is done or the deadline nears.
async fn hold<E: EcsApi, A: AutoScalingApi, M: MetricsApi>(
    pending: Vec<Pending>,
    settings: &DrainSettings,
    aws: Aws<'_, E, A, M>,
    deadline: Instant,
) -> (Vec<InstanceReport>, usize) {
    let mut reports: BTreeMap<String, InstanceReport> = BTreeMap::new();
    let mut open: Vec<Pending> = Vec::new();
    for p in pending {
        match &p.cluster {
            Ok(_) => open.push(p),
            // Cannot check without a cluster: hold (heartbeat) and report, never release.
            Err(why) => {
                let report = hold_unsure(aws.autoscaling, &p, None, why.clone()).await;
                log(&report);
                reports.insert(report.instance.clone(), report);
            }
        }
    }
    let poll = settings.poll.to_std().unwrap_or(std::time::Duration::from_secs(10));
    let mut checks = 0;
    while !open.is_empty() {
        let mut by_cluster: BTreeMap<String, Vec<Pending>> = BTreeMap::new();
        for p in open.drain(..) {
            let cluster = p.cluster.clone().unwrap_or_default();
            by_cluster.entry(cluster).or_default().push(p);
        }
        for (cluster, instances) in by_cluster {
            checks += 1;
            for (p, report) in check_cluster(&cluster, instances, settings, aws).await {
                log(&report);
                if report.outcome == Outcome::Held {
                    open.push(p);
                }
                reports.insert(report.instance.clone(), report);
            }
        }
        if open.is_empty() || deadline.saturating_duration_since(Instant::now()) < poll + DEADLINE_MARGIN {
            break;
        }
        tokio::time::sleep(poll).await;
    }
    (reports.into_values().collect(), checks)
}

/// One readiness check of every given instance of one cluster, from one snapshot, and the action it calls for.
async fn check_cluster<E: EcsApi, A: AutoScalingApi, M: MetricsApi>(
    cluster: &str,
    pending: Vec<Pending>,
    settings: &DrainSettings,
    aws: Aws<'_, E, A, M>,
) -> Vec<(Pending, InstanceReport)> {
    let now = Utc::now();
    let mut snapshot = drain_and_snapshot(cluster, &pending, aws.ecs, now).await;
    let mut results = Vec::new();
    for p in pending {
        let report = match &mut snapshot {
            Ok(snapshot) => check_instance(cluster, &p, snapshot, settings, aws, now).await,
            Err(error) => Err(error.clone()),
        };
        // Unsure: hold. A read failure never leads to a completion.
        let report = match report {
            Ok(report) => report,
            Err(error) => hold_unsure(aws.autoscaling, &p, Some(cluster), error.to_string()).await,
        };
        results.push((p, report));
    }
    results
}

/// Judge one instance of the snapshot and act on the verdict: complete it, or heartbeat to hold it.
async fn check_instance<E: EcsApi, A: AutoScalingApi, M: MetricsApi>(
    cluster: &str,
    p: &Pending,
    snapshot: &mut ClusterSnapshot,
    settings: &DrainSettings,
    aws: Aws<'_, E, A, M>,
    now: DateTime<Utc>,
) -> Result<InstanceReport, AwsError> {
    let age = snapshot.instance_by_ec2_id(&p.action.instance_id).and_then(drain_started).map(|started| now - started);
    let verdict = judge(aws.ecs, &settings.policy, snapshot, cluster, &p.action.instance_id, age).await?;
    let (acted, done) = match &verdict {
        DrainVerdict::Complete { result, why, .. } => {
            (aws.autoscaling.complete(&p.action, *result).await, Outcome::Completed { result: *result, why: *why })
        }
        DrainVerdict::Hold { .. } => (heartbeat(aws.autoscaling, &p.action).await, Outcome::Held),
    };
    let report = |outcome| report_for(p, cluster, outcome, age.map(|a| a.num_seconds()), verdict.blockers().to_vec());
    Ok(match acted {
        Ok(ActionOutcome::Done) => report(done),
        Ok(ActionOutcome::NoActiveAction) => report(Outcome::AlreadyDone),
        Err(error) => InstanceReport { error: Some(error.to_string()), ..report(Outcome::Failed) },
    })
}

/// The verdict on one terminating instance, reading what the verdict itself calls for: where an instance
/// missing from the snapshot is registered instead, and, before a release as ready, the tasks ECS is still
/// stopping on it. Shared by the hook and the read-only [`inspect`].
async fn judge<E: EcsApi>(
    ecs: &E,
    policy: &DrainPolicy,
    snapshot: &mut ClusterSnapshot,
    cluster: &str,
    ec2_instance_id: &str,
    age: Option<Duration>,
) -> Result<DrainVerdict, AwsError> {
    let age = age.unwrap_or_default();
    let Some(arn) = snapshot.instance_by_ec2_id(ec2_instance_id).map(|i| i.arn.clone()) else {
        // A wrong cluster mapping must not look like an instance that never registered, which is released at once.
        let clusters = ecs.clusters_with_instance(ec2_instance_id).await?;
        if clusters.iter().any(|c| c == cluster) {
            return Err(AwsError::malformed(
                "ListContainerInstances",
                format!(
                    "{ec2_instance_id} is registered in {cluster} but was not in its snapshot; holding until the next check"
                ),
            ));
        }
        let registration = if clusters.is_empty() { Registration::Nowhere } else { Registration::Elsewhere(&clusters) };
        return Ok(policy.verdict(snapshot, registration, age));
    };
    let verdict = policy.verdict(snapshot, Registration::Here(&arn), age);
    if !verdict.is_ready() {
        return Ok(verdict);
    }
    snapshot.stopping.extend(ecs.stopping_tasks(cluster, &arn).await?);
    Ok(policy.verdict(snapshot, Registration::Here(&arn), age))
}

/// Set the instances DRAINING (if not yet), record when the drain started (if not yet), then read the rest of
/// the snapshot, so it already shows them DRAINING.
async fn drain_and_snapshot<E: EcsApi>(
    cluster: &str,
    pending: &[Pending],
    ecs: &E,
    now: DateTime<Utc>,
) -> Result<ClusterSnapshot, AwsError> {
    let mut instances = ecs.container_instances(cluster).await?;
    let ours = |i: &ContainerInstance| {
        pending.iter().find(|p| i.ec2_instance_id.as_deref() == Some(p.action.instance_id.as_str()))
    };
    let to_drain: Vec<String> =
        instances.iter().filter(|i| ours(i).is_some() && i.is_active()).map(|i| i.arn.clone()).collect();
    if !to_drain.is_empty() {
        let drained = ecs.drain(cluster, &to_drain).await?;
        for instance in instances.iter_mut() {
            if let Some(updated) = drained.iter().find(|d| d.arn == instance.arn) {
                instance.status = updated.status.clone();
            }
        }
    }
    for instance in instances.iter_mut() {
        let Some(p) = ours(instance) else { continue };
        if drain_started(instance).is_some() {
            continue;
        }
        let started = p.since.map_or(now, |since| since.min(now)).timestamp().to_string();
        if let Err(error) = ecs.put_attribute(cluster, &instance.arn, ATTRIBUTE_DRAIN_STARTED, &started).await {
            // The next invocation tries again; until then the age counts from this one.
            tracing::warn!(instance = %instance.arn, error = %error, "drain start not recorded");
        }
        instance.attributes.insert(ATTRIBUTE_DRAIN_STARTED.to_owned(), started);
    }
    let (tasks, services) = futures::try_join!(ecs.tasks(cluster), ecs.services(cluster))?;
    Ok(ClusterSnapshot { services, tasks, instances, stopping: vec![] })
}

async fn heartbeat<A: AutoScalingApi>(autoscaling: &A, action: &LifecycleAction) -> Result<ActionOutcome, AwsError> {
    if action.hook.is_empty() {
        return Err(AwsError::malformed("RecordLifecycleActionHeartbeat", "no lifecycle hook known for this group"));
    }
    autoscaling.heartbeat(action).await
}

/// Cannot tell whether the instance may go: heartbeat to hold it, and report why. Never a completion.
async fn hold_unsure<A: AutoScalingApi>(
    autoscaling: &A,
    p: &Pending,
    cluster: Option<&str>,
    why: String,
) -> InstanceReport {
    let error = match heartbeat(autoscaling, &p.action).await {
        Ok(_) => why,
        Err(beat) => format!("{why}; {beat}"),
    };
    InstanceReport {
        cluster: cluster.map(str::to_owned),
        error: Some(error),
        ..report_for(p, "", Outcome::Failed, None, vec![])
    }
}

fn report_for(
    p: &Pending,
    cluster: &str,
    outcome: Outcome,
    age: Option<i64>,
    blockers: Vec<Blocker>,
) -> InstanceReport {
    InstanceReport {
        instance: p.action.instance_id.clone(),
        group: p.action.group.clone(),
        cluster: Some(cluster.to_owned()),
        outcome,
        drain_age_seconds: age,
        blockers,
        error: None,
    }
}

/// One structured line per check: instance, cluster, drain age, ready or not, and what blocks it.
fn log(report: &InstanceReport) {
    let blockers = report.blockers.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
    let ready = matches!(report.outcome, Outcome::Completed { why: Release::Ready | Release::NotRegistered, .. });
    let outcome = serde_json::to_value(report.outcome).ok().and_then(|v| v["outcome"].as_str().map(str::to_owned));
    macro_rules! line {
        ($level:ident, $message:literal) => {
            tracing::$level!(
                instance = %report.instance,
                group = %report.group,
                cluster = report.cluster.as_deref(),
                drain_age_seconds = report.drain_age_seconds,
                ready,
                outcome = outcome.as_deref(),
                blockers = %blockers,
                error = report.error.as_deref(),
                $message
            )
        };
    }
    match report.outcome {
        Outcome::Failed => line!(error, "drain check failed; holding"),
        Outcome::Completed { why: Release::TimedOut, .. } => {
            line!(error, "max drain time reached; released with blockers left")
        }
        _ => line!(info, "drain check"),
    }
}

/// A read-only readiness check of one instance, as the hook would see it once the instance is DRAINING.
/// Changes nothing: no DRAINING, no attribute, no lifecycle call. Used by `ecs-scaler drain-check`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inspection {
    pub instance: String,
    pub cluster: String,
    pub container_instance_arn: Option<String>,
    /// ECS status now (ACTIVE, DRAINING, ...), if registered.
    pub status: Option<String>,
    pub drain_age_seconds: Option<i64>,
    pub verdict: DrainVerdict,
}

pub async fn inspect<E: EcsApi, A: AutoScalingApi>(
    ecs: &E,
    autoscaling: &A,
    instance_id: &str,
    cluster: Option<&str>,
    settings: &DrainSettings,
) -> Result<Inspection, DrainError> {
    let cluster = match cluster {
        Some(cluster) => cluster.to_owned(),
        None => {
            let group = autoscaling.group_of(instance_id).await.map_err(DrainError::Lookup)?;
            let groups = match group {
                Some(group) => autoscaling.groups(&[group]).await.map_err(DrainError::Lookup)?,
                None => vec![],
            };
            let tags = groups.first().map(|g| g.tags.clone()).unwrap_or_default();
            resolve_cluster(None, &tags, settings.cluster.as_deref())
                .map(|(name, _)| name)
                .ok_or_else(|| DrainError::NoCluster(instance_id.to_owned()))?
        }
    };
    let (instances, tasks, services) =
        futures::try_join!(ecs.container_instances(&cluster), ecs.tasks(&cluster), ecs.services(&cluster))
            .map_err(DrainError::Lookup)?;
    let mut snapshot = ClusterSnapshot { services, tasks, instances, stopping: vec![] };
    let now = Utc::now();
    let found = snapshot.instance_by_ec2_id(instance_id).cloned();
    if let Some(found) = &found {
        // Judge it as the hook would: already DRAINING, so its own tasks no longer count as available.
        for instance in snapshot.instances.iter_mut().filter(|i| i.arn == found.arn) {
            instance.status = "DRAINING".into();
        }
    }
    let age = found.as_ref().and_then(drain_started).map(|started| now - started);
    let verdict =
        judge(ecs, &settings.policy, &mut snapshot, &cluster, instance_id, age).await.map_err(DrainError::Lookup)?;
    Ok(Inspection {
        instance: instance_id.to_owned(),
        cluster,
        container_instance_arn: found.as_ref().map(|i| i.arn.clone()),
        status: found.map(|i| i.status),
        drain_age_seconds: age.map(|a| a.num_seconds()),
        verdict,
    })
}

/// The Lambda context's deadline (milliseconds since the epoch) as a monotonic instant.
pub fn deadline_instant(deadline_ms: u64) -> Instant {
    let now_ms = u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0);
    Instant::now() + std::time::Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}
