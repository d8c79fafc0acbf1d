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
    /// Tasks RUNNING in the cluster (daemons included), as DescribeClusters counts them.
    pub running_tasks: u32,
    /// Tasks PENDING in the cluster.
    pub pending_tasks: u32,
    pub tags: HashMap<String, String>,
}

impl ClusterFacts {
    /// Whether DescribeClusters' counts allow the cluster to be idle: instances, and no task RUNNING or PENDING.
    pub fn may_be_idle(&self) -> bool {
        self.registered_instances > 0 && self.running_tasks == 0 && self.pending_tasks == 0
    }
}

/// CPU units (1024 per vCPU) and MiB: what an instance registers, or what a task reserves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Resources {
    pub cpu: u32,
    pub memory: u32,
}

impl Resources {
    pub const fn new(cpu: u32, memory: u32) -> Self {
        Self { cpu, memory }
    }

    /// Whether `task` fits into this much room.
    pub fn holds(&self, task: Resources) -> bool {
        task.cpu <= self.cpu && task.memory <= self.memory
    }
}

impl std::fmt::Display for Resources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} CPU units and {} MiB", self.cpu, self.memory)
    }
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
    /// The task definition ARN its tasks run (the primary deployment's).
    pub task_definition: String,
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskHealth {
    Healthy,
    Unhealthy,
    #[default]
    Unknown,
}

/// One task whose desired status is RUNNING.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Task {
    pub arn: String,
    /// None for tasks not on a container instance (Fargate).
    pub container_instance_arn: Option<String>,
    /// `service:<name>` for service tasks, `family:<name>` for standalone ones.
    pub group: Option<String>,
    /// PROVISIONING, PENDING, ACTIVATING, RUNNING, DEACTIVATING, STOPPING, ...
    pub last_status: String,
    pub health: TaskHealth,
    /// When the task stopped, for stopped tasks.
    pub stopped_at: Option<DateTime<Utc>>,
    /// The task definition it runs, which says what it reserves.
    pub task_definition_arn: Option<String>,
}

impl Task {
    /// The service this task belongs to, if any.
    pub fn service_name(&self) -> Option<&str> {
        self.group.as_deref()?.strip_prefix("service:")
    }

    /// Whether it is still on its way out (DEACTIVATING, STOPPING, ...): a task ECS has not yet reported
    /// STOPPED still holds its instance's resources.
    pub fn is_stopping(&self) -> bool {
        self.last_status != "STOPPED"
    }
}

/// One registered container instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ContainerInstance {
    pub arn: String,
    pub ec2_instance_id: Option<String>,
    /// ACTIVE, DRAINING, REGISTERING, DEREGISTERING, ...
    pub status: String,
    /// Custom and built-in attributes; attributes without a value map to "".
    pub attributes: HashMap<String, String>,
    /// The CPU and memory it registered with ECS, when read.
    pub registered: Option<Resources>,
    /// `remainingResources`: what the tasks placed on it (RUNNING and PENDING) leave free, when read.
    pub remaining: Option<Resources>,
    /// `runningTasksCount + pendingTasksCount`, daemons included, when read.
    pub tasks: Option<u32>,
}

impl ContainerInstance {
    pub fn is_active(&self) -> bool {
        self.status == "ACTIVE"
    }

    pub fn is_draining(&self) -> bool {
        self.status == "DRAINING"
    }
}

/// One container of a task definition, as far as placement cares.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ContainerSize {
    /// `cpu`: CPU units reserved (0 when unset).
    pub cpu: u32,
    /// `memory`: the hard limit, MiB.
    pub memory: Option<u32>,
    /// `memoryReservation`: the soft limit, MiB.
    pub memory_reservation: Option<u32>,
}

