//! End to end against the AWS emulator: seed clusters, instances, services and reservation metrics, run the
//! real handler with real SDK clients, then read the ScaleStatus datapoints back from CloudWatch.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, Utc};
use ecs_scaler_aws::seed::{Seeder, ServiceSpec, sdk_config};
use ecs_scaler_aws::{AutoScaling, CloudWatch, Ecs};
use ecs_scaler_core::config::EnvConfig;
use ecs_scaler_core::ports::{Context, FixedClock};
use ecs_scaler_core::scale::{Summary, TickError};
use ecs_scaler_core::{Reason, ScaleStatus};
use ecs_scaler_testkit::{Emulator, Fault};
use scale_status::{Error, handle};
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

async fn run(emulator: &Emulator, env: &EnvConfig, now: DateTime<Utc>) -> Result<Summary, Error> {
    let sdk = sdk_config(emulator.url()).await;
    let (ecs, autoscaling, metrics) = (Ecs::from_conf(&sdk), AutoScaling::from_conf(&sdk), CloudWatch::from_conf(&sdk));
    let ec2 = ecs_scaler_aws::Ec2::from_conf(&sdk);
    let ctx = Context { ecs: &ecs, autoscaling: &autoscaling, ec2: &ec2, metrics: &metrics, clock: &FixedClock(now) };
    handle(&json!({}), env, ctx).await
}

async fn scale_status_values(seeder: &Seeder, cluster: &str, now: DateTime<Utc>) -> Vec<f64> {
    let window = Duration::minutes(5);
    seeder.cluster_metric("Curalate/AutoScaling", "ScaleStatus", cluster, now - window, now + window).await.unwrap()
}

#[tokio::test]
async fn one_run_publishes_the_right_scale_status_for_every_kind_of_cluster() {
    let emulator = Emulator::shared();
    let seeder = Seeder::new(&sdk_config(emulator.url()).await);
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
    assert!(
        !summary.clusters.iter().any(|r| r.cluster == "e2e-tagged"),
        "a deployment that names clusters ignores tags"
    );

    // A deployment that names no cluster finds the tagged one, with the threshold from its tag (90% < 95%).
    let discovered = run(emulator, &env(""), now).await.unwrap();
    let names: Vec<&str> = discovered.clusters.iter().map(|r| r.cluster.as_str()).collect();
    assert_eq!(names, ["e2e-tagged"]);
    assert_eq!(
        (discovered.clusters[0].scale_status, discovered.clusters[0].reason),
        (Some(ScaleStatus::Stay), Reason::WithinThresholds)
    );
    assert_eq!(scale_status_values(&seeder, "e2e-tagged", now).await, [1.0]);
}

#[tokio::test]
async fn a_tick_costs_one_call_per_api_page_not_per_cluster() {
    let emulator = Emulator::start().unwrap();
    let seeder = Seeder::new(&sdk_config(emulator.url()).await);
    let now = Utc::now();
    let names: Vec<String> = (0..10).map(|i| format!("calls-{i}")).collect();
    for name in &names {
        // Above max with no services: the bare cost of a tick.
        seeder.scaled_cluster(name, &[], 2, Some((80.0, 10.0)), now - Duration::minutes(1)).await.unwrap();
    }
    emulator.clear_calls().unwrap();
    let summary = run(&emulator, &env(&names.join(",")), now).await.unwrap();
    assert_eq!(summary.emitted, 10);
    let operations: Vec<String> = emulator.calls().unwrap().into_iter().map(|c| c.operation).collect();
    // The clusters are named, so the account is not listed. One ListServices page each: the placement check
    // runs even above max, since waiting tasks size the scale-out; with no service short nothing more is read.
    // The clusters say 2, so one DescribeAutoScalingGroups (for all of them) looks for instances launching.
    let mut expected = vec!["DescribeClusters", "GetMetricData"];
    expected.extend(["ListServices"; 10]);
    expected.extend(["DescribeAutoScalingGroups", "PutMetricData"]);
    // Which cluster's plan reads the groups first depends on the order the clusters finish: count, not order.
    let mut operations = operations;
    operations.sort();
    expected.sort_unstable();
    assert_eq!(operations, expected);
}

