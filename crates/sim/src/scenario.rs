//! Scenarios: a cluster, its services and a desired-count trace, as JSON or CSV.
//!
//! # JSON
//!
//! ```json
//! {
//!   "name": "my-day",
//!   "description": "what it shows",
//!   "minutes": 1440,
//!   "instance_type": { "name": "m5.large", "cpu": 2048, "memory": 7680, "max_enis": 3, "trunk_tasks": 10 },
//!   "mixed_instance_types": [ { "name": "m5.xlarge", "cpu": 4096, "memory": 15360, "trunk_tasks": 20 } ],
//!   "zones": ["us-east-1a", "us-east-1b", "us-east-1c"],
//!   "unavailable": [ { "zone": "us-east-1c", "instance_type": "m5.large" } ],
//!   "awsvpc_trunking": false,
//!   "initial_instances": 12,
//!   "min_size": 1,
//!   "max_size": 200,
//!   "services": [
//!     { "name": "api", "cpu": 512, "memory": 1024, "desired": 10,
//!       "min_healthy_percent": 100, "maximum_percent": 200, "scheduling": "REPLICA" },
//!     { "name": "web", "cpu": 256, "memory": 512, "desired": 4,
//!       "ports": [ { "container_port": 80, "host_port": 8080, "protocol": "tcp" } ],
//!       "placement_constraints": [ { "type": "distinctInstance" } ] },
//!     { "name": "worker", "cpu": 256, "memory": 512, "desired": 6, "network_mode": "awsvpc",
//!       "placement_constraints": [ { "type": "memberOf", "expression": "attribute:ecs.instance-type == m5.xlarge" } ],
//!       "placement_strategy": [ { "type": "binpack", "field": "memory" } ] },
//!     { "name": "ml", "cpu": 1024, "memory": 4096, "gpus": 1, "desired": 1 },
//!     { "name": "logs", "cpu": 128, "memory": 256, "scheduling": "DAEMON" }
//!   ],
//!   "changes": [ { "minute": 60, "service": "api", "desired": 14 } ],
//!   "events": [
//!     { "minute": 300, "kind": "colour_swap", "drain_after_minutes": 10 },
//!     { "minute": 600, "kind": "instance_type", "instance_type": { "name": "m5.2xlarge", "cpu": 8192, "memory": 31000 } }
//!   ]
//! }
//! ```
//!
//! A service's desired count is a step function: `desired` at minute 0, then each `changes` entry from its
//! minute on. `initial_instances` defaults to as many as the scheduler needs for minute 0's tasks (of
//! `initial_instance_type` when given, an older launch template's, else as the group launches);
//! `min_healthy_percent` to 100, `maximum_percent` to 200, `scheduling` to `REPLICA`, `min_size` to 1,
//! `max_size` to 500, `zones` to `sim-1a`, `sim-1b`, `sim-1c`.
//!
//! An instance type's `cpu` and `memory` are what ECS registers; `gpus` (0), `max_enis` (EC2's
//! `MaximumNetworkInterfaces`, 4), `trunk_tasks` (ECS's awsvpc task limit with a trunk ENI; none: the type does
//! not support trunking), `memory_mib` (what EC2 sells; the registered MiB plus 3 % in whole GiB),
//! `architecture` (`x86_64`) and `attributes` (custom attributes its instances register) are optional. The
//! groups launch `instance_type` first and the `mixed_instance_types` after it, in that priority, in each zone
//! the first type not listed `unavailable` there. An `instance_type` event replaces them all with its one type.
//!
//! A service's task definition: `network_mode` (`bridge`, `host`, `awsvpc`; default `bridge`), `ports`
//! (`container_port`, `host_port`: absent or 0 is dynamic in bridge mode, and must be absent or equal the
//! container port in host and awsvpc mode; `protocol` `tcp` or `udp`), `gpus`, and `task_definition_constraints`
//! (memberOf only). Its service's `placement_constraints` (`distinctInstance`, `memberOf` in ECS's cluster query
//! language, on attributes or `ec2InstanceId`) and `placement_strategy` (`spread` on `attribute:<name>` or
//! `instanceId`, `binpack` on `cpu` or `memory`; default ECS's for services, spread on
//! `attribute:ecs.availability-zone`, then binpack on memory).
//!
//! # CSV
//!
//! One row per change, so a trace exported from CloudWatch (`DesiredTaskCount` per service per minute) replays
//! as it is. A service's first row gives its cpu and memory (and, optionally, min_healthy_percent,
//! maximum_percent and scheduling), which hold for the whole run; its later rows give only a new `desired`.
//!
//! ```csv
//! # name: my-day
//! # minutes: 1440
//! # initial_instances: 12
//! # min_size: 1
//! # max_size: 200
//! minute,service,desired,cpu,memory,min_healthy_percent,maximum_percent,scheduling
//! 0,@instance-type,,4096,15360,,,
//! 0,api,10,512,1024,100,200,REPLICA
//! 0,logs,,128,256,,,DAEMON
//! 60,api,14,,,,,
//! 300,@colour-swap,10,,,,,
//! ```
//!
//! `# key: value` lines before the header set `name`, `description`, `minutes` (default: last change + 60),
//! `initial_instances`, `min_size` and `max_size`. Rows whose service starts with `@` are events:
//! `@instance-type` (cpu and memory are the type's registered CPU units and MiB; at minute 0 it is the initial
//! type, default 4096/15360) and `@colour-swap` (desired is the minutes until the old colour is drained,
//! default 10). The CSV format describes CPU-and-memory services in bridge mode with dynamic ports, in the
//! default three zones; use JSON for the other placement dimensions.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use ecs_scaler_core::Scheduling;
use ecs_scaler_core::placement::constraints::Expression;
use serde::{Deserialize, Serialize};

