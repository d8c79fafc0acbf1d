//! Sweep ecs-scaler's thresholds (and the scale-up step) over the built-in scenarios, to see which values meet
//! the targets: instance-hours ≤ 1.15 × oracle, unplaced task-minutes ≤ the original rule's (40/75),
//! no min-healthy violations, no oscillations.
//!
//! `cargo run --release -p ecs-scaler-sim --example sweep [PERCENT...]` (default scale-up step: 25 % of the
//! group, at least 2 instances, as the Terraform module's default).
//! Prints one line per (thresholds, step) with each scenario's ratio / unplaced, and whether all targets hold.

use ecs_scaler_core::ScaleRule;
use ecs_scaler_core::config::Thresholds;
use ecs_scaler_sim::knobs::{Adjustment, SimpleScaling};
use ecs_scaler_sim::{EcsScaler, Knobs, Seed, builtin, simulate};

const SCENARIOS: [&str; 5] = ["diurnal", "spike", "deploy-storm", "blue-green", "fragmentation"];

fn main() -> Result<(), ecs_scaler_sim::SimError> {
    let steps: Vec<i32> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let steps = if steps.is_empty() { vec![25] } else { steps };
    let scenarios: Vec<_> = SCENARIOS.iter().filter_map(|n| builtin::by_name(n)).collect();
    print!("{:<8} {:>4}", "min-max", "step");
    for name in SCENARIOS {
        print!(" | {name:>22}");
    }
    println!(" | targets");
    for step in steps {
        let adjustment = Adjustment::Percent { percent: step, min_instances: 2 };
        let knobs = Knobs { scale_up: SimpleScaling { adjustment, ..Knobs::default().scale_up }, ..Knobs::default() };
        let mut seed_unplaced = Vec::new();
        for scenario in &scenarios {
            let seed = Seed::with_thresholds(Seed::ORIGINAL, Seed::ORIGINAL);
            seed_unplaced.push(simulate(scenario, Box::new(seed), &knobs, &mut |_| {})?.summary.unplaced_task_minutes);
        }
        for min in [50.0, 60.0, 65.0, 70.0, 75.0, 80.0, 85.0] {
            for max in [75.0, 80.0, 85.0, 90.0, 95.0] {
                if min >= max {
                    continue;
                }
                let t = Thresholds { min, max };
                print!("{:<8} {step:>4}", format!("{min}-{max}"));
                let mut all = true;
                for (scenario, seed) in scenarios.iter().zip(&seed_unplaced) {
                    let policy = EcsScaler::with_rule(ScaleRule { cpu: t, memory: t }, &knobs);
                    let s = simulate(scenario, Box::new(policy), &knobs, &mut |_| {})?.summary;
                    let ok = s.ratio <= 1.15
                        && s.unplaced_task_minutes <= *seed
                        && s.min_healthy_violations == 0
                        && s.oscillations == 0;
                    all &= ok;
                    let cell = format!(
                        "{:.2} {:>5}/{:<5} o{}v{}",
                        s.ratio, s.unplaced_task_minutes, seed, s.oscillations, s.min_healthy_violations
                    );
                    print!(" | {cell:>22}");
                }
                println!(" | {}", if all { "ALL MET" } else { "-" });
            }
        }
    }
    Ok(())
}
