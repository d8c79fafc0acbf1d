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
