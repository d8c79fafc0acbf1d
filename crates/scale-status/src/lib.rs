//! scale-status: the Lambda shell of the ScaleStatus tick.
//!
//! It turns the event (a plain Scheduled Event, the schedule's constant input, or ECS's
//! `SERVICE_TASK_PLACEMENT_FAILURE` service action event) and the environment into a [`TickConfig`], then runs
//! the core's [`tick`](ecs_scaler_core::scale::tick) (or its [`trigger`](ecs_scaler_core::scale::trigger) for
//! the one cluster an event names) over the ports, which reads, decides, publishes and asks for capacity.
//! Decisions live in the core; this crate owns only what is Lambda-shaped: events, errors as Lambda
//! diagnostics, and the binary that builds the SDK clients once. It must not decide anything itself.

use aws_lambda_events::cloudwatch_events::CloudWatchEvent;
use chrono::Duration;
use ecs_scaler_core::config::{ConfigError, EnvConfig, ScheduleInput, TickConfig};
use ecs_scaler_core::ports::{AutoScalingApi, Clock, Context, Ec2Api, EcsApi, MetricsApi};
use ecs_scaler_core::scale::memory::Memory;
use ecs_scaler_core::scale::tick::{self, Recall, Summary, TickError};
use ecs_scaler_core::scale::trigger::{self, Triggered};
use lambda_runtime::Diagnostic;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The detail-type of ECS's service action events on EventBridge.
pub const SERVICE_ACTION: &str = "ECS Service Action";
/// The one service action the trigger rule forwards.
pub const PLACEMENT_FAILURE: &str = "SERVICE_TASK_PLACEMENT_FAILURE";

/// Why an invocation failed: a bad event, or a tick that could do nothing useful.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the event is not a Scheduled Event, schedule input or ECS placement failure: {0}")]
    Event(String),
    #[error(transparent)]
    Tick(#[from] TickError),
    /// A setting of the Lambda itself (not a cluster's) is wrong: every invocation fails before any AWS call.
    #[error("configuration: {0}")]
    Setting(String),
}

impl From<ConfigError> for Error {
    fn from(error: ConfigError) -> Self {
        Error::Tick(TickError::Config(error))
    }
}

impl From<Error> for Diagnostic {
    fn from(error: Error) -> Self {
        let kind = match &error {
            Error::Event(_) => "BadEvent",
            Error::Setting(_) => "BadConfig",
            Error::Tick(TickError::Config(_)) => "BadConfig",
            Error::Tick(TickError::NoClusters) => "NoClusters",
            Error::Tick(TickError::Lookup(_)) => "LookupFailed",
            Error::Tick(TickError::NothingEvaluated(_)) => "NothingEvaluated",
            Error::Tick(TickError::Publish(_)) => "PublishFailed",
        };
        Diagnostic { error_type: format!("ScaleStatus.{kind}"), error_message: error.to_string() }
    }
}

/// What an invocation was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// The schedule (or a manual invoke): every managed cluster.
    Tick(ScheduleInput),
    /// ECS could not place a service's task in this cluster (its ARN).
    PlacementFailure { cluster: String },
}

/// The `detail` of a service action event, as far as the trigger reads it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceAction {
    event_name: String,
    cluster_arn: String,
}

/// An EventBridge envelope of a service action; its other keys are ignored.
#[derive(Debug, Clone, Deserialize)]
struct ServiceActionEvent {
    source: String,
    detail: ServiceAction,
}

/// Tell the event shapes apart: a service action event from ECS (detail-type `ECS Service Action`), a Scheduled
/// Event, the schedule's constant input, or nothing (a manual invoke). Anything else is a clear error, before
/// any AWS call.
pub fn invocation(event: &Value) -> Result<Invocation, Error> {
    if event.get("detail-type").and_then(Value::as_str) == Some(SERVICE_ACTION) {
        let action: ServiceActionEvent =
            serde_json::from_value(event.clone()).map_err(|e| Error::Event(format!("{SERVICE_ACTION} event: {e}")))?;
        if action.source != "aws.ecs" {
            return Err(Error::Event(format!("{SERVICE_ACTION} event from source {:?}, not aws.ecs", action.source)));
        }
        if action.detail.event_name != PLACEMENT_FAILURE {
            return Err(Error::Event(format!(
                "service action {:?} is not handled; expected {PLACEMENT_FAILURE}",
                action.detail.event_name
            )));
        }
        return Ok(Invocation::PlacementFailure { cluster: action.detail.cluster_arn });
    }
    schedule_input(event).map(Invocation::Tick)
}

