//! `ecs-scaler status` end to end against the AWS emulator: the same kind of seeded clusters as the Lambda's
//! own tests, and the CLI must agree with what `scale_status::handle` publishes, without publishing anything.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use chrono::{DateTime, Duration, Utc};
use ecs_scaler_aws::seed::{Seeder, ServiceSpec, sdk_config};
use ecs_scaler_aws::{CloudWatch, Ecs};
use ecs_scaler_core::config::EnvConfig;
use ecs_scaler_core::ports::{Context, FixedClock};
use ecs_scaler_core::{Reason, ScaleStatus};
use ecs_scaler_testkit::Emulator;
use serde_json::{Value, json};

const THRESHOLDS: [(&str, &str); 4] =
    [("CPU_MIN", "40"), ("CPU_MAX", "75"), ("MEMORY_MIN", "40"), ("MEMORY_MAX", "75")];

fn env(clusters: &str) -> EnvConfig {
    EnvConfig::from_vars(THRESHOLDS.into_iter().chain([("CLUSTERS", clusters)]))
}

/// Clusters covering every kind of decision: up on a metric, down, the guard, between, no data, stale data,
/// a bad tag, and tasks ECS could not place. Returns their names.
async fn seed_every_kind(emulator: &Emulator, seeder: &Seeder, prefix: &str, now: DateTime<Utc>) -> Vec<String> {
    let minute_ago = now - Duration::minutes(1);
    let name = |suffix: &str| format!("{prefix}-{suffix}");
    seeder.scaled_cluster(&name("hot"), &[], 3, Some((90.0, 30.0)), minute_ago).await.unwrap();
    seeder.scaled_cluster(&name("idle"), &[], 4, Some((10.0, 20.0)), minute_ago).await.unwrap();
    seeder.scaled_cluster(&name("guard"), &[], 2, Some((39.0, 30.0)), minute_ago).await.unwrap();
    seeder
        .scaled_cluster(&name("between"), &[("ecs-scaler:memory-max", "90")], 3, Some((50.0, 50.0)), minute_ago)
        .await
        .unwrap();
    seeder.scaled_cluster(&name("dark"), &[], 3, None, minute_ago).await.unwrap();
    seeder.scaled_cluster(&name("stale"), &[], 3, Some((10.0, 10.0)), now - Duration::minutes(8)).await.unwrap();
    seeder
        .scaled_cluster(&name("badtag"), &[("ecs-scaler:cpu-min", "forty")], 3, Some((10.0, 10.0)), minute_ago)
        .await
        .unwrap();
    let unplaced = name("unplaced");
    seeder.scaled_cluster(&unplaced, &[], 2, Some((30.0, 30.0)), minute_ago).await.unwrap();
    let task_definition = seeder.task_definition(&format!("{prefix}-api"), 1024, 2048).await.unwrap();
    seeder.service(&unplaced, &task_definition, &ServiceSpec::replica("api", 3, 100)).await.unwrap();
    let instances = seeder.ecs.list_container_instances().cluster(&unplaced).send().await.unwrap();
    let first = &instances.container_instance_arns()[0];
    seeder.start_task(&unplaced, &task_definition, first, Some("service:api")).await.unwrap();
    let message = "(service api) was unable to place a task because no container instance met all of its requirements.";
    emulator.service_event(&unplaced, "api", message, minute_ago.timestamp() as f64).unwrap();
    ["hot", "idle", "guard", "between", "dark", "stale", "badtag", "unplaced"].into_iter().map(name).collect()
}

/// The ScaleStatus datapoints CloudWatch holds for a cluster around `now`.
async fn published(seeder: &Seeder, cluster: &str, now: DateTime<Utc>) -> Vec<f64> {
    let window = Duration::minutes(5);
    seeder.cluster_metric("Curalate/AutoScaling", "ScaleStatus", cluster, now - window, now + window).await.unwrap()
}

