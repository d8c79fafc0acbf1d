//! Property tests over the whole plan, through whole ticks over a scripted AWS: generated clusters (instances
//! in two zones, some DRAINING; services with and without distinctInstance, do-not-disrupt, placement
//! failures; one or two colours; budgets; windows; rising load) and the invariants no rule may break:
//!
//! - never a 0 while a task waits (a REPLICA service short of tasks, or with tasks on a DRAINING instance, and a
//!   recent "unable to place" event);
//! - never a voluntary removal (a 0, a consolidation, a surplus) while a window is open or a swap is in
//!   progress;
//! - never a removal of an instance running a do-not-disrupt task, or outside the zones Auto Scaling would
//!   scale in;
//! - never more instances with tasks in the surplus than the budget allows, never a surplus above 1 while the
//!   load rises;
//! - never a 0 the termination policy would refuse: for a scale-in of one from any zone Auto Scaling may take
//!   it from, the policy ([`super::terminate::choose`], over the same cloud and thresholds) names an instance,
//!   and the one consolidation chose when the zone is certain.
//!
//! The runner is deterministic (fixed seed, 2000 cases), and counts how many cases reached each assertion, so a
//! generator that stopped producing the interesting clusters fails the test rather than passing it vacuously.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use super::plan::Note;
use super::terminate::{TerminationRequest, choose};
use super::tick::{ClusterReport, run};
use super::{Reason, ScaleStatus};
use crate::cluster::{PlacementConstraint, Resources, Scheduling};
use crate::config::{
    EnvConfig, Layer, ScheduleInput, TAG_DISRUPTION_BUDGET, TAG_DISRUPTION_WINDOWS, TAG_DO_NOT_DISRUPT, TickConfig,
    env_map,
};
use crate::lifecycle::{GroupInstance, TAG_CLUSTER};
use crate::metrics::Datapoint;
use crate::ports::script::Script;
use crate::ports::{Context, FixedClock};

const INSTANCE: Resources = Resources::new(2048, 4096);
const UNABLE: &str = "was unable to place a task because no container instance met all of its requirements.";

fn now() -> DateTime<Utc> {
    // Sunday 2026-11-22 10:00 UTC.
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).single().expect("a valid time")
}

/// One generated service.
#[derive(Debug, Clone)]
struct ServiceGen {
    cpu: u32,
    memory: u32,
    /// Tasks per instance index (may exceed what fits: those are dropped).
    placed: Vec<usize>,
    desired_extra: u32,
    failing: bool,
    distinct: bool,
    do_not_disrupt: bool,
}

/// One generated cluster.
#[derive(Debug, Clone)]
struct ClusterGen {
    instances: usize,
    draining: Vec<bool>,
    zones: Vec<bool>,
    services: Vec<ServiceGen>,
    cpu: f64,
    memory: f64,
    earlier_cpu: f64,
    second_colour: bool,
    budget: u32,
    window: bool,
}

fn service() -> impl Strategy<Value = ServiceGen> {
    (
        prop::sample::select(vec![128u32, 256, 512, 1024]),
        prop::sample::select(vec![256u32, 512, 1024, 2048]),
        prop::collection::vec(0usize..6, 0..8),
        prop::sample::select(vec![0u32, 0, 1, 3]),
        prop::bool::weighted(0.35),
        prop::bool::weighted(0.25),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(cpu, memory, placed, desired_extra, failing, distinct, do_not_disrupt)| ServiceGen {
            cpu,
            memory,
            placed,
            desired_extra,
            failing,
            distinct,
            do_not_disrupt,
        })
}

fn cluster() -> impl Strategy<Value = ClusterGen> {
    (
        2usize..=6,
        prop::collection::vec(prop::bool::weighted(0.12), 6),
        prop::collection::vec(any::<bool>(), 6),
        prop::collection::vec(service(), 1..4),
        0.0f64..90.0,
        0.0f64..90.0,
        0.0f64..90.0,
        prop::bool::weighted(0.15),
        0u32..4,
        prop::bool::weighted(0.15),
    )
        .prop_map(
            |(instances, draining, zones, services, cpu, memory, earlier_cpu, second_colour, budget, window)| {
                ClusterGen {
                    instances,
                    draining,
                    zones,
                    services,
                    cpu,
                    memory,
                    earlier_cpu,
                    second_colour,
                    budget,
                    window,
                }
            },
        )
}

