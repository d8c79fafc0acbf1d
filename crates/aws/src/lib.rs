//! The core's ports ([`ecs_scaler_core::ports`]) implemented with the AWS SDK, and the shared SDK configuration.
//!
//! This crate owns every SDK call: batching and paging up to each API's limits (the limits live next to the
//! calls), retries, and turning SDK errors into the ports' [`AwsError`]. It decides nothing: what to read, what
//! to do with it and when to hold are the core's. Its layer is unit-tested with `aws-smithy-mocks`.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_ecs::error::{DisplayErrorContext, ProvideErrorMetadata};
use chrono::{DateTime, Utc};
use ecs_scaler_core::ports::{AwsError, Clock};

pub mod autoscaling;
pub mod budget;
pub mod cloudwatch;
pub mod ec2;
pub mod ecs;
pub mod logging;
#[cfg(feature = "seed")]
pub mod seed;

pub use autoscaling::AutoScaling;
pub use cloudwatch::CloudWatch;
pub use ec2::Ec2;
pub use ecs::Ecs;

/// Wrap an SDK error as the ports' [`AwsError`], keeping its code for classification and its full context for
/// people.
pub fn sdk_error<E>(operation: &'static str, error: E) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = if budget::exhausted(&error) {
        Some(ecs_scaler_core::ports::BUDGET_EXHAUSTED.to_owned())
    } else {
        error.code().map(str::to_owned)
    };
    AwsError { operation, code, message: DisplayErrorContext(&error).to_string() }
}

/// Retries for throttling, 5xx and timeouts: the SDK's standard mode, bounded. Four attempts with jittered
/// exponential backoff ride out a throttling burst without blowing the Lambda's deadline; every attempt is
/// metered by the client-side budget ([`budget`]), which keeps ecs-scaler to its share of each ECS bucket.
///
/// Not the adaptive mode: measured here, its client-side rate limiter held a recovery from two throttled
/// attempts for over 60 seconds (the SDK-level tests of this crate went from under a second to 81 s), twice the
/// scale-status Lambda's timeout; the fixed-share budget bounds our calls without stalling a tick.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(4).with_initial_backoff(Duration::from_millis(200))
}

/// Per-attempt and per-operation timeouts, so a hung connection becomes a retry, then an error.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(10))
        .operation_timeout(Duration::from_secs(30))
        .build()
}

/// The ECS client a Lambda uses: metered by the client-side budget of `ECS_API_SHARE` and `ECS_API_MAX_WAIT_MS`
/// (see [`budget`]). A bad setting gives an unmetered client and the error, which the Lambda reports on every
/// invocation before making any AWS call.
pub fn lambda_ecs(sdk: &SdkConfig) -> (Ecs, Option<String>) {
    match budget::Budget::from_vars(|key| std::env::var(key).ok()) {
        Ok(budget) => (Ecs::metered(sdk, &std::sync::Arc::new(budget)), None),
        Err(error) => (Ecs::from_conf(sdk), Some(error)),
    }
}

/// The shared SDK configuration: region, credentials and `AWS_ENDPOINT_URL` from the environment, plus our
/// retry and timeout policy. Load once per process (Lambda cold start).
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .load()
        .await
}

/// An SDK configuration pointing at `endpoint`, with made-up credentials, for the adapter's own tests.
#[cfg(test)]
pub(crate) async fn seedless_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ecs::config::Credentials::new("AKID", "secret", None, None, "test"))
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .load()
        .await
}

/// Convert an SDK timestamp.
pub(crate) fn to_chrono(at: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    use aws_smithy_types_convert::date_time::DateTimeExt;
    at.to_chrono_utc().ok()
}

/// The wall clock: the Lambdas' and the CLI's [`Clock`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
