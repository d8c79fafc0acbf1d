//! drain-hook: the Auto Scaling termination lifecycle hook for ECS container instances, as a Lambda shell.
//!
//! Every decision is the core's ([`ecs_scaler_core::drain`]); this crate turns Lambda events into triggers and
//! paces the checks. A lifecycle notification only starts the drain (DRAINING, drain start recorded) and holds
//! the instance: readiness is judged by the per-minute reconcile, which is the one poller of each cluster. It
//! finds every instance our hook holds in `Terminating:Wait` in the groups of our clusters, and checks them
//! every `POLL_SECONDS` with one snapshot per cluster for `RECONCILE_SECONDS`, less than the schedule's minute,
//! so reconciles never overlap. Nothing is stored but in AWS itself: the drain start is an attribute on the
//! container instance. It never re-invokes itself.
//!
//! It is also the groups' custom termination policy: Auto Scaling asks it which instances to take on a
//! scale-in, and it answers with the core's choice ([`ecs_scaler_core::scale::terminate`]) within
//! [`TERMINATION_BUDGET`], or with Auto Scaling's own candidates when it cannot judge in time.

use std::collections::BTreeMap;

use aws_lambda_events::autoscaling::AutoScalingEvent;
use aws_lambda_events::cloudwatch_events::CloudWatchEvent;
use aws_lambda_events::sns::SnsEvent;
use chrono::Utc;
use ecs_scaler_core::config::ConfigError;
use ecs_scaler_core::drain::{self, DrainSettings, InstanceReport, Mode, Outcome, Release, Target, run};
use ecs_scaler_core::lifecycle::{LifecycleAction, LifecycleMessage, LifecycleRequest, Termination};
use ecs_scaler_core::ports::{AutoScalingApi, Clock, Context, Ec2Api, EcsApi, MetricsApi};
use ecs_scaler_core::scale::terminate::{self, Basis, Choice, TerminationRequest, TerminationResponse};
use lambda_runtime::Diagnostic;
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

/// The EventBridge detail-type of a termination lifecycle action.
pub const LIFECYCLE_DETAIL_TYPE: &str = "EC2 Instance-terminate Lifecycle Action";
/// How long the termination policy may take to judge: Auto Scaling allows two seconds in all.
pub const TERMINATION_BUDGET: std::time::Duration = std::time::Duration::from_millis(1500);
/// Stop polling this long before the Lambda's deadline, so the last check and its heartbeat finish in time.
const DEADLINE_MARGIN: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    #[error(
        "the event is not a lifecycle notification, a test notification, a Scheduled Event or a termination policy request: {0}"
    )]
    Event(String),
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// A setting of the Lambda's ECS client is wrong (`ECS_API_SHARE`, `ECS_API_MAX_WAIT_MS`).
    #[error("configuration: {0}")]
    Setting(String),
    #[error(transparent)]
    Drain(#[from] drain::Error),
    #[error("{failed} of {total} terminating instance(s) could not be handled (held; see the log): {first}")]
    Incomplete { failed: usize, total: usize, first: String },
}

impl From<DrainError> for Diagnostic {
    fn from(error: DrainError) -> Self {
        let kind = match &error {
            DrainError::Event(_) => "BadEvent",
            DrainError::Setting(_) => "BadConfig",
            DrainError::Config(_) => "BadConfig",
            DrainError::Drain(drain::Error::UnknownGroup(_)) => "UnknownGroup",
            DrainError::Drain(drain::Error::Lookup(_)) => "LookupFailed",
            DrainError::Drain(drain::Error::NoCluster(_)) => "NoCluster",
            DrainError::Incomplete { .. } => "Incomplete",
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
    /// Auto Scaling asks which instances to terminate (custom termination policy).
    TerminationPolicy(TerminationRequest),
    /// A termination policy request that does not parse but names candidates: answered with none, loudly. Which
    /// of them could go cannot be judged, and Auto Scaling asks again rather than pick one itself.
    MalformedTerminationPolicy { candidates: Vec<String>, why: String },
}

/// Classify a Lambda event. Anything unexpected is an error, before any AWS call.
pub fn trigger(event: &Value) -> Result<Trigger, DrainError> {
    let bad = |message: String| DrainError::Event(message);
    let Value::Object(fields) = event else { return Err(bad("expected a JSON object".into())) };
    if fields.contains_key("CapacityToTerminate") || fields.contains_key("AutoScalingGroupName") {
        return match serde_json::from_value::<TerminationRequest>(event.clone()) {
            Ok(request) => Ok(Trigger::TerminationPolicy(request)),
            Err(error) => {
                let candidates: Vec<String> = fields
                    .get("Instances")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|i| i.get("InstanceId").and_then(Value::as_str).map(str::to_owned))
                    .collect();
                if candidates.is_empty() {
                    Err(bad(format!("termination policy request names no candidate instances: {error}")))
                } else {
                    Ok(Trigger::MalformedTerminationPolicy { candidates, why: error.to_string() })
                }
            }
        };
    }
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

/// What the Lambda returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub trigger: &'static str,
    /// The last word on each instance this invocation handled.
    pub instances: Vec<InstanceReport>,
    /// Readiness checks made (rounds × clusters); a notification makes none.
    pub checks: usize,
}

/// What the Lambda answers: a drain summary, or Auto Scaling's termination policy response, in the shape
/// Auto Scaling reads (`{"InstanceIDs": [...]}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Response {
    Drain(Summary),
    Termination(TerminationResponse),
}

