//! Placement end to end, one dimension at a time: a cluster seeded as AWS would have it (instances launched by a
//! group from a launch template of a real instance type, registered so that ECS derives their attributes from
//! EC2, tasks placed with StartTask or RunTask so that the emulator enforces the dimension as ECS does, service
//! events as ECS writes them), scale-status's own handler over the SDK adapters, and exact figures: the
//! published ScaleStatus and InstancesShortfall, the report's shortfall, what Auto Scaling's step policy did,
//! and, where instances were added, that ECS then places the waiting tasks on them.
//!
//! In every world CPU and memory alone would give another answer: the dimension under test decides.
//! m5.large: 2 vCPUs, 8 GiB, 3 ENIs (2 awsvpc tasks without trunking, 10 with); the agent registers 2048 CPU
//! units and 7680 MiB here, and a fresh instance of a type no instance registered yet is estimated from EC2
//! (m5.xlarge 4096 / 15564, g4dn.xlarge 4096 / 15564 and 1 GPU: 5 % of the memory kept back).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use ecs_scaler_aws::seed::{
    AwsVpc, InstanceSpec, PlacementSpec, PortSpec, SeededInstance, Seeder, ServiceSpec, TaskSpec, TemplateGroupSpec,
    sdk_config,
};
use ecs_scaler_aws::{AutoScaling, CloudWatch, Ec2, Ecs};
use ecs_scaler_core::config::EnvConfig;
use ecs_scaler_core::placement::{Kept, Lack, Misfit};
use ecs_scaler_core::ports::{Context, FixedClock};
use ecs_scaler_core::scale::trigger::Triggered;
use ecs_scaler_core::scale::{ClusterReport, Note, Summary};
use ecs_scaler_core::{Reason, ScaleStatus};
use ecs_scaler_testkit::Emulator;
use scale_status::{Response, handle, respond};
use serde_json::json;

const NAMESPACE: &str = "Curalate/AutoScaling";
/// What the ECS agent of an m5.large registers here.
const M5_LARGE: InstanceSpec<'static> =
    InstanceSpec { cpu: 2048, memory: 7680, gpus: 0, trunk: false, attributes: &[] };

/// ECS's service event when no instance met a task's requirements; `closest` adds what ECS says of the closest
/// matching instance (its id, then the rest of the sentence).
fn unable(service: &str, closest: Option<(&SeededInstance, &str)>) -> String {
    let mut message = format!(
        "(service {service}) was unable to place a task because no container instance met all of its requirements."
    );
    if let Some((instance, what)) = closest {
        let id = instance.container_instance_arn.rsplit('/').next().unwrap_or_default();
        message.push_str(&format!(
            " The closest matching container-instance {id} {what}. For more information, see the Troubleshooting \
             section of the Amazon ECS Developer Guide."
        ));
    }
    message
}

/// One emulator, its seeder, and the tick's clock.
struct World {
    emulator: Emulator,
    sdk: aws_config::SdkConfig,
    seeder: Seeder,
    now: DateTime<Utc>,
}

impl World {
    async fn new() -> World {
        let emulator = Emulator::start().unwrap();
        let sdk = sdk_config(emulator.url()).await;
        World { seeder: Seeder::new(&sdk), sdk, emulator, now: Utc::now() }
    }

    /// A cluster and its group `<cluster>-blue` (`spec`), up to 10 instances, with its shortfall step policy;
    /// every instance registered as `instance` says. Returns them, oldest first.
    async fn cluster(&self, spec: &TemplateGroupSpec<'_>, instance: &InstanceSpec<'_>) -> Vec<SeededInstance> {
        self.seeder.cluster(spec.cluster, &[]).await.unwrap();
        let ids = self.seeder.template_group(spec).await.unwrap();
        self.seeder
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(spec.name)
            .max_size(10)
            .send()
            .await
            .unwrap();
        self.seeder.shortfall_policy(spec.name, 300).await.unwrap();
        self.seeder.register_instances(spec.cluster, &ids, instance).await.unwrap()
    }

    async fn definition(&self, spec: TaskSpec<'_>) -> String {
        self.seeder.task_definition_with(&spec).await.unwrap()
    }

    /// ECS's service event, 30 s before the tick.
    fn event(&self, cluster: &str, service: &str, message: &str) {
        let at = (self.now - Duration::seconds(30)).timestamp() as f64;
        self.emulator.service_event(cluster, service, message, at).unwrap();
    }

    /// ECS's reservation datapoints, a minute before the tick.
    async fn reservations(&self, cluster: &str, cpu: f64, memory: f64) {
        self.seeder.reservations(cluster, cpu, memory, self.now - Duration::minutes(1)).await.unwrap();
    }

