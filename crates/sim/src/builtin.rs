//! The built-in scenarios, generated in code so their shape is documented where it is made. Every one is
//! deterministic (a fixed-seed generator), in three Availability Zones, on m5.xlarge-sized instances (4096 CPU
//! units, 15360 MiB) with a 128-unit / 256 MiB log daemon, services in bridge mode with dynamic host ports and
//! ECS's default strategy (spread across zones, binpack on memory), unless said otherwise.
//!
//! The placement scenarios (`awsvpc`, `static-ports`, `distinct-instance`, `gpu`, `member-of`, `mixed-zones`)
//! each make one dimension of placement bind where CPU and memory alone would say there is room: their tasks
//! "fit" by CPU and memory, and the cluster's reservations stay low, but ENIs, host ports, `distinctInstance`,
//! GPUs, `memberOf` or the instance type a zone gets decide how many instances they need.
//!
//! `ecs-scaler simulate --scenario NAME --export FILE` writes any of them as JSON, a starting point for your
//! own.

use std::collections::BTreeMap;

use ecs_scaler_core::Scheduling;

use crate::scenario::{
    Change, Constraint, Event, InstanceType, NetworkMode, PortSpec, Protocol, Scenario, ServiceSpec, Strategy,
    Unavailable, ZONE_FIELD,
};

/// Name and one-line description of every built-in scenario.
pub const NAMES: [(&str, &str); 16] = [
    ("diurnal", "24 h of 40 services following a day/night curve (×0.3 at 03:00 to ×1 at 15:00), 5-minute noise"),
    (
        "diurnal-small",
        "the same day on a small cluster: 10 services, 2 to 6 instances, where the scale-down guard bites",
    ),
    ("spike", "30 steady services double their desired count at minute 60 for 90 minutes"),
    ("deploy-storm", "60 services; 40 of them deploy at once at minute 60 (desired doubles for 10 minutes)"),
    (
        "blue-green",
        "50 services under a moving load; blue/green colour swap at minute 90, old colour drained 10 min later",
    ),
    (
        "blue-green-paused",
        "the blue-green load with the swap paused: green comes up at minute 90, blue is torn down 30 minutes later",
    ),
    (
        "do-not-disrupt",
        "40 services shrink to a third at minute 60; three singletons tagged ecs-scaler:do-not-disrupt=true (a \
         warm cache, a long job, a leader) must never be moved",
    ),
    (
        "budget",
        "16 services spread over zones and instances fall to half at once at minute 60: every instance keeps a few \
         tasks, and the surplus is far more than the disruption budget lets drain at once",
    ),
    ("fragmentation", "large tasks that fit by total reservation (63 %) but on no single instance"),
    (
        "awsvpc",
        "awsvpc services on m5.large without ENI trunking: 2 tasks per instance where CPU and memory take 7; load \
         doubles at minute 60 for 90 minutes",
    ),
    (
        "static-ports",
        "static host ports (bridge tcp/8080, host-mode 9100, tcp/53 beside udp/53): one task per port per instance; \
         load doubles at minute 60 for 90 minutes",
    ),
    (
        "distinct-instance",
        "a distinctInstance service (one task per instance) among small services; it goes from 6 to 14 tasks at \
         minute 60 for 90 minutes",
    ),
    (
        "gpu",
        "1-GPU inference tasks on g4dn.xlarge: one per instance where CPU and memory take three; they go from 4 to \
         10 at minute 60 for 90 minutes",
    ),
    (
        "member-of",
        "a cluster moving from m5.xlarge to m5.2xlarge: a service pinned to the new type by memberOf, another to a \
         custom attribute only the new launch template sets",
    ),
    (
        "mixed-zones",
        "mixed instances (m5.large, then m5.xlarge) with no m5.large capacity in one zone: report tasks too large \
         for an m5.large fit only that zone's instances; they go from 3 to 9 at minute 60 for 90 minutes",
    ),
    ("bench", "24 h diurnal day of 200 services on 90 to 140 instances, for timing"),
];

