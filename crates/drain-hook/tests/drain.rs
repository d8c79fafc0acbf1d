//! The drain hook end to end against the AWS emulator: real handler, real SDK clients, an Auto Scaling group
//! whose termination hook puts instances in `Terminating:Wait`. The test plays the ECS scheduler (stopping
//! tasks on draining instances and starting them elsewhere), so every step is visible.
//! Each test has its own emulator, so its call log holds only its own calls.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration as StdDuration;

use drain_hook::{DrainError, Summary, Trigger, handle, trigger};
use ecs_scaler_aws::seed::{HookSpec, SeededInstance, Seeder, ServiceSpec, sdk_config};
use ecs_scaler_aws::{AutoScaling, CloudWatch, Ec2, Ecs, SystemClock};
use ecs_scaler_core::drain::{ATTRIBUTE_DRAIN_STARTED, BelowMin, Blocker, DrainSettings, Outcome, Release};
use ecs_scaler_core::lifecycle::LifecycleResult;
use ecs_scaler_core::ports::Context;
use ecs_scaler_testkit::{Emulator, Fault, TaskState};
use serde_json::{Value, json};
use tokio::time::Instant;

const SNS_LIFECYCLE: &str = include_str!("events/sns-lifecycle.json");
const SNS_TEST: &str = include_str!("events/sns-test-notification.json");
const EVENTBRIDGE_LIFECYCLE: &str = include_str!("events/eventbridge-lifecycle.json");
const SCHEDULED: &str = include_str!("events/scheduled.json");

/// Calls that change something. A malformed event must cause none of them.
const MUTATING: [&str; 5] = [
    "UpdateContainerInstancesState",
    "PutAttributes",
    "CompleteLifecycleAction",
    "RecordLifecycleActionHeartbeat",
    "PutMetricData",
];

struct Scene {
    emulator: Emulator,
    seeder: Seeder,
    ecs: Ecs,
    autoscaling: AutoScaling,
    ec2: Ec2,
    metrics: CloudWatch,
    settings: DrainSettings,
}

impl Scene {
    async fn new(env: &[(&str, &str)]) -> Self {
        let emulator = Emulator::start().unwrap();
        let sdk = sdk_config(emulator.url()).await;
        Self {
            seeder: Seeder::new(&sdk),
            ecs: Ecs::from_conf(&sdk),
            autoscaling: AutoScaling::from_conf(&sdk),
            ec2: Ec2::from_conf(&sdk),
            metrics: CloudWatch::from_conf(&sdk),
            settings: DrainSettings::from_vars(env.iter().copied()).unwrap(),
            emulator,
        }
    }

    /// A group of `size` instances with the termination hook `drain`, registered with `cluster`.
    async fn group(&self, cluster: &str, group: &str, size: i32) -> Vec<SeededInstance> {
        let metadata = json!({ "cluster": cluster }).to_string();
        let hook = HookSpec { name: "drain", heartbeat_timeout: 300, metadata: Some(&metadata) };
        let ids = self.seeder.group(group, cluster, size, Some(hook)).await.unwrap();
        self.seeder.register(cluster, &ids, 4096, 16384).await.unwrap()
    }

    async fn cluster(&self, cluster: &str) {
        self.seeder.cluster(cluster, &[]).await.unwrap();
    }

    async fn run(&self, event: &Value, deadline: Instant) -> Result<Summary, DrainError> {
        let ctx = Context {
            ecs: &self.ecs,
            autoscaling: &self.autoscaling,
            ec2: &self.ec2,
            metrics: &self.metrics,
            clock: &SystemClock,
        };
        handle(event, &self.settings, ctx, deadline).await
    }

    /// One check round (the deadline is too near for a second).
    async fn reconcile(&self) -> Result<Summary, DrainError> {
        self.run(&serde_json::from_str(SCHEDULED).unwrap(), Instant::now() + StdDuration::from_secs(1)).await
    }

    /// Deliver the queued lifecycle notifications as the SNS event the topic would send.
    async fn notify(&self) -> Vec<Result<Summary, DrainError>> {
        let mut results = Vec::new();
        for message in self.emulator.lifecycle_notifications().unwrap() {
            results.push(self.run(&sns_event(&message.to_string()), Instant::now() + StdDuration::from_secs(1)).await);
        }
        results
    }

    async fn scale_in(&self, instance: &str) {
        self.seeder
            .autoscaling
            .terminate_instance_in_auto_scaling_group()
            .instance_id(instance)
            .should_decrement_desired_capacity(true)
            .send()
            .await
            .unwrap();
    }

