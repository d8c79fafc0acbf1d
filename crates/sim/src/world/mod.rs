//! The simulated world: EC2 instances, and over them ECS ([`ecs`], with its scheduler's placement in
//! [`placement`]), Auto Scaling ([`autoscaling`]) and CloudWatch ([`cloudwatch`]). It holds state and answers
//! what AWS would answer; it decides nothing of ecs-scaler's. [`crate::cloud::SimCloud`] puts it behind the
//! core's ports.

pub mod autoscaling;
pub mod cloudwatch;
pub mod ecs;
pub mod measure;
pub mod placement;
pub mod termination;

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use ecs_scaler_core::Scheduling;
use ecs_scaler_core::cluster::{ATTRIBUTE_INSTANCE_TYPE, ATTRIBUTE_TRUNK, ATTRIBUTE_ZONE, HostPorts};
use ecs_scaler_core::placement::constraints::{Attributes, Tri};
use serde::Serialize;

use self::autoscaling::AutoScaling;
use self::cloudwatch::CloudWatch;
use self::ecs::Ecs;
use crate::calls::EcsCalls;
use crate::knobs::Knobs;
use crate::oracle::Room;
use crate::policy::Wiring;
use crate::scenario::{AGENT_RESERVED_PORTS, Event, InstanceType, Scenario};

/// The one ECS cluster of a simulation.
pub const CLUSTER: &str = "sim";

/// What one minute looked like, after the scheduler ran and before Auto Scaling acted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Minute {
    pub minute: u32,
    /// Instances paid for: launching, ACTIVE and DRAINING (held in Terminating:Wait).
    pub instances: u32,
    /// Registered with ECS: ACTIVE and DRAINING.
    pub registered: u32,
    pub draining: u32,
    /// DRAINING instances that still run REPLICA tasks.
    pub draining_with_tasks: u32,
    /// Desired capacity summed over the Auto Scaling groups.
    pub desired_capacity: u32,
    pub cpu_reservation: Option<f64>,
    pub memory_reservation: Option<f64>,
    /// The published ScaleStatus (for the capacity provider: 2 above target, 0 below, 1 at it).
    pub scale_status: Option<u8>,
    /// The policy's own metric: ScaleStatus, or CapacityProviderReservation.
    pub signal: Option<f64>,
    /// Desired REPLICA tasks.
    pub desired_tasks: u32,
    /// REPLICA tasks PENDING or RUNNING, copies on DRAINING instances included.
    pub placed_tasks: u32,
    pub running_tasks: u32,
    /// Σ over services of desired − (PENDING + RUNNING), where positive.
    pub shortfall: u32,
    /// Tasks the scheduler tried to place this minute and found no room for.
    pub unplaced_tasks: u32,
    /// REPLICA services running fewer than ⌈minimumHealthyPercent × (RUNNING + tasks lost with terminated
    /// instances and not yet replaced)⌉ tasks.
    pub below_min_services: u32,
    /// The lower bound on instances for this minute's desired tasks.
    pub oracle: u32,
    /// Why the policy published what it did, when it says (scale-status's reason: `within_thresholds`,
    /// `consolidation`, `swap_in_progress`, ...).
    pub reason: Option<String>,
    /// ECS calls this minute per throttling bucket: the policy's (scale-status's ticks and events) and the drain
    /// hook's (reconcile, lifecycle notifications, termination policy) together.
    pub ecs_calls: EcsCalls,
}

/// What happened over a whole run besides the per-minute records.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tally {
    pub tasks_started: u64,
    pub tasks_stopped: u64,
    /// REPLICA tasks that died with their instance (no drain hook, or a drain that timed out).
    pub tasks_killed: u64,
    pub drains_completed: u32,
    pub drain_timeouts: u32,
    /// Policy-driven capacity changes: (minute, +1 up / −1 down).
    pub capacity_changes: Vec<(u32, i8)>,
    /// REPLICA tasks ECS stopped on DRAINING instances (moved by a drain: consolidation, scale-in, a colour
    /// swap).
    pub tasks_moved: u64,
    /// Of those, tasks of services tagged `ecs-scaler:do-not-disrupt=true` (a colour teardown, the operator's own
    /// decision, moves them too; no built-in scenario has both).
    pub protected_tasks_moved: u64,
    /// REPLICA tasks moved by drains, per service.
    pub moved_by_service: std::collections::BTreeMap<String, u64>,
    /// Executions of the shortfall step policy that added capacity.
    pub step_scale_outs: u32,
    /// Invocations of the surplus step policy that removed capacity, and the instances they removed.
    pub step_scale_ins: u32,
    pub step_removed: u32,
    /// Evaluations the placement-failure event rule ran (not throttled).
    pub placement_evaluations: u32,
    /// Scheduled ticks that republished a remembered verdict instead of reading the cluster.
    pub verdicts_reused: u32,
    /// ECS calls per bucket over the recorded minutes: the policy's (scale-status's), and the drain hook's.
    pub ecs_calls_policy: EcsCalls,
    pub ecs_calls_drain_hook: EcsCalls,
    /// Scale-in requests the custom termination policy answered with no instance.
    pub termination_refusals: u32,
}

