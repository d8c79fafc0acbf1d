//! [`SimCloud`]: the simulated world behind the core's ports, so the simulator runs the same scale-status
//! tick and drain reconciler as the Lambdas. Every call locks the world, answers from it as AWS would, and
//! returns a ready future.

use std::future::{Future, ready};
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use ecs_scaler_core::arn::cluster_name;
use ecs_scaler_core::drain::UNKNOWN_STATUS;
use ecs_scaler_core::lifecycle::LaunchTemplateRef;
use ecs_scaler_core::lifecycle::{ActionOutcome, AutoScalingGroup, LifecycleAction, LifecycleHook, LifecycleResult};
use ecs_scaler_core::placement::instance_types::InstanceTypeInfo;
use ecs_scaler_core::ports::{
    AutoScalingApi, AwsError, Clock, ClusterMetric, Context, Ec2Api, EcsApi, MetricsApi, MissingCluster, Reservations,
};
use ecs_scaler_core::{ClusterFacts, ContainerInstance, Service, Task, TaskDefinition};

use crate::world::{CLUSTER, World};

/// The cluster's ARN.
pub const CLUSTER_ARN: &str = "arn:aws:ecs:sim:000000000000:cluster/sim";

/// The world, shared by the ports. The core's functions run on one thread, one call at a time; the lock is
/// there because the ports must be `Sync`.
#[derive(Debug)]
pub struct SimCloud {
    world: Mutex<World>,
}

/// The ports over a [`SimCloud`], as the core's functions take them.
pub type SimContext<'a> = Context<'a, SimCloud, SimCloud, SimCloud, SimCloud, SimCloud>;

impl SimCloud {
    pub fn new(world: World) -> Self {
        Self { world: Mutex::new(world) }
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
            let size = world.task_size(arn).ok_or_else(|| AwsError {
                operation: "DescribeTaskDefinition",
                code: Some("ClientException".into()),
                message: format!("unknown task definition {arn}"),
            })?;
            Ok(TaskDefinition {
                arn: arn.to_owned(),
                cpu: Some(size.cpu.to_string()),
                memory: Some(size.memory.to_string()),
                ..TaskDefinition::default()
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
            instance.attributes.insert(name.to_owned(), value.to_owned());
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

    /// What the world knows of its instance types: nothing beyond what registered instances show yet.
    fn instance_types(
        &self,
        _names: &[String],
    ) -> impl Future<Output = Result<Vec<InstanceTypeInfo>, AwsError>> + Send {
        ready(Ok(Vec::new()))
    }
}
