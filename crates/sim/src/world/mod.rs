//! The simulated world: EC2 instances, and over them ECS ([`ecs`]), Auto Scaling ([`autoscaling`]) and
//! CloudWatch ([`cloudwatch`]). It holds state and answers what AWS would answer; it decides nothing of
//! ecs-scaler's. [`crate::cloud::SimCloud`] puts it behind the core's ports.

pub mod autoscaling;
pub mod cloudwatch;
pub mod ecs;
pub mod measure;
pub mod termination;

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use ecs_scaler_core::Scheduling;
use serde::Serialize;

use self::autoscaling::AutoScaling;
use self::cloudwatch::CloudWatch;
use self::ecs::Ecs;
use crate::knobs::Knobs;
use crate::policy::Wiring;
use crate::scenario::{Event, InstanceType, Scenario};

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
    /// Executions of the shortfall step policy that added capacity.
    pub step_scale_outs: u32,
    /// Invocations of the surplus step policy that removed capacity, and the instances they removed.
    pub step_scale_ins: u32,
    pub step_removed: u32,
    /// Evaluations the placement-failure event rule ran (not throttled).
    pub placement_evaluations: u32,
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
    pub cpu: u32,
    pub memory: u32,
    pub used_cpu: u32,
    pub used_memory: u32,
    /// Tasks of REPLICA services on it.
    pub replica_tasks: u32,
    pub tasks: u32,
    /// The tick it was launched (negative: before the run).
    pub launched: i64,
    /// Launched by a step scaling policy: the tick its EstimatedInstanceWarmup ends.
    pub warm_at: Option<u32>,
    pub ecs: EcsStatus,
    /// Custom container-instance attributes (the drain start).
    pub attributes: HashMap<String, String>,
    pub lifecycle: Lifecycle,
}

impl Instance {
    pub fn registered(&self) -> bool {
        matches!(self.ecs, EcsStatus::Active | EcsStatus::Draining { .. })
    }

    pub fn draining(&self) -> bool {
        matches!(self.ecs, EcsStatus::Draining { .. })
    }

    pub fn fits(&self, cpu: u32, memory: u32) -> bool {
        self.used_cpu + cpu <= self.cpu && self.used_memory + memory <= self.memory
    }

    pub fn free_memory(&self) -> u32 {
        self.memory - self.used_memory
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
    /// What new instances are launched as.
    pub launch_type: InstanceType,
    /// The largest capacity of any type seen so far, per resource, for the oracle.
    pub largest: InstanceType,
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
        let mut world = Self {
            start: epoch(),
            tick: 0,
            warmup: knobs.warmup_minutes,
            instances: Vec::new(),
            next_instance: 0,
            launch_type: scenario.instance_type.clone(),
            largest: scenario.instance_type.clone(),
            ecs: Ecs::new(scenario),
            autoscaling: AutoScaling::new(scenario, &knobs, wiring),
            cloudwatch: CloudWatch::new(&knobs, wiring.surplus_policy && knobs.surplus_scale_in),
            tally: Tally::default(),
            events: scenario.events.clone(),
            knobs,
        };
        world.warm_start(scenario.initial_instances);
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

    /// Minute 0 starts in a steady state: the initial instances ACTIVE with their daemons, and minute 0's tasks
    /// RUNNING wherever binpack put them.
    /// With `instances` unset, as few as binpack needs: tasks go largest first, and an instance is added
    /// whenever one does not fit (within the group's max size).
    fn warm_start(&mut self, instances: Option<u32>) {
        let (min, max) = (self.autoscaling.min_size, self.autoscaling.max_size);
        let add_instance = |world: &mut Self| {
            let index = world.launch(0, -60);
            world.instances[index].ecs = EcsStatus::Active;
            world.place_daemons(index, true);
        };
        for _ in 0..instances.unwrap_or(min).clamp(min, max) {
            add_instance(self);
        }
        let services = &self.ecs.services;
        let mut order: Vec<usize> =
            (0..services.len()).filter(|&s| services[s].spec.scheduling == Scheduling::Replica).collect();
        order.sort_by_key(|&s| std::cmp::Reverse((services[s].spec.memory, services[s].spec.cpu)));
        for service in order {
            for _ in 0..self.ecs.services[service].desired {
                if self.place(service, true).is_some() {
                    continue;
                }
                if instances.is_some() || self.instances.len() as u32 >= max {
                    break;
                }
                add_instance(self);
                if self.place(service, true).is_none() {
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
                    self.launch_type = instance_type.clone();
                    self.largest.cpu = self.largest.cpu.max(instance_type.cpu);
                    self.largest.memory = self.largest.memory.max(instance_type.memory);
                }
                Event::ColourSwap { drain_after_minutes, .. } => self.colour_swap(t, *drain_after_minutes),
            }
        }
        self.teardowns_due(t);
    }

    /// Launch an instance into `group` at tick `at`.
    pub fn launch(&mut self, group: usize, at: i64) -> usize {
        let id = self.next_instance;
        self.next_instance += 1;
        self.instances.push(Instance {
            arn: format!("arn:aws:ecs:sim:000000000000:container-instance/{CLUSTER}/{id:08x}"),
            ec2_instance_id: format!("i-{id:017x}"),
            group,
            cpu: self.launch_type.cpu,
            memory: self.launch_type.memory,
            used_cpu: 0,
            used_memory: 0,
            replica_tasks: 0,
            tasks: 0,
            launched: at,
            warm_at: None,
            ecs: EcsStatus::Unregistered,
            attributes: HashMap::new(),
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

    /// Check the model's invariants; `Err` names the first one broken.
    pub fn audit(&self) -> Result<(), String> {
        let mut per_instance: HashMap<usize, (u32, u32, u32)> = HashMap::new();
        for service in &self.ecs.services {
            for task in &service.tasks {
                let instance = &self.instances[task.instance];
                if !instance.registered() {
                    return Err(format!("task {} is on {} which is not registered", task.id, instance.arn));
                }
                let entry = per_instance.entry(task.instance).or_default();
                entry.0 += service.spec.cpu;
                entry.1 += service.spec.memory;
                entry.2 += 1;
            }
        }
        for (index, instance) in self.instances.iter().enumerate() {
            let (cpu, memory, count) = per_instance.get(&index).copied().unwrap_or_default();
            if (cpu, memory, count) != (instance.used_cpu, instance.used_memory, instance.tasks) {
                return Err(format!(
                    "{}: books say {}/{}/{} tasks but its tasks add up to {cpu}/{memory}/{count}",
                    instance.arn, instance.used_cpu, instance.used_memory, instance.tasks
                ));
            }
            if cpu > instance.cpu || memory > instance.memory {
                return Err(format!(
                    "{} holds {cpu} cpu / {memory} MiB but has only {} / {}",
                    instance.arn, instance.cpu, instance.memory
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
