//! The simulated world: ECS (instances, tasks, the scheduler), CloudWatch alarms, Auto Scaling groups and the
//! drain hook, advanced one minute at a time. See the crate docs for the model.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use ecs_scaler_core::drain::{
    ATTRIBUTE_DRAIN_STARTED, ClusterSnapshot, Registration, Release, Verdict, required_tasks,
};
use ecs_scaler_core::{ContainerInstance, Resources, ScaleStatus, Scheduling, Service, ServiceEvent, Task, TaskHealth};
use serde::Serialize;

use crate::SimError;
use crate::knobs::{AlarmSpec, Knobs, SimpleScaling};
use crate::oracle;
use crate::policy::{ClusterView, Policy, Signal};
use crate::scenario::{Event, InstanceType, Scenario, SchedulingKind, ServiceSpec};

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InstanceState {
    /// Launched, not yet ACTIVE in ECS.
    Launching,
    Active,
    /// DRAINING in ECS and Terminating:Wait in Auto Scaling, since this minute.
    Draining {
        since: u32,
    },
    Terminated,
}

#[derive(Debug, Clone)]
struct Instance {
    arn: String,
    ec2_instance_id: String,
    group: usize,
    cpu: u32,
    memory: u32,
    used_cpu: u32,
    used_memory: u32,
    /// Tasks of REPLICA services on it.
    replica_tasks: u32,
    tasks: u32,
    launched: i64,
    state: InstanceState,
}

impl Instance {
    fn registered(&self) -> bool {
        matches!(self.state, InstanceState::Active | InstanceState::Draining { .. })
    }

    fn fits(&self, cpu: u32, memory: u32) -> bool {
        self.used_cpu + cpu <= self.cpu && self.used_memory + memory <= self.memory
    }

    fn free_memory(&self) -> u32 {
        self.memory - self.used_memory
    }
}

#[derive(Debug, Clone)]
struct SimTask {
    id: u64,
    instance: usize,
    placed: u32,
    running: bool,
}

#[derive(Debug, Clone, Default)]
struct Counts {
    active_pending: u32,
    active_running: u32,
    draining_pending: u32,
    draining_running: u32,
}

impl Counts {
    fn on_active(&self) -> u32 {
        self.active_pending + self.active_running
    }

    fn live(&self) -> u32 {
        self.on_active() + self.draining_pending + self.draining_running
    }

    fn running(&self) -> u32 {
        self.active_running + self.draining_running
    }
}

/// One Auto Scaling group (a colour).
#[derive(Debug, Clone)]
struct Group {
    min: u32,
    max: u32,
    desired: u32,
    /// The simple scaling activity in progress: its instances, and the cooldown that starts when they are done.
    activity: Option<(Vec<usize>, u32)>,
    cooldown_until: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

/// A run in progress. [`Simulation::step`] advances one minute; [`Simulation::audit`] checks the invariants.
pub struct Simulation<'s> {
    scenario: &'s Scenario,
    knobs: Knobs,
    policy: Box<dyn Policy + 's>,
    start: DateTime<Utc>,
    /// Minutes since the simulation started, warm-up included.
    tick: u32,
    warmup: u32,
    /// Every task ever started, stopped or killed, warm-up included (the tally counts only recorded minutes).
    started: u64,
    stopped: u64,
    killed: u64,
    launch_type: InstanceType,
    /// The largest capacity of any type seen so far, per resource, for the oracle.
    largest: InstanceType,
    daemon_overhead: (u32, u32),
    instances: Vec<Instance>,
    next_instance: u32,
    /// Live tasks, per service.
    tasks: Vec<Vec<SimTask>>,
    next_task: u64,
    /// Tasks each service could not place this minute.
    unplaced: Vec<u32>,
    specs: Vec<ServiceSpec>,
    /// What one task of each service's task definition reserves.
    task_sizes: HashMap<String, Resources>,
    desired: Vec<u32>,
    services: Vec<Service>,
    /// RUNNING tasks each service lost with terminated instances and has not got back yet.
    lost: Vec<u32>,
    /// Tasks the scheduler stopped on DRAINING instances, as ECS lists stopped tasks (for an hour).
    stopped_on_draining: Vec<Task>,
    trace: Vec<Vec<(u32, u32)>>,
    cursors: Vec<usize>,
    groups: [Group; 2],
    launch_group: usize,
    /// Old colours to bring down: (minute, group).
    pending_teardowns: Vec<(u32, usize)>,
    datapoints: Vec<Option<f64>>,
    alarm_high: AlarmState,
    alarm_low: AlarmState,
    timeline: Vec<Minute>,
    tally: Tally,
}

/// The first minute of every run, so event timestamps look like real ones.
fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).single().unwrap_or(DateTime::UNIX_EPOCH)
}

/// The task definition ARN of a service's tasks.
fn task_definition(spec: &ServiceSpec) -> String {
    format!("arn:aws:ecs:sim:000000000000:task-definition/{}:1", spec.name)
}

