//! `make bench`: the figures the issues ask for, measured on the AWS emulator.
//! - zip size, cold start (process start to first response) and peak RSS of the real release binaries;
//! - AWS calls per scale-status tick for 1, 10, 100 and 300 clusters;
//! - AWS calls per drain readiness check for a cluster with 50 services, 500 tasks and 20 instances, and the
//!   ECS reads per minute while all 20 instances are torn down at once (a blue/green swap);
//! - on that cluster, the AWS calls of a tick that consolidates, of one that sizes a scale-out, and of the
//!   custom termination policy's answer, with its latency against Auto Scaling's 2 s limit.
//!
//! Results are printed and written to `bench-results/bench.json`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use ecs_scaler_aws::seed::{HookSpec, Seeder, ServiceSpec, sdk_config};
use ecs_scaler_aws::{AutoScaling, CloudWatch, Ecs, SystemClock};
use ecs_scaler_core::config::EnvConfig;
use ecs_scaler_core::drain::{DrainSettings, Outcome};
use ecs_scaler_core::ports::{Context, EcsApi};
use ecs_scaler_testkit::Emulator;
use ecs_scaler_testkit::emulator::repo_root;
use ecs_scaler_testkit::lambda::{bootstrap, invoke};
use serde_json::json;

const COLD_START_RUNS: usize = 5;

