//! `make bench` (part 3): what watching clusters costs the account's ECS API budget, and how long a large tick
//! takes, on a scripted cloud charged per AWS call as the SDK adapters make them (`core::ports::counted`), so
//! hundreds of clusters need no emulator.
//!
//! - ECS calls per throttling bucket per minute at 1, 10 and 100 clusters of 50 services, 20 instances and 500
//!   tasks each, steady (nothing to consolidate) and with consolidation judged and refused, for a steady minute, a minute with one change, a minute with a placement failure (the event's
//!   evaluation and the tick), the amortised resync, and the drain hook's idle reconcile;
//! - the time of a tick of 300 such clusters at 50 ms per AWS round trip, from scratch and steady.
//!
//! Results are printed and written to `bench-results/api-budget.json`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use ecs_scaler_core::cluster::{PlacementConstraint, Resources};
use ecs_scaler_core::config::{EnvConfig, ScheduleInput, TickConfig};
use ecs_scaler_core::drain::DrainSettings;
use ecs_scaler_core::lifecycle::TAG_CLUSTER;
use ecs_scaler_core::ports::cost::Category;
use ecs_scaler_core::ports::counted::{Counted, Ledger, Sleep, per_category};
use ecs_scaler_core::ports::script::Script;
use ecs_scaler_core::ports::{Context, FixedClock};
use ecs_scaler_core::scale::memory::Memory;
use ecs_scaler_core::scale::tick::{Recall, run_in};
use ecs_scaler_core::scale::trigger::on_placement_failure;
use ecs_scaler_testkit::emulator::repo_root;
use serde_json::json;

const SERVICES: usize = 50;
const INSTANCES: usize = 20;
const TASKS_PER_SERVICE: usize = 10;
const UNABLE: &str = "was unable to place a task because no container instance met all of its requirements.";

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).single().unwrap()
}

/// The clusters' state between ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// 78% reserved: between the default thresholds (60, 85), and no instance can go without bringing the
    /// reservations within the consolidation headroom of max (82% on 19 instances, 80 the limit). What the issue
    /// calls steady: nothing waiting, nothing to consolidate.
    Steady,
    /// 66% reserved, and a `distinctInstance` service runs one task on every instance: consolidation is judged on
    /// every deep read (the reservations would allow a removal) and refused (that task fits nowhere else).
    Refused,
}

/// `n` clusters `c0..`, each of 20 instances (4096 CPU units, 16384 MiB) running 50 services of 10 tasks each,
/// every cluster in its own group.
fn world(n: usize, kind: Kind) -> Script {
    let (cpu, memory, reservation) = match kind {
        Kind::Steady => (128, 512, 78.1),
        Kind::Refused => (104, 416, 66.4),
    };
    let mut script = Script::new();
    for c in 0..n {
        let cluster = format!("c{c}");
        let members: Vec<String> = (0..INSTANCES).map(|i| format!("{cluster}-i{i}")).collect();
        let refs: Vec<&str> = members.iter().map(String::as_str).collect();
        let distinct = kind == Kind::Refused;
        let per_instance = 25 + usize::from(distinct);
        let tasks = SERVICES * TASKS_PER_SERVICE + if distinct { INSTANCES } else { 0 };
        script = script
            .with_cluster(&cluster, u32::try_from(INSTANCES).unwrap(), &[])
            .with_task_counts(u32::try_from(tasks).unwrap(), 0)
            .with_reservations(&cluster, reservation, reservation, start() - chrono::Duration::minutes(1))
            .with_group(
                &format!("{cluster}-blue"),
                2,
                u32::try_from(INSTANCES).unwrap(),
                &[(TAG_CLUSTER, cluster.as_str())],
            )
            .with_group_members(&refs, "us-east-1a");
        let used = |per: u32| 25 * per + if distinct { 64 } else { 0 };
        for member in &members {
            script = script.with_instance(&cluster, member, "ACTIVE", 4096, 16384).with_load(
                &cluster,
                member,
                Resources::new(4096 - used(cpu), 16384 - used(memory)),
                u32::try_from(per_instance).unwrap(),
            );
        }
        for s in 0..SERVICES {
            let service = format!("s{s}");
            let definition = format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{cluster}-{service}:1");
            script =
                script.with_task_definition(&definition, cpu, memory).with_service(&cluster, &service, 10, 10, &[]);
            for t in 0..TASKS_PER_SERVICE {
                let on = &members[(s * TASKS_PER_SERVICE + t) % INSTANCES];
                script = script.with_task(&cluster, &format!("service:{service}"), on, &definition);
            }
            let mut state = script.state();
            state.services.get_mut(&cluster).unwrap().last_mut().unwrap().task_definition = definition;
        }
        if distinct {
            let definition = format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{cluster}-zk:1");
            let desired = i32::try_from(INSTANCES).unwrap();
            script =
                script.with_task_definition(&definition, 64, 64).with_service(&cluster, "zk", desired, desired, &[]);
            for member in &members {
                script = script.with_task(&cluster, "service:zk", member, &definition);
            }
            let mut state = script.state();
            let zk = state.services.get_mut(&cluster).unwrap().last_mut().unwrap();
            zk.task_definition = definition;
            zk.placement_constraints = vec![PlacementConstraint::DistinctInstance];
        }
    }
    script
}

