//! The packaged Lambdas, as Lambda runs them: each `target/lambda/<fn>/bootstrap.zip` (built by `make package`)
//! is unzipped and started as a fresh process against a one-shot Lambda Runtime API, with the environment
//! pointing at a private AWS emulator. This is what the handler tests cannot reach: `main.rs`, the runtime
//! wiring (event in, response or error diagnostic out, JSON logs), the settings read once per cold start, and
//! drain-hook's deadline handling (it stops polling 5 s before the invocation's deadline).
//!
//! Needs the zips, so it runs only with `ECS_SCALER_PACKAGED` set (`make test-packaged`, part of `make test`,
//! after `make package`); then a missing zip is a failure. Without the guard every test says why it is
//! skipped and passes, so a plain `cargo test` works on a machine without cargo lambda.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use chrono::Utc;
use ecs_scaler_aws::seed::{HookSpec, SeededInstance, Seeder, ServiceSpec, sdk_config};
use ecs_scaler_testkit::Emulator;
use ecs_scaler_testkit::lambda::{Invocation, bootstrap, invoke};
use serde_json::{Value, json};

const GUARD: &str = "ECS_SCALER_PACKAGED";
const SNS_LIFECYCLE: &str = include_str!("../../drain-hook/tests/events/sns-lifecycle.json");
const SCHEDULED: &str = include_str!("../../drain-hook/tests/events/scheduled.json");
/// drain-hook's `DEADLINE_MARGIN`: it stops polling this long before the deadline.
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// The unzipped bootstrap of `function`, or None (and a note on stderr) when the guard is unset. Each function
/// is unzipped once per test binary: tests running in parallel must not rewrite a binary another one runs.
fn packaged(function: &'static str) -> Option<&'static Path> {
    if std::env::var(GUARD).map_or(true, |v| v.is_empty()) {
        eprintln!(
            "SKIPPED: the packaged {function} Lambda is not tested: {GUARD} is unset. \
             `make test` sets it (target test-packaged, after `make package`)."
        );
        return None;
    }
    static SCALE_STATUS: OnceLock<PathBuf> = OnceLock::new();
    static DRAIN_HOOK: OnceLock<PathBuf> = OnceLock::new();
    let cell = match function {
        "scale-status" => &SCALE_STATUS,
        "drain-hook" => &DRAIN_HOOK,
        other => panic!("no packaged function {other}"),
    };
    Some(cell.get_or_init(|| {
        bootstrap(function).unwrap_or_else(|e| panic!("{GUARD} is set but the {function} package is unusable: {e}"))
    }))
}

/// The environment of a deployed function (the Terraform modules set `RUST_LOG` to their `log_level`, `info` by
/// default), pointed at the emulator, plus `extra`.
fn lambda_env(emulator: &Emulator, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = emulator.lambda_env();
    env.push(("RUST_LOG".to_owned(), "info".to_owned()));
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    env
}

/// Invoke and require a response (not an error diagnostic).
fn respond(binary: &Path, env: &[(String, String)], event: &Value, timeout: Duration) -> Invocation {
    let invocation = invoke(binary, env, event, timeout).unwrap();
    assert!(!invocation.is_error, "{} failed: {}\n{}", binary.display(), invocation.payload, invocation.logs);
    invocation
}

/// The function's log, parsed: every line must be one JSON object (`ecs_scaler_aws::logging::init`).
fn log_lines(invocation: &Invocation) -> Vec<Value> {
    invocation
        .logs
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("log line is not JSON ({e}): {l}")))
        .collect()
}

fn operations(emulator: &Emulator, operation: &str) -> usize {
    emulator.calls().unwrap().iter().filter(|c| c.operation == operation).count()
}

fn report<'a>(payload: &'a Value, key: &str, name: &str) -> &'a Value {
    payload[key]
        .as_array()
        .and_then(|all| all.iter().find(|r| r[if key == "clusters" { "cluster" } else { "instance" }] == name))
        .unwrap_or_else(|| panic!("{name} not in {payload}"))
}

// ---- scale-status ---------------------------------------------------------------------------------------

