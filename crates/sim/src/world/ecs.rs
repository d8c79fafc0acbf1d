//! ECS: services and their tasks, the service scheduler (binpack placement, deployments, drains moving
//! tasks), and what the ECS API answers about them.

use std::collections::HashMap;

use chrono::Duration;
use ecs_scaler_core::drain::required_tasks;
use ecs_scaler_core::{ContainerInstance, Resources, Scheduling, Service, ServiceEvent, Task, TaskHealth};

use super::{CLUSTER, EcsStatus, World};
use crate::scenario::{Scenario, ServiceSpec};

const UNABLE_TO_PLACE: &str = "was unable to place a task because no container instance met all of its requirements.";

/// One task, PENDING or RUNNING.
#[derive(Debug, Clone)]
pub struct SimTask {
    pub id: u64,
    pub instance: usize,
    pub placed: u32,
    pub running: bool,
}

impl SimTask {
    fn arn(&self) -> String {
        format!("arn:aws:ecs:sim:000000000000:task/{CLUSTER}/{}", self.id)
    }
}

/// Everything about one service: its scenario spec and trace, what DescribeServices reports, and its tasks.
#[derive(Debug, Clone)]
pub struct ServiceState {
    pub spec: ServiceSpec,
    /// What DescribeServices reports besides the counts ([`World::services_now`] fills those in): the name,
    /// settings and events.
    pub service: Service,
    /// Live tasks.
    pub tasks: Vec<SimTask>,
    pub desired: u32,
    /// Tasks the scheduler could not place this minute.
    pub unplaced: u32,
    /// RUNNING tasks lost with terminated instances and not got back yet.
    pub lost: u32,
    /// Desired count change points, and the next one to apply.
    trace: Vec<(u32, u32)>,
    cursor: usize,
}

impl ServiceState {
    pub fn is_replica(&self) -> bool {
        self.spec.scheduling == Scheduling::Replica
    }

    pub fn apply_trace(&mut self, t: u32) {
        while let Some(&(minute, desired)) = self.trace.get(self.cursor) {
            if minute > t {
                break;
            }
            self.desired = desired;
            self.cursor += 1;
        }
    }
}

/// The task definition ARN of a service's tasks.
pub fn task_definition_arn(spec: &ServiceSpec) -> String {
    format!("arn:aws:ecs:sim:000000000000:task-definition/{}:1", spec.name)
}

/// The ECS side of the world.
#[derive(Debug)]
pub struct Ecs {
    pub services: Vec<ServiceState>,
    /// Tasks the scheduler stopped on DRAINING instances, as ECS lists stopped tasks (for an hour).
    pub stopped_tasks: Vec<Task>,
    pub next_task: u64,
    /// Every task ever started, stopped or killed, warm-up included (the tally counts only recorded minutes).
    pub started: u64,
    pub stopped: u64,
    pub killed: u64,
    /// CPU units and MiB every ACTIVE instance gives to daemons.
    pub daemon_overhead: (u32, u32),
    /// The cluster's tags (TagResource), as DescribeClusters reports them.
    pub cluster_tags: HashMap<String, String>,
}

impl Ecs {
    pub fn new(scenario: &Scenario) -> Self {
        let services = scenario
            .services
            .iter()
            .zip(scenario.trace())
            .map(|(spec, trace)| ServiceState {
                service: Service {
                    name: spec.name.clone(),
                    scheduling: spec.scheduling,
                    desired: 0,
                    running: 0,
                    pending: 0,
                    min_healthy_percent: Some(spec.min_healthy_percent),
                    task_definition: task_definition_arn(spec),
                    tags: HashMap::new(),
                    events: Vec::new(),
                    placement_constraints: Vec::new(),
                },
                spec: spec.clone(),
                tasks: Vec::new(),
                desired: spec.desired,
                unplaced: 0,
                lost: 0,
                trace,
                cursor: 0,
            })
            .collect();
        Self {
            services,
            stopped_tasks: Vec::new(),
            next_task: 0,
            started: 0,
            stopped: 0,
            killed: 0,
            daemon_overhead: scenario.daemon_overhead(),
            cluster_tags: HashMap::new(),
        }
    }
}

