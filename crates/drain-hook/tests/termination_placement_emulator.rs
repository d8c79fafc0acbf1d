//! The termination policy under the placement model, end to end: the emulator's Auto Scaling scales a group in
//! and asks the drain-hook's own handler (served as the group's Lambda function) which instance to take. An
//! instance whose distinctInstance task has nowhere to go is never taken, even the cheapest; when no candidate
//! is safe the answer is none, Auto Scaling keeps asking, and the drain hook still holds the instance that did go.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration as StdDuration;

use drain_hook::{Response, respond};
use ecs_scaler_aws::seed::{HookSpec, InstanceSpec, PlacementSpec, Seeder, ServiceSpec, TemplateGroupSpec, sdk_config};
use ecs_scaler_aws::{AutoScaling, CloudWatch, Ec2, Ecs, SystemClock};
use ecs_scaler_core::drain::{DrainSettings, Outcome};
use ecs_scaler_core::ports::Context;
use ecs_scaler_core::scale::terminate::{self, Basis, TerminationRequest};
use ecs_scaler_testkit::{Emulator, FunctionUrl};
use serde_json::{Value, json};
use tokio::time::Instant;

const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:drain-hook";
const SNS_LIFECYCLE: &str = include_str!("events/sns-lifecycle.json");
const SCHEDULED: &str = include_str!("events/scheduled.json");
/// What the ECS agent of an m5.large registers here.
const M5_LARGE: InstanceSpec<'static> =
    InstanceSpec { cpu: 2048, memory: 7680, gpus: 0, trunk: false, attributes: &[] };

/// The drain-hook function, served for the emulator to invoke. Its runtime and clients are built on the
/// serving thread at the first invocation: a test's own runtime cannot block on another.
fn serve(emulator_url: &str) -> FunctionUrl {
    let url = emulator_url.to_owned();
    let settings = DrainSettings::from_vars(std::iter::empty::<(&str, &str)>()).unwrap();
    let mut function: Option<(tokio::runtime::Runtime, Ecs, AutoScaling, Ec2, CloudWatch)> = None;
    FunctionUrl::serve(move |event| {
        let (runtime, ecs, autoscaling, ec2, metrics) = function.get_or_insert_with(|| {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let sdk = runtime.block_on(sdk_config(&url));
            let clients =
                (Ecs::from_conf(&sdk), AutoScaling::from_conf(&sdk), Ec2::from_conf(&sdk), CloudWatch::from_conf(&sdk));
            (runtime, clients.0, clients.1, clients.2, clients.3)
        });
        let ctx =
            Context { ecs: &*ecs, autoscaling: &*autoscaling, ec2: &*ec2, metrics: &*metrics, clock: &SystemClock };
        runtime.block_on(async {
            let deadline = Instant::now() + StdDuration::from_secs(2);
            let response = respond(&event, &settings, ctx, deadline).await;
            response.map(|r| serde_json::to_value(r).unwrap()).map_err(|e| e.to_string())
        })
    })
    .unwrap()
}

/// The group's instances and their lifecycle states, in the group's order.
async fn states(autoscaling: &aws_sdk_autoscaling::Client, group: &str) -> (i32, Vec<(String, String)>) {
    let output = autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(group).send().await.unwrap();
    let group = &output.auto_scaling_groups()[0];
    let states = group
        .instances()
        .iter()
        .map(|i| (i.instance_id().unwrap().to_owned(), i.lifecycle_state().unwrap().as_str().to_owned()))
        .collect();
    (group.desired_capacity().unwrap(), states)
}

fn state(states: &[(String, String)], id: &str) -> String {
    states.iter().find(|(i, _)| i == id).map(|(_, s)| s.clone()).unwrap_or_else(|| "gone".into())
}