/// Production failure modes: tasks no instance could take, idle clusters, DRAINING instances.
#[tokio::test]
async fn tasks_no_instance_could_hold_and_daemons_never_scale_the_cluster_up() {
    let emulator = Emulator::start().unwrap();
    let seeder = Seeder::new(&sdk_config(emulator.url()).await);
    let now = Utc::now();
    let minute_ago = now - Duration::minutes(1);
    // Three m5.xlarge-sized instances (4096 CPU units, 16384 MiB), nearly empty.
    seeder.scaled_cluster("huge", &[], 3, Some((10.0, 10.0)), minute_ago).await.unwrap();
    let huge = seeder.task_definition("huge-batch", 8192, 4096).await.unwrap();
    for name in ["batch", "batch-copy"] {
        seeder.service("huge", &huge, &ServiceSpec::replica(name, 2, 100)).await.unwrap();
        let message = format!(
            "(service {name}) was unable to place a task because no container instance met all of its requirements."
        );
        emulator.service_event("huge", name, &message, minute_ago.timestamp() as f64).unwrap();
    }
    let logs = seeder.task_definition("huge-logs", 128, 256).await.unwrap();
    seeder.service("huge", &logs, &ServiceSpec::daemon("logs")).await.unwrap();
    emulator
        .service_event(
            "huge",
            "logs",
            "(service logs) was unable to place a task because no container instance met all of its requirements.",
            minute_ago.timestamp() as f64,
        )
        .unwrap();
    emulator.clear_calls().unwrap();

    let summary = run(&emulator, &env("huge"), now).await.unwrap();
    let report = &summary.clusters[0];
    // The reservations decide alone: 10% on 3 instances goes down, instead of climbing to max_size.
    assert_eq!(
        (report.scale_status, report.reason),
        (Some(ScaleStatus::Down), Reason::BothBelowMin),
        "{}",
        report.detail
    );
    let unplaceable: Vec<&str> = report.unplaceable.iter().map(|u| u.service.as_str()).collect();
    assert_eq!(unplaceable, ["batch", "batch-copy"], "the daemon is not there: more instances never place a daemon");
    assert_eq!(
        report.unplaceable[0].to_string(),
        format!(
            "service batch needs 8192 CPU units and 4096 MiB per task ({huge}), but no instance type the cluster's groups launch can hold it (m5.xlarge offers 3968 CPU units and 16128 MiB and lacks CPU): more instances cannot place it"
        )
    );
    assert_eq!(scale_status_values(&seeder, "huge", now).await, [0.0]);
    let calls = emulator.calls().unwrap();
    let count = |operation: &str| calls.iter().filter(|c| c.operation == operation).count();
    // One per distinct task definition: the short services' one, the daemon's (its share of a fresh instance),
    // and (the status being 0, so the surplus is counted) the one task running on the instances it judged.
    assert_eq!(count("DescribeTaskDefinition"), 3, "one per distinct task definition read");
    assert_eq!(count("DescribeContainerInstances"), 1, "3 instances: one page, shared by every step");
}

#[tokio::test]
async fn an_idle_cluster_scales_down_and_a_waiting_one_publishes_nothing() {
    let emulator = Emulator::shared();
    let seeder = Seeder::new(&sdk_config(emulator.url()).await);
    let now = Utc::now();
    // Instances, no task, no service short: ECS publishes no reservation, which is known to be 0.
    seeder.idle_cluster("e2e-night", &[], 3).await.unwrap();
    // The same, but a service wants tasks ECS has not started: missing data stays missing.
    seeder.idle_cluster("e2e-waiting", &[], 3).await.unwrap();
    let definition = seeder.task_definition("e2e-waiting-api", 256, 512).await.unwrap();
    seeder.service("e2e-waiting", &definition, &ServiceSpec::replica("api", 2, 100)).await.unwrap();
    // One instance, idle: never below one.
    seeder.idle_cluster("e2e-last", &[], 1).await.unwrap();

    let summary = run(emulator, &env("e2e-night,e2e-waiting,e2e-last"), now).await.unwrap();
    let find = |name: &str| summary.clusters.iter().find(|r| r.cluster == name).unwrap();
    let night = find("e2e-night");
    assert_eq!((night.scale_status, night.reason), (Some(ScaleStatus::Down), Reason::BothBelowMin), "{}", night.detail);
    assert_eq!((night.cpu, night.memory), (Some(0.0), Some(0.0)));
    assert!(night.detail.ends_with("(no task runs in the cluster)"), "{}", night.detail);
    assert_eq!(scale_status_values(&seeder, "e2e-night", now).await, [0.0]);
    assert_eq!((find("e2e-waiting").scale_status, find("e2e-waiting").reason), (None, Reason::NoData));
    assert!(scale_status_values(&seeder, "e2e-waiting", now).await.is_empty());
    assert_eq!(
        (find("e2e-last").scale_status, find("e2e-last").reason),
        (Some(ScaleStatus::Stay), Reason::ScaleDownGuard)
    );
}

