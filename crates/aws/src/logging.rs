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

/// The filter for a level setting: `AWS_LAMBDA_LOG_LEVEL`, then `RUST_LOG`; unset, blank or unreadable is info
/// (an empty `EnvFilter` would log errors only).
pub fn filter(aws_lambda_log_level: Option<&str>, rust_log: Option<&str>) -> EnvFilter {
    let level = [aws_lambda_log_level, rust_log].into_iter().flatten().map(str::trim).find(|l| !l.is_empty());
    level.and_then(|l| EnvFilter::try_new(l.to_ascii_lowercase()).ok()).unwrap_or_else(|| EnvFilter::new("info"))
}

/// Install [`subscriber`] on stdout for the whole process.
pub fn init() {
    let (aws, rust) = (std::env::var("AWS_LAMBDA_LOG_LEVEL").ok(), std::env::var("RUST_LOG").ok());
    let filter = filter(aws.as_deref(), rust.as_deref());
    // Fails only if a subscriber is already installed, in which case that one keeps logging.
    let _ = tracing::subscriber::set_global_default(subscriber(std::io::stdout, filter));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_or_blank_levels_log_info_and_the_lambda_setting_wins() {
        assert_eq!(filter(None, None).to_string(), "info");
        assert_eq!(filter(Some(""), Some("  ")).to_string(), "info");
        assert_eq!(filter(Some("DEBUG"), Some("warn")).to_string(), "debug");
        assert_eq!(filter(None, Some("warn")).to_string(), "warn");
        assert_eq!(filter(Some("[unclosed"), None).to_string(), "info");
    }
}
