//! What consolidation trades: instance-hours against tasks moved. For every built-in scenario, ecs-scaler with
//! "consolidate after" (the low ScaleStatus alarm's evaluation periods, the minutes an instance must stay
//! removable before the scale-in policy acts) at 5, 10 (the module's default), 20 and 30 minutes, and with
//! consolidation off (scale-status's CONSOLIDATE=false; sized scale-out, the termination policy and the event
//! rule stay on); then, at 10 minutes, the headroom consolidation leaves below max (CONSOLIDATE_HEADROOM) at 0,
//! 1, 2.5, 5 (the default) and 10 points, with oscillations, the figure the headroom is for; then the surplus
//! scale-in (the InstancesSurplus alarm and its step policy, removing every instance that can go at once
//! instead of one per window) on and off; then the disruption budget at its default (10 % of the ACTIVE
//! instances) against none (100 %); then scale-status remembering verdicts between ticks (as the warm Lambda
//! does) against reading every tick from scratch, for the reaction it must not cost.
//!
//! `make sweep`, or `cargo run --release -p ecs-scaler-sim --example consolidate_sweep [SCENARIO...]`.
//! Each cell is instance-hours / unplaced task-minutes / tasks moved over the scenario's run (not per day:
//! the scenarios run 2 to 24 hours).

use ecs_scaler_core::config::disruption::Budget;
use ecs_scaler_sim::{EcsScaler, Knobs, SimError, Summary, builtin, simulate};