    /// The instance's lifecycle state, or None once it has left the group.
    async fn state(&self, instance: &str) -> Option<String> {
        let output =
            self.seeder.autoscaling.describe_auto_scaling_instances().instance_ids(instance).send().await.unwrap();
        output.auto_scaling_instances().first().map(|i| i.lifecycle_state().unwrap_or_default().to_owned())
    }

    fn calls(&self, operation: &str) -> usize {
        self.emulator.calls().unwrap().iter().filter(|c| c.operation == operation).count()
    }

    fn mutating_calls(&self) -> Vec<String> {
        let calls = self.emulator.calls().unwrap();
        calls.into_iter().filter(|c| MUTATING.contains(&c.operation.as_str())).map(|c| c.operation).collect()
    }
}

fn sns_event(message: &str) -> Value {
    let mut event: Value = serde_json::from_str(SNS_LIFECYCLE).unwrap();
    event["Records"][0]["Sns"]["Message"] = json!(message);
    event
}

fn service_blocker(name: &str, running_on_active: usize, required: usize) -> Blocker {
    Blocker::Service(BelowMin { name: name.into(), running_on_active, required })
}

fn outcome(summary: &Summary, instance: &str) -> Outcome {
    summary
        .instances
        .iter()
        .find(|r| r.instance == instance)
        .unwrap_or_else(|| panic!("{instance} not in {summary:?}"))
        .outcome
}

const WAIT: Option<&str> = Some("Terminating:Wait");

// ---- events, without AWS ------------------------------------------------------------------------------

#[test]
fn every_supported_event_is_recognised() {
    let Trigger::Terminations(from_sns) = trigger(&serde_json::from_str(SNS_LIFECYCLE).unwrap()).unwrap() else {
        panic!("SNS lifecycle notification")
    };
    assert_eq!(from_sns[0].action.instance_id, "i-0123456789abcdef0");
    assert_eq!(from_sns[0].action.token.as_deref(), Some("71514b9d-6a40-4b26-8523-05e7ee35fa40"));
    let Trigger::Terminations(from_eventbridge) =
        trigger(&serde_json::from_str(EVENTBRIDGE_LIFECYCLE).unwrap()).unwrap()
    else {
        panic!("EventBridge lifecycle action")
    };
    assert_eq!(from_eventbridge[0].action, from_sns[0].action);
    let event_time = chrono::DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z").unwrap();
    assert_eq!(from_eventbridge[0].time, Some(event_time.into()), "the event's time stands in for the detail's");
    assert_eq!(trigger(&serde_json::from_str(SNS_TEST).unwrap()).unwrap(), Trigger::Test);
    assert_eq!(trigger(&serde_json::from_str(SCHEDULED).unwrap()).unwrap(), Trigger::Reconcile);
}

// ---- end to end ---------------------------------------------------------------------------------------

