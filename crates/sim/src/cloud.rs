//! [`SimCloud`]: the simulated world behind the core's ports, so the simulator runs the same scale-status
//! tick and drain reconciler as the Lambdas. Every call locks the world, answers from it as AWS would, and
//! returns a ready future.

use std::future::{Future, ready};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use ecs_scaler_core::arn::cluster_name;
use ecs_scaler_core::drain::UNKNOWN_STATUS;
use ecs_scaler_core::lifecycle::LaunchTemplateRef;
use ecs_scaler_core::lifecycle::{ActionOutcome, AutoScalingGroup, LifecycleAction, LifecycleHook, LifecycleResult};
use ecs_scaler_core::placement::instance_types::InstanceTypeInfo;
use ecs_scaler_core::ports::counted::Counted;
use ecs_scaler_core::ports::{
    AutoScalingApi, AwsError, Clock, ClusterMetric, Context, Ec2Api, EcsApi, MetricsApi, MissingCluster, Reservations,
};
use ecs_scaler_core::{ClusterFacts, ContainerInstance, Service, Task, TaskDefinition};

use crate::world::{CLUSTER, World};

/// The cluster's ARN.
pub const CLUSTER_ARN: &str = "arn:aws:ecs:sim:000000000000:cluster/sim";

/// The world, shared by the ports. The core's functions run on one thread, one call at a time; the lock is
/// there because the ports must be `Sync`. A clone is another client of the same world (the same account).
#[derive(Debug, Clone)]
pub struct SimCloud {
    world: Arc<Mutex<World>>,
}

/// The ports over a [`SimCloud`], as the core's functions take them.
pub type SimContext<'a> = Context<'a, SimCloud, SimCloud, SimCloud, SimCloud, SimCloud>;

/// One Lambda function's client of the world (scale-status's, the drain hook's): every port call charged as the
/// SDK adapter would make it, so the simulation can say what each function costs the account's ECS buckets.
/// Like the adapter, it asks EC2 for an instance type once for the life of the process.
pub type Client = Counted<SimCloud>;

/// The ports over a [`Client`], as the core's functions take them (the clock is the world's).
pub type ClientContext<'a> = Context<'a, Client, Client, Client, Client, SimCloud>;

/// A new client of the world behind `cloud`, its own ledger empty.
pub fn client(cloud: &SimCloud) -> Client {
    Counted::new(cloud.clone())
}

/// The ports of one function's client.
pub fn client_context(client: &Client) -> ClientContext<'_> {
    Context { ecs: client, autoscaling: client, ec2: client, metrics: client, clock: client.inner() }
}

impl SimCloud {
    pub fn new(world: World) -> Self {
        Self { world: Arc::new(Mutex::new(world)) }
    }

    /// Work on the world directly (the parts of AWS that are not behind a port: the scheduler, the alarms).
    pub fn with<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let mut world = self.world.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut world)
    }

    pub fn context(&self) -> SimContext<'_> {
        Context { ecs: self, autoscaling: self, ec2: self, metrics: self, clock: self }
    }

    fn answer<R>(&self, f: impl FnOnce(&mut World) -> R) -> std::future::Ready<R> {
        ready(self.with(f))
    }
}

fn no_cluster(operation: &'static str, cluster: &str) -> AwsError {
    AwsError {
        operation,
        code: Some("ClusterNotFoundException".into()),
        message: format!("cluster {cluster} not found"),
    }
}

/// Our cluster, by name or ARN.
fn ours(operation: &'static str, cluster: &str) -> Result<(), AwsError> {
    if cluster_name(cluster) == CLUSTER { Ok(()) } else { Err(no_cluster(operation, cluster)) }
}

impl Clock for SimCloud {
    fn now(&self) -> DateTime<Utc> {
        self.with(|world| world.now())
    }
}

impl MetricsApi for SimCloud {
    fn reservations(
        &self,
        clusters: &[String],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> impl Future<Output = Reservations> + Send {
        self.answer(|world| {
            clusters
                .iter()
                .filter(|name| cluster_name(name) == CLUSTER)
                .map(|name| (name.clone(), Ok(world.cloudwatch.reservations(start, end))))
                .collect()
        })
    }

    fn put(&self, namespace: &str, metrics: &[ClusterMetric]) -> impl Future<Output = Result<usize, AwsError>> + Send {
        self.answer(|world| {
            let tick = world.tick;
            world.cloudwatch.put(tick, namespace, metrics);
            Ok(metrics.len().div_ceil(1000))
        })
    }
}

impl EcsApi for SimCloud {
    fn cluster_arns(&self) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send {
        ready(Ok(vec![CLUSTER_ARN.to_owned()]))
    }

