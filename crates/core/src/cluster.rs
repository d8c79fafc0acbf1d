//! Plain snapshots of what ECS reports about a cluster. The AWS adapters fill them in; the simulator builds
//! them itself. Only the fields a decision reads are here.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

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
    /// ACTIVE services, as DescribeClusters counts them.
    pub active_services: u32,
    pub tags: HashMap<String, String>,
}

impl ClusterFacts {
    /// Whether DescribeClusters' counts allow the cluster to be idle: instances, and no task RUNNING or PENDING.
    pub fn may_be_idle(&self) -> bool {
        self.registered_instances > 0 && self.running_tasks == 0 && self.pending_tasks == 0
    }
}

/// CPU units (1024 per vCPU), MiB and GPUs: what an instance registers or has left, or what a task reserves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Resources {
    pub cpu: u32,
    pub memory: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub gpu: u32,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

impl Resources {
    pub const fn new(cpu: u32, memory: u32) -> Self {
        Self { cpu, memory, gpu: 0 }
    }

    pub const fn with_gpu(self, gpu: u32) -> Self {
        Self { gpu, ..self }
    }

    /// Whether `task` fits into this much room.
    pub fn holds(&self, task: Resources) -> bool {
        task.cpu <= self.cpu && task.memory <= self.memory && task.gpu <= self.gpu
    }

    /// This much less `task` (never below zero).
    pub fn less(self, task: Resources) -> Resources {
        Resources {
            cpu: self.cpu.saturating_sub(task.cpu),
            memory: self.memory.saturating_sub(task.memory),
            gpu: self.gpu.saturating_sub(task.gpu),
        }
    }

    /// Both together.
    pub fn plus(self, other: Resources) -> Resources {
        Resources {
            cpu: self.cpu.saturating_add(other.cpu),
            memory: self.memory.saturating_add(other.memory),
            gpu: self.gpu.saturating_add(other.gpu),
        }
    }
}

impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} CPU units and {} MiB", self.cpu, self.memory)?;
        if self.gpu > 0 {
            write!(f, " and {} GPU(s)", self.gpu)?;
        }
        Ok(())
    }
}

/// Host ports, TCP and UDP: the ports a container instance has in use (`remainingResources` PORTS and
/// PORTS_UDP list the ports taken, the agent's reserved ones included), or the ones a task holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostPorts {
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub tcp: BTreeSet<u16>,
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub udp: BTreeSet<u16>,
}

impl HostPorts {
    pub fn is_empty(&self) -> bool {
        self.tcp.is_empty() && self.udp.is_empty()
    }

    /// The first port both hold, as `tcp/8080` or `udp/53`.
    pub fn clash(&self, other: &HostPorts) -> Option<String> {
        let tcp = self.tcp.intersection(&other.tcp).next().map(|p| format!("tcp/{p}"));
        tcp.or_else(|| self.udp.intersection(&other.udp).next().map(|p| format!("udp/{p}")))
    }

    /// Both sets together.
    pub fn add(&mut self, other: &HostPorts) {
        self.tcp.extend(other.tcp.iter().copied());
        self.udp.extend(other.udp.iter().copied());
    }

    /// This set without `other`'s ports.
    pub fn remove(&mut self, other: &HostPorts) {
        self.tcp.retain(|p| !other.tcp.contains(p));
        self.udp.retain(|p| !other.udp.contains(p));
    }
}

/// A placement constraint of a service or a task definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "expression", rename_all = "camelCase")]
pub enum PlacementConstraint {
    /// Each task of the service on a different container instance.
    DistinctInstance,
    /// Only instances that satisfy a cluster query language expression.
    MemberOf(String),
    /// A constraint type this version does not know: never judged.
    Other(String),
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
    /// `placementConstraints`: where its tasks may run (the task definition may add memberOf ones).
    pub placement_constraints: Vec<PlacementConstraint>,
}

impl Service {
    /// The `group` ECS gives the service's tasks.
    pub fn task_group(&self) -> String {
        format!("service:{}", self.name)
    }