#[tokio::main]
async fn main() {
    let mut results = BTreeMap::new();
    println!("ecs-scaler benchmark (AWS emulator on 127.0.0.1; figures are for this machine)\n");

    println!("== Lambda packages");
    for function in ["scale-status", "drain-hook"] {
        let zip = repo_root().join(format!("target/lambda/{function}/bootstrap.zip"));
        let size = std::fs::metadata(&zip).map(|m| m.len()).unwrap_or(0);
        println!("{function:>14}: zip {:.2} MB", size as f64 / 1e6);
        results.insert(format!("{function}.zip_bytes"), json!(size));
    }

    println!("\n== Cold start and peak RSS ({COLD_START_RUNS} runs each, median; 10 clusters / an empty reconcile)");
    let emulator = Emulator::start().unwrap();
    let seeder = Seeder::new(&sdk_config(emulator.url()).await);
    let names = seed_clusters(&seeder, "cold", 10).await;
    // scale-status's ECS_API_SHARE (its default, 0.1, unless BENCH_SHARE says): the client-side budget paces a
    // cold tick's reads, so the cold start is measured with the share the function is deployed with.
    let share = std::env::var("BENCH_SHARE").unwrap_or_else(|_| "0.1".into());
    println!("   (scale-status with ECS_API_SHARE={share}; BENCH_SHARE=1 measures it without the budget's pacing)");
    let scale_env = lambda_env(&emulator, &[("CLUSTERS", &names.join(",")), ("ECS_API_SHARE", &share)]);
    let scheduled = json!({"version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-22T10:00:00Z", "region": "us-east-1", "resources": [], "detail": {}});
    for (function, env) in [("scale-status", scale_env), ("drain-hook", lambda_env(&emulator, &[]))] {
        let binary = bootstrap(function).unwrap();
        let mut runs: Vec<(Duration, Duration, u64)> = (0..COLD_START_RUNS)
            .map(|_| {
                let run = invoke(&binary, &env, &scheduled, Duration::from_secs(30)).unwrap();
                assert!(!run.is_error, "{function} failed: {}\n{}", run.payload, run.logs);
                (run.init, run.cold_start, run.peak_rss_kib.unwrap_or(0))
            })
            .collect();
        runs.sort();
        let (init, cold, rss) = runs[COLD_START_RUNS / 2];
        println!(
            "{function:>14}: init {:>5.1} ms, cold start to response {:>6.1} ms, peak RSS {:.1} MiB",
            ms(init),
            ms(cold),
            rss as f64 / 1024.0
        );
        results.insert(format!("{function}.init_ms"), json!(ms(init)));
        results.insert(format!("{function}.cold_start_ms"), json!(ms(cold)));
        results.insert(format!("{function}.peak_rss_kib"), json!(rss));
    }
    drop(emulator);

    println!(
        "\n== AWS calls per scale-status tick (clusters between thresholds, one service each, so the placement check runs)"
    );
    println!("{:>8}  {:>6}  {:>8}  by operation", "clusters", "calls", "tick ms");
    for n in [1usize, 10, 100, 300] {
        let emulator = Emulator::start().unwrap();
        let sdk = sdk_config(emulator.url()).await;
        let seeder = Seeder::new(&sdk);
        let names = seed_clusters(&seeder, "tick", n).await;
        for (placement, label) in [("true", "placement on"), ("false", "placement off")] {
            let env = EnvConfig::from_vars([("CLUSTERS", names.join(",").as_str()), ("PLACEMENT_CHECK", placement)]);
            emulator.clear_calls().unwrap();
            let started = Instant::now();
            let (ecs, autoscaling, metrics) =
                (Ecs::from_conf(&sdk), AutoScaling::from_conf(&sdk), CloudWatch::from_conf(&sdk));
            let ec2 = ecs_scaler_aws::Ec2::from_conf(&sdk);
            let ctx =
                Context { ecs: &ecs, autoscaling: &autoscaling, ec2: &ec2, metrics: &metrics, clock: &SystemClock };
            let summary = scale_status::handle(&json!({}), &env, ctx).await.unwrap();
            let elapsed = started.elapsed();
            assert_eq!(summary.emitted, n, "every cluster gets a ScaleStatus");
            let calls = count_calls(&emulator);
            let total: usize = calls.values().sum();
            println!("{n:>8}  {total:>6}  {:>8.0}  {label}: {}", ms(elapsed), describe(&calls));
            results.insert(format!("scale_status.calls.{n}.{}", label.replace(' ', "_")), json!(calls));
        }
    }

    println!("\n== AWS calls per drain readiness check (50 services, 500 tasks, 20 instances, 1 instance terminating)");
    let emulator = Emulator::start().unwrap();
    let sdk = sdk_config(emulator.url()).await;
    let seeder = Seeder::new(&sdk);
    let (instances, on_first) = seed_drain_cluster(&seeder, "drain-bench").await;
    seeder
        .autoscaling
        .terminate_instance_in_auto_scaling_group()
        .instance_id(&instances[0])
        .should_decrement_desired_capacity(true)
        .send()
        .await
        .unwrap();
    // One check per reconcile: the figures are per check.
    let settings = DrainSettings::from_vars([("RECONCILE_SECONDS", "0")]).unwrap();
    let (ecs, autoscaling, metrics) = (Ecs::from_conf(&sdk), AutoScaling::from_conf(&sdk), CloudWatch::from_conf(&sdk));
    let ec2 = ecs_scaler_aws::Ec2::from_conf(&sdk);
    let ctx = Context { ecs: &ecs, autoscaling: &autoscaling, ec2: &ec2, metrics: &metrics, clock: &SystemClock };
    let far = || tokio::time::Instant::now() + Duration::from_secs(60);
    let rounds = [
        ("first", "first check (sets DRAINING, records the start)"),
        ("later", "later check"),
        ("release", "releasing check (its tasks stopped; reads the stopped tasks, completes)"),
    ];
    for (key, round) in rounds {
        if key == "release" {
            // ECS moved them: every service keeps at least 9 of its 10 tasks, above its 50 % minimum.
            for task in &on_first {
                seeder.stop_task("drain-bench", task).await.unwrap();
            }
        }
        emulator.clear_calls().unwrap();
        let started = Instant::now();
        let summary = drain_hook::handle(&scheduled, &settings, ctx, far()).await.unwrap();
        let elapsed = started.elapsed();
        assert_eq!(summary.checks, 1);
        let released = matches!(summary.instances[0].outcome, Outcome::Completed { .. });
        assert_eq!(released, key == "release", "{round}: {:?}", summary.instances[0]);
        let calls = count_calls(&emulator);
        let total: usize = calls.values().sum();
        println!("{round}: {total} calls in {:.0} ms: {}", ms(elapsed), describe(&calls));
        results.insert(format!("drain_hook.calls.{key}"), json!(calls));
    }
    drop(emulator);
    teardown(&mut results).await;
    placement_aware(&mut results).await;

    let out = repo_root().join("bench-results");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("bench.json"), serde_json::to_string_pretty(&results).unwrap()).unwrap();
    println!("\nwritten to bench-results/bench.json");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn lambda_env(emulator: &Emulator, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = emulator.lambda_env();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

fn count_calls(emulator: &Emulator) -> BTreeMap<String, usize> {
    let mut calls = BTreeMap::new();
    for call in emulator.calls().unwrap() {
        *calls.entry(call.operation).or_default() += 1;
    }
    calls
}

fn describe(calls: &BTreeMap<String, usize>) -> String {
    calls.iter().map(|(op, n)| format!("{op} {n}")).collect::<Vec<_>>().join(", ")
}

/// `n` clusters with reservations between the default thresholds and one service each.
async fn seed_clusters(seeder: &Seeder, prefix: &str, n: usize) -> Vec<String> {
    let now = Utc::now() - chrono::Duration::minutes(1);
    let task_definition = seeder.task_definition(&format!("{prefix}-app"), 256, 512).await.unwrap();
    let mut names = Vec::new();
    for i in 0..n {
        let name = format!("{prefix}-{i}");
        seeder.cluster(&name, &[]).await.unwrap();
        seeder.reservations(&name, 70.0, 70.0, now).await.unwrap();
        seeder.service(&name, &task_definition, &ServiceSpec::replica("app", 0, 100)).await.unwrap();
        names.push(name);
    }
    names
}

/// The drain benchmark's cluster: a group `<cluster>-asg` of 20 instances with the termination hook, 50
/// services of 10 tasks each, spread round-robin. Returns the EC2 instance ids and the tasks on the first
/// instance.
async fn seed_drain_cluster(seeder: &Seeder, cluster: &str) -> (Vec<String>, Vec<String>) {
    let (ids, tasks) = seed_drain_cluster_tasks(seeder, cluster).await;
    let on_first = tasks.into_iter().filter(|(_, on, _)| *on == 0).map(|(task, _, _)| task).collect();
    (ids, on_first)
}

/// As [`seed_drain_cluster`], returning every task with its instance's position and its service.
async fn seed_drain_cluster_tasks(seeder: &Seeder, cluster: &str) -> (Vec<String>, Vec<(String, usize, String)>) {
    seeder.cluster(cluster, &[]).await.unwrap();
    let metadata = json!({ "cluster": cluster }).to_string();
    let hook = HookSpec { name: "drain", heartbeat_timeout: 300, metadata: Some(&metadata) };
    let ids = seeder.group(&format!("{cluster}-asg"), cluster, 20, Some(hook)).await.unwrap();
    let instances = seeder.register(cluster, &ids, 16384, 65536).await.unwrap();
    let task_definition = seeder.task_definition(&format!("{cluster}-app"), 64, 128).await.unwrap();
    let (mut slot, mut tasks) = (0, Vec::new());
    for s in 0..50 {
        let name = format!("svc-{s}");
        seeder.service(cluster, &task_definition, &ServiceSpec::replica(&name, 10, 50)).await.unwrap();
        for _ in 0..10 {
            let on = slot % instances.len();
            let group = format!("service:{name}");
            let task = seeder
                .start_task(cluster, &task_definition, &instances[on].container_instance_arn, Some(&group))
                .await
                .unwrap();
            tasks.push((task, on, group));
            slot += 1;
        }
    }
    (ids, tasks)
}

/// ECS reads per minute while a whole colour of 20 instances (50 services, 500 tasks) is torn down: the 20
/// lifecycle notifications, then one reconcile a minute, each the one poller of the cluster. Time is scaled
/// 1:5 (POLL_SECONDS 2 and RECONCILE_SECONDS 9 stand for the defaults 10 and 45): a reconcile checks at 0, 2,
/// 4, 6 and 8 s, as it would at 0, 10, 20, 30 and 40 s of its minute. Between minutes the bench plays ECS,
/// moving a third of the tasks to the new colour.
async fn teardown(results: &mut BTreeMap<String, serde_json::Value>) {
    const ECS_READS: [&str; 6] = [
        "ListContainerInstances",
        "DescribeContainerInstances",
        "ListTasks",
        "DescribeTasks",
        "ListServices",
        "DescribeServices",
    ];
    println!("\n== ECS reads per minute while 20 instances are torn down at once (50 services, 500 tasks)");
    let emulator = Emulator::start().unwrap();
    let sdk = sdk_config(emulator.url()).await;
    let seeder = Seeder::new(&sdk);
    let (blue, tasks) = seed_drain_cluster_tasks(&seeder, "teardown").await;
    let green = seeder.group("teardown-green", "teardown", 20, None).await.unwrap();
    let green = seeder.register("teardown", &green, 16384, 65536).await.unwrap();
    let definition = seeder.task_definition("teardown-app", 64, 128).await.unwrap();
    let (ecs, autoscaling, metrics) = (Ecs::from_conf(&sdk), AutoScaling::from_conf(&sdk), CloudWatch::from_conf(&sdk));
    let ec2 = ecs_scaler_aws::Ec2::from_conf(&sdk);
    let ctx = Context { ecs: &ecs, autoscaling: &autoscaling, ec2: &ec2, metrics: &metrics, clock: &SystemClock };
    let ecs_reads = |emulator: &Emulator| {
        emulator.calls().unwrap().iter().filter(|c| ECS_READS.contains(&c.operation.as_str())).count()
    };
    // What one check's snapshot reads: the denominator of "snapshots' worth".
    emulator.clear_calls().unwrap();
    let (instances, tasks_now, services) =
        tokio::try_join!(ecs.container_instances("teardown"), ecs.tasks("teardown"), ecs.services("teardown")).unwrap();
    assert_eq!((instances.len(), tasks_now.len(), services.len()), (40, 500, 50));
    let snapshot_reads = ecs_reads(&emulator);
    seeder
        .autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name("teardown-asg")
        .min_size(0)
        .desired_capacity(0)
        .send()
        .await
        .unwrap();
    emulator.clear_calls().unwrap();
    let notifications = emulator.lifecycle_notifications().unwrap();
    let settings = DrainSettings::from_vars([("CLUSTERS", "teardown")]).unwrap();
    for message in &notifications {
        let event = json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:drain:1",
            "Sns": {"Type": "Notification", "MessageId": "1", "TopicArn": "arn:aws:sns:us-east-1:123456789012:drain", "Subject": null,
                "Message": message.to_string(), "Timestamp": "2026-11-22T10:00:00.000Z", "SignatureVersion": "1", "Signature": "",
                "SigningCertUrl": "", "UnsubscribeUrl": "", "MessageAttributes": {}}}]});
        drain_hook::handle(&event, &settings, ctx, tokio::time::Instant::now() + Duration::from_secs(60))
            .await
            .unwrap();
    }
    let burst = ecs_reads(&emulator);
    println!(
        "snapshot of the cluster: {snapshot_reads} ECS reads; {} notifications: {burst} ECS reads ({:.1} snapshots' worth)",
        notifications.len(),
        burst as f64 / snapshot_reads as f64
    );
    let scaled =
        DrainSettings::from_vars([("CLUSTERS", "teardown"), ("POLL_SECONDS", "2"), ("RECONCILE_SECONDS", "9")])
            .unwrap();
    let scheduled = json!({"version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-22T10:00:00Z", "region": "us-east-1", "resources": [], "detail": {}});
    let mut minutes = Vec::new();
    let mut moved = 0;
    for minute in 1..=6 {
        emulator.clear_calls().unwrap();
        let summary =
            drain_hook::handle(&scheduled, &scaled, ctx, tokio::time::Instant::now() + Duration::from_secs(60))
                .await
                .unwrap();
        let reads = ecs_reads(&emulator);
        let released = summary.instances.iter().filter(|r| matches!(r.outcome, Outcome::Completed { .. })).count();
        println!(
            "minute {minute}: {} checks, {reads} ECS reads ({:.1} snapshots' worth), {released} of {} instances released",
            summary.checks,
            reads as f64 / snapshot_reads as f64,
            summary.instances.len()
        );
        minutes.push(json!({"checks": summary.checks, "ecs_reads": reads, "released": released}));
        if summary.instances.iter().all(|r| matches!(r.outcome, Outcome::Completed { .. }))
            && !summary.instances.is_empty()
        {
            break;
        }
        // ECS moves a third of the tasks to the new colour: replacements first, then the old copies stop.
        let batch: Vec<&(String, usize, String)> = tasks.iter().skip(moved).take(tasks.len().div_ceil(3)).collect();
        for (task, on, group) in &batch {
            seeder.start_task("teardown", &definition, &green[*on].container_instance_arn, Some(group)).await.unwrap();
            seeder.stop_task("teardown", task).await.unwrap();
        }
        moved += batch.len();
    }
    assert_eq!(blue.len(), 20);
    results.insert(
        "drain_hook.teardown".into(),
        json!({"snapshot_ecs_reads": snapshot_reads, "notification_burst_ecs_reads": burst, "minutes": minutes}),
    );
}

