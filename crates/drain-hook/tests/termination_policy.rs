//! The termination policy as Auto Scaling calls it, over a scripted cloud: every request shape gets an answer
//! Auto Scaling can act on, and what cannot be judged is never answered with an instance that may hold tasks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use drain_hook::{DrainError, Response, respond};
use ecs_scaler_core::cluster::Resources;
use ecs_scaler_core::config::{TAG_CPU_MAX, TAG_CPU_MIN};
use ecs_scaler_core::drain::DrainSettings;
use ecs_scaler_core::lifecycle::TAG_CLUSTER;
use ecs_scaler_core::ports::script::Script;
use ecs_scaler_core::ports::{Context, FixedClock};
use serde_json::{Value, json};

const API: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/api:1";

fn cloud() -> Script {
    Script::new()
        .with_cluster("web", 2, &[])
        .with_group("web-blue", 1, 3, &[(TAG_CLUSTER, "web")])
        .with_instance("web", "a", "ACTIVE", 2048, 4096)
        .with_instance("web", "b", "ACTIVE", 2048, 4096)
        .with_load("web", "a", Resources::new(1536, 3072), 1)
        .with_load("web", "b", Resources::new(2048, 4096), 0)
        .with_task_definition(API, 512, 1024)
        .with_service("web", "api", 1, 1, &[])
        .with_task("web", "service:api", "a", API)
}

fn request(group: &str) -> Value {
    json!({
        "AutoScalingGroupARN": format!("arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:x:autoScalingGroupName/{group}"),
        "AutoScalingGroupName": group,
        "CapacityToTerminate": [{"AvailabilityZone": "us-east-1a", "Capacity": 1, "InstanceMarketOption": "on-demand"}],
        "Instances": [
            {"AvailabilityZone": "us-east-1a", "InstanceId": "i-a", "InstanceType": "m5.large", "InstanceMarketOption": "on-demand"},
            {"AvailabilityZone": "us-east-1a", "InstanceId": "i-b", "InstanceType": "m5.large", "InstanceMarketOption": "on-demand"}
        ],
        "Cause": "SCALE_IN"
    })
}

async fn answer(cloud: &Script, event: &Value, env: &[(&str, &str)]) -> Result<Value, DrainError> {
    let settings = DrainSettings::from_vars(env.iter().copied()).unwrap();
    let clock = FixedClock(chrono::Utc::now());
    let ctx = Context { ecs: cloud, autoscaling: cloud, ec2: cloud, metrics: cloud, clock: &clock };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    let response = respond(event, &settings, ctx, deadline).await?;
    assert!(matches!(response, Response::Termination(_)), "{response:?}");
    Ok(serde_json::to_value(response).unwrap())
}

#[tokio::test]
async fn the_empty_instance_is_the_answer_in_aws_s_shape() {
    let cloud = cloud();
    assert_eq!(answer(&cloud, &request("web-blue"), &[]).await.unwrap(), json!({"InstanceIDs": ["i-b"]}));
    // It read the group, then the cluster (its tags may set the limits), its instances, services and tasks once
    // each, and the definition of the one task a removal would move.
    let calls = [
        "DescribeAutoScalingGroups",
        "DescribeClusters",
        "DescribeContainerInstances",
        "DescribeServices",
        "DescribeTasks",
    ];
    assert_eq!(calls.map(|c| cloud.calls(c)), [1; 5]);
    assert_eq!(cloud.calls("DescribeTaskDefinition"), 1);
}

#[tokio::test]
async fn a_scale_in_that_would_come_within_the_cluster_s_headroom_gets_no_instance() {
    // Without i-b the cluster would run at 25% CPU. The cluster's tags set a CPU max; the default headroom is 5
    // points, so a max of 35 lets i-b go (25 < 30) and a max of 28 does not (25 > 23).
    for (max, expected) in [("35", json!(["i-b"])), ("28", json!([]))] {
        let cloud = cloud();
        cloud.state().clusters[0].tags =
            [(TAG_CPU_MIN, "10"), (TAG_CPU_MAX, max)].into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        let answer = answer(&cloud, &request("web-blue"), &[]).await.unwrap();
        assert_eq!(answer["InstanceIDs"], expected, "cpu-max {max}");
    }
}

#[tokio::test]
async fn a_cluster_ecs_does_not_know_gets_no_instance_on_a_scale_in() {
    let cloud = cloud();
    cloud.state().clusters.clear();
    assert_eq!(answer(&cloud, &request("web-blue"), &[]).await.unwrap(), json!({"InstanceIDs": []}));
}

#[tokio::test]
async fn a_group_of_another_deployment_gets_auto_scaling_s_own_candidate() {
    let cloud = cloud();
    let answer = answer(&cloud, &request("web-blue"), &[("CLUSTERS", "api")]).await.unwrap();
    assert_eq!(answer, json!({"InstanceIDs": ["i-a"]}));
    assert_eq!(cloud.calls("ListTasks"), 0);
}

#[tokio::test]
async fn an_unreadable_cluster_gets_no_instance_on_a_scale_in_and_its_own_on_a_refresh() {
    let cloud = cloud().failing("DescribeServices");
    assert_eq!(answer(&cloud, &request("web-blue"), &[]).await.unwrap(), json!({"InstanceIDs": []}));
    let mut refresh = request("web-blue");
    refresh["Cause"] = json!("INSTANCE_REFRESH");
    assert_eq!(answer(&cloud, &refresh, &[]).await.unwrap(), json!({"InstanceIDs": ["i-a"]}));
}

#[tokio::test]
async fn a_malformed_request_that_names_candidates_gets_none() {
    let cloud = cloud();
    let mut event = request("web-blue");
    event["CapacityToTerminate"] = json!("two, please");
    assert_eq!(answer(&cloud, &event, &[]).await.unwrap(), json!({"InstanceIDs": []}));
    assert!(cloud.state().calls.is_empty(), "nothing was read for a request that could not be judged");
}

#[tokio::test]
async fn a_request_without_candidates_is_a_clear_error() {
    let cloud = cloud();
    let error =
        answer(&cloud, &json!({"AutoScalingGroupName": "web-blue", "CapacityToTerminate": []}), &[]).await.unwrap_err();
    assert!(matches!(error, DrainError::Event(_)), "{error}");
    assert!(error.to_string().contains("names no candidate"), "{error}");
}