/// The one-line description of a built-in scenario.
fn description(name: &str) -> &'static str {
    NAMES.iter().find(|(n, _)| *n == name).map_or("", |(_, description)| description)
}

pub fn by_name(name: &str) -> Option<Scenario> {
    match name {
        "diurnal" => Some(diurnal()),
        "diurnal-small" => Some(diurnal_small()),
        "spike" => Some(spike()),
        "deploy-storm" => Some(deploy_storm()),
        "blue-green" => Some(blue_green()),
        "blue-green-paused" => Some(blue_green_paused()),
        "do-not-disrupt" => Some(do_not_disrupt()),
        "budget" => Some(budget()),
        "fragmentation" => Some(fragmentation()),
        "awsvpc" => Some(awsvpc()),
        "static-ports" => Some(static_ports()),
        "distinct-instance" => Some(distinct_instance()),
        "gpu" => Some(gpu()),
        "member-of" => Some(member_of()),
        "mixed-zones" => Some(mixed_zones()),
        "bench" => Some(bench()),
        _ => None,
    }
}

/// splitmix64: small, fixed, good enough to vary service sizes and noise reproducibly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `low..=high`.
    fn between(&mut self, low: u32, high: u32) -> u32 {
        low + (self.next() % u64::from(high - low + 1)) as u32
    }

    /// Uniform in [-1, 1].
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}

/// Task sizes (CPU units, MiB) the generated services cycle through: small, medium, large, memory-heavy.
const SIZES: [(u32, u32); 4] = [(256, 512), (512, 1024), (1024, 2048), (512, 3072)];

fn logs_daemon() -> ServiceSpec {
    ServiceSpec {
        min_healthy_percent: 0,
        maximum_percent: 100,
        scheduling: Scheduling::Daemon,
        ..ServiceSpec::replica("logs", 128, 256, 0)
    }
}

fn replica(name: String, (cpu, memory): (u32, u32), desired: u32, min_healthy_percent: i32) -> ServiceSpec {
    ServiceSpec { min_healthy_percent, ..ServiceSpec::replica(&name, cpu, memory, desired) }
}

/// Change points for `service` from a desired-count function evaluated every `every` minutes.
fn sample(service: &str, minutes: u32, every: u32, mut desired: impl FnMut(u32) -> u32) -> (u32, Vec<Change>) {
    let first = desired(0);
    let mut last = first;
    let mut changes = Vec::new();
    for minute in (every..minutes).step_by(every as usize) {
        let value = desired(minute);
        if value != last {
            changes.push(Change { minute, service: service.to_owned(), desired: value });
            last = value;
        }
    }
    (first, changes)
}

/// Load over the day: 0.3 at 03:00, 1.0 at 15:00.
fn day_curve(minute: u32, low: f64) -> f64 {
    let phase = (f64::from(minute) - 180.0) / 1440.0 * std::f64::consts::TAU;
    low + (1.0 - low) * (1.0 - phase.cos()) / 2.0
}

/// A cluster of m5.xlarge instances, 2 to 300 of them, running these services through these changes (sorted here
/// by minute) and events.
fn m5_xlarge_cluster(
    name: &str,
    minutes: u32,
    services: Vec<ServiceSpec>,
    mut changes: Vec<Change>,
    events: Vec<Event>,
) -> Scenario {
    changes.sort_by_key(|c| c.minute);
    Scenario {
        name: name.into(),
        description: description(name).into(),
        minutes,
        instance_type: InstanceType::m5_xlarge(),
        initial_instances: None,
        min_size: 2,
        max_size: 300,
        services,
        changes,
        events,
        ..Scenario::default()
    }
}

