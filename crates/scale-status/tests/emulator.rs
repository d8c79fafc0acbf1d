//! End to end against the AWS emulator: seed clusters, instances, services and reservation metrics, run the
//! real handler with real SDK clients, then read the ScaleStatus datapoints back from CloudWatch.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, Utc};
use ecs_scaler_aws::{CloudWatch, Ecs};
use ecs_scaler_core::config::EnvConfig;
use ecs_scaler_core::{Reason, ScaleStatus};
use ecs_scaler_testkit::{Emulator, Fault, Seeder, ServiceSpec};
use scale_status::{Summary, TickError, handle};
use serde_json::json;

const UNABLE: &str =
    "(service api) was unable to place a task because no container instance met all of its requirements.";

fn env(clusters: &str) -> EnvConfig {
    EnvConfig::from_vars([
        ("CLUSTERS", clusters),
        ("CPU_MIN", "40"),
        ("CPU_MAX", "75"),
        ("MEMORY_MIN", "40"),
        ("MEMORY_MAX", "75"),
    ])
}

async fn run(emulator: &Emulator, env: &EnvConfig, now: DateTime<Utc>) -> Result<Summary, TickError> {
    let sdk = emulator.sdk_config().await;
    handle(&json!({}), env, &CloudWatch::from_conf(&sdk), &Ecs::from_conf(&sdk), now).await
}

async fn scale_status_values(seeder: &Seeder, cluster: &str, now: DateTime<Utc>) -> Vec<f64> {
    let window = Duration::minutes(5);
    seeder.cluster_metric("Curalate/AutoScaling", "ScaleStatus", cluster, now - window, now + window).await.unwrap()
}