    /// The scheduled tick at `now + later`, with fresh adapters (nothing cached from an earlier tick).
    async fn tick_at(&self, later: Duration, env: &[(&str, &str)]) -> Summary {
        let (ecs, autoscaling, ec2, metrics) = (
            Ecs::from_conf(&self.sdk),
            AutoScaling::from_conf(&self.sdk),
            Ec2::from_conf(&self.sdk),
            CloudWatch::from_conf(&self.sdk),
        );
        let clock = FixedClock(self.now + later);
        let ctx = Context { ecs: &ecs, autoscaling: &autoscaling, ec2: &ec2, metrics: &metrics, clock: &clock };
        handle(&json!({}), &EnvConfig::from_vars(env.iter().copied()), ctx).await.unwrap()
    }

    async fn tick(&self, env: &[(&str, &str)]) -> Summary {
        self.tick_at(Duration::zero(), env).await
    }

    /// A cluster metric's datapoints around the tick(s), oldest first.
    async fn metric(&self, metric: &str, cluster: &str) -> Vec<f64> {
        let (from, to) = (self.now - Duration::minutes(5), self.now + Duration::minutes(5));
        self.seeder.cluster_metric(NAMESPACE, metric, cluster, from, to).await.unwrap()
    }

    async fn desired(&self, group: &str) -> i32 {
        let client = aws_sdk_autoscaling::Client::new(&self.sdk);
        let groups = client.describe_auto_scaling_groups().auto_scaling_group_names(group).send().await.unwrap();
        groups.auto_scaling_groups()[0].desired_capacity().unwrap()
    }

    /// The EC2 instances the group has now that it did not have in `before`, with their instance types.
    async fn launched(&self, group: &str, before: &[SeededInstance]) -> Vec<(String, String)> {
        let client = aws_sdk_autoscaling::Client::new(&self.sdk);
        let groups = client.describe_auto_scaling_groups().auto_scaling_group_names(group).send().await.unwrap();
        groups.auto_scaling_groups()[0]
            .instances()
            .iter()
            .filter(|i| !before.iter().any(|b| Some(b.ec2_instance_id.as_str()) == i.instance_id()))
            .map(|i| (i.instance_id().unwrap().to_owned(), i.instance_type().unwrap_or_default().to_owned()))
            .collect()
    }

    /// Register what the group launched since `before`, as their agents would.
    async fn register_launched(
        &self,
        cluster: &str,
        group: &str,
        before: &[SeededInstance],
        spec: &InstanceSpec<'_>,
    ) -> Vec<SeededInstance> {
        let ids: Vec<String> = self.launched(group, before).await.into_iter().map(|(id, _)| id).collect();
        self.seeder.register_instances(cluster, &ids, spec).await.unwrap()
    }
}

fn report_of<'a>(summary: &'a Summary, cluster: &str) -> &'a ClusterReport {
    summary.clusters.iter().find(|r| r.cluster == cluster).unwrap_or_else(|| panic!("{cluster} not in {summary:?}"))
}

fn by_type(pairs: &[(&str, u32)]) -> BTreeMap<String, u32> {
    pairs.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect()
}

fn lacks(lack: Lack) -> Misfit {
    Misfit::Lacks { lacks: BTreeSet::from([lack]) }
}

/// The notes that say why consolidation kept an instance, by instance.
fn kept(report: &ClusterReport) -> Vec<(&str, &Kept)> {
    report
        .notes
        .iter()
        .filter_map(|note| match note {
            Note::Kept { instance, kept } => Some((instance.as_str(), kept)),
            _ => None,
        })
        .collect()
}

// ---- awsvpc without trunking ---------------------------------------------------------------------------

/// Two m5.large, each running two awsvpc `api` tasks (256 CPU, 512 MiB): both ENI slots taken (3 ENIs, the
/// primary one the instance's), 1536 CPU and 6656 MiB still free. Eight wanted, four wait.
async fn awsvpc_world(world: &World, cluster: &str, trunk: bool) -> (Vec<SeededInstance>, String, Vec<String>) {
    let group = format!("{cluster}-blue");
    let instances = world
        .cluster(&TemplateGroupSpec::new(&group, cluster, 2, "m5.large"), &InstanceSpec { trunk, ..M5_LARGE })
        .await;
    let subnets = world.seeder.default_subnets(&["us-east-1a"]).await.unwrap();
    let vpc = AwsVpc { subnets: &subnets, security_groups: &[] };
    let family = format!("{cluster}-api");
    let api =
        world.definition(TaskSpec { network_mode: Some("awsvpc".into()), ..TaskSpec::new(&family, 256, 512) }).await;
    let placement = PlacementSpec { awsvpc: Some(vpc.clone()), ..PlacementSpec::default() };
    world.seeder.placed_service(cluster, &api, &ServiceSpec::replica("api", 8, 50), &placement).await.unwrap();
    for instance in &instances {
        for _ in 0..2 {
            let arn = &instance.container_instance_arn;
            world.seeder.start_task_in(cluster, &api, arn, Some("service:api"), Some(&vpc)).await.unwrap();
        }
    }
    // 4 × 256 of 2 × 2048 CPU units, 4 × 512 of 2 × 7680 MiB.
    world.reservations(cluster, 25.0, 13.3).await;
    (instances, api, subnets)
}