fn diurnal_cluster(name: &str, services: usize, peak: (u32, u32), low: f64, seed: u64) -> Scenario {
    let minutes = 1440;
    let mut rng = Rng(seed);
    let mut specs = vec![logs_daemon()];
    let mut changes = Vec::new();
    for i in 0..services {
        let name = format!("svc-{i:03}");
        let top = rng.between(peak.0, peak.1);
        let min_healthy = if i % 5 == 4 { 50 } else { 100 };
        // Service auto scaling moves desired at most every 5 minutes; ±8 % noise around the curve.
        let mut noise = Rng(seed ^ (i as u64 + 1).wrapping_mul(0xA076_1D64_78BD_642F));
        let (first, mut points) = sample(&name, minutes, 5, |minute| {
            let wobble = 1.0 + 0.08 * noise.unit();
            (f64::from(top) * day_curve(minute, low) * wobble).round().max(1.0) as u32
        });
        changes.append(&mut points);
        specs.push(replica(name, SIZES[i % SIZES.len()], first, min_healthy));
    }
    m5_xlarge_cluster(name, minutes, specs, changes, vec![])
}

/// A day: 40 services whose desired counts follow the day curve.
pub fn diurnal() -> Scenario {
    diurnal_cluster("diurnal", 40, (4, 15), 0.3, 0xD1A7)
}

/// The same day on a cluster small enough that removing one instance moves the reservation a lot (at 60/85,
/// 3 instances at 60 % are 90 % on 2): the case the scale-down guard exists for.
pub fn diurnal_small() -> Scenario {
    diurnal_cluster("diurnal-small", 10, (2, 6), 0.3, 0x5A11)
}

/// Steady services that double at once, hold, and come back.
pub fn spike() -> Scenario {
    let minutes = 240;
    let mut rng = Rng(0x5B1C);
    let mut specs = vec![logs_daemon()];
    let mut changes = Vec::new();
    for i in 0..30 {
        let name = format!("svc-{i:02}");
        let base = rng.between(3, 8);
        changes.push(Change { minute: 60, service: name.clone(), desired: base * 2 });
        changes.push(Change { minute: 150, service: name.clone(), desired: base });
        specs.push(replica(name, SIZES[i % SIZES.len()], base, 100));
    }
    m5_xlarge_cluster("spike", minutes, specs, changes, vec![])
}

/// Many services deploying at once: during a rolling deploy with maximumPercent 200 each briefly runs twice.
pub fn deploy_storm() -> Scenario {
    let minutes = 180;
    let mut rng = Rng(0xDE95);
    let mut specs = vec![logs_daemon()];
    let mut changes = Vec::new();
    for i in 0..60 {
        let name = format!("svc-{i:02}");
        let base = rng.between(2, 7);
        if i % 3 != 2 {
            changes.push(Change { minute: 60, service: name.clone(), desired: base * 2 });
            changes.push(Change { minute: 70, service: name.clone(), desired: base });
        }
        specs.push(replica(name, SIZES[i % SIZES.len()], base, 100));
    }
    m5_xlarge_cluster("deploy-storm", minutes, specs, changes, vec![])
}

/// A blue/green swap of the whole cluster while 50 services move with a slow wave.
pub fn blue_green() -> Scenario {
    let minutes = 240;
    let mut rng = Rng(0xB1E6);
    let mut specs = vec![logs_daemon()];
    let mut changes = Vec::new();
    for i in 0..50 {
        let name = format!("svc-{i:02}");
        let top = rng.between(4, 10);
        let offset = f64::from(rng.between(0, 60));
        let (first, mut points) = sample(&name, minutes, 5, |minute| {
            let wave = 0.85 + 0.15 * ((f64::from(minute) + offset) / 240.0 * std::f64::consts::TAU).sin();
            (f64::from(top) * wave).round().max(1.0) as u32
        });
        changes.append(&mut points);
        specs.push(replica(name, SIZES[i % SIZES.len()], first, 100));
    }
    m5_xlarge_cluster(
        "blue-green",
        minutes,
        specs,
        changes,
        vec![Event::ColourSwap { minute: 90, drain_after_minutes: 10 }],
    )
}

