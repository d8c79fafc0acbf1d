//! `make demo`: the whole system, as a short story in the terminal.
//!
//! Runs inside `scripts/terraform-checks.sh apply` (as its `APPLY_THEN` hook), so Terraform has just created the
//! example's cluster, blue/green groups with their termination hooks, both Lambdas, schedules and dashboard in
//! the emulator at `AWS_ENDPOINT_URL`. The Lambdas run from their release zips, as Lambda would run them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::Utc;
use ecs_scaler_aws::seed::{Seeder, ServiceSpec, sdk_config};
use ecs_scaler_testkit::emulator::repo_root;
use ecs_scaler_testkit::lambda::{Invocation, bootstrap, invoke};
use ecs_scaler_testkit::{Emulator, FunctionUrl};
use serde_json::{Value, json};

fn chapter(n: u32, title: &str) {
    println!("\n\x1b[1m{n}. {title}\x1b[0m");
}

fn say(line: &str) {
    println!("   {line}");
}

/// `terraform <args> -json` in the example, parsed.
fn terraform_json(args: &[&str]) -> Value {
    let example = repo_root().join("terraform/examples/complete");
    let output = std::process::Command::new(std::env::var("TERRAFORM").unwrap_or_else(|_| "terraform".into()))
        .arg(format!("-chdir={}", example.display()))
        .args(args)
        .arg("-json")
        .output()
        .expect("terraform");
    assert!(output.status.success(), "terraform {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("terraform's JSON")
}

/// The environment Terraform gave each Lambda function, by function name, from the state.
fn function_environments(state: &Value) -> Vec<(String, Vec<(String, String)>)> {
    let mut found = Vec::new();
    let mut modules = vec![&state["values"]["root_module"]];
    while let Some(module) = modules.pop() {
        modules.extend(module["child_modules"].as_array().into_iter().flatten());
        for resource in module["resources"].as_array().into_iter().flatten() {
            if resource["type"] != "aws_lambda_function" {
                continue;
            }
            let values = &resource["values"];
            let variables = values["environment"][0]["variables"].as_object().cloned().unwrap_or_default();
            let env = variables.into_iter().map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned())).collect();
            found.push((values["function_name"].as_str().unwrap_or_default().to_owned(), env));
        }
    }
    found
}

/// A Lambda as deployed: its release binary, with the environment Terraform configured, pointed at the emulator.
struct Function {
    binary: &'static str,
    env: Vec<(String, String)>,
}

impl Function {
    fn deployed(
        binary: &'static str,
        name: &str,
        environments: &[(String, Vec<(String, String)>)],
        emulator: &Emulator,
    ) -> Self {
        let configured = environments.iter().find(|(n, _)| n == name).map(|(_, env)| env.clone());
        let mut env = emulator.lambda_env();
        env.extend(configured.unwrap_or_else(|| panic!("no Lambda function {name} in the Terraform state")));
        Self { binary, env }
    }
}

fn run(function: &Function, event: &Value, timeout: Duration) -> Invocation {
    let invocation = invoke(&bootstrap(function.binary).unwrap(), &function.env, event, timeout).unwrap();
    let function = function.binary;
    assert!(!invocation.is_error, "{function} failed: {}\n{}", invocation.payload, invocation.logs);
    invocation
}

fn lifecycle_state(seeder_state: &[(String, String)], instance: &str) -> String {
    seeder_state.iter().find(|(id, _)| id == instance).map_or_else(|| "gone (terminated)".into(), |(_, s)| s.clone())
}