#[tokio::test]
async fn holds_while_a_service_is_below_min_then_completes_once_replacements_run() {
    let scene = Scene::new(&[]).await;
    scene.cluster("single").await;
    let instances = scene.group("single", "single-asg", 2).await;
    let (old, new) = (&instances[0], &instances[1]);
    let td = scene.seeder.task_definition("api", 512, 1024).await.unwrap();
    scene.seeder.service("single", &td, &ServiceSpec::replica("api", 2, 100)).await.unwrap();
    let mut on_old = Vec::new();
    for _ in 0..2 {
        on_old.push(
            scene.seeder.start_task("single", &td, &old.container_instance_arn, Some("service:api")).await.unwrap(),
        );
    }

    scene.scale_in(&old.ec2_instance_id).await;
    assert_eq!(scene.state(&old.ec2_instance_id).await.as_deref(), WAIT);
    // The notification starts the drain and holds the instance; judging it is the reconcile's job.
    let results = scene.notify().await;
    assert_eq!(outcome(results[0].as_ref().unwrap(), &old.ec2_instance_id), Outcome::DrainStarted);
    assert_eq!(scene.calls("UpdateContainerInstancesState"), 1, "set DRAINING");
    assert_eq!((scene.calls("ListTasks"), scene.calls("ListServices")), (0, 0), "a notification reads no snapshot");
    assert_eq!(scene.calls("ListContainerInstances"), 1, "just its own container instance, by EC2 id");
    assert_eq!(scene.calls("DescribeContainerInstances"), 0);
    assert_eq!(scene.ecs_status("single", &old.container_instance_arn).await, "DRAINING");

    let (guard, lines) = ecs_scaler_testkit::capture_logs(ecs_scaler_aws::logging::subscriber);
    let summary = scene.reconcile().await.unwrap();
    drop(guard);
    let checks: Vec<Value> = lines().into_iter().filter(|l| l["message"] == "drain check").collect();
    assert_eq!(checks.len(), 1, "one line per check: {checks:?}");
    assert_eq!(checks[0]["instance"], old.ec2_instance_id.as_str());
    assert_eq!(checks[0]["cluster"], "single");
    assert_eq!((checks[0]["ready"].as_bool(), checks[0]["outcome"].as_str()), (Some(false), Some("held")));
    assert!(checks[0]["drain_age_seconds"].is_i64() || checks[0]["drain_age_seconds"].is_u64(), "{}", checks[0]);
    let blockers = checks[0]["blockers"].as_str().unwrap();
    assert!(blockers.contains("service api: 0 running on ACTIVE instances, 2 required"), "{blockers}");
    assert!(blockers.contains("2 task(s) still on the instance"), "{blockers}");
    assert_eq!(outcome(&summary, &old.ec2_instance_id), Outcome::Held);
    let blockers = &summary.instances[0].blockers;
    assert!(blockers.contains(&service_blocker("api", 0, 2)), "{blockers:?}");
    assert!(matches!(blockers[0], Blocker::OwnTasks { count: 2, .. }));
    assert_eq!(scene.state(&old.ec2_instance_id).await.as_deref(), WAIT, "still held");
    assert!(scene.calls("RecordLifecycleActionHeartbeat") >= 1, "heartbeats while holding");
    assert_eq!(scene.calls("UpdateContainerInstancesState"), 1, "already DRAINING: not set again");
    assert_eq!(scene.calls("CompleteLifecycleAction"), 0);

    // The scheduler moves the tasks: one replacement is not enough at 100%.
    scene.seeder.start_task("single", &td, &new.container_instance_arn, Some("service:api")).await.unwrap();
    scene.seeder.stop_task("single", &on_old[0]).await.unwrap();
    let summary = scene.reconcile().await.unwrap();
    assert_eq!(outcome(&summary, &old.ec2_instance_id), Outcome::Held);
    scene.seeder.start_task("single", &td, &new.container_instance_arn, Some("service:api")).await.unwrap();
    scene.seeder.stop_task("single", &on_old[1]).await.unwrap();

    let summary = scene.reconcile().await.unwrap();
    assert_eq!(
        outcome(&summary, &old.ec2_instance_id),
        Outcome::Completed { result: LifecycleResult::Continue, why: Release::Ready }
    );
    assert_eq!(scene.state(&old.ec2_instance_id).await, None, "left the group");
    let container = scene.ecs_status("single", &old.container_instance_arn).await;
    assert_eq!(container, "DRAINING");
}

impl Scene {
    async fn ecs_status(&self, cluster: &str, arn: &str) -> String {
        let output = self
            .seeder
            .ecs
            .describe_container_instances()
            .cluster(cluster)
            .container_instances(arn)
            .send()
            .await
            .unwrap();
        output.container_instances()[0].status().unwrap_or_default().to_owned()
    }
}

