//! The scale-status tick against an in-memory AWS: which clusters, which decisions, what gets published, and
//! what happens when reads or configuration fail. The same tick runs against the emulator in `emulator.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use ecs_scaler_core::config::EnvConfig;
use ecs_scaler_core::{Reason, ScaleStatus};
use ecs_scaler_testkit::FakeCloud;
use scale_status::{Summary, TickError, handle};
use serde_json::{Value, json};

const UNABLE: &str =
    "(service api) was unable to place a task because no container instance met all of its requirements.";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).single().unwrap()
}

fn minute_ago() -> DateTime<Utc> {
    now() - Duration::minutes(1)
}

fn env(pairs: &[(&str, &str)]) -> EnvConfig {
    let mut vars = vec![("CPU_MIN", "40"), ("CPU_MAX", "75"), ("MEMORY_MIN", "40"), ("MEMORY_MAX", "75")];
    vars.extend_from_slice(pairs);
    EnvConfig::from_vars(vars)
}

fn scheduled_event() -> Value {
    json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2026-11-22T10:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/scale-status"], "detail": {}
    })
}

async fn tick(cloud: &FakeCloud, env: &EnvConfig, event: Value) -> Result<Summary, TickError> {
    handle(&event, env, cloud, cloud, now()).await
}

fn decision(summary: &Summary, cluster: &str) -> (Option<ScaleStatus>, Reason) {
    let report =
        summary.clusters.iter().find(|r| r.cluster == cluster).unwrap_or_else(|| panic!("no report for {cluster}"));
    (report.scale_status, report.reason)
}

fn published(cloud: &FakeCloud) -> Vec<(String, f64)> {
    let mut values: Vec<_> = cloud.published().into_iter().map(|(_, m)| (m.cluster, m.value)).collect();
    values.sort_by(|a, b| a.0.cmp(&b.0));
    values
}

#[tokio::test]
async fn one_tick_decides_every_listed_cluster_and_publishes_in_one_call() {
    let cloud = FakeCloud::new()
        .with_cluster("hot", 4, &[])
        .with_reservations("hot", 80.0, 20.0, minute_ago())
        .with_cluster("idle", 5, &[])
        .with_reservations("idle", 10.0, 30.0, minute_ago())
        .with_cluster("pair", 2, &[])
        .with_reservations("pair", 39.0, 10.0, minute_ago())
        .with_cluster("steady", 3, &[])
        .with_reservations("steady", 50.0, 50.0, minute_ago())
        .with_cluster("dark", 3, &[])
        .with_cluster("full", 3, &[])
        .with_reservations("full", 50.0, 60.0, minute_ago())
        .with_service("full", "api", 4, 2, &[(minute_ago(), UNABLE)]);
    let env = env(&[("CLUSTERS", "hot,idle,pair,steady,dark,full")]);

    let summary = tick(&cloud, &env, scheduled_event()).await.unwrap();

    assert_eq!(decision(&summary, "hot"), (Some(ScaleStatus::Up), Reason::CpuAboveMax));
    assert_eq!(decision(&summary, "idle"), (Some(ScaleStatus::Down), Reason::BothBelowMin));
    assert_eq!(decision(&summary, "pair"), (Some(ScaleStatus::Stay), Reason::ScaleDownGuard));
    assert_eq!(decision(&summary, "steady"), (Some(ScaleStatus::Stay), Reason::WithinThresholds));
    assert_eq!(decision(&summary, "dark"), (None, Reason::NoData));
    assert_eq!(decision(&summary, "full"), (Some(ScaleStatus::Up), Reason::UnplacedTasks));
    assert_eq!(
        published(&cloud),
        [("full".into(), 2.0), ("hot".into(), 2.0), ("idle".into(), 0.0), ("pair".into(), 1.0), ("steady".into(), 1.0)]
    );
    assert_eq!((summary.emitted, summary.put_metric_data_calls), (5, 1));
    assert_eq!(cloud.calls("GetMetricData"), 1);
    assert!(
        cloud.published().iter().all(|(namespace, m)| namespace == "Curalate/AutoScaling" && m.name == "ScaleStatus")
    );
}

#[tokio::test]
async fn the_summary_names_the_fields_operators_look_for() {
    let cloud = FakeCloud::new().with_cluster("a", 3, &[]).with_reservations("a", 80.0, 20.0, minute_ago());
    let summary = tick(&cloud, &env(&[("CLUSTERS", "a")]), json!({})).await.unwrap();
    let json = serde_json::to_value(&summary).unwrap();
    let entry = &json["clusters"][0];
    assert_eq!(entry["cluster"], "a");
    assert_eq!(entry["cpu"], 80.0);
    assert_eq!(entry["memory"], 20.0);
    assert_eq!(entry["instances"], 3);
    assert_eq!(entry["scale_status"], 2);
    assert_eq!(entry["reason"], "cpu_above_max");
    assert_eq!(entry["settings"]["cpu"]["max"]["origin"], "env CPU_MAX");
}