/// A container instance's status in ECS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcsStatus {
    /// Launched, the agent not registered yet.
    Unregistered,
    Active,
    /// Set DRAINING (by the drain hook) at this tick.
    Draining {
        since: u32,
    },
    /// The instance is gone.
    Gone,
}

/// An instance's lifecycle state in its Auto Scaling group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// Pending or InService: counted against the group's desired capacity.
    InService,
    /// Held by the termination lifecycle hook until the hook completes the action.
    TerminatingWait,
    Terminated,
}

/// One EC2 instance, as EC2, ECS and Auto Scaling each see it.
#[derive(Debug, Clone)]
pub struct Instance {
    pub arn: String,
    pub ec2_instance_id: String,
    pub group: usize,
    /// Its instance type: an index into [`World::types`].
    pub kind: usize,
    /// Its Availability Zone: an index into [`World::zones`].
    pub zone: usize,
    /// What it registered with ECS: CPU units, MiB, GPUs.
    pub cpu: u32,
    pub memory: u32,
    pub gpus: u32,
    pub used_cpu: u32,
    pub used_memory: u32,
    pub used_gpus: u32,
    /// It has a trunk ENI (the account's awsvpcTrunking, on a type that supports it).
    pub trunk: bool,
    /// awsvpc tasks it can run (its type's ENIs but the primary one, or ECS's trunk limit), and runs.
    pub eni_limit: u32,
    pub enis: u32,
    /// Host ports in use, TCP and UDP: the agent's reserved ones and every task's static ones.
    pub ports: HostPorts,
    /// Tasks of REPLICA services on it.
    pub replica_tasks: u32,
    pub tasks: u32,
    /// The tick it was launched (negative: before the run).
    pub launched: i64,
    /// Launched by a step scaling policy: the tick its EstimatedInstanceWarmup ends.
    pub warm_at: Option<u32>,
    pub ecs: EcsStatus,
    /// Every attribute it has in ECS, for the cluster query language: the agent's (`ecs.instance-type`,
    /// `ecs.availability-zone`, `ecs.cpu-architecture`, `ecs.os-type`, `ecs.awsvpc-trunk-id` with a trunk), its
    /// type's custom ones, and those put since (the drain start); and its EC2 instance ID.
    pub attributes: Attributes,
    pub lifecycle: Lifecycle,
}

impl Instance {
    pub fn registered(&self) -> bool {
        matches!(self.ecs, EcsStatus::Active | EcsStatus::Draining { .. })
    }

    pub fn draining(&self) -> bool {
        matches!(self.ecs, EcsStatus::Draining { .. })
    }

    /// Whether a task of this CPU and memory fits what is left (the other dimensions are the scheduler's, in
    /// [`placement`]).
    pub fn fits(&self, cpu: u32, memory: u32) -> bool {
        self.used_cpu + cpu <= self.cpu && self.used_memory + memory <= self.memory
    }

    pub fn free_memory(&self) -> u32 {
        self.memory - self.used_memory
    }

    pub fn free_cpu(&self) -> u32 {
        self.cpu - self.used_cpu
    }

    /// The container instance ID, the last part of its ARN, as ECS's messages name it.
    pub fn container_instance_id(&self) -> &str {
        self.arn.rsplit('/').next().unwrap_or(&self.arn)
    }
}