fn names(n: usize) -> String {
    (0..n).map(|c| format!("c{c}")).collect::<Vec<_>>().join(",")
}

fn config(n: usize) -> TickConfig {
    TickConfig::build(&EnvConfig::from_vars([("CLUSTERS", names(n))]), &ScheduleInput::default()).unwrap()
}

async fn tick(cloud: &Counted<Script>, n: usize, memory: &Memory, at: DateTime<Utc>) -> usize {
    let ctx = Context { ecs: cloud, autoscaling: cloud, ec2: cloud, metrics: cloud, clock: &FixedClock(at) };
    let summary = run_in(ctx, &config(n), None, Recall { memory, deep: false }).await.unwrap();
    assert_eq!(summary.emitted, n, "every cluster gets a status");
    summary.deep_reads
}

/// ECS publishes the same reservations every minute.
fn next_minute(cloud: &Counted<Script>, at: DateTime<Utc>) {
    for series in cloud.inner().state().series.values_mut() {
        for point in series.cpu.iter_mut().chain(series.memory.iter_mut()) {
            point.timestamp = at - chrono::Duration::minutes(1);
        }
    }
}

fn row(ledger: &Ledger) -> BTreeMap<Category, usize> {
    per_category(ledger)
}

fn show(label: &str, buckets: &BTreeMap<Category, usize>, minutes: f64) -> serde_json::Value {
    let cells: Vec<String> = <Category as strum::IntoEnumIterator>::iter()
        .filter(|c| !matches!(c, Category::ClusterResourceModify | Category::TagModify) || buckets.contains_key(c))
        .map(|c| {
            let per_minute = buckets.get(&c).copied().unwrap_or(0) as f64 / minutes;
            format!("{c} {per_minute:.1}/min ({:.2}/s)", per_minute / 60.0)
        })
        .collect();
    println!("    {label:<26} {}", cells.join(", "));
    json!(buckets.iter().map(|(c, n)| (c.to_string(), *n as f64 / minutes)).collect::<BTreeMap<_, _>>())
}

#[tokio::main]
async fn main() {
    let mut results = BTreeMap::new();
    for (kind, key, title) in [
        (Kind::Steady, "steady", "steady: 78% reserved, nothing waiting, nothing to consolidate"),
        (
            Kind::Refused,
            "refused",
            "consolidation judged and refused: 66% reserved, a distinctInstance task on every instance",
        ),
    ] {
        println!("== ECS calls per bucket per minute; clusters of 50 services, 20 instances, 500 tasks; {title}");
        for n in [1usize, 10, 100] {
            println!("  {n} cluster(s)");
            budget(kind, n, &mut |name, value| {
                results.insert(format!("{key}.{n}.{name}"), value);
            })
            .await;
        }
    }

    println!("\n== A tick of 300 clusters at 50 ms per AWS round trip");
    for (kind, key) in [(Kind::Steady, "steady"), (Kind::Refused, "refused")] {
        let sleep: Sleep = Arc::new(|d| Box::pin(tokio::time::sleep(d)));
        let cloud = Counted::new(world(300, kind)).with_latency(Duration::from_millis(50), sleep);
        let memory = Memory::default();
        let mut at = start();
        let started = Instant::now();
        tick(&cloud, 300, &memory, at).await;
        let scratch = started.elapsed();
        let first = cloud.take();
        at += chrono::Duration::minutes(1);
        next_minute(&cloud, at);
        let started = Instant::now();
        tick(&cloud, 300, &memory, at).await;
        let steady = started.elapsed();
        println!(
            "    {key:<8} from scratch: {:.1} s ({} AWS calls); next minute: {:.2} s ({} AWS calls)",
            scratch.as_secs_f64(),
            first.values().sum::<usize>(),
            steady.as_secs_f64(),
            cloud.take().values().sum::<usize>()
        );
        results.insert(format!("{key}.300.scratch_seconds"), json!(scratch.as_secs_f64()));
        results.insert(format!("{key}.300.next_minute_seconds"), json!(steady.as_secs_f64()));
    }

    let out = repo_root().join("bench-results");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("api-budget.json"), serde_json::to_string_pretty(&results).unwrap()).unwrap();
    println!("\nwritten to bench-results/api-budget.json");
}