#[tokio::test]
async fn awsvpc_tasks_without_trunking_need_the_instances_their_enis_need() {
    let world = World::new().await;
    let (instances, api, subnets) = awsvpc_world(&world, "vpc", false).await;
    let vpc = AwsVpc { subnets: &subnets, security_groups: &[] };
    // ECS refuses a third awsvpc task on an m5.large for its ENIs, with CPU and memory to spare.
    let refused = world.seeder.try_start_task("vpc", &api, &instances[0].container_instance_arn, None, Some(&vpc));
    assert_eq!(refused.await.unwrap().unwrap_err().reason, "RESOURCE:ENI");
    world.event("vpc", "api", &unable("api", Some((&instances[0], "encountered error \"RESOURCE:ENI\""))));

    // ECS's placement-failure event, as EventBridge delivers it, to the handler.
    let event = world.emulator.service_action("vpc", "api", "SERVICE_TASK_PLACEMENT_FAILURE").unwrap();
    let (ecs, autoscaling, ec2, metrics) = (
        Ecs::from_conf(&world.sdk),
        AutoScaling::from_conf(&world.sdk),
        Ec2::from_conf(&world.sdk),
        CloudWatch::from_conf(&world.sdk),
    );
    let clock = FixedClock(world.now);
    let ctx = Context { ecs: &ecs, autoscaling: &autoscaling, ec2: &ec2, metrics: &metrics, clock: &clock };
    let response = respond(&event, &EnvConfig::from_vars([("CLUSTERS", "vpc")]), ctx).await.unwrap();
    let Response::Event(Triggered::Evaluated { summary }) = response else { panic!("{response:?}") };
    let report = report_of(&summary, "vpc");
    assert_eq!((report.scale_status, report.reason), (Some(ScaleStatus::Up), Reason::UnplacedTasks), "{report:?}");
    // 4 waiting awsvpc tasks, 2 to a fresh m5.large: 2. CPU and memory alone would fit all 4 where they are (0).
    let shortfall = report.shortfall.as_ref().unwrap();
    assert_eq!((shortfall.instances, shortfall.fit_existing, shortfall.never_fit, shortfall.unjudged), (2, 0, 0, 0));
    assert_eq!(shortfall.by_type, by_type(&[("m5.large", 2)]));
    assert_eq!(world.metric("ScaleStatus", "vpc").await, [2.0]);
    assert_eq!(world.metric("InstancesShortfall", "vpc").await, [2.0]);
    assert_eq!(summary.scale_outs.len(), 1, "{summary:?}");
    assert_eq!((summary.scale_outs[0].group.as_deref(), summary.scale_outs[0].instances), (Some("vpc-blue"), 2));
    assert_eq!(summary.scale_outs[0].error, None);
    assert_eq!(world.desired("vpc-blue").await, 4, "2 + the step for 2");

    // What the step launched holds exactly the waiting tasks: two each, and a fifth would not fit.
    let fresh = world.register_launched("vpc", "vpc-blue", &instances, &M5_LARGE).await;
    assert_eq!(fresh.len(), 2);
    for instance in &fresh {
        for _ in 0..2 {
            let arn = &instance.container_instance_arn;
            world.seeder.start_task_in("vpc", &api, arn, Some("service:api"), Some(&vpc)).await.unwrap();
        }
    }
    let fifth = world.seeder.try_start_task("vpc", &api, &fresh[1].container_instance_arn, None, Some(&vpc));
    assert_eq!(fifth.await.unwrap().unwrap_err().reason, "RESOURCE:ENI");
}