use crate::SimError;

/// One EC2 instance type as the world launches it: what ECS registers for it, what EC2's DescribeInstanceTypes
/// says of it, and the custom attributes its instances register (set by the launch template's user data, as
/// `ECS_INSTANCE_ATTRIBUTES`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceType {
    pub name: String,
    /// CPU units ECS registers (1024 per vCPU).
    pub cpu: u32,
    /// MiB that ECS registers (less than the instance's RAM: the agent and OS keep some).
    pub memory: u32,
    /// GPUs it has (and registers).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gpus: u32,
    /// EC2's `MaximumNetworkInterfaces`. Without a trunk ENI an instance runs `max_enis − 1` awsvpc tasks: the
    /// primary network interface counts.
    #[serde(default = "default_max_enis")]
    pub max_enis: u32,
    /// ECS's awsvpc task limit for the type with a trunk ENI (awsvpcTrunking); `None`: the type does not support
    /// trunking, so its instances get no trunk even where the account turned it on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trunk_tasks: Option<u32>,
    /// EC2's `MemoryInfo.SizeInMiB` (what EC2 sells); default: the registered MiB plus 3 %, in whole GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u32>,
    /// `ecs.cpu-architecture`: `x86_64` or `arm64`.
    #[serde(default = "default_architecture")]
    pub architecture: String,
    /// Custom attributes every instance of it registers with.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

fn default_max_enis() -> u32 {
    4
}

fn default_architecture() -> String {
    "x86_64".into()
}

impl InstanceType {
    /// A type of these registered sizes with the defaults: no GPU, 4 ENIs, no trunking, x86_64.
    pub fn sized(name: &str, cpu: u32, memory: u32) -> Self {
        Self {
            name: name.into(),
            cpu,
            memory,
            gpus: 0,
            max_enis: default_max_enis(),
            trunk_tasks: None,
            memory_mib: None,
            architecture: default_architecture(),
            attributes: BTreeMap::new(),
        }
    }

    /// About what ECS registers for an m5.xlarge (4 vCPU, 16 GiB); 4 ENIs, 20 awsvpc tasks with a trunk.
    pub fn m5_xlarge() -> Self {
        Self { trunk_tasks: Some(20), memory_mib: Some(16384), ..Self::sized("m5.xlarge", 4096, 15360) }
    }

    /// An m5.large (2 vCPU, 8 GiB): 3 ENIs, so 2 awsvpc tasks without a trunk, 10 with one.
    pub fn m5_large() -> Self {
        Self { max_enis: 3, trunk_tasks: Some(10), memory_mib: Some(8192), ..Self::sized("m5.large", 2048, 7680) }
    }

    /// An m5.2xlarge (8 vCPU, 32 GiB): 4 ENIs, 40 awsvpc tasks with a trunk.
    pub fn m5_2xlarge() -> Self {
        Self { trunk_tasks: Some(40), memory_mib: Some(32768), ..Self::sized("m5.2xlarge", 8192, 31232) }
    }

    /// A g4dn.xlarge (4 vCPU, 16 GiB, one NVIDIA T4): 3 ENIs; ECS does not trunk the g4dn family.
    pub fn g4dn_xlarge() -> Self {
        Self { gpus: 1, max_enis: 3, memory_mib: Some(16384), ..Self::sized("g4dn.xlarge", 4096, 15360) }
    }