/// The Lambda handler: every event the function receives. `deadline` is when the Lambda will be stopped.
pub async fn respond<E: EcsApi, A: AutoScalingApi, X: Ec2Api, M: MetricsApi, C: Clock>(
    event: &Value,
    settings: &DrainSettings,
    ctx: Context<'_, E, A, X, M, C>,
    deadline: Instant,
) -> Result<Response, DrainError> {
    match trigger(event)? {
        Trigger::TerminationPolicy(request) => {
            Ok(Response::Termination(termination_policy(ctx, settings, &request).await))
        }
        Trigger::MalformedTerminationPolicy { candidates, why } => {
            tracing::error!(why = %why, candidates = ?candidates, "malformed termination policy request; answering with no instance");
            Ok(Response::Termination(TerminationResponse::default()))
        }
        other => drain(other, settings, ctx, deadline).await.map(Response::Drain),
    }
}

/// The drain part of [`respond`]: lifecycle notifications, test notifications and the scheduled reconcile.
pub async fn handle<E: EcsApi, A: AutoScalingApi, X: Ec2Api, M: MetricsApi, C: Clock>(
    event: &Value,
    settings: &DrainSettings,
    ctx: Context<'_, E, A, X, M, C>,
    deadline: Instant,
) -> Result<Summary, DrainError> {
    drain(trigger(event)?, settings, ctx, deadline).await
}

/// Answer a termination policy request within [`TERMINATION_BUDGET`]; past it, what [`Choice::unjudged`] says for
/// the request's cause (nothing for a scale-in, which Auto Scaling asks again).
pub async fn termination_policy<E: EcsApi, A: AutoScalingApi, X: Ec2Api, M, C>(
    ctx: Context<'_, E, A, X, M, C>,
    settings: &DrainSettings,
    request: &TerminationRequest,
) -> TerminationResponse {
    let choosing = terminate::choose(ctx.ecs, ctx.autoscaling, ctx.ec2, &settings.clusters, &settings.layer, request);
    let choice = tokio::time::timeout(TERMINATION_BUDGET, choosing).await.unwrap_or_else(|_| {
        Choice::unjudged(request, format!("no choice within {} ms", TERMINATION_BUDGET.as_millis()))
    });
    let capacity: u32 = request.capacity.iter().map(|c| c.capacity).sum();
    match &choice.basis {
        Basis::Judged { .. } => tracing::info!(
            group = %request.group, cause = request.cause.as_deref(), capacity, chosen = ?choice.response.instance_ids,
            basis = %choice.basis, "termination policy"
        ),
        Basis::Held { .. } | Basis::Fallback { .. } => tracing::warn!(
            group = %request.group, cause = request.cause.as_deref(), capacity, chosen = ?choice.response.instance_ids,
            basis = %choice.basis, "termination policy"
        ),
    }
    choice.response
}

async fn drain<E: EcsApi, A: AutoScalingApi, X: Ec2Api, M: MetricsApi, C: Clock>(
    trigger: Trigger,
    settings: &DrainSettings,
    ctx: Context<'_, E, A, X, M, C>,
    deadline: Instant,
) -> Result<Summary, DrainError> {
    match trigger {
        Trigger::Test => {
            tracing::info!("test notification acknowledged");
            Ok(Summary { trigger: "test_notification", instances: vec![], checks: 0 })
        }
        Trigger::Terminations(terminations) => {
            let found = run::notified_targets(ctx, settings, &terminations).await?;
            let mut reports = hold_unresolved(ctx, &found.unresolved).await;
            let mut targets = found.targets;
            reports.extend(run::check(ctx, settings, &mut targets, Mode::Start, &mut run::Memory::default()).await);
            finish(ctx, settings, "lifecycle_notification", reports, &BTreeMap::new(), 0).await
        }
        Trigger::Reconcile => reconcile(ctx, settings, deadline).await,
        Trigger::TerminationPolicy(_) | Trigger::MalformedTerminationPolicy { .. } => {
            Err(DrainError::Event("a termination policy request is not a drain".into()))
        }
    }
}