/// The blue-green scenario with the operator pausing between the two steps of a swap: green is scaled up at
/// minute 90 and blue torn down only at minute 120. While both colours serve, nothing may be removed from either.
pub fn blue_green_paused() -> Scenario {
    Scenario {
        name: "blue-green-paused".into(),
        description: description("blue-green-paused").into(),
        events: vec![Event::ColourSwap { minute: 90, drain_after_minutes: 30 }],
        ..blue_green()
    }
}

/// A cluster that shrinks: 40 services fall to a third of their load at minute 60, so consolidation and the
/// surplus batch remove instances for an hour. Three singletons (one task each, small, min healthy 0 as a
/// singleton's would be) are tagged `ecs-scaler:do-not-disrupt=true`: whichever instances they landed on stay.
pub fn do_not_disrupt() -> Scenario {
    let minutes = 180;
    let mut rng = Rng(0xD0D1);
    let mut specs = vec![logs_daemon()];
    let mut changes = Vec::new();
    for i in 0..40 {
        let name = format!("svc-{i:02}");
        let base = rng.between(4, 9);
        changes.push(Change { minute: 60, service: name.clone(), desired: (base / 3).max(1) });
        specs.push(replica(name, SIZES[i % SIZES.len()], base, 100));
    }
    for name in ["warm-cache", "long-job", "leader"] {
        let mut singleton = replica(name.into(), (256, 1024), 1, 0);
        singleton.tags.insert(ecs_scaler_core::config::TAG_DO_NOT_DISRUPT.into(), "true".into());
        specs.push(singleton);
    }
    m5_xlarge_cluster("do-not-disrupt", minutes, specs, changes, vec![])
}

/// A surplus far beyond the disruption budget: 16 services spread over zones and instances fall to half their
/// load at once, and stay there. Most instances become removable in the same minute; the budget (10 % of the ACTIVE instances by
/// default) decides how many of those with tasks drain at once.
pub fn budget() -> Scenario {
    let minutes = 180;
    let mut rng = Rng(0xB0D6);
    let mut specs = vec![logs_daemon()];
    let mut changes = Vec::new();
    for i in 0..16 {
        let name = format!("svc-{i:02}");
        let base = rng.between(6, 12);
        changes.push(Change { minute: 60, service: name.clone(), desired: base / 2 });
        // Spread over zones, then over instances: a common choice for availability, and why a shrinking
        // cluster keeps a few tasks on every instance rather than emptying some.
        let placement_strategy =
            vec![Strategy::Spread { field: ZONE_FIELD.into() }, Strategy::Spread { field: "instanceId".into() }];
        specs.push(ServiceSpec { placement_strategy, ..replica(name, SIZES[i % SIZES.len()], base, 100) });
    }
    m5_xlarge_cluster("budget", minutes, specs, changes, vec![])
}

/// Ten instances each hold one 9.5 GiB task, leaving 5.5 GiB free on each (55 GiB in all). At minute 20 a
/// service wants four 6 GiB tasks: 24 GiB fits the cluster's free total, but no single instance. Memory
/// reservation stays at 63 %, between every policy's thresholds; only the placement signal sees the problem.
pub fn fragmentation() -> Scenario {
    Scenario {
        name: "fragmentation".into(),
        description: description("fragmentation").into(),
        minutes: 120,
        instance_type: InstanceType::m5_xlarge(),
        initial_instances: Some(10),
        min_size: 1,
        max_size: 30,
        services: vec![replica("filler".into(), (1024, 9728), 10, 100), replica("batch".into(), (1024, 6144), 0, 100)],
        changes: vec![Change { minute: 20, service: "batch".into(), desired: 4 }],
        events: vec![],
        ..Scenario::default()
    }
}

/// A desired count that goes to `to` at minute 60 and back to `back` at minute 150.
fn step(service: &str, to: u32, back: u32) -> Vec<Change> {
    vec![
        Change { minute: 60, service: service.to_owned(), desired: to },
        Change { minute: 150, service: service.to_owned(), desired: back },
    ]
}