#[tokio::test]
async fn the_scale_down_guard_counts_draining_instances_out_with_one_page_only_when_consulted() {
    let emulator = Emulator::start().unwrap();
    let seeder = Seeder::new(&sdk_config(emulator.url()).await);
    let now = Utc::now();
    let minute_ago = now - Duration::minutes(1);
    // 30% of 4 registered instances; 2 of them DRAINING. Counting all 4, one less would be 40% (< 75%): down.
    // Only 2 are ACTIVE, so one less leaves one carrying 30 × 4/1 = 120%: stay.
    let instances = seeder.scaled_cluster("drain-guard", &[], 4, Some((30.0, 30.0)), minute_ago).await.unwrap();
    let leaving: Vec<String> = instances[2..].iter().map(|i| i.container_instance_arn.clone()).collect();
    seeder.set_draining("drain-guard", &leaving).await.unwrap();
    // Between the thresholds: the guard is not consulted, so the DRAINING instances are not read (and at 60%,
    // one instance less would be 80%, above the max, so consolidation reads nothing either).
    seeder.scaled_cluster("drain-between", &[], 4, Some((60.0, 60.0)), minute_ago).await.unwrap();
    emulator.clear_calls().unwrap();

    let summary = run(&emulator, &env("drain-guard,drain-between"), now).await.unwrap();
    let guard = summary.clusters.iter().find(|r| r.cluster == "drain-guard").unwrap();
    assert_eq!((guard.scale_status, guard.reason), (Some(ScaleStatus::Stay), Reason::ScaleDownGuard));
    assert_eq!(guard.draining, Some(2));
    assert!(guard.detail.contains("removing 1 of 2 ACTIVE (2 of 4 registered DRAINING) instances"), "{}", guard.detail);
    let lists = emulator.calls().unwrap().into_iter().filter(|c| c.operation == "ListContainerInstances").count();
    assert_eq!(lists, 1, "one page, for the one cluster whose guard was consulted");
}

#[tokio::test]
async fn two_deployments_each_publish_one_datapoint_per_tick_for_their_own_cluster() {
    let emulator = Emulator::start().unwrap();
    let seeder = Seeder::new(&sdk_config(emulator.url()).await);
    let now = Utc::now();
    let minute_ago = now - Duration::minutes(1);
    // Both clusters carry the discovery tag, as the example tags its cluster.
    let tagged = [("ecs-scaler:enabled", "true")];
    seeder.scaled_cluster("team-a", &tagged, 3, Some((80.0, 50.0)), minute_ago).await.unwrap();
    seeder.scaled_cluster("team-b", &tagged, 3, Some((80.0, 50.0)), minute_ago).await.unwrap();
    let deployment = |cluster: &str, cpu_max: &str| {
        EnvConfig::from_vars([
            ("CLUSTERS", cluster),
            ("CPU_MIN", "40"),
            ("CPU_MAX", cpu_max),
            ("MEMORY_MIN", "40"),
            ("MEMORY_MAX", "90"),
        ])
    };
    // Team A scales up at 95% CPU, team B at 70%: the same 80% is a 1 for one and a 2 for the other.
    let a = run(&emulator, &deployment("team-a", "95"), now).await.unwrap();
    let b = run(&emulator, &deployment("team-b", "70"), now).await.unwrap();
    assert_eq!((a.emitted, b.emitted), (1, 1));
    assert_eq!(scale_status_values(&seeder, "team-a", now).await, [1.0]);
    assert_eq!(scale_status_values(&seeder, "team-b", now).await, [2.0]);
    let failed = emulator.calls().unwrap().into_iter().filter(|c| c.status >= 400).count();
    assert_eq!(failed, 0, "no call failed");
}

#[tokio::test]
async fn throttled_metric_reads_are_retried_and_then_succeed() {
    let emulator = Emulator::start().unwrap();
    let seeder = Seeder::new(&sdk_config(emulator.url()).await);
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
    let seeder = Seeder::new(&sdk_config(emulator.url()).await);
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
    assert!(matches!(error, Error::Tick(TickError::NothingEvaluated(_))), "{error}");
    let calls = emulator.calls().unwrap();
    assert_eq!(calls.iter().filter(|c| c.operation == "GetMetricData").count(), 4, "bounded: 1 call + 3 retries");
    assert!(!calls.iter().any(|c| c.operation == "PutMetricData"));
}