#[tokio::test]
async fn one_run_publishes_the_right_scale_status_for_every_kind_of_cluster() {
    let emulator = Emulator::shared();
    let seeder = Seeder::new(&emulator.sdk_config().await);
    let now = Utc::now();
    let minute_ago = now - Duration::minutes(1);

    seeder.scaled_cluster("e2e-hot", &[], 3, Some((90.0, 30.0)), minute_ago).await.unwrap();
    seeder.scaled_cluster("e2e-idle", &[], 4, Some((10.0, 20.0)), minute_ago).await.unwrap();
    // 39% on 2 instances would be 78% on one: the guard holds it.
    seeder.scaled_cluster("e2e-guard", &[], 2, Some((39.0, 30.0)), minute_ago).await.unwrap();
    seeder.scaled_cluster("e2e-between", &[], 3, Some((50.0, 50.0)), minute_ago).await.unwrap();
    seeder.scaled_cluster("e2e-dark", &[], 3, None, minute_ago).await.unwrap();
    seeder.scaled_cluster("e2e-stale", &[], 3, Some((10.0, 10.0)), now - Duration::minutes(8)).await.unwrap();
    seeder
        .scaled_cluster(
            "e2e-tagged",
            &[("ecs-scaler:enabled", "true"), ("ecs-scaler:cpu-max", "95")],
            3,
            Some((90.0, 30.0)),
            minute_ago,
        )
        .await
        .unwrap();
    seeder
        .scaled_cluster("e2e-badtag", &[("ecs-scaler:cpu-min", "forty")], 3, Some((10.0, 10.0)), minute_ago)
        .await
        .unwrap();

    // Low reservation, but a service short of tasks that ECS could not place.
    seeder.scaled_cluster("e2e-unplaced", &[], 2, Some((30.0, 30.0)), minute_ago).await.unwrap();
    let task_definition = seeder.task_definition("e2e-api", 1024, 2048).await.unwrap();
    seeder.service("e2e-unplaced", &task_definition, &ServiceSpec::replica("api", 3, 100)).await.unwrap();
    let instances = seeder.ecs.list_container_instances().cluster("e2e-unplaced").send().await.unwrap();
    let first_instance = &instances.container_instance_arns()[0];
    seeder.start_task("e2e-unplaced", &task_definition, first_instance, Some("service:api")).await.unwrap();
    emulator.service_event("e2e-unplaced", "api", UNABLE, minute_ago.timestamp() as f64).unwrap();

    let listed = "e2e-hot,e2e-idle,e2e-guard,e2e-between,e2e-dark,e2e-stale,e2e-badtag,e2e-unplaced";
    let summary = run(emulator, &env(listed), now).await.unwrap();

    let expect = [
        ("e2e-hot", Some(ScaleStatus::Up), Reason::CpuAboveMax),
        ("e2e-idle", Some(ScaleStatus::Down), Reason::BothBelowMin),
        ("e2e-guard", Some(ScaleStatus::Stay), Reason::ScaleDownGuard),
        ("e2e-between", Some(ScaleStatus::Stay), Reason::WithinThresholds),
        ("e2e-dark", None, Reason::NoData),
        ("e2e-stale", None, Reason::StaleData),
        ("e2e-tagged", Some(ScaleStatus::Stay), Reason::WithinThresholds),
        ("e2e-badtag", None, Reason::ConfigError),
        ("e2e-unplaced", Some(ScaleStatus::Up), Reason::UnplacedTasks),
    ];
    for (cluster, status, reason) in expect {
        let report =
            summary.clusters.iter().find(|r| r.cluster == cluster).unwrap_or_else(|| panic!("{cluster} missing"));
        assert_eq!((report.scale_status, report.reason), (status, reason), "{cluster}: {}", report.detail);
        let published = scale_status_values(&seeder, cluster, now).await;
        let expected: Vec<f64> = status.map(ScaleStatus::metric_value).into_iter().collect();
        assert_eq!(published, expected, "{cluster}: datapoints read back from CloudWatch");
    }
    let guard = summary.clusters.iter().find(|r| r.cluster == "e2e-guard").unwrap();
    assert_eq!(guard.instances, Some(2));
    let badtag = summary.clusters.iter().find(|r| r.cluster == "e2e-badtag").unwrap();
    assert_eq!(badtag.detail, r#"tag ecs-scaler:cpu-min="forty" is not a number"#);
}

#[tokio::test]
async fn a_tick_costs_one_call_per_api_page_not_per_cluster() {
    let emulator = Emulator::start().unwrap();
    let seeder = Seeder::new(&emulator.sdk_config().await);
    let now = Utc::now();
    let names: Vec<String> = (0..10).map(|i| format!("calls-{i}")).collect();
    for name in &names {
        // Above max, so no placement check is needed: the bare cost of a tick.
        seeder.scaled_cluster(name, &[], 2, Some((80.0, 10.0)), now - Duration::minutes(1)).await.unwrap();
    }
    emulator.clear_calls().unwrap();
    let summary = run(&emulator, &env(&names.join(",")), now).await.unwrap();
    assert_eq!(summary.emitted, 10);
    let operations: Vec<String> = emulator.calls().unwrap().into_iter().map(|c| c.operation).collect();
    assert_eq!(operations, ["ListClusters", "DescribeClusters", "GetMetricData", "PutMetricData"]);
}

#[tokio::test]
async fn throttled_metric_reads_are_retried_and_then_succeed() {
    let emulator = Emulator::start().unwrap();
    let seeder = Seeder::new(&emulator.sdk_config().await);
    let now = Utc::now();
    seeder.scaled_cluster("retry", &[], 3, Some((90.0, 10.0)), now - Duration::minutes(1)).await.unwrap();
    emulator.inject(&Fault::throttling("cloudwatch", "GetMetricData", 2)).unwrap();
    let summary = run(&emulator, &env("retry"), now).await.unwrap();
    assert_eq!(summary.clusters[0].scale_status, Some(ScaleStatus::Up));
    let attempts = emulator.calls().unwrap().iter().filter(|c| c.operation == "GetMetricData").count();
    assert_eq!(attempts, 3);
}

#[tokio::test]
async fn failed_reads_never_publish_a_scale_status() {
    let emulator = Emulator::start().unwrap();
    let seeder = Seeder::new(&emulator.sdk_config().await);
    let now = Utc::now();
    seeder.scaled_cluster("quiet", &[], 3, Some((10.0, 10.0)), now - Duration::minutes(1)).await.unwrap();
    seeder.scaled_cluster("busy", &[], 3, Some((90.0, 10.0)), now - Duration::minutes(1)).await.unwrap();

    // ECS keeps failing ListServices: the quiet cluster would be a 0, but unplaced tasks cannot be ruled out.
    emulator.inject(&Fault::unavailable("ecs", "ListServices", 100)).unwrap();
    let summary = run(&emulator, &env("quiet,busy"), now).await.unwrap();
    let quiet = summary.clusters.iter().find(|r| r.cluster == "quiet").unwrap();
    assert_eq!((quiet.scale_status, quiet.reason), (None, Reason::ReadFailed), "{}", quiet.detail);
    assert!(scale_status_values(&seeder, "quiet", now).await.is_empty());
    assert_eq!(scale_status_values(&seeder, "busy", now).await, [2.0]);

    // CloudWatch keeps throttling: nothing can be decided, the invocation fails, nothing is published.
    emulator.inject(&Fault::throttling("cloudwatch", "GetMetricData", 100)).unwrap();
    emulator.clear_calls().unwrap();
    let error = run(&emulator, &env("quiet,busy"), now + Duration::seconds(60)).await.unwrap_err();
    assert!(matches!(error, TickError::NothingEvaluated(_)), "{error}");
    let calls = emulator.calls().unwrap();
    assert_eq!(calls.iter().filter(|c| c.operation == "GetMetricData").count(), 4, "bounded: 1 call + 3 retries");
    assert!(!calls.iter().any(|c| c.operation == "PutMetricData"));
}
