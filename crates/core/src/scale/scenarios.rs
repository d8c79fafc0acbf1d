//! Whole ticks over a scripted AWS: the plan's rules as a cluster sees them (sizing a scale-out, consolidation,
//! the surplus, capacity launching), and the placement model's dimensions binding where CPU and memory alone
//! would not: host ports, ENIs, GPUs, distinctInstance, memberOf, a stuck drain, what cannot be judged.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::capacity::{SHORTFALL_METRIC, SURPLUS_METRIC};
use super::plan::Note;
use super::tick::{ClusterReport, Summary, TAG_SHORTFALL_POLICY, run};
use super::{Reason, ScaleStatus};
use crate::cluster::{
    ATTRIBUTE_INSTANCE_TYPE, HostPorts, PlacementConstraint, PortMapping, Protocol, Resources, Scheduling,
};
use crate::config::{EnvConfig, ScheduleInput, TickConfig};
use crate::lifecycle::TAG_CLUSTER;
use crate::ports::script::Script;
use crate::ports::{Context, FixedClock};

const UNABLE: &str =
    "(service api) was unable to place a task because no container instance met all of its requirements.";
const LARGE: (u32, u32) = (2048, 4096);

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).single().unwrap()
}

fn tick(cloud: &Script, clusters: &str) -> Summary {
    let env = EnvConfig::from_vars([
        ("CLUSTERS", clusters),
        ("CPU_MIN", "40"),
        ("CPU_MAX", "75"),
        ("MEMORY_MIN", "40"),
        ("MEMORY_MAX", "75"),
    ]);
    let config = TickConfig::build(&env, &ScheduleInput::default()).unwrap();
    let ctx = Context { ecs: cloud, autoscaling: cloud, ec2: cloud, metrics: cloud, clock: &FixedClock(now()) };
    futures::executor::block_on(run(ctx, &config)).unwrap()
}

fn report<'a>(summary: &'a Summary, cluster: &str) -> &'a ClusterReport {
    summary.clusters.iter().find(|r| r.cluster == cluster).unwrap()
}

/// A DAEMON service `agent` (128 CPU units, 256 MiB) beside whatever else the cluster runs.
fn with_daemon(cloud: Script, cluster: &str) -> Script {
    let cloud = cloud.with_service(cluster, "agent", 3, 3, &[]);
    let mut state = cloud.state();
    let services = state.services.get_mut(cluster).unwrap();
    services.last_mut().unwrap().scheduling = Scheduling::Daemon;
    let definition = services.last().unwrap().task_definition.clone();
    state.task_definitions.get_mut(&definition).unwrap().containers[0] =
        crate::cluster::ContainerSize { cpu: 128, memory_reservation: Some(256), ..Default::default() };
    drop(state);
    cloud
}

/// `web`: two full instances, 8 api tasks (512/1024) waiting; the blue group serves, green is parked.
fn short_cluster() -> Script {
    let api = "arn:aws:ecs:us-east-1:123456789012:task-definition/api:1";
    let cloud = Script::new()
        .with_cluster("web", 2, &[])
        .with_reservations("web", 60.0, 60.0, now() - Duration::minutes(1))
        .with_instance("web", "a", "ACTIVE", LARGE.0, LARGE.1)
        .with_instance("web", "b", "ACTIVE", LARGE.0, LARGE.1)
        .with_load("web", "a", Resources::new(256, 512), 4)
        .with_load("web", "b", Resources::new(256, 512), 4)
        .with_task_definition(api, 512, 1024)
        .with_service("web", "api", 14, 6, &[(now() - Duration::minutes(1), UNABLE)])
        .with_group("web-blue", 2, 2, &[(TAG_CLUSTER, "web"), (TAG_SHORTFALL_POLICY, "web-shortfall-blue")])
        .with_group("web-green", 0, 0, &[(TAG_CLUSTER, "web"), (TAG_SHORTFALL_POLICY, "web-shortfall-green")]);
    with_daemon(cloud, "web")
}

#[test]
fn waiting_tasks_are_sized_into_fresh_instances_and_asked_of_the_serving_group_at_once() {
    let cloud = short_cluster();
    let summary = tick(&cloud, "web");
    let web = report(&summary, "web");
    assert_eq!(web.scale_status, Some(ScaleStatus::Up));
    // 8 tasks of 512/1024; a fresh instance holds 3 once the daemon's 128/256 is off: 3 instances.
    let short = web.shortfall.clone().unwrap();
    assert_eq!((short.instances, short.fit_existing, short.never_fit, short.unjudged), (3, 0, 0, 0));
    assert_eq!(cloud.state().executed, [("web-blue".into(), "web-shortfall-blue".into(), 3.0)]);
    assert_eq!(summary.scale_outs.len(), 1);
    assert_eq!(summary.scale_outs[0].group.as_deref(), Some("web-blue"));
    let shortfall: Vec<f64> =
        cloud.published().iter().filter(|(_, m)| m.name == SHORTFALL_METRIC).map(|(_, m)| m.value).collect();
    assert_eq!(shortfall, [3.0]);
}

#[test]
fn a_failed_scale_out_is_reported_and_the_scale_status_still_published() {
    let cloud = short_cluster().failing("ExecutePolicy");
    let summary = tick(&cloud, "web");
    assert_eq!(report(&summary, "web").scale_status, Some(ScaleStatus::Up));
    let error = summary.scale_outs[0].error.as_deref().unwrap_or_default();
    assert!(error.contains("ExecutePolicy"), "{error}");
    assert_eq!(summary.emitted, 1);
}

#[test]
fn without_a_tagged_group_nothing_is_executed_and_the_report_says_why() {
    let cloud = short_cluster();
    cloud.state().groups.clear();
    let summary = tick(&cloud, "web");
    assert!(cloud.state().executed.is_empty());
    let error = summary.scale_outs[0].error.as_deref().unwrap_or_default();
    assert!(error.contains("no group is tagged"), "{error}");
}

