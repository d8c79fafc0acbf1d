//! A scripted double of the ports, for unit tests of what runs over them (the tick, the drain steps) without a
//! network: it answers what the test put in, records every call, and fails the operations a test names. It
//! models nothing of AWS (no scheduler, no alarms): the simulator's world is the one model of AWS, and the
//! emulator is AWS for the end-to-end tests.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use super::{
    AutoScalingApi, AwsError, ClusterMetric, Ec2Api, EcsApi, MetricsApi, MissingCluster, ReservationSeries,
    Reservations,
};
use crate::cluster::{
    ClusterFacts, ContainerInstance, ContainerSize, Resources, Scheduling, Service, ServiceEvent, Task, TaskDefinition,
};
use crate::lifecycle::{
    ActionOutcome, AutoScalingGroup, GroupInstance, LaunchTemplateRef, LifecycleAction, LifecycleHook, LifecycleResult,
};
use crate::metrics::Datapoint;
use crate::placement::instance_types::InstanceTypeInfo;
use chrono::{DateTime, Utc};

/// The fake's state; tests set it up with the builder methods on [`Script`].
#[derive(Debug, Default)]
pub struct ScriptState {
    pub clusters: Vec<ClusterFacts>,
    pub series: HashMap<String, ReservationSeries>,
    pub services: HashMap<String, Vec<Service>>,
    pub tasks: HashMap<String, Vec<Task>>,
    /// Tasks ECS is stopping, per cluster.
    pub stopping: HashMap<String, Vec<Task>>,
    pub instances: HashMap<String, Vec<ContainerInstance>>,
    pub task_definitions: HashMap<String, TaskDefinition>,
    /// Operations that fail (after "retries"), e.g. `"DescribeServices"`.
    pub failing: HashSet<&'static str>,
    /// Operations the adapter refuses for lack of client-side API budget.
    pub exhausted: HashSet<&'static str>,
    /// Every call, by operation name, in order.
    pub calls: Vec<&'static str>,
    pub published: Vec<(String, ClusterMetric)>,
    pub groups: Vec<AutoScalingGroup>,
    /// ExecutePolicy calls: (group, policy, metric value).
    pub executed: Vec<(String, String, f64)>,
    /// What DescribeInstanceTypes knows.
    pub instance_types: HashMap<String, InstanceTypeInfo>,
    /// What each launch template version launches.
    pub launch_templates: HashMap<LaunchTemplateRef, Option<String>>,
}

#[derive(Debug, Default)]
pub struct Script {
    state: Mutex<ScriptState>,
}

impl Script {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn state(&self) -> MutexGuard<'_, ScriptState> {
        // A poisoned lock only means another test thread panicked; the state is still what it was.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// An ACTIVE cluster with `instances` registered container instances, a task running on each, and these tags.
    pub fn with_cluster(self, name: &str, instances: u32, tags: &[(&str, &str)]) -> Self {
        self.state().clusters.push(ClusterFacts {
            name: name.into(),
            arn: format!("arn:aws:ecs:us-east-1:123456789012:cluster/{name}"),
            status: "ACTIVE".into(),
            registered_instances: instances,
            running_tasks: instances,
            pending_tasks: 0,
            active_services: 0,
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        });
        self
    }

    /// Set how many tasks DescribeClusters says run and wait in the last cluster added.
    pub fn with_task_counts(self, running: u32, pending: u32) -> Self {
        if let Some(cluster) = self.state().clusters.last_mut() {
            cluster.running_tasks = running;
            cluster.pending_tasks = pending;
        }
        self
    }

    /// A registered container instance of `cluster` with this status and registered size.
    pub fn with_instance(self, cluster: &str, arn: &str, status: &str, cpu: u32, memory: u32) -> Self {
        self.state().instances.entry(cluster.into()).or_default().push(ContainerInstance {
            arn: arn.into(),
            ec2_instance_id: Some(format!("i-{arn}")),
            status: status.into(),
            attributes: HashMap::new(),
            registered: Some(Resources::new(cpu, memory)),
            ..ContainerInstance::default()
        });
        self
    }