/// What the generated world is, for the invariants: which instances are DRAINING, which run a do-not-disrupt
/// task, which zone each is in, whether a task waits.
struct World {
    cloud: Script,
    waiting: bool,
    protected: Vec<String>,
    zone_of: HashMap<String, &'static str>,
    draining: Vec<bool>,
    empty: usize,
}

fn build(c: &ClusterGen) -> World {
    let names: Vec<String> = (0..c.instances).map(|i| format!("n{i}")).collect();
    let zone = |i: usize| if c.zones[i] { "us-east-1a" } else { "us-east-1b" };
    let mut tags = vec![(TAG_DISRUPTION_BUDGET, c.budget.to_string())];
    if c.window {
        tags.push((TAG_DISRUPTION_WINDOWS, "0 9 any any sun 4h".to_owned()));
    }
    let tags: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut cloud = Script::new()
        .with_cluster("p", u32::try_from(c.instances).unwrap_or(0), &tags)
        .with_reservations("p", c.cpu, c.memory, now() - Duration::minutes(1))
        .with_group("p-blue", 1, 0, &[(TAG_CLUSTER, "p")]);
    cloud
        .state()
        .series
        .get_mut("p")
        .expect("series")
        .cpu
        .insert(0, Datapoint { timestamp: now() - Duration::minutes(9), value: c.earlier_cpu });
    {
        let mut state = cloud.state();
        let group = state.groups.last_mut().expect("a group");
        group.instances = (0..c.instances)
            .map(|i| GroupInstance {
                instance_id: format!("i-{}", names[i]),
                lifecycle_state: "InService".into(),
                availability_zone: zone(i).into(),
                instance_type: None,
            })
            .collect();
        group.desired_capacity = u32::try_from(c.instances).unwrap_or(0);
        group.zones = vec!["us-east-1a".into(), "us-east-1b".into()];
    }
    if c.second_colour {
        cloud = cloud.with_group("p-green", 1, 1, &[(TAG_CLUSTER, "p")]);
    }
    let mut free: Vec<Resources> = vec![INSTANCE; c.instances];
    let mut counts = vec![0u32; c.instances];
    let mut waiting = false;
    let mut protected = Vec::new();
    for (index, s) in c.services.iter().enumerate() {
        let name = format!("s{index}");
        let definition = format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{name}:1");
        cloud = cloud.with_task_definition(&definition, s.cpu, s.memory);
        let mut running = 0;
        let mut on_draining = 0;
        let mut used: Vec<usize> = Vec::new();
        for &at in &s.placed {
            let at = at % c.instances;
            let need = Resources::new(s.cpu, s.memory);
            if !free[at].holds(need) || (s.distinct && used.contains(&at)) {
                continue;
            }
            free[at] = free[at].less(need);
            counts[at] += 1;
            used.push(at);
            running += 1;
            if c.draining[at] {
                on_draining += 1;
            }
            cloud = cloud.with_task("p", &format!("service:{name}"), &names[at], &definition);
            if s.do_not_disrupt && !protected.contains(&names[at]) {
                protected.push(names[at].clone());
            }
        }
        let desired = running + i32::try_from(s.desired_extra).unwrap_or(0);
        let events =
            if s.failing { vec![(now() - Duration::minutes(2), format!("(service {name}) {UNABLE}"))] } else { vec![] };
        let events: Vec<(DateTime<Utc>, &str)> = events.iter().map(|(at, m)| (*at, m.as_str())).collect();
        cloud = cloud.with_service("p", &name, desired, running, &events);
        {
            let mut state = cloud.state();
            let service = state.services.get_mut("p").and_then(|s| s.last_mut()).expect("the service");
            service.min_healthy_percent = Some(50);
            service.scheduling = Scheduling::Replica;
            if s.distinct {
                service.placement_constraints = vec![PlacementConstraint::DistinctInstance];
            }
            if s.do_not_disrupt {
                service.tags.insert(TAG_DO_NOT_DISRUPT.into(), "true".into());
            }
        }
        if s.failing && (s.desired_extra > 0 || on_draining > 0) {
            waiting = true;
        }
    }
    let mut zone_of = HashMap::new();
    for (i, name) in names.iter().enumerate() {
        let status = if c.draining[i] { "DRAINING" } else { "ACTIVE" };
        cloud = cloud
            .with_instance("p", name, status, INSTANCE.cpu, INSTANCE.memory)
            .with_load("p", name, free[i], counts[i]);
        zone_of.insert(name.clone(), zone(i));
    }
    let empty = (0..c.instances).filter(|&i| counts[i] == 0 && !c.draining[i]).count();
    World { cloud, waiting, protected, zone_of, draining: c.draining[..c.instances].to_vec(), empty }
}

