//! Log setup for the Lambdas: one JSON object per line, fields at the top level, so CloudWatch Logs Insights
//! can filter on `reason` or `cluster` directly. Level from `AWS_LAMBDA_LOG_LEVEL`, then `RUST_LOG`, else info.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG")).unwrap_or_default();
    let filter = EnvFilter::try_new(level.to_ascii_lowercase()).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(filter)
        .init();
}
