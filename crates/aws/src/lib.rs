//! The AWS calls ecs-scaler makes, behind small traits, with AWS SDK implementations.
//!
//! The traits speak in `ecs-scaler-core`'s plain types, so the Lambdas can be exercised with fakes and the
//! SDK layer can be tested on its own with `aws-smithy-mocks`. Every implementation pages and batches up to the
//! API's limits; the per-call limits live next to the calls.

use std::future::Future;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_ecs::error::{DisplayErrorContext, ProvideErrorMetadata};
use chrono::{DateTime, Utc};
use ecs_scaler_core::{ClusterFacts, ContainerInstance, Datapoint, Service, Task, TaskDefinition};

pub mod autoscaling;
pub mod cloudwatch;
pub mod ecs;
pub mod logging;

pub use autoscaling::{AutoScaling, AutoScalingApi};
pub use cloudwatch::CloudWatch;
pub use ecs::Ecs;

/// A failed AWS call, after the SDK's retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed: {message}")]
pub struct AwsError {
    pub operation: &'static str,
    /// The AWS error code (`ThrottlingException`, `ValidationError`, ...), when the service sent one.
    pub code: Option<String>,
    pub message: String,
}

impl AwsError {
    /// Wrap an SDK error, keeping its code for classification and its full context for people.
    pub fn sdk<E>(operation: &'static str, error: E) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let code = error.code().map(str::to_owned);
        Self { operation, code, message: DisplayErrorContext(&error).to_string() }
    }

    /// An answer that parsed but makes no sense (a missing ARN, say).
    pub fn malformed(operation: &'static str, message: impl Into<String>) -> Self {
        Self { operation, code: None, message: message.into() }
    }
}

/// Retries for throttling, 5xx and timeouts: the SDK's standard mode, bounded. Four attempts with jittered
/// exponential backoff rides out a throttling burst without blowing the Lambda's deadline.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(4).with_initial_backoff(Duration::from_millis(200))
}

/// Per-attempt and per-operation timeouts, so a hung connection becomes a retry, then an error.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(10))
        .operation_timeout(Duration::from_secs(30))
        .build()
}

/// The shared SDK configuration: region, credentials and `AWS_ENDPOINT_URL` from the environment, plus our
/// retry and timeout policy. Load once per process (Lambda cold start).
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .load()
        .await
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

    /// Tasks on one container instance that ECS is stopping but that have not stopped yet (desired status
    /// STOPPED, last status anything else): ListTasks pages, then DescribeTasks, 100 per call.
    fn stopping_tasks(
        &self,
        cluster: &str,
        container_instance_arn: &str,
    ) -> impl Future<Output = Result<Vec<Task>, AwsError>> + Send;

    /// Every registered container instance: ListContainerInstances pages, then DescribeContainerInstances, 100 per call.
    fn container_instances(
        &self,
        cluster: &str,
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

    /// Set a custom attribute on a container instance.
    fn put_attribute(
        &self,
        cluster: &str,
        container_instance_arn: &str,
        name: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// Convert an SDK timestamp.
pub(crate) fn to_chrono(at: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    use aws_smithy_types_convert::date_time::DateTimeExt;
    at.to_chrono_utc().ok()
}