    /// Tagged `ecs-scaler:do-not-disrupt=true` (any case, spaces trimmed): no voluntary disruption may move its
    /// tasks.
    pub fn do_not_disrupt(&self) -> bool {
        self.tags.get(crate::config::TAG_DO_NOT_DISRUPT).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
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
    /// It has an `ElasticNetworkInterface` attachment: an awsvpc task, holding one of its instance's ENIs.
    pub eni: bool,
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
    /// The CPU, memory and GPUs it registered with ECS, when read.
    pub registered: Option<Resources>,
    /// `remainingResources`: what the tasks placed on it (RUNNING and PENDING) leave free, when read.
    pub remaining: Option<Resources>,
    /// `runningTasksCount + pendingTasksCount`, daemons included, when read.
    pub tasks: Option<u32>,
    /// Host ports the agent reserves (`registeredResources` PORTS and PORTS_UDP), when read.
    pub reserved_ports: Option<HostPorts>,
    /// Host ports in use (`remainingResources` PORTS and PORTS_UDP: the reserved ones and every task's), when read.
    pub ports_in_use: Option<HostPorts>,
}

/// The attribute the ECS agent registers with the instance type.
pub const ATTRIBUTE_INSTANCE_TYPE: &str = "ecs.instance-type";
/// The attribute the ECS agent registers with the Availability Zone.
pub const ATTRIBUTE_ZONE: &str = "ecs.availability-zone";
/// The attribute ECS sets on an instance with a trunk ENI (awsvpcTrunking): its awsvpc tasks use branch ENIs.
pub const ATTRIBUTE_TRUNK: &str = "ecs.awsvpc-trunk-id";

impl ContainerInstance {
    pub fn is_active(&self) -> bool {
        self.status == "ACTIVE"
    }

    pub fn is_draining(&self) -> bool {
        self.status == "DRAINING"
    }

    /// `ecs.instance-type`, when the agent registered it.
    pub fn instance_type(&self) -> Option<&str> {
        self.attributes.get(ATTRIBUTE_INSTANCE_TYPE).map(String::as_str).filter(|t| !t.is_empty())
    }

    /// `ecs.availability-zone`, when the agent registered it.
    pub fn zone(&self) -> Option<&str> {
        self.attributes.get(ATTRIBUTE_ZONE).map(String::as_str).filter(|z| !z.is_empty())
    }

    /// Whether it has a trunk ENI, so its awsvpc tasks are limited by ECS's trunking limit for its type.
    pub fn has_trunk(&self) -> bool {
        self.attributes.contains_key(ATTRIBUTE_TRUNK)
    }

    /// Its ID for people: the EC2 instance ID, else the ARN.
    pub fn id(&self) -> &str {
        self.ec2_instance_id.as_deref().unwrap_or(&self.arn)
    }
}

/// The transport protocol of a port mapping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

/// One `portMappings` entry of a container.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PortMapping {
    pub container_port: Option<u16>,
    /// `hostPort`: 0 or absent is a dynamic port in bridge mode; in host mode the container port is the host's.
    pub host_port: Option<u16>,
    pub protocol: Protocol,
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
    pub port_mappings: Vec<PortMapping>,
    /// GPUs (`resourceRequirements` of type GPU).
    pub gpus: u32,
}