/// The environment of both Lambdas in these tests.
const ENV: [(&str, &str); 5] =
    [("CLUSTERS", "p"), ("CPU_MIN", "40"), ("CPU_MAX", "75"), ("MEMORY_MIN", "40"), ("MEMORY_MAX", "75")];

fn tick(cloud: &Script) -> Option<ClusterReport> {
    let env = EnvConfig::from_vars(ENV);
    let config = TickConfig::build(&env, &ScheduleInput::default()).ok()?;
    let ctx = Context { ecs: cloud, autoscaling: cloud, ec2: cloud, metrics: cloud, clock: &FixedClock(now()) };
    futures::executor::block_on(run(ctx, &config)).ok()?.clusters.into_iter().next()
}

/// How many cases reached each assertion.
#[derive(Default)]
struct Reached {
    waiting: AtomicUsize,
    down: AtomicUsize,
    held_window: AtomicUsize,
    held_swap: AtomicUsize,
    consolidated: AtomicUsize,
    protected_candidates: AtomicUsize,
    surplus: AtomicUsize,
    budget_bound: AtomicUsize,
    rising: AtomicUsize,
    zero_held: AtomicUsize,
    zero_tied: AtomicUsize,
}

/// What the termination policy answers a scale-in of one from `zone`, offered the group's instances there.
fn policy_takes(world: &World, zone: &str) -> Vec<String> {
    let mut candidates: Vec<_> = world.zone_of.iter().filter(|(_, z)| **z == zone).map(|(n, _)| n.clone()).collect();
    candidates.sort();
    let request: TerminationRequest = serde_json::from_value(serde_json::json!({
        "AutoScalingGroupName": "p-blue",
        "CapacityToTerminate": [{"AvailabilityZone": zone, "Capacity": 1}],
        "Instances": candidates.iter().map(|n| serde_json::json!({"AvailabilityZone": zone, "InstanceId": format!("i-{n}")})).collect::<Vec<_>>(),
        "Cause": "SCALE_IN",
    }))
    .expect("a valid request");
    let layer = Layer::from_env(&env_map(ENV));
    let cloud = &world.cloud;
    let choice = futures::executor::block_on(choose(cloud, cloud, cloud, &["p".to_owned()], &layer, &request));
    choice.response.instance_ids
}

