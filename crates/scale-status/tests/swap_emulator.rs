//! A blue/green swap paused between scale-up and teardown, end to end against the AWS emulator: the operator
//! scales green up beside a loaded blue and waits 30 minutes before tearing blue down. Every minute the
//! reservations are far below min, and every minute scale-status, in one warm process as the Lambda runs, holds
//! at 1 (reason `swap_in_progress`) with no surplus: neither colour loses an instance. Once blue is gone, the
//! held 0 comes back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use ecs_scaler_aws::seed::{Seeder, sdk_config};
use ecs_scaler_aws::{AutoScaling, CloudWatch, Ec2, Ecs};
use ecs_scaler_core::config::EnvConfig;
use ecs_scaler_core::ports::{Context, FixedClock};
use ecs_scaler_core::scale::memory::Memory;
use ecs_scaler_core::scale::plan::Note;
use ecs_scaler_core::{Reason, ScaleStatus};
use ecs_scaler_testkit::Emulator;
use scale_status::handle_with;
use serde_json::json;

const CLUSTER: &str = "swap-paused";

#[tokio::test]
async fn a_swap_paused_for_thirty_minutes_removes_nothing_and_the_zero_returns_after_teardown() {
    let emulator = Emulator::shared();
    let sdk = sdk_config(emulator.url()).await;
    let seeder = Seeder::new(&sdk);
    seeder.cluster(CLUSTER, &[]).await.unwrap();
    let blue = seeder.group(&format!("{CLUSTER}-blue"), CLUSTER, 3, None).await.unwrap();
    let blue = seeder.register(CLUSTER, &blue, 4096, 16384).await.unwrap();
    let definition = seeder.task_definition(&format!("{CLUSTER}-load"), 256, 512).await.unwrap();
    seeder.start_task(CLUSTER, &definition, &blue[0].container_instance_arn, None).await.unwrap();
    // The operator scales green up: three fresh instances, registered and empty.
    let green = seeder.group(&format!("{CLUSTER}-green"), CLUSTER, 3, None).await.unwrap();
    seeder.register(CLUSTER, &green, 4096, 16384).await.unwrap();

    let env = EnvConfig::from_vars([
        ("CLUSTERS", CLUSTER),
        ("CPU_MIN", "40"),
        ("CPU_MAX", "75"),
        ("MEMORY_MIN", "40"),
        ("MEMORY_MAX", "75"),
    ]);
    let (ecs, autoscaling, metrics, ec2) =
        (Ecs::from_conf(&sdk), AutoScaling::from_conf(&sdk), CloudWatch::from_conf(&sdk), Ec2::from_conf(&sdk));
    let memory = Memory::default();
    let start = Utc::now() - Duration::minutes(40);
    let tick = |minute: i64| {
        let (ecs, autoscaling, metrics, ec2, memory, env, seeder) =
            (&ecs, &autoscaling, &metrics, &ec2, &memory, &env, &seeder);
        async move {
            let now = start + Duration::minutes(minute);
            seeder.reservations(CLUSTER, 5.0, 4.0, now - Duration::seconds(50)).await.unwrap();
            let clock = FixedClock(now);
            let ctx = Context { ecs, autoscaling, ec2, metrics, clock: &clock };
            let summary = handle_with(&json!({}), env, ctx, memory).await.unwrap();
            summary.clusters.into_iter().find(|r| r.cluster == CLUSTER).expect("the cluster's report")
        }
    };

    for minute in 0..=30 {
        let report = tick(minute).await;
        assert_eq!(
            (report.scale_status, report.reason, report.surplus),
            (Some(ScaleStatus::Stay), Reason::SwapInProgress, 0),
            "minute {minute}: {}",
            report.detail
        );
        assert!(
            report.notes.iter().any(|n| matches!(n, Note::Covered { reason: Reason::BothBelowMin, .. })),
            "minute {minute}: the 0 it held is in the notes: {:?}",
            report.notes
        );
    }
    // What CloudWatch holds for the pause: thirty-one 1s, no 0, and no surplus above 0.
    let (from, to) = (start - Duration::minutes(1), start + Duration::minutes(31));
    let statuses = seeder.cluster_metric("Curalate/AutoScaling", "ScaleStatus", CLUSTER, from, to).await.unwrap();
    assert_eq!(statuses, vec![1.0; 31]);
    let surplus = seeder.cluster_metric("Curalate/AutoScaling", "InstancesSurplus", CLUSTER, from, to).await.unwrap();
    assert!(surplus.iter().all(|s| *s == 0.0), "{surplus:?}");
    // Neither colour lost an instance.
    for group in ["blue", "green"] {
        let members = seeder.group_instances(&format!("{CLUSTER}-{group}")).await.unwrap();
        assert_eq!(members.len(), 3, "{group}");
    }

    // The operator tears blue down: one colour serves again, and the quiet cluster may shrink.
    autoscaling_set_desired(&seeder, &format!("{CLUSTER}-blue"), 0).await;
    let report = tick(31).await;
    assert_ne!(report.reason, Reason::SwapInProgress, "{}", report.detail);
    assert_eq!(report.scale_status, Some(ScaleStatus::Down), "{}: {}", report.reason, report.detail);
}

async fn autoscaling_set_desired(seeder: &Seeder, group: &str, desired: i32) {
    seeder
        .autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name(group)
        .min_size(0)
        .desired_capacity(desired)
        .send()
        .await
        .unwrap();
}