    /// A task definition of one container reserving `cpu` units and `memory` MiB.
    pub fn with_task_definition(self, arn: &str, cpu: u32, memory: u32) -> Self {
        let container =
            ContainerSize { cpu, memory: None, memory_reservation: Some(memory), ..ContainerSize::default() };
        let definition = TaskDefinition { arn: arn.into(), containers: vec![container], ..TaskDefinition::default() };
        self.state().task_definitions.insert(arn.into(), definition);
        self
    }

    /// One CPU and one memory reservation datapoint at `at`.
    pub fn with_reservations(self, cluster: &str, cpu: f64, memory: f64, at: DateTime<Utc>) -> Self {
        let series = ReservationSeries {
            cpu: vec![Datapoint { timestamp: at, value: cpu }],
            memory: vec![Datapoint { timestamp: at, value: memory }],
        };
        self.state().series.insert(cluster.into(), series);
        self
    }

    /// A REPLICA service with `running` of `desired` tasks and the given events.
    pub fn with_service(
        self,
        cluster: &str,
        name: &str,
        desired: i32,
        running: i32,
        events: &[(DateTime<Utc>, &str)],
    ) -> Self {
        let service = Service {
            name: name.into(),
            scheduling: Scheduling::Replica,
            desired,
            running,
            pending: 0,
            min_healthy_percent: Some(100),
            task_definition: format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{name}:1"),
            tags: HashMap::new(),
            events: events.iter().map(|(at, m)| ServiceEvent { created_at: *at, message: m.to_string() }).collect(),
            placement_constraints: Vec::new(),
        };
        let definition = service.task_definition.clone();
        self.state().services.entry(cluster.into()).or_default().push(service);
        if let Some(facts) = self.state().clusters.iter_mut().find(|c| c.name == cluster) {
            facts.active_services += 1;
        }
        // A small task (256 CPU units, 512 MiB) unless the test registered the definition itself.
        if self.state().task_definitions.contains_key(&definition) {
            self
        } else {
            self.with_task_definition(&definition, 256, 512)
        }
    }

    /// An Auto Scaling group with these sizes and tags, and `desired` InService instances `i-<name>-<n>`.
    pub fn with_group(self, name: &str, min: u32, desired: u32, tags: &[(&str, &str)]) -> Self {
        let instances = (0..desired)
            .map(|n| GroupInstance {
                instance_id: format!("i-{name}-{n}"),
                lifecycle_state: "InService".into(),
                availability_zone: "us-east-1a".into(),
                instance_type: None,
            })
            .collect();
        self.state().groups.push(AutoScalingGroup {
            name: name.into(),
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            instances,
            min_size: min,
            max_size: 100,
            desired_capacity: desired,
            zones: vec!["us-east-1a".into()],
            ..AutoScalingGroup::default()
        });
        self
    }

    /// The last group added launches these instance types (its mixed instances policy's overrides), and its
    /// instances are the first of them.
    pub fn with_group_types(self, types: &[&str]) -> Self {
        if let Some(group) = self.state().groups.last_mut() {
            group.override_types = types.iter().map(|t| t.to_string()).collect();
            for instance in &mut group.instances {
                instance.instance_type = types.first().map(|t| t.to_string());
            }
        }
        self
    }

    /// An instance type DescribeInstanceTypes knows.
    pub fn with_instance_type(self, name: &str, vcpus: u32, memory_mib: u32, max_enis: u32, gpus: u32) -> Self {
        let info = InstanceTypeInfo {
            name: name.into(),
            vcpus,
            memory_mib,
            max_enis,
            gpus,
            architecture: Some("x86_64".into()),
        };
        self.state().instance_types.insert(name.into(), info);
        self
    }

