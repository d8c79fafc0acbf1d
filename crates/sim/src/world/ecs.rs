//! ECS: services and their tasks, the service scheduler (placement in [`super::placement`], deployments, drains
//! moving tasks), and what the ECS API answers about them.

use std::collections::HashMap;

use chrono::Duration;
use ecs_scaler_core::cluster::{ContainerSize, HostPorts, PlacementConstraint, PortMapping, Protocol as CoreProtocol};
use ecs_scaler_core::drain::required_tasks;
use ecs_scaler_core::{
    ContainerInstance, Resources, Scheduling, Service, ServiceEvent, Task, TaskDefinition, TaskHealth,
};

use super::placement::{Needs, Unplaced};
use super::{CLUSTER, EcsStatus, World};
use crate::scenario::{AGENT_RESERVED_PORTS, Constraint, NetworkMode, Protocol, Scenario, ServiceSpec};

/// How long ECS omits a duplicate service event message while its cause lasts.
const DUPLICATES_OMITTED: chrono::Duration = chrono::Duration::hours(6);
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
    /// What one of its tasks needs of an instance.
    pub needs: Needs,
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

/// A scenario's constraint as ECS's API reports it.
fn core_constraint(constraint: &Constraint) -> PlacementConstraint {
    match constraint {
        Constraint::DistinctInstance => PlacementConstraint::DistinctInstance,
        Constraint::MemberOf { expression } => PlacementConstraint::MemberOf(expression.clone()),
    }
}