const UNABLE_TO_PLACE: &str = "was unable to place a task because no container instance met all of its requirements.";

impl<'s> Simulation<'s> {
    pub fn new(scenario: &'s Scenario, policy: Box<dyn Policy + 's>, knobs: Knobs) -> Result<Self, SimError> {
        scenario.validate()?;
        let specs = scenario.services.clone();
        let services = specs
            .iter()
            .map(|spec| Service {
                name: spec.name.clone(),
                scheduling: match spec.scheduling {
                    SchedulingKind::Replica => Scheduling::Replica,
                    SchedulingKind::Daemon => Scheduling::Daemon,
                },
                desired: 0,
                running: 0,
                pending: 0,
                min_healthy_percent: Some(spec.min_healthy_percent),
                task_definition: task_definition(spec),
                tags: HashMap::new(),
                events: Vec::new(),
            })
            .collect();
        let task_sizes =
            specs.iter().map(|spec| (task_definition(spec), Resources::new(spec.cpu, spec.memory))).collect();
        let idle = Group { min: 0, max: 0, desired: 0, activity: None, cooldown_until: 0 };
        let blue = Group { min: scenario.min_size, max: scenario.max_size, ..idle.clone() };
        let mut simulation = Self {
            scenario,
            knobs,
            policy,
            start: epoch(),
            tick: 0,
            warmup: 0,
            started: 0,
            stopped: 0,
            killed: 0,
            launch_type: scenario.instance_type.clone(),
            largest: scenario.instance_type.clone(),
            daemon_overhead: scenario.daemon_overhead(),
            instances: Vec::new(),
            next_instance: 0,
            tasks: vec![Vec::new(); scenario.services.len()],
            next_task: 0,
            unplaced: vec![0; scenario.services.len()],
            desired: specs.iter().map(|s| s.desired).collect(),
            task_sizes,
            lost: vec![0; specs.len()],
            stopped_on_draining: Vec::new(),
            specs,
            services,
            trace: scenario.trace(),
            cursors: vec![0; scenario.services.len()],
            groups: [blue, idle],
            launch_group: 0,
            pending_teardowns: Vec::new(),
            datapoints: Vec::new(),
            alarm_high: AlarmState::InsufficientData,
            alarm_low: AlarmState::InsufficientData,
            timeline: Vec::with_capacity(scenario.minutes as usize),
            tally: Tally::default(),
        };
        simulation.warmup = simulation.knobs.warmup_minutes;
        simulation.warm_start(scenario.initial_instances);
        Ok(simulation)
    }

