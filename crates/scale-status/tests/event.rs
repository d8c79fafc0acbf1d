//! Every event shape scale-status receives, told apart explicitly: the ECS placement-failure event evaluates
//! its one cluster at once; anything unexpected is a clear error before any AWS call.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use ecs_scaler_core::config::EnvConfig;
use ecs_scaler_core::ports::script::Script;
use ecs_scaler_core::ports::{Context, FixedClock};
use ecs_scaler_core::scale::trigger::Triggered;
use scale_status::{Error, Invocation, Response, invocation, respond};
use serde_json::{Value, json};

fn placement_failure(cluster: &str) -> Value {
    json!({
        "version": "0",
        "id": "01234567-0123-0123-0123-012345678901",
        "detail-type": "ECS Service Action",
        "source": "aws.ecs",
        "account": "123456789012",
        "time": "2026-12-02T10:00:00Z",
        "region": "us-east-1",
        "resources": [format!("arn:aws:ecs:us-east-1:123456789012:service/{cluster}/api")],
        "detail": {
            "eventType": "ERROR",
            "eventName": "SERVICE_TASK_PLACEMENT_FAILURE",
            "clusterArn": format!("arn:aws:ecs:us-east-1:123456789012:cluster/{cluster}"),
            "createdAt": "2026-12-02T10:00:00.000Z",
            "reason": "RESOURCE:MEMORY"
        }
    })
}

#[test]
fn the_placement_failure_event_names_its_cluster() {
    let parsed = invocation(&placement_failure("web")).unwrap();
    assert_eq!(
        parsed,
        Invocation::PlacementFailure { cluster: "arn:aws:ecs:us-east-1:123456789012:cluster/web".into() }
    );
    assert!(matches!(invocation(&json!({})).unwrap(), Invocation::Tick(_)));
}

#[test]
fn other_service_actions_sources_and_shapes_are_errors_that_say_which() {
    let mut other = placement_failure("web");
    other["detail"]["eventName"] = json!("SERVICE_STEADY_STATE");
    let error = invocation(&other).unwrap_err().to_string();
    assert!(error.contains("SERVICE_STEADY_STATE"), "{error}");

    let mut forged = placement_failure("web");
    forged["source"] = json!("my.app");
    let error = invocation(&forged).unwrap_err().to_string();
    assert!(error.contains("my.app"), "{error}");

    let mut broken = placement_failure("web");
    broken["detail"].as_object_mut().unwrap().remove("clusterArn");
    let error = invocation(&broken).unwrap_err().to_string();
    assert!(error.contains("clusterArn"), "{error}");

    let error = invocation(&json!({"detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2"}))
        .unwrap_err()
        .to_string();
    assert!(error.contains("EC2 Instance State-change Notification"), "{error}");
}

#[tokio::test]
async fn an_event_evaluates_and_publishes_for_its_cluster_and_a_storm_is_throttled() {
    let now = Utc::now();
    let cloud = Script::new()
        .with_cluster("web", 2, &[])
        .with_reservations("web", 90.0, 40.0, now - Duration::minutes(1))
        .with_cluster("api", 2, &[])
        .with_reservations("api", 90.0, 40.0, now - Duration::minutes(1));
    let env = EnvConfig::from_vars([("CLUSTERS", "web,api"), ("EVENT_MIN_INTERVAL_SECONDS", "120")]);
    let ctx = Context { ecs: &cloud, autoscaling: &cloud, ec2: &cloud, metrics: &cloud, clock: &FixedClock(now) };

    let response = respond(&placement_failure("web"), &env, ctx).await.unwrap();
    let Response::Event(Triggered::Evaluated { summary }) = response else { panic!("{response:?}") };
    assert_eq!(summary.emitted, 1);
    assert_eq!(cloud.published().iter().filter(|(_, m)| m.cluster == "api").count(), 0);

    let later = Context { clock: &FixedClock(now + Duration::seconds(90)), ..ctx };
    let response = respond(&placement_failure("web"), &env, later).await.unwrap();
    assert!(matches!(response, Response::Event(Triggered::Throttled { .. })), "{response:?}");

    let bad = EnvConfig::from_vars([("CLUSTERS", "web"), ("EVENT_MIN_INTERVAL_SECONDS", "5")]);
    let error = respond(&placement_failure("web"), &bad, ctx).await.unwrap_err();
    assert!(matches!(error, Error::Tick(_)), "{error}");
    assert!(error.to_string().contains("EVENT_MIN_INTERVAL_SECONDS"), "{error}");
}