#[tokio::test]
async fn awsvpc_tasks_with_a_trunk_fit_where_they_are() {
    let world = World::new().await;
    let (instances, api, subnets) = awsvpc_world(&world, "trunk", true).await;
    world.event("trunk", "api", &unable("api", None));

    let summary = world.tick(&[("CLUSTERS", "trunk")]).await;
    let report = report_of(&summary, "trunk");
    // Tasks wait after a placement failure: the rule's 2 (README, `unplaced_tasks`), but nothing to launch.
    assert_eq!((report.scale_status, report.reason), (Some(ScaleStatus::Up), Reason::UnplacedTasks), "{report:?}");
    // A trunk gives an m5.large 10 awsvpc tasks: the 4 waiting fit the 8 slots left, nothing to launch.
    let shortfall = report.shortfall.as_ref().unwrap();
    assert_eq!((shortfall.instances, shortfall.fit_existing, shortfall.never_fit, shortfall.unjudged), (0, 4, 0, 0));
    assert!(shortfall.by_type.is_empty(), "{shortfall:?}");
    assert_eq!(world.metric("InstancesShortfall", "trunk").await, [0.0]);
    assert!(summary.scale_outs.is_empty(), "{summary:?}");
    assert_eq!(world.desired("trunk-blue").await, 2);
    // And ECS places them there.
    let vpc = AwsVpc { subnets: &subnets, security_groups: &[] };
    for instance in &instances {
        for _ in 0..2 {
            let arn = &instance.container_instance_arn;
            world.seeder.start_task_in("trunk", &api, arn, Some("service:api"), Some(&vpc)).await.unwrap();
        }
    }
}

// ---- static host port ----------------------------------------------------------------------------------

#[tokio::test]
async fn a_static_host_port_needs_one_fresh_instance_per_waiting_task() {
    let world = World::new().await;
    let instances = world.cluster(&TemplateGroupSpec::new("port-blue", "port", 2, "m5.large"), &M5_LARGE).await;
    let ports = [PortSpec::tcp(80, Some(8080))];
    let web = world.definition(TaskSpec { ports: &ports, ..TaskSpec::new("port-web", 256, 512) }).await;
    world.seeder.service("port", &web, &ServiceSpec::replica("web", 5, 50)).await.unwrap();
    for instance in &instances {
        world.seeder.start_task("port", &web, &instance.container_instance_arn, Some("service:web")).await.unwrap();
    }
    let refused = world.seeder.try_start_task("port", &web, &instances[0].container_instance_arn, None, None);
    assert_eq!(refused.await.unwrap().unwrap_err().reason, "RESOURCE:PORTS");
    world.event("port", "web", &unable("web", Some((&instances[0], "is already using a port required by your task"))));
    world.reservations("port", 12.5, 6.7).await;

    let summary = world.tick(&[("CLUSTERS", "port")]).await;
    let report = report_of(&summary, "port");
    assert_eq!((report.scale_status, report.reason), (Some(ScaleStatus::Up), Reason::UnplacedTasks), "{report:?}");
    // 3 waiting, each holding host port 8080, which both instances hold: one fresh m5.large each. CPU and
    // memory alone would put all 3 on the instances there (1792 CPU units free on each).
    let shortfall = report.shortfall.as_ref().unwrap();
    assert_eq!((shortfall.instances, shortfall.fit_existing), (3, 0));
    assert_eq!(shortfall.by_type, by_type(&[("m5.large", 3)]));
    assert_eq!(world.metric("InstancesShortfall", "port").await, [3.0]);
    assert_eq!(world.desired("port-blue").await, 5, "2 + the step for 3");
    let fresh = world.register_launched("port", "port-blue", &instances, &M5_LARGE).await;
    assert_eq!(fresh.len(), 3);
    for instance in &fresh {
        world.seeder.start_task("port", &web, &instance.container_instance_arn, Some("service:web")).await.unwrap();
    }
}

