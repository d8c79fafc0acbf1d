//! Client-side rate limits for ECS: a token bucket per ECS throttling category, sized to a share of the
//! account's bucket (10 % by default), so ecs-scaler never takes more than that share of the budget its users'
//! deploy pipelines and consoles draw on too.
//!
//! ECS throttles per account and Region with token buckets shared by every client (ECS API reference, "Request
//! throttling for the Amazon ECS API"); [`Category`] has their sizes. Every HTTP attempt of the ECS client takes
//! a token first (retries included, as AWS counts them): the client's HTTP connector is wrapped, so the SDK's
//! paginators and retries stay as they are. A call that would wait longer than the budget's `max_wait` for its
//! token is not made: it fails at once with the ports' [`BUDGET_EXHAUSTED`] code, and the tick defers the
//! cluster to the next minute instead of publishing a status from partial reads.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use ecs_scaler_core::ports::BUDGET_EXHAUSTED;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// The default share of each ECS bucket ecs-scaler may use.
pub const DEFAULT_SHARE: f64 = 0.1;
/// The default longest wait for a token before a call is given up.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(2);

pub use ecs_scaler_core::ports::cost::Category;

/// Why a call was not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exhausted {
    pub operation: String,
    pub category: Category,
    pub wait: Duration,
}

impl fmt::Display for Exhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{BUDGET_EXHAUSTED}: {} would wait {} ms for the {} budget",
            self.operation,
            self.wait.as_millis(),
            self.category
        )
    }
}

impl std::error::Error for Exhausted {}

/// The client-side buckets, one per [`Category`].
pub struct Budget {
    share: f64,
    max_wait: Duration,
    limiters: Vec<(Category, DefaultDirectRateLimiter)>,
}

impl fmt::Debug for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budget").field("share", &self.share).field("max_wait", &self.max_wait).finish()
    }
}

impl Budget {
    /// Buckets of `share` (0 < share ≤ 1) of each ECS bucket: capacity rounded down (at least 1), refill
    /// scaled exactly.
    pub fn new(share: f64, max_wait: Duration) -> Result<Budget, String> {
        if !(share > 0.0 && share <= 1.0) {
            return Err(format!("the API share {share} is not within (0, 1]"));
        }
        let limiters = <Category as strum::IntoEnumIterator>::iter()
            .map(|category| {
                let (burst, rate) = category.account_bucket();
                let burst =
                    NonZeroU32::new(((f64::from(burst) * share).floor() as u32).max(1)).unwrap_or(NonZeroU32::MIN);
                let period = Duration::from_secs_f64(1.0 / (f64::from(rate) * share));
                let quota = Quota::with_period(period).map(|q| q.allow_burst(burst));
                quota
                    .map(|quota| (category, RateLimiter::direct(quota)))
                    .ok_or_else(|| format!("no quota for {category}"))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Budget { share, max_wait, limiters })
    }

    /// From `ECS_API_SHARE` (default 0.1) and `ECS_API_MAX_WAIT_MS` (default 2000).
    pub fn from_vars<F: Fn(&str) -> Option<String>>(get: F) -> Result<Budget, String> {
        let share = match get("ECS_API_SHARE").filter(|v| !v.trim().is_empty()) {
            None => DEFAULT_SHARE,
            Some(raw) => raw.trim().parse().map_err(|_| format!("ECS_API_SHARE={raw:?} is not a number"))?,
        };
        let max_wait = match get("ECS_API_MAX_WAIT_MS").filter(|v| !v.trim().is_empty()) {
            None => DEFAULT_MAX_WAIT,
            Some(raw) => Duration::from_millis(
                raw.trim()
                    .parse()
                    .map_err(|_| format!("ECS_API_MAX_WAIT_MS={raw:?} is not a number of milliseconds"))?,
            ),
        };
        Budget::new(share, max_wait).map_err(|e| format!("ECS_API_SHARE: {e}"))
    }

    /// Take a token for `operation`, waiting for it up to `max_wait`; unmetered operations pass at once.
    pub async fn take(&self, operation: &str) -> Result<(), Exhausted> {
        let Some(category) = Category::of(operation) else { return Ok(()) };
        let Some((_, limiter)) = self.limiters.iter().find(|(c, _)| *c == category) else { return Ok(()) };
        match limiter.check() {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                if wait > self.max_wait {
                    return Err(Exhausted { operation: operation.to_owned(), category, wait });
                }
                limiter.until_ready().await;
                Ok(())
            }
        }
    }