#[tokio::test]
async fn the_placement_check_is_skipped_when_metrics_already_scale_up_or_it_is_off() {
    let cloud = FakeCloud::new().with_cluster("hot", 4, &[]).with_reservations("hot", 90.0, 20.0, minute_ago());
    tick(&cloud, &env(&[("CLUSTERS", "hot")]), json!({})).await.unwrap();
    assert_eq!(cloud.calls("DescribeServices"), 0);

    let cloud = FakeCloud::new()
        .with_cluster("full", 3, &[])
        .with_reservations("full", 50.0, 50.0, minute_ago())
        .with_service("full", "api", 4, 2, &[(minute_ago(), UNABLE)]);
    let summary = tick(&cloud, &env(&[("CLUSTERS", "full"), ("PLACEMENT_CHECK", "false")]), json!({})).await.unwrap();
    assert_eq!(cloud.calls("DescribeServices"), 0);
    assert_eq!(decision(&summary, "full"), (Some(ScaleStatus::Stay), Reason::WithinThresholds));
}

#[tokio::test]
async fn unplaced_tasks_scale_up_a_cluster_without_metrics() {
    // A cluster with no instances publishes no reservation metrics at all; only the placement signal can grow it.
    let cloud =
        FakeCloud::new().with_cluster("empty", 0, &[]).with_service("empty", "api", 2, 0, &[(minute_ago(), UNABLE)]);
    let summary = tick(&cloud, &env(&[("CLUSTERS", "empty")]), json!({})).await.unwrap();
    assert_eq!(decision(&summary, "empty"), (Some(ScaleStatus::Up), Reason::UnplacedTasks));
    assert_eq!(published(&cloud), [("empty".into(), 2.0)]);
}

#[tokio::test]
async fn a_failed_service_read_publishes_nothing_for_that_cluster() {
    let cloud = FakeCloud::new()
        .with_cluster("idle", 5, &[])
        .with_reservations("idle", 10.0, 10.0, minute_ago())
        .with_cluster("hot", 5, &[])
        .with_reservations("hot", 90.0, 10.0, minute_ago())
        .failing("DescribeServices");
    let summary = tick(&cloud, &env(&[("CLUSTERS", "idle,hot")]), json!({})).await.unwrap();
    assert_eq!(decision(&summary, "idle"), (None, Reason::ReadFailed));
    let detail = &summary.clusters.iter().find(|r| r.cluster == "idle").unwrap().detail;
    assert!(detail.contains("DescribeServices failed"), "{detail}");
    assert_eq!(published(&cloud), [("hot".into(), 2.0)], "the idle cluster must not get a 0");
}

#[tokio::test]
async fn failed_metric_reads_fail_the_invocation_and_publish_nothing() {
    let cloud = FakeCloud::new()
        .with_cluster("a", 5, &[])
        .with_reservations("a", 10.0, 10.0, minute_ago())
        .failing("GetMetricData");
    let error = tick(&cloud, &env(&[("CLUSTERS", "a")]), json!({})).await.unwrap_err();
    assert!(matches!(error, TickError::NothingEvaluated(_)), "{error}");
    assert_eq!(cloud.calls("PutMetricData"), 0);
}

#[tokio::test]
async fn stale_datapoints_publish_nothing() {
    let cloud =
        FakeCloud::new().with_cluster("a", 5, &[]).with_reservations("a", 10.0, 10.0, now() - Duration::minutes(8));
    let summary = tick(&cloud, &env(&[("CLUSTERS", "a")]), json!({})).await.unwrap();
    assert_eq!(decision(&summary, "a"), (None, Reason::StaleData));
    assert_eq!(cloud.calls("PutMetricData"), 0);
}