/// The poller: check every waiting instance, one snapshot per cluster, every `POLL_SECONDS` from the start of
/// the invocation (0, 10, 20, 30, 40 s with the defaults) until the reconcile window closes or the deadline
/// nears. Instances that start waiting meanwhile join the next round.
async fn reconcile<E: EcsApi, A: AutoScalingApi, X: Ec2Api, M: MetricsApi, C: Clock>(
    ctx: Context<'_, E, A, X, M, C>,
    settings: &DrainSettings,
    deadline: Instant,
) -> Result<Summary, DrainError> {
    let started = Instant::now();
    let window = settings.reconcile_window.to_std().unwrap_or_default();
    let stop = (started + window).min(deadline.checked_sub(DEADLINE_MARGIN).unwrap_or(deadline));
    let poll = settings.poll.to_std().unwrap_or(std::time::Duration::from_secs(10));
    let mut hooks = BTreeMap::new();
    let mut memory = run::Memory::default();
    let found = run::waiting_targets(ctx, settings, &mut hooks).await?;
    let draining = found.draining;
    let mut last: BTreeMap<String, InstanceReport> = BTreeMap::new();
    for report in hold_unresolved(ctx, &found.unresolved).await {
        log(&report);
        last.insert(report.instance.clone(), report);
    }
    let mut targets = found.targets;
    let mut checks = 0;
    let mut round: u32 = 0;
    while !targets.is_empty() {
        checks += targets.iter().map(|t| &t.cluster).collect::<std::collections::BTreeSet<_>>().len();
        for report in run::check(ctx, settings, &mut targets, Mode::Check, &mut memory).await {
            log(&report);
            last.insert(report.instance.clone(), report);
        }
        round += 1;
        let next = started + poll * round;
        if next > stop {
            break;
        }
        tokio::time::sleep_until(next).await;
        let again = match run::waiting_targets(ctx, settings, &mut hooks).await {
            Ok(again) => again,
            Err(error) => {
                tracing::warn!(error = %error, "could not look for waiting instances again; the next reconcile will");
                break;
            }
        };
        targets = carry_heartbeats(&targets, again.targets);
    }
    let reports = last.into_values().collect();
    finish(ctx, settings, "reconcile", reports, &draining, checks).await
}

/// The instances still waiting, keeping what this invocation already did for them.
fn carry_heartbeats(before: &[Target], now: Vec<Target>) -> Vec<Target> {
    now.into_iter()
        .map(|mut target| {
            let seen = before.iter().find(|b| b.action.instance_id == target.action.instance_id);
            target.beaten = seen.is_some_and(|b| b.beaten);
            target
        })
        .collect()
}

/// Instances our hook holds whose cluster or hook cannot be told: held (heartbeat where a hook is known), and
/// reported as failures.
async fn hold_unresolved<E, A: AutoScalingApi, X, M, C>(
    ctx: Context<'_, E, A, X, M, C>,
    unresolved: &[(LifecycleAction, String)],
) -> Vec<InstanceReport> {
    let mut reports = Vec::new();
    for (action, why) in unresolved {
        reports.push(run::hold_one(ctx.autoscaling, action, None, why).await);
    }
    reports
}

/// Publish the invocation's drain metrics and sum it up; any instance that failed fails the invocation.
async fn finish<E, A, X, M: MetricsApi, C: Clock>(
    ctx: Context<'_, E, A, X, M, C>,
    settings: &DrainSettings,
    trigger: &'static str,
    instances: Vec<InstanceReport>,
    draining: &BTreeMap<String, usize>,
    checks: usize,
) -> Result<Summary, DrainError> {
    if checks == 0 {
        instances.iter().for_each(log);
    }
    let metrics = drain::metrics(&instances, draining, ctx.clock.now());
    if !metrics.is_empty()
        && let Err(error) = ctx.metrics.put(&settings.namespace, &metrics).await
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
    Ok(Summary { trigger, instances, checks })
}

/// One structured line per check: instance, cluster, drain age, ready or not, what blocks it, and the services
/// short elsewhere that do not.
fn log(report: &InstanceReport) {
    let joined = |items: Vec<String>| items.join("; ");
    let blockers = joined(report.blockers.iter().map(ToString::to_string).collect());
    let unrelated = joined(report.unrelated.iter().map(ToString::to_string).collect());
    let ready = report.is_ready();
    let outcome: &'static str = report.outcome.into();
    macro_rules! line {
        ($level:ident, $message:literal) => {
            tracing::$level!(
                instance = %report.instance,
                group = %report.group,
                cluster = report.cluster.as_deref(),
                drain_age_seconds = report.drain_age_seconds,
                ready,
                outcome,
                blockers = %blockers,
                below_min_elsewhere = %unrelated,
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

/// The Lambda context's deadline (milliseconds since the epoch) as a monotonic instant.
pub fn deadline_instant(deadline_ms: u64) -> Instant {
    let now_ms = u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0);
    Instant::now() + std::time::Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}
