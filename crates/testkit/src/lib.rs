//! Test support for ecs-scaler: an in-memory fake of the AWS traits, and (see `emulator`) the moto-based
//! emulator harness used by the end-to-end tests, the demo and the benchmark.

pub mod fakes;

pub use fakes::FakeCloud;