/// Run the built binary against the emulator with only the variables given.
fn ecs_scaler(emulator: &Emulator, extra_env: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ecs-scaler"))
        .env_clear()
        .envs(emulator.lambda_env())
        .envs(extra_env.iter().copied())
        .args(args)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn status_agrees_with_the_lambda_for_every_kind_of_cluster_and_publishes_nothing() {
    let emulator = Emulator::shared();
    let sdk = sdk_config(emulator.url()).await;
    let seeder = Seeder::new(&sdk);
    let now = Utc::now();
    let clusters = seed_every_kind(emulator, &seeder, "cli", now).await;
    let listed = clusters.join(",");

    // The library path and the binary, before the Lambda runs: nothing may be published by either.
    let (metrics, ecs) = (CloudWatch::from_conf(&sdk), Ecs::from_conf(&sdk));
    let autoscaling = ecs_scaler_aws::AutoScaling::from_conf(&sdk);
    let ec2 = ecs_scaler_aws::Ec2::from_conf(&sdk);
    let ctx = Context { ecs: &ecs, autoscaling: &autoscaling, ec2: &ec2, metrics: &metrics, clock: &FixedClock(now) };
    let evaluation = ecs_scaler_cli::status::evaluate(&[], &env(&listed), ctx).await.unwrap();
    let mut vars: Vec<(&str, &str)> = THRESHOLDS.to_vec();
    vars.push(("CLUSTERS", &listed));
    let (ok, stdout, stderr) = ecs_scaler(emulator, &vars, &["status", "--json"]);
    assert!(ok, "ecs-scaler status failed: {stderr}");
    let printed: Value = serde_json::from_str(&stdout).unwrap();
    for cluster in &clusters {
        assert!(published(&seeder, cluster, now).await.is_empty(), "{cluster}: status published a datapoint");
    }

    let summary = scale_status::handle(&json!({}), &env(&listed), ctx).await.unwrap();
    for cluster in &clusters {
        let lambda = summary.clusters.iter().find(|r| &r.cluster == cluster).unwrap();
        let library = evaluation.clusters.iter().find(|r| &r.cluster == cluster).unwrap();
        assert_eq!(
            (library.scale_status, library.reason, &library.detail),
            (lambda.scale_status, lambda.reason, &lambda.detail),
            "{cluster}"
        );
        let row = printed["clusters"].as_array().unwrap().iter().find(|r| r["cluster"] == cluster.as_str()).unwrap();
        let expected_status = lambda.scale_status.map_or(Value::Null, |s| json!(s as u8));
        assert_eq!(row["scale_status"], expected_status, "{cluster}: binary vs Lambda");
        assert_eq!(row["reason"], json!(lambda.reason.to_string()), "{cluster}: binary vs Lambda");
    }
    // The decisions are the interesting ones, not all the same.
    let find = |suffix: &str| summary.clusters.iter().find(|r| r.cluster == format!("cli-{suffix}")).unwrap();
    assert_eq!((find("hot").scale_status, find("hot").reason), (Some(ScaleStatus::Up), Reason::CpuAboveMax));
    assert_eq!(find("guard").reason, Reason::ScaleDownGuard);
    assert_eq!(find("unplaced").reason, Reason::UnplacedTasks);
    assert_eq!(find("badtag").reason, Reason::ConfigError);
}

#[tokio::test]
async fn the_status_table_names_thresholds_with_their_origin_and_only_the_clusters_asked_for() {
    let emulator = Emulator::shared();
    let seeder = Seeder::new(&sdk_config(emulator.url()).await);
    let minute_ago = Utc::now() - Duration::minutes(1);
    seeder
        .scaled_cluster("cli-table-a", &[("ecs-scaler:cpu-max", "95")], 3, Some((90.0, 30.0)), minute_ago)
        .await
        .unwrap();
    seeder.scaled_cluster("cli-table-b", &[], 3, Some((10.0, 10.0)), minute_ago).await.unwrap();

    let (ok, stdout, stderr) = ecs_scaler(
        emulator,
        &[("CPU_MIN", "30"), ("CLUSTERS", "cli-table-b")],
        &["status", "--cluster", "cli-table-a"],
    );
    assert!(ok, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("CLUSTER"), "{stdout}");
    assert_eq!(lines.len(), 2, "--cluster replaces CLUSTERS and shows only the cluster asked for:\n{stdout}");
    let row = lines[1];
    assert!(row.starts_with("cli-table-a"), "{row}");
    // CPU min from the environment, max from the tag; memory all defaults. 90% < 95%: stay.
    assert!(row.contains("30 (env CPU_MIN)–95 (tag ecs-scaler:cpu-max)"), "{row}");
    assert!(row.contains("(default)"), "{row}");
    assert!(row.contains("within_thresholds"), "{row}");
}