#[tokio::test]
async fn a_blue_green_teardown_waits_for_the_new_colour_then_releases_all() {
    let scene = Scene::new(&[]).await;
    scene.cluster("bg").await;
    let blue = scene.group("bg", "bg-blue", 3).await;
    let green = scene.group("bg", "bg-green", 3).await;
    let td = scene.seeder.task_definition("web", 256, 512).await.unwrap();
    scene.seeder.service("bg", &td, &ServiceSpec::replica("web", 6, 50)).await.unwrap();
    scene.seeder.service("bg", &td, &ServiceSpec::replica("pair", 2, 100)).await.unwrap();
    let mut blue_tasks = Vec::new();
    for (i, instance) in blue.iter().enumerate() {
        for _ in 0..2 {
            blue_tasks.push(
                scene
                    .seeder
                    .start_task("bg", &td, &instance.container_instance_arn, Some("service:web"))
                    .await
                    .unwrap(),
            );
        }
        if i < 2 {
            blue_tasks.push(
                scene
                    .seeder
                    .start_task("bg", &td, &instance.container_instance_arn, Some("service:pair"))
                    .await
                    .unwrap(),
            );
        }
    }

    // Set the old colour to 0: all of blue enters Terminating:Wait together.
    scene
        .seeder
        .autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name("bg-blue")
        .min_size(0)
        .desired_capacity(0)
        .send()
        .await
        .unwrap();
    for instance in &blue {
        assert_eq!(scene.state(&instance.ec2_instance_id).await.as_deref(), WAIT);
    }
    let summary = scene.reconcile().await.unwrap();
    assert!(summary.instances.iter().all(|r| r.outcome == Outcome::Held), "{summary:?}");
    assert_eq!(summary.checks, 1, "one snapshot for the three instances of one cluster");
    let now = chrono::Utc::now();
    let (from, to) = (now - chrono::Duration::minutes(5), now + chrono::Duration::minutes(5));
    let draining =
        scene.seeder.cluster_metric("Curalate/AutoScaling", "DrainingInstances", "bg", from, to).await.unwrap();
    assert_eq!(draining, [3.0], "the reconcile counts the cluster's instances in Terminating:Wait");

    // The new colour runs 3 of 6 web tasks (the minimum) but only 1 of 2 pair tasks: still nobody goes.
    for instance in &green {
        scene.seeder.start_task("bg", &td, &instance.container_instance_arn, Some("service:web")).await.unwrap();
    }
    scene.seeder.start_task("bg", &td, &green[0].container_instance_arn, Some("service:pair")).await.unwrap();
    let summary = scene.reconcile().await.unwrap();
    assert!(summary.instances.iter().all(|r| r.outcome == Outcome::Held));
    assert!(summary.instances[0].blockers.contains(&service_blocker("pair", 1, 2)));

    scene.seeder.start_task("bg", &td, &green[1].container_instance_arn, Some("service:pair")).await.unwrap();
    for task in &blue_tasks {
        scene.seeder.stop_task("bg", task).await.unwrap();
    }
    let summary = scene.reconcile().await.unwrap();
    for instance in &blue {
        assert_eq!(
            outcome(&summary, &instance.ec2_instance_id),
            Outcome::Completed { result: LifecycleResult::Continue, why: Release::Ready }
        );
        assert_eq!(scene.state(&instance.ec2_instance_id).await, None);
    }
}

#[tokio::test]
async fn a_task_ecs_is_still_stopping_holds_the_instance_until_it_has_stopped() {
    let scene = Scene::new(&[]).await;
    scene.cluster("lb").await;
    let instances = scene.group("lb", "lb-asg", 2).await;
    let (old, new) = (&instances[0], &instances[1]);
    let td = scene.seeder.task_definition("web", 512, 1024).await.unwrap();
    scene.seeder.service("lb", &td, &ServiceSpec::replica("web", 1, 100)).await.unwrap();
    let web = scene.seeder.start_task("lb", &td, &old.container_instance_arn, Some("service:web")).await.unwrap();
    scene.scale_in(&old.ec2_instance_id).await;
    assert_eq!(outcome(&scene.reconcile().await.unwrap(), &old.ec2_instance_id), Outcome::Held);
    assert_eq!(scene.calls("ListTasks"), 1, "a held instance costs no look at its stopping tasks");

    // ECS starts the replacement, then stops the old copy: desired STOPPED at once, but the load balancer
    // still drains its connections.
    scene.seeder.start_task("lb", &td, &new.container_instance_arn, Some("service:web")).await.unwrap();
    scene.emulator.task_state("lb", &web, &TaskState::stopping()).unwrap();
    let summary = scene.reconcile().await.unwrap();
    assert_eq!(outcome(&summary, &old.ec2_instance_id), Outcome::Held);
    assert_eq!(summary.instances[0].blockers, [Blocker::StoppingTasks { count: 1, tasks: vec![web.clone()] }]);
    assert_eq!(scene.calls("ListTasks"), 3, "the snapshot, then the cluster's stopped tasks before a release");
    assert_eq!(scene.state(&old.ec2_instance_id).await.as_deref(), WAIT);

    scene.emulator.task_state("lb", &web, &TaskState::stopped()).unwrap();
    let summary = scene.reconcile().await.unwrap();
    assert_eq!(
        outcome(&summary, &old.ec2_instance_id),
        Outcome::Completed { result: LifecycleResult::Continue, why: Release::Ready }
    );
    assert_eq!(scene.state(&old.ec2_instance_id).await, None);
}

