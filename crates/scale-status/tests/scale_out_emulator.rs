//! Sized scale-out end to end: a full cluster with tasks waiting, ECS's placement-failure event as the emulator
//! delivers it, scale-status's own handler, and the emulator's Auto Scaling executing the group's step policy
//! with AWS's warm-up: the instances the waiting tasks need arrive in one step, and asking again (the next tick,
//! or another event) adds nothing while they warm up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use ecs_scaler_aws::seed::{Seeder, ServiceSpec, sdk_config};
use ecs_scaler_aws::{AutoScaling, CloudWatch, Ecs};
use ecs_scaler_core::config::EnvConfig;
use ecs_scaler_core::ports::{Context, FixedClock};
use ecs_scaler_core::scale::ScaleStatus;
use ecs_scaler_core::scale::trigger::Triggered;
use ecs_scaler_testkit::Emulator;
use scale_status::{Response, respond};
use serde_json::json;

const UNABLE: &str =
    "(service api) was unable to place a task because no container instance met all of its requirements.";

async fn desired(sdk: &aws_config::SdkConfig, group: &str) -> i32 {
    let client = aws_sdk_autoscaling::Client::new(sdk);
    let groups = client.describe_auto_scaling_groups().auto_scaling_group_names(group).send().await.unwrap();
    groups.auto_scaling_groups()[0].desired_capacity().unwrap()
}

#[tokio::test]
async fn waiting_tasks_get_their_instances_in_one_step_and_asking_again_adds_none() {
    let emulator = Emulator::start().unwrap();
    let sdk = sdk_config(emulator.url()).await;
    let seeder = Seeder::new(&sdk);
    let now = Utc::now();
    seeder.cluster("sz", &[]).await.unwrap();
    let ids = seeder.group("sz-blue", "sz", 2, None).await.unwrap();
    seeder.shortfall_policy("sz-blue", 300).await.unwrap();
    // Two instances of 2048 CPU units and 4096 MiB, each full with four 512/1024 api tasks; six more wait.
    let instances = seeder.register("sz", &ids, 2048, 4096).await.unwrap();
    let api = seeder.task_definition("sz-api", 512, 1024).await.unwrap();
    seeder.service("sz", &api, &ServiceSpec::replica("api", 14, 50)).await.unwrap();
    for instance in &instances {
        for _ in 0..4 {
            seeder.start_task("sz", &api, &instance.container_instance_arn, Some("service:api")).await.unwrap();
        }
    }
    emulator.service_event("sz", "api", UNABLE, (now - Duration::seconds(30)).timestamp() as f64).unwrap();
    seeder.reservations("sz", 100.0, 100.0, now - Duration::minutes(1)).await.unwrap();

    // ECS's event, exactly as EventBridge delivers it.
    let event = emulator.service_action("sz", "api", "SERVICE_TASK_PLACEMENT_FAILURE").unwrap();
    let (ecs, autoscaling, metrics) = (Ecs::from_conf(&sdk), AutoScaling::from_conf(&sdk), CloudWatch::from_conf(&sdk));
    let ec2 = ecs_scaler_aws::Ec2::from_conf(&sdk);
    let env = EnvConfig::from_vars([("CLUSTERS", "sz")]);
    let ctx = Context { ecs: &ecs, autoscaling: &autoscaling, ec2: &ec2, metrics: &metrics, clock: &FixedClock(now) };
    let response = respond(&event, &env, ctx).await.unwrap();
    let Response::Event(Triggered::Evaluated { summary }) = response else { panic!("{response:?}") };
    let report = &summary.clusters[0];
    assert_eq!(report.scale_status, Some(ScaleStatus::Up), "{}", report.detail);
    // ECS counts 8 of the 14 running (4 on each instance, both full: 4 × 512 = 2048 CPU units, 4 × 1024 = 4096
    // MiB), so 6 wait and none fits the free room. A fresh instance is sized as the group's type registered
    // (m5.xlarge, launched by its launch configuration, registered at 2048/4096): 4 tasks each, so ⌈6 / 4⌉ = 2.
    let shortfall = report.shortfall.as_ref().unwrap();
    assert_eq!((shortfall.instances, shortfall.fit_existing, shortfall.never_fit), (2, 0, 0), "{report:?}");
    assert_eq!(shortfall.by_type.get("m5.xlarge"), Some(&2), "{report:?}");
    assert_eq!((summary.scale_outs.len(), summary.scale_outs[0].instances), (1, 2));
    assert_eq!(summary.scale_outs[0].group.as_deref(), Some("sz-blue"));
    assert_eq!(summary.scale_outs[0].error, None);
    // The step policy's step for 2 adds 2: 2 + 2.
    assert_eq!(desired(&sdk, "sz-blue").await, 4, "one step for all the waiting tasks");
    let shortfall = seeder.cluster_metric(
        "Curalate/AutoScaling",
        "InstancesShortfall",
        "sz",
        now - Duration::minutes(5),
        now + Duration::minutes(5),
    );
    assert_eq!(shortfall.await.unwrap(), [2.0]);

    // Another event within the minute: throttled by the cluster tag.
    let again = respond(&event, &env, ctx).await.unwrap();
    assert!(matches!(again, Response::Event(Triggered::Throttled { .. })), "{again:?}");
    // The next tick sees the same waiting tasks. The emulator's new instances are InService at once (and not in
    // ECS), so nothing counts them as launching: it asks again, and the step policy's warm-up adds nothing.
    let later = Context { clock: &FixedClock(now + Duration::seconds(60)), ..ctx };
    let tick = respond(&json!({}), &env, later).await.unwrap();
    let Response::Tick(tick) = tick else { panic!("{tick:?}") };
    assert_eq!(tick.clusters[0].scale_status, Some(ScaleStatus::Up), "{tick:?}");
    assert_eq!(tick.scale_outs.len(), 1, "{tick:?}");
    assert_eq!(tick.clusters[0].shortfall.as_ref().map(|s| s.instances), Some(2), "{tick:?}");
    assert_eq!(desired(&sdk, "sz-blue").await, 4, "warm-up makes asking twice harmless");
}

