//! What consolidation trades: instance-hours against tasks moved. For every built-in scenario, ecs-scaler with
//! "consolidate after" (the low ScaleStatus alarm's evaluation periods, the minutes an instance must stay
//! removable before the scale-in policy acts) at 5, 10 (the module's default), 20 and 30 minutes, and with
//! consolidation off (scale-status's CONSOLIDATE=false; sized scale-out, the termination policy and the event
//! rule stay on); then, at 10 minutes, the headroom consolidation leaves below max (CONSOLIDATE_HEADROOM) at 0,
//! 1, 2.5, 5 (the default) and 10 points, with oscillations, the figure the headroom is for; then the surplus
//! scale-in (the InstancesSurplus alarm and its step policy, removing every instance that can go at once
//! instead of one per window) on and off.
//!
//! `make sweep`, or `cargo run --release -p ecs-scaler-sim --example consolidate_sweep [SCENARIO...]`.
//! Each cell is instance-hours / unplaced task-minutes / tasks moved per day.

use ecs_scaler_sim::{EcsScaler, Knobs, SimError, builtin, simulate};

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

    println!("ecs-scaler: instance-h / unplaced task-min / tasks moved per day\n");
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
            let cell = format!("{:.1} / {} / {:.0}", s.instance_hours, s.unplaced_task_minutes, s.tasks_moved_per_day);
            print!(" | {cell:>22}");
        }
        println!(" |");
    }
    println!("\nconsolidation headroom (after 10 min): instance-h / oscillations / tasks moved per day\n");
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
            let cell = format!("{:.1} / {} / {:.0}", s.instance_hours, s.oscillations, s.tasks_moved_per_day);
            print!(" | {cell:>18}");
        }
        println!(" |");
    }
    println!(
        "\nsurplus scale-in (after 10 min, headroom 5): instance-h / unplaced task-min / oscillations / tasks moved"
    );
    println!("per day, and what surplus scale-in changes in instance-hours\n");
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
                "{:.1} / {} / {} / {:.0}",
                s.instance_hours, s.unplaced_task_minutes, s.oscillations, s.tasks_moved_per_day
            );
            print!(" | {cell:>26}");
        }
        println!(" | {:>12} |", format!("{:+.1}", hours[0] - hours[1]));
    }
    Ok(())
}