#[test]
fn a_scale_up_that_launching_instances_cover_holds_at_one_and_a_failed_group_read_keeps_the_two() {
    let hot = || {
        Script::new()
            .with_cluster("hot", 4, &[])
            .with_reservations("hot", 90.0, 50.0, now() - Duration::minutes(1))
            .with_group("hot-blue", 2, 6, &[(TAG_CLUSTER, "hot")])
            .with_group_state(2, "Pending")
    };
    let cloud = hot();
    let summary = tick(&cloud, "hot");
    let report = report(&summary, "hot");
    assert_eq!((report.scale_status, report.reason), (Some(ScaleStatus::Stay), Reason::CapacityPending));
    assert!(
        report.detail.contains("cpu 90.0% would be 60.0% once the 2 instance(s) launching register"),
        "{}",
        report.detail
    );

    let cloud = hot().failing("DescribeAutoScalingGroups");
    let summary = tick(&cloud, "hot");
    assert_eq!(report_of(&summary, "hot"), (Some(ScaleStatus::Up), Reason::CpuAboveMax));
}

fn report_of(summary: &Summary, cluster: &str) -> (Option<ScaleStatus>, Reason) {
    let found = report(summary, cluster);
    (found.scale_status, found.reason)
}

/// `c`: three instances; `a` runs one api task and the daemon, `b` and `c` are half full (48% reserved).
fn loose_cluster(cpu: f64) -> Script {
    let api = "arn:aws:ecs:us-east-1:123456789012:task-definition/api:1";
    let cloud = Script::new()
        .with_cluster("c", 3, &[])
        .with_reservations("c", cpu, 48.0, now() - Duration::minutes(1))
        .with_instance("c", "a", "ACTIVE", LARGE.0, LARGE.1)
        .with_instance("c", "b", "ACTIVE", LARGE.0, LARGE.1)
        .with_instance("c", "c", "ACTIVE", LARGE.0, LARGE.1)
        .with_load("c", "a", Resources::new(1408, 2816), 2)
        .with_load("c", "b", Resources::new(896, 1792), 3)
        .with_load("c", "c", Resources::new(896, 1792), 3)
        .with_task_definition(api, 512, 1024)
        .with_service("c", "api", 5, 5, &[])
        .with_group("c-blue", 1, 3, &[(TAG_CLUSTER, "c")])
        .with_group_members(&["a", "b", "c"], "us-east-1a");
    let cloud = with_daemon(cloud, "c");
    let agent = cloud.state().services["c"][1].task_definition.clone();
    cloud.with_task("c", "service:api", "a", api).with_task("c", "service:agent", "a", &agent)
}

#[test]
fn an_instance_whose_tasks_fit_elsewhere_is_consolidated_and_named() {
    let cloud = loose_cluster(48.0);
    let summary = tick(&cloud, "c");
    let c = report(&summary, "c");
    assert_eq!((c.scale_status, c.reason), (Some(ScaleStatus::Down), Reason::Consolidation));
    assert_eq!(c.removal.as_ref().map(|r| r.container_instance_arn.as_str()), Some("a"));
    assert!(c.detail.contains("instance i-a can go"), "{}", c.detail);
    // a can go; then b, whose 1152 CPU units would leave the last instance over max, cannot: a surplus of 1.
    assert_eq!(c.surplus, 1);
    // Each instance's tasks were read once, for consolidation and the surplus together.
    assert_eq!(cloud.calls("ListTasks"), 3);
    // While the group scales (desired 2 of 3 registered: one leaving, not DRAINING yet), no surplus.
    let cloud = loose_cluster(48.0);
    cloud.state().groups[0].desired_capacity = 2;
    let c = tick(&cloud, "c").clusters.remove(0);
    assert_eq!((c.reason, c.surplus), (Reason::Consolidation, 0));
    assert!(
        c.notes.iter().any(|n| matches!(n, Note::SurplusWithheld { why } if why.contains("scaling"))),
        "{:?}",
        c.notes
    );
}

/// Cluster `q` with these tags: four ACTIVE instances in one zone of group `q-blue`, each running one small
/// task of service `api` (desired 4), 25% reserved.
fn four_quiet_instances(tags: &[(&str, &str)]) -> Script {
    let api = "arn:aws:ecs:us-east-1:123456789012:task-definition/api:1";
    let mut cloud = Script::new()
        .with_cluster("q", 4, tags)
        .with_reservations("q", 25.0, 25.0, now() - Duration::minutes(1))
        .with_task_definition(api, 512, 1024)
        .with_service("q", "api", 4, 4, &[])
        .with_group("q-blue", 1, 4, &[(TAG_CLUSTER, "q")])
        .with_group_members(&["a", "b", "c", "d"], "us-east-1a");
    for arn in ["a", "b", "c", "d"] {
        cloud = cloud
            .with_instance("q", arn, "ACTIVE", LARGE.0, LARGE.1)
            .with_load("q", arn, Resources::new(1536, 3072), 1)
            .with_task("q", "service:api", arn, api);
    }
    cloud
}

#[test]
fn a_quiet_cluster_s_surplus_counts_each_removal_against_what_the_earlier_ones_left() {
    let cloud = four_quiet_instances(&[]);
    // Without a: 33%; without b too: 50%; without c as well, d would be full (100% >= 75 - 5). Each has a task,
    // and the default budget (10% of 4 ACTIVE instances, rounded up) lets one of them drain at a time.
    let q = tick(&cloud, "q").clusters.remove(0);
    assert_eq!(q.reason, Reason::BothBelowMin);
    assert_eq!(q.surplus, 1, "{:?}", q.notes);
    assert!(
        notes(&q).contains("more could go, but the disruption budget (10% from default: 1 with tasks"),
        "{}",
        notes(&q)
    );
    // A budget of 3 lets both go.
    cloud.state().clusters[0].tags.insert(crate::config::TAG_DISRUPTION_BUDGET.into(), "3".into());
    let q = tick(&cloud, "q").clusters.remove(0);
    assert_eq!(q.surplus, 2, "{:?}", q.notes);
    let surplus: Vec<f64> =
        cloud.published().iter().filter(|(_, m)| m.name == SURPLUS_METRIC).map(|(_, m)| m.value).collect();
    assert_eq!(surplus, [1.0, 2.0]);
}