#[tokio::test]
async fn scale_status_publishes_each_clusters_scale_status_and_answers_a_summary() {
    let Some(binary) = packaged("scale-status") else { return };
    let emulator = Emulator::start().unwrap();
    let seeder = Seeder::new(&sdk_config(emulator.url()).await);
    // CloudWatch's EndTime is exclusive: datapoints a minute old are fresh, as ECS's own are.
    let minute_ago = Utc::now() - chrono::Duration::minutes(1);
    seeder.scaled_cluster("pk-hot", &[], 3, Some((90.0, 30.0)), minute_ago).await.unwrap();
    seeder.scaled_cluster("pk-idle", &[], 4, Some((10.0, 20.0)), minute_ago).await.unwrap();
    seeder.scaled_cluster("pk-warm", &[], 3, Some((90.0, 30.0)), minute_ago).await.unwrap();
    let env = lambda_env(
        &emulator,
        &[
            ("CLUSTERS", "pk-hot,pk-idle"),
            ("CPU_MIN", "40"),
            ("CPU_MAX", "75"),
            ("MEMORY_MIN", "40"),
            ("MEMORY_MAX", "75"),
        ],
    );

    // The EventBridge schedule without input: the clusters and thresholds of the environment.
    let tick = respond(binary, &env, &serde_json::from_str(SCHEDULED).unwrap(), Duration::from_secs(30));
    let hot = report(&tick.payload, "clusters", "pk-hot");
    assert_eq!((hot["scale_status"].as_u64(), hot["reason"].as_str()), (Some(2), Some("cpu_above_max")), "{hot}");
    assert_eq!((hot["cpu"].as_f64(), hot["instances"].as_u64()), (Some(90.0), Some(3)), "{hot}");
    let idle = report(&tick.payload, "clusters", "pk-idle");
    assert_eq!((idle["scale_status"].as_u64(), idle["reason"].as_str()), (Some(0), Some("both_below_min")), "{idle}");
    assert_eq!(tick.payload["clusters"].as_array().map(Vec::len), Some(2), "only the listed clusters");
    assert_eq!(tick.payload["emitted"], 2);
    assert_eq!(tick.payload["namespace"], "Curalate/AutoScaling");
    let now = Utc::now();
    let window = |cluster: &'static str, namespace: &'static str| {
        let seeder = &seeder;
        async move {
            let (start, end) = (now - chrono::Duration::minutes(5), now + chrono::Duration::minutes(5));
            seeder.cluster_metric(namespace, "ScaleStatus", cluster, start, end).await.unwrap()
        }
    };
    assert_eq!(window("pk-hot", "Curalate/AutoScaling").await, [2.0], "read back from CloudWatch");
    assert_eq!(window("pk-idle", "Curalate/AutoScaling").await, [0.0]);
    assert_eq!(window("pk-warm", "Curalate/AutoScaling").await, [] as [f64; 0], "not listed, not published");
    // One structured line per cluster, fields at the top level.
    let lines = log_lines(&tick);
    assert!(lines.iter().any(|l| l["cluster"] == "pk-hot" && l["reason"] == "cpu_above_max"), "{}", tick.logs);

    // The schedule's constant input, read again every tick: it names the clusters, a threshold and the namespace.
    let input = json!({"clusters": [{"name": "pk-warm", "cpu": {"max": 95}}], "namespace": "Packaged/Input"});
    let tick = respond(binary, &env, &input, Duration::from_secs(30));
    let warm = report(&tick.payload, "clusters", "pk-warm");
    assert_eq!(
        (warm["scale_status"].as_u64(), warm["reason"].as_str()),
        (Some(1), Some("within_thresholds")),
        "90% is under the event's 95%: {warm}"
    );
    assert_eq!(window("pk-warm", "Packaged/Input").await, [1.0]);

    // A bad event is an error diagnostic of the runtime, and publishes nothing.
    emulator.clear_calls().unwrap();
    let failed = invoke(binary, &env, &json!(["not", "an", "event"]), Duration::from_secs(30)).unwrap();
    assert!(failed.is_error, "{}", failed.payload);
    assert_eq!(failed.payload["errorType"], "ScaleStatus.BadEvent", "{}", failed.payload);
    assert!(failed.payload["errorMessage"].as_str().unwrap().contains("an array"), "{}", failed.payload);
    assert_eq!(operations(&emulator, "PutMetricData"), 0);
}

// ---- drain-hook -----------------------------------------------------------------------------------------

