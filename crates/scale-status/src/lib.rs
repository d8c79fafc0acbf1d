//! scale-status: the Lambda shell of the ScaleStatus tick.
//!
//! It turns the event (a plain Scheduled Event, or the schedule's constant input) and the environment into a
//! [`TickConfig`], then runs the core's [`tick`](ecs_scaler_core::scale::tick) over the ports, which reads,
//! decides and publishes. Decisions live in the core; this crate owns only what is Lambda-shaped: events,
//! errors as Lambda diagnostics, and the binary that builds the SDK clients once.

use aws_lambda_events::cloudwatch_events::CloudWatchEvent;
use ecs_scaler_core::config::{ConfigError, EnvConfig, ScheduleInput, TickConfig};
use ecs_scaler_core::ports::{AutoScalingApi, Clock, Context, EcsApi, MetricsApi};
use ecs_scaler_core::scale::tick::{self, Summary, TickError};
use lambda_runtime::Diagnostic;
use serde_json::Value;

/// Why an invocation failed: a bad event, or a tick that could do nothing useful.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the event is not a Scheduled Event or schedule input: {0}")]
    Event(String),
    #[error(transparent)]
    Tick(#[from] TickError),
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
            Error::Tick(TickError::Config(_)) => "BadConfig",
            Error::Tick(TickError::NoClusters) => "NoClusters",
            Error::Tick(TickError::Lookup(_)) => "LookupFailed",
            Error::Tick(TickError::NothingEvaluated(_)) => "NothingEvaluated",
            Error::Tick(TickError::Publish(_)) => "PublishFailed",
        };
        Diagnostic { error_type: format!("ScaleStatus.{kind}"), error_message: error.to_string() }
    }
}

/// Read the schedule input out of a Lambda event: a plain EventBridge "Scheduled Event" carries none; anything
/// else must be the rule's constant input (or empty, for a manual test invoke).
pub fn schedule_input(event: &Value) -> Result<ScheduleInput, Error> {
    match event {
        Value::Null => return Ok(ScheduleInput::default()),
        Value::Object(fields) if fields.is_empty() => return Ok(ScheduleInput::default()),
        Value::Object(fields) if fields.contains_key("detail-type") => {
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

/// The Lambda handler: layer the configuration from `env` and the event, then run the core's tick.
pub async fn handle<E: EcsApi, A: AutoScalingApi, M: MetricsApi, C: Clock>(
    event: &Value,
    env: &EnvConfig,
    ctx: Context<'_, E, A, M, C>,
) -> Result<Summary, Error> {
    let input = schedule_input(event)?;
    let config = TickConfig::build(env, &input)?;
    Ok(tick::run(ctx, &config).await?)
}
