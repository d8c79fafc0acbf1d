//! The ports: what ecs-scaler asks of AWS, as small traits in the core's plain types, and the one [`Context`]
//! that carries them. `ecs-scaler-aws` implements them with the AWS SDK; the simulator implements them over
//! its simulated world; tests script them. Nothing here knows an SDK, a network or a runtime.

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::cluster::{ClusterFacts, ContainerInstance, Service, Task, TaskDefinition};
use crate::lifecycle::{
    ActionOutcome, AutoScalingGroup, LaunchTemplateRef, LifecycleAction, LifecycleHook, LifecycleResult,
};
use crate::metrics::Datapoint;
use crate::placement::instance_types::InstanceTypeInfo;

pub mod cost;
pub mod counted;
#[cfg(any(test, feature = "testing"))]
pub mod script;

/// A failed AWS call, after the SDK's retries (or a simulated one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed: {message}")]
pub struct AwsError {
    pub operation: &'static str,
    /// The AWS error code (`ThrottlingException`, `ValidationError`, ...), when the service sent one.
    pub code: Option<String>,
    pub message: String,
}

/// The error code of a call the adapter did not make because the client-side API budget was used up.
pub const BUDGET_EXHAUSTED: &str = "ClientBudgetExhausted";

impl AwsError {
    /// Whether the call was not made for lack of client-side API budget (not an AWS error).
    pub fn is_budget_exhausted(&self) -> bool {
        self.code.as_deref() == Some(BUDGET_EXHAUSTED)
    }

    /// An answer that parsed but makes no sense (a missing ARN, say).
    pub fn malformed(operation: &'static str, message: impl Into<String>) -> Self {
        Self { operation, code: None, message: message.into() }
    }
}

/// CPU and memory reservation datapoints of one cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReservationSeries {
    pub cpu: Vec<Datapoint>,
    pub memory: Vec<Datapoint>,
}

/// Reservation datapoints per cluster; a cluster whose query failed carries the error.
pub type Reservations = std::collections::HashMap<String, Result<ReservationSeries, AwsError>>;

/// A datapoint to publish with dimension `ClusterName`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterMetric {
    pub name: &'static str,
    pub cluster: String,
    pub value: f64,
    pub unit: MetricUnit,
    pub timestamp: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricUnit {
    None,
    Count,
    Seconds,
}

/// CloudWatch, as ecs-scaler uses it.
pub trait MetricsApi: Send + Sync {
    /// `AWS/ECS` CPUReservation and MemoryReservation (Maximum, 60 s) between `start` and `end`.
    fn reservations(
        &self,
        clusters: &[String],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> impl Future<Output = Reservations> + Send;

    /// Publish datapoints in as few PutMetricData calls as the API allows. Returns the number of calls.
    fn put(&self, namespace: &str, metrics: &[ClusterMetric]) -> impl Future<Output = Result<usize, AwsError>> + Send;
}

/// A cluster DescribeClusters could not return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingCluster {
    pub name: String,
    pub reason: String,
}

/// ECS, as ecs-scaler uses it.
pub trait EcsApi: Send + Sync {
    /// Every cluster ARN in the account and region.
    fn cluster_arns(&self) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;

