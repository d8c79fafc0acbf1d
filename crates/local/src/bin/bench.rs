//! `make bench`: the figures the issues ask for, measured on the AWS emulator.
//! - zip size, cold start (process start to first response) and peak RSS of the real release binaries;
//! - AWS calls per scale-status tick for 1, 10, 100 and 300 clusters;
//! - AWS calls per drain readiness check for a cluster with 50 services, 500 tasks and 20 instances.
//!
//! Results are printed and written to `bench-results/bench.json`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use ecs_scaler_aws::{AutoScaling, CloudWatch, Ecs};
use ecs_scaler_core::config::EnvConfig;
use ecs_scaler_core::drain::DrainSettings;
use ecs_scaler_testkit::emulator::repo_root;
use ecs_scaler_testkit::lambda::{bootstrap, invoke};
use ecs_scaler_testkit::{Emulator, HookSpec, Seeder, ServiceSpec};
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
    let seeder = Seeder::new(&emulator.sdk_config().await);
    let names = seed_clusters(&seeder, "cold", 10).await;
    let scale_env = lambda_env(&emulator, &[("CLUSTERS", &names.join(","))]);
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
        let sdk = emulator.sdk_config().await;
        let seeder = Seeder::new(&sdk);
        let names = seed_clusters(&seeder, "tick", n).await;
        for (placement, label) in [("true", "placement on"), ("false", "placement off")] {
            let env = EnvConfig::from_vars([("CLUSTERS", names.join(",").as_str()), ("PLACEMENT_CHECK", placement)]);
            emulator.clear_calls().unwrap();
            let started = Instant::now();
            let summary =
                scale_status::handle(&json!({}), &env, &CloudWatch::from_conf(&sdk), &Ecs::from_conf(&sdk), Utc::now())
                    .await
                    .unwrap();
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
    let sdk = emulator.sdk_config().await;
    let seeder = Seeder::new(&sdk);
    let (instances, on_first) = seed_drain_cluster(&seeder).await;
    seeder
        .autoscaling
        .terminate_instance_in_auto_scaling_group()
        .instance_id(&instances[0])
        .should_decrement_desired_capacity(true)
        .send()
        .await
        .unwrap();
    let settings = DrainSettings::from_vars(Vec::<(String, String)>::new()).unwrap();
    let (ecs, autoscaling, metrics) = (Ecs::from_conf(&sdk), AutoScaling::from_conf(&sdk), CloudWatch::from_conf(&sdk));
    let aws = drain_hook::Aws { ecs: &ecs, autoscaling: &autoscaling, metrics: &metrics };
    let rounds = [
        ("first", "first check (sets DRAINING, records the start)"),
        ("later", "later check"),
        ("release", "releasing check (its tasks stopped; reads its stopping tasks, completes)"),
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
        let summary = drain_hook::handle(&scheduled, &settings, aws, tokio::time::Instant::now()).await.unwrap();
        let elapsed = started.elapsed();
        assert_eq!(summary.checks, 1);
        let released = matches!(summary.instances[0].outcome, drain_hook::Outcome::Completed { .. });
        assert_eq!(released, key == "release", "{round}: {:?}", summary.instances[0]);
        let calls = count_calls(&emulator);
        let total: usize = calls.values().sum();
        println!("{round}: {total} calls in {:.0} ms: {}", ms(elapsed), describe(&calls));
        results.insert(format!("drain_hook.calls.{key}"), json!(calls));
    }

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

/// The drain benchmark's cluster: 20 instances, 50 services of 10 tasks each, spread round-robin. Returns the
/// EC2 instance ids and the tasks on the first instance.
async fn seed_drain_cluster(seeder: &Seeder) -> (Vec<String>, Vec<String>) {
    seeder.cluster("drain-bench", &[]).await.unwrap();
    let hook = HookSpec { name: "drain", heartbeat_timeout: 300, metadata: Some(r#"{"cluster":"drain-bench"}"#) };
    let ids = seeder.group("drain-bench-asg", "drain-bench", 20, Some(hook)).await.unwrap();
    let instances = seeder.register("drain-bench", &ids, 16384, 65536).await.unwrap();
    let task_definition = seeder.task_definition("drain-bench-app", 64, 128).await.unwrap();
    let (mut slot, mut on_first) = (0, Vec::new());
    for s in 0..50 {
        let name = format!("svc-{s}");
        seeder.service("drain-bench", &task_definition, &ServiceSpec::replica(&name, 10, 50)).await.unwrap();
        for _ in 0..10 {
            let on = &instances[slot % instances.len()].container_instance_arn;
            let task =
                seeder.start_task("drain-bench", &task_definition, on, Some(&format!("service:{name}"))).await.unwrap();
            if slot % instances.len() == 0 {
                on_first.push(task);
            }
            slot += 1;
        }
    }
    (ids, on_first)
}