/// A task definition, as DescribeTaskDefinition reports its sizes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskDefinition {
    pub arn: String,
    /// Task-level `cpu`, as registered (`"1024"`, or `"1 vCPU"` before ECS converts it).
    pub cpu: Option<String>,
    /// Task-level `memory` (`"2048"`, or `"2 GB"`).
    pub memory: Option<String>,
    pub containers: Vec<ContainerSize>,
}

impl TaskDefinition {
    /// What one task reserves on an EC2 container instance: the task-level size where it is set, else the sum
    /// of its containers' `cpu` and `memoryReservation` (or `memory` where no reservation is set).
    pub fn reservation(&self) -> Result<Resources, String> {
        let cpu = match self.cpu.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            Some(raw) => {
                parse_size(raw, "vcpu", 1024).ok_or_else(|| format!("task-level cpu {raw:?} is not a size"))?
            }
            None => self.containers.iter().map(|c| c.cpu).sum(),
        };
        let memory = match self.memory.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            Some(raw) => {
                parse_size(raw, "gb", 1024).ok_or_else(|| format!("task-level memory {raw:?} is not a size"))?
            }
            None => {
                let mut total = 0u32;
                for (index, container) in self.containers.iter().enumerate() {
                    let reserved = container.memory_reservation.or(container.memory).ok_or_else(|| {
                        format!("container {index} sets neither memory nor memoryReservation, and the task no memory")
                    })?;
                    total = total.saturating_add(reserved);
                }
                total
            }
        };
        Ok(Resources { cpu, memory })
    }
}

/// `"1024"` → 1024; `"1 vCPU"` / `"2 GB"` (the forms ECS converts at registration) → × `per_unit`.
fn parse_size(raw: &str, unit: &str, per_unit: u32) -> Option<u32> {
    if let Ok(plain) = raw.parse::<u32>() {
        return Some(plain);
    }
    let lower = raw.to_ascii_lowercase();
    let number = lower.strip_suffix(unit)?.trim();
    let value: f64 = number.parse().ok()?;
    let scaled = value * f64::from(per_unit);
    (scaled.is_finite() && scaled >= 0.0 && scaled <= f64::from(u32::MAX)).then(|| scaled.round() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(
        cpu: Option<&str>,
        memory: Option<&str>,
        containers: &[(u32, Option<u32>, Option<u32>)],
    ) -> TaskDefinition {
        TaskDefinition {
            arn: "arn:aws:ecs:us-east-1:123456789012:task-definition/api:3".into(),
            cpu: cpu.map(str::to_owned),
            memory: memory.map(str::to_owned),
            containers: containers
                .iter()
                .map(|&(cpu, memory, memory_reservation)| ContainerSize { cpu, memory, memory_reservation })
                .collect(),
        }
    }

    #[test]
    fn task_level_sizes_win_over_the_containers() {
        let td = definition(Some("2048"), Some("4096"), &[(256, Some(512), None)]);
        assert_eq!(td.reservation(), Ok(Resources::new(2048, 4096)));
        let converted = definition(Some("1 vCPU"), Some("2 GB"), &[]);
        assert_eq!(converted.reservation(), Ok(Resources::new(1024, 2048)));
    }

    #[test]
    fn without_task_level_sizes_the_containers_reservations_add_up() {
        // The soft limit is what the scheduler reserves; the hard limit only where there is no soft one.
        let td = definition(None, None, &[(256, Some(1024), Some(512)), (128, Some(300), None), (0, None, Some(64))]);
        assert_eq!(td.reservation(), Ok(Resources::new(384, 876)));
    }

    #[test]
    fn a_definition_without_any_memory_is_an_error_that_says_so() {
        let td = definition(None, None, &[(256, None, None)]);
        assert_eq!(
            td.reservation(),
            Err("container 0 sets neither memory nor memoryReservation, and the task no memory".into())
        );
        let bad = definition(Some("lots"), None, &[]);
        assert_eq!(bad.reservation(), Err(r#"task-level cpu "lots" is not a size"#.into()));
    }
}