#[test]
fn the_plan_never_breaks_its_invariants() {
    let reached = Reached::default();
    let config = Config { cases: 2000, failure_persistence: None, ..Config::default() };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let bump = |counter: &AtomicUsize| counter.fetch_add(1, Ordering::Relaxed);
    let result = runner.run(&cluster(), |c| {
        let world = build(&c);
        let Some(report) = tick(&world.cloud) else { return Ok(()) };
        let status = report.scale_status;
        if world.waiting {
            bump(&reached.waiting);
            prop_assert_ne!(status, Some(ScaleStatus::Down), "a task waits: {:?} {:?}", report.reason, report.notes);
        }
        let voluntary = status == Some(ScaleStatus::Down) || report.surplus > 0;
        if status == Some(ScaleStatus::Down) {
            bump(&reached.down);
            let in_zone = |z: &str| world.zone_of.values().filter(|v| **v == z).count();
            let most = in_zone("us-east-1a").max(in_zone("us-east-1b"));
            let fullest: Vec<&str> = ["us-east-1a", "us-east-1b"].into_iter().filter(|z| in_zone(z) == most).collect();
            if fullest.len() > 1 {
                bump(&reached.zero_tied);
            }
            for zone in &fullest {
                let taken = policy_takes(&world, zone);
                prop_assert!(!taken.is_empty(), "a 0 the policy refuses in {zone}: {report:?}");
                if let (Some(removal), [_]) = (&report.removal, fullest.as_slice()) {
                    prop_assert_eq!(removal.ec2_instance_id.as_deref(), taken.first().map(String::as_str));
                }
            }
        }
        if report.reason == Reason::ScaleDownGuard
            && report.notes.iter().any(|n| matches!(n, Note::Covered { reason: Reason::BothBelowMin, .. }))
        {
            bump(&reached.zero_held);
        }
        if c.window {
            prop_assert!(!voluntary, "a window is open: {report:?}");
            if report.reason == Reason::DisruptionWindow {
                bump(&reached.held_window);
            }
        }
        if c.second_colour {
            prop_assert!(!voluntary, "a swap is in progress: {report:?}");
            if report.reason == Reason::SwapInProgress {
                bump(&reached.held_swap);
            }
        }
        if let Some(removal) = &report.removal {
            bump(&reached.consolidated);
            if !world.protected.is_empty() {
                bump(&reached.protected_candidates);
            }
            let arn = removal.container_instance_arn.as_str();
            prop_assert!(!world.protected.iter().any(|p| p == arn), "{arn} runs a do-not-disrupt task");
            // From a fullest zone of the group, among the instances it has InService (the ACTIVE and DRAINING
            // ones: Auto Scaling does not know ECS's states).
            let zone = world.zone_of[arn];
            let in_zone = |z: &str| world.zone_of.values().filter(|v| **v == z).count();
            prop_assert!(in_zone(zone) >= in_zone("us-east-1a").max(in_zone("us-east-1b")), "{arn} in {zone}");
            prop_assert!(!world.draining.iter().any(|d| *d), "one consolidation at a time");
        }
        if report.surplus > 0 {
            bump(&reached.surplus);
            let bound = world.empty + usize::try_from(c.budget).unwrap_or(usize::MAX);
            if usize::try_from(report.surplus).unwrap_or(usize::MAX) >= bound {
                bump(&reached.budget_bound);
            }
            prop_assert!(
                usize::try_from(report.surplus).unwrap_or(usize::MAX) <= bound,
                "surplus {} over {} empty + budget {}",
                report.surplus,
                world.empty,
                c.budget
            );
            if c.cpu > c.earlier_cpu {
                bump(&reached.rising);
                prop_assert!(report.surplus <= 1, "the load rises: surplus {}", report.surplus);
            }
        }
        Ok(())
    });
    let counts: Vec<(&str, usize)> = [
        ("a task waits", &reached.waiting),
        ("the status is 0", &reached.down),
        ("held by a window", &reached.held_window),
        ("held by a swap", &reached.held_swap),
        ("a consolidation", &reached.consolidated),
        ("a consolidation beside do-not-disrupt tasks", &reached.protected_candidates),
        ("a surplus", &reached.surplus),
        ("a surplus at its budget bound", &reached.budget_bound),
        ("a surplus while the load rises", &reached.rising),
        ("a 0 from tied zones", &reached.zero_tied),
        ("a 0 held: no instance can go", &reached.zero_held),
    ]
    .into_iter()
    .map(|(name, counter)| (name, counter.load(Ordering::Relaxed)))
    .collect();
    println!("cases reaching each assertion, of 2000: {counts:?}");
    if let Err(failure) = result {
        panic!("{failure}");
    }
    for (name, count) in counts {
        assert!(count >= 10, "only {count} cases reached \"{name}\": the generator no longer covers it");
    }
}