/// The whole simulated account: instances, ECS, Auto Scaling and CloudWatch, at one tick.
#[derive(Debug)]
pub struct World {
    pub knobs: Knobs,
    start: DateTime<Utc>,
    /// Minutes since the simulation started, warm-up included.
    pub tick: u32,
    pub warmup: u32,
    pub instances: Vec<Instance>,
    next_instance: u32,
    /// Every instance type the world knows: the groups', the initial one, and those events bring.
    pub types: Vec<InstanceType>,
    /// The groups' Availability Zones.
    pub zones: Vec<String>,
    /// What new instances are launched as: indexes into `types`, in the mixed instances policy's priority order.
    pub launch_types: Vec<usize>,
    /// (zone, type) pairs EC2 has no capacity for.
    unavailable: Vec<(usize, usize)>,
    /// The account's awsvpcTrunking setting.
    pub trunking: bool,
    /// The largest capacity of any type launched or launchable so far, per dimension, for the oracle.
    pub largest: Room,
    pub ecs: Ecs,
    pub autoscaling: AutoScaling,
    pub cloudwatch: CloudWatch,
    pub tally: Tally,
    events: Vec<Event>,
}

/// The first minute of every run, so event timestamps look like real ones.
fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).single().unwrap_or(DateTime::UNIX_EPOCH)
}

impl World {
    /// The world at minute 0, warm-started: the initial instances ACTIVE, minute 0's tasks RUNNING on them
    /// (binpack, largest first). `wiring` is what the policy's deployment adds to Auto Scaling: ECS managed
    /// termination protection (the capacity provider's), or the shortfall step policy and custom termination
    /// policy (ecs-scaler's).
    pub fn new(scenario: &Scenario, knobs: Knobs, wiring: Wiring) -> Self {
        let mut types: Vec<InstanceType> = Vec::new();
        for t in scenario.instance_types() {
            if !types.iter().any(|known| known.name == t.name) {
                types.push(t.clone());
            }
        }
        let index = |name: &str| types.iter().position(|t| t.name == name).unwrap_or(0);
        let launch_types: Vec<usize> = std::iter::once(&scenario.instance_type)
            .chain(&scenario.mixed_instance_types)
            .map(|t| index(&t.name))
            .collect();
        let zones = scenario.zones.clone();
        let unavailable = scenario
            .unavailable
            .iter()
            .filter_map(|gap| {
                Some((
                    zones.iter().position(|z| *z == gap.zone)?,
                    types.iter().position(|t| t.name == gap.instance_type)?,
                ))
            })
            .collect();
        let initial = scenario.initial_instance_type.as_ref().map(|t| index(&t.name));
        let mut largest = Room::default();
        for &kind in launch_types.iter().chain(&initial) {
            largest.grow(&types[kind], scenario.awsvpc_trunking);
        }
        let mut world = Self {
            start: epoch(),
            tick: 0,
            warmup: knobs.warmup_minutes,
            instances: Vec::new(),
            next_instance: 0,
            types,
            zones,
            launch_types,
            unavailable,
            trunking: scenario.awsvpc_trunking,
            largest,
            ecs: Ecs::new(scenario),
            autoscaling: AutoScaling::new(scenario, &knobs, wiring),
            cloudwatch: CloudWatch::new(&knobs, wiring.surplus_policy && knobs.surplus_scale_in),
            tally: Tally::default(),
            events: scenario.events.clone(),
            knobs,
        };
        world.warm_start(scenario.initial_instances, initial);
        world
    }

    /// The simulated wall clock at the current tick.
    pub fn now(&self) -> DateTime<Utc> {
        self.at(self.tick)
    }

    pub fn at(&self, tick: u32) -> DateTime<Utc> {
        self.start + Duration::minutes(i64::from(tick))
    }

    /// The scenario minute being simulated, or `None` during the warm-up.
    pub fn recording(&self) -> Option<u32> {
        self.tick.checked_sub(self.warmup)
    }

    /// Minute 0 starts in a steady state: the initial instances ACTIVE with their daemons (of `initial` type when
    /// given, else launched as the group launches), and minute 0's tasks RUNNING wherever the scheduler put them.
    /// With `instances` unset, as few as the scheduler needs: tasks go largest first, and an instance is added as
    /// the group would launch it whenever one does not fit (within the group's max size).
    fn warm_start(&mut self, instances: Option<u32>, initial: Option<usize>) {
        let (min, max) = (self.autoscaling.min_size, self.autoscaling.max_size);
        let add_instance = |world: &mut Self, kind: Option<usize>| {
            let index = match kind {
                Some(kind) => {
                    let zone = world.launch_zone(0);
                    world.add_instance(0, -60, zone, kind)
                }
                None => world.launch(0, -60),
            };
            world.instances[index].ecs = EcsStatus::Active;
            world.place_daemons(index, true);
        };
        for _ in 0..instances.unwrap_or(min).clamp(min, max) {
            add_instance(self, initial);
        }
        let services = &self.ecs.services;
        let mut order: Vec<usize> =
            (0..services.len()).filter(|&s| services[s].spec.scheduling == Scheduling::Replica).collect();
        order.sort_by_key(|&s| std::cmp::Reverse((services[s].spec.memory, services[s].spec.cpu)));
        for service in order {
            for _ in 0..self.ecs.services[service].desired {
                if self.place(service, true).is_ok() {
                    continue;
                }
                if instances.is_some() || self.instances.len() as u32 >= max {
                    break;
                }
                add_instance(self, None);
                if self.place(service, true).is_err() {
                    break;
                }
            }
        }
        self.autoscaling.groups[0].desired = self.instances.len() as u32;
    }