/// A service's live tasks by where they are and whether they run.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub active_pending: u32,
    pub active_running: u32,
    pub draining_pending: u32,
    pub draining_running: u32,
}

impl Counts {
    pub fn on_active(&self) -> u32 {
        self.active_pending + self.active_running
    }

    pub fn live(&self) -> u32 {
        self.on_active() + self.draining_pending + self.draining_running
    }

    pub fn running(&self) -> u32 {
        self.active_running + self.draining_running
    }
}

impl World {
    /// A task placed `task_start_minutes` ago is RUNNING.
    pub fn start_tasks(&mut self) {
        let (t, delay) = (self.tick, self.knobs.task_start_minutes);
        for service in &mut self.ecs.services {
            for task in service.tasks.iter_mut().filter(|task| !task.running && task.placed + delay <= t) {
                task.running = true;
            }
        }
    }

    /// An instance launched `ecs_active_minutes` ago registers ACTIVE and gets its daemons.
    pub fn activate_instances(&mut self) {
        let ready = i64::from(self.tick) - i64::from(self.knobs.ecs_active_minutes);
        let newly: Vec<usize> = (0..self.instances.len())
            .filter(|&i| self.instances[i].ecs == EcsStatus::Unregistered && self.instances[i].launched <= ready)
            .filter(|&i| self.instances[i].lifecycle != super::Lifecycle::Terminated)
            .collect();
        for index in newly {
            self.instances[index].ecs = EcsStatus::Active;
            self.place_daemons(index, false);
        }
    }

    pub(super) fn place_daemons(&mut self, instance: usize, running: bool) {
        for service in 0..self.ecs.services.len() {
            let spec = &self.ecs.services[service].spec;
            if spec.scheduling == Scheduling::Daemon && self.instances[instance].fits(spec.cpu, spec.memory) {
                self.put(service, instance, running);
            }
        }
    }

    /// Start one task of `service` on `instance`.
    fn put(&mut self, service: usize, instance: usize, running: bool) {
        let state = &mut self.ecs.services[service];
        let target = &mut self.instances[instance];
        target.used_cpu += state.spec.cpu;
        target.used_memory += state.spec.memory;
        target.tasks += 1;
        if state.is_replica() {
            target.replica_tasks += 1;
        }
        state.tasks.push(SimTask { id: self.ecs.next_task, instance, placed: self.tick, running });
        self.ecs.next_task += 1;
        self.ecs.started += 1;
        if self.tick >= self.warmup {
            self.tally.tasks_started += 1;
        }
    }

    /// Binpack on memory: the ACTIVE instance that fits the task with the least memory left, then the least CPU
    /// left, then the oldest. `None` when no instance has room.
    pub(super) fn place(&mut self, service: usize, running: bool) -> Option<usize> {
        let (cpu, memory) = (self.ecs.services[service].spec.cpu, self.ecs.services[service].spec.memory);
        let best = self
            .instances
            .iter()
            .enumerate()
            .filter(|(_, i)| i.ecs == EcsStatus::Active && i.fits(cpu, memory))
            .min_by_key(|(index, i)| (i.free_memory(), i.cpu - i.used_cpu, *index))
            .map(|(index, _)| index)?;
        self.put(service, best, running);
        Some(best)
    }