/// A service's task definition as DescribeTaskDefinition reports it: task-level CPU and memory, one container
/// with its port mappings and GPUs, the network mode (bridge is reported as such: ECS's default on Linux), and
/// the definition's memberOf constraints.
pub fn task_definition(spec: &ServiceSpec) -> TaskDefinition {
    let mode = match spec.network_mode {
        NetworkMode::Bridge => "bridge",
        NetworkMode::Host => "host",
        NetworkMode::Awsvpc => "awsvpc",
    };
    let port_mappings = spec
        .ports
        .iter()
        .map(|p| PortMapping {
            container_port: Some(p.container_port),
            host_port: p.host_port,
            protocol: match p.protocol {
                Protocol::Tcp => CoreProtocol::Tcp,
                Protocol::Udp => CoreProtocol::Udp,
            },
        })
        .collect();
    TaskDefinition {
        arn: task_definition_arn(spec),
        cpu: Some(spec.cpu.to_string()),
        memory: Some(spec.memory.to_string()),
        containers: vec![ContainerSize {
            cpu: spec.cpu,
            memory: Some(spec.memory),
            memory_reservation: None,
            port_mappings,
            gpus: spec.gpus,
        }],
        network_mode: Some(mode.to_owned()),
        placement_constraints: spec.task_definition_constraints.iter().map(core_constraint).collect(),
    }
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
                    tags: spec.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    events: Vec::new(),
                    placement_constraints: spec.placement_constraints.iter().map(core_constraint).collect(),
                },
                needs: Needs::of(spec),
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

    /// One task of every DAEMON service whose task fits the instance, under all of its requirements.
    pub(super) fn place_daemons(&mut self, instance: usize, running: bool) {
        for service in 0..self.ecs.services.len() {
            let state = &self.ecs.services[service];
            if state.spec.scheduling == Scheduling::Daemon
                && super::placement::refusal(&state.needs, &self.instances[instance], 0).is_none()
            {
                self.put(service, instance, running);
            }
        }
    }

    /// Start one task of `service` on `instance`.
    pub(super) fn put(&mut self, service: usize, instance: usize, running: bool) {
        let state = &mut self.ecs.services[service];
        let target = &mut self.instances[instance];
        let needs = &state.needs;
        target.used_cpu += needs.cpu;
        target.used_memory += needs.memory;
        target.used_gpus += needs.gpus;
        target.ports.add(&needs.ports);
        target.enis += u32::from(needs.eni);
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

    /// Place one task of `service` as ECS would ([`World::choose_instance`]); where none fits, who came closest.
    pub(super) fn place(&mut self, service: usize, running: bool) -> Result<usize, Unplaced> {
        let best = self.choose_instance(service)?;
        self.put(service, best, running);
        Ok(best)
    }

    /// Remove the tasks at these positions of the service's tasks, releasing what they held.
    pub(super) fn remove_tasks(&mut self, service: usize, mut positions: Vec<usize>, killed: bool) {
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
                    *self.tally.moved_by_service.entry(state.spec.name.clone()).or_default() += u64::from(recording);
                    if state.service.do_not_disrupt() {
                        self.tally.protected_tasks_moved += u64::from(recording);
                    }
                }
                self.ecs.stopped_tasks.push(Task {
                    arn: task.arn(),
                    container_instance_arn: Some(instance.arn.clone()),
                    group: Some(state.service.task_group()),
                    last_status: "STOPPED".into(),
                    health: TaskHealth::Unknown,
                    stopped_at: Some(now),
                    task_definition_arn: Some(state.service.task_definition.clone()),
                    eni: state.needs.eni,
                });
            }
            let needs = &state.needs;
            instance.used_cpu -= needs.cpu;
            instance.used_memory -= needs.memory;
            instance.used_gpus -= needs.gpus;
            instance.ports.remove(&needs.ports);
            instance.enis -= u32::from(needs.eni);
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

    /// The service event for a task no instance could take: "(service X) was unable to place a task because no
    /// container instance met all of its requirements.", and, where ECS's wording for it is known, what the
    /// closest matching instance lacked.
    pub fn unable_to_place(&self, service: usize, unplaced: Unplaced) -> String {
        let name = &self.ecs.services[service].service.name;
        let closest = unplaced.closest.and_then(|(instance, why)| why.closest(&self.instances[instance]));
        match closest {
            Some(closest) => format!("(service {name}) {UNABLE_TO_PLACE} {closest}"),
            None => format!("(service {name}) {UNABLE_TO_PLACE}"),
        }
    }

    /// The ECS service scheduler, once per minute, for every REPLICA service:
    /// 1. more tasks than desired on ACTIVE instances: stop the extra ones, one at a time
    ///    ([`World::choose_task_to_stop`]: PENDING first, then as the placement strategy frees instances);
    /// 2. fewer: start the missing ones ([`World::choose_instance`]), without exceeding maximumPercent of desired
    ///    counting copies on DRAINING instances; a task that fits nowhere stays unplaced and the service gets an
    ///    "unable to place" event;
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
            for _ in desired..c.on_active() {
                let Some(p) = self.choose_task_to_stop(service) else { break };
                if self.ecs.services[service].tasks[p].running {
                    c.active_running -= 1;
                } else {
                    c.active_pending -= 1;
                }
                self.remove_tasks(service, vec![p], false);
            }

            let spec = &self.ecs.services[service].spec;
            let max_live = desired * spec.maximum_percent.max(100) as u32 / 100;
            let min_healthy = spec.min_healthy_percent;
            let wanted = desired.saturating_sub(c.on_active()).min(max_live.saturating_sub(c.live()));
            let mut placed = 0;
            let mut failure = None;
            while placed < wanted {
                match self.place(service, false) {
                    Ok(_) => placed += 1,
                    Err(unplaced) => {
                        failure = Some(unplaced);
                        break;
                    }
                }
            }
            c.active_pending += placed;
            let unplaced = wanted - placed;
            let message = failure.map(|f| self.unable_to_place(service, f));
            let state = &mut self.ecs.services[service];
            state.unplaced = unplaced;
            if placed > 0 {
                let message = format!("(service {}) has started {placed} tasks.", state.service.name);
                state.service.events.insert(0, ServiceEvent { created_at: now, message });
            }
            if let Some(message) = message {
                unplaced_total += unplaced;
                // ECS omits a duplicate event message until its cause is resolved (another event came) or six
                // hours pass.
                let newest = state.service.events.first();
                let duplicate = newest.is_some_and(|e| e.message == message && now - e.created_at < DUPLICATES_OMITTED);
                if !duplicate {
                    state.service.events.insert(0, ServiceEvent { created_at: now, message });
                }
            }
            // DescribeServices shows the 100 newest.
            state.service.events.truncate(100);

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
                eni: state.needs.eni,
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
            attributes: instance.attributes.values.clone(),
            registered: Some(Resources::new(instance.cpu, instance.memory).with_gpu(instance.gpus)),
            remaining: Some(
                Resources::new(instance.free_cpu(), instance.free_memory())
                    .with_gpu(instance.gpus - instance.used_gpus),
            ),
            tasks: Some(instance.tasks),
            reserved_ports: Some(HostPorts { tcp: AGENT_RESERVED_PORTS.into(), udp: Default::default() }),
            ports_in_use: Some(instance.ports.clone()),
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

    /// A task definition, as DescribeTaskDefinition reports it.
    pub fn task_definition(&self, arn: &str) -> Option<TaskDefinition> {
        let state = self.ecs.services.iter().find(|s| s.service.task_definition == arn)?;
        Some(task_definition(&state.spec))
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