// ---- GPUs ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_gpu_task_is_unplaceable_until_the_group_launches_a_gpu_type_then_sized_as_that_type() {
    let world = World::new().await;
    let instances = world.cluster(&TemplateGroupSpec::new("gpu-blue", "gpu", 2, "m5.large"), &M5_LARGE).await;
    // Each m5.large runs a 1280/2048 web task: cpu 62.5%, memory 26.7%, between the default thresholds (60/85),
    // and too full to consolidate (62.5% × 2/1 > 85%).
    let web = world.seeder.task_definition("gpu-web", 1280, 2048).await.unwrap();
    world.seeder.service("gpu", &web, &ServiceSpec::replica("web", 2, 50)).await.unwrap();
    for instance in &instances {
        world.seeder.start_task("gpu", &web, &instance.container_instance_arn, Some("service:web")).await.unwrap();
    }
    // Two tasks of 512 CPU units, 2048 MiB and a GPU: CPU and memory alone would fit one on each m5.large.
    let ml = world.definition(TaskSpec { gpus: 1, ..TaskSpec::new("gpu-ml", 512, 2048) }).await;
    world.seeder.service("gpu", &ml, &ServiceSpec::replica("ml", 2, 50)).await.unwrap();
    let refused = world.seeder.try_start_task("gpu", &ml, &instances[0].container_instance_arn, None, None);
    assert_eq!(refused.await.unwrap().unwrap_err().reason, "RESOURCE:GPU");
    world.event("gpu", "ml", &unable("ml", Some((&instances[0], "encountered error \"RESOURCE:GPU\""))));
    world.reservations("gpu", 62.5, 26.7).await;

    // The group launches m5.large: no type of it has a GPU. Reported, never scaled for.
    let summary = world.tick(&[("CLUSTERS", "gpu")]).await;
    let report = report_of(&summary, "gpu");
    assert_eq!((report.scale_status, report.reason), (Some(ScaleStatus::Stay), Reason::WithinThresholds), "{report:?}");
    assert_eq!(report.unplaceable.len(), 1, "{report:?}");
    assert_eq!(report.unplaceable[0].service, "ml");
    assert!(report.unplaceable[0].why.contains("m5.large") && report.unplaceable[0].why.contains("GPU"), "{report:?}");
    assert_eq!(report.shortfall, None, "nothing more instances would place");
    assert!(summary.scale_outs.is_empty(), "{summary:?}");
    assert_eq!(world.desired("gpu-blue").await, 2);

    // The operator makes the launch template launch g4dn.xlarge (1 GPU); the m5.large stay.
    world.seeder.retype_group("gpu-blue", "g4dn.xlarge").await.unwrap();
    let summary = world.tick_at(Duration::minutes(1), &[("CLUSTERS", "gpu")]).await;
    let report = report_of(&summary, "gpu");
    assert_eq!((report.scale_status, report.reason), (Some(ScaleStatus::Up), Reason::UnplacedTasks), "{report:?}");
    assert!(report.unplaceable.is_empty(), "{report:?}");
    // One GPU task to a fresh g4dn.xlarge (4096 CPU units, 15564 MiB, 1 GPU): 2.
    let shortfall = report.shortfall.as_ref().unwrap();
    assert_eq!((shortfall.instances, shortfall.fit_existing, shortfall.never_fit), (2, 0, 0));
    assert_eq!(shortfall.by_type, by_type(&[("g4dn.xlarge", 2)]));
    assert_eq!(world.metric("ScaleStatus", "gpu").await, [1.0, 2.0]);
    assert_eq!(world.metric("InstancesShortfall", "gpu").await, [0.0, 2.0]);
    assert_eq!(world.desired("gpu-blue").await, 4);
    let launched = world.launched("gpu-blue", &instances).await;
    assert!(launched.iter().all(|(_, t)| t == "g4dn.xlarge"), "{launched:?}");
    let g4dn = InstanceSpec { cpu: 4096, memory: 15564, gpus: 1, ..InstanceSpec::default() };
    let fresh = world.register_launched("gpu", "gpu-blue", &instances, &g4dn).await;
    for instance in &fresh {
        world.seeder.start_task("gpu", &ml, &instance.container_instance_arn, Some("service:ml")).await.unwrap();
    }
}

// ---- distinctInstance ----------------------------------------------------------------------------------

#[tokio::test]
async fn distinct_instance_needs_one_fresh_instance_per_waiting_task() {
    let world = World::new().await;
    let instances = world.cluster(&TemplateGroupSpec::new("dist-blue", "dist", 2, "m5.large"), &M5_LARGE).await;
    let api = world.seeder.task_definition("dist-api", 256, 512).await.unwrap();
    let distinct = PlacementSpec { distinct_instance: true, ..PlacementSpec::default() };
    world.seeder.placed_service("dist", &api, &ServiceSpec::replica("api", 4, 50), &distinct).await.unwrap();
    // ECS places two, one on each instance, and no third.
    let placed = world.seeder.run_task("dist", &api, 2, Some("service:api"), &distinct).await.unwrap();
    assert_eq!((placed.tasks.len(), placed.failures.len()), (2, 0), "{placed:?}");
    let third = world.seeder.run_task("dist", &api, 1, Some("service:api"), &distinct).await.unwrap();
    assert!(third.tasks.is_empty(), "{third:?}");
    assert!(
        third.failures.iter().all(|f| f.reason == "DistinctInstance placement constraint unsatisfied"),
        "{third:?}"
    );
    world.event("dist", "api", &unable("api", None));
    world.reservations("dist", 12.5, 6.7).await;

    let summary = world.tick(&[("CLUSTERS", "dist")]).await;
    let report = report_of(&summary, "dist");
    assert_eq!((report.scale_status, report.reason), (Some(ScaleStatus::Up), Reason::UnplacedTasks), "{report:?}");
    // 2 waiting, each on an instance without an api task: 2 fresh m5.large (CPU and memory alone: 0).
    let shortfall = report.shortfall.as_ref().unwrap();
    assert_eq!((shortfall.instances, shortfall.fit_existing), (2, 0));
    assert_eq!(shortfall.by_type, by_type(&[("m5.large", 2)]));
    assert_eq!(world.metric("InstancesShortfall", "dist").await, [2.0]);
    assert_eq!(world.desired("dist-blue").await, 4);
    world.register_launched("dist", "dist-blue", &instances, &M5_LARGE).await;
    let placed = world.seeder.run_task("dist", &api, 2, Some("service:api"), &distinct).await.unwrap();
    assert_eq!((placed.tasks.len(), placed.failures.len()), (2, 0), "ECS places both on the new ones: {placed:?}");
}