async fn states(seeder: &Seeder, group: &str) -> Vec<(String, String)> {
    let groups =
        seeder.autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(group).send().await.unwrap();
    groups
        .auto_scaling_groups()
        .iter()
        .flat_map(|g| g.instances())
        .map(|i| {
            (
                i.instance_id().unwrap_or_default().to_owned(),
                i.lifecycle_state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let url =
        std::env::var("AWS_ENDPOINT_URL").expect("run me through `make demo` (AWS_ENDPOINT_URL names the emulator)");
    let emulator = Emulator::attach(&url);
    let seeder = Seeder::new(&sdk_config(emulator.url()).await);
    let outputs = terraform_json(&["output"]);
    let environments = function_environments(&terraform_json(&["show"]));
    let function_name = |key: &str| outputs[key]["value"].as_str().unwrap().to_owned();
    let scale_status =
        Function::deployed("scale-status", &function_name("scale_status_function_name"), &environments, &emulator);
    let drain_hook =
        Function::deployed("drain-hook", &function_name("drain_hook_function_name"), &environments, &emulator);
    let topic = function_name("drain_hook_topic_arn");
    let cluster = outputs["cluster_name"]["value"].as_str().unwrap().to_owned();
    let blue = outputs["autoscaling_group_names"]["value"]["blue"].as_str().unwrap().to_owned();
    let schedule_input: Value = match &outputs["scale_status_schedule_input"]["value"] {
        Value::String(raw) => serde_json::from_str(raw).unwrap(),
        other => other.clone(),
    };

    chapter(1, "What Terraform built");
    say(&format!(
        "ECS cluster {cluster:?}; blue group {blue:?} with a termination hook; both Lambdas and their schedules."
    ));
    say(&format!("The scale-status schedule sends: {schedule_input}"));
    let env_line = |f: &Function| {
        let configured: Vec<String> =
            f.env.iter().filter(|(k, _)| !k.starts_with("AWS_")).map(|(k, v)| format!("{k}={v}")).collect();
        configured.join(" ")
    };
    say(&format!("scale-status runs with {}", env_line(&scale_status)));
    say(&format!("drain-hook runs with {}", env_line(&drain_hook)));

    chapter(2, "A busy cluster");
    let instances = seeder.group_instances(&blue).await.unwrap();
    let registered = seeder.register(&cluster, &instances, 4096, 8192).await.unwrap();
    let td = seeder.task_definition("demo-web", 512, 1024).await.unwrap();
    seeder.service(&cluster, &td, &ServiceSpec::replica("web", 4, 50)).await.unwrap();
    seeder.service(&cluster, &td, &ServiceSpec::replica("api", 2, 100)).await.unwrap();
    let mut on_first = Vec::new();
    for (i, instance) in registered.iter().enumerate() {
        for service in ["web", "web", "api"] {
            let task = seeder
                .start_task(&cluster, &td, &instance.container_instance_arn, Some(&format!("service:{service}")))
                .await
                .unwrap();
            if i == 0 {
                on_first.push((service, task));
            }
        }
    }
    seeder.reservations(&cluster, 81.0, 55.0, Utc::now() - chrono::Duration::minutes(1)).await.unwrap();
    say(&format!(
        "{} container instances; services web (4 tasks, min 50%) and api (2 tasks, min 100%), one api copy per instance.",
        registered.len()
    ));
    say("AWS/ECS reports CPUReservation 81% and MemoryReservation 55%.");

    chapter(3, "One scale-status tick (the release binary, from its zip)");
    let tick = run(&scale_status, &schedule_input, Duration::from_secs(30));
    println!("   cluster         cpu  memory instances  status  reason           detail");
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    for report in tick.payload["clusters"].as_array().into_iter().flatten() {
        println!(
            "   {:<12} {:>5}% {:>6}% {:>9}  {:>6}  {:<16} {}",
            text(&report["cluster"]),
            text(&report["cpu"]),
            text(&report["memory"]),
            text(&report["instances"]),
            text(&report["scale_status"]),
            text(&report["reason"]),
            text(&report["detail"])
        );
    }
    say(&format!(
        "cold start to response: {:.0} ms, peak RSS {:.1} MiB",
        tick.cold_start.as_secs_f64() * 1000.0,
        tick.peak_rss_kib.unwrap_or(0) as f64 / 1024.0
    ));
    let now = Utc::now();
    let published = seeder
        .cluster_metric(
            "Curalate/AutoScaling",
            "ScaleStatus",
            &cluster,
            now - chrono::Duration::minutes(5),
            now + chrono::Duration::minutes(5),
        )
        .await
        .unwrap();
    say(&format!(
        "CloudWatch now holds Curalate/AutoScaling ScaleStatus {published:?}; the *_ScaleStatus_high alarm would scale up after 4 minutes of it."
    ));

    chapter(4, "Scale in one instance: the drain hook holds it");
    let victim = &registered[0];
    // As an operator would: the group's minimum first, so one instance may leave.
    seeder.autoscaling.update_auto_scaling_group().auto_scaling_group_name(&blue).min_size(1).send().await.unwrap();
    seeder
        .autoscaling
        .terminate_instance_in_auto_scaling_group()
        .instance_id(&victim.ec2_instance_id)
        .should_decrement_desired_capacity(true)
        .send()
        .await
        .unwrap();
    say(&format!(
        "{} is {}.",
        victim.ec2_instance_id,
        lifecycle_state(&states(&seeder, &blue).await, &victim.ec2_instance_id)
    ));
    let notification =
        emulator.lifecycle_notifications().unwrap().into_iter().next().expect("a lifecycle notification");
    let sns = json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": format!("{topic}:1"),
        "Sns": {"Type": "Notification", "MessageId": "1", "TopicArn": topic,
            "Subject": "Auto Scaling: Lifecycle action 'TERMINATING'", "Message": notification.to_string(),
            "Timestamp": "2026-11-22T10:00:00.000Z", "SignatureVersion": "1", "Signature": "x",
            "SigningCertUrl": "https://example.invalid/cert.pem", "UnsubscribeUrl": "https://example.invalid/unsubscribe",
            "MessageAttributes": {}}}]});
    let held = run(&drain_hook, &sns, Duration::from_secs(8));
    for report in held.payload["instances"].as_array().into_iter().flatten() {
        say(&format!(
            "drain hook: {} {}",
            report["instance"].as_str().unwrap_or_default(),
            report["outcome"].as_str().unwrap_or_default()
        ));
        for blocker in report["blockers"].as_array().into_iter().flatten() {
            let line = match blocker["kind"].as_str() {
                Some("service") => format!(
                    "service {}: {} running on ACTIVE instances, {} required",
                    blocker["name"].as_str().unwrap_or_default(),
                    blocker["running_on_active"],
                    blocker["required"]
                ),
                Some("own_tasks") => format!("{} task(s) still on the instance", blocker["count"]),
                _ => blocker.to_string(),
            };
            say(&format!("  blocked by {line}"));
        }
    }
    say(&format!(
        "{} is still {}.",
        victim.ec2_instance_id,
        lifecycle_state(&states(&seeder, &blue).await, &victim.ec2_instance_id)
    ));

    chapter(5, "ECS moves the tasks; the next reconcile releases the instance");
    let survivor = &registered[1].clone();
    for (service, task) in &on_first {
        seeder
            .start_task(&cluster, &td, &survivor.container_instance_arn, Some(&format!("service:{service}")))
            .await
            .unwrap();
        seeder.stop_task(&cluster, task).await.unwrap();
    }
    say(&format!("web and api copies started on {}, the old ones stopped.", survivor.ec2_instance_id));
    let scheduled = json!({"version": "0", "id": "2", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-22T10:01:00Z", "region": "us-east-1", "resources": [], "detail": {}});
    let released = run(&drain_hook, &scheduled, Duration::from_secs(8));
    for report in released.payload["instances"].as_array().into_iter().flatten() {
        say(&format!(
            "drain hook: {} {} ({} {}), after {} s",
            report["instance"].as_str().unwrap_or_default(),
            report["outcome"].as_str().unwrap_or_default(),
            report["result"].as_str().unwrap_or_default(),
            report["why"].as_str().unwrap_or_default(),
            report["drain_age_seconds"]
        ));
    }
    say(&format!(
        "{} is {}.",
        victim.ec2_instance_id,
        lifecycle_state(&states(&seeder, &blue).await, &victim.ec2_instance_id)
    ));

    // As the ECS agent does when its instance terminates.
    seeder
        .ecs
        .deregister_container_instance()
        .cluster(&cluster)
        .container_instance(&victim.container_instance_arn)
        .force(true)
        .send()
        .await
        .unwrap();

    let scene = Consolidation { cluster, blue, td, survivor: survivor.clone(), schedule_input };
    consolidation(&emulator, &seeder, &scene, &scale_status, &drain_hook, &outputs, &topic).await;
    println!("\nThat's the loop. Terraform now destroys everything and the emulator stops.");
}

struct Consolidation {
    cluster: String,
    blue: String,
    td: String,
    survivor: ecs_scaler_aws::seed::SeededInstance,
    schedule_input: Value,
}

/// The group's InService instances and their zones.
async fn zones(seeder: &Seeder, group: &str) -> Vec<(String, String)> {
    let groups =
        seeder.autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(group).send().await.unwrap();
    groups
        .auto_scaling_groups()
        .iter()
        .flat_map(|g| g.instances())
        .filter(|i| i.lifecycle_state().is_some_and(|s| s.as_str() == "InService"))
        .map(|i| (i.instance_id().unwrap_or_default().to_owned(), i.availability_zone().unwrap_or_default().to_owned()))
        .collect()
}

/// Chapters 6 and 7: load falls, the rule picks an instance, Auto Scaling asks which to terminate, the drain hook
/// holds that instance until its task runs elsewhere, then it goes.
async fn consolidation(
    emulator: &Emulator,
    seeder: &Seeder,
    scene: &Consolidation,
    scale_status: &Function,
    drain_hook: &Function,
    outputs: &Value,
    topic: &str,
) {
    let Consolidation { cluster, blue, td, survivor, schedule_input } = scene;
    chapter(6, "Load falls: consolidation picks an instance");
    seeder.autoscaling.set_desired_capacity().auto_scaling_group_name(blue).desired_capacity(3).send().await.unwrap();
    // Auto Scaling keeps zones balanced: on a scale-in it offers only the fuller zone's instances. The light
    // instance is the new one that shares a zone with another, so it is among those offered.
    let placed = zones(seeder, blue).await;
    let zone_of = |id: &str| placed.iter().find(|(i, _)| i == id).map(|(_, z)| z.clone()).unwrap_or_default();
    let shared = |id: &str| placed.iter().filter(|(_, z)| *z == zone_of(id)).count() > 1;
    let mut fresh: Vec<String> =
        placed.iter().map(|(id, _)| id.clone()).filter(|id| id != &survivor.ec2_instance_id).collect();
    fresh.sort_by_key(|id| shared(id));
    let fresh = seeder.register(cluster, &fresh, 4096, 8192).await.unwrap();
    let (busy, light) = (&fresh[0], &fresh[fresh.len() - 1]);
    let mut busy_tasks = Vec::new();
    for _ in 0..4 {
        busy_tasks
            .push(seeder.start_task(cluster, td, &busy.container_instance_arn, Some("service:web")).await.unwrap());
    }
    let lone = seeder.start_task(cluster, td, &light.container_instance_arn, Some("service:web")).await.unwrap();
    seeder.reservations(cluster, 46.0, 46.0, Utc::now() - chrono::Duration::minutes(1)).await.unwrap();
    say(&format!(
        "Three instances: {} runs 6 tasks, {} runs 4, {} runs 1. Reservation 46%: above the 40% min, so the 2018 rule would keep all three.",
        survivor.ec2_instance_id, busy.ec2_instance_id, light.ec2_instance_id
    ));
    let tick = run(scale_status, schedule_input, Duration::from_secs(30));
    for report in tick.payload["clusters"].as_array().into_iter().flatten() {
        say(&format!(
            "scale-status: ScaleStatus {} ({}): {}",
            report["scale_status"],
            report["reason"].as_str().unwrap_or_default(),
            report["detail"].as_str().unwrap_or_default()
        ));
    }
    say("The low alarm would see that 0 for 10 minutes and run the scale-down policy; the demo runs it now.");

    chapter(7, "Auto Scaling asks which instance to take; the drain hook holds it until its task runs elsewhere");
    let function_arn = outputs["drain_hook_function_arn"]["value"].as_str().unwrap_or_default().to_owned();
    let (binary, env) = (bootstrap(drain_hook.binary).unwrap(), drain_hook.env.clone());
    let served = FunctionUrl::serve(move |event| {
        let answer = invoke(&binary, &env, &event, Duration::from_secs(5)).map_err(|e| e.to_string())?;
        if answer.is_error { Err(answer.payload.to_string()) } else { Ok(answer.payload) }
    })
    .unwrap();
    emulator.register_function(&function_arn, served.url(), 2.0).unwrap();
    emulator.clear_termination_requests().unwrap();
    emulator.lifecycle_notifications().unwrap();
    let group = seeder.autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(blue).send().await.unwrap();
    let policies = group.auto_scaling_groups()[0].termination_policies().to_vec();
    say(&format!("{blue}'s termination policies: {policies:?}"));
    seeder.autoscaling.set_desired_capacity().auto_scaling_group_name(blue).desired_capacity(2).send().await.unwrap();
    for request in emulator.termination_requests().unwrap() {
        let offered: Vec<&str> = request["request"]["Instances"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["InstanceId"].as_str())
            .collect();
        say(&format!("Auto Scaling offered {offered:?}; the drain hook's policy answered {}", request["response"]));
    }
    let waiting: Vec<String> = states(seeder, blue)
        .await
        .into_iter()
        .filter(|(_, state)| state == "Terminating:Wait")
        .map(|(id, _)| id)
        .collect();
    let chosen = if waiting.contains(&light.ec2_instance_id) { light } else { busy };
    say(&format!(
        "{} is {}.",
        chosen.ec2_instance_id,
        lifecycle_state(&states(seeder, blue).await, &chosen.ec2_instance_id)
    ));
    let sns = |message: &Value| {
        json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": format!("{topic}:1"),
        "Sns": {"Type": "Notification", "MessageId": "2", "TopicArn": topic,
            "Subject": "Auto Scaling: Lifecycle action 'TERMINATING'", "Message": message.to_string(),
            "Timestamp": "2026-11-22T10:00:00.000Z", "SignatureVersion": "1", "Signature": "x",
            "SigningCertUrl": "https://example.invalid/cert.pem", "UnsubscribeUrl": "https://example.invalid/unsubscribe",
            "MessageAttributes": {}}}]})
    };
    for notification in emulator.lifecycle_notifications().unwrap() {
        let held = run(drain_hook, &sns(&notification), Duration::from_secs(8));
        for report in held.payload["instances"].as_array().into_iter().flatten() {
            say(&format!(
                "drain hook: {} {}",
                report["instance"].as_str().unwrap_or_default(),
                report["outcome"].as_str().unwrap_or_default()
            ));
        }
    }
    let moving = if chosen.ec2_instance_id == light.ec2_instance_id { vec![lone] } else { busy_tasks };
    for task in &moving {
        seeder.start_task(cluster, td, &survivor.container_instance_arn, Some("service:web")).await.unwrap();
        seeder.stop_task(cluster, task).await.unwrap();
    }
    say(&format!(
        "ECS starts {} web task(s) on {} and stops those on {}.",
        moving.len(),
        survivor.ec2_instance_id,
        chosen.ec2_instance_id
    ));
    let scheduled = json!({"version": "0", "id": "3", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-22T10:12:00Z", "region": "us-east-1", "resources": [], "detail": {}});
    let released = run(drain_hook, &scheduled, Duration::from_secs(8));
    for report in released.payload["instances"].as_array().into_iter().flatten() {
        let how = match (report["result"].as_str(), report["why"].as_str()) {
            (Some(result), Some(why)) => format!(" ({result} {why})"),
            _ => String::new(),
        };
        say(&format!(
            "drain hook: {} {}{how}",
            report["instance"].as_str().unwrap_or_default(),
            report["outcome"].as_str().unwrap_or_default()
        ));
    }
    say(&format!(
        "{} is {}.",
        chosen.ec2_instance_id,
        lifecycle_state(&states(seeder, blue).await, &chosen.ec2_instance_id)
    ));
}
