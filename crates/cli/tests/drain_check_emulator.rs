//! `ecs-scaler drain-check` end to end against the AWS emulator, on the same kind of seeded cluster as the
//! drain hook's own tests: it must agree with what the hook decides on its reconcile, and change nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use drain_hook::{Summary, handle};
use ecs_scaler_aws::seed::{HookSpec, Seeder, ServiceSpec, sdk_config};
use ecs_scaler_aws::{AutoScaling, CloudWatch, Ecs, SystemClock};
use ecs_scaler_cli::drain_check::{EXIT_HELD, check};
use ecs_scaler_core::drain::{BelowMin, Blocker, DrainSettings, InstanceReport, Outcome, Release};
use ecs_scaler_core::ports::Context;
use ecs_scaler_testkit::Emulator;
use serde_json::{Value, json};
use tokio::time::Instant;

/// Calls that change something; the check must make none.
const MUTATING: [&str; 5] = [
    "UpdateContainerInstancesState",
    "PutAttributes",
    "CompleteLifecycleAction",
    "RecordLifecycleActionHeartbeat",
    "PutMetricData",
];

fn scheduled() -> Value {
    json!({
        "version": "0", "id": "cli-drain-check", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-22T10:01:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/ecs-drain-hook-reconcile"], "detail": {}
    })
}

fn drain_check(emulator: &Emulator, args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ecs-scaler"))
        .env_clear()
        .envs(emulator.lambda_env())
        .arg("drain-check")
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn report<'a>(summary: &'a Summary, instance: &str) -> &'a InstanceReport {
    summary.instances.iter().find(|r| r.instance == instance).unwrap_or_else(|| panic!("{instance}: {summary:?}"))
}