#[test]
fn a_zero_no_instance_can_answer_is_held_at_one_and_says_why() {
    // Four quiet instances (25%), each running one task of a distinctInstance service: a removal's task has
    // nowhere to go. The thresholds alone say 0; Auto Scaling would lower the desired capacity and the
    // termination policy refuse every candidate, so the plan holds at 1.
    let cloud = four_quiet_instances(&[]);
    cloud.state().services.get_mut("q").unwrap()[0].placement_constraints = vec![PlacementConstraint::DistinctInstance];
    let q = tick(&cloud, "q").clusters.remove(0);
    assert_eq!((q.scale_status, q.reason, q.surplus), (Some(ScaleStatus::Stay), Reason::ScaleDownGuard, 0));
    assert!(
        q.detail.starts_with("no ACTIVE instance can go now") && q.detail.contains("distinctInstance"),
        "{}",
        q.detail
    );
    assert!(q.notes.iter().any(|n| matches!(n, Note::Covered { reason: Reason::BothBelowMin, .. })), "{:?}", q.notes);
    // With an empty fifth instance, it can go: the 0 stands, with a surplus of that one.
    let cloud = cloud
        .with_instance("q", "e", "ACTIVE", LARGE.0, LARGE.1)
        .with_load("q", "e", Resources::new(2048, 4096), 0)
        .with_group_members(&["e"], "us-east-1a");
    cloud.state().clusters[0].registered_instances = 5;
    let q = tick(&cloud, "q").clusters.remove(0);
    assert_eq!((q.scale_status, q.reason, q.surplus), (Some(ScaleStatus::Down), Reason::BothBelowMin, 1), "{q:?}");
    // A failed read of the tasks holds it too: never a 0 unjudged.
    let failing = cloud.failing("ListTasks");
    let q = tick(&failing, "q").clusters.remove(0);
    assert_eq!((q.scale_status, q.reason), (Some(ScaleStatus::Stay), Reason::ScaleDownGuard), "{q:?}");
    assert!(q.detail.contains("could not be read") && q.detail.contains("ListTasks"), "{}", q.detail);
}

#[test]
fn consolidation_reads_nothing_where_removing_an_instance_would_reach_max() {
    // 52% on 3 instances is 78% on 2: above the max of 75 whatever the instance.
    let cloud = loose_cluster(52.0);
    let summary = tick(&cloud, "c");
    assert_eq!(report(&summary, "c").reason, Reason::WithinThresholds);
    assert_eq!((cloud.calls("DescribeContainerInstances"), cloud.calls("ListTasks")), (0, 0));
}

#[test]
fn candidates_whose_going_would_come_within_the_headroom_whatever_they_run_are_not_read() {
    // 48% on 3 instances is 72% on 2: below max 75, so the instances are read. With a headroom of 20 the limit
    // is 55, and without any instance the others would carry at least 68.8% (its daemon going with it): no
    // candidate's tasks are read.
    let cloud = loose_cluster(48.0);
    cloud.state().clusters[0].tags.insert(crate::config::TAG_CONSOLIDATE_HEADROOM.into(), "20".into());
    let c = tick(&cloud, "c").clusters.remove(0);
    assert_eq!((c.scale_status, c.reason), (Some(ScaleStatus::Stay), Reason::WithinThresholds));
    assert!(notes(&c).contains("within the headroom of its max"), "{}", notes(&c));
    assert_eq!((cloud.calls("DescribeContainerInstances"), cloud.calls("ListTasks")), (1, 0));
    // At the default headroom (limit 70) a goes, as before.
    let cloud = loose_cluster(48.0);
    assert_eq!(tick(&cloud, "c").clusters.remove(0).reason, Reason::Consolidation);
}

#[test]
fn nothing_is_consolidated_while_an_instance_drains_or_when_switched_off() {
    let cloud = loose_cluster(48.0);
    cloud.state().instances.get_mut("c").unwrap()[2].status = "DRAINING".into();
    let c = tick(&cloud, "c").clusters.remove(0);
    assert_eq!(c.reason, Reason::WithinThresholds);
    assert!(notes(&c).contains("one consolidation at a time"), "{:?}", c.notes);
    assert_eq!(cloud.calls("ListTasks"), 0);

    let cloud = loose_cluster(48.0);
    cloud.state().clusters[0].tags.insert(crate::config::TAG_CONSOLIDATE.into(), "false".into());
    let c = tick(&cloud, "c").clusters.remove(0);
    assert_eq!(c.reason, Reason::WithinThresholds);
    assert_eq!(cloud.calls("DescribeContainerInstances"), 0);
}

#[test]
fn a_failed_consolidation_read_keeps_the_rule_s_answer() {
    let cloud = loose_cluster(48.0).failing("ListTasks");
    let c = tick(&cloud, "c").clusters.remove(0);
    assert_eq!((c.scale_status, c.reason), (Some(ScaleStatus::Stay), Reason::WithinThresholds));
    assert!(notes(&c).contains("consolidation: could not read the cluster"), "{:?}", c.notes);
}