/// A desired count that doubles at minute 60 and comes back at minute 150.
fn doubles(service: &ServiceSpec, changes: &mut Vec<Change>) {
    changes.extend(step(&service.name, service.desired * 2, service.desired));
}

/// Four hours of these services and changes on a group of `instance_type`, 2 to 100 instances.
fn placement_scenario(
    name: &str,
    instance_type: InstanceType,
    services: Vec<ServiceSpec>,
    mut changes: Vec<Change>,
) -> Scenario {
    changes.sort_by_key(|c| c.minute);
    Scenario {
        name: name.into(),
        description: description(name).into(),
        minutes: 240,
        instance_type,
        min_size: 2,
        max_size: 100,
        services,
        changes,
        ..Scenario::default()
    }
}

/// Eight awsvpc services of small tasks (256 CPU units, 512 MiB) and four bridge services on m5.large without
/// ENI trunking. An m5.large has 3 ENIs, the primary one taken: 2 awsvpc tasks each, where its CPU and memory
/// would hold 7 of them. The reservations stay near or below the min thresholds (CPU about 55 %, memory about
/// 35 %): a rule on CPU and memory alone removes the instances the awsvpc tasks need.
pub fn awsvpc() -> Scenario {
    let mut rng = Rng(0xA75C);
    let mut services = vec![logs_daemon()];
    let mut changes = Vec::new();
    for i in 0..8 {
        let task = ServiceSpec {
            network_mode: NetworkMode::Awsvpc,
            ..ServiceSpec::replica(&format!("task-{i}"), 256, 512, rng.between(2, 5))
        };
        doubles(&task, &mut changes);
        services.push(task);
    }
    for i in 0..4 {
        let port = PortSpec { container_port: 8080, host_port: None, protocol: Protocol::Tcp };
        let web = ServiceSpec {
            ports: vec![port],
            ..ServiceSpec::replica(&format!("web-{i}"), 512, 1024, rng.between(3, 5))
        };
        services.push(web);
    }
    placement_scenario("awsvpc", InstanceType::m5_large(), services, changes)
}

/// Services holding static host ports on m5.xlarge: `web` (bridge, host port 8080/tcp), `node-exporter` (host
/// mode, 9100/tcp), `dns-tcp` and `dns-udp` (53/tcp and 53/udp: different ports to ECS, so one of each fits an
/// instance), and `api` with dynamic ports (host port 0), which never clash. Every static-port service needs
/// one instance per task, where CPU and memory would put four of them on one.
pub fn static_ports() -> Scenario {
    let port =
        |container, host: Option<u16>, protocol| PortSpec { container_port: container, host_port: host, protocol };
    let web =
        ServiceSpec { ports: vec![port(80, Some(8080), Protocol::Tcp)], ..ServiceSpec::replica("web", 512, 1024, 6) };
    let exporter = ServiceSpec {
        network_mode: NetworkMode::Host,
        ports: vec![port(9100, None, Protocol::Tcp)],
        ..ServiceSpec::replica("node-exporter", 128, 256, 4)
    };
    let dns_tcp =
        ServiceSpec { ports: vec![port(53, Some(53), Protocol::Tcp)], ..ServiceSpec::replica("dns-tcp", 256, 512, 5) };
    let dns_udp =
        ServiceSpec { ports: vec![port(53, Some(53), Protocol::Udp)], ..ServiceSpec::replica("dns-udp", 256, 512, 5) };
    let api =
        ServiceSpec { ports: vec![port(8080, Some(0), Protocol::Tcp)], ..ServiceSpec::replica("api", 512, 1024, 8) };
    let services = vec![logs_daemon(), web, exporter, dns_tcp, dns_udp, api];
    let mut changes = Vec::new();
    for service in services.iter().skip(1) {
        doubles(service, &mut changes);
    }
    placement_scenario("static-ports", InstanceType::m5_xlarge(), services, changes)
}