/// A cluster and its group `<cluster>-asg` of `size` instances with the termination hook `drain`.
async fn drained_cluster(seeder: &Seeder, cluster: &str, size: i32) -> Vec<SeededInstance> {
    seeder.cluster(cluster, &[]).await.unwrap();
    let metadata = json!({ "cluster": cluster }).to_string();
    let hook = HookSpec { name: "drain", heartbeat_timeout: 300, metadata: Some(&metadata) };
    let ids = seeder.group(&format!("{cluster}-asg"), cluster, size, Some(hook)).await.unwrap();
    seeder.register(cluster, &ids, 4096, 16384).await.unwrap()
}

async fn scale_in(seeder: &Seeder, instance: &str) {
    let autoscaling = &seeder.autoscaling;
    let request = autoscaling.terminate_instance_in_auto_scaling_group().instance_id(instance);
    request.should_decrement_desired_capacity(true).send().await.unwrap();
}

/// The instance's Auto Scaling lifecycle state, or None once it has left the group.
async fn lifecycle_state(seeder: &Seeder, instance: &str) -> Option<String> {
    let output = seeder.autoscaling.describe_auto_scaling_instances().instance_ids(instance).send().await.unwrap();
    output.auto_scaling_instances().first().map(|i| i.lifecycle_state().unwrap_or_default().to_owned())
}

