//! Invariants of the simulated world, for any scenario, policy and drain-hook setting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ecs_scaler_core::Scheduling;
use ecs_scaler_sim::scenario::{
    Change, Constraint, Event, InstanceType, NetworkMode, PortSpec, Protocol, ServiceSpec, Unavailable, default_zones,
};
use ecs_scaler_sim::{Knobs, Minute, Scenario, Simulation, policy};
use proptest::prelude::*;

const MINUTES: u32 = 90;

/// A service of one of the shapes the scheduler treats differently: plain bridge, awsvpc, a static TCP or UDP
/// host port, host mode, distinctInstance, pinned to a zone by memberOf, a GPU.
fn service(i: usize, (cpu, memory): (u32, u32), desired: u32, min_healthy_percent: i32, kind: u8) -> ServiceSpec {
    let base = ServiceSpec { min_healthy_percent, ..ServiceSpec::replica(&format!("s{i}"), cpu, memory, desired) };
    let port = |protocol| PortSpec { container_port: 80, host_port: Some(8000 + i as u16 % 2), protocol };
    match kind {
        1 => ServiceSpec { network_mode: NetworkMode::Awsvpc, ..base },
        2 => ServiceSpec { ports: vec![port(Protocol::Tcp)], ..base },
        3 => ServiceSpec { ports: vec![port(Protocol::Udp)], ..base },
        4 => ServiceSpec {
            network_mode: NetworkMode::Host,
            ports: vec![PortSpec { container_port: 9000, host_port: None, protocol: Protocol::Tcp }],
            ..base
        },
        5 => ServiceSpec { placement_constraints: vec![Constraint::DistinctInstance], ..base },
        6 => ServiceSpec {
            placement_constraints: vec![Constraint::MemberOf {
                expression: "attribute:ecs.availability-zone == sim-1a".into(),
            }],
            ..base
        },
        7 => ServiceSpec { gpus: 1, ..base },
        _ => base,
    }
}

