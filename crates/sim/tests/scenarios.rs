//! What the built-in scenarios must show about the policies. Each compares runs of the real rule from
//! `ecs-scaler-core` with the original rule, or with itself without the drain hook.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ecs_scaler_sim::{Knobs, Run, Scenario, builtin, policy, simulate};

fn run(scenario: &Scenario, policy: &str, knobs: &Knobs) -> Run {
    simulate(scenario, policy::by_name(policy, knobs).unwrap(), knobs, &mut |_| {}).unwrap()
}

fn scenario(name: &str) -> Scenario {
    builtin::by_name(name).unwrap()
}

#[test]
fn the_blue_green_swap_keeps_every_service_at_its_minimum_with_the_drain_hook() {
    let swap = scenario("blue-green");
    let with_hook = run(&swap, "ecs-scaler", &Knobs::default());
    assert_eq!(with_hook.summary.min_healthy_violations, 0, "{:?}", with_hook.summary);
    assert_eq!(
        with_hook.summary.tasks_killed, 0,
        "only daemons may die with a drained instance: {:?}",
        with_hook.tally
    );
    // The whole old colour went, each instance released by the drain verdict rather than a timeout.
    let old_colour = with_hook.timeline[89].registered;
    assert!(with_hook.tally.drains_completed >= old_colour, "{old_colour} instances: {:?}", with_hook.tally);
    assert_eq!(with_hook.summary.drain_timeouts, 0);
    assert_eq!(with_hook.timeline.last().unwrap().draining, 0);
}

#[test]
fn without_the_drain_hook_the_same_swap_drops_services_below_their_minimum() {
    let swap = scenario("blue-green");
    let without = run(&swap, "ecs-scaler", &Knobs { drain_hook: false, ..Knobs::default() });
    assert!(without.summary.min_healthy_violations > 0, "{:?}", without.summary);
    assert!(without.summary.tasks_killed > 0);
}

#[test]
fn on_the_spike_ecs_scaler_places_every_task_no_later_than_seed() {
    let spike = scenario("spike");
    let knobs = Knobs::default();
    let (real, seed) = (run(&spike, "ecs-scaler", &knobs), run(&spike, "seed", &knobs));
    let placed = |r: &Run| r.summary.worst_spike().expect("the scenario has a spike").expect("placed before the end");
    assert!(placed(&real) <= placed(&seed), "ecs-scaler {} min, seed {} min", placed(&real), placed(&seed));
    assert!(real.summary.unplaced_task_minutes <= seed.summary.unplaced_task_minutes);
}

#[test]
fn on_the_diurnal_day_ecs_scaler_oscillates_no_more_than_seed() {
    let knobs = Knobs::default();
    for name in ["diurnal", "diurnal-small"] {
        let day = scenario(name);
        let (real, seed) = (run(&day, "ecs-scaler", &knobs), run(&day, "seed", &knobs));
        assert!(
            real.summary.oscillations <= seed.summary.oscillations,
            "{name}: ecs-scaler {} oscillations, seed {}",
            real.summary.oscillations,
            seed.summary.oscillations
        );
        assert_eq!(real.summary.min_healthy_violations, 0, "{name}");
    }
}

/// At the default 60/85 the guard can only refuse a scale-down on 3 instances or fewer (60 × 3/2 = 90), so on
/// the 40-service day the two rules publish the same; the small cluster's night is where it must bite.
#[test]
fn on_a_small_cluster_the_scale_down_guard_saves_capacity_changes_seed_makes() {
    let day = scenario("diurnal-small");
    let knobs = Knobs::default();
    let (real, seed) = (run(&day, "ecs-scaler", &knobs), run(&day, "seed", &knobs));
    let changes = |r: &Run| r.summary.scale_ups + r.summary.scale_downs;
    assert!(changes(&real) < changes(&seed), "ecs-scaler {:?}, seed {:?}", real.summary, seed.summary);
    assert!(real.summary.scale_downs < seed.summary.scale_downs);
    assert!(real.summary.unplaced_task_minutes <= seed.summary.unplaced_task_minutes);
}

#[test]
fn on_fragmentation_the_placement_signal_scales_up_where_seed_does_not() {
    let fragmented = scenario("fragmentation");
    let knobs = Knobs::default();
    let (real, seed) = (run(&fragmented, "ecs-scaler", &knobs), run(&fragmented, "seed", &knobs));
    assert!(real.summary.scale_ups > 0, "{:?}", real.summary);
    assert_eq!(real.timeline.last().unwrap().shortfall, 0, "every batch task placed by the end");
    assert_eq!(seed.summary.scale_ups, 0, "{:?}", seed.summary);
    assert_eq!(seed.timeline.last().unwrap().shortfall, 4, "the four batch tasks never placed");
    // Reservation alone never asked for more: memory stayed between the thresholds.
    let memory = real.timeline[25].memory_reservation.unwrap();
    assert!((60.0..85.0).contains(&memory), "memory reservation {memory}");
}

#[test]
fn every_builtin_scenario_replays_the_same_figures_twice() {
    let knobs = Knobs::default();
    for (name, _) in builtin::NAMES.iter().filter(|(n, _)| *n != "bench") {
        let s = scenario(name);
        assert_eq!(run(&s, "ecs-scaler", &knobs).summary, run(&s, "ecs-scaler", &knobs).summary, "{name}");
    }
}

#[test]
fn the_shipped_csv_trace_runs_under_every_policy() {
    let trace = Scenario::from_csv(include_str!("../scenarios/example.csv")).unwrap();
    let knobs = Knobs::default();
    for name in policy::NAMES {
        let result = run(&trace, name, &knobs);
        assert_eq!(result.timeline.len(), 120);
        assert_eq!(result.summary.min_healthy_violations, 0, "{name}: {:?}", result.summary);
    }
}
