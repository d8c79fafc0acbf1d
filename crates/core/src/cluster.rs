//! Plain snapshots of what ECS reports about a cluster. The AWS adapters fill them in; the simulator builds
//! them itself. Only the fields a decision reads are here.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// One ECS cluster, as DescribeClusters reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterFacts {
    pub name: String,
    pub arn: String,
    /// ACTIVE, PROVISIONING, DEPROVISIONING, FAILED or INACTIVE.
    pub status: String,
    /// Registered container instances, ACTIVE and DRAINING.
    pub registered_instances: u32,
    pub tags: HashMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Scheduling {
    Replica,
    Daemon,
}

/// One entry of a service's event log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceEvent {
    pub created_at: DateTime<Utc>,
    pub message: String,
}

/// One ECS service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Service {
    pub name: String,
    pub scheduling: Scheduling,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    /// `deploymentConfiguration.minimumHealthyPercent`, when ECS reports one.
    pub min_healthy_percent: Option<i32>,
    pub tags: HashMap<String, String>,
    /// Newest first, as ECS returns them.
    pub events: Vec<ServiceEvent>,
}

impl Service {
    /// The `group` ECS gives the service's tasks.
    pub fn task_group(&self) -> String {
        format!("service:{}", self.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskHealth {
    Healthy,
    Unhealthy,
    Unknown,
}

/// One task whose desired status is RUNNING.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Task {
    pub arn: String,
    /// None for tasks not on a container instance (Fargate).
    pub container_instance_arn: Option<String>,
    /// `service:<name>` for service tasks, `family:<name>` for standalone ones.
    pub group: Option<String>,
    /// PROVISIONING, PENDING, ACTIVATING, RUNNING, DEACTIVATING, STOPPING, ...
    pub last_status: String,
    pub health: TaskHealth,
}

impl Task {
    /// The service this task belongs to, if any.
    pub fn service_name(&self) -> Option<&str> {
        self.group.as_deref()?.strip_prefix("service:")
    }
}

/// One registered container instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerInstance {
    pub arn: String,
    pub ec2_instance_id: Option<String>,
    /// ACTIVE, DRAINING, REGISTERING, DEREGISTERING, ...
    pub status: String,
    /// Custom and built-in attributes; attributes without a value map to "".
    pub attributes: HashMap<String, String>,
}

impl ContainerInstance {
    pub fn is_active(&self) -> bool {
        self.status == "ACTIVE"
    }
}