/// Thresholds 40/75 for the consolidation tests: CPU/memory alone would consolidate each of their worlds.
const BETWEEN: [(&str, &str); 4] = [("CPU_MIN", "40"), ("CPU_MAX", "75"), ("MEMORY_MIN", "40"), ("MEMORY_MAX", "75")];

fn between(cluster: &'static str) -> Vec<(&'static str, &'static str)> {
    let mut env = vec![("CLUSTERS", cluster)];
    env.extend(BETWEEN);
    env
}

/// Consolidation kept every candidate, and said why: the cluster stays at 1 with nothing removed.
fn assert_kept(report: &ClusterReport) {
    assert_eq!((report.scale_status, report.reason), (Some(ScaleStatus::Stay), Reason::WithinThresholds), "{report:?}");
    assert_eq!(report.removal, None, "{report:?}");
    assert_eq!(report.surplus, 0);
}

#[tokio::test]
async fn consolidation_never_names_an_instance_whose_distinct_task_has_nowhere_to_go() {
    let world = World::new().await;
    let instances = world.cluster(&TemplateGroupSpec::new("dc-blue", "dc", 3, "m5.large"), &M5_LARGE).await;
    let api = world.seeder.task_definition("dc-api", 256, 512).await.unwrap();
    let distinct = PlacementSpec { distinct_instance: true, ..PlacementSpec::default() };
    world.seeder.placed_service("dc", &api, &ServiceSpec::replica("api", 3, 50), &distinct).await.unwrap();
    let web = world.seeder.task_definition("dc-web", 1024, 2048).await.unwrap();
    world.seeder.service("dc", &web, &ServiceSpec::replica("web", 2, 50)).await.unwrap();
    // a: api + web, b: api + web, c: api alone (the cheapest to remove).
    for instance in &instances {
        world.seeder.start_task("dc", &api, &instance.container_instance_arn, Some("service:api")).await.unwrap();
    }
    for instance in &instances[..2] {
        world.seeder.start_task("dc", &web, &instance.container_instance_arn, Some("service:web")).await.unwrap();
    }
    // cpu 2816 / 6144 = 45.8%, memory 5632 / 23040 = 24.4%: between 40 and 75, and 45.8% × 3/2 = 68.75% < 75%.
    // CPU and memory alone would remove c: its task fits a (768 free), leaving 2816 / 4096 = 68.75% < 75 − 5.
    world.reservations("dc", 45.8, 24.4).await;

    let summary = world.tick(&between("dc")).await;
    let report = report_of(&summary, "dc");
    assert_kept(report);
    let kept = kept(report);
    assert_eq!(kept.len(), 3, "all three candidates judged: {report:?}");
    let distinct_nowhere = Kept::FitsNowhere { tasks: 1, why: lacks(Lack::DistinctInstance) };
    assert_eq!(kept[0], (instances[2].ec2_instance_id.as_str(), &distinct_nowhere), "{report:?}");
    assert!(kept.iter().all(|(_, why)| **why == distinct_nowhere), "{report:?}");
    assert_eq!(world.metric("ScaleStatus", "dc").await, [1.0]);
}

