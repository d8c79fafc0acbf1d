//! [`Counted`]: any implementation of the ports, charged as AWS would charge the SDK adapters for the same port
//! calls ([`super::cost`]), with an optional latency per AWS round trip. The simulator wraps its world in it to
//! report calls per ECS bucket per minute; the benchmark wraps a scripted cloud to measure large ticks at a given
//! latency without an emulator.
//!
//! EC2's instance types and fixed launch template versions are charged once per wrapper, as the adapter keeps
//! them for the life of its process.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::cost::{
    Category, Cost, DATUMS_PER_CALL, DESCRIBE_BATCH, DESCRIBE_SERVICES_BATCH, GROUPS_PER_CALL, LIST_PAGE,
    METRIC_QUERIES_PER_CALL, TYPES_PER_CALL, UPDATE_STATE_BATCH,
};
use super::{AutoScalingApi, AwsError, ClusterMetric, Ec2Api, EcsApi, MetricsApi, MissingCluster, Reservations};
use crate::cluster::{ClusterFacts, ContainerInstance, Service, Task, TaskDefinition};
use crate::lifecycle::{
    ActionOutcome, AutoScalingGroup, LaunchTemplateRef, LifecycleAction, LifecycleHook, LifecycleResult,
};
use crate::placement::instance_types::InstanceTypeInfo;

/// An async sleep, supplied by whoever has a timer (the core has none).
pub type Sleep = Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The calls made so far, by operation.
pub type Ledger = BTreeMap<&'static str, usize>;

/// Ports charged per AWS call; see the module documentation.
pub struct Counted<P> {
    inner: P,
    ledger: Mutex<Ledger>,
    latency: Option<(Duration, Sleep)>,
    known_types: Mutex<HashSet<String>>,
    known_templates: Mutex<HashSet<LaunchTemplateRef>>,
}

impl<P: std::fmt::Debug> std::fmt::Debug for Counted<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counted").field("inner", &self.inner).field("ledger", &*lock(&self.ledger)).finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<P> Counted<P> {
    pub fn new(inner: P) -> Self {
        Counted {
            inner,
            ledger: Mutex::new(Ledger::new()),
            latency: None,
            known_types: Mutex::new(HashSet::new()),
            known_templates: Mutex::new(HashSet::new()),
        }
    }

    /// Each AWS round trip takes `latency` (slept with `sleep`).
    pub fn with_latency(mut self, latency: Duration, sleep: Sleep) -> Self {
        self.latency = Some((latency, sleep));
        self
    }

    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// The calls so far, and forget them.
    pub fn take(&self) -> Ledger {
        std::mem::take(&mut *lock(&self.ledger))
    }

    /// The calls so far.
    pub fn ledger(&self) -> Ledger {
        lock(&self.ledger).clone()
    }

    /// The calls so far per ECS bucket.
    pub fn by_category(&self) -> BTreeMap<Category, usize> {
        per_category(&self.ledger())
    }

    async fn charge(&self, cost: Cost) {
        {
            let mut ledger = lock(&self.ledger);
            for (operation, count) in &cost.calls {
                *ledger.entry(operation).or_default() += count;
            }
        }
        if let Some((latency, sleep)) = &self.latency
            && cost.round_trips > 0
        {
            let trips = u32::try_from(cost.round_trips).unwrap_or(u32::MAX);
            sleep(*latency * trips).await;
        }
    }
}

/// A ledger's ECS calls per bucket.
pub fn per_category(ledger: &Ledger) -> BTreeMap<Category, usize> {
    let mut buckets = BTreeMap::new();
    for (operation, count) in ledger {
        if let Some(category) = Category::of(operation) {
            *buckets.entry(category).or_default() += count;
        }
    }
    buckets
}

fn list(list: &'static str, describe: &'static str, items: usize, batch: usize) -> Cost {
    Cost::list_describe(list, describe, items, batch)
}

impl<P: MetricsApi> MetricsApi for Counted<P> {
    async fn reservations(&self, clusters: &[String], start: DateTime<Utc>, end: DateTime<Utc>) -> Reservations {
        let calls = (2 * clusters.len()).div_ceil(METRIC_QUERIES_PER_CALL).max(1);
        self.charge(Cost::batched("GetMetricData", calls, 1)).await;
        self.inner.reservations(clusters, start, end).await
    }