/// Read the schedule input out of a Lambda event: a plain EventBridge "Scheduled Event" carries none; anything
/// else must be the rule's constant input (or empty, for a manual test invoke).
pub fn schedule_input(event: &Value) -> Result<ScheduleInput, Error> {
    match event {
        Value::Null => return Ok(ScheduleInput::default()),
        Value::Object(fields) if fields.is_empty() => return Ok(ScheduleInput::default()),
        Value::Object(fields) if fields.contains_key("detail-type") => {
            let detail_type = fields.get("detail-type").and_then(Value::as_str).unwrap_or_default();
            if detail_type != "Scheduled Event" {
                let source = fields.get("source").and_then(Value::as_str).unwrap_or_default();
                return Err(Error::Event(format!(
                    "detail-type {detail_type:?} from source {source:?} is not handled; expected \"Scheduled Event\" or \"{SERVICE_ACTION}\""
                )));
            }
            let scheduled: CloudWatchEvent =
                serde_json::from_value(event.clone()).map_err(|e| Error::Event(e.to_string()))?;
            return match scheduled.detail_type.as_deref() {
                Some("Scheduled Event") => Ok(ScheduleInput::default()),
                other => Err(Error::Event(format!(
                    "detail-type {:?} from source {:?} is not handled; expected \"Scheduled Event\"",
                    other.unwrap_or_default(),
                    scheduled.source.unwrap_or_default()
                ))),
            };
        }
        Value::Object(_) => {}
        other => {
            let kind = match other {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                _ => "a boolean",
            };
            return Err(Error::Event(format!("expected a JSON object, got {kind}")));
        }
    }
    serde_json::from_value(event.clone()).map_err(|e| Error::Event(e.to_string()))
}

/// What the Lambda answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Response {
    Tick(Summary),
    Event(Triggered),
}

/// The Lambda handler, for every event the function receives, reading every cluster from scratch.
pub async fn respond<E: EcsApi, A: AutoScalingApi, X: Ec2Api, M: MetricsApi, C: Clock>(
    event: &Value,
    env: &EnvConfig,
    ctx: Context<'_, E, A, X, M, C>,
) -> Result<Response, Error> {
    respond_with(event, env, ctx, &Memory::default()).await
}

/// [`respond`] with what the warm process remembers (task definitions, verdicts nothing has changed since,
/// deferred clusters): the Lambda keeps one [`Memory`] for its life.
pub async fn respond_with<E: EcsApi, A: AutoScalingApi, X: Ec2Api, M: MetricsApi, C: Clock>(
    event: &Value,
    env: &EnvConfig,
    ctx: Context<'_, E, A, X, M, C>,
    memory: &Memory,
) -> Result<Response, Error> {
    match invocation(event)? {
        Invocation::Tick(input) => {
            let config = TickConfig::build(env, &input)?;
            Ok(Response::Tick(tick::run_in(ctx, &config, None, Recall { memory, deep: false }).await?))
        }
        Invocation::PlacementFailure { cluster } => {
            let config = TickConfig::build(env, &ScheduleInput::default())?;
            let interval = Duration::seconds(i64::from(env.event_min_interval_seconds.clone()?));
            let triggered = trigger::on_placement_failure(ctx, &config, &cluster, interval, memory).await?;
            match &triggered {
                Triggered::Evaluated { .. } => tracing::info!(cluster = %cluster, "placement failure evaluated"),
                Triggered::Throttled { last, .. } => {
                    tracing::info!(cluster = %cluster, last = %last, "placement failure: evaluated recently")
                }
                Triggered::Ignored { why, .. } => {
                    tracing::info!(cluster = %cluster, why = %why, "placement failure ignored")
                }
            }
            Ok(Response::Event(triggered))
        }
    }
}

/// The scheduled tick: layer the configuration from `env` and the event, then run the core's tick, reading
/// every cluster from scratch.
pub async fn handle<E: EcsApi, A: AutoScalingApi, X: Ec2Api, M: MetricsApi, C: Clock>(
    event: &Value,
    env: &EnvConfig,
    ctx: Context<'_, E, A, X, M, C>,
) -> Result<Summary, Error> {
    handle_with(event, env, ctx, &Memory::default()).await
}

/// [`handle`] with what the warm process remembers.
pub async fn handle_with<E: EcsApi, A: AutoScalingApi, X: Ec2Api, M: MetricsApi, C: Clock>(
    event: &Value,
    env: &EnvConfig,
    ctx: Context<'_, E, A, X, M, C>,
    memory: &Memory,
) -> Result<Summary, Error> {
    let input = schedule_input(event)?;
    let config = TickConfig::build(env, &input)?;
    Ok(tick::run_in(ctx, &config, None, Recall { memory, deep: false }).await?)
}