    fn describe_clusters(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<(Vec<ClusterFacts>, Vec<MissingCluster>), AwsError>> + Send {
        self.answer(|world| {
            let (mut found, mut missing) = (Vec::new(), Vec::new());
            for name in names {
                if cluster_name(name) != CLUSTER {
                    missing.push(MissingCluster { name: name.clone(), reason: "MISSING".into() });
                    continue;
                }
                let (running_tasks, pending_tasks) = world.task_counts();
                found.push(ClusterFacts {
                    name: CLUSTER.into(),
                    arn: CLUSTER_ARN.into(),
                    status: "ACTIVE".into(),
                    registered_instances: world.registered_instances(),
                    running_tasks,
                    pending_tasks,
                    active_services: world.ecs.services.len() as u32,
                    tags: world.ecs.cluster_tags.clone(),
                });
            }
            Ok((found, missing))
        })
    }

    fn services(&self, cluster: &str) -> impl Future<Output = Result<Vec<Service>, AwsError>> + Send {
        self.answer(|world| ours("ListServices", cluster).map(|()| world.services_now()))
    }

    fn tasks(&self, cluster: &str) -> impl Future<Output = Result<Vec<Task>, AwsError>> + Send {
        self.answer(|world| ours("ListTasks", cluster).map(|()| world.task_list(None)))
    }

    fn tasks_on(
        &self,
        cluster: &str,
        container_instance_arn: &str,
    ) -> impl Future<Output = Result<Vec<Task>, AwsError>> + Send {
        self.answer(|world| ours("ListTasks", cluster).map(|()| world.task_list(Some(container_instance_arn))))
    }

    fn stopped_tasks(
        &self,
        cluster: &str,
        container_instance_arn: &str,
    ) -> impl Future<Output = Result<Vec<Task>, AwsError>> + Send {
        self.answer(|world| ours("ListTasks", cluster).map(|()| world.stopped_on(container_instance_arn)))
    }

    fn container_instances(
        &self,
        cluster: &str,
    ) -> impl Future<Output = Result<Vec<ContainerInstance>, AwsError>> + Send {
        self.answer(|world| {
            ours("ListContainerInstances", cluster)?;
            let registered = (0..world.instances.len()).filter(|&i| world.instances[i].registered());
            Ok(registered.map(|i| world.container_instance(i)).collect())
        })
    }

    fn container_instances_of(
        &self,
        cluster: &str,
        ec2_instance_ids: &[String],
    ) -> impl Future<Output = Result<Vec<ContainerInstance>, AwsError>> + Send {
        self.answer(|world| {
            ours("ListContainerInstances", cluster)?;
            Ok(ec2_instance_ids
                .iter()
                .filter_map(|id| world.registered_index(id))
                .map(|i| ContainerInstance {
                    arn: world.instances[i].arn.clone(),
                    ec2_instance_id: Some(world.instances[i].ec2_instance_id.clone()),
                    status: UNKNOWN_STATUS.into(),
                    ..ContainerInstance::default()
                })
                .collect())
        })
    }

    fn draining_instances(&self, cluster: &str) -> impl Future<Output = Result<Option<u32>, AwsError>> + Send {
        self.answer(|world| {
            ours("ListContainerInstances", cluster)?;
            let draining = world.instances.iter().filter(|i| i.draining()).count();
            // One page of 100: more than that cannot be counted in one call.
            Ok((draining <= 100).then_some(draining as u32))
        })
    }

    fn task_definition(&self, arn: &str) -> impl Future<Output = Result<TaskDefinition, AwsError>> + Send {
        self.answer(|world| {
            world.task_definition(arn).ok_or_else(|| AwsError {
                operation: "DescribeTaskDefinition",
                code: Some("ClientException".into()),
                message: format!("unknown task definition {arn}"),
            })
        })
    }

    fn clusters_with_instance(
        &self,
        ec2_instance_id: &str,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send {
        self.answer(|world| {
            Ok(world.registered_index(ec2_instance_id).map(|_| CLUSTER.to_owned()).into_iter().collect())
        })
    }

    fn drain(
        &self,
        cluster: &str,
        container_instance_arns: &[String],
    ) -> impl Future<Output = Result<Vec<ContainerInstance>, AwsError>> + Send {
        self.answer(|world| {
            ours("UpdateContainerInstancesState", cluster)?;
            Ok(container_instance_arns.iter().filter_map(|arn| world.drain(arn)).collect())
        })
    }

    fn tag_cluster(
        &self,
        cluster_arn: &str,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        self.answer(|world| {
            ours("TagResource", cluster_arn)?;
            world.ecs.cluster_tags.insert(key.to_owned(), value.to_owned());
            Ok(())
        })
    }

    fn put_attribute(
        &self,
        cluster: &str,
        container_instance_arn: &str,
        name: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        self.answer(|world| {
            ours("PutAttributes", cluster)?;
            let instance = world.instances.iter_mut().find(|i| i.registered() && i.arn == container_instance_arn);
            let instance = instance.ok_or_else(|| AwsError {
                operation: "PutAttributes",
                code: Some("TargetNotFoundException".into()),
                message: format!("no container instance {container_instance_arn}"),
            })?;
            instance.attributes.values.insert(name.to_owned(), value.to_owned());
            Ok(())
        })
    }
}

impl AutoScalingApi for SimCloud {
    fn groups(&self, names: &[String]) -> impl Future<Output = Result<Vec<AutoScalingGroup>, AwsError>> + Send {
        self.answer(|world| {
            Ok(names.iter().filter_map(|n| world.autoscaling.group_index(n)).map(|g| world.group_view(g)).collect())
        })
    }

    fn tagged_groups(&self, tag_key: &str) -> impl Future<Output = Result<Vec<AutoScalingGroup>, AwsError>> + Send {
        self.answer(|world| {
            let all = (0..world.autoscaling.groups.len()).map(|g| world.group_view(g));
            Ok(all.filter(|g| g.tags.contains_key(tag_key)).collect())
        })
    }

    fn group_of(&self, instance_id: &str) -> impl Future<Output = Result<Option<String>, AwsError>> + Send {
        self.answer(|world| {
            let instance = world.instances.iter().find(|i| i.ec2_instance_id == instance_id);
            Ok(instance.map(|i| world.autoscaling.groups[i.group].name.clone()))
        })
    }

    fn hooks(&self, group: &str) -> impl Future<Output = Result<Vec<LifecycleHook>, AwsError>> + Send {
        self.answer(|world| {
            Ok(if world.autoscaling.group_index(group).is_some() { world.autoscaling.hooks() } else { vec![] })
        })
    }

    fn complete(
        &self,
        action: &LifecycleAction,
        _result: LifecycleResult,
    ) -> impl Future<Output = Result<ActionOutcome, AwsError>> + Send {
        self.answer(|world| Ok(world.complete_lifecycle(&action.group, &action.instance_id)))
    }

    /// ExecutePolicy of a group's step scaling policy: see [`World::execute_step_policy`].
    fn execute_step_policy(
        &self,
        group: &str,
        policy: &str,
        metric_value: f64,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        self.answer(|world| world.execute_step_policy(group, policy, metric_value))
    }

    fn heartbeat(&self, action: &LifecycleAction) -> impl Future<Output = Result<ActionOutcome, AwsError>> + Send {
        self.answer(|world| Ok(world.heartbeat(&action.group, &action.instance_id)))
    }
}

impl Ec2Api for SimCloud {
    /// The simulated groups name their instance types as mixed-instances overrides: no launch template to read.
    fn launch_template_type(
        &self,
        _template: &LaunchTemplateRef,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send {
        ready(Ok(None))
    }

    /// DescribeInstanceTypes of the types the world knows (the scenario's); names EC2 does not know are left out,
    /// as the API leaves them out of its answer.
    fn instance_types(&self, names: &[String]) -> impl Future<Output = Result<Vec<InstanceTypeInfo>, AwsError>> + Send {
        self.answer(|world| {
            Ok(names
                .iter()
                .filter_map(|name| world.types.iter().find(|t| &t.name == name))
                .map(|t| InstanceTypeInfo {
                    name: t.name.clone(),
                    vcpus: t.vcpus(),
                    memory_mib: t.ec2_memory(),
                    max_enis: t.max_enis,
                    gpus: t.gpus,
                    architecture: Some(t.architecture.clone()),
                })
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chrono::Duration;
    use ecs_scaler_core::Resources;
    use ecs_scaler_core::cluster::{ATTRIBUTE_INSTANCE_TYPE, ATTRIBUTE_TRUNK, ATTRIBUTE_ZONE, PlacementConstraint};
    use ecs_scaler_core::placement::Fit;
    use ecs_scaler_core::placement::removal::ClusterView;
    use ecs_scaler_core::scale::recent_failures;
    use futures::executor::block_on;

    use super::*;
    use crate::knobs::Knobs;
    use crate::policy::Wiring;
    use crate::scenario::{
        Constraint, InstanceType, NetworkMode, PortSpec, Protocol, Scenario, ServiceSpec, Unavailable,
    };
    use crate::world::placement::refusal;

    fn port(container: u16, host: Option<u16>, protocol: Protocol) -> PortSpec {
        PortSpec { container_port: container, host_port: host, protocol }
    }

    /// m5.large instances in zones a and b, g4dn.xlarge in zone c (no m5.large capacity there), trunking on
    /// (m5.large has a trunk, g4dn does not), and a service of every kind placement treats differently.
    fn scenario() -> Scenario {
        let zone_b = "attribute:ecs.availability-zone == sim-1b";
        Scenario {
            instance_type: InstanceType::m5_large(),
            mixed_instance_types: vec![InstanceType::g4dn_xlarge()],
            unavailable: vec![Unavailable { zone: "sim-1c".into(), instance_type: "m5.large".into() }],
            awsvpc_trunking: true,
            initial_instances: Some(6),
            max_size: 20,
            services: vec![
                ServiceSpec { network_mode: NetworkMode::Awsvpc, ..ServiceSpec::replica("vpc", 128, 256, 7) },
                ServiceSpec {
                    ports: vec![port(80, Some(8080), Protocol::Tcp)],
                    ..ServiceSpec::replica("web", 128, 256, 3)
                },
                ServiceSpec {
                    ports: vec![port(53, Some(53), Protocol::Udp)],
                    ..ServiceSpec::replica("dns", 128, 256, 2)
                },
                ServiceSpec {
                    network_mode: NetworkMode::Host,
                    ports: vec![port(9100, None, Protocol::Tcp)],
                    ..ServiceSpec::replica("exporter", 64, 128, 4)
                },
                ServiceSpec {
                    placement_constraints: vec![Constraint::DistinctInstance],
                    ..ServiceSpec::replica("zk", 128, 256, 3)
                },
                ServiceSpec {
                    task_definition_constraints: vec![Constraint::MemberOf { expression: zone_b.into() }],
                    ..ServiceSpec::replica("pinned", 256, 512, 2)
                },
                ServiceSpec { gpus: 1, ..ServiceSpec::replica("ml", 1024, 4096, 1) },
                ServiceSpec::replica("filler", 512, 2048, 4),
            ],
            ..Scenario::default()
        }
    }

    fn cloud() -> SimCloud {
        let scenario = scenario();
        scenario.validate().unwrap();
        SimCloud::new(World::new(&scenario, Knobs::default(), Wiring::default()))
    }

    #[test]
    fn container_instances_carry_type_zone_trunk_gpus_and_ports() {
        let cloud = cloud();
        let instances = block_on(cloud.container_instances(CLUSTER)).unwrap();
        assert_eq!(instances.len(), 6);
        let large = &instances[0];
        assert_eq!(large.attributes.get(ATTRIBUTE_INSTANCE_TYPE).map(String::as_str), Some("m5.large"));
        assert_eq!(large.attributes.get(ATTRIBUTE_ZONE).map(String::as_str), Some("sim-1a"));
        assert_eq!(large.attributes.get("ecs.cpu-architecture").map(String::as_str), Some("x86_64"));
        assert_eq!(large.attributes.get("ecs.os-type").map(String::as_str), Some("linux"));
        assert!(large.has_trunk(), "m5.large supports trunking and the account has it on");
        assert_eq!(large.registered, Some(Resources::new(2048, 7680)));
        let reserved = large.reserved_ports.clone().unwrap();
        assert!(reserved.tcp.contains(&22) && reserved.tcp.contains(&51678) && reserved.udp.is_empty());
        let gpu = instances.iter().find(|i| i.instance_type() == Some("g4dn.xlarge")).unwrap();
        assert_eq!(gpu.zone(), Some("sim-1c"));
        assert!(!gpu.attributes.contains_key(ATTRIBUTE_TRUNK), "ECS does not trunk g4dn");
        assert_eq!(gpu.registered.map(|r| r.gpu), Some(1));
        assert_eq!(gpu.remaining.map(|r| r.gpu), Some(0), "the ml task holds its GPU");
        // Ports in use: the reserved ones and every task's static ports.
        let in_use: Vec<_> = instances.iter().map(|i| i.ports_in_use.clone().unwrap()).collect();
        assert_eq!(in_use.iter().filter(|p| p.tcp.contains(&8080)).count(), 3, "three web tasks, one per instance");
        assert_eq!(in_use.iter().filter(|p| p.udp.contains(&53)).count(), 2);
        assert!(in_use.iter().all(|p| p.tcp.is_superset(&reserved.tcp)));
    }

    #[test]
    fn tasks_definitions_services_groups_and_types_say_what_placement_needs() {
        let cloud = cloud();
        let tasks = block_on(cloud.tasks(CLUSTER)).unwrap();
        let vpc: Vec<&Task> = tasks.iter().filter(|t| t.service_name() == Some("vpc")).collect();
        assert!(!vpc.is_empty() && vpc.iter().all(|t| t.eni), "awsvpc tasks have an ENI attachment");
        assert!(tasks.iter().filter(|t| t.service_name() != Some("vpc")).all(|t| !t.eni));

        let services = block_on(cloud.services(CLUSTER)).unwrap();
        let zk = services.iter().find(|s| s.name == "zk").unwrap();
        assert_eq!(zk.placement_constraints, [PlacementConstraint::DistinctInstance]);
        let pinned = services.iter().find(|s| s.name == "pinned").unwrap();
        assert!(pinned.placement_constraints.is_empty(), "its memberOf is the task definition's");
        let definition = block_on(cloud.task_definition(&pinned.task_definition)).unwrap();
        assert_eq!(
            definition.placement_constraints,
            [PlacementConstraint::MemberOf("attribute:ecs.availability-zone == sim-1b".into())]
        );
        let by_name = |name: &str| {
            let service = services.iter().find(|s| s.name == name).unwrap();
            block_on(cloud.task_definition(&service.task_definition)).unwrap()
        };
        let vpc = by_name("vpc");
        assert!(vpc.is_awsvpc() && vpc.host_ports().is_empty());
        assert_eq!(by_name("web").host_ports().tcp.into_iter().collect::<Vec<_>>(), [8080]);
        assert_eq!(by_name("dns").host_ports().udp.into_iter().collect::<Vec<_>>(), [53]);
        let exporter = by_name("exporter");
        assert_eq!(exporter.network_mode.as_deref(), Some("host"));
        assert_eq!(exporter.host_ports().tcp.into_iter().collect::<Vec<_>>(), [9100], "host mode: the container port");
        assert_eq!(by_name("ml").reservation(), Ok(Resources::new(1024, 4096).with_gpu(1)));
        assert_eq!(by_name("filler").network_mode.as_deref(), Some("bridge"));

        let groups = block_on(cloud.groups(&["sim-blue".to_owned()])).unwrap();
        assert_eq!(groups[0].zones, ["sim-1a", "sim-1b", "sim-1c"]);
        assert_eq!(groups[0].override_types, ["m5.large", "g4dn.xlarge"]);
        assert!(groups[0].instances.iter().all(|i| i.instance_type.is_some()));
        let template = groups[0].launch_template.clone().unwrap();
        assert_eq!(block_on(cloud.launch_template_type(&template)), Ok(None), "the overrides name the types");

        let names = ["m5.large".to_owned(), "g4dn.xlarge".to_owned(), "x9.huge".to_owned()];
        let types = block_on(cloud.instance_types(&names)).unwrap();
        assert_eq!(types.len(), 2, "EC2 leaves out what it does not know");
        let g4dn = types.iter().find(|t| t.name == "g4dn.xlarge").unwrap();
        assert_eq!((g4dn.vcpus, g4dn.memory_mib, g4dn.max_enis, g4dn.gpus), (4, 16384, 3, 1));
        assert_eq!(g4dn.architecture.as_deref(), Some("x86_64"));
    }

    /// The world's scheduler and the core's placement model are separate; on what SimCloud reports they must
    /// agree on every dimension, instance by instance, for every service: they may differ only where ECS and
    /// the model would.
    #[test]
    fn the_world_and_the_core_s_model_agree_on_what_fits_where() {
        let cloud = cloud();
        let instances = block_on(cloud.container_instances(CLUSTER)).unwrap();
        let services = block_on(cloud.services(CLUSTER)).unwrap();
        let mut tasks: HashMap<String, Vec<Task>> = instances.iter().map(|i| (i.arn.clone(), Vec::new())).collect();
        for task in block_on(cloud.tasks(CLUSTER)).unwrap() {
            tasks.entry(task.container_instance_arn.clone().unwrap()).or_default().push(task);
        }
        let definitions: HashMap<String, TaskDefinition> = services
            .iter()
            .map(|s| (s.task_definition.clone(), block_on(cloud.task_definition(&s.task_definition)).unwrap()))
            .collect();
        let names: Vec<String> = instances.iter().filter_map(|i| i.instance_type().map(str::to_owned)).collect();
        let types = block_on(cloud.instance_types(&names)).unwrap().into_iter().map(|t| (t.name.clone(), t)).collect();
        let view = ClusterView {
            instances: &instances,
            services: &services,
            tasks: &tasks,
            definitions: &definitions,
            types: &types,
        };
        let mut refusals = 0;
        cloud.with(|world| {
            for (s, state) in world.ecs.services.iter().enumerate() {
                let demand = view.service_demand(&services[s]).unwrap();
                for (i, instance) in world.instances.iter().enumerate() {
                    let same = state.tasks.iter().filter(|t| t.instance == i).count() as u32;
                    let world_says = refusal(&state.needs, instance, same);
                    let core_says = view.slot(&instances[i]).unwrap().fit(&demand);
                    assert_eq!(
                        world_says.is_none(),
                        core_says == Fit::Fits,
                        "{} on {} ({}): world {world_says:?}, core {core_says:?}",
                        state.spec.name,
                        instance.ec2_instance_id,
                        world.types[instance.kind].name
                    );
                    refusals += usize::from(world_says.is_some());
                }
            }
        });
        assert!(refusals > 10, "the state tests refusals too, not only fits: {refusals}");
    }

    #[test]
    fn scale_status_reads_the_world_s_placement_failures_as_it_reads_ecs_s() {
        let cloud = cloud();
        let unplaced: Vec<String> = cloud.with(|world| {
            // Every service wants more than fits: each gets an "unable to place" event naming the closest
            // instance where ECS's wording is known.
            for state in &mut world.ecs.services {
                state.desired += 12;
            }
            world.tick = 70;
            world.schedule();
            world.ecs.services.iter().filter(|s| s.unplaced > 0).map(|s| s.spec.name.clone()).collect()
        });
        for name in ["web", "dns", "exporter", "zk", "pinned", "ml"] {
            assert!(unplaced.iter().any(|u| u == name), "{name} should fail placement: {unplaced:?}");
        }
        let services = block_on(cloud.services(CLUSTER)).unwrap();
        let now = cloud.now();
        let failing: Vec<&str> =
            recent_failures(&services, now, Duration::minutes(10)).iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            failing, unplaced,
            "a memberOf, port, distinct or GPU failure is a capacity problem to the core too"
        );
        let event = |name: &str| services.iter().find(|s| s.name == name).unwrap().events[0].message.clone();
        assert!(event("pinned").contains(r#"encountered error "MemberOf placement constraint unsatisfied.""#));
        assert!(
            event("zk").starts_with("(service zk) was unable to place a task because no container instance met all")
        );
        assert!(
            !event("pinned").contains("missing an attribute"),
            "that is requiresAttributes' message, not memberOf's"
        );
    }
}