    async fn put(&self, namespace: &str, metrics: &[ClusterMetric]) -> Result<usize, AwsError> {
        self.charge(Cost::batched("PutMetricData", metrics.len().div_ceil(DATUMS_PER_CALL), 1)).await;
        self.inner.put(namespace, metrics).await
    }
}

impl<P: EcsApi> EcsApi for Counted<P> {
    async fn cluster_arns(&self) -> Result<Vec<String>, AwsError> {
        let found = self.inner.cluster_arns().await;
        let pages = found.as_ref().map_or(1, |arns| arns.len().div_ceil(LIST_PAGE).max(1));
        self.charge(Cost::batched("ListClusters", pages, 1)).await;
        found
    }

    async fn describe_clusters(&self, names: &[String]) -> Result<(Vec<ClusterFacts>, Vec<MissingCluster>), AwsError> {
        self.charge(Cost::batched("DescribeClusters", names.len().div_ceil(DESCRIBE_BATCH), 4)).await;
        self.inner.describe_clusters(names).await
    }

    async fn services(&self, cluster: &str) -> Result<Vec<Service>, AwsError> {
        let found = self.inner.services(cluster).await;
        let n = found.as_ref().map_or(0, Vec::len);
        self.charge(list("ListServices", "DescribeServices", n, DESCRIBE_SERVICES_BATCH)).await;
        found
    }

    async fn tasks(&self, cluster: &str) -> Result<Vec<Task>, AwsError> {
        let found = self.inner.tasks(cluster).await;
        self.charge(list("ListTasks", "DescribeTasks", found.as_ref().map_or(0, Vec::len), DESCRIBE_BATCH)).await;
        found
    }

    async fn stopped_tasks(&self, cluster: &str, container_instance_arn: &str) -> Result<Vec<Task>, AwsError> {
        let found = self.inner.stopped_tasks(cluster, container_instance_arn).await;
        self.charge(list("ListTasks", "DescribeTasks", found.as_ref().map_or(0, Vec::len), DESCRIBE_BATCH)).await;
        found
    }

    async fn tasks_on(&self, cluster: &str, container_instance_arn: &str) -> Result<Vec<Task>, AwsError> {
        let found = self.inner.tasks_on(cluster, container_instance_arn).await;
        self.charge(list("ListTasks", "DescribeTasks", found.as_ref().map_or(0, Vec::len), DESCRIBE_BATCH)).await;
        found
    }

    async fn container_instances(&self, cluster: &str) -> Result<Vec<ContainerInstance>, AwsError> {
        let found = self.inner.container_instances(cluster).await;
        let n = found.as_ref().map_or(0, Vec::len);
        self.charge(list("ListContainerInstances", "DescribeContainerInstances", n, DESCRIBE_BATCH)).await;
        found
    }

    async fn container_instances_of(
        &self,
        cluster: &str,
        ec2_instance_ids: &[String],
    ) -> Result<Vec<ContainerInstance>, AwsError> {
        self.charge(Cost::batched("ListContainerInstances", ec2_instance_ids.len(), 1)).await;
        self.inner.container_instances_of(cluster, ec2_instance_ids).await
    }

    async fn draining_instances(&self, cluster: &str) -> Result<Option<u32>, AwsError> {
        self.charge(Cost::one("ListContainerInstances")).await;
        self.inner.draining_instances(cluster).await
    }

    async fn task_definition(&self, arn: &str) -> Result<TaskDefinition, AwsError> {
        self.charge(Cost::one("DescribeTaskDefinition")).await;
        self.inner.task_definition(arn).await
    }

    async fn clusters_with_instance(&self, ec2_instance_id: &str) -> Result<Vec<String>, AwsError> {
        // ListClusters, then one filtered ListContainerInstances per cluster of the account: the clusters found
        // are a lower bound on those asked.
        let found = self.inner.clusters_with_instance(ec2_instance_id).await;
        let asked = found.as_ref().map_or(0, Vec::len).max(1);
        self.charge(Cost::one("ListClusters").and(Cost::batched("ListContainerInstances", asked, 4))).await;
        found
    }

