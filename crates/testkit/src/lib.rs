//! Test support for ecs-scaler: an in-memory fake of the AWS traits, the moto-based emulator harness, and
//! seeding helpers shared by the end-to-end tests, the demo and the benchmark.

pub mod emulator;
pub mod fakes;
pub mod lambda;
pub mod seed;

pub use emulator::{Call, Emulator, Fault, TaskState};
pub use fakes::FakeCloud;
pub use seed::{HookSpec, SeededInstance, Seeder, ServiceSpec};

/// Why the test harness could not do what a test asked.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("starting the emulator: {0}")]
    Spawn(String),
    #[error("emulator control API: {0}")]
    Control(String),
    #[error("seeding the emulator: {0}")]
    Aws(String),
}

/// Capture what the Lambdas log (in their production format) while the guard lives, on this thread.
/// Returns the guard and a function that parses the lines captured so far.
///
/// Tests run on parallel threads that have no subscriber. With only one dispatcher registered, tracing-core
/// caches each callsite's interest from whichever thread reaches it first, so a parallel test could switch
/// an event off for this one. A second dispatcher that lives for the whole process makes every callsite ask
/// the emitting thread's subscriber on each event instead.
pub fn capture_logs() -> (tracing::subscriber::DefaultGuard, impl Fn() -> Vec<serde_json::Value>) {
    static SECOND_DISPATCHER: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
    SECOND_DISPATCHER.get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let filter = tracing_subscriber::EnvFilter::new("info");
    let guard = tracing::subscriber::set_default(ecs_scaler_aws::logging::subscriber(move || writer.clone(), filter));
    let lines = move || {
        let bytes = buffer.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes).lines().filter_map(|line| serde_json::from_str(line).ok()).collect()
    };
    (guard, lines)
}

#[cfg(test)]
mod tests {
    use super::capture_logs;

    fn probe() {
        tracing::info!(probe = 1, "probe");
    }

    #[test]
    fn an_event_first_reached_on_another_thread_is_still_captured_here() {
        let (_guard, lines) = capture_logs();
        std::thread::spawn(probe).join().unwrap();
        probe();
        let probes: Vec<_> = lines().into_iter().filter(|line| line["message"] == "probe").collect();
        assert_eq!(probes.len(), 1, "{probes:?}");
    }
}