#[tokio::test]
async fn drain_check_agrees_with_the_drain_hook_before_and_after_the_tasks_move_and_changes_nothing() {
    let emulator = Emulator::start().unwrap();
    let sdk = sdk_config(emulator.url()).await;
    let seeder = Seeder::new(&sdk);
    let (ecs, autoscaling, metrics) = (Ecs::from_conf(&sdk), AutoScaling::from_conf(&sdk), CloudWatch::from_conf(&sdk));
    let ec2 = ecs_scaler_aws::Ec2::from_conf(&sdk);
    let settings = DrainSettings::from_vars(Vec::<(String, String)>::new()).unwrap();
    let ctx = Context { ecs: &ecs, autoscaling: &autoscaling, ec2: &ec2, metrics: &metrics, clock: &SystemClock };

    seeder.cluster("shop", &[]).await.unwrap();
    let metadata = json!({ "cluster": "shop" }).to_string();
    let hook = HookSpec { name: "drain", heartbeat_timeout: 300, metadata: Some(&metadata) };
    let ids = seeder.group("shop-asg", "shop", 2, Some(hook)).await.unwrap();
    let instances = seeder.register("shop", &ids, 4096, 16384).await.unwrap();
    let (old, new) = (&instances[0], &instances[1]);
    let td = seeder.task_definition("shop-api", 512, 1024).await.unwrap();
    seeder.service("shop", &td, &ServiceSpec::replica("api", 2, 100)).await.unwrap();
    let mut on_old = Vec::new();
    for _ in 0..2 {
        on_old.push(seeder.start_task("shop", &td, &old.container_instance_arn, Some("service:api")).await.unwrap());
    }

    // Before anything terminates: both the binary and the library say it would be held, naming the service
    // (0 of 2 on ACTIVE instances once this one drains) and the two tasks on it. Nothing is changed.
    emulator.clear_calls().unwrap();
    let (code, stdout, stderr) = drain_check(&emulator, &["--instance", &old.ec2_instance_id, "--json"]);
    assert_eq!(code, Some(i32::from(EXIT_HELD)), "{stdout}{stderr}");
    let printed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(printed["cluster"], "shop", "found through the group's ecs-scaler:cluster tag");
    assert_eq!(printed["report"]["outcome"], "held");
    let inspection = check(ctx, &old.ec2_instance_id, None, &settings).await.unwrap();
    assert!(!inspection.releasable());
    let before = inspection.report.blockers.clone();
    let api = Blocker::Service(BelowMin { name: "api".into(), running_on_active: 0, required: 2 });
    assert!(before.contains(&api), "{before:?}");
    assert!(matches!(before[0], Blocker::OwnTasks { count: 2, .. }), "{before:?}");
    let calls = emulator.calls().unwrap();
    let mutating: Vec<&str> = calls.iter().map(|c| c.operation.as_str()).filter(|op| MUTATING.contains(op)).collect();
    assert!(mutating.is_empty(), "drain-check changed something: {mutating:?}");

    // The group scales in; the hook's reconcile holds it for the same reasons.
    seeder
        .autoscaling
        .terminate_instance_in_auto_scaling_group()
        .instance_id(&old.ec2_instance_id)
        .should_decrement_desired_capacity(true)
        .send()
        .await
        .unwrap();
    let deadline = || Instant::now() + Duration::from_secs(1);
    let summary = handle(&scheduled(), &settings, ctx, deadline()).await.unwrap();
    let lambda = report(&summary, &old.ec2_instance_id);
    assert_eq!(lambda.outcome, Outcome::Held);
    assert_eq!(lambda.blockers, before, "drain-check and the hook name the same blockers");

    // The scheduler moves both tasks: now both say it may go, and the table says so in words.
    for task in &on_old {
        seeder.start_task("shop", &td, &new.container_instance_arn, Some("service:api")).await.unwrap();
        seeder.stop_task("shop", task).await.unwrap();
    }
    let (code, stdout, stderr) = drain_check(&emulator, &["--instance", &old.ec2_instance_id, "--cluster", "shop"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("READY: could be released now"), "{stdout}");
    assert!(stdout.contains("DRAINING"), "the hook set it DRAINING on its first check: {stdout}");
    let inspection = check(ctx, &old.ec2_instance_id, Some("shop"), &settings).await.unwrap();
    assert!(matches!(inspection.report.outcome, Outcome::Completed { why: Release::Ready, .. }), "{inspection:?}");
    let summary = handle(&scheduled(), &settings, ctx, deadline()).await.unwrap();
    assert!(
        matches!(report(&summary, &old.ec2_instance_id).outcome, Outcome::Completed { why: Release::Ready, .. }),
        "{summary:?}"
    );
}

#[tokio::test]
async fn a_held_instance_is_explained_service_by_service() {
    let emulator = Emulator::start().unwrap();
    let sdk = sdk_config(emulator.url()).await;
    let seeder = Seeder::new(&sdk);
    seeder.cluster("words", &[]).await.unwrap();
    let ids = seeder.group("words-asg", "words", 2, None).await.unwrap();
    let instances = seeder.register("words", &ids, 4096, 16384).await.unwrap();
    let td = seeder.task_definition("words-web", 256, 512).await.unwrap();
    seeder.service("words", &td, &ServiceSpec::replica("web", 4, 50)).await.unwrap();
    for _ in 0..3 {
        seeder.start_task("words", &td, &instances[0].container_instance_arn, Some("service:web")).await.unwrap();
    }
    seeder.start_task("words", &td, &instances[1].container_instance_arn, Some("service:web")).await.unwrap();

    let (code, stdout, stderr) = drain_check(&emulator, &["--instance", &instances[0].ec2_instance_id]);
    assert_eq!(code, Some(i32::from(EXIT_HELD)), "{stderr}");
    assert!(stdout.contains("HELD: the drain hook would keep it in Terminating:Wait"), "{stdout}");
    assert!(stdout.contains("3 task(s) still on the instance"), "{stdout}");
    // 4 desired at 50% needs 2 on ACTIVE instances; only the one on the other instance counts.
    assert!(stdout.contains("service web: 1 running on ACTIVE instances, 2 required"), "{stdout}");
}