/// Small clusters with a handful of services of every shape whose desired counts jump around, in one to three
/// zones, sometimes with a GPU type the group falls back to in the last zone, sometimes trunked, sometimes a
/// daemon, a colour swap, a bigger instance type half-way.
fn scenarios() -> impl Strategy<Value = Scenario> {
    let services = prop::collection::vec(((64u32..=2048, 128u32..=7168), 0u32..=10, prop::bool::ANY, 0u8..=10), 1..6);
    let changes = prop::collection::vec((1u32..MINUTES, 0usize..6, 0u32..=14), 0..24);
    let world = (1usize..=3, prop::bool::ANY, prop::bool::ANY);
    (services, changes, 1u32..6, prop::option::of(5u32..70), prop::bool::ANY, prop::bool::ANY, world).prop_map(
        |(specs, changes, initial, swap, daemon, bigger, (zones, mixed, trunking))| {
            let mut services: Vec<ServiceSpec> = specs
                .iter()
                .enumerate()
                .map(|(i, (size, desired, half, kind))| {
                    service(i, *size, *desired, if *half { 50 } else { 100 }, *kind)
                })
                .collect();
            let changes = changes
                .into_iter()
                .map(|(minute, i, desired)| Change { minute, service: format!("s{}", i % specs.len()), desired })
                .collect();
            if daemon {
                services.push(ServiceSpec {
                    scheduling: Scheduling::Daemon,
                    min_healthy_percent: 0,
                    ..ServiceSpec::replica("d", 128, 256, 0)
                });
            }
            let mut events = Vec::new();
            if let Some(minute) = swap {
                events.push(Event::ColourSwap { minute, drain_after_minutes: 5 });
            }
            if bigger {
                events.push(Event::InstanceType { minute: MINUTES / 2, instance_type: InstanceType::m5_2xlarge() });
            }
            let zones: Vec<String> = default_zones().into_iter().take(zones).collect();
            // A GPU service needs a GPU type somewhere: the group's second type, launched where the first has no
            // capacity (the last zone), or the only one.
            let gpu = services.iter().any(|s| s.gpus > 0);
            let (instance_type, mixed_instance_types, unavailable) = match (gpu || mixed, zones.len()) {
                (false, _) => (InstanceType::m5_xlarge(), vec![], vec![]),
                (true, 1) => (InstanceType::g4dn_xlarge(), vec![], vec![]),
                (true, n) => (
                    InstanceType::m5_xlarge(),
                    vec![InstanceType::g4dn_xlarge()],
                    vec![Unavailable { zone: zones[n - 1].clone(), instance_type: "m5.xlarge".into() }],
                ),
            };
            Scenario {
                name: "generated".into(),
                minutes: MINUTES,
                instance_type,
                mixed_instance_types,
                zones,
                unavailable,
                awsvpc_trunking: trunking,
                initial_instances: Some(initial),
                min_size: 1,
                max_size: 40,
                services,
                changes,
                events,
                ..Scenario::default()
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

/// What SimCloud reports, read as the core reads it, and the core's model's verdict on every service and ACTIVE
/// instance compared with the world's scheduler's: `Err` names the first disagreement.
fn core_agrees(simulation: &Simulation<'_>) -> Result<(), String> {
    use ecs_scaler_core::placement::Fit;
    use ecs_scaler_core::placement::removal::ClusterView;
    use ecs_scaler_core::ports::{Ec2Api, EcsApi};
    use ecs_scaler_sim::world::placement::refusal;
    use futures::executor::block_on;
    use std::collections::HashMap;

    let cloud = simulation.cloud();
    let instances = block_on(cloud.container_instances("sim")).map_err(|e| e.to_string())?;
    let services = block_on(cloud.services("sim")).map_err(|e| e.to_string())?;
    let mut tasks: HashMap<String, Vec<_>> = instances.iter().map(|i| (i.arn.clone(), Vec::new())).collect();
    for task in block_on(cloud.tasks("sim")).map_err(|e| e.to_string())? {
        tasks.entry(task.container_instance_arn.clone().unwrap_or_default()).or_default().push(task);
    }
    let mut definitions = HashMap::new();
    for service in &services {
        let definition = block_on(cloud.task_definition(&service.task_definition)).map_err(|e| e.to_string())?;
        definitions.insert(service.task_definition.clone(), definition);
    }
    let names: Vec<String> = instances.iter().filter_map(|i| i.instance_type().map(str::to_owned)).collect();
    let types = block_on(cloud.instance_types(&names)).map_err(|e| e.to_string())?;
    let types = types.into_iter().map(|t| (t.name.clone(), t)).collect();
    let view = ClusterView {
        instances: &instances,
        services: &services,
        tasks: &tasks,
        definitions: &definitions,
        types: &types,
    };
    cloud.with(|world| {
        for (s, state) in world.ecs.services.iter().enumerate() {
            let demand = view.service_demand(&services[s]).map_err(|e| e.to_string())?;
            for instance in instances.iter().filter(|i| i.is_active()) {
                let index = world.instances.iter().position(|w| w.arn == instance.arn).ok_or("unknown instance")?;
                let same = state.tasks.iter().filter(|t| t.instance == index).count() as u32;
                let world_says = refusal(&state.needs, &world.instances[index], same);
                let slot = view.slot(instance).ok_or("no slot")?;
                let core_says = slot.fit(&demand);
                if world_says.is_none() != (core_says == Fit::Fits) {
                    return Err(format!(
                        "{} on {}: world {world_says:?}, core {core_says:?}",
                        state.spec.name, instance.arn
                    ));
                }
            }
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// The world's scheduler and the core's placement model, on what SimCloud reports, agree on what fits where
    /// every quarter of an hour of every run: they are separate models of the same ECS.
    #[test]
    fn the_world_and_the_core_s_model_agree_on_every_instance(scenario in scenarios()) {
        let knobs = Knobs { warmup_minutes: 20, ..Knobs::default() };
        let mut simulation =
            Simulation::new(&scenario, policy::by_name("ecs-scaler", &knobs).unwrap(), knobs.clone()).unwrap();
        while !simulation.finished() {
            let minute = simulation.step().map(|m| m.minute);
            if minute.is_some_and(|m| m % 15 == 0)
                && let Err(disagreement) = core_agrees(&simulation)
            {
                panic!("minute {minute:?}: {disagreement}");
            }
        }
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
