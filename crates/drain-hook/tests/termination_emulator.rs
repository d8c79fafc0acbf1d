//! The termination policy end to end: the emulator's Auto Scaling scales a group in and asks the drain-hook's
//! own handler (served as the group's Lambda function) which instance to take; the instance chosen is the one
//! that goes into `Terminating:Wait`, where the drain hook holds it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use drain_hook::respond;
use ecs_scaler_aws::seed::{HookSpec, Seeder, ServiceSpec, sdk_config};
use ecs_scaler_aws::{AutoScaling, CloudWatch, Ec2, Ecs, SystemClock};
use ecs_scaler_core::drain::DrainSettings;
use ecs_scaler_core::ports::Context;
use ecs_scaler_testkit::{Emulator, FunctionUrl};
use serde_json::json;

const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:drain-hook";

/// The drain-hook function, served for the emulator to invoke. Its runtime and clients are built on the
/// serving thread at the first invocation: a test's own runtime cannot block on another.
fn serve(emulator_url: &str, env: &'static [(&'static str, &'static str)]) -> FunctionUrl {
    let url = emulator_url.to_owned();
    let settings = DrainSettings::from_vars(env.iter().copied()).unwrap();
    let mut function: Option<(tokio::runtime::Runtime, Ecs, AutoScaling, Ec2, CloudWatch)> = None;
    FunctionUrl::serve(move |event| {
        let (runtime, ecs, autoscaling, ec2, metrics) = function.get_or_insert_with(|| {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let sdk = runtime.block_on(sdk_config(&url));
            (
                runtime,
                Ecs::from_conf(&sdk),
                AutoScaling::from_conf(&sdk),
                Ec2::from_conf(&sdk),
                CloudWatch::from_conf(&sdk),
            )
        });
        let ctx =
            Context { ecs: &*ecs, autoscaling: &*autoscaling, ec2: &*ec2, metrics: &*metrics, clock: &SystemClock };
        runtime.block_on(async {
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
            let response = respond(&event, &settings, ctx, deadline).await;
            response.map(|r| serde_json::to_value(r).unwrap()).map_err(|e| e.to_string())
        })
    })
    .unwrap()
}

#[tokio::test]
async fn auto_scaling_takes_the_instance_the_policy_chose_and_the_hook_holds_it() {
    let emulator = Emulator::start().unwrap();
    let sdk = sdk_config(emulator.url()).await;
    let seeder = Seeder::new(&sdk);
    seeder.cluster("tp", &[]).await.unwrap();
    let hook = HookSpec { name: "drain", heartbeat_timeout: 300, metadata: None };
    let ids = seeder.group("tp-blue", "tp", 3, Some(hook)).await.unwrap();
    let instances = seeder.register("tp", &ids, 4096, 16384).await.unwrap();
    let definition = seeder.task_definition("tp-api", 1024, 2048).await.unwrap();
    seeder.service("tp", &definition, &ServiceSpec::replica("api", 3, 50)).await.unwrap();
    // The oldest two run the tasks; the newest is empty. Auto Scaling's default would take the oldest.
    for on in [0, 0, 1] {
        seeder.start_task("tp", &definition, &instances[on].container_instance_arn, Some("service:api")).await.unwrap();
    }

    let function = serve(emulator.url(), &[]);
    emulator.register_function(FUNCTION, function.url(), 2.0).unwrap();
    let autoscaling = aws_sdk_autoscaling::Client::new(&sdk);
    autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name("tp-blue")
        .termination_policies(FUNCTION)
        .termination_policies("OldestInstance")
        .send()
        .await
        .unwrap();
    autoscaling.set_desired_capacity().auto_scaling_group_name("tp-blue").desired_capacity(2).send().await.unwrap();

    let requests = emulator.termination_requests().unwrap();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["response"], json!({"InstanceIDs": [ids[2].clone()]}), "{:?}", requests[0]);
    assert_eq!(requests[0]["request"]["CapacityToTerminate"][0]["Capacity"], 1);
    let group = autoscaling.describe_auto_scaling_groups().auto_scaling_group_names("tp-blue").send().await.unwrap();
    let states: Vec<(String, String)> = group.auto_scaling_groups()[0]
        .instances()
        .iter()
        .map(|i| (i.instance_id().unwrap().to_owned(), i.lifecycle_state().unwrap().as_str().to_owned()))
        .collect();
    let waiting: Vec<&str> =
        states.iter().filter(|(_, s)| s == "Terminating:Wait").map(|(id, _)| id.as_str()).collect();
    assert_eq!(waiting, [ids[2].as_str()], "{states:?}");
}

#[tokio::test]
async fn a_group_of_another_deployment_gets_auto_scaling_s_own_choice() {
    let emulator = Emulator::start().unwrap();
    let sdk = sdk_config(emulator.url()).await;
    let seeder = Seeder::new(&sdk);
    seeder.cluster("tp", &[]).await.unwrap();
    let ids = seeder.group("tp-blue", "tp", 2, None).await.unwrap();
    seeder.register("tp", &ids, 4096, 16384).await.unwrap();

    let function = serve(emulator.url(), &[("CLUSTERS", "someone-else")]);
    emulator.register_function(FUNCTION, function.url(), 2.0).unwrap();
    let autoscaling = aws_sdk_autoscaling::Client::new(&sdk);
    autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name("tp-blue")
        .termination_policies(FUNCTION)
        .send()
        .await
        .unwrap();
    autoscaling.set_desired_capacity().auto_scaling_group_name("tp-blue").desired_capacity(1).send().await.unwrap();

    let requests = emulator.termination_requests().unwrap();
    let offered = requests[0]["request"]["Instances"][0]["InstanceId"].clone();
    assert_eq!(requests[0]["response"], json!({"InstanceIDs": [offered]}), "{:?}", requests[0]);
    assert!(
        requests[0]["terminated"].as_array().is_some_and(|t| !t.is_empty()),
        "scale-in went ahead: {:?}",
        requests[0]
    );
}