    /// Remove the tasks at these positions of the service's tasks, releasing their reservations.
    fn remove_tasks(&mut self, service: usize, mut positions: Vec<usize>, killed: bool) {
        positions.sort_unstable();
        positions.dedup();
        let now = self.now();
        let recording = self.tick >= self.warmup;
        let state = &mut self.ecs.services[service];
        for &position in positions.iter().rev() {
            let task = state.tasks.swap_remove(position);
            let instance = &mut self.instances[task.instance];
            if !killed && instance.draining() {
                if state.spec.scheduling == Scheduling::Replica {
                    self.tally.tasks_moved += u64::from(recording);
                }
                self.ecs.stopped_tasks.push(Task {
                    arn: task.arn(),
                    container_instance_arn: Some(instance.arn.clone()),
                    group: Some(state.service.task_group()),
                    last_status: "STOPPED".into(),
                    health: TaskHealth::Unknown,
                    stopped_at: Some(now),
                    task_definition_arn: Some(state.service.task_definition.clone()),
                    eni: false,
                });
            }
            instance.used_cpu -= state.spec.cpu;
            instance.used_memory -= state.spec.memory;
            instance.tasks -= 1;
            if state.is_replica() {
                instance.replica_tasks -= 1;
            }
            // Daemons going with their instance is the normal way out for them.
            if killed && state.is_replica() {
                self.ecs.killed += 1;
                self.tally.tasks_killed += u64::from(recording);
            } else {
                self.ecs.stopped += 1;
                self.tally.tasks_stopped += u64::from(recording);
            }
        }
    }

    /// Every task on a terminated instance dies with it.
    pub(super) fn kill_tasks_on(&mut self, index: usize) {
        for service in 0..self.ecs.services.len() {
            let state = &mut self.ecs.services[service];
            let doomed: Vec<usize> = (0..state.tasks.len()).filter(|&p| state.tasks[p].instance == index).collect();
            if state.is_replica() {
                state.lost += doomed.iter().filter(|&&p| state.tasks[p].running).count() as u32;
            }
            if !doomed.is_empty() {
                self.remove_tasks(service, doomed, true);
            }
        }
    }