    async fn drain(
        &self,
        cluster: &str,
        container_instance_arns: &[String],
    ) -> Result<Vec<ContainerInstance>, AwsError> {
        let calls = container_instance_arns.len().div_ceil(UPDATE_STATE_BATCH);
        self.charge(Cost::batched("UpdateContainerInstancesState", calls, 4)).await;
        self.inner.drain(cluster, container_instance_arns).await
    }

    async fn tag_cluster(&self, cluster_arn: &str, key: &str, value: &str) -> Result<(), AwsError> {
        self.charge(Cost::one("TagResource")).await;
        self.inner.tag_cluster(cluster_arn, key, value).await
    }

    async fn put_attribute(&self, cluster: &str, arn: &str, name: &str, value: &str) -> Result<(), AwsError> {
        self.charge(Cost::one("PutAttributes")).await;
        self.inner.put_attribute(cluster, arn, name, value).await
    }
}

impl<P: AutoScalingApi> AutoScalingApi for Counted<P> {
    async fn groups(&self, names: &[String]) -> Result<Vec<AutoScalingGroup>, AwsError> {
        self.charge(Cost::batched("DescribeAutoScalingGroups", names.len().div_ceil(GROUPS_PER_CALL).max(1), 1)).await;
        self.inner.groups(names).await
    }

    async fn tagged_groups(&self, tag_key: &str) -> Result<Vec<AutoScalingGroup>, AwsError> {
        let found = self.inner.tagged_groups(tag_key).await;
        let pages = found.as_ref().map_or(1, |g| g.len().div_ceil(GROUPS_PER_CALL).max(1));
        self.charge(Cost::batched("DescribeAutoScalingGroups", pages, 1)).await;
        found
    }

    async fn group_of(&self, instance_id: &str) -> Result<Option<String>, AwsError> {
        self.charge(Cost::one("DescribeAutoScalingInstances")).await;
        self.inner.group_of(instance_id).await
    }

    async fn hooks(&self, group: &str) -> Result<Vec<LifecycleHook>, AwsError> {
        self.charge(Cost::one("DescribeLifecycleHooks")).await;
        self.inner.hooks(group).await
    }

    async fn complete(&self, action: &LifecycleAction, result: LifecycleResult) -> Result<ActionOutcome, AwsError> {
        self.charge(Cost::one("CompleteLifecycleAction")).await;
        self.inner.complete(action, result).await
    }

    async fn execute_step_policy(&self, group: &str, policy: &str, metric_value: f64) -> Result<(), AwsError> {
        self.charge(Cost::one("ExecutePolicy")).await;
        self.inner.execute_step_policy(group, policy, metric_value).await
    }

    async fn heartbeat(&self, action: &LifecycleAction) -> Result<ActionOutcome, AwsError> {
        self.charge(Cost::one("RecordLifecycleActionHeartbeat")).await;
        self.inner.heartbeat(action).await
    }
}

impl<P: Ec2Api> Ec2Api for Counted<P> {
    async fn launch_template_type(&self, template: &LaunchTemplateRef) -> Result<Option<String>, AwsError> {
        let fixed = template.version.as_deref().is_some_and(|v| !v.starts_with('$'));
        if !(fixed && lock(&self.known_templates).contains(template)) {
            self.charge(Cost::one("DescribeLaunchTemplateVersions")).await;
            if fixed {
                lock(&self.known_templates).insert(template.clone());
            }
        }
        self.inner.launch_template_type(template).await
    }

    async fn instance_types(&self, names: &[String]) -> Result<Vec<InstanceTypeInfo>, AwsError> {
        let unknown: Vec<String> = {
            let mut known = lock(&self.known_types);
            let unknown = names.iter().filter(|n| !known.contains(*n)).cloned().collect();
            known.extend(names.iter().cloned());
            unknown
        };
        if !unknown.is_empty() {
            self.charge(Cost::batched("DescribeInstanceTypes", unknown.len().div_ceil(TYPES_PER_CALL), 1)).await;
        }
        self.inner.instance_types(names).await
    }
}