#[tokio::test]
async fn a_partly_used_instance_whose_tasks_fit_elsewhere_is_named_for_consolidation() {
    let emulator = Emulator::start().unwrap();
    let sdk = sdk_config(emulator.url()).await;
    let seeder = Seeder::new(&sdk);
    let now = Utc::now();
    seeder.cluster("cn", &[]).await.unwrap();
    let ids = seeder.group("cn-blue", "cn", 3, None).await.unwrap();
    let instances = seeder.register("cn", &ids, 2048, 4096).await.unwrap();
    let api = seeder.task_definition("cn-api", 512, 1024).await.unwrap();
    seeder.service("cn", &api, &ServiceSpec::replica("api", 5, 50)).await.unwrap();
    // 2 + 2 + 1 tasks: 5 of 12 slots, 41.7% reserved; the third instance's one task fits either other.
    for on in [0, 0, 1, 1, 2] {
        seeder.start_task("cn", &api, &instances[on].container_instance_arn, Some("service:api")).await.unwrap();
    }
    seeder.reservations("cn", 41.7, 41.7, now - Duration::minutes(1)).await.unwrap();
    emulator.clear_calls().unwrap();

    let (ecs, autoscaling, metrics) = (Ecs::from_conf(&sdk), AutoScaling::from_conf(&sdk), CloudWatch::from_conf(&sdk));

    let ec2 = ecs_scaler_aws::Ec2::from_conf(&sdk);
    // Thresholds 40/75: 41.7% is above the min, so the reservation rule alone would hold all three.
    let env = EnvConfig::from_vars([
        ("CLUSTERS", "cn"),
        ("CPU_MIN", "40"),
        ("MEMORY_MIN", "40"),
        ("CPU_MAX", "75"),
        ("MEMORY_MAX", "75"),
    ]);
    let ctx = Context { ecs: &ecs, autoscaling: &autoscaling, ec2: &ec2, metrics: &metrics, clock: &FixedClock(now) };
    let Response::Tick(summary) = respond(&json!({}), &env, ctx).await.unwrap() else { panic!() };
    let report = &summary.clusters[0];
    assert_eq!(
        (report.scale_status, report.reason),
        (Some(ScaleStatus::Down), ecs_scaler_core::Reason::Consolidation),
        "{}",
        report.detail
    );
    let removal = report.removal.as_ref().unwrap();
    assert_eq!(removal.ec2_instance_id.as_deref(), Some(ids[2].as_str()), "{removal:?}");
    assert_eq!(removal.moved_tasks, 1);
    assert!(report.detail.contains(&ids[2]), "{}", report.detail);
    // One can go at once: with the third gone (62.5%), either other would leave the last over max.
    assert_eq!(report.surplus, 1, "{}", report.detail);
    let window = (now - Duration::minutes(5), now + Duration::minutes(5));
    let surplus = seeder.cluster_metric("Curalate/AutoScaling", "InstancesSurplus", "cn", window.0, window.1);
    assert_eq!(surplus.await.unwrap(), [1.0]);
    let calls = emulator.calls().unwrap();
    let count = |operation: &str| calls.iter().filter(|c| c.operation == operation).count();
    // Each instance's tasks are read once (the candidate for consolidation, all three for the surplus), and the
    // groups once, to see that nothing is scaling.
    assert_eq!((count("ListTasks"), count("DescribeTasks")), (3, 3), "{calls:?}");
    assert_eq!(count("DescribeAutoScalingGroups"), 1, "{calls:?}");
}