/// Placement-aware scaling on the drain benchmark's cluster (20 instances, 50 services, 500 tasks): what a tick
/// costs where consolidation applies, where waiting tasks size a scale-out, and what the termination policy
/// costs and takes to answer.
async fn placement_aware(results: &mut BTreeMap<String, serde_json::Value>) {
    println!("\n== Placement-aware scaling on that cluster (20 instances, 50 services, 500 tasks)");
    let emulator = Emulator::start().unwrap();
    let sdk = sdk_config(emulator.url()).await;
    let seeder = Seeder::new(&sdk);
    let cluster = "placement-bench";
    let (ids, _) = seed_drain_cluster_tasks(&seeder, cluster).await;
    let group = format!("{cluster}-asg");
    seeder.shortfall_policy(&group, 300).await.unwrap();
    // Between the default thresholds (60/85), with room for one instance less: 65 x 20/19 = 68 < 85.
    seeder.reservations(cluster, 65.0, 65.0, Utc::now() - chrono::Duration::minutes(1)).await.unwrap();
    let (ecs, autoscaling, metrics) = (Ecs::from_conf(&sdk), AutoScaling::from_conf(&sdk), CloudWatch::from_conf(&sdk));
    let ec2 = ecs_scaler_aws::Ec2::from_conf(&sdk);
    let ctx = Context { ecs: &ecs, autoscaling: &autoscaling, ec2: &ec2, metrics: &metrics, clock: &SystemClock };
    let env = EnvConfig::from_vars([("CLUSTERS", cluster)]);

    let mut tick = async |label: &str, key: &str| {
        emulator.clear_calls().unwrap();
        let started = Instant::now();
        let summary = scale_status::handle(&json!({}), &env, ctx).await.unwrap();
        let elapsed = started.elapsed();
        let calls = count_calls(&emulator);
        let total: usize = calls.values().sum();
        let report = &summary.clusters[0];
        println!("{label}: {} ({total} calls in {:.0} ms): {}", report.reason, ms(elapsed), describe(&calls));
        results.insert(format!("scale_status.calls.{key}"), json!(calls));
        summary
    };
    let summary = tick("tick that consolidates", "consolidation").await;
    assert_eq!(summary.clusters[0].reason, ecs_scaler_core::Reason::Consolidation, "{:?}", summary.clusters[0]);

    // Each instance has room for one of these (12288 of its 14784 free CPU units), so 20 of the 30 fit and 10
    // need an instance each.
    let waiting = seeder.task_definition("placement-bench-big", 12288, 49152).await.unwrap();
    seeder.service(cluster, &waiting, &ServiceSpec::replica("big", 30, 50)).await.unwrap();
    let message = "(service big) was unable to place a task because no container instance met all of its requirements.";
    emulator
        .service_event(cluster, "big", message, (Utc::now() - chrono::Duration::seconds(30)).timestamp() as f64)
        .unwrap();
    let summary = tick("tick that sizes a scale-out", "scale_out").await;
    let short = summary.clusters[0].shortfall.as_ref().map(|s| s.instances).unwrap_or_default();
    println!(
        "   shortfall {short} instance(s), asked of {:?}",
        summary.scale_outs.first().and_then(|o| o.group.clone())
    );

    let candidates: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| json!({"AvailabilityZone": "us-east-1a", "InstanceId": id, "InstanceType": "m5.4xlarge", "InstanceMarketOption": "on-demand"}))
        .collect();
    let request = json!({
        "AutoScalingGroupARN": format!("arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:x:autoScalingGroupName/{group}"),
        "AutoScalingGroupName": group,
        "CapacityToTerminate": [{"AvailabilityZone": "us-east-1a", "Capacity": 1, "InstanceMarketOption": "on-demand"}],
        "Instances": candidates,
        "Cause": "SCALE_IN"
    });
    let settings = DrainSettings::from_vars([("CLUSTERS", cluster)]).unwrap();
    let mut latencies = Vec::new();
    let mut calls = BTreeMap::new();
    for _ in 0..5 {
        emulator.clear_calls().unwrap();
        let started = Instant::now();
        let far = tokio::time::Instant::now() + Duration::from_secs(60);
        let answer = drain_hook::respond(&request, &settings, ctx, far).await.unwrap();
        latencies.push(started.elapsed());
        calls = count_calls(&emulator);
        assert!(matches!(answer, drain_hook::Response::Termination(ref r) if r.instance_ids.len() == 1), "{answer:?}");
    }
    latencies.sort();
    let total: usize = calls.values().sum();
    println!(
        "termination policy (20 candidates, 1 to take): median {:.0} ms, slowest {:.0} ms of the 2000 ms Auto Scaling allows; {total} calls: {}",
        ms(latencies[2]),
        ms(latencies[4]),
        describe(&calls)
    );
    results.insert("termination_policy.calls".into(), json!(calls));
    results.insert("termination_policy.median_ms".into(), json!(ms(latencies[2])));
}
