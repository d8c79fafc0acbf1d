//! Invariants of the simulated world, for any scenario, policy and drain-hook setting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ecs_scaler_core::Scheduling;
use ecs_scaler_sim::scenario::{Change, Event, InstanceType, ServiceSpec};
use ecs_scaler_sim::{Knobs, Minute, Scenario, Simulation, policy};
use proptest::prelude::*;

const MINUTES: u32 = 90;

fn service(name: String, (cpu, memory): (u32, u32), desired: u32, min_healthy_percent: i32) -> ServiceSpec {
    ServiceSpec {
        name,
        cpu,
        memory,
        desired,
        min_healthy_percent,
        maximum_percent: 200,
        scheduling: Scheduling::Replica,
    }
}

/// Small clusters with a handful of services whose desired counts jump around, sometimes a daemon, sometimes a
/// colour swap, sometimes a bigger instance type half-way.
fn scenarios() -> impl Strategy<Value = Scenario> {
    let services = prop::collection::vec(((64u32..=2048, 128u32..=7168), 0u32..=10, prop::bool::ANY), 1..6);
    let changes = prop::collection::vec((1u32..MINUTES, 0usize..6, 0u32..=14), 0..24);
    (services, changes, 1u32..6, prop::option::of(5u32..70), prop::bool::ANY, prop::bool::ANY).prop_map(
        |(specs, changes, initial, swap, daemon, bigger)| {
            let mut services: Vec<ServiceSpec> = specs
                .iter()
                .enumerate()
                .map(|(i, (size, desired, half))| {
                    service(format!("s{i}"), *size, *desired, if *half { 50 } else { 100 })
                })
                .collect();
            let changes = changes
                .into_iter()
                .map(|(minute, i, desired)| Change { minute, service: format!("s{}", i % specs.len()), desired })
                .collect();
            if daemon {
                services.push(ServiceSpec { scheduling: Scheduling::Daemon, ..service("d".into(), (128, 256), 0, 0) });
            }
            let mut events = Vec::new();
            if let Some(minute) = swap {
                events.push(Event::ColourSwap { minute, drain_after_minutes: 5 });
            }
            if bigger {
                let instance_type = InstanceType { name: "m5.2xlarge".into(), cpu: 8192, memory: 30720 };
                events.push(Event::InstanceType { minute: MINUTES / 2, instance_type });
            }
            Scenario {
                name: "generated".into(),
                description: String::new(),
                minutes: MINUTES,
                instance_type: InstanceType::m5_xlarge(),
                initial_instances: Some(initial),
                min_size: 1,
                max_size: 40,
                services,
                changes,
                events,
            }
        },
    )
}

/// Step every policy, with and without the drain hook, checking after each minute (the warm-up included).
fn check_every_minute(scenario: &Scenario, check: impl Fn(&Simulation<'_>, Option<&Minute>) -> Result<(), String>) {
    for hook in [true, false] {
        let knobs = Knobs { drain_hook: hook, warmup_minutes: 20, ..Knobs::default() };
        for name in policy::NAMES {
            let mut simulation =
                Simulation::new(scenario, policy::by_name(name, &knobs).unwrap(), knobs.clone()).unwrap();
            while !simulation.finished() {
                let minute = simulation.step().cloned();
                if let Err(broken) = check(&simulation, minute.as_ref()) {
                    panic!("{name} (drain hook {hook}) at minute {:?}: {broken}", minute.map(|m| m.minute));
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// No instance ever holds more CPU or memory than it registers, and every task started is running, stopped
    /// by the scheduler, or killed with its instance: none appear or vanish.
    #[test]
    fn placement_never_exceeds_capacity_and_tasks_are_conserved(scenario in scenarios()) {
        check_every_minute(&scenario, |simulation, _| simulation.audit());
    }

    /// The oracle bound is at most the registered instances of every policy at every minute in which all desired
    /// tasks are placed, and the bound over the tasks actually placed never exceeds them.
    #[test]
    fn the_oracle_bound_never_exceeds_any_policys_instances(scenario in scenarios()) {
        check_every_minute(&scenario, |simulation, minute| {
            if let Some(minute) = minute.filter(|m| m.shortfall == 0 && m.oracle > m.registered) {
                return Err(format!("oracle {} > {} registered with every task placed", minute.oracle, minute.registered));
            }
            let placed = simulation.placed_bound();
            let registered = simulation.registered_instances();
            if placed > registered {
                return Err(format!("bound over placed tasks {placed} > {registered} registered"));
            }
            Ok(())
        });
    }
}

#[test]
fn a_warm_started_cluster_passes_the_same_checks() {
    let scenario = ecs_scaler_sim::builtin::by_name("blue-green").unwrap();
    let knobs = Knobs::default();
    let simulation = Simulation::new(&scenario, policy::by_name("ecs-scaler", &knobs).unwrap(), knobs).unwrap();
    simulation.audit().unwrap();
    assert!(simulation.placed_bound() <= simulation.registered_instances());
}