/// A task definition, as DescribeTaskDefinition reports what placement needs of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TaskDefinition {
    pub arn: String,
    /// Task-level `cpu`, as registered (`"1024"`, or `"1 vCPU"` before ECS converts it).
    pub cpu: Option<String>,
    /// Task-level `memory` (`"2048"`, or `"2 GB"`).
    pub memory: Option<String>,
    pub containers: Vec<ContainerSize>,
    /// `networkMode`: bridge (the default on Linux), host, awsvpc or none.
    pub network_mode: Option<String>,
    /// `placementConstraints` (memberOf only, in a task definition).
    pub placement_constraints: Vec<PlacementConstraint>,
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
        let gpu = self.containers.iter().map(|c| c.gpus).sum();
        Ok(Resources { cpu, memory, gpu })
    }

    /// Whether its tasks use the awsvpc network mode: one ENI each.
    pub fn is_awsvpc(&self) -> bool {
        self.network_mode.as_deref() == Some("awsvpc")
    }

    /// The host ports one task holds on its instance: in host mode every mapping's port (the container port
    /// where no host port is given), in bridge mode the static host ports (0 or absent is dynamic and needs
    /// none); none in awsvpc mode, where each task has its own network interface.
    pub fn host_ports(&self) -> HostPorts {
        let mode = self.network_mode.as_deref().unwrap_or("bridge");
        let mut ports = HostPorts::default();
        if !matches!(mode, "bridge" | "host") {
            return ports;
        }
        for mapping in self.containers.iter().flat_map(|c| &c.port_mappings) {
            let port = match (mode, mapping.host_port.filter(|p| *p != 0)) {
                (_, Some(port)) => port,
                ("host", None) => match mapping.container_port {
                    Some(port) => port,
                    None => continue,
                },
                _ => continue,
            };
            match mapping.protocol {
                Protocol::Tcp => ports.tcp.insert(port),
                Protocol::Udp => ports.udp.insert(port),
            };
        }
        ports
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
                .map(|&(cpu, memory, memory_reservation)| ContainerSize {
                    cpu,
                    memory,
                    memory_reservation,
                    ..ContainerSize::default()
                })
                .collect(),
            ..TaskDefinition::default()
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

    fn mapping(container: u16, host: Option<u16>, protocol: Protocol) -> PortMapping {
        PortMapping { container_port: Some(container), host_port: host, protocol }
    }

    fn with_ports(mode: Option<&str>, mappings: &[PortMapping]) -> TaskDefinition {
        let container = ContainerSize {
            cpu: 128,
            memory: Some(256),
            port_mappings: mappings.to_vec(),
            gpus: 0,
            ..ContainerSize::default()
        };
        TaskDefinition {
            network_mode: mode.map(str::to_owned),
            containers: vec![container],
            ..TaskDefinition::default()
        }
    }

    #[test]
    fn static_host_ports_are_held_in_bridge_and_host_mode_and_dynamic_ones_are_not() {
        let mappings = [
            mapping(80, Some(8080), Protocol::Tcp),
            mapping(53, Some(53), Protocol::Udp),
            mapping(9000, Some(0), Protocol::Tcp),
            mapping(9001, None, Protocol::Tcp),
        ];
        let bridge = with_ports(None, &mappings).host_ports();
        assert_eq!(bridge.tcp.iter().copied().collect::<Vec<_>>(), [8080]);
        assert_eq!(bridge.udp.iter().copied().collect::<Vec<_>>(), [53]);
        // Host mode: the container port is the host's when no host port is given.
        let host = with_ports(Some("host"), &mappings).host_ports();
        assert_eq!(host.tcp.iter().copied().collect::<Vec<_>>(), [8080, 9000, 9001]);
        // awsvpc: the task's own ENI, no host port.
        let awsvpc = with_ports(Some("awsvpc"), &mappings);
        assert!(awsvpc.host_ports().is_empty());
        assert!(awsvpc.is_awsvpc());
    }

    #[test]
    fn gpus_add_up_over_the_containers_and_ports_clash_by_protocol() {
        let mut td = definition(None, None, &[(256, Some(512), None), (256, Some(512), None)]);
        td.containers[0].gpus = 1;
        td.containers[1].gpus = 2;
        assert_eq!(td.reservation(), Ok(Resources::new(512, 1024).with_gpu(3)));
        let taken = HostPorts { tcp: [22, 8080].into(), udp: [53].into() };
        assert_eq!(taken.clash(&HostPorts { tcp: [8080].into(), ..HostPorts::default() }), Some("tcp/8080".into()));
        assert_eq!(taken.clash(&HostPorts { udp: [8080].into(), ..HostPorts::default() }), None);
        assert_eq!(taken.clash(&HostPorts { udp: [53].into(), ..HostPorts::default() }), Some("udp/53".into()));
        assert!(!Resources::new(4096, 8192).holds(Resources::new(1, 1).with_gpu(1)));
    }
}