#[tokio::test]
async fn bad_configuration_is_reported_per_cluster_and_the_others_still_run() {
    let cloud = FakeCloud::new()
        .with_cluster("good", 5, &[])
        .with_reservations("good", 80.0, 10.0, minute_ago())
        .with_cluster("typo", 5, &[("ecs-scaler:cpu-max", "eighty")])
        .with_reservations("typo", 80.0, 10.0, minute_ago());
    let summary = tick(&cloud, &env(&[("CLUSTERS", "good,typo,ghost")]), json!({})).await.unwrap();

    let detail = |cluster: &str| summary.clusters.iter().find(|r| r.cluster == cluster).unwrap().detail.clone();
    assert_eq!(decision(&summary, "typo"), (None, Reason::ConfigError));
    assert_eq!(detail("typo"), r#"tag ecs-scaler:cpu-max="eighty" is not a number"#);
    assert_eq!(decision(&summary, "ghost"), (None, Reason::ConfigError));
    assert_eq!(detail("ghost"), "the ECS cluster does not exist (MISSING)");
    assert_eq!(published(&cloud), [("good".into(), 2.0)]);
}

#[tokio::test]
async fn min_at_or_above_max_is_a_config_error_naming_both_sources() {
    let cloud = FakeCloud::new().with_cluster("a", 5, &[("ecs-scaler:memory-min", "80")]);
    let input = json!({"clusters": [{"name": "a"}]});
    let error = tick(&cloud, &env(&[]), input).await.unwrap_err();
    assert!(matches!(error, TickError::NothingEvaluated(_)));
    let cloud = FakeCloud::new()
        .with_cluster("a", 5, &[("ecs-scaler:memory-min", "80")])
        .with_cluster("b", 5, &[])
        .with_reservations("b", 50.0, 50.0, minute_ago());
    let summary = tick(&cloud, &env(&[("CLUSTERS", "a,b")]), json!({})).await.unwrap();
    let a = summary.clusters.iter().find(|r| r.cluster == "a").unwrap();
    assert_eq!(a.detail, "memory min 80 (tag ecs-scaler:memory-min) must be below max 75 (env MEMORY_MAX)");
}

#[tokio::test]
async fn clusters_tagged_enabled_are_managed_with_their_tag_thresholds() {
    let cloud = FakeCloud::new()
        .with_cluster("tagged", 4, &[("ecs-scaler:enabled", "true"), ("ecs-scaler:cpu-max", "95")])
        .with_reservations("tagged", 80.0, 10.0, minute_ago())
        .with_cluster("untagged", 4, &[])
        .with_reservations("untagged", 80.0, 10.0, minute_ago());
    let summary = tick(&cloud, &env(&[]), json!({})).await.unwrap();
    assert_eq!(summary.clusters.len(), 1, "untagged, unlisted clusters are not managed");
    assert_eq!(decision(&summary, "tagged"), (Some(ScaleStatus::Stay), Reason::WithinThresholds));
}

#[tokio::test]
async fn enabled_false_pauses_a_listed_cluster() {
    let cloud = FakeCloud::new()
        .with_cluster("paused", 4, &[("ecs-scaler:enabled", "false")])
        .with_reservations("paused", 90.0, 10.0, minute_ago())
        .with_cluster("live", 4, &[])
        .with_reservations("live", 90.0, 10.0, minute_ago());
    let summary = tick(&cloud, &env(&[("CLUSTERS", "paused,live")]), json!({})).await.unwrap();
    assert_eq!(decision(&summary, "paused"), (None, Reason::Paused));
    assert_eq!(published(&cloud), [("live".into(), 2.0)]);
}

#[tokio::test]
async fn the_schedule_input_overrides_environment_clusters_thresholds_and_namespace() {
    let cloud = FakeCloud::new()
        .with_cluster("a", 4, &[])
        .with_reservations("a", 80.0, 10.0, minute_ago())
        .with_cluster("b", 4, &[])
        .with_reservations("b", 80.0, 10.0, minute_ago());
    let input = json!({"clusters": [{"name": "b", "cpu": {"min": 40, "max": 90}}], "namespace": "Team/Scaling"});
    let summary = tick(&cloud, &env(&[("CLUSTERS", "a")]), input).await.unwrap();
    assert_eq!(summary.clusters.len(), 1);
    assert_eq!(decision(&summary, "b"), (Some(ScaleStatus::Stay), Reason::WithinThresholds));
    assert_eq!(cloud.published()[0].0, "Team/Scaling");
}

#[tokio::test]
async fn malformed_events_fail_before_any_aws_call() {
    let cloud = FakeCloud::new().with_cluster("a", 4, &[]);
    let cases = [
        (json!({"cluster": [{"name": "a"}]}), "unknown field `cluster`"),
        (json!({"clusters": "a"}), "invalid type: string \"a\", expected a sequence"),
        (json!([1, 2]), "expected a JSON object, got an array"),
        (
            json!({
                "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602", "detail-type": "EC2 Instance State-change Notification",
                "source": "aws.ec2", "account": "123456789012", "time": "2026-11-22T10:00:00Z", "region": "us-east-1",
                "resources": [], "detail": {"instance-id": "i-1", "state": "stopped"}
            }),
            r#"detail-type "EC2 Instance State-change Notification" from source "aws.ec2" is not handled"#,
        ),
    ];
    for (event, expected) in cases {
        let error = tick(&cloud, &env(&[("CLUSTERS", "a")]), event.clone()).await.unwrap_err();
        assert!(matches!(error, TickError::Event(_)), "{event}: {error}");
        assert!(error.to_string().contains(expected), "{event}: {error}");
    }
    assert!(cloud.state().calls.is_empty(), "no AWS call for a malformed event: {:?}", cloud.state().calls);
}

#[tokio::test]
async fn a_bad_namespace_fails_the_invocation() {
    let cloud = FakeCloud::new().with_cluster("a", 4, &[]);
    let error = tick(&cloud, &env(&[("CLUSTERS", "a"), ("SCALE_NAMESPACE", "AWS/ECS")]), json!({})).await.unwrap_err();
    assert!(matches!(error, TickError::Config(_)), "{error}");
    assert!(cloud.state().calls.is_empty());
}

#[tokio::test]
async fn no_managed_cluster_fails_the_invocation() {
    let error = tick(&FakeCloud::new(), &env(&[]), json!({})).await.unwrap_err();
    assert!(matches!(error, TickError::NoClusters), "{error}");
}

#[tokio::test]
async fn a_deployment_that_names_its_clusters_never_lists_the_account_and_ignores_tagged_ones() {
    let cloud = FakeCloud::new()
        .with_cluster("a", 4, &[])
        .with_reservations("a", 90.0, 10.0, minute_ago())
        .with_cluster("theirs", 4, &[("ecs-scaler:enabled", "true")])
        .with_reservations("theirs", 90.0, 10.0, minute_ago())
        .failing("ListClusters");
    let summary = tick(&cloud, &env(&[("CLUSTERS", "a")]), json!({})).await.unwrap();
    assert_eq!(decision(&summary, "a"), (Some(ScaleStatus::Up), Reason::CpuAboveMax));
    assert_eq!(summary.clusters.len(), 1, "{:?}", summary.clusters);
    assert_eq!(cloud.calls("ListClusters"), 0);
    assert_eq!(published(&cloud), [("a".into(), 2.0)]);
}

#[tokio::test]
async fn a_deployment_that_names_no_cluster_fails_when_discovery_fails() {
    let cloud = FakeCloud::new().with_cluster("a", 4, &[("ecs-scaler:enabled", "true")]).failing("ListClusters");
    let error = tick(&cloud, &env(&[]), json!({})).await.unwrap_err();
    assert!(matches!(error, TickError::Lookup(_)), "{error}");
    assert_eq!(cloud.calls("PutMetricData"), 0);
}

#[tokio::test]
async fn a_failed_publish_fails_the_invocation() {
    let cloud = FakeCloud::new()
        .with_cluster("a", 4, &[])
        .with_reservations("a", 90.0, 10.0, minute_ago())
        .failing("PutMetricData");
    let error = tick(&cloud, &env(&[("CLUSTERS", "a")]), json!({})).await.unwrap_err();
    assert!(matches!(error, TickError::Publish(_)), "{error}");
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "ScaleStatus.PublishFailed");
}