// ---- memberOf ------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_task_pinned_to_a_type_is_unplaceable_until_a_group_launches_it_then_sized_as_that_type() {
    let world = World::new().await;
    // A mixed-instances group launching m5.large only.
    let spec =
        TemplateGroupSpec { overrides: &["m5.large"], ..TemplateGroupSpec::new("pin-blue", "pin", 2, "m5.large") };
    let instances = world.cluster(&spec, &M5_LARGE).await;
    let web = world.seeder.task_definition("pin-web", 1280, 2048).await.unwrap();
    world.seeder.service("pin", &web, &ServiceSpec::replica("web", 2, 50)).await.unwrap();
    for instance in &instances {
        world.seeder.start_task("pin", &web, &instance.container_instance_arn, Some("service:web")).await.unwrap();
    }
    // Five tasks of 768/2048 pinned to m5.xlarge. CPU and memory alone would put one on each m5.large (768 CPU
    // units free on each) and the other three on two fresh m5.large.
    let big = world.seeder.task_definition("pin-big", 768, 2048).await.unwrap();
    let pinned =
        PlacementSpec { member_of: Some("attribute:ecs.instance-type == m5.xlarge"), ..PlacementSpec::default() };
    world.seeder.placed_service("pin", &big, &ServiceSpec::replica("big", 5, 50), &pinned).await.unwrap();
    let refused = world.seeder.run_task("pin", &big, 1, Some("service:big"), &pinned).await.unwrap();
    assert!(refused.tasks.is_empty(), "{refused:?}");
    assert!(refused.failures.iter().all(|f| f.reason == "MemberOf placement constraint unsatisfied"), "{refused:?}");
    world.event("pin", "big", &unable("big", None));
    world.reservations("pin", 62.5, 26.7).await;

    let summary = world.tick(&[("CLUSTERS", "pin")]).await;
    let report = report_of(&summary, "pin");
    assert_eq!((report.scale_status, report.reason), (Some(ScaleStatus::Stay), Reason::WithinThresholds), "{report:?}");
    assert_eq!(report.unplaceable.len(), 1, "{report:?}");
    assert_eq!(report.unplaceable[0].service, "big");
    assert!(report.unplaceable[0].why.contains("not memberOf"), "{report:?}");
    assert_eq!(report.shortfall, None);
    assert!(summary.scale_outs.is_empty(), "{summary:?}");
    assert_eq!(world.desired("pin-blue").await, 2);

    // The operator puts m5.xlarge first in the group's overrides (Auto Scaling launches it).
    world.seeder.set_overrides("pin-blue", &["m5.xlarge", "m5.large"]).await.unwrap();
    let summary = world.tick_at(Duration::minutes(1), &[("CLUSTERS", "pin")]).await;
    let report = report_of(&summary, "pin");
    assert_eq!((report.scale_status, report.reason), (Some(ScaleStatus::Up), Reason::UnplacedTasks), "{report:?}");
    // A fresh m5.xlarge (4096 CPU units, 15564 MiB) holds five 768/2048 tasks: the 5 waiting need 1.
    let shortfall = report.shortfall.as_ref().unwrap();
    assert_eq!((shortfall.instances, shortfall.fit_existing, shortfall.never_fit), (1, 0, 0));
    assert_eq!(shortfall.by_type, by_type(&[("m5.xlarge", 1)]));
    assert_eq!(world.metric("InstancesShortfall", "pin").await, [0.0, 1.0]);
    assert_eq!(world.desired("pin-blue").await, 3);
    let launched = world.launched("pin-blue", &instances).await;
    assert!(launched.iter().all(|(_, t)| t == "m5.xlarge"), "{launched:?}");
    world.register_launched("pin", "pin-blue", &instances, &InstanceSpec::new(4096, 15564)).await;
    let placed = world.seeder.run_task("pin", &big, 5, Some("service:big"), &pinned).await.unwrap();
    assert_eq!((placed.tasks.len(), placed.failures.len()), (5, 0), "ECS places all five: {placed:?}");
}

// ---- consolidation refused by host ports and by ENIs ---------------------------------------------------

#[tokio::test]
async fn consolidation_keeps_an_instance_whose_task_holds_a_host_port_every_other_instance_holds() {
    let world = World::new().await;
    let instances = world.cluster(&TemplateGroupSpec::new("cp-blue", "cp", 3, "m5.large"), &M5_LARGE).await;
    let ports = [PortSpec::tcp(80, Some(8080))];
    let web = world.definition(TaskSpec { ports: &ports, ..TaskSpec::new("cp-web", 256, 512) }).await;
    world.seeder.service("cp", &web, &ServiceSpec::replica("web", 3, 50)).await.unwrap();
    let load = world.seeder.task_definition("cp-load", 1024, 2048).await.unwrap();
    world.seeder.service("cp", &load, &ServiceSpec::replica("load", 2, 50)).await.unwrap();
    for instance in &instances {
        world.seeder.start_task("cp", &web, &instance.container_instance_arn, Some("service:web")).await.unwrap();
    }
    for instance in &instances[..2] {
        world.seeder.start_task("cp", &load, &instance.container_instance_arn, Some("service:load")).await.unwrap();
    }
    // As in the distinctInstance world: 45.8% / 24.4%, and CPU and memory alone would remove c.
    world.reservations("cp", 45.8, 24.4).await;

    let summary = world.tick(&between("cp")).await;
    let report = report_of(&summary, "cp");
    assert_kept(report);
    let kept = kept(report);
    let port_nowhere = Kept::FitsNowhere { tasks: 1, why: lacks(Lack::Port("tcp/8080".into())) };
    assert_eq!(kept.len(), 3, "{report:?}");
    assert_eq!(kept[0], (instances[2].ec2_instance_id.as_str(), &port_nowhere), "{report:?}");
    assert!(kept.iter().all(|(_, why)| **why == port_nowhere), "{report:?}");
    let explained = report.notes.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
    assert!(explained.contains("host port tcp/8080 in use"), "{explained}");
}