    /// Wrap an SDK HTTP client so every request takes its token first (ECS's JSON protocol names the operation
    /// in `X-Amz-Target`).
    pub fn meter(self: &Arc<Self>, inner: SharedHttpClient) -> SharedHttpClient {
        let budget = Arc::clone(self);
        http_client_fn(move |settings, components| {
            SharedHttpConnector::new(Metered {
                inner: inner.http_connector(settings, components),
                budget: Arc::clone(&budget),
            })
        })
    }
}

#[derive(Debug)]
struct Metered {
    inner: SharedHttpConnector,
    budget: Arc<Budget>,
}

impl HttpConnector for Metered {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|target| target.rsplit_once('.').map(|(_, op)| op.to_owned()))
            .unwrap_or_default();
        let (inner, budget) = (self.inner.clone(), Arc::clone(&self.budget));
        HttpConnectorFuture::new(async move {
            budget.take(&operation).await.map_err(|e| ConnectorError::other(Box::new(e), None))?;
            inner.call(request).await
        })
    }
}

/// The SDK's default HTTPS client (rustls with aws-lc), for when the SDK configuration carries none of its own
/// (it picks that default itself, where it cannot be wrapped).
pub fn default_https_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::AwsLc)).build_https()
}

/// Whether an SDK error is a call the budget did not let through.
pub fn exhausted(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if current.downcast_ref::<Exhausted>().is_some() {
            return true;
        }
        cause = current.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn taken(budget: &Budget, operation: &str, tries: usize) -> usize {
        let mut taken = 0;
        for _ in 0..tries {
            taken += usize::from(budget.take(operation).await.is_ok());
        }
        taken
    }

    #[tokio::test]
    async fn a_share_of_each_bucket_with_at_least_one_token() {
        let budget = Budget::new(0.1, Duration::ZERO).unwrap();
        // Service reads: 10 % of 100 = 10 at once, then none until refilled (2 a second).
        assert_eq!(taken(&budget, "DescribeServices", 12).await, 10);
        // Each category has its own bucket; unmetered operations pass.
        assert!(budget.take("DescribeTasks").await.is_ok());
        assert!(budget.take("GetMetricData").await.is_ok());
        let refused = budget.take("ListServices").await.unwrap_err();
        assert_eq!(refused.category, Category::ServiceRead);
        assert!(refused.to_string().starts_with("ClientBudgetExhausted: ListServices would wait"), "{refused}");
        assert!(refused.wait > Duration::ZERO && refused.wait <= Duration::from_millis(500), "{refused:?}");
        // Tag modify: 10 % of 20 = 2.
        assert_eq!(taken(&budget, "TagResource", 5).await, 2);
    }

    #[tokio::test]
    async fn within_max_wait_a_call_waits_for_its_token() {
        let budget = Budget::new(0.1, Duration::from_secs(1)).unwrap();
        for _ in 0..10 {
            budget.take("ListTasks").await.unwrap();
        }
        let started = std::time::Instant::now();
        budget.take("ListTasks").await.unwrap();
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(300) && waited < Duration::from_secs(1), "{waited:?}");
    }

    #[test]
    fn bad_settings_are_refused_by_name() {
        assert!(Budget::new(0.0, DEFAULT_MAX_WAIT).is_err());
        assert!(Budget::new(1.5, DEFAULT_MAX_WAIT).is_err());
        let error = Budget::from_vars(|k| (k == "ECS_API_SHARE").then(|| "lots".to_owned())).unwrap_err();
        assert!(error.contains("ECS_API_SHARE=\"lots\""), "{error}");
        assert!(Budget::from_vars(|_| None).is_ok());
    }
}

#[cfg(test)]
mod metering {
    use super::*;
    use crate::ecs::Ecs;
    use ecs_scaler_core::ports::EcsApi;

    #[tokio::test]
    async fn a_metered_client_pays_for_every_attempt_and_refuses_what_the_budget_cannot_pay() {
        // Nothing listens on port 9. The one token (1 % of the task definition bucket of 50) pays the first
        // attempt, which fails to connect; the SDK's retry is metered too and cannot be paid: the call fails with
        // the code the tick defers on, naming the wait.
        let sdk = crate::seedless_config("http://127.0.0.1:9").await;
        let budget = Arc::new(Budget::new(0.01, Duration::ZERO).unwrap());
        let ecs = Ecs::metered(&sdk, &budget);
        let arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/api:1";
        let error = ecs.task_definition(arn).await.unwrap_err();
        assert!(error.is_budget_exhausted(), "{error}");
        assert!(error.message.contains("DescribeTaskDefinition would wait"), "{}", error.message);
        // Unmetered, the same call fails on the connection alone.
        let error = Ecs::from_conf(&sdk).task_definition(arn).await.unwrap_err();
        assert!(!error.is_budget_exhausted(), "{error}");
    }
}