    /// Set attributes of a registered container instance (`ecs.instance-type`, `ecs.availability-zone`, custom).
    pub fn with_attributes(self, cluster: &str, arn: &str, attributes: &[(&str, &str)]) -> Self {
        if let Some(instance) =
            self.state().instances.entry(cluster.into()).or_default().iter_mut().find(|i| i.arn == arn)
        {
            instance.attributes.extend(attributes.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        }
        self
    }

    /// Make the last group added the one these registered container instances (`i-<arn>`) were launched by,
    /// InService in `zone`; its desired capacity follows.
    pub fn with_group_members(self, arns: &[&str], zone: &str) -> Self {
        if let Some(group) = self.state().groups.last_mut() {
            group.instances = arns
                .iter()
                .map(|arn| GroupInstance {
                    instance_id: format!("i-{arn}"),
                    lifecycle_state: "InService".into(),
                    availability_zone: zone.into(),
                    instance_type: None,
                })
                .collect();
            group.desired_capacity = u32::try_from(arns.len()).unwrap_or(u32::MAX);
            if !group.zones.iter().any(|z| z == zone) {
                group.zones.push(zone.into());
            }
        }
        self
    }

    /// Put the last `count` instances of the last group added in this lifecycle state (`Pending`, say).
    pub fn with_group_state(self, count: usize, state: &str) -> Self {
        if let Some(group) = self.state().groups.last_mut() {
            for instance in group.instances.iter_mut().rev().take(count) {
                instance.lifecycle_state = state.into();
            }
        }
        self
    }

    /// Place instances' sizes and tasks: registered and remaining resources and the task count.
    pub fn with_load(self, cluster: &str, arn: &str, remaining: Resources, tasks: u32) -> Self {
        if let Some(instance) =
            self.state().instances.entry(cluster.into()).or_default().iter_mut().find(|i| i.arn == arn)
        {
            instance.remaining = Some(remaining);
            instance.tasks = Some(tasks);
        }
        self
    }

    /// A RUNNING task of `group` on `instance`, running `task_definition`.
    pub fn with_task(self, cluster: &str, group: &str, instance: &str, task_definition: &str) -> Self {
        let tasks = self.state().tasks.entry(cluster.into()).or_default().len();
        self.state().tasks.entry(cluster.into()).or_default().push(Task {
            arn: format!("arn:aws:ecs:us-east-1:123456789012:task/{cluster}/{tasks}"),
            container_instance_arn: Some(instance.into()),
            group: Some(group.into()),
            last_status: "RUNNING".into(),
            task_definition_arn: Some(task_definition.into()),
            ..Task::default()
        });
        self
    }

    /// Make every call of `operation` fail.
    pub fn failing(self, operation: &'static str) -> Self {
        self.state().failing.insert(operation);
        self
    }

    /// Make every call of `operation` refused for lack of client-side API budget.
    pub fn exhausting(self, operation: &'static str) -> Self {
        self.state().exhausted.insert(operation);
        self
    }

    pub fn calls(&self, operation: &str) -> usize {
        self.state().calls.iter().filter(|c| **c == operation).count()
    }

    pub fn published(&self) -> Vec<(String, ClusterMetric)> {
        self.state().published.clone()
    }

    /// Record the call, and fail it if the test asked for that.
    fn call(&self, operation: &'static str) -> Result<MutexGuard<'_, ScriptState>, AwsError> {
        let mut state = self.state();
        state.calls.push(operation);
        if state.failing.contains(operation) {
            return Err(AwsError {
                operation,
                code: Some("ThrottlingException".into()),
                message: "Rate exceeded (scripted, after retries)".into(),
            });
        }
        if state.exhausted.contains(operation) {
            return Err(AwsError {
                operation,
                code: Some(super::BUDGET_EXHAUSTED.into()),
                message: "the client-side budget is used up (scripted)".into(),
            });
        }
        Ok(state)
    }

    fn cluster_list<T: Clone>(
        &self,
        operation: &'static str,
        cluster: &str,
        pick: fn(&ScriptState) -> &HashMap<String, Vec<T>>,
    ) -> Result<Vec<T>, AwsError> {
        let state = self.call(operation)?;
        Ok(pick(&state).get(cluster).cloned().unwrap_or_default())
    }
}

impl MetricsApi for Script {
    async fn reservations(&self, clusters: &[String], start: DateTime<Utc>, end: DateTime<Utc>) -> Reservations {
        let state = match self.call("GetMetricData") {
            Ok(state) => state,
            Err(error) => return clusters.iter().map(|c| (c.clone(), Err(error.clone()))).collect(),
        };
        let in_window = |points: &[Datapoint]| -> Vec<Datapoint> {
            points.iter().copied().filter(|p| p.timestamp >= start && p.timestamp <= end).collect()
        };
        clusters
            .iter()
            .map(|cluster| {
                let series = state.series.get(cluster).cloned().unwrap_or_default();
                let series = ReservationSeries { cpu: in_window(&series.cpu), memory: in_window(&series.memory) };
                (cluster.clone(), Ok(series))
            })
            .collect()
    }

    async fn put(&self, namespace: &str, metrics: &[ClusterMetric]) -> Result<usize, AwsError> {
        let mut state = self.call("PutMetricData")?;
        state.published.extend(metrics.iter().map(|m| (namespace.to_owned(), m.clone())));
        Ok(1)
    }
}

impl EcsApi for Script {
    async fn cluster_arns(&self) -> Result<Vec<String>, AwsError> {
        Ok(self.call("ListClusters")?.clusters.iter().map(|c| c.arn.clone()).collect())
    }

    async fn describe_clusters(&self, names: &[String]) -> Result<(Vec<ClusterFacts>, Vec<MissingCluster>), AwsError> {
        let state = self.call("DescribeClusters")?;
        let found: Vec<ClusterFacts> = state.clusters.iter().filter(|c| names.contains(&c.name)).cloned().collect();
        let missing = names
            .iter()
            .filter(|n| !found.iter().any(|c| &c.name == *n))
            .map(|n| MissingCluster { name: n.clone(), reason: "MISSING".into() })
            .collect();
        Ok((found, missing))
    }

    async fn services(&self, cluster: &str) -> Result<Vec<Service>, AwsError> {
        self.cluster_list("DescribeServices", cluster, |s| &s.services)
    }

    async fn tasks(&self, cluster: &str) -> Result<Vec<Task>, AwsError> {
        self.cluster_list("DescribeTasks", cluster, |s| &s.tasks)
    }

    async fn tasks_on(&self, cluster: &str, container_instance_arn: &str) -> Result<Vec<Task>, AwsError> {
        let tasks = self.cluster_list("ListTasks", cluster, |s| &s.tasks)?;
        Ok(tasks.into_iter().filter(|t| t.container_instance_arn.as_deref() == Some(container_instance_arn)).collect())
    }

    async fn stopped_tasks(&self, cluster: &str, container_instance_arn: &str) -> Result<Vec<Task>, AwsError> {
        let tasks = self.cluster_list("DescribeTasks", cluster, |s| &s.stopping)?;
        Ok(tasks.into_iter().filter(|t| t.container_instance_arn.as_deref() == Some(container_instance_arn)).collect())
    }

    async fn container_instances_of(
        &self,
        cluster: &str,
        ec2_instance_ids: &[String],
    ) -> Result<Vec<ContainerInstance>, AwsError> {
        let instances = self.cluster_list("ListContainerInstances", cluster, |s| &s.instances)?;
        Ok(instances
            .into_iter()
            .filter(|i| i.ec2_instance_id.as_ref().is_some_and(|id| ec2_instance_ids.contains(id)))
            .collect())
    }

    async fn container_instances(&self, cluster: &str) -> Result<Vec<ContainerInstance>, AwsError> {
        self.cluster_list("DescribeContainerInstances", cluster, |s| &s.instances)
    }

    async fn draining_instances(&self, cluster: &str) -> Result<Option<u32>, AwsError> {
        let instances = self.cluster_list("ListContainerInstances", cluster, |s| &s.instances)?;
        let draining = instances.iter().filter(|i| i.is_draining()).count();
        Ok((draining <= 100).then(|| u32::try_from(draining).unwrap_or(u32::MAX)))
    }

    async fn task_definition(&self, arn: &str) -> Result<TaskDefinition, AwsError> {
        let state = self.call("DescribeTaskDefinition")?;
        state.task_definitions.get(arn).cloned().ok_or_else(|| AwsError {
            operation: "DescribeTaskDefinition",
            code: Some("ClientException".into()),
            message: format!("Unable to describe task definition {arn} (scripted)"),
        })
    }

    async fn clusters_with_instance(&self, ec2_instance_id: &str) -> Result<Vec<String>, AwsError> {
        let state = self.call("ListContainerInstances")?;
        let registered = |instances: &Vec<ContainerInstance>| {
            instances.iter().any(|i| i.ec2_instance_id.as_deref() == Some(ec2_instance_id) && i.status != "INACTIVE")
        };
        let mut clusters: Vec<String> = state
            .instances
            .iter()
            .filter(|(_, instances)| registered(instances))
            .map(|(name, _)| name.clone())
            .collect();
        clusters.sort();
        Ok(clusters)
    }

    async fn drain(&self, cluster: &str, arns: &[String]) -> Result<Vec<ContainerInstance>, AwsError> {
        let mut state = self.call("UpdateContainerInstancesState")?;
        let instances = state.instances.entry(cluster.into()).or_default();
        for instance in instances.iter_mut().filter(|i| arns.contains(&i.arn)) {
            instance.status = "DRAINING".into();
        }
        Ok(instances.iter().filter(|i| arns.contains(&i.arn)).cloned().collect())
    }

    async fn tag_cluster(&self, cluster_arn: &str, key: &str, value: &str) -> Result<(), AwsError> {
        let mut state = self.call("TagResource")?;
        if let Some(cluster) = state.clusters.iter_mut().find(|c| c.arn == cluster_arn) {
            cluster.tags.insert(key.into(), value.into());
        }
        Ok(())
    }

    async fn put_attribute(&self, cluster: &str, arn: &str, name: &str, value: &str) -> Result<(), AwsError> {
        let mut state = self.call("PutAttributes")?;
        let instances = state.instances.entry(cluster.into()).or_default();
        if let Some(instance) = instances.iter_mut().find(|i| i.arn == arn) {
            instance.attributes.insert(name.into(), value.into());
        }
        Ok(())
    }
}

impl Ec2Api for Script {
    async fn launch_template_type(&self, template: &LaunchTemplateRef) -> Result<Option<String>, AwsError> {
        let state = self.call("DescribeLaunchTemplateVersions")?;
        state.launch_templates.get(template).cloned().ok_or_else(|| AwsError {
            operation: "DescribeLaunchTemplateVersions",
            code: Some("InvalidLaunchTemplateId.NotFound".into()),
            message: format!("{template} does not exist (scripted)"),
        })
    }

    async fn instance_types(&self, names: &[String]) -> Result<Vec<InstanceTypeInfo>, AwsError> {
        let state = self.call("DescribeInstanceTypes")?;
        Ok(names.iter().filter_map(|n| state.instance_types.get(n).cloned()).collect())
    }
}

impl AutoScalingApi for Script {
    async fn groups(&self, names: &[String]) -> Result<Vec<AutoScalingGroup>, AwsError> {
        let state = self.call("DescribeAutoScalingGroups")?;
        Ok(state.groups.iter().filter(|g| names.contains(&g.name)).cloned().collect())
    }

    async fn tagged_groups(&self, tag_key: &str) -> Result<Vec<AutoScalingGroup>, AwsError> {
        let state = self.call("DescribeAutoScalingGroups")?;
        Ok(state.groups.iter().filter(|g| g.tags.contains_key(tag_key)).cloned().collect())
    }

    async fn group_of(&self, instance_id: &str) -> Result<Option<String>, AwsError> {
        let state = self.call("DescribeAutoScalingInstances")?;
        let found = state.groups.iter().find(|g| g.instances.iter().any(|i| i.instance_id == instance_id));
        Ok(found.map(|g| g.name.clone()))
    }

    async fn hooks(&self, _group: &str) -> Result<Vec<LifecycleHook>, AwsError> {
        let _state = self.call("DescribeLifecycleHooks")?;
        Ok(Vec::new())
    }

    async fn complete(&self, _action: &LifecycleAction, _result: LifecycleResult) -> Result<ActionOutcome, AwsError> {
        let _state = self.call("CompleteLifecycleAction")?;
        Ok(ActionOutcome::Done)
    }

    async fn execute_step_policy(&self, group: &str, policy: &str, metric_value: f64) -> Result<(), AwsError> {
        let mut state = self.call("ExecutePolicy")?;
        state.executed.push((group.into(), policy.into(), metric_value));
        Ok(())
    }

    async fn heartbeat(&self, _action: &LifecycleAction) -> Result<ActionOutcome, AwsError> {
        let _state = self.call("RecordLifecycleActionHeartbeat")?;
        Ok(ActionOutcome::Done)
    }
}