#[tokio::test]
async fn consolidation_keeps_an_instance_whose_awsvpc_task_finds_no_eni_elsewhere() {
    let world = World::new().await;
    let instances = world.cluster(&TemplateGroupSpec::new("ce-blue", "ce", 3, "m5.large"), &M5_LARGE).await;
    let subnets = world.seeder.default_subnets(&["us-east-1a"]).await.unwrap();
    let vpc = AwsVpc { subnets: &subnets, security_groups: &[] };
    let api =
        world.definition(TaskSpec { network_mode: Some("awsvpc".into()), ..TaskSpec::new("ce-api", 512, 1024) }).await;
    let placement = PlacementSpec { awsvpc: Some(vpc.clone()), ..PlacementSpec::default() };
    world.seeder.placed_service("ce", &api, &ServiceSpec::replica("api", 5, 50), &placement).await.unwrap();
    // a and b: two awsvpc tasks each (their 2 ENI slots); c: one.
    for (instance, count) in instances.iter().zip([2, 2, 1]) {
        for _ in 0..count {
            let arn = &instance.container_instance_arn;
            world.seeder.start_task_in("ce", &api, arn, Some("service:api"), Some(&vpc)).await.unwrap();
        }
    }
    // cpu 2560 / 6144 = 41.7%, memory 5120 / 23040 = 22.2%; 41.7% × 3/2 = 62.5% < 75%. CPU and memory alone
    // would move c's task to a (1024 free), leaving 2560 / 4096 = 62.5% < 75 − 5.
    world.reservations("ce", 41.7, 22.2).await;

    let summary = world.tick(&between("ce")).await;
    let report = report_of(&summary, "ce");
    assert_kept(report);
    let kept = kept(report);
    let eni_nowhere = Kept::FitsNowhere { tasks: 1, why: lacks(Lack::Eni) };
    assert_eq!(kept.len(), 3, "{report:?}");
    assert_eq!(kept[0], (instances[2].ec2_instance_id.as_str(), &eni_nowhere), "{report:?}");
    // a's two tasks: one takes c's free slot, the other finds none.
    assert!(kept.iter().all(|(_, why)| **why == eni_nowhere), "{report:?}");
    let explained = report.notes.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
    assert!(explained.contains("no ENI left for an awsvpc task"), "{explained}");
}

// ---- a stuck drain -------------------------------------------------------------------------------------

#[tokio::test]
async fn a_drain_stuck_for_lack_of_room_gets_an_instance() {
    let world = World::new().await;
    let instances = world.cluster(&TemplateGroupSpec::new("sd-blue", "sd", 3, "m5.large"), &M5_LARGE).await;
    let ports = [PortSpec::tcp(80, Some(8080))];
    let web = world.definition(TaskSpec { ports: &ports, ..TaskSpec::new("sd-web", 256, 512) }).await;
    world.seeder.service("sd", &web, &ServiceSpec::replica("web", 3, 50)).await.unwrap();
    for instance in &instances {
        world.seeder.start_task("sd", &web, &instance.container_instance_arn, Some("service:web")).await.unwrap();
    }
    // c is drained (an operator, a Spot interruption): its task must move, and both others hold port 8080.
    world.seeder.set_draining("sd", &[instances[2].container_instance_arn.clone()]).await.unwrap();
    world.event("sd", "web", &unable("web", Some((&instances[0], "is already using a port required by your task"))));
    // cpu 768 / 6144 = 12.5%, memory 1536 / 23040 = 6.7%: the rule alone says 0 (12.5% × 3/1 = 37.5% < 85%).
    world.reservations("sd", 12.5, 6.7).await;

    let summary = world.tick(&[("CLUSTERS", "sd")]).await;
    let report = report_of(&summary, "sd");
    assert_eq!((report.scale_status, report.reason), (Some(ScaleStatus::Up), Reason::UnplacedTasks), "{report:?}");
    assert!(report.notes.contains(&Note::StuckDrain { service: "web".into(), tasks: 1 }), "{report:?}");
    // The service runs all it wants (3 of 3), but c's task needs a fresh instance.
    let shortfall = report.shortfall.as_ref().unwrap();
    assert_eq!((shortfall.instances, shortfall.fit_existing), (1, 0));
    assert_eq!(shortfall.by_type, by_type(&[("m5.large", 1)]));
    assert_eq!(world.metric("ScaleStatus", "sd").await, [2.0]);
    assert_eq!(world.metric("InstancesShortfall", "sd").await, [1.0]);
    assert_eq!(world.desired("sd-blue").await, 4);
    let fresh = world.register_launched("sd", "sd-blue", &instances, &M5_LARGE).await;
    assert_eq!(fresh.len(), 1);
    world.seeder.start_task("sd", &web, &fresh[0].container_instance_arn, Some("service:web")).await.unwrap();
}
