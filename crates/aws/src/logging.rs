//! Log setup for the Lambdas: one JSON object per line, fields at the top level, so CloudWatch Logs Insights
//! can filter on `reason` or `cluster` directly. Level from `AWS_LAMBDA_LOG_LEVEL`, then `RUST_LOG`, else info.

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The Lambdas' log format, writing to `writer` (tests capture it; the Lambdas use stdout).
pub fn subscriber<W>(writer: W, filter: EnvFilter) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(filter)
        .with_writer(writer)
        .finish()
}

/// Install [`subscriber`] on stdout for the whole process.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG")).unwrap_or_default();
    let filter = EnvFilter::try_new(level.to_ascii_lowercase()).unwrap_or_else(|_| EnvFilter::new("info"));
    // Fails only if a subscriber is already installed, in which case that one keeps logging.
    let _ = tracing::subscriber::set_global_default(subscriber(std::io::stdout, filter));
}