/// The notes of a report as people read them.
fn notes(report: &ClusterReport) -> String {
    report.notes.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

// --- The placement model's dimensions -----------------------------------------------------------------------

const M5_LARGE: (u32, u32) = (2048, 7680);
const API: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/api:1";

/// Cluster `p` of `instances` m5.large instances `a`, `b`, ... with `free` room each, a group `p-blue` that
/// launches m5.large (and `extra` types), and service `api` (task definition [`API`], 256/512) with `running`
/// of `desired` tasks and an "unable to place" event a minute ago. Thresholds 40/75; reservations 50%.
fn placed(instances: usize, free: Resources, desired: i32, running: i32, extra: &[&str]) -> Script {
    let mut types = vec!["m5.large"];
    types.extend_from_slice(extra);
    let mut cloud = Script::new()
        .with_cluster("p", u32::try_from(instances).unwrap(), &[])
        .with_reservations("p", 50.0, 50.0, now() - Duration::minutes(1))
        .with_instance_type("m5.large", 2, 8192, 3, 0)
        .with_instance_type("m5.xlarge", 4, 16384, 4, 0)
        .with_instance_type("g4dn.xlarge", 4, 16384, 3, 1)
        .with_task_definition(API, 256, 512)
        .with_service("p", "api", desired, running, &[(now() - Duration::minutes(1), UNABLE)])
        .with_group(
            "p-blue",
            1,
            u32::try_from(instances).unwrap(),
            &[(TAG_CLUSTER, "p"), (TAG_SHORTFALL_POLICY, "p-shortfall-blue")],
        )
        .with_group_types(&types);
    for n in 0..instances {
        let arn = ((b'a' + u8::try_from(n).unwrap()) as char).to_string();
        cloud = cloud
            .with_instance("p", &arn, "ACTIVE", M5_LARGE.0, M5_LARGE.1)
            .with_load("p", &arn, free, 2)
            .with_attributes(
                "p",
                &arn,
                &[(ATTRIBUTE_INSTANCE_TYPE, "m5.large"), ("ecs.availability-zone", "us-east-1a")],
            );
        if let Some(instance) = cloud.state().instances.get_mut("p").and_then(|i| i.last_mut()) {
            instance.ports_in_use =
                Some(HostPorts { tcp: [22, 2375, 2376, 51678, 51679].into(), udp: Default::default() });
        }
    }
    cloud
}

fn shortfall_of(cloud: &Script) -> (ScaleStatus, u32, ClusterReport) {
    let report = tick(cloud, "p").clusters.remove(0);
    let short = report.shortfall.as_ref().map_or(0, |s| s.instances);
    (report.scale_status.unwrap_or(ScaleStatus::Stay), short, report)
}

/// Make service `api`'s tasks awsvpc, and put `per_instance` of them on every instance (an attachment each).
fn awsvpc(cloud: Script, per_instance: usize) -> Script {
    cloud.state().task_definitions.get_mut(API).unwrap().network_mode = Some("awsvpc".into());
    let arns: Vec<String> = cloud.state().instances["p"].iter().map(|i| i.arn.clone()).collect();
    let mut cloud = cloud;
    for arn in arns {
        for _ in 0..per_instance {
            cloud = cloud.with_task("p", "service:api", &arn, API);
            if let Some(task) = cloud.state().tasks.get_mut("p").and_then(|t| t.last_mut()) {
                task.eni = true;
            }
        }
    }
    cloud
}

#[test]
fn awsvpc_tasks_without_trunking_need_instances_for_their_enis() {
    // Two m5.large, each with both awsvpc slots taken (3 ENIs, the primary one taken) and plenty of CPU and
    // memory free; 2 tasks wait: CPU and memory alone would say they fit, the ENIs say one fresh m5.large.
    let cloud = awsvpc(placed(2, Resources::new(1536, 6656), 6, 4, &[]), 2);
    let (status, short, report) = shortfall_of(&cloud);
    assert_eq!((status, short), (ScaleStatus::Up, 1), "{report:?}");
    assert_eq!(report.shortfall.as_ref().unwrap().by_type.get("m5.large"), Some(&1));
    // It read every task (the others' ENIs) and the registered type's facts.
    assert!(cloud.calls("DescribeTasks") >= 1 && cloud.calls("DescribeInstanceTypes") >= 1);
    // With a trunk on each instance (10 awsvpc tasks an m5.large), they fit where they are.
    let cloud = awsvpc(placed(2, Resources::new(1536, 6656), 6, 4, &[]), 2);
    for instance in cloud.state().instances.get_mut("p").unwrap() {
        instance.attributes.insert("ecs.awsvpc-trunk-id".into(), "eni-trunk".into());
    }
    let (_, short, report) = shortfall_of(&cloud);
    assert_eq!((short, report.shortfall.as_ref().unwrap().fit_existing), (0, 2), "{report:?}");
}

#[test]
fn a_static_host_port_needs_one_instance_per_task() {
    let cloud = placed(2, Resources::new(1536, 6656), 4, 2, &[]);
    cloud.state().task_definitions.get_mut(API).unwrap().containers[0].port_mappings =
        vec![PortMapping { container_port: Some(80), host_port: Some(8080), protocol: Protocol::Tcp }];
    for instance in cloud.state().instances.get_mut("p").unwrap() {
        instance.ports_in_use.as_mut().unwrap().tcp.insert(8080);
    }
    let (status, short, report) = shortfall_of(&cloud);
    assert_eq!((status, short), (ScaleStatus::Up, 2), "{report:?}");
}

#[test]
fn distinct_instance_needs_an_instance_per_task_and_holds_the_instances_it_runs_on() {
    let cloud = placed(3, Resources::new(1536, 6656), 5, 3, &[]);
    cloud.state().services.get_mut("p").unwrap()[0].placement_constraints = vec![PlacementConstraint::DistinctInstance];
    let cloud = ["a", "b", "c"].iter().fold(cloud, |cloud, arn| cloud.with_task("p", "service:api", arn, API));
    let (status, short, report) = shortfall_of(&cloud);
    assert_eq!((status, short), (ScaleStatus::Up, 2), "{report:?}");
}

#[test]
fn a_service_pinned_to_another_type_is_sized_as_that_type_or_is_unplaceable() {
    let pinned = |extra: &[&str]| {
        let cloud = placed(2, Resources::new(1536, 6656), 4, 2, extra);
        cloud.state().task_definitions.get_mut(API).unwrap().placement_constraints =
            vec![PlacementConstraint::MemberOf("attribute:ecs.instance-type == m5.xlarge".into())];
        cloud
    };
    // The group launches m5.xlarge too: one fresh m5.xlarge holds both.
    let (status, short, report) = shortfall_of(&pinned(&["m5.xlarge"]));
    assert_eq!((status, short), (ScaleStatus::Up, 1), "{report:?}");
    assert_eq!(report.shortfall.as_ref().unwrap().by_type.get("m5.xlarge"), Some(&1));
    // Only m5.large: no instance the groups launch can take it. Reported, not scaled for.
    let (_, short, report) = shortfall_of(&pinned(&[]));
    assert_eq!(short, 0);
    assert_eq!(report.unplaceable.len(), 1, "{report:?}");
    assert!(report.unplaceable[0].to_string().contains("not memberOf"), "{}", report.unplaceable[0]);
    assert_eq!(report.reason, Reason::WithinThresholds);
}

#[test]
fn a_gpu_task_is_sized_as_the_gpu_type_the_group_launches() {
    let cloud = placed(2, Resources::new(1536, 6656), 3, 1, &["g4dn.xlarge"]);
    cloud.state().task_definitions.get_mut(API).unwrap().containers[0].gpus = 1;
    let (status, short, report) = shortfall_of(&cloud);
    assert_eq!((status, short), (ScaleStatus::Up, 2), "one GPU each: {report:?}");
    assert_eq!(report.shortfall.as_ref().unwrap().by_type.get("g4dn.xlarge"), Some(&2));
}

#[test]
fn a_drain_stuck_for_lack_of_room_gets_capacity_and_never_a_zero() {
    // Instance c is DRAINING with one api task ECS cannot move: a and b have no room. api runs all its 3 tasks
    // (one on c), so nothing is short, but its placement fails. Reservations are low: the rule alone says 0.
    let cloud = placed(3, Resources::new(100, 100), 3, 3, &[]);
    cloud.state().instances.get_mut("p").unwrap()[2].status = "DRAINING".into();
    cloud.state().series.clear();
    let cloud = cloud
        .with_reservations("p", 20.0, 20.0, now() - Duration::minutes(1))
        .with_task("p", "service:api", "c", API)
        .with_task("p", "service:api", "a", API)
        .with_task("p", "service:api", "b", API);
    let (status, short, report) = shortfall_of(&cloud);
    assert_eq!((status, short, report.reason), (ScaleStatus::Up, 1, Reason::UnplacedTasks), "{report:?}");
    assert!(report.notes.iter().any(|n| matches!(n, Note::StuckDrain { service, tasks: 1 } if service == "api")));
}

/// Cluster `k`: instances a (one api task, 1/4 used), b and c (3/4 free); thresholds 40/75 at 45%.
fn consolidatable() -> Script {
    let mut cloud = Script::new()
        .with_cluster("k", 3, &[])
        .with_reservations("k", 45.0, 45.0, now() - Duration::minutes(1))
        .with_instance_type("m5.large", 2, 8192, 3, 0)
        .with_task_definition(API, 256, 512)
        .with_service("k", "api", 3, 3, &[])
        .with_group("k-blue", 1, 3, &[(TAG_CLUSTER, "k")])
        .with_group_members(&["a", "b", "c"], "us-east-1a");
    for (arn, tasks) in [("a", 1), ("b", 2), ("c", 2)] {
        cloud = cloud
            .with_instance("k", arn, "ACTIVE", LARGE.0, LARGE.1)
            .with_load("k", arn, Resources::new(2048 - 256 * tasks, 4096 - 512 * tasks), tasks)
            .with_attributes("k", arn, &[(ATTRIBUTE_INSTANCE_TYPE, "m5.large")]);
        for _ in 0..tasks {
            cloud = cloud.with_task("k", "service:api", arn, API);
        }
        if let Some(instance) = cloud.state().instances.get_mut("k").and_then(|i| i.last_mut()) {
            instance.ports_in_use = Some(HostPorts::default());
        }
    }
    cloud
}

fn consolidation_of(cloud: &Script) -> ClusterReport {
    tick(cloud, "k").clusters.remove(0)
}

#[test]
fn consolidation_on_cpu_and_memory_alone_removes_the_light_instance() {
    let report = consolidation_of(&consolidatable());
    assert_eq!(report.reason, Reason::Consolidation, "{report:?}");
    assert_eq!(report.removal.as_ref().map(|r| r.container_instance_arn.as_str()), Some("a"));
}

#[test]
fn consolidation_keeps_an_instance_whose_task_has_nowhere_to_go() {
    // distinctInstance: b and c already run api.
    let cloud = consolidatable();
    cloud.state().services.get_mut("k").unwrap()[0].placement_constraints = vec![PlacementConstraint::DistinctInstance];
    let report = consolidation_of(&cloud);
    assert_eq!(report.reason, Reason::WithinThresholds, "{report:?}");
    assert!(notes(&report).contains("distinctInstance"), "{}", notes(&report));

    // A static host port every other instance holds.
    let cloud = consolidatable();
    cloud.state().task_definitions.get_mut(API).unwrap().containers[0].port_mappings =
        vec![PortMapping { container_port: Some(80), host_port: Some(8080), protocol: Protocol::Tcp }];
    for instance in cloud.state().instances.get_mut("k").unwrap() {
        instance.ports_in_use = Some(HostPorts { tcp: [8080].into(), ..HostPorts::default() });
    }
    let report = consolidation_of(&cloud);
    assert_eq!(report.reason, Reason::WithinThresholds, "{report:?}");
    assert!(notes(&report).contains("tcp/8080"), "{}", notes(&report));

    // awsvpc: both ENI slots of b and c taken.
    let cloud = consolidatable();
    cloud.state().task_definitions.get_mut(API).unwrap().network_mode = Some("awsvpc".into());
    for task in cloud.state().tasks.get_mut("k").unwrap() {
        task.eni = true;
    }
    let report = consolidation_of(&cloud);
    assert_eq!(report.reason, Reason::WithinThresholds, "{report:?}");
    assert!(notes(&report).contains("ENI"), "{}", notes(&report));
}

#[test]
fn what_the_model_cannot_judge_is_never_consolidated_and_asks_for_an_instance() {
    let cloud = consolidatable();
    cloud.state().services.get_mut("k").unwrap()[0].placement_constraints =
        vec![PlacementConstraint::MemberOf("task:group == service:db".into())];
    let report = consolidation_of(&cloud);
    assert_eq!(report.reason, Reason::WithinThresholds, "{report:?}");
    assert!(notes(&report).contains("task:group"), "{}", notes(&report));

    // A waiting task of a definition that cannot be read needs at least one fresh instance, and says why.
    let cloud = placed(2, Resources::new(1536, 6656), 4, 2, &[]);
    cloud.state().task_definitions.remove(API);
    let (status, short, report) = shortfall_of(&cloud);
    assert_eq!((status, short), (ScaleStatus::Up, 1), "{report:?}");
    assert!(notes(&report).contains("could not be read"), "{}", notes(&report));
    assert_eq!(report.shortfall.as_ref().unwrap().unjudged, 2);
}

#[test]
fn a_daemon_is_counted_on_every_fresh_instance() {
    // Without the daemon 6 tasks of 1024/3584 fit 2 fresh m5.large (2 each of 2048/7680 = 3 of them...);
    // the daemon's 256 CPU units leave room for one per instance: 6 instances.
    let cloud = placed(0, Resources::default(), 6, 0, &[]);
    cloud.state().task_definitions.insert(
        API.into(),
        crate::cluster::TaskDefinition {
            arn: API.into(),
            containers: vec![crate::cluster::ContainerSize {
                cpu: 1024,
                memory_reservation: Some(3584),
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    let (_, short, report) = shortfall_of(&cloud);
    assert_eq!(short, 3, "{report:?}");
    let cloud = with_daemon(cloud, "p");
    let agent = cloud.state().services["p"][1].task_definition.clone();
    cloud.state().task_definitions.get_mut(&agent).unwrap().containers[0].cpu = 256;
    let (_, short, report) = shortfall_of(&cloud);
    assert_eq!(short, 6, "{report:?}");
}

// --- Disruption controls ------------------------------------------------------------------------------------

/// A quiet cluster `q` of four instances with one small api task each, 25% reserved: the rule says 0, two can
/// go (see the surplus test above), all in group `q-blue`; a disruption budget of 4 so it does not bind.
fn quiet() -> Script {
    four_quiet_instances(&[(crate::config::TAG_DISRUPTION_BUDGET, "4")])
}

#[test]
fn a_blue_green_swap_in_progress_holds_every_voluntary_removal() {
    // Green was just scaled up (four InService instances, not registered yet): blue's 0 must not act.
    let cloud = quiet()
        .with_group("q-green", 4, 4, &[(TAG_CLUSTER, "q")])
        .with_group_members(&["e", "f", "g", "h"], "us-east-1a");
    let q = tick(&cloud, "q").clusters.remove(0);
    assert_eq!((q.scale_status, q.reason, q.surplus), (Some(ScaleStatus::Stay), Reason::SwapInProgress, 0));
    assert!(q.detail.contains("q-blue and q-green"), "{}", q.detail);
    assert!(q.notes.iter().any(|n| matches!(n, Note::Covered { reason: Reason::BothBelowMin, .. })), "{:?}", q.notes);
    assert_eq!(cloud.calls("ListTasks"), 0, "nothing is read for a removal that cannot happen");
    // The swap begins the minute green is scaled up, before any of its instances is InService: a 0 the low
    // alarm acted on then would land in the middle of the swap.
    let cloud = quiet().with_group("q-green", 4, 4, &[(TAG_CLUSTER, "q")]);
    for instance in &mut cloud.state().groups[1].instances {
        instance.lifecycle_state = "Pending".into();
    }
    let q = tick(&cloud, "q").clusters.remove(0);
    assert_eq!((q.scale_status, q.reason, q.surplus), (Some(ScaleStatus::Stay), Reason::SwapInProgress, 0));
    assert!(q.detail.contains("coming up"), "{}", q.detail);
    // Blue torn down (min = max = 0, no instance InService): green alone decides again.
    let cloud = quiet().with_group("q-green", 0, 0, &[(TAG_CLUSTER, "q")]);
    let q = tick(&cloud, "q").clusters.remove(0);
    assert_eq!((q.scale_status, q.reason, q.surplus), (Some(ScaleStatus::Down), Reason::BothBelowMin, 2));
}

#[test]
fn a_disruption_window_holds_the_zero_and_the_surplus() {
    // now() is Sunday 2026-11-22 10:00 UTC.
    let cloud = quiet();
    cloud.state().clusters[0].tags.insert(crate::config::TAG_DISRUPTION_WINDOWS.into(), "0 8 any any sun 4h".into());
    let q = tick(&cloud, "q").clusters.remove(0);
    assert_eq!((q.scale_status, q.reason, q.surplus), (Some(ScaleStatus::Stay), Reason::DisruptionWindow, 0));
    assert!(q.detail.contains("0 8 any any sun 4h"), "{}", q.detail);
    // Outside it (a weekday window), the 0 stands.
    cloud.state().clusters[0]
        .tags
        .insert(crate::config::TAG_DISRUPTION_WINDOWS.into(), "0 8 any any mon-fri 4h".into());
    let q = tick(&cloud, "q").clusters.remove(0);
    assert_eq!((q.scale_status, q.reason, q.surplus), (Some(ScaleStatus::Down), Reason::BothBelowMin, 2));
    // A window that does not parse is the cluster's configuration error, naming the tag: no status at all.
    let tags = [(crate::config::TAG_DISRUPTION_WINDOWS.to_owned(), "weekdays".to_owned())].into();
    let error = crate::config::Layer::from_tags(&tags).resolve("q").unwrap_err();
    assert!(error.to_string().contains(r#"tag ecs-scaler:disruption-windows="weekdays""#), "{error}");
}

#[test]
fn a_do_not_disrupt_service_keeps_its_instances_out_of_consolidation() {
    // a runs only a small singleton (the cheapest instance); b, c and d one api task each; 45%, between the
    // thresholds. Consolidation names a, unless the singleton's service is tagged do-not-disrupt: then b.
    let singleton = "arn:aws:ecs:us-east-1:123456789012:task-definition/cache:1";
    let cloud =
        |protected: bool| {
            let cloud = quiet()
                .with_task_definition(singleton, 128, 256)
                .with_service("q", "cache", 1, 1, &[])
                .with_load("q", "a", Resources::new(1920, 3840), 1);
            {
                let mut state = cloud.state();
                state.tasks.get_mut("q").unwrap().retain(|t| t.container_instance_arn.as_deref() != Some("a"));
                state.services.get_mut("q").unwrap()[0].desired = 3;
                state.services.get_mut("q").unwrap()[0].running = 3;
                if protected {
                    state.services.get_mut("q").unwrap()[1]
                        .tags
                        .insert(crate::config::TAG_DO_NOT_DISRUPT.into(), "true".into());
                }
                state.series.clear();
            }
            cloud.with_task("q", "service:cache", "a", singleton).with_reservations(
                "q",
                45.0,
                45.0,
                now() - Duration::minutes(1),
            )
        };
    let q = tick(&cloud(false), "q").clusters.remove(0);
    assert_eq!(
        (q.reason, q.removal.as_ref().map(|r| r.container_instance_arn.as_str())),
        (Reason::Consolidation, Some("a"))
    );
    let q = tick(&cloud(true), "q").clusters.remove(0);
    assert_eq!(
        (q.reason, q.removal.as_ref().map(|r| r.container_instance_arn.as_str())),
        (Reason::Consolidation, Some("b"))
    );
    assert!(notes(&q).contains("i-a stays: service cache is tagged ecs-scaler:do-not-disrupt=true"), "{}", notes(&q));
}

#[test]
fn while_the_load_rises_the_surplus_is_at_most_one() {
    let cloud = quiet();
    cloud
        .state()
        .series
        .get_mut("q")
        .unwrap()
        .cpu
        .insert(0, crate::metrics::Datapoint { timestamp: now() - Duration::minutes(9), value: 12.0 });
    let q = tick(&cloud, "q").clusters.remove(0);
    assert_eq!((q.scale_status, q.surplus), (Some(ScaleStatus::Down), 1));
    assert!(notes(&q).contains("while the load rises (cpu 12.0% to 25.0%"), "{}", notes(&q));
}

#[test]
fn removals_come_from_the_zones_auto_scaling_would_scale_in() {
    // a and b in us-east-1a, c and d and e in us-east-1b: Auto Scaling takes from 1b first, then from the
    // fuller of the two. The cheapest instances are a and b (empty), but 1b is fuller.
    let api = "arn:aws:ecs:us-east-1:123456789012:task-definition/api:1";
    let mut cloud = Script::new()
        .with_cluster("z", 5, &[(crate::config::TAG_DISRUPTION_BUDGET, "5")])
        .with_reservations("z", 20.0, 20.0, now() - Duration::minutes(1))
        .with_task_definition(api, 512, 1024)
        .with_service("z", "api", 3, 3, &[])
        .with_group("z-blue", 1, 5, &[(TAG_CLUSTER, "z")])
        .with_group_members(&["a", "b"], "us-east-1a");
    {
        let mut state = cloud.state();
        let group = state.groups.last_mut().unwrap();
        for arn in ["c", "d", "e"] {
            group.instances.push(crate::lifecycle::GroupInstance {
                instance_id: format!("i-{arn}"),
                lifecycle_state: "InService".into(),
                availability_zone: "us-east-1b".into(),
                instance_type: None,
            });
        }
        group.desired_capacity = 5;
    }
    for arn in ["a", "b"] {
        cloud = cloud.with_instance("z", arn, "ACTIVE", LARGE.0, LARGE.1).with_load(
            "z",
            arn,
            Resources::new(2048, 4096),
            0,
        );
    }
    for arn in ["c", "d", "e"] {
        cloud = cloud
            .with_instance("z", arn, "ACTIVE", LARGE.0, LARGE.1)
            .with_load("z", arn, Resources::new(1536, 3072), 1)
            .with_task("z", "service:api", arn, api);
    }
    let z = tick(&cloud, "z").clusters.remove(0);
    assert_eq!(z.reason, Reason::BothBelowMin);
    // 1b has 3 → c goes (its task to a); then 1a and 1b have 2 each: a goes (c's task to b); then 1b has 2 →
    // d goes; then b and e would leave 1536 reserved on one instance, 75% ≥ 75 − 5: 3.
    assert_eq!(z.surplus, 3, "{:?}", z.notes);
    // Between the thresholds, consolidation names an instance of the fuller zone, not the empty a.
    cloud.state().series.clear();
    let cloud = cloud.with_reservations("z", 45.0, 45.0, now() - Duration::minutes(1));
    let z = tick(&cloud, "z").clusters.remove(0);
    assert_eq!(z.reason, Reason::Consolidation, "{:?}", z.notes);
    assert_eq!(z.removal.as_ref().map(|r| r.container_instance_arn.as_str()), Some("c"));
}

// --- What a warm process remembers ---------------------------------------------------------------------------

fn tick_with(cloud: &Script, clusters: &str, memory: &crate::scale::memory::Memory, at: DateTime<Utc>) -> Summary {
    let env = EnvConfig::from_vars([
        ("CLUSTERS", clusters),
        ("CPU_MIN", "40"),
        ("CPU_MAX", "75"),
        ("MEMORY_MIN", "40"),
        ("MEMORY_MAX", "75"),
    ]);
    let config = TickConfig::build(&env, &ScheduleInput::default()).unwrap();
    let ctx = Context { ecs: cloud, autoscaling: cloud, ec2: cloud, metrics: cloud, clock: &FixedClock(at) };
    let recall = super::tick::Recall { memory, deep: false };
    futures::executor::block_on(super::tick::run_in(ctx, &config, None, recall)).unwrap()
}

#[test]
fn a_steady_cluster_is_read_from_scratch_once_then_only_when_something_changes_or_at_resync() {
    let memory = crate::scale::memory::Memory::default();
    let cloud = loose_cluster(48.0);
    let first = tick_with(&cloud, "c", &memory, now());
    assert_eq!((first.deep_reads, first.clusters[0].reason), (1, Reason::Consolidation));
    let deep_calls = cloud.state().calls.len();
    // A minute later, the same counts and reservations: the verdict holds, published again; ECS is read for
    // DescribeClusters alone (and the groups, which the verdict depended on).
    cloud.state().series.get_mut("c").unwrap().cpu[0].timestamp = now();
    let second = tick_with(&cloud, "c", &memory, now() + Duration::minutes(1));
    assert_eq!(second.deep_reads, 0);
    assert_eq!((second.clusters[0].reason, second.clusters[0].surplus), (Reason::Consolidation, 1));
    assert_eq!(second.clusters[0].unchanged_since, Some(now()));
    let calls: Vec<&str> = cloud.state().calls[deep_calls..].to_vec();
    assert_eq!(calls, ["DescribeClusters", "GetMetricData", "DescribeAutoScalingGroups", "PutMetricData"]);
    // A task starts: DescribeClusters counts it, so the cluster is read again.
    cloud.state().clusters[0].running_tasks += 1;
    let third = tick_with(&cloud, "c", &memory, now() + Duration::minutes(2));
    assert_eq!(third.deep_reads, 1);
    // Nothing changes for ten minutes: read again from scratch within the resync period (5 to 10 minutes).
    let mut reads = Vec::new();
    for minute in 3..=13 {
        // ECS publishes the same reservation every minute.
        let at = now() + Duration::minutes(minute);
        for series in cloud.state().series.values_mut() {
            series.cpu[0].timestamp = at - Duration::minutes(1);
            series.memory[0].timestamp = at - Duration::minutes(1);
        }
        reads.push(tick_with(&cloud, "c", &memory, at).deep_reads);
    }
    assert_eq!(reads.iter().sum::<usize>(), 1, "one resync in ten quiet minutes: {reads:?}");
}

#[test]
fn a_change_of_the_groups_invalidates_a_verdict_that_depended_on_them() {
    let memory = crate::scale::memory::Memory::default();
    let cloud = loose_cluster(48.0);
    assert_eq!(tick_with(&cloud, "c", &memory, now()).deep_reads, 1);
    // The operator scales a second colour up: a swap, which the held verdict (a consolidation) must not survive.
    let cloud = cloud.with_group("c-green", 3, 3, &[(TAG_CLUSTER, "c")]);
    let later = tick_with(&cloud, "c", &memory, now() + Duration::minutes(1));
    assert_eq!((later.deep_reads, later.clusters[0].reason), (1, Reason::SwapInProgress));
}

#[test]
fn task_definitions_are_read_once_per_process() {
    let memory = crate::scale::memory::Memory::default();
    let cloud = loose_cluster(48.0);
    tick_with(&cloud, "c", &memory, now());
    let read = cloud.calls("DescribeTaskDefinition");
    assert!(read >= 1);
    cloud.state().clusters[0].running_tasks += 1;
    assert_eq!(tick_with(&cloud, "c", &memory, now() + Duration::minutes(1)).deep_reads, 1);
    assert_eq!(cloud.calls("DescribeTaskDefinition"), read, "no definition read twice");
}

#[test]
fn a_cluster_the_budget_cannot_read_is_deferred_with_no_status_and_goes_first_next_time() {
    let memory = crate::scale::memory::Memory::default();
    let cloud = loose_cluster(48.0)
        .with_cluster("d", 2, &[])
        .with_reservations("d", 50.0, 50.0, now() - Duration::minutes(1))
        .exhausting("DescribeContainerInstances");
    let summary = tick_with(&cloud, "c,d", &memory, now());
    let c = report(&summary, "c");
    assert_eq!((c.scale_status, c.reason), (None, Reason::Deferred), "never a status from partial reads");
    // Once the budget has run out, every later cluster that needs reading waits too, without trying.
    assert_eq!(summary.deferred, ["c", "d"]);
    assert!(report(&summary, "d").detail.contains("earlier in this tick"), "{}", report(&summary, "d").detail);
    assert_eq!(memory.deferred(), ["c", "d"]);
    // Next minute the budget is back: c is read (first), and nothing is deferred.
    cloud.state().exhausted.clear();
    let summary = tick_with(&cloud, "c,d", &memory, now() + Duration::minutes(1));
    assert_eq!(report(&summary, "c").reason, Reason::Consolidation);
    assert_eq!(report(&summary, "d").scale_status, Some(ScaleStatus::Stay));
    assert!(summary.deferred.is_empty() && memory.deferred().is_empty());
}
