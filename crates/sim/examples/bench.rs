//! Time a 24 h simulation of the `bench` scenario (200 services, 90 to 140 instances) under every policy.
//!
//! `cargo run --release -p ecs-scaler-sim --example bench` (builds only the simulator, not the AWS SDK).
//! Prints one JSON object per policy: {"policy", "wall_seconds", "minutes", "peak_instances"}.

use std::process::ExitCode;

fn main() -> ExitCode {
    match ecs_scaler_sim::bench(&ecs_scaler_sim::Knobs::default()) {
        Ok(timings) => {
            for (policy, elapsed, summary) in timings {
                let line = serde_json::json!({
                    "scenario": "bench",
                    "policy": policy,
                    "wall_seconds": elapsed.as_secs_f64(),
                    "minutes": summary.minutes,
                    "peak_instances": summary.peak_instances,
                });
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("bench: {error}");
            ExitCode::FAILURE
        }
    }
}