    /// vCPUs, as EC2 counts them.
    pub fn vcpus(&self) -> u32 {
        self.cpu.div_ceil(1024)
    }

    /// What EC2 sells, in MiB.
    pub fn ec2_memory(&self) -> u32 {
        self.memory_mib.unwrap_or_else(|| (u64::from(self.memory) * 103).div_ceil(100 * 1024) as u32 * 1024)
    }

    /// How many awsvpc tasks one instance of it runs: ECS's trunk limit where it has a trunk ENI, else one per
    /// network interface but the primary one.
    pub fn awsvpc_tasks(&self, trunk: bool) -> u32 {
        match (trunk, self.trunk_tasks) {
            (true, Some(limit)) => limit,
            _ => self.max_enis.saturating_sub(1),
        }
    }
}

/// The network mode of a service's task definition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// Docker's bridge (ECS's default on Linux): a static `host_port` holds that port; none or 0 is dynamic.
    #[default]
    Bridge,
    /// The host's network: every mapping holds its container port on the host.
    Host,
    /// Each task gets its own ENI: no host port, one of the instance's awsvpc task slots.
    Awsvpc,
}

/// TCP or UDP: host ports clash only within one protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

/// One `portMappings` entry of a service's container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSpec {
    pub container_port: u16,
    /// `hostPort`: absent or 0 is dynamic in bridge mode; in host and awsvpc mode it must be absent or equal the
    /// container port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port: Option<u16>,
    #[serde(default)]
    pub protocol: Protocol,
}

/// A placement constraint, as ECS spells it: `{"type": "distinctInstance"}` or
/// `{"type": "memberOf", "expression": "attribute:ecs.instance-type == m5.xlarge"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Constraint {
    /// No two tasks of the service (its task group) on one container instance.
    DistinctInstance,
    /// Only container instances that satisfy this cluster query language expression.
    MemberOf { expression: String },
}

/// What `binpack` packs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BinpackField {
    Cpu,
    Memory,
}

/// One rule of a placement strategy, as ECS spells it: `{"type": "spread", "field":
/// "attribute:ecs.availability-zone"}`, `{"type": "spread", "field": "instanceId"}`, `{"type": "binpack",
/// "field": "memory"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Strategy {
    /// Balance the service's tasks over the values of `field` (`instanceId`, `host`, or `attribute:<name>`).
    Spread { field: String },
    /// The instance with the least of `field` left.
    Binpack { field: BinpackField },
}

/// The ports the ECS agent reserves on every container instance by default (`ECS_RESERVED_PORTS`; none for UDP).
pub const AGENT_RESERVED_PORTS: [u16; 5] = [22, 2375, 2376, 51678, 51679];

/// The spread field of ECS's default service strategy.
pub const ZONE_FIELD: &str = "attribute:ecs.availability-zone";

/// ECS's default for a service: spread across Availability Zones, then binpack on memory within the zone.
pub fn default_strategy() -> Vec<Strategy> {
    vec![Strategy::Spread { field: ZONE_FIELD.into() }, Strategy::Binpack { field: BinpackField::Memory }]
}

fn is_default_strategy(strategy: &[Strategy]) -> bool {
    strategy == default_strategy().as_slice()
}

/// A service's `scheduling`, `REPLICA` or `DAEMON` as ECS spells them: the core's [`Scheduling`], which
/// serializes so, parsed here (a DAEMON service runs one task on every ACTIVE container instance and ignores
/// `desired`).
mod scheduling {
    use ecs_scaler_core::Scheduling;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn parse(raw: &str) -> Result<Scheduling, String> {
        match raw {
            "REPLICA" => Ok(Scheduling::Replica),
            "DAEMON" => Ok(Scheduling::Daemon),
            other => Err(format!("unknown variant `{other}`, expected `REPLICA` or `DAEMON`")),
        }
    }

    pub fn replica() -> Scheduling {
        Scheduling::Replica
    }