#[tokio::test]
async fn a_standalone_task_past_max_drain_time_is_released_with_the_configured_result() {
    let scene = Scene::new(&[("DRAIN_TIMEOUT_RESULT", "ABANDON"), ("MAX_DRAIN_SECONDS", "600")]).await;
    scene.cluster("stuck").await;
    let instances = scene.group("stuck", "stuck-asg", 2).await;
    let old = &instances[0];
    let td = scene.seeder.task_definition("backup", 256, 512).await.unwrap();
    scene.seeder.start_task("stuck", &td, &old.container_instance_arn, Some("family:backup")).await.unwrap();
    scene.scale_in(&old.ec2_instance_id).await;
    assert_eq!(outcome(&scene.reconcile().await.unwrap(), &old.ec2_instance_id), Outcome::Held);

    // The drain started (per its attribute) 11 minutes ago.
    let started = (chrono::Utc::now() - chrono::Duration::minutes(11)).timestamp().to_string();
    let attribute = aws_sdk_ecs::types::Attribute::builder()
        .name(ATTRIBUTE_DRAIN_STARTED)
        .value(started)
        .target_type(aws_sdk_ecs::types::TargetType::ContainerInstance)
        .target_id(&old.container_instance_arn)
        .build()
        .unwrap();
    scene.seeder.ecs.put_attributes().cluster("stuck").attributes(attribute).send().await.unwrap();

    let summary = scene.reconcile().await.unwrap();
    let report = &summary.instances[0];
    assert_eq!(report.outcome, Outcome::Completed { result: LifecycleResult::Abandon, why: Release::TimedOut });
    assert!(report.drain_age_seconds.unwrap() >= 660);
    assert!(matches!(report.blockers.as_slice(), [Blocker::OwnTasks { count: 1, .. }]), "the blocker is named");
    assert_eq!(scene.state(&old.ec2_instance_id).await, None);
    let now = chrono::Utc::now();
    let window = (now - chrono::Duration::minutes(5), now + chrono::Duration::minutes(5));
    let timeouts = scene
        .seeder
        .cluster_metric("Curalate/AutoScaling", "DrainTimeouts", "stuck", window.0, window.1)
        .await
        .unwrap();
    assert_eq!(timeouts, [1.0]);
    let seconds =
        scene.seeder.cluster_metric("Curalate/AutoScaling", "DrainSeconds", "stuck", window.0, window.1).await.unwrap();
    assert!(seconds[0] >= 660.0, "{seconds:?}");
}