    /// The trace's desired counts for scenario minute `t`, and at recorded minutes the scenario's events.
    pub fn apply_scenario(&mut self) {
        let recording = self.recording();
        let t = recording.unwrap_or(0);
        for service in &mut self.ecs.services {
            service.apply_trace(t);
        }
        let Some(t) = recording else { return };
        for event in self.events.clone().iter().filter(|e| e.minute() == t) {
            match event {
                Event::InstanceType { instance_type, .. } => {
                    let Some(kind) = self.types.iter().position(|t| t.name == instance_type.name) else { continue };
                    self.launch_types = vec![kind];
                    self.largest.grow(&self.types[kind], self.trunking);
                }
                Event::ColourSwap { drain_after_minutes, .. } => self.colour_swap(t, *drain_after_minutes),
            }
        }
        self.teardowns_due(t);
    }

    /// Launch an instance into `group` at tick `at`, as Auto Scaling does: into the zone with the fewest of the
    /// group's instances (of those where some type of the group has capacity; ties: the zone listed first), as
    /// the first type of the mixed instances policy EC2 has capacity for there.
    pub fn launch(&mut self, group: usize, at: i64) -> usize {
        let zone = self.launch_zone(group);
        let kind = self.launch_kind(zone);
        self.add_instance(group, at, zone, kind)
    }

    /// The zone Auto Scaling launches the group's next instance into.
    pub fn launch_zone(&self, group: usize) -> usize {
        let mut members = vec![0usize; self.zones.len()];
        for i in self.members(group) {
            members[self.instances[i].zone] += 1;
        }
        (0..self.zones.len()).filter(|&z| self.has_capacity(z)).min_by_key(|&z| (members[z], z)).unwrap_or(0)
    }

    fn has_capacity(&self, zone: usize) -> bool {
        self.launch_types.iter().any(|&kind| !self.unavailable.contains(&(zone, kind)))
    }

    /// The type launched in `zone`: the first of the group's types EC2 has capacity for there.
    pub fn launch_kind(&self, zone: usize) -> usize {
        let available = self.launch_types.iter().find(|&&kind| !self.unavailable.contains(&(zone, kind)));
        available.or(self.launch_types.first()).copied().unwrap_or(0)
    }

    /// A new EC2 instance of type `kind` in `zone`, in `group`, launched at tick `at`.
    pub fn add_instance(&mut self, group: usize, at: i64, zone: usize, kind: usize) -> usize {
        let id = self.next_instance;
        self.next_instance += 1;
        let instance_type = &self.types[kind];
        let trunk = self.trunking && instance_type.trunk_tasks.is_some();
        let ec2_instance_id = format!("i-{id:017x}");
        let mut values: HashMap<String, String> =
            instance_type.attributes.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        values.insert(ATTRIBUTE_INSTANCE_TYPE.into(), instance_type.name.clone());
        values.insert(ATTRIBUTE_ZONE.into(), self.zones[zone].clone());
        values.insert("ecs.cpu-architecture".into(), instance_type.architecture.clone());
        values.insert("ecs.os-type".into(), "linux".into());
        if trunk {
            values.insert(ATTRIBUTE_TRUNK.into(), format!("eni-{id:017x}"));
        }
        self.instances.push(Instance {
            arn: format!("arn:aws:ecs:sim:000000000000:container-instance/{CLUSTER}/{id:08x}"),
            attributes: Attributes { values, ec2_instance_id: Some(ec2_instance_id.clone()), complete: true },
            ec2_instance_id,
            group,
            kind,
            zone,
            cpu: instance_type.cpu,
            memory: instance_type.memory,
            gpus: instance_type.gpus,
            used_cpu: 0,
            used_memory: 0,
            used_gpus: 0,
            trunk,
            eni_limit: instance_type.awsvpc_tasks(trunk),
            enis: 0,
            ports: HostPorts { tcp: AGENT_RESERVED_PORTS.into(), udp: Default::default() },
            replica_tasks: 0,
            tasks: 0,
            launched: at,
            warm_at: None,
            ecs: EcsStatus::Unregistered,
            lifecycle: Lifecycle::InService,
        });
        self.instances.len() - 1
    }