    pub fn serialize<S: Serializer>(scheduling: &Scheduling, serializer: S) -> Result<S::Ok, S::Error> {
        scheduling.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Scheduling, D::Error> {
        parse(&String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// One ECS service of a scenario, with its task definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSpec {
    pub name: String,
    /// Task CPU units.
    pub cpu: u32,
    /// Task memory reservation, MiB.
    pub memory: u32,
    /// Desired count at minute 0.
    #[serde(default)]
    pub desired: u32,
    #[serde(default = "default_min_healthy")]
    pub min_healthy_percent: i32,
    #[serde(default = "default_maximum_percent")]
    pub maximum_percent: i32,
    #[serde(default = "scheduling::replica", with = "scheduling")]
    pub scheduling: Scheduling,
    /// The task definition's `networkMode`.
    #[serde(default, skip_serializing_if = "is_bridge")]
    pub network_mode: NetworkMode,
    /// Its container's `portMappings`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortSpec>,
    /// GPUs one task reserves.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gpus: u32,
    /// The service's `placementConstraints`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub placement_constraints: Vec<Constraint>,
    /// The task definition's `placementConstraints` (memberOf only, as ECS allows).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub task_definition_constraints: Vec<Constraint>,
    /// The service's `placementStrategy`; default ECS's for services: spread across zones, then binpack on memory.
    #[serde(default = "default_strategy", skip_serializing_if = "is_default_strategy")]
    pub placement_strategy: Vec<Strategy>,
    /// The service's tags, as DescribeServices reports them (`ecs-scaler:do-not-disrupt`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

fn is_bridge(mode: &NetworkMode) -> bool {
    *mode == NetworkMode::Bridge
}

impl Default for ServiceSpec {
    /// A REPLICA service of no size yet, with ECS's defaults (100 % / 200 %, bridge, default strategy).
    fn default() -> Self {
        Self {
            name: String::new(),
            cpu: 0,
            memory: 0,
            desired: 0,
            min_healthy_percent: default_min_healthy(),
            maximum_percent: default_maximum_percent(),
            scheduling: Scheduling::Replica,
            network_mode: NetworkMode::Bridge,
            ports: Vec::new(),
            gpus: 0,
            placement_constraints: Vec::new(),
            task_definition_constraints: Vec::new(),
            placement_strategy: default_strategy(),
            tags: BTreeMap::new(),
        }
    }
}

impl ServiceSpec {
    /// A REPLICA service with ECS's defaults.
    pub fn replica(name: &str, cpu: u32, memory: u32, desired: u32) -> Self {
        Self { name: name.into(), cpu, memory, desired, ..Self::default() }
    }

    /// The host ports one task holds, TCP and UDP: in host mode every mapping's container port, in bridge mode
    /// the static host ports (absent or 0 is dynamic), none in awsvpc mode.
    pub fn host_ports(&self) -> (Vec<u16>, Vec<u16>) {
        let (mut tcp, mut udp) = (Vec::new(), Vec::new());
        for mapping in &self.ports {
            let port = match self.network_mode {
                NetworkMode::Awsvpc => continue,
                NetworkMode::Host => mapping.container_port,
                NetworkMode::Bridge => match mapping.host_port.filter(|p| *p != 0) {
                    Some(port) => port,
                    None => continue,
                },
            };
            let list = if mapping.protocol == Protocol::Tcp { &mut tcp } else { &mut udp };
            if !list.contains(&port) {
                list.push(port);
            }
        }
        (tcp, udp)
    }

    /// Every `memberOf` expression its tasks must satisfy: the service's and the task definition's.
    pub fn member_of(&self) -> impl Iterator<Item = &str> {
        self.placement_constraints.iter().chain(&self.task_definition_constraints).filter_map(|c| match c {
            Constraint::MemberOf { expression } => Some(expression.as_str()),
            Constraint::DistinctInstance => None,
        })
    }

    pub fn distinct_instance(&self) -> bool {
        self.placement_constraints.contains(&Constraint::DistinctInstance)
    }

    /// What ECS would refuse at RegisterTaskDefinition or CreateService, and what the world cannot judge: a
    /// host-mode or awsvpc mapping whose host port differs from its container port, a static host port the agent
    /// reserves, `distinctInstance` in a task definition, a `memberOf` expression that does not parse, or one the
    /// query language evaluator leaves undecided (a regular expression, `task:group`, `agentVersion`, ...).
    pub fn check_definition(&self) -> Result<(), String> {
        for mapping in &self.ports {
            let host = mapping.host_port.filter(|p| *p != 0);
            if self.network_mode != NetworkMode::Bridge && host.is_some_and(|p| p != mapping.container_port) {
                return Err(format!(
                    "in {:?} mode a host port must be absent or equal the container port {}",
                    self.network_mode, mapping.container_port
                ));
            }
        }
        let (tcp, _) = self.host_ports();
        if let Some(port) = tcp.iter().find(|p| AGENT_RESERVED_PORTS.contains(p)) {
            return Err(format!("host port {port} is reserved by the ECS agent"));
        }
        if self.task_definition_constraints.contains(&Constraint::DistinctInstance) {
            return Err("distinctInstance is a service's constraint, not a task definition's".into());
        }
        for expression in self.member_of() {
            let parsed = Expression::parse(expression).map_err(|e| e.to_string())?;
            if let Some(what) = parsed.untracked() {
                return Err(format!("memberOf {expression:?}: the simulated ECS does not evaluate {what}"));
            }
        }
        for rule in &self.placement_strategy {
            if let Strategy::Spread { field } = rule
                && !(field == "instanceId" || field == "host" || field.starts_with("attribute:"))
            {
                return Err(format!("spread field {field:?}: expected instanceId, host or attribute:<name>"));
            }
        }
        Ok(())
    }
}

fn default_min_healthy() -> i32 {
    100
}

fn default_maximum_percent() -> i32 {
    200
}

/// A service's desired count from `minute` on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub minute: u32,
    pub service: String,
    pub desired: u32,
}

/// Something that happens to the cluster rather than to one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// Instances launched from now on are of this type.
    InstanceType { minute: u32, instance_type: InstanceType },
    /// The idle colour comes up at the size of the live one; `drain_after_minutes` later the old colour goes to
    /// size 0, so all its instances terminate (through the drain hook, when there is one).
    ColourSwap {
        minute: u32,
        #[serde(default = "default_drain_after")]
        drain_after_minutes: u32,
    },
}

fn default_drain_after() -> u32 {
    10
}

impl Event {
    pub fn minute(&self) -> u32 {
        match self {
            Event::InstanceType { minute, .. } | Event::ColourSwap { minute, .. } => *minute,
        }
    }
}

/// EC2 has no capacity of this instance type in this Availability Zone (InsufficientInstanceCapacity): Auto
/// Scaling launches the group's next type there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unavailable {
    pub zone: String,
    pub instance_type: String,
}

/// A cluster, its services and what their desired counts do over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub minutes: u32,
    /// What the Auto Scaling groups launch: the first (highest-priority) type of their mixed instances policy.
    pub instance_type: InstanceType,
    /// Further types of the mixed instances policy's overrides, in priority order (`prioritized` on-demand
    /// allocation: a launch takes the first type EC2 has capacity for in the zone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mixed_instance_types: Vec<InstanceType>,
    /// The groups' Availability Zones.
    #[serde(default = "default_zones")]
    pub zones: Vec<String>,
    /// Types EC2 has no capacity for in a zone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<Unavailable>,
    /// The account's `awsvpcTrunking` setting: instances of types that support it get a trunk ENI.
    #[serde(default)]
    pub awsvpc_trunking: bool,
    #[serde(default)]
    pub initial_instances: Option<u32>,
    /// The type of the initial instances (an older launch template's), when not `instance_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_instance_type: Option<InstanceType>,
    #[serde(default = "default_min_size")]
    pub min_size: u32,
    #[serde(default = "default_max_size")]
    pub max_size: u32,
    pub services: Vec<ServiceSpec>,
    #[serde(default)]
    pub changes: Vec<Change>,
    #[serde(default)]
    pub events: Vec<Event>,
}