    /// Minute 0 starts in a steady state: the initial instances ACTIVE with their daemons, and minute 0's tasks
    /// RUNNING wherever binpack put them.
    /// With `instances` unset, as few as binpack needs: tasks go largest first, and an instance is added
    /// whenever one does not fit (within the group's max size).
    fn warm_start(&mut self, instances: Option<u32>) {
        let (min, max) = (self.scenario.min_size, self.scenario.max_size);
        let add_instance = |simulation: &mut Self| {
            let index = simulation.launch(0, -60);
            simulation.instances[index].state = InstanceState::Active;
            simulation.place_daemons(index, true);
        };
        for _ in 0..instances.unwrap_or(min).clamp(min, max) {
            add_instance(self);
        }
        let mut order: Vec<usize> =
            (0..self.specs.len()).filter(|&s| self.specs[s].scheduling == SchedulingKind::Replica).collect();
        order.sort_by_key(|&s| std::cmp::Reverse((self.specs[s].memory, self.specs[s].cpu)));
        for service in order {
            for _ in 0..self.desired[service] {
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
        self.groups[0].desired = self.instances.len() as u32;
    }

    /// The scenario minute the next step simulates (0 throughout the warm-up).
    pub fn minute(&self) -> u32 {
        self.tick.saturating_sub(self.warmup)
    }

    /// The scenario minute being simulated, or `None` during the warm-up.
    fn recording(&self) -> Option<u32> {
        self.tick.checked_sub(self.warmup)
    }

    pub fn finished(&self) -> bool {
        self.tick >= self.warmup + self.scenario.minutes
    }

    pub fn timeline(&self) -> &[Minute] {
        &self.timeline
    }

    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    pub fn policy(&self) -> &dyn Policy {
        self.policy.as_ref()
    }

    /// Run to the end; `progress` hears each finished minute.
    pub fn run(mut self, progress: &mut dyn FnMut(u32)) -> (Vec<Minute>, Tally) {
        while !self.finished() {
            if let Some(minute) = self.step().map(|m| m.minute) {
                progress(minute);
            }
        }
        (self.timeline, self.tally)
    }

    /// Advance one minute. Returns its record, or `None` during the warm-up.
    pub fn step(&mut self) -> Option<&Minute> {
        let t = self.tick;
        let now = self.start + Duration::minutes(i64::from(t));
        let recording = self.recording();
        self.apply_trace(recording.unwrap_or(0));
        if let Some(minute) = recording {
            self.apply_events(minute);
        }
        self.start_tasks(t);
        self.activate_instances(t);
        let unplaced = self.schedule(now);
        self.release_drained(t);
        let (record, view_numbers) = self.measure(recording.unwrap_or(0), unplaced);
        let registered_sizes: Vec<Resources> =
            self.instances.iter().filter(|i| i.registered()).map(|i| Resources::new(i.cpu, i.memory)).collect();
        let (running_tasks, pending_tasks) = self.tasks.iter().flatten().fold((0, 0), |(running, pending), task| {
            if task.running { (running + 1, pending) } else { (running, pending + 1) }
        });
        let view = ClusterView {
            minute: recording.unwrap_or(0),
            now,
            cpu_reservation: record.cpu_reservation,
            memory_reservation: record.memory_reservation,
            registered_instances: record.registered,
            draining_instances: record.draining,
            registered_sizes: &registered_sizes,
            running_tasks,
            pending_tasks,
            services: &self.services,
            task_sizes: &self.task_sizes,
            instances_needed: view_numbers.0,
            instances_running: view_numbers.1,
        };
        let signal = self.policy.tick(&view);
        let mut record = record;
        match signal {
            Signal::ScaleStatus(status) => {
                record.scale_status = status.map(|s| s as u8);
                record.signal = status.map(ScaleStatus::metric_value);
                self.alarms(t, status.map(ScaleStatus::metric_value));
            }
            Signal::Capacity { metric, desired } => {
                let target = self.knobs.capacity_target_percent;
                let status = if metric > target {
                    ScaleStatus::Up
                } else if metric < target {
                    ScaleStatus::Down
                } else {
                    ScaleStatus::Stay
                };
                record.scale_status = Some(status as u8);
                record.signal = Some(metric);
                if let Some(total) = desired {
                    self.target_capacity(total);
                }
            }
        }
        self.reconcile_groups(t);
        self.finish_activities(t);
        record.desired_capacity = self.groups.iter().map(|g| g.desired).sum();
        self.tick += 1;
        recording?;
        self.timeline.push(record);
        self.timeline.last()
    }

    fn apply_trace(&mut self, t: u32) {
        for (service, points) in self.trace.iter().enumerate() {
            let cursor = &mut self.cursors[service];
            while let Some(&(minute, desired)) = points.get(*cursor) {
                if minute > t {
                    break;
                }
                self.desired[service] = desired;
                *cursor += 1;
            }
        }
    }

    fn apply_events(&mut self, t: u32) {
        for event in self.scenario.events.iter().filter(|e| e.minute() == t) {
            match event {
                Event::InstanceType { instance_type, .. } => {
                    self.launch_type = instance_type.clone();
                    self.largest.cpu = self.largest.cpu.max(instance_type.cpu);
                    self.largest.memory = self.largest.memory.max(instance_type.memory);
                }
                Event::ColourSwap { drain_after_minutes, .. } => {
                    let (old, new) = (self.launch_group, 1 - self.launch_group);
                    let size = self.members(old).len() as u32;
                    let group = &mut self.groups[new];
                    group.max = self.scenario.max_size;
                    group.min = size.clamp(self.scenario.min_size, self.scenario.max_size);
                    group.desired = group.desired.max(group.min);
                    self.launch_group = new;
                    self.pending_teardowns.push((t + drain_after_minutes, old));
                }
            }
        }
        let due: Vec<usize> =
            self.pending_teardowns.iter().filter(|(minute, _)| *minute == t).map(|(_, group)| *group).collect();
        for old in due {
            self.groups[old] = Group { min: 0, max: 0, desired: 0, activity: None, cooldown_until: 0 };
            let new = 1 - old;
            self.groups[new].min = self.scenario.min_size;
        }
    }

    fn start_tasks(&mut self, t: u32) {
        let delay = self.knobs.task_start_minutes;
        for task in self.tasks.iter_mut().flatten().filter(|task| !task.running && task.placed + delay <= t) {
            task.running = true;
        }
    }

    fn activate_instances(&mut self, t: u32) {
        let ready = i64::from(t) - i64::from(self.knobs.ecs_active_minutes);
        let newly: Vec<usize> = (0..self.instances.len())
            .filter(|&i| self.instances[i].state == InstanceState::Launching && self.instances[i].launched <= ready)
            .collect();
        for index in newly {
            self.instances[index].state = InstanceState::Active;
            self.place_daemons(index, false);
        }
    }

    fn place_daemons(&mut self, instance: usize, running: bool) {
        for service in 0..self.specs.len() {
            let spec = &self.specs[service];
            if spec.scheduling == SchedulingKind::Daemon && self.instances[instance].fits(spec.cpu, spec.memory) {
                self.put(service, instance, running);
            }
        }
    }

    /// Start one task of `service` on `instance`.
    fn put(&mut self, service: usize, instance: usize, running: bool) {
        let spec = &self.specs[service];
        let target = &mut self.instances[instance];
        target.used_cpu += spec.cpu;
        target.used_memory += spec.memory;
        target.tasks += 1;
        if spec.scheduling == SchedulingKind::Replica {
            target.replica_tasks += 1;
        }
        self.tasks[service].push(SimTask { id: self.next_task, instance, placed: self.tick, running });
        self.next_task += 1;
        self.started += 1;
        if self.recording().is_some() {
            self.tally.tasks_started += 1;
        }
    }

    /// Binpack on memory: the ACTIVE instance that fits the task with the least memory left, then the least CPU
    /// left, then the oldest. `None` when no instance has room.
    fn place(&mut self, service: usize, running: bool) -> Option<usize> {
        let (cpu, memory) = (self.specs[service].cpu, self.specs[service].memory);
        let best = self
            .instances
            .iter()
            .enumerate()
            .filter(|(_, i)| i.state == InstanceState::Active && i.fits(cpu, memory))
            .min_by_key(|(index, i)| (i.free_memory(), i.cpu - i.used_cpu, *index))
            .map(|(index, _)| index)?;
        self.put(service, best, running);
        Some(best)
    }

    /// The simulated wall clock at the current tick.
    fn now(&self) -> DateTime<Utc> {
        self.start + Duration::minutes(i64::from(self.tick))
    }

    /// Remove the tasks at these positions of the service's tasks, releasing their reservations.
    fn remove_tasks(&mut self, service: usize, mut positions: Vec<usize>, killed: bool) {
        positions.sort_unstable();
        positions.dedup();
        let now = self.now();
        for &position in positions.iter().rev() {
            let task = self.tasks[service].swap_remove(position);
            let spec = &self.specs[service];
            if !killed && matches!(self.instances[task.instance].state, InstanceState::Draining { .. }) {
                self.stopped_on_draining.push(Task {
                    arn: format!("arn:aws:ecs:sim:000000000000:task/sim/{}", task.id),
                    container_instance_arn: Some(self.instances[task.instance].arn.clone()),
                    group: Some(self.services[service].task_group()),
                    last_status: "STOPPED".into(),
                    health: TaskHealth::Unknown,
                    stopped_at: Some(now),
                });
            }
            let instance = &mut self.instances[task.instance];
            instance.used_cpu -= spec.cpu;
            instance.used_memory -= spec.memory;
            instance.tasks -= 1;
            if spec.scheduling == SchedulingKind::Replica {
                instance.replica_tasks -= 1;
            }
            // Daemons going with their instance is the normal way out for them.
            let recording = self.tick >= self.warmup;
            if killed && spec.scheduling == SchedulingKind::Replica {
                self.killed += 1;
                self.tally.tasks_killed += u64::from(recording);
            } else {
                self.stopped += 1;
                self.tally.tasks_stopped += u64::from(recording);
            }
        }
    }

    fn counts(&self) -> Vec<Counts> {
        let mut counts = vec![Counts::default(); self.specs.len()];
        for (c, tasks) in counts.iter_mut().zip(&self.tasks) {
            for task in tasks {
                let draining = matches!(self.instances[task.instance].state, InstanceState::Draining { .. });
                match (draining, task.running) {
                    (false, false) => c.active_pending += 1,
                    (false, true) => c.active_running += 1,
                    (true, false) => c.draining_pending += 1,
                    (true, true) => c.draining_running += 1,
                }
            }
        }
        counts
    }

    /// The ECS service scheduler, once per minute, for every REPLICA service:
    /// 1. more tasks than desired on ACTIVE instances: stop the extra ones (PENDING first, then the ones on the
    ///    emptiest instances, so binpack can free instances);
    /// 2. fewer: start the missing ones, without exceeding maximumPercent of desired counting copies on DRAINING
    ///    instances; a task that fits nowhere stays unplaced and the service gets an "unable to place" event;
    /// 3. copies on DRAINING instances: PENDING ones stop at once, RUNNING ones only as far as
    ///    minimumHealthyPercent of desired stays RUNNING.
    ///
    /// Returns the tasks left unplaced.
    // `service` indexes several parallel vectors (specs, desired, tasks, services, counts) and `self` is
    // borrowed mutably inside the loop, so an iterator over one of them does not fit.
    #[allow(clippy::needless_range_loop)]
    fn schedule(&mut self, now: DateTime<Utc>) -> u32 {
        let mut counts = self.counts();
        let mut unplaced_total = 0;
        for service in 0..self.specs.len() {
            if self.specs[service].scheduling != SchedulingKind::Replica {
                continue;
            }
            let desired = self.desired[service];
            let c = &mut counts[service];
            if c.on_active() > desired {
                let excess = (c.on_active() - desired) as usize;
                let tasks = &self.tasks[service];
                let mut candidates: Vec<usize> = (0..tasks.len())
                    .filter(|&p| self.instances[tasks[p].instance].state == InstanceState::Active)
                    .collect();
                candidates.sort_by_key(|&p| {
                    let task = &tasks[p];
                    let instance = &self.instances[task.instance];
                    (task.running, std::cmp::Reverse(instance.free_memory()), std::cmp::Reverse(task.instance))
                });
                candidates.truncate(excess);
                for &p in &candidates {
                    if tasks[p].running {
                        c.active_running -= 1;
                    } else {
                        c.active_pending -= 1;
                    }
                }
                self.remove_tasks(service, candidates, false);
            }

            let c = &mut counts[service];
            let max_live = desired * self.specs[service].maximum_percent.max(100) as u32 / 100;
            let wanted = desired.saturating_sub(c.on_active()).min(max_live.saturating_sub(c.live()));
            let mut placed = 0;
            while placed < wanted && self.place(service, false).is_some() {
                placed += 1;
            }
            let c = &mut counts[service];
            c.active_pending += placed;
            let unplaced = wanted - placed;
            self.unplaced[service] = unplaced;
            if unplaced > 0 {
                unplaced_total += unplaced;
                let name = &self.services[service].name;
                let message = format!("(service {name}) {UNABLE_TO_PLACE}");
                self.services[service].events.insert(0, ServiceEvent { created_at: now, message });
            }

            if c.draining_pending + c.draining_running > 0 {
                let required = required_tasks(desired as i32, self.specs[service].min_healthy_percent) as u32;
                let mut stoppable = c.running().saturating_sub(required).min(c.draining_running);
                let mut stop = Vec::new();
                for (p, task) in self.tasks[service].iter().enumerate() {
                    if !matches!(self.instances[task.instance].state, InstanceState::Draining { .. }) {
                        continue;
                    }
                    if !task.running {
                        stop.push(p);
                    } else if stoppable > 0 {
                        stoppable -= 1;
                        stop.push(p);
                    }
                }
                self.remove_tasks(service, stop, false);
            }
        }
        // ECS keeps a service's recent events; older ones cannot matter to the lookback window.
        let window = Duration::seconds(i64::from(self.knobs.lookback_seconds));
        for service in &mut self.services {
            service.events.retain(|event| now - event.created_at <= window);
        }
        unplaced_total
    }

    /// The drain hook: every instance in Terminating:Wait is released when the core's drain verdict says so.
    fn release_drained(&mut self, t: u32) {
        if !self.instances.iter().any(|i| matches!(i.state, InstanceState::Draining { .. })) {
            return;
        }
        let hour_ago = self.now() - Duration::hours(1);
        self.stopped_on_draining.retain(|task| task.stopped_at.is_some_and(|at| at >= hour_ago));
        let snapshot = self.snapshot();
        let mut released = Vec::new();
        for (index, instance) in self.instances.iter().enumerate() {
            let InstanceState::Draining { since } = instance.state else { continue };
            let age = Duration::minutes(i64::from(t - since));
            match self.knobs.drain.verdict(&snapshot, Registration::Here(&instance.arn), age).verdict {
                Verdict::Hold => {}
                Verdict::Complete { why, .. } => released.push((index, why)),
            }
        }
        let recording = u32::from(self.recording().is_some());
        for (index, why) in released {
            if why == Release::TimedOut {
                self.tally.drain_timeouts += recording;
            } else {
                self.tally.drains_completed += recording;
            }
            self.terminate(index);
        }
    }

    /// The cluster as DescribeServices, DescribeTasks and DescribeContainerInstances would report it.
    pub fn snapshot(&self) -> ClusterSnapshot {
        let groups: Vec<String> = self.services.iter().map(Service::task_group).collect();
        let tasks = self
            .tasks
            .iter()
            .enumerate()
            .flat_map(|(service, tasks)| tasks.iter().map(move |task| (service, task)))
            .map(|(service, task)| Task {
                arn: format!("arn:aws:ecs:sim:000000000000:task/sim/{}", task.id),
                container_instance_arn: Some(self.instances[task.instance].arn.clone()),
                group: Some(groups[service].clone()),
                last_status: if task.running { "RUNNING" } else { "PENDING" }.to_owned(),
                health: TaskHealth::Healthy,
                stopped_at: None,
            })
            .collect();
        let instances: Vec<ContainerInstance> = self
            .instances
            .iter()
            .filter(|i| i.registered())
            .map(|i| {
                let mut attributes = HashMap::new();
                if let InstanceState::Draining { since } = i.state {
                    let started = self.start + Duration::minutes(i64::from(since));
                    attributes.insert(ATTRIBUTE_DRAIN_STARTED.to_owned(), started.timestamp().to_string());
                }
                ContainerInstance {
                    arn: i.arn.clone(),
                    ec2_instance_id: Some(i.ec2_instance_id.clone()),
                    status: if i.state == InstanceState::Active { "ACTIVE" } else { "DRAINING" }.to_owned(),
                    attributes,
                    registered: Some(Resources::new(i.cpu, i.memory)),
                }
            })
            .collect();
        // Tasks stop the minute they are told to: nothing is ever left stopping, only stopped.
        let stopped = self.stopped_on_draining.clone();
        let stopped_read = instances.iter().map(|i: &ContainerInstance| i.arn.clone()).collect();
        ClusterSnapshot { services: self.services.clone(), tasks, instances, stopped, stopped_read }
    }

    /// The instance is gone: whatever still runs on it dies.
    fn terminate(&mut self, index: usize) {
        for service in 0..self.tasks.len() {
            let tasks = &self.tasks[service];
            let doomed: Vec<usize> = (0..tasks.len()).filter(|&p| tasks[p].instance == index).collect();
            if self.specs[service].scheduling == SchedulingKind::Replica {
                self.lost[service] += doomed.iter().filter(|&&p| tasks[p].running).count() as u32;
            }
            if !doomed.is_empty() {
                self.remove_tasks(service, doomed, true);
            }
        }
        self.instances[index].state = InstanceState::Terminated;
    }

    /// Reservations, counts, health, and the two numbers ECS managed scaling needs (M, N).
    fn measure(&mut self, t: u32, unplaced: u32) -> (Minute, (u32, u32)) {
        let counts = self.counts();
        let (mut instances, mut registered, mut draining) = (0, 0, 0);
        let (mut cpu, mut memory, mut reserved_cpu, mut reserved_memory) = (0u64, 0u64, 0u64, 0u64);
        let mut busy = 0;
        for instance in &self.instances {
            match instance.state {
                InstanceState::Terminated => continue,
                InstanceState::Launching => instances += 1,
                InstanceState::Active | InstanceState::Draining { .. } => {
                    instances += 1;
                    registered += 1;
                    if matches!(instance.state, InstanceState::Draining { .. }) {
                        draining += 1;
                    } else if instance.replica_tasks > 0 {
                        busy += 1;
                    }
                    cpu += u64::from(instance.cpu);
                    memory += u64::from(instance.memory);
                    reserved_cpu += u64::from(instance.used_cpu);
                    reserved_memory += u64::from(instance.used_memory);
                }
            }
        }
        // ECS publishes no reservation for a cluster that runs no task at all.
        let any_task = self.tasks.iter().any(|tasks| !tasks.is_empty());
        let percent = |used: u64, total: u64| (total > 0 && any_task).then(|| used as f64 / total as f64 * 100.0);

        let (mut desired_tasks, mut placed_tasks, mut running_tasks, mut shortfall, mut below_min) = (0, 0, 0, 0, 0);
        let active_instances = registered - draining;
        for (service, c) in counts.iter().enumerate() {
            let spec = &self.specs[service];
            let core = &mut self.services[service];
            core.running = c.running() as i32;
            core.pending = (c.live() - c.running()) as i32;
            if spec.scheduling == SchedulingKind::Daemon {
                core.desired = active_instances as i32;
                continue;
            }
            let desired = self.desired[service];
            core.desired = desired as i32;
            desired_tasks += desired;
            placed_tasks += c.live();
            running_tasks += c.running();
            shortfall += desired.saturating_sub(c.live());
            // What the service would run had no instance been taken from under it.
            let lost = &mut self.lost[service];
            *lost = (*lost).min(desired.saturating_sub(c.running()));
            let baseline = c.running() + *lost;
            if c.running() < required_tasks(baseline as i32, spec.min_healthy_percent) as u32 {
                below_min += 1;
            }
        }

        let oracle =
            oracle::bound(self.specs.iter().zip(self.desired.iter().copied()), &self.largest, self.daemon_overhead);
        let needed = busy + self.fresh_instances_for_unplaced();
        let running_instances = self
            .instances
            .iter()
            .filter(|i| matches!(i.state, InstanceState::Launching | InstanceState::Active))
            .count() as u32;
        let record = Minute {
            minute: t,
            instances,
            registered,
            draining,
            desired_capacity: 0,
            cpu_reservation: percent(reserved_cpu, cpu),
            memory_reservation: percent(reserved_memory, memory),
            scale_status: None,
            signal: None,
            desired_tasks,
            placed_tasks,
            running_tasks,
            shortfall,
            unplaced_tasks: unplaced,
            below_min_services: below_min,
            oracle,
        };
        (record, (needed, running_instances))
    }

    /// First-fit decreasing of this minute's unplaced tasks onto fresh instances of the launch type.
    fn fresh_instances_for_unplaced(&self) -> u32 {
        let mut sizes: Vec<(u32, u32)> = Vec::new();
        for (spec, &unplaced) in self.specs.iter().zip(&self.unplaced) {
            sizes.extend(std::iter::repeat_n((spec.cpu, spec.memory), unplaced as usize));
        }
        if sizes.is_empty() {
            return 0;
        }
        sizes.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        let room = (
            self.launch_type.cpu.saturating_sub(self.daemon_overhead.0),
            self.launch_type.memory.saturating_sub(self.daemon_overhead.1),
        );
        let mut bins: Vec<(u32, u32)> = Vec::new();
        for (cpu, memory) in sizes {
            match bins.iter_mut().find(|(c, m)| *c + cpu <= room.0 && *m + memory <= room.1) {
                Some(bin) => {
                    bin.0 += cpu;
                    bin.1 += memory;
                }
                None => bins.push((cpu, memory)),
            }
        }
        bins.len() as u32
    }

    /// Both alarms see the new datapoint; each in ALARM invokes its simple scaling policy on every group that
    /// has alarms (max size above 0), once per minute while it stays in ALARM.
    fn alarms(&mut self, t: u32, datapoint: Option<f64>) {
        self.datapoints.push(datapoint);
        self.alarm_high = evaluate(&self.datapoints, &self.knobs.alarm_high, self.alarm_high);
        self.alarm_low = evaluate(&self.datapoints, &self.knobs.alarm_low, self.alarm_low);
        let mut actions = Vec::new();
        if self.alarm_high == AlarmState::Alarm {
            actions.push(self.knobs.scale_up);
        }
        if self.alarm_low == AlarmState::Alarm {
            actions.push(self.knobs.scale_down);
        }
        for policy in actions {
            for group in 0..self.groups.len() {
                if self.groups[group].max > 0 {
                    self.simple_scaling(t, group, policy);
                }
            }
        }
    }

    /// A simple scaling policy fires: ignored while the group's last simple scaling activity is in progress or
    /// cooling down (the cooldown starts when the activity completes, i.e. after any lifecycle hook).
    fn simple_scaling(&mut self, t: u32, group: usize, policy: SimpleScaling) {
        let g = &self.groups[group];
        if g.activity.is_some() || t < g.cooldown_until {
            return;
        }
        let desired = (i64::from(g.desired) + policy.change(g.desired)).clamp(i64::from(g.min), i64::from(g.max));
        let desired = desired as u32;
        if desired == g.desired {
            return;
        }
        if let Some(minute) = self.recording() {
            self.tally.capacity_changes.push((minute, if desired > g.desired { 1 } else { -1 }));
        }
        self.groups[group].desired = desired;
        let touched = self.reconcile_group(t, group);
        self.groups[group].activity = Some((touched, policy.cooldown_minutes()));
    }

    /// Target tracking sets the total capacity; the difference goes to the group launches go to.
    fn target_capacity(&mut self, total: u32) {
        let group = self.launch_group;
        let elsewhere: u32 = (0..self.groups.len()).filter(|&g| g != group).map(|g| self.members(g).len() as u32).sum();
        let g = &self.groups[group];
        let desired = total.saturating_sub(elsewhere).clamp(g.min, g.max);
        if desired != g.desired {
            if let Some(minute) = self.recording() {
                self.tally.capacity_changes.push((minute, if desired > g.desired { 1 } else { -1 }));
            }
            self.groups[group].desired = desired;
        }
    }

    /// Instances of a group that Auto Scaling counts against its desired capacity: launching and in service.
    fn members(&self, group: usize) -> Vec<usize> {
        (0..self.instances.len())
            .filter(|&i| {
                let instance = &self.instances[i];
                instance.group == group && matches!(instance.state, InstanceState::Launching | InstanceState::Active)
            })
            .collect()
    }

    fn reconcile_groups(&mut self, t: u32) {
        for group in 0..self.groups.len() {
            self.reconcile_group(t, group);
        }
    }

    /// Launch or terminate until the group's members match its desired capacity. Returns the instances touched.
    fn reconcile_group(&mut self, t: u32, group: usize) -> Vec<usize> {
        let members = self.members(group);
        let desired = self.groups[group].desired as usize;
        let mut touched = Vec::new();
        if members.len() < desired {
            for _ in members.len()..desired {
                touched.push(self.launch(group, i64::from(t)));
            }
        } else if members.len() > desired {
            // Managed termination protection keeps instances running non-daemon tasks out of the capacity
            // provider's scale-in; a colour brought down to size 0 still goes, through the lifecycle hook.
            let protect = self.policy.protects_busy_instances() && self.groups[group].max > 0;
            // The start of the Default termination policy: oldest launch template first, then the oldest instance.
            let mut candidates: Vec<usize> =
                members.into_iter().filter(|&i| !protect || self.instances[i].replica_tasks == 0).collect();
            candidates.sort_by_key(|&i| (self.instances[i].launched, i));
            let excess = self.members(group).len() - desired;
            candidates.truncate(excess);
            if protect && candidates.len() < excess {
                let kept = self.members(group).len() - candidates.len();
                self.groups[group].desired = kept as u32;
            }
            for index in candidates {
                let instance = &mut self.instances[index];
                if self.knobs.drain_hook && instance.state == InstanceState::Active {
                    instance.state = InstanceState::Draining { since: t };
                } else {
                    self.terminate(index);
                }
                touched.push(index);
            }
        }
        touched
    }

    fn launch(&mut self, group: usize, at: i64) -> usize {
        let id = self.next_instance;
        self.next_instance += 1;
        self.instances.push(Instance {
            arn: format!("arn:aws:ecs:sim:000000000000:container-instance/sim/{id:08x}"),
            ec2_instance_id: format!("i-{id:017x}"),
            group,
            cpu: self.launch_type.cpu,
            memory: self.launch_type.memory,
            used_cpu: 0,
            used_memory: 0,
            replica_tasks: 0,
            tasks: 0,
            launched: at,
            state: InstanceState::Launching,
        });
        self.instances.len() - 1
    }

    /// A simple scaling activity completes when its launches are InService and its terminations are done;
    /// then its cooldown starts.
    fn finish_activities(&mut self, t: u32) {
        let in_service = i64::from(t) - i64::from(self.knobs.in_service_minutes);
        for group in 0..self.groups.len() {
            let Some((touched, cooldown)) = &self.groups[group].activity else { continue };
            let done = touched.iter().all(|&i| {
                let instance = &self.instances[i];
                match instance.state {
                    InstanceState::Terminated => true,
                    InstanceState::Launching | InstanceState::Active => instance.launched <= in_service,
                    InstanceState::Draining { .. } => false,
                }
            });
            if done {
                let cooldown = *cooldown;
                self.groups[group].activity = None;
                self.groups[group].cooldown_until = t + cooldown;
            }
        }
    }

    /// Check the model's invariants; `Err` names the first one broken.
    pub fn audit(&self) -> Result<(), String> {
        let mut per_instance: HashMap<usize, (u32, u32, u32)> = HashMap::new();
        for (service, task) in self.tasks.iter().enumerate().flat_map(|(s, tasks)| tasks.iter().map(move |t| (s, t))) {
            let instance = &self.instances[task.instance];
            if !instance.registered() {
                return Err(format!("task {} is on {} which is not registered", task.id, instance.arn));
            }
            let spec = &self.specs[service];
            let entry = per_instance.entry(task.instance).or_default();
            entry.0 += spec.cpu;
            entry.1 += spec.memory;
            entry.2 += 1;
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
        let live: usize = self.tasks.iter().map(Vec::len).sum();
        if self.started != self.next_task || self.started - self.stopped - self.killed != live as u64 {
            return Err(format!(
                "tasks not conserved: {} started − {} stopped − {} killed ≠ {live} live",
                self.started, self.stopped, self.killed
            ));
        }
        Ok(())
    }

    /// Container instances registered now (ACTIVE and DRAINING).
    pub fn registered_instances(&self) -> u32 {
        self.instances.iter().filter(|i| i.registered()).count() as u32
    }

    /// ⌈max(ΣCPU/room, Σmemory/room)⌉ over the tasks actually placed, with the largest instance type seen.
    pub fn placed_bound(&self) -> u32 {
        let placed = self.tasks.iter().map(|tasks| tasks.len() as u32);
        oracle::bound(self.specs.iter().zip(placed), &self.largest, self.daemon_overhead)
    }
}

/// CloudWatch alarm evaluation with missing data treated as missing: the newest `evaluation_periods`
/// datapoints within the last 2 × `evaluation_periods` minutes decide. All of them breaching is ALARM, any not
/// breaching is OK, too few (but all breaching) keeps the state, none at all is INSUFFICIENT_DATA.
fn evaluate(datapoints: &[Option<f64>], alarm: &AlarmSpec, state: AlarmState) -> AlarmState {
    let n = alarm.evaluation_periods as usize;
    let range = &datapoints[datapoints.len().saturating_sub(2 * n)..];
    let newest: Vec<f64> = range.iter().rev().flatten().take(n).copied().collect();
    if newest.is_empty() {
        AlarmState::InsufficientData
    } else if newest.iter().any(|&v| !alarm.breaches(v)) {
        AlarmState::Ok
    } else if newest.len() == n {
        AlarmState::Alarm
    } else {
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knobs::Comparison;

    const HIGH: AlarmSpec =
        AlarmSpec { comparison: Comparison::GreaterThanThreshold, threshold: 1.0, evaluation_periods: 4 };

    #[test]
    fn the_high_alarm_needs_four_breaching_minutes() {
        let three = [Some(2.0), Some(2.0), Some(2.0)];
        assert_eq!(evaluate(&three, &HIGH, AlarmState::Ok), AlarmState::Ok);
        let four = [Some(1.0), Some(2.0), Some(2.0), Some(2.0), Some(2.0)];
        assert_eq!(evaluate(&four, &HIGH, AlarmState::Ok), AlarmState::Alarm);
        let broken = [Some(2.0), Some(2.0), Some(1.0), Some(2.0)];
        assert_eq!(evaluate(&broken, &HIGH, AlarmState::Alarm), AlarmState::Ok);
    }

    #[test]
    fn missing_datapoints_neither_breach_nor_clear() {
        let gap = [Some(2.0), Some(2.0), None, Some(2.0), None, Some(2.0)];
        assert_eq!(evaluate(&gap, &HIGH, AlarmState::Ok), AlarmState::Alarm);
        let sparse = [None, None, None, None, None, Some(2.0)];
        assert_eq!(evaluate(&sparse, &HIGH, AlarmState::Ok), AlarmState::Ok, "too few datapoints keep the state");
        let silent = [None; 8];
        assert_eq!(evaluate(&silent, &HIGH, AlarmState::Alarm), AlarmState::InsufficientData);
    }
}