    pub fn counts(&self) -> Vec<Counts> {
        let mut counts = vec![Counts::default(); self.ecs.services.len()];
        for (c, service) in counts.iter_mut().zip(&self.ecs.services) {
            for task in &service.tasks {
                match (self.instances[task.instance].draining(), task.running) {
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
    pub fn schedule(&mut self) -> u32 {
        let now = self.now();
        let mut counts = self.counts();
        let mut unplaced_total = 0;
        for (service, c) in counts.iter_mut().enumerate() {
            if !self.ecs.services[service].is_replica() {
                continue;
            }
            let desired = self.ecs.services[service].desired;
            if c.on_active() > desired {
                let excess = (c.on_active() - desired) as usize;
                let tasks = &self.ecs.services[service].tasks;
                let mut candidates: Vec<usize> =
                    (0..tasks.len()).filter(|&p| self.instances[tasks[p].instance].ecs == EcsStatus::Active).collect();
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

            let spec = &self.ecs.services[service].spec;
            let max_live = desired * spec.maximum_percent.max(100) as u32 / 100;
            let min_healthy = spec.min_healthy_percent;
            let wanted = desired.saturating_sub(c.on_active()).min(max_live.saturating_sub(c.live()));
            let mut placed = 0;
            while placed < wanted && self.place(service, false).is_some() {
                placed += 1;
            }
            c.active_pending += placed;
            let unplaced = wanted - placed;
            let state = &mut self.ecs.services[service];
            state.unplaced = unplaced;
            if unplaced > 0 {
                unplaced_total += unplaced;
                let message = format!("(service {}) {UNABLE_TO_PLACE}", state.service.name);
                state.service.events.insert(0, ServiceEvent { created_at: now, message });
            }

            if c.draining_pending + c.draining_running > 0 {
                let required = required_tasks(desired as i32, min_healthy) as u32;
                let mut stoppable = c.running().saturating_sub(required).min(c.draining_running);
                let mut stop = Vec::new();
                for (p, task) in self.ecs.services[service].tasks.iter().enumerate() {
                    if !self.instances[task.instance].draining() {
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
        for state in &mut self.ecs.services {
            state.service.events.retain(|event| now - event.created_at <= window);
        }
        unplaced_total
    }

    /// Tasks whose desired status is RUNNING, as DescribeTasks reports them; only those on one container
    /// instance when it is given.
    pub fn task_list(&self, on: Option<&str>) -> Vec<Task> {
        let mut tasks = Vec::new();
        for state in &self.ecs.services {
            let group = state.service.task_group();
            let here = |task: &&SimTask| on.is_none_or(|arn| self.instances[task.instance].arn == arn);
            tasks.extend(state.tasks.iter().filter(here).map(|task| Task {
                arn: task.arn(),
                container_instance_arn: Some(self.instances[task.instance].arn.clone()),
                group: Some(group.clone()),
                last_status: if task.running { "RUNNING" } else { "PENDING" }.to_owned(),
                health: TaskHealth::Healthy,
                stopped_at: None,
                task_definition_arn: Some(state.service.task_definition.clone()),
                eni: false,
            }));
        }
        tasks
    }

    /// The stopped tasks ECS still lists for a container instance: stopped within the last hour. Tasks stop
    /// the minute they are told to: nothing is ever left stopping, only stopped.
    pub fn stopped_on(&mut self, container_instance_arn: &str) -> Vec<Task> {
        let hour_ago = self.now() - Duration::hours(1);
        self.ecs.stopped_tasks.retain(|task| task.stopped_at.is_some_and(|at| at >= hour_ago));
        let on = |task: &&Task| task.container_instance_arn.as_deref() == Some(container_instance_arn);
        self.ecs.stopped_tasks.iter().filter(on).cloned().collect()
    }

    /// A registered container instance as DescribeContainerInstances reports it.
    pub fn container_instance(&self, index: usize) -> ContainerInstance {
        let instance = &self.instances[index];
        let status = match instance.ecs {
            EcsStatus::Active => "ACTIVE",
            EcsStatus::Draining { .. } => "DRAINING",
            EcsStatus::Unregistered => "REGISTERING",
            EcsStatus::Gone => "INACTIVE",
        };
        ContainerInstance {
            arn: instance.arn.clone(),
            ec2_instance_id: Some(instance.ec2_instance_id.clone()),
            status: status.to_owned(),
            attributes: instance.attributes.clone(),
            registered: Some(Resources::new(instance.cpu, instance.memory)),
            remaining: Some(Resources::new(instance.cpu - instance.used_cpu, instance.memory - instance.used_memory)),
            tasks: Some(instance.tasks),
            ..ContainerInstance::default()
        }
    }

    /// The registered container instance of an EC2 instance, if any.
    pub fn registered_index(&self, ec2_instance_id: &str) -> Option<usize> {
        self.instances.iter().position(|i| i.registered() && i.ec2_instance_id == ec2_instance_id)
    }

    /// UpdateContainerInstancesState DRAINING; a no-op for one already draining.
    pub fn drain(&mut self, container_instance_arn: &str) -> Option<ContainerInstance> {
        let tick = self.tick;
        let index = self.instances.iter().position(|i| i.registered() && i.arn == container_instance_arn)?;
        if self.instances[index].ecs == EcsStatus::Active {
            self.instances[index].ecs = EcsStatus::Draining { since: tick };
        }
        Some(self.container_instance(index))
    }

    /// Every service as DescribeServices reports it now: the desired count (a DAEMON's is its ACTIVE
    /// instances), RUNNING and PENDING tasks, copies on DRAINING instances included, and the recent events.
    pub fn services_now(&self) -> Vec<Service> {
        let active = self.instances.iter().filter(|i| i.ecs == EcsStatus::Active).count() as i32;
        self.ecs
            .services
            .iter()
            .zip(self.counts())
            .map(|(state, c)| Service {
                desired: if state.is_replica() { state.desired as i32 } else { active },
                running: c.running() as i32,
                pending: (c.live() - c.running()) as i32,
                ..state.service.clone()
            })
            .collect()
    }

    /// What one task of a task definition reserves.
    pub fn task_size(&self, arn: &str) -> Option<Resources> {
        let state = self.ecs.services.iter().find(|s| s.service.task_definition == arn)?;
        Some(Resources::new(state.spec.cpu, state.spec.memory))
    }

    /// Tasks RUNNING and PENDING in the cluster, daemons included, as DescribeClusters counts them.
    pub fn task_counts(&self) -> (u32, u32) {
        let tasks = self.ecs.services.iter().flat_map(|s| &s.tasks);
        tasks.fold(
            (0, 0),
            |(running, pending), t| if t.running { (running + 1, pending) } else { (running, pending + 1) },
        )
    }
}
