//! Test support for ecs-scaler: an in-memory fake of the AWS traits, the moto-based emulator harness, and
//! seeding helpers shared by the end-to-end tests, the demo and the benchmark.

pub mod emulator;
pub mod fakes;
pub mod lambda;
pub mod seed;

pub use emulator::{Call, Emulator, Fault};
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
pub fn capture_logs() -> (tracing::subscriber::DefaultGuard, impl Fn() -> Vec<serde_json::Value>) {
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