/// One world of `n` clusters through its minutes: the first tick, a steady minute, one change, a placement
/// failure, a quiet hour (the resync, amortised), the drain hook's idle reconcile.
async fn budget(kind: Kind, n: usize, record: &mut impl FnMut(&str, serde_json::Value)) {
    let cloud = Counted::new(world(n, kind));
    let memory = Memory::default();
    let mut at = start();
    let deep = tick(&cloud, n, &memory, at).await;
    assert_eq!(deep, n);
    record("first_tick", show("first tick (from scratch)", &row(&cloud.take()), 1.0));

    at += chrono::Duration::minutes(1);
    next_minute(&cloud, at);
    // A steady minute reads a cluster from scratch only when its resync comes round (about n/10 of them).
    let deep = tick(&cloud, n, &memory, at).await;
    record("steady", show(&format!("steady minute ({deep} resync)"), &row(&cloud.take()), 1.0));

    at += chrono::Duration::minutes(1);
    next_minute(&cloud, at);
    cloud.inner().state().clusters[0].running_tasks += 1;
    let deep = tick(&cloud, n, &memory, at).await;
    record("one_change", show(&format!("one change ({deep} from scratch)"), &row(&cloud.take()), 1.0));

    // A placement failure in c0: a short service, ECS's event, the event's evaluation, then the minute's tick.
    at += chrono::Duration::minutes(1);
    next_minute(&cloud, at);
    {
        let mut state = cloud.inner().state();
        let service = &mut state.services.get_mut("c0").unwrap()[0];
        service.desired = 14;
        service
            .events
            .insert(0, ecs_scaler_core::ServiceEvent { created_at: at, message: format!("(service s0) {UNABLE}") });
    }
    let ctx = Context { ecs: &cloud, autoscaling: &cloud, ec2: &cloud, metrics: &cloud, clock: &FixedClock(at) };
    let arn = "arn:aws:ecs:us-east-1:123456789012:cluster/c0";
    on_placement_failure(ctx, &config(n), arn, chrono::Duration::seconds(60), &memory).await.unwrap();
    tick(&cloud, n, &memory, at).await;
    record("placement_failure", show("a minute with a placement failure", &row(&cloud.take()), 1.0));

    // The resync, amortised: an hour of quiet minutes.
    {
        let mut state = cloud.inner().state();
        let service = &mut state.services.get_mut("c0").unwrap()[0];
        service.desired = 10;
        service.events.clear();
    }
    let mut deep = 0;
    for _ in 0..60 {
        at += chrono::Duration::minutes(1);
        next_minute(&cloud, at);
        deep += tick(&cloud, n, &memory, at).await;
    }
    let hour = cloud.take();
    println!("    ({deep} clusters read from scratch in 60 quiet minutes: the resync)");
    record("quiet_hour_average", show("a quiet hour, per minute", &row(&hour), 60.0));
    record("quiet_hour_deep_reads", json!(deep));

    // The drain hook's scheduled reconcile with nothing terminating.
    let settings = DrainSettings::from_vars([("CLUSTERS", names(n))]).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    let ctx = Context { ecs: &cloud, autoscaling: &cloud, ec2: &cloud, metrics: &cloud, clock: &FixedClock(at) };
    let scheduled = json!({"version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-12-01T10:00:00Z", "region": "us-east-1", "resources": [], "detail": {}});
    drain_hook::handle(&scheduled, &settings, ctx, deadline).await.unwrap();
    let reconcile = cloud.take();
    record("drain_idle_reconcile", show("drain hook idle reconcile", &row(&reconcile), 1.0));
    println!("    (all calls of the idle reconcile: {reconcile:?})");
}