#[tokio::test]
async fn an_instance_whose_distinct_task_has_nowhere_to_go_is_never_taken_and_none_is_when_none_is_safe() {
    let emulator = Emulator::start().unwrap();
    let sdk = sdk_config(emulator.url()).await;
    let seeder = Seeder::new(&sdk);
    seeder.cluster("tpd", &[]).await.unwrap();
    let metadata = json!({ "cluster": "tpd" }).to_string();
    let hook = HookSpec { name: "drain", heartbeat_timeout: 300, metadata: Some(&metadata) };
    let spec = TemplateGroupSpec { hook: Some(hook), ..TemplateGroupSpec::new("tpd-blue", "tpd", 4, "m5.large") };
    let ids = seeder.template_group(&spec).await.unwrap();
    let instances = seeder.register_instances("tpd", &ids, &M5_LARGE).await.unwrap();
    let (a, b, c, d) = (&instances[0], &instances[1], &instances[2], &instances[3]);
    // api (distinctInstance, 256/512) on a, b and c; web (464/512) four times on d, which leaves it 192 CPU units.
    let api = seeder.task_definition("tpd-api", 256, 512).await.unwrap();
    let distinct = PlacementSpec { distinct_instance: true, ..PlacementSpec::default() };
    seeder.placed_service("tpd", &api, &ServiceSpec::replica("api", 3, 50), &distinct).await.unwrap();
    let web = seeder.task_definition("tpd-web", 464, 512).await.unwrap();
    seeder.service("tpd", &web, &ServiceSpec::replica("web", 4, 50)).await.unwrap();
    for on in [a, b, c] {
        seeder.start_task("tpd", &api, &on.container_instance_arn, Some("service:api")).await.unwrap();
    }
    for _ in 0..4 {
        seeder.start_task("tpd", &web, &d.container_instance_arn, Some("service:web")).await.unwrap();
    }
    // ECS itself finds no instance for another api task: a, b and c run one, d has no CPU left.
    let another = seeder.run_task("tpd", &api, 1, Some("service:api"), &distinct).await.unwrap();
    let mut reasons: Vec<&str> = another.failures.iter().map(|f| f.reason.as_str()).collect();
    reasons.sort_unstable();
    let unsatisfied = "DistinctInstance placement constraint unsatisfied";
    assert_eq!(reasons, [unsatisfied, unsatisfied, unsatisfied, "RESOURCE:CPU"], "{another:?}");

    let function = serve(emulator.url());
    emulator.register_function(FUNCTION, function.url(), 2.0).unwrap();
    let autoscaling = aws_sdk_autoscaling::Client::new(&sdk);
    autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name("tpd-blue")
        .termination_policies(FUNCTION)
        .send()
        .await
        .unwrap();

    // 4 → 3. a, b and c are the cheapest to remove (one 256-unit task each), and by CPU and memory alone a's
    // api task would move to b (1792 units free). But b and c run api and d has no room: each of a, b and c
    // stays. d goes: its four web tasks fit a (three) and b (one).
    autoscaling.set_desired_capacity().auto_scaling_group_name("tpd-blue").desired_capacity(3).send().await.unwrap();
    let requests = emulator.termination_requests().unwrap();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let offered = requests[0]["request"]["Instances"].as_array().unwrap().len();
    assert_eq!(offered, 4, "Auto Scaling offers all four: {requests:?}");
    assert_eq!(requests[0]["response"], json!({"InstanceIDs": [d.ec2_instance_id.clone()]}), "{:?}", requests[0]);
    let ids = [&a.ec2_instance_id, &b.ec2_instance_id, &c.ec2_instance_id, &d.ec2_instance_id];
    let (desired, now) = states(&autoscaling, "tpd-blue").await;
    assert_eq!(desired, 3);
    assert_eq!(ids.map(|id| state(&now, id)), ["InService", "InService", "InService", "Terminating:Wait"]);

    // The drain hook takes d: DRAINING, held while its tasks still run there (nothing moves them here).
    let (ecs, hook_autoscaling, ec2, metrics) =
        (Ecs::from_conf(&sdk), AutoScaling::from_conf(&sdk), Ec2::from_conf(&sdk), CloudWatch::from_conf(&sdk));
    let ctx = Context { ecs: &ecs, autoscaling: &hook_autoscaling, ec2: &ec2, metrics: &metrics, clock: &SystemClock };
    let settings = DrainSettings::from_vars(std::iter::empty::<(&str, &str)>()).unwrap();
    let [notification] = emulator.lifecycle_notifications().unwrap().try_into().unwrap();
    let mut event: Value = serde_json::from_str(SNS_LIFECYCLE).unwrap();
    event["Records"][0]["Sns"]["Message"] = json!(notification.to_string());
    let deadline = || Instant::now() + StdDuration::from_secs(1);
    let Response::Drain(started) = respond(&event, &settings, ctx, deadline()).await.unwrap() else { panic!() };
    assert_eq!(started.instances[0].outcome, Outcome::DrainStarted, "{started:?}");
    let scheduled: Value = serde_json::from_str(SCHEDULED).unwrap();
    let Response::Drain(checked) = respond(&scheduled, &settings, ctx, deadline()).await.unwrap() else { panic!() };
    assert_eq!(checked.instances[0].outcome, Outcome::Held, "{checked:?}");

    // 3 → 2: a, b and c are offered. d's web tasks take their room first (three on a, leaving 400 units, one on
    // b, leaving 1328); then by CPU and memory alone a could go (those three to b and c, its api to b). But every
    // api task finds the other two running api: none goes.
    emulator.clear_termination_requests().unwrap();
    autoscaling.set_desired_capacity().auto_scaling_group_name("tpd-blue").desired_capacity(2).send().await.unwrap();
    let requests = emulator.termination_requests().unwrap();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["response"], json!({"InstanceIDs": []}), "{:?}", requests[0]);
    assert_eq!(requests[0]["terminated"], json!([]), "{:?}", requests[0]);
    // Why, as the same code judges that request now.
    let request: TerminationRequest = serde_json::from_value(requests[0]["request"].clone()).unwrap();
    let mut offered: Vec<&str> = request.instances.iter().map(|i| i.instance_id.as_str()).collect();
    offered.sort_unstable();
    let mut expected = [a.ec2_instance_id.as_str(), b.ec2_instance_id.as_str(), c.ec2_instance_id.as_str()];
    expected.sort_unstable();
    assert_eq!(offered, expected);
    let choice = terminate::choose(&ecs, &hook_autoscaling, &ec2, &[], &Default::default(), &request).await;
    let Basis::Held { why } = &choice.basis else { panic!("{choice:?}") };
    assert!(ids[..3].iter().all(|id| why.contains(id.as_str())), "{why}");
    assert_eq!(why.matches("(distinctInstance)").count(), 3, "each for its api task: {why}");

    // Auto Scaling asks again 10 s later, and gets none again; the group stays above its desired capacity.
    emulator.advance_clock(11).unwrap();
    let requests = emulator.termination_requests().unwrap();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[1]["response"], json!({"InstanceIDs": []}), "{:?}", requests[1]);
    let (desired, now) = states(&autoscaling, "tpd-blue").await;
    assert_eq!(desired, 2);
    assert_eq!(
        ids.map(|id| state(&now, id)),
        ["InService", "InService", "InService", "Terminating:Wait"],
        "a, b and c stay; the drain hook still holds d"
    );
    let Response::Drain(checked) = respond(&scheduled, &settings, ctx, deadline()).await.unwrap() else { panic!() };
    assert_eq!(checked.instances[0].outcome, Outcome::Held, "{checked:?}");
}