#[tokio::test]
async fn an_instance_registered_in_no_cluster_completes_once_that_is_known() {
    let scene = Scene::new(&[]).await;
    scene.cluster("bare").await;
    let hook = HookSpec { name: "drain", heartbeat_timeout: 300, metadata: Some(r#"{"cluster":"bare"}"#) };
    let ids = scene.seeder.group("bare-asg", "bare", 2, Some(hook)).await.unwrap();
    scene.scale_in(&ids[0]).await;
    let results = scene.notify().await;
    assert_eq!(
        outcome(results[0].as_ref().unwrap(), &ids[0]),
        Outcome::Held,
        "not in its cluster: held for the reconcile"
    );
    // Whether it is registered in some other cluster is unknown while ListClusters fails: hold.
    scene.emulator.inject(&Fault::unavailable("ecs", "ListClusters", 100)).unwrap();
    let error = scene.reconcile().await.unwrap_err();
    assert!(matches!(error, DrainError::Incomplete { failed: 1, .. }) && error.to_string().contains("ListClusters"));
    assert_eq!(scene.state(&ids[0]).await.as_deref(), WAIT);
    scene.emulator.clear_faults().unwrap();

    let summary = scene.reconcile().await.unwrap();
    assert_eq!(
        outcome(&summary, &ids[0]),
        Outcome::Completed { result: LifecycleResult::Continue, why: Release::NotRegistered }
    );
    assert_eq!(scene.state(&ids[0]).await, None);
}

#[tokio::test]
async fn test_notifications_and_duplicate_events_are_harmless() {
    let scene = Scene::new(&[]).await;
    scene.cluster("dup").await;
    let instances = scene.group("dup", "dup-asg", 2).await;
    scene.emulator.clear_calls().unwrap();
    let summary = scene.run(&serde_json::from_str(SNS_TEST).unwrap(), Instant::now()).await.unwrap();
    assert_eq!(summary.trigger, "test_notification");
    assert!(scene.emulator.calls().unwrap().is_empty(), "a test notification makes no AWS call at all");

    scene.scale_in(&instances[0].ec2_instance_id).await;
    let message = scene.emulator.lifecycle_notifications().unwrap().remove(0).to_string();
    let deadline = || Instant::now() + StdDuration::from_secs(1);
    let first = scene.run(&sns_event(&message), deadline()).await.unwrap();
    assert_eq!(outcome(&first, &instances[0].ec2_instance_id), Outcome::DrainStarted);
    // The same notification again (SNS delivers at least once): the drain is already started.
    let again = scene.run(&sns_event(&message), deadline()).await.unwrap();
    assert_eq!(outcome(&again, &instances[0].ec2_instance_id), Outcome::DrainStarted);
    // Knowing only the ARN, the duplicate sets DRAINING again (a no-op that answers with the drain start), and
    // records nothing: the attribute is written once.
    assert_eq!((scene.calls("UpdateContainerInstancesState"), scene.calls("PutAttributes")), (2, 1));
    let reconcile = scene.reconcile().await.unwrap();
    assert!(matches!(outcome(&reconcile, &instances[0].ec2_instance_id), Outcome::Completed { .. }));
    let late = scene.run(&sns_event(&message), deadline()).await.unwrap();
    assert!(late.instances.is_empty(), "already gone: nothing to do");
    assert_eq!(scene.calls("CompleteLifecycleAction"), 1);

    // Another invocation completes the second instance between this one's read and its own complete: Auto
    // Scaling answers "No active Lifecycle Action", which is the job done, not a failure.
    scene.scale_in(&instances[1].ec2_instance_id).await;
    let lost_race = "No active Lifecycle Action found with instance ID (completed by another invocation)";
    scene
        .emulator
        .inject(&Fault::rejected("autoscaling", "CompleteLifecycleAction", "ValidationError", lost_race))
        .unwrap();
    let summary = scene.reconcile().await.unwrap();
    assert_eq!(outcome(&summary, &instances[1].ec2_instance_id), Outcome::AlreadyDone);
    assert_eq!(scene.calls("CompleteLifecycleAction"), 2, "tried once, not retried");
}

#[tokio::test]
async fn a_deadline_mid_hold_leaves_the_instance_waiting_for_the_next_reconcile() {
    let scene = Scene::new(&[("POLL_SECONDS", "1")]).await;
    scene.cluster("late").await;
    let instances = scene.group("late", "late-asg", 2).await;
    let td = scene.seeder.task_definition("job", 256, 512).await.unwrap();
    let job =
        scene.seeder.start_task("late", &td, &instances[0].container_instance_arn, Some("family:job")).await.unwrap();
    scene.scale_in(&instances[0].ec2_instance_id).await;

    // Seven seconds: the hold loop re-checks every second until 5 s before the deadline, then returns.
    let started = Instant::now();
    let summary =
        scene.run(&serde_json::from_str(SCHEDULED).unwrap(), Instant::now() + StdDuration::from_secs(7)).await.unwrap();
    assert!(started.elapsed() < StdDuration::from_secs(7), "returned before the deadline");
    assert!(summary.checks >= 2, "re-checked inside the invocation: {}", summary.checks);
    assert_eq!(outcome(&summary, &instances[0].ec2_instance_id), Outcome::Held);
    assert_eq!(scene.state(&instances[0].ec2_instance_id).await.as_deref(), WAIT);

    scene.seeder.stop_task("late", &job).await.unwrap();
    let summary = scene.reconcile().await.unwrap();
    assert!(matches!(outcome(&summary, &instances[0].ec2_instance_id), Outcome::Completed { .. }));
}

#[tokio::test]
async fn malformed_events_fail_clearly_and_change_nothing() {
    let scene = Scene::new(&[]).await;
    scene.cluster("bad").await;
    let instances = scene.group("bad", "bad-asg", 2).await;
    scene.scale_in(&instances[0].ec2_instance_id).await;
    let good = scene.emulator.lifecycle_notifications().unwrap().remove(0);
    scene.emulator.clear_calls().unwrap();

    let mut unknown_group = good.clone();
    unknown_group["AutoScalingGroupName"] = json!("no-such-asg");
    let mut no_instance = good.clone();
    no_instance.as_object_mut().unwrap().remove("EC2InstanceId");
    let mut launching = good.clone();
    launching["LifecycleTransition"] = json!("autoscaling:EC2_INSTANCE_LAUNCHING");
    let cases = [
        (sns_event("{not json"), "not valid JSON"),
        (sns_event(&no_instance.to_string()), "has no EC2InstanceId"),
        (sns_event(&launching.to_string()), "handles only autoscaling:EC2_INSTANCE_TERMINATING"),
        (sns_event(&unknown_group.to_string()), r#"Auto Scaling group "no-such-asg" does not exist"#),
        (json!({"Records": []}), "the SNS event has no Records"),
        (json!({"hello": "world"}), "neither an SNS event"),
        (json!([]), "expected a JSON object"),
    ];
    for (event, expected) in cases {
        let error = scene.run(&event, Instant::now()).await.unwrap_err();
        assert!(error.to_string().contains(expected), "{error}");
    }
    assert_eq!(scene.mutating_calls(), Vec::<String>::new());
    assert_eq!(scene.state(&instances[0].ec2_instance_id).await.as_deref(), WAIT);
}

#[tokio::test]
async fn aws_faults_on_reads_never_lead_to_a_completion() {
    let scene = Scene::new(&[]).await;
    scene.cluster("faulty").await;
    let instances = scene.group("faulty", "faulty-asg", 2).await;
    let old = &instances[0];
    scene.scale_in(&old.ec2_instance_id).await;
    // The instance is empty, so a good read would release it at once.
    for (service, operation) in [("ecs", "ListTasks"), ("ecs", "DescribeServices"), ("ecs", "ListContainerInstances")] {
        let fault = if operation == "ListTasks" {
            Fault::throttling(service, operation, 100)
        } else {
            Fault::unavailable(service, operation, 100)
        };
        scene.emulator.inject(&fault).unwrap();
        if operation == "DescribeServices" {
            // DescribeServices is only called when the cluster has services.
            let td = scene.seeder.task_definition("s", 128, 128).await.unwrap();
            scene.seeder.service("faulty", &td, &ServiceSpec::replica("s", 0, 100)).await.unwrap();
        }
        let error = scene.reconcile().await.unwrap_err();
        assert!(matches!(error, DrainError::Incomplete { failed: 1, .. }), "{operation}: {error}");
        assert!(error.to_string().contains(operation), "{error}");
        assert_eq!(scene.calls("CompleteLifecycleAction"), 0, "{operation}");
        assert_eq!(scene.state(&old.ec2_instance_id).await.as_deref(), WAIT, "{operation}");
        scene.emulator.clear_faults().unwrap();
    }
    let summary = scene.reconcile().await.unwrap();
    assert!(matches!(outcome(&summary, &old.ec2_instance_id), Outcome::Completed { .. }), "released once reads work");
}

// ---- production failure modes ----------------------------------------------------------------------------

#[tokio::test]
async fn a_service_the_drain_never_touched_is_named_but_never_holds_the_instance() {
    let scene = Scene::new(&[]).await;
    scene.cluster("crash").await;
    let instances = scene.group("crash", "crash-asg", 2).await;
    let (old, new) = (&instances[0], &instances[1]);
    let td = scene.seeder.task_definition("app", 256, 512).await.unwrap();
    scene.seeder.service("crash", &td, &ServiceSpec::replica("moved", 1, 100)).await.unwrap();
    // A crash-looping service elsewhere in the cluster: 1 of 3 running, never on the instance being removed.
    scene.seeder.service("crash", &td, &ServiceSpec::replica("crashloop", 3, 100)).await.unwrap();
    scene.seeder.start_task("crash", &td, &new.container_instance_arn, Some("service:crashloop")).await.unwrap();
    let moved =
        scene.seeder.start_task("crash", &td, &old.container_instance_arn, Some("service:moved")).await.unwrap();
    scene.scale_in(&old.ec2_instance_id).await;

    let summary = scene.reconcile().await.unwrap();
    let report = &summary.instances[0];
    assert_eq!(report.outcome, Outcome::Held);
    assert!(matches!(report.blockers[0], Blocker::OwnTasks { count: 1, .. }));
    assert_eq!(report.blockers[1..], [service_blocker("moved", 0, 1)], "crashloop does not block");
    assert_eq!(report.unrelated, [BelowMin { name: "crashloop".into(), running_on_active: 1, required: 3 }]);

    // The scheduler moves "moved": its replacement is PENDING, so the service the drain moved is short.
    let replacement =
        scene.seeder.start_task("crash", &td, &new.container_instance_arn, Some("service:moved")).await.unwrap();
    scene
        .emulator
        .task_state("crash", &replacement, &TaskState { last_status: Some("PENDING"), ..TaskState::default() })
        .unwrap();
    scene.seeder.stop_task("crash", &moved).await.unwrap();
    let summary = scene.reconcile().await.unwrap();
    assert_eq!(outcome(&summary, &old.ec2_instance_id), Outcome::Held);
    assert_eq!(
        summary.instances[0].blockers,
        [service_blocker("moved", 0, 1)],
        "the task that left since the drain began keeps its service in the drain"
    );

    scene
        .emulator
        .task_state("crash", &replacement, &TaskState { last_status: Some("RUNNING"), ..TaskState::default() })
        .unwrap();
    let (guard, lines) = ecs_scaler_testkit::capture_logs(ecs_scaler_aws::logging::subscriber);
    let summary = scene.reconcile().await.unwrap();
    drop(guard);
    assert_eq!(
        outcome(&summary, &old.ec2_instance_id),
        Outcome::Completed { result: LifecycleResult::Continue, why: Release::Ready },
        "crashloop is still at 1 of 3, and does not hold the drain"
    );
    let line = lines().into_iter().find(|l| l["message"] == "drain check").unwrap();
    assert_eq!(line["below_min_elsewhere"], "service crashloop: 1 running on ACTIVE instances, 3 required");
}

impl Scene {
    async fn run_as(&self, env: &[(&str, &str)], event: &Value) -> Result<Summary, DrainError> {
        let settings = DrainSettings::from_vars(env.iter().copied()).unwrap();
        let ctx = Context {
            ecs: &self.ecs,
            autoscaling: &self.autoscaling,
            ec2: &self.ec2,
            metrics: &self.metrics,
            clock: &SystemClock,
        };
        handle(event, &settings, ctx, Instant::now() + StdDuration::from_secs(1)).await
    }
}

#[tokio::test]
async fn two_deployments_each_drain_only_the_groups_of_their_own_clusters() {
    let scene = Scene::new(&[]).await;
    let mut waiting = Vec::new();
    for team in ["team-a", "team-b"] {
        scene.cluster(team).await;
        let instances = scene.group(team, &format!("{team}-asg"), 2).await;
        scene.scale_in(&instances[0].ec2_instance_id).await;
        waiting.push(instances[0].ec2_instance_id.clone());
    }
    let scheduled: Value = serde_json::from_str(SCHEDULED).unwrap();
    let a = scene.run_as(&[("CLUSTERS", "team-a")], &scheduled).await.unwrap();
    let b = scene.run_as(&[("CLUSTERS", "team-b")], &scheduled).await.unwrap();
    let handled = |summary: &Summary| summary.instances.iter().map(|r| r.instance.clone()).collect::<Vec<_>>();
    assert_eq!(handled(&a), [waiting[0].clone()]);
    assert_eq!(handled(&b), [waiting[1].clone()]);
    assert!(matches!(a.instances[0].outcome, Outcome::Completed { .. }), "{a:?}");
    assert!(matches!(b.instances[0].outcome, Outcome::Completed { .. }), "{b:?}");
    assert_eq!(scene.emulator.calls().unwrap().iter().filter(|c| c.status >= 400).count(), 0, "no call failed");
}

#[tokio::test]
async fn a_reconcile_polls_only_for_its_window_and_picks_up_instances_that_start_waiting_meanwhile() {
    let scene = Scene::new(&[("POLL_SECONDS", "1"), ("RECONCILE_SECONDS", "3")]).await;
    scene.cluster("window").await;
    let instances = scene.group("window", "window-asg", 3).await;
    let td = scene.seeder.task_definition("job", 256, 512).await.unwrap();
    for instance in &instances[..2] {
        scene.seeder.start_task("window", &td, &instance.container_instance_arn, Some("family:job")).await.unwrap();
    }
    scene.scale_in(&instances[0].ec2_instance_id).await;
    scene.emulator.clear_calls().unwrap();

    // A deadline far away: the window, not the deadline, ends the invocation, before the next tick starts.
    let started = Instant::now();
    let later = async {
        tokio::time::sleep(StdDuration::from_millis(1500)).await;
        scene.scale_in(&instances[1].ec2_instance_id).await;
    };
    let scheduled: Value = serde_json::from_str(SCHEDULED).unwrap();
    let (summary, ()) = tokio::join!(scene.run(&scheduled, Instant::now() + StdDuration::from_secs(60)), later);
    let summary = summary.unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed < StdDuration::from_secs(6), "returned after {elapsed:?}");
    assert!((3..=5).contains(&summary.checks), "one check a second for 3 s: {}", summary.checks);
    let mut held: Vec<&str> = summary.instances.iter().map(|r| r.instance.as_str()).collect();
    let mut waiting = vec![instances[0].ec2_instance_id.as_str(), instances[1].ec2_instance_id.as_str()];
    held.sort();
    waiting.sort();
    assert_eq!(held, waiting, "the one that started waiting meanwhile joined: {summary:?}");
    assert_eq!(scene.calls("RecordLifecycleActionHeartbeat"), 2, "one heartbeat per instance per invocation");
    assert_eq!(scene.calls("ListContainerInstances"), summary.checks, "one snapshot per check for the whole cluster");
    assert_eq!(scene.calls("ListServices"), 1, "services once per reconcile while no instance could go");
}