fn main() -> Result<(), SimError> {
    let chosen: Vec<String> = std::env::args().skip(1).collect();
    let names: Vec<&str> = builtin::NAMES
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| *name != "bench")
        .filter(|name| chosen.is_empty() || chosen.iter().any(|c| c == name))
        .collect();
    let settings: Vec<(String, Knobs)> = [5, 10, 20, 30]
        .into_iter()
        .map(|after| {
            let defaults = Knobs::default();
            let alarm_low = ecs_scaler_sim::knobs::AlarmSpec { evaluation_periods: after, ..defaults.alarm_low };
            (format!("after {after} min"), Knobs { alarm_low, ..defaults })
        })
        .chain(std::iter::once(("consolidation off".to_owned(), Knobs { consolidate: false, ..Knobs::default() })))
        .collect();

    println!("ecs-scaler: instance-h / unplaced task-min / tasks moved in the run\n");
    print!("| {:<17}", "scenario");
    for (label, _) in &settings {
        print!(" | {label:>22}");
    }
    println!(" |");
    print!("|{}", "-".repeat(19));
    for _ in &settings {
        print!("|{}:", "-".repeat(23));
    }
    println!("|");
    for name in names {
        let Some(scenario) = builtin::by_name(name) else { continue };
        print!("| {name:<17}");
        for (_, knobs) in &settings {
            let s = simulate(&scenario, Box::new(EcsScaler::new(knobs)), knobs, &mut |_| {})?.summary;
            let cell = format!("{:.1} / {} / {}", s.instance_hours, s.unplaced_task_minutes, s.tasks_moved);
            print!(" | {cell:>22}");
        }
        println!(" |");
    }
    println!("\nconsolidation headroom (after 10 min): instance-h / oscillations / tasks moved in the run\n");
    let headrooms = [0.0, 1.0, 2.5, 5.0, 10.0];
    print!("| {:<17}", "scenario");
    for headroom in headrooms {
        print!(" | {:>18}", format!("headroom {headroom}"));
    }
    println!(" |");
    print!("|{}", "-".repeat(19));
    for _ in headrooms {
        print!("|{}:", "-".repeat(19));
    }
    println!("|");
    for name in builtin::NAMES.iter().map(|(name, _)| *name).filter(|name| *name != "bench") {
        if !chosen.is_empty() && !chosen.iter().any(|c| c == name) {
            continue;
        }
        let Some(scenario) = builtin::by_name(name) else { continue };
        print!("| {name:<17}");
        for headroom in headrooms {
            let knobs = Knobs { consolidate_headroom: headroom, ..Knobs::default() };
            let s = simulate(&scenario, Box::new(EcsScaler::new(&knobs)), &knobs, &mut |_| {})?.summary;
            let cell = format!("{:.1} / {} / {}", s.instance_hours, s.oscillations, s.tasks_moved);
            print!(" | {cell:>18}");
        }
        println!(" |");
    }
    println!(
        "\nsurplus scale-in (after 10 min, headroom 5): instance-h / unplaced task-min / oscillations / tasks moved"
    );
    println!("in the run, and what surplus scale-in changes in instance-hours\n");
    let surplus = [("surplus on", true), ("surplus off", false)];
    print!("| {:<17}", "scenario");
    for (label, _) in surplus {
        print!(" | {label:>26}");
    }
    println!(" | {:>12} |", "Δ instance-h");
    print!("|{}", "-".repeat(19));
    for _ in surplus {
        print!("|{}:", "-".repeat(27));
    }
    println!("|{}:|", "-".repeat(13));
    for name in builtin::NAMES.iter().map(|(name, _)| *name).filter(|name| *name != "bench") {
        if !chosen.is_empty() && !chosen.iter().any(|c| c == name) {
            continue;
        }
        let Some(scenario) = builtin::by_name(name) else { continue };
        print!("| {name:<17}");
        let mut hours = Vec::new();
        for (_, on) in surplus {
            let knobs = Knobs { surplus_scale_in: on, ..Knobs::default() };
            let s = simulate(&scenario, Box::new(EcsScaler::new(&knobs)), &knobs, &mut |_| {})?.summary;
            hours.push(s.instance_hours);
            let cell = format!(
                "{:.1} / {} / {} / {}",
                s.instance_hours, s.unplaced_task_minutes, s.oscillations, s.tasks_moved
            );
            print!(" | {cell:>26}");
        }
        println!(" | {:>12} |", format!("{:+.1}", hours[0] - hours[1]));
    }

    let scenarios: Vec<&str> = builtin::NAMES
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| *name != "bench" && (chosen.is_empty() || chosen.iter().any(|c| c == name)))
        .collect();
    section(
        "disruption budget (DISRUPTION_BUDGET): instance-h / most instances with tasks draining at once / \
         min-healthy violations",
        &scenarios,
        &[
            ("default budget (10%)", Knobs::default()),
            ("no budget (100%)", Knobs { disruption_budget: Some(Budget::Percent(100.0)), ..Knobs::default() }),
        ],
        |s| format!("{:.1} / {} / {}", s.instance_hours, s.max_draining_with_tasks, s.min_healthy_violations),
    )?;
    section(
        "what the warm process remembers (resync 600 s) against reading every tick from scratch: slowest spike \
         placed (min) / instance-h / service reads per min / cluster resource reads per min",
        &scenarios,
        &[("remembering", Knobs::default()), ("from scratch", Knobs { memory: false, ..Knobs::default() })],
        |s| {
            let spike = s.worst_spike().map_or("-".to_owned(), |m| m.map_or("never".to_owned(), |m| m.to_string()));
            format!(
                "{spike} / {:.1} / {:.1} / {:.1}",
                s.instance_hours, s.ecs_calls.per_minute.service_read, s.ecs_calls.per_minute.cluster_resource_read
            )
        },
    )?;
    Ok(())
}

/// One table: a row per scenario, a column per setting, each cell what `cell` makes of ecs-scaler's run.
fn section(
    title: &str,
    scenarios: &[&str],
    settings: &[(&str, Knobs)],
    cell: impl Fn(&Summary) -> String,
) -> Result<(), SimError> {
    println!("\n{title}\n");
    print!("| {:<17}", "scenario");
    for (label, _) in settings {
        print!(" | {label:>26}");
    }
    println!(" |");
    print!("|{}", "-".repeat(19));
    for _ in settings {
        print!("|{}:", "-".repeat(27));
    }
    println!("|");
    for name in scenarios {
        let Some(scenario) = builtin::by_name(name) else { continue };
        print!("| {name:<17}");
        for (_, knobs) in settings {
            let s = simulate(&scenario, Box::new(EcsScaler::new(knobs)), knobs, &mut |_| {})?.summary;
            print!(" | {:>26}", cell(&s));
        }
        println!(" |");
    }
    Ok(())
}