async fn ecs_status(seeder: &Seeder, cluster: &str, arn: &str) -> String {
    let output =
        seeder.ecs.describe_container_instances().cluster(cluster).container_instances(arn).send().await.unwrap();
    output.container_instances()[0].status().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn drain_hook_starts_the_drain_on_a_notification_and_releases_the_instance_once_its_service_moved() {
    let Some(binary) = packaged("drain-hook") else { return };
    let emulator = Emulator::start().unwrap();
    let seeder = Seeder::new(&sdk_config(emulator.url()).await);
    let instances = drained_cluster(&seeder, "pk-drain", 2).await;
    let (old, new) = (&instances[0], &instances[1]);
    let td = seeder.task_definition("pk-web", 512, 1024).await.unwrap();
    seeder.service("pk-drain", &td, &ServiceSpec::replica("web", 1, 100)).await.unwrap();
    let task = seeder.start_task("pk-drain", &td, &old.container_instance_arn, Some("service:web")).await.unwrap();
    let env = lambda_env(&emulator, &[("CLUSTERS", "pk-drain")]);

    scale_in(&seeder, &old.ec2_instance_id).await;
    assert_eq!(lifecycle_state(&seeder, &old.ec2_instance_id).await.as_deref(), Some("Terminating:Wait"));
    let notifications = emulator.lifecycle_notifications().unwrap();
    assert_eq!(notifications.len(), 1, "{notifications:?}");
    let mut sns: Value = serde_json::from_str(SNS_LIFECYCLE).unwrap();
    sns["Records"][0]["Sns"]["Message"] = json!(notifications[0].to_string());

    // The notification sets the instance DRAINING and holds it; it completes nothing.
    let started = respond(binary, &env, &sns, Duration::from_secs(30));
    assert_eq!(started.payload["trigger"], "lifecycle_notification", "{}", started.payload);
    let instance = report(&started.payload, "instances", &old.ec2_instance_id);
    assert_eq!((instance["outcome"].as_str(), instance["cluster"].as_str()), (Some("drain_started"), Some("pk-drain")));
    assert_eq!(ecs_status(&seeder, "pk-drain", &old.container_instance_arn).await, "DRAINING");
    assert_eq!(lifecycle_state(&seeder, &old.ec2_instance_id).await.as_deref(), Some("Terminating:Wait"));
    assert_eq!(operations(&emulator, "CompleteLifecycleAction"), 0);

    // The reconcile holds it while web has no copy on an ACTIVE instance.
    let held = respond(binary, &env, &serde_json::from_str(SCHEDULED).unwrap(), Duration::from_secs(30));
    let instance = report(&held.payload, "instances", &old.ec2_instance_id);
    assert_eq!(instance["outcome"], "held", "{instance}");
    let blockers = instance["blockers"].as_array().unwrap();
    assert!(
        blockers.iter().any(|b| b["kind"] == "service" && b["name"] == "web" && b["running_on_active"] == 0),
        "{instance}"
    );
    assert_eq!(lifecycle_state(&seeder, &old.ec2_instance_id).await.as_deref(), Some("Terminating:Wait"));
    assert!(operations(&emulator, "RecordLifecycleActionHeartbeat") >= 1, "heartbeats while holding");

    // ECS moves the task: the next reconcile completes the lifecycle action and the instance leaves the group.
    seeder.start_task("pk-drain", &td, &new.container_instance_arn, Some("service:web")).await.unwrap();
    seeder.stop_task("pk-drain", &task).await.unwrap();
    let released = respond(binary, &env, &serde_json::from_str(SCHEDULED).unwrap(), Duration::from_secs(30));
    let instance = report(&released.payload, "instances", &old.ec2_instance_id);
    assert_eq!(
        (instance["outcome"].as_str(), instance["result"].as_str(), instance["why"].as_str()),
        (Some("completed"), Some("CONTINUE"), Some("ready")),
        "{instance}"
    );
    assert_eq!(operations(&emulator, "CompleteLifecycleAction"), 1);
    assert_eq!(lifecycle_state(&seeder, &old.ec2_instance_id).await, None, "terminated, left the group");
}

#[tokio::test]
async fn drain_hook_stops_polling_before_the_invocation_deadline() {
    let Some(binary) = packaged("drain-hook") else { return };
    let emulator = Emulator::start().unwrap();
    let seeder = Seeder::new(&sdk_config(emulator.url()).await);
    let instances = drained_cluster(&seeder, "pk-late", 2).await;
    let td = seeder.task_definition("pk-job", 256, 512).await.unwrap();
    seeder.start_task("pk-late", &td, &instances[0].container_instance_arn, Some("family:job")).await.unwrap();
    scale_in(&seeder, &instances[0].ec2_instance_id).await;
    // A check every second for a 45 s window: only the deadline can end this reconcile early.
    let env = lambda_env(&emulator, &[("CLUSTERS", "pk-late"), ("POLL_SECONDS", "1"), ("RECONCILE_SECONDS", "45")]);
    let scheduled: Value = serde_json::from_str(SCHEDULED).unwrap();

    // An 8 s function timeout: it polls until 5 s before the deadline (about 3 s of checks), then answers.
    let timeout = Duration::from_secs(8);
    let run = respond(binary, &env, &scheduled, timeout);
    assert!(run.cold_start < timeout, "answered after the deadline: {:?}", run.cold_start);
    let checks = run.payload["checks"].as_u64().unwrap();
    assert!((2..=6).contains(&checks), "polled inside the invocation until the margin, not the window: {checks}");
    let instance = report(&run.payload, "instances", &instances[0].ec2_instance_id);
    assert_eq!(instance["outcome"], "held", "{instance}");
    let check_lines = log_lines(&run).into_iter().filter(|l| l["message"] == "drain check").count();
    assert_eq!(check_lines as u64, checks, "one log line per check:\n{}", run.logs);
    assert_eq!(lifecycle_state(&seeder, &instances[0].ec2_instance_id).await.as_deref(), Some("Terminating:Wait"));

    // A timeout shorter than the margin: one check, then the answer.
    let timeout = DEADLINE_MARGIN - Duration::from_secs(1);
    let run = respond(binary, &env, &scheduled, timeout);
    assert!(run.cold_start < timeout, "answered after the deadline: {:?}", run.cold_start);
    assert_eq!(run.payload["checks"], 1, "{}", run.payload);
}

#[tokio::test]
async fn drain_hook_with_a_bad_setting_starts_but_fails_the_invocation_clearly_and_calls_nothing() {
    let Some(binary) = packaged("drain-hook") else { return };
    let emulator = Emulator::start().unwrap();
    let env = lambda_env(&emulator, &[("POLL_SECONDS", "0")]);
    // main.rs reads the settings once, at cold start, and reports a bad one per invocation (not an init crash).
    let failed = invoke(binary, &env, &serde_json::from_str(SCHEDULED).unwrap(), Duration::from_secs(30)).unwrap();
    assert!(failed.is_error, "{}", failed.payload);
    assert_eq!(failed.payload["errorType"], "DrainHook.BadConfig", "{}", failed.payload);
    let message = failed.payload["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains(r#"POLL_SECONDS="0""#), "{message}");
    assert_eq!(emulator.calls().unwrap(), [], "a bad setting makes no AWS call");
}