/// Three zones, as most regions give a group.
pub fn default_zones() -> Vec<String> {
    ["sim-1a", "sim-1b", "sim-1c"].into_iter().map(str::to_owned).collect()
}

fn default_min_size() -> u32 {
    1
}

fn default_max_size() -> u32 {
    500
}

impl Default for Scenario {
    /// An hour on m5.xlarge instances in three zones, no service yet.
    fn default() -> Self {
        Self {
            name: "scenario".into(),
            description: String::new(),
            minutes: 60,
            instance_type: InstanceType::m5_xlarge(),
            mixed_instance_types: Vec::new(),
            zones: default_zones(),
            unavailable: Vec::new(),
            awsvpc_trunking: false,
            initial_instances: None,
            initial_instance_type: None,
            min_size: default_min_size(),
            max_size: default_max_size(),
            services: Vec::new(),
            changes: Vec::new(),
            events: Vec::new(),
        }
    }
}

impl Scenario {
    /// A `.json` or `.csv` file (see [`crate::load_scenario`] for built-in names too).
    pub fn from_file(path: &Path) -> Result<Self, SimError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| SimError::Io(format!("reading {}: {e}", path.display())))?;
        match path.extension().and_then(|e| e.to_str()) {
            Some("csv") => Self::from_csv(&text),
            _ => Self::from_json(&text),
        }
    }

    pub fn from_json(text: &str) -> Result<Self, SimError> {
        let scenario: Scenario =
            serde_json::from_str(text).map_err(|e| SimError::Scenario(format!("scenario: JSON: {e}")))?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Parse the CSV trace format described in the module docs.
    pub fn from_csv(text: &str) -> Result<Self, SimError> {
        let mut directives: HashMap<String, String> = HashMap::new();
        for line in text.lines().map(str::trim).filter(|l| l.starts_with('#')) {
            if let Some((key, value)) = line.trim_start_matches('#').split_once(':') {
                directives.insert(key.trim().to_owned(), value.trim().to_owned());
            }
        }
        let number = |key: &str| -> Result<Option<u32>, SimError> {
            directives
                .get(key)
                .map(|raw| {
                    raw.parse::<u32>()
                        .map_err(|_| SimError::Scenario(format!("scenario: # {key}: {raw:?} is not a number")))
                })
                .transpose()
        };

        let mut reader =
            csv::ReaderBuilder::new().comment(Some(b'#')).trim(csv::Trim::All).from_reader(text.as_bytes());
        let headers = reader.headers().map_err(|e| SimError::Scenario(format!("scenario: CSV header: {e}")))?.clone();
        let mut services: Vec<ServiceSpec> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut changes = Vec::new();
        let mut events = Vec::new();
        let mut instance_type = InstanceType::m5_xlarge();
        let mut last_minute = 0;
        for raw in reader.records() {
            let raw = raw.map_err(|e| SimError::Scenario(format!("scenario: CSV: {e}")))?;
            // The line in the file, `#` lines included, so an error points where an editor would.
            let line = raw.position().map_or(0, csv::Position::line);
            let record: CsvRow = raw
                .deserialize(Some(&headers))
                .map_err(|e| SimError::Scenario(format!("scenario: CSV line {line}: {e}")))?;
            last_minute = last_minute.max(record.minute);
            let bad =
                |what: &str| SimError::Scenario(format!("scenario: CSV line {line} ({}): {what}", record.service));
            match record.service.as_str() {
                "@instance-type" => {
                    let (Some(cpu), Some(memory)) = (record.cpu, record.memory) else {
                        return Err(bad("an instance type needs cpu and memory"));
                    };
                    let new = InstanceType::sized(&format!("{cpu}cpu-{memory}MiB"), cpu, memory);
                    if record.minute == 0 {
                        instance_type = new;
                    } else {
                        events.push(Event::InstanceType { minute: record.minute, instance_type: new });
                    }
                }
                "@colour-swap" => events.push(Event::ColourSwap {
                    minute: record.minute,
                    drain_after_minutes: record.desired.unwrap_or_else(default_drain_after),
                }),
                name if name.starts_with('@') => {
                    return Err(bad("unknown event; expected @instance-type or @colour-swap"));
                }
                name => match index.get(name) {
                    None => {
                        let (Some(cpu), Some(memory)) = (record.cpu, record.memory) else {
                            return Err(bad("the first row of a service needs cpu and memory"));
                        };
                        let service = ServiceSpec {
                            min_healthy_percent: record.min_healthy_percent.unwrap_or_else(default_min_healthy),
                            maximum_percent: record.maximum_percent.unwrap_or_else(default_maximum_percent),
                            scheduling: match record.scheduling.as_deref() {
                                Some(raw) => scheduling::parse(raw).map_err(|e| bad(&e))?,
                                None => Scheduling::Replica,
                            },
                            ..ServiceSpec::replica(name, cpu, memory, 0)
                        };
                        index.insert(name.to_owned(), services.len());
                        services.push(service);
                        if let Some(desired) = record.desired {
                            changes.push(Change { minute: record.minute, service: name.to_owned(), desired });
                        }
                    }
                    Some(_) => {
                        let fixed = [record.cpu, record.memory].iter().any(Option::is_some)
                            || record.scheduling.is_some()
                            || record.min_healthy_percent.is_some()
                            || record.maximum_percent.is_some();
                        if fixed {
                            return Err(bad(
                                "cpu, memory, min_healthy_percent, maximum_percent and scheduling can only be set on \
                                 a service's first row",
                            ));
                        }
                        if let Some(desired) = record.desired {
                            changes.push(Change { minute: record.minute, service: name.to_owned(), desired });
                        }
                    }
                },
            }
        }
        // Minute-0 rows are the initial counts.
        for change in changes.iter().filter(|c| c.minute == 0) {
            if let Some(&i) = index.get(&change.service) {
                services[i].desired = change.desired;
            }
        }
        changes.retain(|c| c.minute > 0);
        let scenario = Scenario {
            name: directives.get("name").cloned().unwrap_or_else(|| "trace".into()),
            description: directives.get("description").cloned().unwrap_or_default(),
            minutes: number("minutes")?.unwrap_or(last_minute + 60),
            instance_type,
            initial_instances: number("initial_instances")?,
            min_size: number("min_size")?.unwrap_or_else(default_min_size),
            max_size: number("max_size")?.unwrap_or_else(default_max_size),
            services,
            changes,
            events,
            ..Scenario::default()
        };
        scenario.validate()?;
        Ok(scenario)
    }

    /// Every instance type the scenario can launch or start with: the group's types, the initial type, and those
    /// of instance-type events.
    pub fn instance_types(&self) -> Vec<&InstanceType> {
        let mut types: Vec<&InstanceType> = vec![&self.instance_type];
        types.extend(&self.mixed_instance_types);
        types.extend(&self.initial_instance_type);
        for event in &self.events {
            if let Event::InstanceType { instance_type, .. } = event {
                types.push(instance_type);
            }
        }
        types
    }

    /// Reject what would make the results meaningless, naming the offender.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |what: String| Err(SimError::Scenario(format!("scenario {:?}: {what}", self.name)));
        if self.minutes == 0 {
            return bad("minutes must be at least 1".into());
        }
        if self.min_size > self.max_size {
            return bad(format!("min_size {} is above max_size {}", self.min_size, self.max_size));
        }
        if self.zones.is_empty() {
            return bad("a group needs at least one zone".into());
        }
        let mut zones = std::collections::HashSet::new();
        if let Some(zone) = self.zones.iter().find(|z| !zones.insert(z.as_str())) {
            return bad(format!("zone {zone} is listed twice"));
        }
        let types = self.instance_types();
        if let Some(t) = types.iter().find(|t| t.cpu == 0 || t.memory == 0) {
            return bad(format!("instance type {} has no cpu or memory", t.name));
        }
        for (i, t) in types.iter().enumerate() {
            if types[..i].iter().any(|other| other.name == t.name && other != t) {
                return bad(format!("instance type {} is defined twice, differently", t.name));
            }
        }
        for gap in &self.unavailable {
            if !self.zones.contains(&gap.zone) {
                return bad(format!("unavailable: zone {} is not one of the groups' zones", gap.zone));
            }
        }
        let launchable = |launch: &[&InstanceType]| {
            self.zones.iter().any(|zone| launch.iter().any(|t| !self.is_unavailable(zone, &t.name)))
        };
        let mut launch_sets: Vec<Vec<&InstanceType>> =
            vec![std::iter::once(&self.instance_type).chain(&self.mixed_instance_types).collect()];
        for event in &self.events {
            if let Event::InstanceType { instance_type, .. } = event {
                launch_sets.push(vec![instance_type]);
            }
        }
        if let Some(set) = launch_sets.iter().find(|set| !launchable(set)) {
            let names: Vec<&str> = set.iter().map(|t| t.name.as_str()).collect();
            return bad(format!("no zone has capacity for any of {}", names.join(", ")));
        }
        let mut names = std::collections::HashSet::new();
        let (daemon_cpu, daemon_memory) = self.daemon_overhead();
        for service in &self.services {
            let name = &service.name;
            if !names.insert(service.name.as_str()) {
                return bad(format!("service {name} is listed twice"));
            }
            if service.cpu == 0 && service.memory == 0 {
                return bad(format!("service {name} reserves neither cpu nor memory"));
            }
            if !(0..=100).contains(&service.min_healthy_percent) || !(100..=200).contains(&service.maximum_percent) {
                return bad(format!("service {name}: min_healthy_percent must be 0-100 and maximum_percent 100-200"));
            }
            if let Err(why) = service.check_definition() {
                return bad(format!("service {name}: {why}"));
            }
            let (cpu, memory) = match service.scheduling {
                Scheduling::Daemon => (service.cpu, service.memory),
                Scheduling::Replica => (service.cpu + daemon_cpu, service.memory + daemon_memory),
            };
            let holds = |t: &&&InstanceType| {
                cpu <= t.cpu
                    && memory <= t.memory
                    && service.gpus <= t.gpus
                    && (service.network_mode != NetworkMode::Awsvpc || t.awsvpc_tasks(self.awsvpc_trunking) > 0)
            };
            if !types.iter().any(|t| holds(&t)) {
                let gpus = if service.gpus > 0 { format!(", {} GPU", service.gpus) } else { String::new() };
                let awsvpc = if service.network_mode == NetworkMode::Awsvpc { ", awsvpc" } else { "" };
                return bad(format!(
                    "a task of service {name} ({} cpu, {} MiB{gpus}{awsvpc}, plus the daemons) fits on no instance \
                     type",
                    service.cpu, service.memory
                ));
            }
        }
        if let Some(change) = self.changes.iter().find(|c| !names.contains(c.service.as_str())) {
            return bad(format!("change at minute {} names unknown service {}", change.minute, change.service));
        }
        Ok(())
    }

    /// Whether EC2 has no capacity of this type in this zone.
    pub fn is_unavailable(&self, zone: &str, instance_type: &str) -> bool {
        self.unavailable.iter().any(|gap| gap.zone == zone && gap.instance_type == instance_type)
    }

    /// CPU units and MiB every ACTIVE instance gives to daemon tasks: those of the daemons that run everywhere
    /// (no GPU, no memberOf: a daemon limited to some instances takes nothing from the others).
    pub fn daemon_overhead(&self) -> (u32, u32) {
        self.services
            .iter()
            .filter(|s| s.scheduling == Scheduling::Daemon && s.gpus == 0 && s.member_of().next().is_none())
            .fold((0, 0), |(cpu, memory), s| (cpu + s.cpu, memory + s.memory))
    }

    /// Each service's desired count as change points, minute-sorted, starting at minute 0.
    pub fn trace(&self) -> Vec<Vec<(u32, u32)>> {
        let index: HashMap<&str, usize> = self.services.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
        let mut points: Vec<BTreeMap<u32, u32>> =
            self.services.iter().map(|s| BTreeMap::from([(0, s.desired)])).collect();
        for change in &self.changes {
            if let Some(&i) = index.get(change.service.as_str()) {
                points[i].insert(change.minute, change.desired);
            }
        }
        points.into_iter().map(|p| p.into_iter().collect()).collect()
    }
}