    /// The instance is gone: whatever still runs on it dies.
    pub fn terminate(&mut self, index: usize) {
        self.kill_tasks_on(index);
        let instance = &mut self.instances[index];
        instance.ecs = EcsStatus::Gone;
        instance.lifecycle = Lifecycle::Terminated;
    }

    /// Check the model's invariants; `Err` names the first one broken: each instance's books (CPU, memory, GPUs,
    /// ENIs, ports, task counts) agree with its tasks and stay within what it registered, no two tasks hold one
    /// host port, every task meets its service's constraints where it runs, and tasks are conserved.
    pub fn audit(&self) -> Result<(), String> {
        #[derive(Default)]
        struct Books {
            cpu: u32,
            memory: u32,
            gpus: u32,
            enis: u32,
            tasks: u32,
            ports: HostPorts,
        }
        let mut books: HashMap<usize, Books> = HashMap::new();
        for service in &self.ecs.services {
            let needs = &service.needs;
            let mut on: HashMap<usize, u32> = HashMap::new();
            for task in &service.tasks {
                let instance = &self.instances[task.instance];
                if !instance.registered() {
                    return Err(format!("task {} is on {} which is not registered", task.id, instance.arn));
                }
                let entry = books.entry(task.instance).or_default();
                if let Some(port) = entry.ports.clash(&needs.ports) {
                    return Err(format!("{}: two tasks hold host port {port}", instance.arn));
                }
                entry.ports.add(&needs.ports);
                entry.cpu += needs.cpu;
                entry.memory += needs.memory;
                entry.gpus += needs.gpus;
                entry.enis += u32::from(needs.eni);
                entry.tasks += 1;
                let count = on.entry(task.instance).or_default();
                *count += 1;
                if needs.distinct && *count > 1 {
                    return Err(format!(
                        "{}: two tasks of distinctInstance service {}",
                        instance.arn, service.spec.name
                    ));
                }
                let unmet = needs.member_of.iter().find(|e| e.eval(&instance.attributes) != Tri::Yes);
                if let Some(expression) = unmet {
                    return Err(format!(
                        "{}: a task of {} is not memberOf {expression}",
                        instance.arn, service.spec.name
                    ));
                }
            }
        }
        for (index, instance) in self.instances.iter().enumerate() {
            let mut b = books.remove(&index).unwrap_or_default();
            b.ports.add(&HostPorts { tcp: AGENT_RESERVED_PORTS.into(), udp: Default::default() });
            let books = (instance.used_cpu, instance.used_memory, instance.used_gpus, instance.enis, instance.tasks);
            if (b.cpu, b.memory, b.gpus, b.enis, b.tasks) != books || b.ports != instance.ports {
                return Err(format!(
                    "{}: books say cpu/memory/gpus/enis/tasks {books:?} and ports {:?}, but its tasks add up to {:?} \
                     and {:?}",
                    instance.arn,
                    instance.ports,
                    (b.cpu, b.memory, b.gpus, b.enis, b.tasks),
                    b.ports
                ));
            }
            if b.cpu > instance.cpu
                || b.memory > instance.memory
                || b.gpus > instance.gpus
                || b.enis > instance.eni_limit
            {
                return Err(format!(
                    "{} holds {} cpu / {} MiB / {} GPU / {} ENI but has only {} / {} / {} / {}",
                    instance.arn,
                    b.cpu,
                    b.memory,
                    b.gpus,
                    b.enis,
                    instance.cpu,
                    instance.memory,
                    instance.gpus,
                    instance.eni_limit
                ));
            }
        }
        let live: usize = self.ecs.services.iter().map(|s| s.tasks.len()).sum();
        let ecs = &self.ecs;
        if ecs.started != ecs.next_task || ecs.started - ecs.stopped - ecs.killed != live as u64 {
            return Err(format!(
                "tasks not conserved: {} started − {} stopped − {} killed ≠ {live} live",
                ecs.started, ecs.stopped, ecs.killed
            ));
        }
        Ok(())
    }
}
