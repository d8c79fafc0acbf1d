//! The built-in scenarios, generated in code so their shape is documented where it is made. Every one is
//! deterministic (a fixed-seed generator), on m5.xlarge-sized instances (4096 CPU units, 15360 MiB) with a
//! 128-unit / 256 MiB log daemon unless said otherwise. `ecs-scaler simulate --scenario NAME --export FILE`
//! writes any of them as JSON, a starting point for your own.

use ecs_scaler_core::Scheduling;

use crate::scenario::{Change, Event, InstanceType, Scenario, ServiceSpec};

/// Name and one-line description of every built-in scenario.
pub const NAMES: [(&str, &str); 7] = [
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
    ("fragmentation", "large tasks that fit by total reservation (63 %) but on no single instance"),
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
        "fragmentation" => Some(fragmentation()),
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
    changes.sort_by_key(|c| c.minute);
    Scenario {
        name: name.into(),
        description: description(name).into(),
        minutes,
        instance_type: InstanceType::m5_xlarge(),
        initial_instances: None,
        min_size: 2,
        max_size: 300,
        services: specs,
        changes,
        events: vec![],
        ..Scenario::default()
    }
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
    changes.sort_by_key(|c| c.minute);
    Scenario {
        name: "spike".into(),
        description: description("spike").into(),
        minutes,
        instance_type: InstanceType::m5_xlarge(),
        initial_instances: None,
        min_size: 2,
        max_size: 300,
        services: specs,
        changes,
        events: vec![],
        ..Scenario::default()
    }
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
    changes.sort_by_key(|c| c.minute);
    Scenario {
        name: "deploy-storm".into(),
        description: description("deploy-storm").into(),
        minutes,
        instance_type: InstanceType::m5_xlarge(),
        initial_instances: None,
        min_size: 2,
        max_size: 300,
        services: specs,
        changes,
        events: vec![],
        ..Scenario::default()
    }
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
    changes.sort_by_key(|c| c.minute);
    Scenario {
        name: "blue-green".into(),
        description: description("blue-green").into(),
        minutes,
        instance_type: InstanceType::m5_xlarge(),
        initial_instances: None,
        min_size: 2,
        max_size: 300,
        services: specs,
        changes,
        events: vec![Event::ColourSwap { minute: 90, drain_after_minutes: 10 }],
        ..Scenario::default()
    }
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
        let scenario = by_name("fragmentation").unwrap();
        let json = serde_json::to_string(&scenario).unwrap();
        assert_eq!(Scenario::from_json(&json).unwrap(), scenario);
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