#[derive(Debug, Deserialize)]
struct CsvRow {
    minute: u32,
    service: String,
    desired: Option<u32>,
    cpu: Option<u32>,
    memory: Option<u32>,
    min_healthy_percent: Option<i32>,
    maximum_percent: Option<i32>,
    scheduling: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../scenarios/example.csv");

    #[test]
    fn the_shipped_csv_example_parses_into_services_changes_and_events() {
        let scenario = Scenario::from_csv(EXAMPLE).unwrap();
        assert_eq!(scenario.name, "example");
        assert_eq!(scenario.services.len(), 3);
        let api = &scenario.services[0];
        assert_eq!((api.name.as_str(), api.desired, api.cpu, api.memory), ("api", 6, 512, 1024));
        assert_eq!(scenario.services[2].scheduling, Scheduling::Daemon);
        assert!(scenario.changes.iter().any(|c| c.service == "api" && c.minute == 30 && c.desired == 12));
        assert!(scenario.events.iter().any(|e| matches!(e, Event::ColourSwap { minute: 60, drain_after_minutes: 5 })));
    }

    #[test]
    fn csv_services_need_sizes_on_their_first_row() {
        let error = Scenario::from_csv("minute,service,desired,cpu,memory\n0,api,3,,\n").unwrap_err();
        assert_eq!(error.to_string(), "scenario: CSV line 2 (api): the first row of a service needs cpu and memory");
    }