#[tokio::test]
async fn each_decision_is_logged_once_as_a_json_line_with_the_summary_fields() {
    let (_guard, lines) = ecs_scaler_testkit::capture_logs();
    let cloud = FakeCloud::new()
        .with_cluster("hot", 4, &[])
        .with_reservations("hot", 80.0, 20.0, minute_ago())
        .with_cluster("dark", 3, &[]);
    tick(&cloud, &env(&[("CLUSTERS", "hot,dark")]), json!({})).await.unwrap();

    let decisions: Vec<Value> = lines().into_iter().filter(|l| l["message"] == "scale decision").collect();
    assert_eq!(decisions.len(), 2, "{decisions:?}");
    let hot = decisions.iter().find(|l| l["cluster"] == "hot").unwrap();
    assert_eq!((hot["cpu"].as_f64(), hot["memory"].as_f64()), (Some(80.0), Some(20.0)));
    assert_eq!((hot["instances"].as_u64(), hot["scale_status"].as_u64()), (Some(4), Some(2)));
    assert_eq!(hot["reason"], "cpu_above_max");
    let dark = decisions.iter().find(|l| l["cluster"] == "dark").unwrap();
    assert_eq!(dark["reason"], "no_data");
    assert!(dark.get("scale_status").is_none(), "no status, no field: {dark}");
}
