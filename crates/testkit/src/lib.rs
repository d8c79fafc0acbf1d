//! Test support for ecs-scaler, without the AWS SDK: the emulator's process and control API, a one-shot Lambda
//! Runtime API to run the packaged functions, function URLs the emulator invokes, and capturing the Lambdas'
//! log lines. Seeding the emulator speaks
//! the SDK, so it lives with the adapters (`ecs-scaler-aws`, feature `seed`); scripted ports for unit tests
//! live with the ports (`ecs-scaler-core`, feature `testing`).

pub mod emulator;
pub mod function;
pub mod lambda;

pub use emulator::{Call, Emulator, Fault, TaskState};
pub use function::FunctionUrl;

/// Why the test harness could not do what a test asked.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("starting the emulator: {0}")]
    Spawn(String),
    #[error("emulator control API: {0}")]
    Control(String),
}

/// Capture what the Lambdas log while the guard lives, on this thread, in the format `subscriber` builds (the
/// Lambdas' own: `ecs_scaler_aws::logging::subscriber`). Returns the guard and a function that parses the lines
/// captured so far.
///
/// Tests run on parallel threads that have no subscriber. With only one dispatcher registered, tracing-core
/// caches each callsite's interest from whichever thread reaches it first, so a parallel test could switch
/// an event off for this one. A second dispatcher that lives for the whole process makes every callsite ask
/// the emitting thread's subscriber on each event instead.
pub fn capture_logs<S, F>(subscriber: F) -> (tracing::subscriber::DefaultGuard, impl Fn() -> Vec<serde_json::Value>)
where
    S: tracing::Subscriber + Send + Sync + 'static,
    F: FnOnce(Buffer, tracing_subscriber::EnvFilter) -> S,
{
    static SECOND_DISPATCHER: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
    SECOND_DISPATCHER.get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
    let buffer = Buffer::default();
    let filter = tracing_subscriber::EnvFilter::new("info");
    let guard = tracing::subscriber::set_default(subscriber(buffer.clone(), filter));
    let lines = move || {
        let bytes = buffer.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes).lines().filter_map(|line| serde_json::from_str(line).ok()).collect()
    };
    (guard, lines)
}

/// Where [`capture_logs`] keeps the lines: a writer for a `tracing_subscriber` formatter.
#[derive(Clone, Default)]
pub struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::capture_logs;

    fn json_lines(
        writer: super::Buffer,
        filter: tracing_subscriber::EnvFilter,
    ) -> impl tracing::Subscriber + Send + Sync {
        tracing_subscriber::fmt().json().flatten_event(true).with_env_filter(filter).with_writer(writer).finish()
    }

    fn probe() {
        tracing::info!(probe = 1, "probe");
    }

    #[test]
    fn an_event_first_reached_on_another_thread_is_still_captured_here() {
        let (_guard, lines) = capture_logs(json_lines);
        std::thread::spawn(probe).join().unwrap();
        probe();
        let probes: Vec<_> = lines().into_iter().filter(|line| line["message"] == "probe").collect();
        assert_eq!(probes.len(), 1, "{probes:?}");
    }
}