    #[test]
    fn csv_errors_name_the_line_of_the_file_comments_included() {
        let trace = "# name: t\n# minutes: 60\nminute,service,desired,cpu,memory,min_healthy_percent\n\
                     0,api,3,512,1024,100\n10,api,4,,,50\n";
        let error = Scenario::from_csv(trace).unwrap_err().to_string();
        assert!(error.starts_with("scenario: CSV line 5 (api): "), "{error}");
        assert!(error.contains("min_healthy_percent"), "a later row cannot change it for the whole run: {error}");
        let error = Scenario::from_csv("# c\nminute,service,desired\nsoon,api,3\n").unwrap_err().to_string();
        assert!(error.starts_with("scenario: CSV line 3: "), "{error}");
    }

    #[test]
    fn a_task_that_fits_no_instance_is_rejected() {
        let error = Scenario::from_csv("minute,service,desired,cpu,memory\n0,huge,1,512,99999\n").unwrap_err();
        assert!(error.to_string().contains("a task of service huge (512 cpu, 99999 MiB, plus the daemons) fits on no"));
    }

    #[test]
    fn the_trace_is_a_step_function_per_service() {
        let scenario = Scenario::from_csv(EXAMPLE).unwrap();
        let trace = scenario.trace();
        assert_eq!(trace[0][0], (0, 6));
        assert!(trace[0].windows(2).all(|w| w[0].0 < w[1].0));
    }
}