/// `coordinator` has `distinctInstance`: each of its small tasks (256/512) on a different instance, 6 of them,
/// then 14 from minute 60 to 150; around it ten services of the usual sizes that fill about 6 instances.
pub fn distinct_instance() -> Scenario {
    let mut rng = Rng(0xD157);
    let coordinator = ServiceSpec {
        placement_constraints: vec![Constraint::DistinctInstance],
        ..ServiceSpec::replica("coordinator", 256, 512, 6)
    };
    let changes = step(&coordinator.name, 14, 6);
    let mut services = vec![logs_daemon(), coordinator];
    for i in 0..10 {
        services.push(replica(format!("svc-{i:02}"), SIZES[i % SIZES.len()], rng.between(3, 7), 100));
    }
    placement_scenario("distinct-instance", InstanceType::m5_xlarge(), services, changes)
}

/// g4dn.xlarge instances (4 vCPU, 16 GiB, one GPU): `inference` tasks need the GPU (1024 CPU units, 4 GiB,
/// 1 GPU), one per instance where CPU and memory would hold three; 4 of them, 10 from minute 60 to 150. Eight
/// CPU-only services fill the room the GPU tasks leave.
pub fn gpu() -> Scenario {
    let mut rng = Rng(0x69B0);
    let inference = ServiceSpec { gpus: 1, ..ServiceSpec::replica("inference", 1024, 4096, 4) };
    let changes = step(&inference.name, 10, 4);
    let mut services = vec![logs_daemon(), inference];
    for i in 0..8 {
        services.push(replica(format!("svc-{i:02}"), SIZES[i % 2], rng.between(2, 5), 100));
    }
    placement_scenario("gpu", InstanceType::g4dn_xlarge(), services, changes)
}

/// A cluster moving to a new launch template: 8 m5.xlarge instances from the old one, while the group now
/// launches m5.2xlarge with the custom attribute `storage=nvme`. `batch` is pinned to the new type
/// (`memberOf(attribute:ecs.instance-type == m5.2xlarge)`): 0 tasks, then 8 from minute 30; `cache` (in its
/// task definition) to the attribute (`memberOf(attribute:storage == nvme)`): 2 tasks, then 6 from minute 90.
/// Their tasks fit the old instances' free room by CPU and memory, and memberOf refuses them all.
pub fn member_of() -> Scenario {
    let mut rng = Rng(0x3E3B);
    let new_type = InstanceType {
        attributes: BTreeMap::from([("storage".to_owned(), "nvme".to_owned())]),
        ..InstanceType::m5_2xlarge()
    };
    let batch = ServiceSpec {
        placement_constraints: vec![Constraint::MemberOf {
            expression: "attribute:ecs.instance-type == m5.2xlarge".into(),
        }],
        ..ServiceSpec::replica("batch", 1024, 2048, 0)
    };
    let cache = ServiceSpec {
        task_definition_constraints: vec![Constraint::MemberOf { expression: "attribute:storage == nvme".into() }],
        ..ServiceSpec::replica("cache", 512, 3072, 2)
    };
    let changes = vec![
        Change { minute: 30, service: "batch".into(), desired: 8 },
        Change { minute: 90, service: "cache".into(), desired: 6 },
    ];
    let mut services = vec![logs_daemon(), batch, cache];
    for i in 0..12 {
        services.push(replica(format!("svc-{i:02}"), SIZES[i % SIZES.len()], rng.between(2, 6), 100));
    }
    Scenario {
        initial_instances: Some(8),
        initial_instance_type: Some(InstanceType::m5_xlarge()),
        ..placement_scenario("member-of", new_type, services, changes)
    }
}

