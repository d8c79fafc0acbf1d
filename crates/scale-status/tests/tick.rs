//! The Lambda shell around the core's tick, over the core's scripted ports: events and their schedule input,
//! failures as Lambda diagnostics, and the decision log lines in the Lambda's own format. What the tick itself
//! decides is unit-tested in the core (`scale::tick`), and end to end on the emulator in `emulator.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use ecs_scaler_core::config::EnvConfig;
use ecs_scaler_core::ports::script::Script;
use ecs_scaler_core::ports::{Context, FixedClock};
use ecs_scaler_core::scale::{Summary, TickError};
use ecs_scaler_core::{Reason, ScaleStatus};
use scale_status::{Error, handle};
use serde_json::{Value, json};

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

async fn tick(cloud: &Script, env: &EnvConfig, event: Value) -> Result<Summary, Error> {
    handle(
        &event,
        env,
        Context { ecs: cloud, autoscaling: cloud, ec2: cloud, metrics: cloud, clock: &FixedClock(now()) },
    )
    .await
}

fn decision(summary: &Summary, cluster: &str) -> (Option<ScaleStatus>, Reason) {
    let report =
        summary.clusters.iter().find(|r| r.cluster == cluster).unwrap_or_else(|| panic!("no report for {cluster}"));
    (report.scale_status, report.reason)
}

/// The ScaleStatus datapoints published, by cluster.
fn published(cloud: &Script) -> Vec<(String, f64)> {
    let published = cloud.published().into_iter().filter(|(_, m)| m.name == "ScaleStatus");
    let mut values: Vec<_> = published.map(|(_, m)| (m.cluster, m.value)).collect();
    values.sort_by(|a, b| a.0.cmp(&b.0));
    values
}

#[tokio::test]
async fn the_schedule_input_overrides_environment_clusters_thresholds_and_namespace() {
    let cloud = Script::new()
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
async fn a_scheduled_event_and_an_empty_test_invoke_run_the_tick_with_the_environment() {
    for event in [scheduled_event(), json!({}), Value::Null] {
        let cloud = Script::new().with_cluster("a", 4, &[]).with_reservations("a", 80.0, 10.0, minute_ago());
        let summary = tick(&cloud, &env(&[("CLUSTERS", "a")]), event.clone()).await.unwrap();
        assert_eq!(decision(&summary, "a"), (Some(ScaleStatus::Up), Reason::CpuAboveMax), "{event}");
        assert_eq!(published(&cloud), [("a".into(), 2.0)], "{event}");
    }
}

#[tokio::test]
async fn malformed_events_fail_before_any_aws_call() {
    let cloud = Script::new().with_cluster("a", 4, &[]);
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
        assert!(matches!(error, Error::Event(_)), "{event}: {error}");
        assert!(error.to_string().contains(expected), "{event}: {error}");
    }
    assert!(cloud.state().calls.is_empty(), "no AWS call for a malformed event: {:?}", cloud.state().calls);
}

#[tokio::test]
async fn a_bad_namespace_fails_the_invocation() {
    let cloud = Script::new().with_cluster("a", 4, &[]);
    let error = tick(&cloud, &env(&[("CLUSTERS", "a"), ("SCALE_NAMESPACE", "AWS/ECS")]), json!({})).await.unwrap_err();
    assert!(matches!(error, Error::Tick(TickError::Config(_))), "{error}");
    assert!(cloud.state().calls.is_empty());
}

#[tokio::test]
async fn a_failed_publish_fails_the_invocation() {
    let cloud = Script::new()
        .with_cluster("a", 4, &[])
        .with_reservations("a", 90.0, 10.0, minute_ago())
        .failing("PutMetricData");
    let error = tick(&cloud, &env(&[("CLUSTERS", "a")]), json!({})).await.unwrap_err();
    assert!(matches!(error, Error::Tick(TickError::Publish(_))), "{error}");
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "ScaleStatus.PublishFailed");
}

#[tokio::test]
async fn each_decision_is_logged_once_as_a_json_line_with_the_summary_fields() {
    let (_guard, lines) = ecs_scaler_testkit::capture_logs(ecs_scaler_aws::logging::subscriber);
    let cloud = Script::new()
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