    /// Clusters with their tags, 100 per call. Clusters ECS does not know come back in the second list.
    fn describe_clusters(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<(Vec<ClusterFacts>, Vec<MissingCluster>), AwsError>> + Send;

    /// Every service of the cluster with tags and events: ListServices pages, then DescribeServices, 10 per call.
    fn services(&self, cluster: &str) -> impl Future<Output = Result<Vec<Service>, AwsError>> + Send;

    /// Every task of the cluster whose desired status is RUNNING: ListTasks pages, then DescribeTasks, 100 per call.
    fn tasks(&self, cluster: &str) -> impl Future<Output = Result<Vec<Task>, AwsError>> + Send;

    /// The tasks of one container instance whose desired status is STOPPED (ECS lists stopped tasks for about
    /// an hour): ListTasks pages, then DescribeTasks, 100 per call. Read only before an instance is released.
    fn stopped_tasks(
        &self,
        cluster: &str,
        container_instance_arn: &str,
    ) -> impl Future<Output = Result<Vec<Task>, AwsError>> + Send;

    /// The tasks of one container instance whose desired status is RUNNING: ListTasks pages filtered by
    /// `containerInstance`, then DescribeTasks, 100 per call. What consolidation reads of the one instance it
    /// would remove.
    fn tasks_on(
        &self,
        cluster: &str,
        container_instance_arn: &str,
    ) -> impl Future<Output = Result<Vec<Task>, AwsError>> + Send;

    /// Every registered container instance: ListContainerInstances pages, then DescribeContainerInstances, 100 per call.
    fn container_instances(
        &self,
        cluster: &str,
    ) -> impl Future<Output = Result<Vec<ContainerInstance>, AwsError>> + Send;

    /// The container instances of these EC2 instances, by ARN alone (status `UNKNOWN`, no attributes): one
    /// ListContainerInstances filtered by `ec2InstanceId` each, no Describe. Enough to set them DRAINING, which
    /// answers with the rest; what a lifecycle notification reads.
    fn container_instances_of(
        &self,
        cluster: &str,
        ec2_instance_ids: &[String],
    ) -> impl Future<Output = Result<Vec<ContainerInstance>, AwsError>> + Send;

    /// How many container instances of the cluster are DRAINING: one ListContainerInstances page of 100 with
    /// `status=DRAINING`; `None` when there are more than fit that page.
    fn draining_instances(&self, cluster: &str) -> impl Future<Output = Result<Option<u32>, AwsError>> + Send;

    /// One task definition's sizes (DescribeTaskDefinition).
    fn task_definition(&self, arn: &str) -> impl Future<Output = Result<TaskDefinition, AwsError>> + Send;

    /// Names of the clusters where this EC2 instance is registered (ACTIVE or DRAINING): ListClusters pages,
    /// then one ListContainerInstances filtered by `ec2InstanceId` per cluster. Only asked when the instance is
    /// missing from the cluster the hook resolved, so its cost is paid on that rare path alone.
    fn clusters_with_instance(
        &self,
        ec2_instance_id: &str,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;

    /// Set container instances to DRAINING (a no-op for those already draining), 10 per call. Returns them
    /// as ECS reports them afterwards.
    fn drain(
        &self,
        cluster: &str,
        container_instance_arns: &[String],
    ) -> impl Future<Output = Result<Vec<ContainerInstance>, AwsError>> + Send;

    /// Tag a cluster (TagResource on its ARN): the one piece of state the event trigger keeps, in AWS itself.
    fn tag_cluster(
        &self,
        cluster_arn: &str,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Set a custom attribute on a container instance.
    fn put_attribute(
        &self,
        cluster: &str,
        container_instance_arn: &str,
        name: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// Auto Scaling, as the drain hook and sized scale-out use it.
pub trait AutoScalingApi: Send + Sync {
    /// Groups by name, with their instances and tags. Unknown names are simply absent.
    fn groups(&self, names: &[String]) -> impl Future<Output = Result<Vec<AutoScalingGroup>, AwsError>> + Send;

    /// Every group carrying the tag key `tag_key`.
    fn tagged_groups(&self, tag_key: &str) -> impl Future<Output = Result<Vec<AutoScalingGroup>, AwsError>> + Send;

    /// The group an instance belongs to, if any (DescribeAutoScalingInstances).
    fn group_of(&self, instance_id: &str) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;

    /// The lifecycle hooks of one group.
    fn hooks(&self, group: &str) -> impl Future<Output = Result<Vec<LifecycleHook>, AwsError>> + Send;

    /// CompleteLifecycleAction. "No active Lifecycle Action" is an outcome, not an error.
    fn complete(
        &self,
        action: &LifecycleAction,
        result: LifecycleResult,
    ) -> impl Future<Output = Result<ActionOutcome, AwsError>> + Send;

    /// ExecutePolicy on a step scaling policy with this metric value and a breach threshold of 0, so Auto Scaling
    /// picks the step for `metric_value` and discounts capacity still warming up, as it would for an alarm.
    fn execute_step_policy(
        &self,
        group: &str,
        policy: &str,
        metric_value: f64,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// RecordLifecycleActionHeartbeat. "No active Lifecycle Action" is an outcome, not an error.
    fn heartbeat(&self, action: &LifecycleAction) -> impl Future<Output = Result<ActionOutcome, AwsError>> + Send;
}

/// EC2, as sizing fresh instances uses it: what a group's launch template launches, and what an instance type
/// offers. Both change rarely or never, so an adapter may keep what it read.
pub trait Ec2Api: Send + Sync {
    /// The instance type of a launch template version (DescribeLaunchTemplateVersions); `None` when the version
    /// names none (a group's overrides must then say).
    fn launch_template_type(
        &self,
        template: &LaunchTemplateRef,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;

    /// These instance types' facts (DescribeInstanceTypes). Types EC2 does not know are absent from the answer.
    fn instance_types(&self, names: &[String]) -> impl Future<Output = Result<Vec<InstanceTypeInfo>, AwsError>> + Send;
}

/// What time it is, as the caller's world says: the wall clock in the Lambdas, the simulated minute in the
/// simulator. Decisions take `now` from here, never from the system.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// A clock stopped at one moment: for tests, and for asking "what would happen at this time".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// Everything an invocation talks to, passed as one value the same way everywhere: the Lambdas build it from
/// SDK clients once per cold start, the simulator from its world, tests from a script.
#[derive(Debug)]
pub struct Context<'a, E, A, X, M, C> {
    pub ecs: &'a E,
    pub autoscaling: &'a A,
    pub ec2: &'a X,
    pub metrics: &'a M,
    pub clock: &'a C,
}

// Only references inside: copyable whatever the ports are (derive would demand E: Copy and so on).
impl<E, A, X, M, C> Clone for Context<'_, E, A, X, M, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E, A, X, M, C> Copy for Context<'_, E, A, X, M, C> {}