/// A mixed instances policy of m5.large, then m5.xlarge (prioritized), where EC2 has no m5.large capacity in
/// `sim-1c`: zones a and b get m5.large, zone c m5.xlarge. `report` tasks (2560 CPU units, 6 GiB) fit only an
/// m5.xlarge: 3 of them, 9 from minute 60 to 150; twelve services of the usual sizes run anywhere.
pub fn mixed_zones() -> Scenario {
    let mut rng = Rng(0x313D);
    let report = ServiceSpec::replica("report", 2560, 6144, 3);
    let changes = step(&report.name, 9, 3);
    let mut services = vec![logs_daemon(), report];
    for i in 0..12 {
        services.push(replica(format!("svc-{i:02}"), SIZES[i % SIZES.len()], rng.between(2, 6), 100));
    }
    Scenario {
        mixed_instance_types: vec![InstanceType::m5_xlarge()],
        unavailable: vec![Unavailable { zone: "sim-1c".into(), instance_type: "m5.large".into() }],
        ..placement_scenario("mixed-zones", InstanceType::m5_large(), services, changes)
    }
}

/// The timing scenario: a 200-service day on 90 to 140 instances (about 120 on average).
pub fn bench() -> Scenario {
    diurnal_cluster("bench", 200, (3, 5), 0.6, 0xBE4C)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_scenario_is_valid() {
        for (name, _) in NAMES {
            let scenario = by_name(name).unwrap();
            assert_eq!(scenario.name, name);
            scenario.validate().unwrap();
        }
    }

    #[test]
    fn json_scenarios_round_trip() {
        for (name, _) in NAMES {
            let scenario = by_name(name).unwrap();
            let json = serde_json::to_string(&scenario).unwrap();
            assert_eq!(Scenario::from_json(&json).unwrap(), scenario, "{name}");
        }
        // What a scenario leaves out is ECS's default, and the export leaves it out too.
        let json = serde_json::to_value(by_name("gpu").unwrap()).unwrap();
        let inference = &json["services"][1];
        assert_eq!((inference["name"].as_str(), inference["gpus"].as_u64()), (Some("inference"), Some(1)));
        assert!(inference.get("network_mode").is_none() && inference.get("placement_strategy").is_none());
        assert_eq!(json["instance_type"]["gpus"], 1);
    }

    #[test]
    fn every_placement_scenario_fits_by_cpu_and_memory_where_its_own_dimension_refuses() {
        // awsvpc: an m5.large's CPU and memory hold 7 of the tasks, its ENIs 2.
        let s = awsvpc();
        let task = s.services.iter().find(|s| s.network_mode == NetworkMode::Awsvpc).unwrap();
        assert!((s.instance_type.cpu - 128) / task.cpu >= 7 && s.instance_type.awsvpc_tasks(s.awsvpc_trunking) == 2);
        // gpu: three inference tasks by CPU and memory, one by GPU.
        let s = gpu();
        let inference = &s.services[1];
        assert_eq!((s.instance_type.memory - 256) / inference.memory, 3);
        assert_eq!(s.instance_type.gpus / inference.gpus, 1);
        // static-ports: four web tasks by CPU and memory, one by port.
        let s = static_ports();
        let web = s.services.iter().find(|s| s.name == "web").unwrap();
        assert!((s.instance_type.cpu - 128) / web.cpu >= 4 && web.host_ports().0 == [8080]);
        let (tcp, udp) = s.services.iter().find(|s| s.name == "dns-udp").unwrap().host_ports();
        assert!(tcp.is_empty() && udp == [53]);
        // mixed-zones: a report task does not fit an m5.large, only the m5.xlarge zone c gets.
        let s = mixed_zones();
        let report = &s.services[1];
        assert!(report.cpu > s.instance_type.cpu && report.cpu <= s.mixed_instance_types[0].cpu);
        assert!(s.is_unavailable("sim-1c", "m5.large") && !s.is_unavailable("sim-1a", "m5.large"));
    }

    #[test]
    fn the_fragmentation_tasks_fit_the_free_total_but_no_instance() {
        let scenario = fragmentation();
        let (filler, batch) = (&scenario.services[0], &scenario.services[1]);
        let free_each = scenario.instance_type.memory - filler.memory;
        assert!(batch.memory > free_each);
        assert!(batch.memory * 4 <= free_each * 10);
    }
}
