//! The one candidate walk: which ACTIVE instances can go, in which order, each judged against the room the
//! earlier ones used. Consolidation takes the first instance that can go, the surplus counts how many can go
//! at once, and the termination policy walks Auto Scaling's candidates zone by zone; all three call [`Walk`].
//!
//! An instance can go when every task on it that a drain would move (not its daemons, which go with it) fits
//! the other ACTIVE instances by [`super::pack`], under every dimension of the model, and, when limits are
//! given, both reservations stay below their max less a headroom without it. It stays when a task on it is
//! standalone (nothing would start it again), belongs to a service already below its minimum or tagged
//! `ecs-scaler:do-not-disrupt=true` (REPLICA services: a daemon runs everywhere, so its tag would freeze every
//! instance), or cannot be judged (an unknown task definition, an expression the model does not track, an ENI
//! limit it does not know).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

use super::constraints::Attributes;
use super::instance_types::{InstanceTypeInfo, awsvpc_task_limit};
use super::model::{Demand, Slot, Unjudgeable};
use super::pack::{self, Misfit};
use crate::cluster::{ContainerInstance, Resources, Scheduling, Service, Task, TaskDefinition};
use crate::config::{TAG_DO_NOT_DISRUPT, Thresholds};
use crate::drain::required_tasks;

/// What the walk knows about a cluster: plain data, read by whoever calls it.
#[derive(Debug, Clone, Copy)]
pub struct ClusterView<'a> {
    /// Every registered container instance (ACTIVE and DRAINING).
    pub instances: &'a [ContainerInstance],
    pub services: &'a [Service],
    /// The desired-RUNNING tasks of each container instance read, by container instance ARN. An instance
    /// missing here has unknown tasks: it can still take tasks of CPU, memory, GPUs and ports, but not be
    /// judged for ENIs or `distinctInstance`, nor removed.
    pub tasks: &'a HashMap<String, Vec<Task>>,
    /// The task definitions read, by ARN.
    pub definitions: &'a HashMap<String, TaskDefinition>,
    /// The instance types read (for ENI limits), by name.
    pub types: &'a HashMap<String, InstanceTypeInfo>,
}

impl<'a> ClusterView<'a> {
    pub fn service(&self, name: &str) -> Option<&'a Service> {
        self.services.iter().find(|s| s.name == name)
    }

    /// What one task needs of an instance: its task definition's size, ports, network mode and constraints,
    /// and its service's constraints.
    pub fn demand(&self, task: &Task) -> Result<Demand, Unjudgeable> {
        let arn = task.task_definition_arn.as_deref().unwrap_or_default();
        let definition = self
            .definitions
            .get(arn)
            .ok_or_else(|| Unjudgeable(format!("the task definition of task {} ({arn}) is not known", task.arn)))?;
        let service = task.service_name().and_then(|name| self.service(name));
        let group = task.group.clone().unwrap_or_else(|| format!("task:{}", task.arn));
        Demand::new(definition, &group, service.map(|s| s.placement_constraints.as_slice()).unwrap_or_default())
    }

    /// What one more task of `service` needs.
    pub fn service_demand(&self, service: &Service) -> Result<Demand, Unjudgeable> {
        let definition = self.definitions.get(&service.task_definition).ok_or_else(|| {
            Unjudgeable(format!(
                "the task definition of service {} ({}) is not known",
                service.name, service.task_definition
            ))
        })?;
        Demand::new(definition, &service.task_group(), &service.placement_constraints)
    }

    /// Whether a task uses an ENI: its attachment says so, or its task definition's network mode.
    fn uses_eni(&self, task: &Task) -> bool {
        task.eni
            || task
                .task_definition_arn
                .as_ref()
                .and_then(|arn| self.definitions.get(arn))
                .is_some_and(|d| d.is_awsvpc())
    }

    /// One ACTIVE instance as a slot; `None` when its sizes were not read.
    pub fn slot(&self, instance: &ContainerInstance) -> Option<Slot> {
        let (registered, free) = (instance.registered?, instance.remaining?);
        let tasks = self.tasks.get(&instance.arn);
        let limit = instance
            .instance_type()
            .and_then(|name| awsvpc_task_limit(name, self.types.get(name), instance.has_trunk()));
        let enis = match (limit, tasks) {
            (Some(limit), Some(tasks)) => {
                let used = tasks.iter().filter(|t| self.uses_eni(t)).count();
                Some(limit.saturating_sub(u32::try_from(used).unwrap_or(u32::MAX)))
            }
            _ => None,
        };
        let groups = tasks.map(|tasks| {
            let mut groups: HashMap<String, u32> = HashMap::new();
            for group in tasks.iter().filter_map(|t| t.group.clone()) {
                *groups.entry(group).or_default() += 1;
            }
            groups
        });
        Some(Slot {
            id: instance.arn.clone(),
            label: instance.id().to_owned(),
            attributes: Attributes {
                values: instance.attributes.clone(),
                ec2_instance_id: instance.ec2_instance_id.clone(),
                complete: true,
            },
            registered,
            free,
            ports: instance.ports_in_use.clone(),
            enis,
            groups,
        })
    }
}

/// The ACTIVE instances in the order they are cheapest to remove: fewest tasks (daemons included, which every
/// instance runs alike), then least reserved (dominant share of what it registered), then ARN for a stable
/// order. Instances whose sizes or task count are unknown are left out: they cannot be judged.
pub fn removal_order(instances: &[ContainerInstance]) -> Vec<&ContainerInstance> {
    let mut order: Vec<(&ContainerInstance, u32, f64)> = instances
        .iter()
        .filter(|i| i.is_active())
        .filter_map(|i| Some((i, i.tasks?, used_share(i.registered?, i.remaining?))))
        .collect();
    order.sort_by(|a, b| {
        a.1.cmp(&b.1).then(a.2.partial_cmp(&b.2).unwrap_or(Ordering::Equal)).then_with(|| a.0.arn.cmp(&b.0.arn))
    });
    order.into_iter().map(|(i, _, _)| i).collect()
}

/// The larger of the CPU and memory shares an instance has reserved.
fn used_share(registered: Resources, remaining: Resources) -> f64 {
    let part = |of: u32, left: u32| if of == 0 { 1.0 } else { f64::from(of.saturating_sub(left)) / f64::from(of) };
    part(registered.cpu, remaining.cpu).max(part(registered.memory, remaining.memory))
}

/// The reservation limits a voluntary removal must respect: both reservations below their max less `headroom`
/// without the instance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub cpu: Thresholds,
    pub memory: Thresholds,
    pub headroom: f64,
}

impl Limits {
    /// Whether reservations (%) reach a max less the headroom.
    pub fn exceeded(&self, cpu: f64, memory: f64) -> bool {
        cpu >= self.cpu.max - self.headroom || memory >= self.memory.max - self.headroom
    }
}

/// An instance that can go, and what its going does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Removal {
    pub container_instance_arn: String,
    pub ec2_instance_id: Option<String>,
    /// Its non-daemon tasks, which the drain moves to the other instances.
    pub moved_tasks: u32,
    /// The other ACTIVE instances that take them.
    pub remaining_instances: u32,
    /// Cluster reservation (%) without it.
    pub cpu_after: f64,
    pub memory_after: f64,
    /// The other instances' slots with its tasks placed on them.
    #[serde(skip)]
    after: Vec<Slot>,
    /// Which slot each moved task landed on.
    #[serde(skip)]
    landed: Vec<(String, Demand)>,
}

impl fmt::Display for Removal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.ec2_instance_id.as_deref().unwrap_or(&self.container_instance_arn);
        write!(
            f,
            "instance {id} can go: its {} task(s) fit the other {} ACTIVE instance(s), leaving cpu {:.1}% and \
             memory {:.1}%",
            self.moved_tasks, self.remaining_instances, self.cpu_after, self.memory_after
        )
    }
}

/// Why an instance stays.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kept", rename_all = "snake_case")]
pub enum Kept {
    /// No other ACTIVE instance with known sizes would be left.
    LastInstance,
    /// Its tasks were not read.
    TasksUnknown,
    /// A task not started by a service: nothing would start it again elsewhere.
    Standalone { task: String },
    /// A task of a service already below its minimum healthy count.
    BelowMin { service: String },
    /// A task of a service tagged `ecs-scaler:do-not-disrupt=true`.
    DoNotDisrupt { service: String },
    /// A task the model cannot judge.
    Unjudged { task: String, why: String },
    /// Tasks that fit none of the other instances.
    FitsNowhere { tasks: u32, why: Misfit },
    /// Without it a reservation would come within the headroom of its max.
    AboveMax { cpu_after: f64, memory_after: f64 },
}

impl fmt::Display for Kept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kept::LastInstance => f.write_str("it is the last ACTIVE instance"),
            Kept::TasksUnknown => f.write_str("its tasks were not read"),
            Kept::Standalone { task } => write!(f, "standalone task {task} runs on it"),
            Kept::BelowMin { service } => write!(f, "service {service} is already below its minimum healthy count"),
            Kept::DoNotDisrupt { service } => write!(f, "service {service} is tagged {TAG_DO_NOT_DISRUPT}=true"),
            Kept::Unjudged { task, why } => write!(f, "task {task} cannot be judged: {why}"),
            Kept::FitsNowhere { tasks, why } => write!(f, "{tasks} of its tasks fit no other instance ({why})"),
            Kept::AboveMax { cpu_after, memory_after } => {
                write!(f, "without it cpu would be {cpu_after:.1}% and memory {memory_after:.1}%, too near max")
            }
        }
    }
}

/// A task on a DRAINING instance that found no room on the ACTIVE ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stuck {
    pub task: String,
    pub service: Option<String>,
    pub why: Misfit,
}

/// The walk over a cluster's ACTIVE instances: each removal judged against what the earlier ones left.
#[derive(Debug, Clone)]
pub struct Walk<'a> {
    view: ClusterView<'a>,
    /// One per ACTIVE instance with known sizes, with what has been placed on them so far.
    slots: Vec<Slot>,
    /// Container instance ARNs already judged gone.
    gone: Vec<String>,
    /// Tasks the walk moved onto an instance (from one judged gone): they move again if it goes too.
    carried: HashMap<String, Vec<Demand>>,
}

impl<'a> Walk<'a> {
    pub fn new(view: ClusterView<'a>) -> Self {
        let slots = view.instances.iter().filter(|i| i.is_active()).filter_map(|i| view.slot(i)).collect();
        Self { view, slots, gone: Vec::new(), carried: HashMap::new() }
    }

    /// Give the tasks still on DRAINING instances their room first: the drains in progress will start them on
    /// ACTIVE instances, so a removal must not count on that room. Returns the ones that found none (a drain
    /// stuck for lack of room), and those whose instance's tasks were not read are skipped.
    pub fn reserve_for_draining(&mut self) -> Vec<Stuck> {
        let mut stuck = Vec::new();
        let draining: Vec<&ContainerInstance> = self.view.instances.iter().filter(|i| i.is_draining()).collect();
        for instance in draining {
            let Some(tasks) = self.view.tasks.get(&instance.arn) else { continue };
            let moving: Vec<&Task> = tasks.iter().filter(|t| self.moves(t)).collect();
            let demands: Vec<(usize, Demand)> =
                moving.iter().enumerate().filter_map(|(i, t)| Some((i, self.view.demand(t).ok()?))).collect();
            let only: Vec<Demand> = demands.iter().map(|(_, d)| d.clone()).collect();
            let reference = instance.registered.unwrap_or_default();
            let packing = pack::pack(&only, &mut self.slots, reference);
            for (demand, slot) in packing.placed {
                // They move again if the instance they were given room on is judged gone.
                self.carried.entry(self.slots[slot].id.clone()).or_default().push(only[demand].clone());
            }
            for (index, why) in packing.left {
                let task = moving[demands[index].0];
                stuck.push(Stuck { task: task.arn.clone(), service: task.service_name().map(str::to_owned), why });
            }
        }
        stuck
    }

    /// Whether a drain moves this task: a task of a REPLICA service (daemons go with their instance; a
    /// standalone task is not restarted).
    fn moves(&self, task: &Task) -> bool {
        task.service_name()
            .and_then(|name| self.view.service(name))
            .is_some_and(|s| s.scheduling == Scheduling::Replica)
    }

    /// The ACTIVE instances not judged gone yet, in removal order.
    pub fn order(&self) -> Vec<&'a ContainerInstance> {
        removal_order(self.view.instances).into_iter().filter(|i| !self.gone.contains(&i.arn)).collect()
    }

    /// Whether `candidate` can go now, given the removals already made.
    pub fn judge(&self, candidate: &ContainerInstance, limits: Option<Limits>) -> Result<Removal, Kept> {
        let Some(own) = self.slots.iter().position(|s| s.id == candidate.arn) else { return Err(Kept::LastInstance) };
        if self.gone.contains(&candidate.arn) {
            return Err(Kept::LastInstance);
        }
        let mut others: Vec<Slot> =
            self.slots.iter().filter(|s| s.id != candidate.arn && !self.gone.contains(&s.id)).cloned().collect();
        if others.is_empty() {
            return Err(Kept::LastInstance);
        }
        let tasks = self.view.tasks.get(&candidate.arn).ok_or(Kept::TasksUnknown)?;
        let mut moved: Vec<Demand> = self.carried.get(&candidate.arn).cloned().unwrap_or_default();
        let mut daemons = Resources::default();
        for task in tasks.iter().filter(|t| t.container_instance_arn.as_deref().is_none_or(|on| on == candidate.arn)) {
            let Some(service) = task.service_name().and_then(|name| self.view.service(name)) else {
                return Err(Kept::Standalone { task: task.arn.clone() });
            };
            if service.scheduling == Scheduling::Daemon {
                // Daemons go with their instance; an unknown size only makes the estimate more cautious.
                daemons = daemons.plus(self.view.demand(task).map(|d| d.resources).unwrap_or_default());
                continue;
            }
            if service.do_not_disrupt() {
                return Err(Kept::DoNotDisrupt { service: service.name.clone() });
            }
            let required = required_tasks(service.desired, service.min_healthy_percent.unwrap_or(100));
            if usize::try_from(service.running.max(0)).unwrap_or(0) < required {
                return Err(Kept::BelowMin { service: service.name.clone() });
            }
            let demand = self.view.demand(task).map_err(|why| Kept::Unjudged { task: task.arn.clone(), why: why.0 })?;
            moved.push(demand);
        }
        let reference = self.slots[own].registered;
        let packing = pack::pack(&moved, &mut others, reference);
        let left = &packing.left;
        if let Some((index, why)) = left.iter().find(|(_, why)| matches!(why, Misfit::Unknown { .. })) {
            let task = moved[*index].group.clone();
            return Err(Kept::Unjudged { task: format!("of {task}"), why: why.to_string() });
        }
        if let Some((_, why)) = left.first() {
            return Err(Kept::FitsNowhere { tasks: u32::try_from(left.len()).unwrap_or(u32::MAX), why: why.clone() });
        }
        let (cpu_after, memory_after) = self.reservations_without(&candidate.arn, daemons);
        if limits.is_some_and(|limits| limits.exceeded(cpu_after, memory_after)) {
            return Err(Kept::AboveMax { cpu_after, memory_after });
        }
        Ok(Removal {
            container_instance_arn: candidate.arn.clone(),
            ec2_instance_id: candidate.ec2_instance_id.clone(),
            moved_tasks: u32::try_from(moved.len()).unwrap_or(u32::MAX),
            remaining_instances: u32::try_from(others.len()).unwrap_or(u32::MAX),
            cpu_after,
            memory_after,
            landed: packing
                .placed
                .iter()
                .map(|&(demand, slot)| (others[slot].id.clone(), moved[demand].clone()))
                .collect(),
            after: others,
        })
    }

    /// The cluster's reservations (%) without `candidate`: everything reserved now stays reserved (the moved
    /// tasks run on the others) but for the candidate's `daemons`, which go with it; the capacity loses the
    /// candidate. Counted from the instances' own figures, so a task missing from a listing still counts.
    fn reservations_without(&self, candidate: &str, daemons: Resources) -> (f64, f64) {
        let staying: Vec<&Slot> = self.slots.iter().filter(|s| !self.gone.contains(&s.id)).collect();
        let reserved = staying.iter().fold(Resources::default(), |sum, s| sum.plus(s.registered.less(s.free)));
        let reserved = reserved.less(daemons);
        let others = staying.iter().filter(|s| s.id != candidate);
        let capacity = others.fold(Resources::default(), |sum, s| sum.plus(s.registered));
        let percent = |reserved: u32, capacity: u32| {
            if capacity == 0 { f64::INFINITY } else { 100.0 * f64::from(reserved) / f64::from(capacity) }
        };
        (percent(reserved.cpu, capacity.cpu), percent(reserved.memory, capacity.memory))
    }

    /// Whether `candidate` could pass the `limits` at all, before its tasks are read: at most `daemons` of what
    /// it runs goes with it (every DAEMON service's task), so if the reservations without it are too near max
    /// even then, [`Walk::judge`] would keep it (`above_max`) whatever its tasks. A candidate this says no to
    /// needs no reads.
    pub fn may_pass(&self, candidate: &ContainerInstance, daemons: Resources, limits: Limits) -> bool {
        if !self.slots.iter().any(|s| s.id == candidate.arn) {
            return true;
        }
        let (cpu, memory) = self.reservations_without(&candidate.arn, daemons);
        !limits.exceeded(cpu, memory)
    }

    /// Take a judged removal: the instance is gone and its tasks are on the others.
    pub fn remove(&mut self, removal: &Removal) {
        self.gone.push(removal.container_instance_arn.clone());
        self.carried.remove(&removal.container_instance_arn);
        for (slot, demand) in &removal.landed {
            self.carried.entry(slot.clone()).or_default().push(demand.clone());
        }
        for slot in &removal.after {
            if let Some(mine) = self.slots.iter_mut().find(|s| s.id == slot.id) {
                *mine = slot.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{HostPorts, PlacementConstraint};

    const LARGE: Resources = Resources::new(2048, 4096);
    const MAX: Thresholds = Thresholds { min: 60.0, max: 85.0 };
    const LIMITS: Limits = Limits { cpu: MAX, memory: MAX, headroom: 0.0 };

    fn instance(arn: &str, status: &str, remaining: Resources, tasks: u32) -> ContainerInstance {
        ContainerInstance {
            arn: arn.into(),
            ec2_instance_id: Some(format!("i-{arn}")),
            status: status.into(),
            attributes: [("ecs.instance-type".to_string(), "m5.large".to_string())].into(),
            registered: Some(LARGE),
            remaining: Some(remaining),
            tasks: Some(tasks),
            reserved_ports: Some(HostPorts::default()),
            ports_in_use: Some(HostPorts::default()),
        }
    }

    fn service(name: &str, scheduling: Scheduling, desired: i32, running: i32) -> Service {
        Service {
            name: name.into(),
            scheduling,
            desired,
            running,
            pending: 0,
            min_healthy_percent: Some(50),
            task_definition: format!("td/{name}"),
            tags: HashMap::new(),
            events: Vec::new(),
            placement_constraints: Vec::new(),
        }
    }

    fn task(n: usize, service: &str, on: &str) -> Task {
        Task {
            arn: format!("task-{n}"),
            container_instance_arn: Some(on.into()),
            group: Some(format!("service:{service}")),
            last_status: "RUNNING".into(),
            task_definition_arn: Some(format!("td/{service}")),
            ..Task::default()
        }
    }

    fn definition(name: &str, cpu: u32, memory: u32) -> (String, TaskDefinition) {
        let container = crate::cluster::ContainerSize { cpu, memory_reservation: Some(memory), ..Default::default() };
        (
            format!("td/{name}"),
            TaskDefinition { arn: format!("td/{name}"), containers: vec![container], ..Default::default() },
        )
    }

    /// Three instances: `a` runs one api task (512/1024) and the daemon; `b` and `c` are half full.
    struct Fixture {
        instances: Vec<ContainerInstance>,
        services: Vec<Service>,
        tasks: HashMap<String, Vec<Task>>,
        definitions: HashMap<String, TaskDefinition>,
        types: HashMap<String, InstanceTypeInfo>,
    }

    impl Fixture {
        fn new() -> Self {
            Self {
                instances: vec![
                    instance("a", "ACTIVE", Resources::new(1408, 2816), 2),
                    instance("b", "ACTIVE", Resources::new(896, 1792), 3),
                    instance("c", "ACTIVE", Resources::new(896, 1792), 3),
                ],
                services: vec![service("api", Scheduling::Replica, 5, 5), service("agent", Scheduling::Daemon, 3, 3)],
                tasks: HashMap::from([
                    ("a".to_owned(), vec![task(0, "api", "a"), task(1, "agent", "a")]),
                    ("b".to_owned(), vec![task(2, "api", "b"), task(3, "api", "b"), task(4, "agent", "b")]),
                    ("c".to_owned(), vec![task(5, "api", "c"), task(6, "api", "c"), task(7, "agent", "c")]),
                ]),
                definitions: HashMap::from([definition("api", 512, 1024), definition("agent", 128, 256)]),
                types: HashMap::new(),
            }
        }

        fn view(&self) -> ClusterView<'_> {
            ClusterView {
                instances: &self.instances,
                services: &self.services,
                tasks: &self.tasks,
                definitions: &self.definitions,
                types: &self.types,
            }
        }

        fn judge(&self, limits: Option<Limits>) -> Result<Removal, Kept> {
            Walk::new(self.view()).judge(&self.instances[0], limits)
        }
    }

    #[test]
    fn the_cheapest_instance_runs_fewest_tasks_then_reserves_least() {
        let mut fixture = Fixture::new();
        fixture.instances.push(instance("d", "ACTIVE", Resources::new(1000, 2000), 2));
        fixture.instances.push(instance("e", "DRAINING", LARGE, 0));
        fixture.instances.push(ContainerInstance { remaining: None, ..instance("f", "ACTIVE", LARGE, 0) });
        let order: Vec<&str> = removal_order(&fixture.instances).iter().map(|i| i.arn.as_str()).collect();
        // a and d both run 2 tasks; a reserves less. DRAINING e and unmeasured f are never candidates.
        assert_eq!(order, ["a", "d", "b", "c"]);
    }

    #[test]
    fn an_instance_whose_tasks_fit_elsewhere_can_go_and_the_decision_names_it() {
        let removal = Fixture::new().judge(Some(LIMITS)).unwrap();
        assert_eq!((removal.moved_tasks, removal.remaining_instances), (1, 2));
        // Reserved: a 640/1280, b and c 1152/2304 each = 2944/5888 of 6144/12288. Without a and its daemon:
        // 2816/5632 of 4096/8192 = 68.75%.
        assert!((removal.cpu_after - 68.75).abs() < 1e-9, "{removal:?}");
        assert!((removal.memory_after - 68.75).abs() < 1e-9, "{removal:?}");
        assert!(removal.to_string().contains("i-a"), "{removal}");
    }

    #[test]
    fn the_last_active_instance_never_goes_and_draining_ones_do_not_count() {
        let mut fixture = Fixture::new();
        fixture.instances.truncate(1);
        assert_eq!(fixture.judge(None), Err(Kept::LastInstance));
        let mut fixture = Fixture::new();
        fixture.instances[1].status = "DRAINING".into();
        fixture.instances[2].status = "DRAINING".into();
        assert_eq!(fixture.judge(None), Err(Kept::LastInstance));
    }

    #[test]
    fn a_standalone_task_a_service_below_min_or_an_unknown_definition_keeps_the_instance() {
        let mut fixture = Fixture::new();
        fixture.tasks.get_mut("a").unwrap().push(Task { group: Some("family:batch".into()), ..task(9, "batch", "a") });
        assert_eq!(fixture.judge(None), Err(Kept::Standalone { task: "task-9".into() }));
        let mut fixture = Fixture::new();
        // 5 desired at 50%: 3 required; 2 running.
        fixture.services[0].running = 2;
        assert_eq!(fixture.judge(None), Err(Kept::BelowMin { service: "api".into() }));
        let mut fixture = Fixture::new();
        fixture.definitions.remove("td/api");
        assert!(matches!(fixture.judge(None), Err(Kept::Unjudged { task, .. }) if task == "task-0"));
        let mut fixture = Fixture::new();
        fixture.tasks.remove("a");
        assert_eq!(fixture.judge(None), Err(Kept::TasksUnknown));
        let mut fixture = Fixture::new();
        fixture.services[0].tags.insert(TAG_DO_NOT_DISRUPT.into(), "true".into());
        assert_eq!(fixture.judge(None), Err(Kept::DoNotDisrupt { service: "api".into() }));
        // A daemon's tag does not freeze every instance.
        let mut fixture = Fixture::new();
        fixture.services[1].tags.insert(TAG_DO_NOT_DISRUPT.into(), "true".into());
        assert!(fixture.judge(None).is_ok());
    }

    #[test]
    fn tasks_that_fit_no_other_instance_keep_it() {
        let mut fixture = Fixture::new();
        // b and c have 400 MiB free each: the 1 GiB task fits neither, although 800 MiB is free in total.
        for other in &mut fixture.instances[1..] {
            other.remaining = Some(Resources::new(896, 400));
        }
        let Err(Kept::FitsNowhere { tasks: 1, why: Misfit::Lacks { lacks } }) = fixture.judge(None) else { panic!() };
        assert!(lacks.contains(&crate::placement::Lack::Memory), "{lacks:?}");
    }

    #[test]
    fn a_removal_that_would_come_near_a_max_keeps_the_instance() {
        let fixture = Fixture::new();
        // Without a: 68.75%. Fine at max 85 less 10 points; too near at less 20.
        assert!(fixture.judge(Some(Limits { headroom: 10.0, ..LIMITS })).is_ok());
        let kept = fixture.judge(Some(Limits { headroom: 20.0, ..LIMITS })).unwrap_err();
        assert!(matches!(kept, Kept::AboveMax { .. }), "{kept:?}");
        assert!(kept.to_string().contains("too near max"), "{kept}");
        // No limits (the termination policy): thresholds are not its call.
        assert!(fixture.judge(None).is_ok());
    }

    #[test]
    fn every_dimension_of_the_model_can_keep_an_instance() {
        // distinctInstance: b and c already run api.
        let mut fixture = Fixture::new();
        fixture.services[0].placement_constraints = vec![PlacementConstraint::DistinctInstance];
        let Err(Kept::FitsNowhere { why, .. }) = fixture.judge(None) else { panic!() };
        assert!(why.to_string().contains("distinctInstance"), "{why}");
        // A host port b and c hold.
        let mut fixture = Fixture::new();
        fixture.definitions.get_mut("td/api").unwrap().containers[0].port_mappings =
            vec![crate::cluster::PortMapping {
                container_port: Some(80),
                host_port: Some(80),
                protocol: crate::cluster::Protocol::Tcp,
            }];
        for other in &mut fixture.instances[1..] {
            other.ports_in_use = Some(HostPorts { tcp: [80].into(), ..HostPorts::default() });
        }
        assert!(matches!(fixture.judge(None), Err(Kept::FitsNowhere { .. })));
        // awsvpc: an m5.large takes 2 (3 ENIs); b and c run 2 awsvpc tasks each.
        let mut fixture = Fixture::new();
        fixture.definitions.get_mut("td/api").unwrap().network_mode = Some("awsvpc".into());
        assert!(matches!(fixture.judge(None), Err(Kept::FitsNowhere { .. })));
        // The same on trunked instances (10 each): it goes.
        for instance in &mut fixture.instances {
            instance.attributes.insert("ecs.awsvpc-trunk-id".into(), "eni-1".into());
        }
        assert!(fixture.judge(None).is_ok());
        // A memberOf on an attribute b and c lack.
        let mut fixture = Fixture::new();
        fixture.services[0].placement_constraints = vec![PlacementConstraint::MemberOf("attribute:team == a".into())];
        fixture.instances[0].attributes.insert("team".into(), "a".into());
        assert!(matches!(fixture.judge(None), Err(Kept::FitsNowhere { .. })));
        // GPUs: the task needs one; b and c have none.
        let mut fixture = Fixture::new();
        fixture.definitions.get_mut("td/api").unwrap().containers[0].gpus = 1;
        assert!(matches!(fixture.judge(None), Err(Kept::FitsNowhere { .. })));
    }

    #[test]
    fn a_fact_the_model_lacks_is_cannot_judge_never_a_yes() {
        // distinctInstance, but the other instances' tasks were not read.
        let mut fixture = Fixture::new();
        fixture.services[0].placement_constraints = vec![PlacementConstraint::DistinctInstance];
        fixture.tasks.remove("b");
        fixture.tasks.remove("c");
        assert!(matches!(fixture.judge(None), Err(Kept::Unjudged { .. })), "{:?}", fixture.judge(None));
        // awsvpc on a type whose ENI limit nobody knows.
        let mut fixture = Fixture::new();
        fixture.definitions.get_mut("td/api").unwrap().network_mode = Some("awsvpc".into());
        for instance in &mut fixture.instances {
            instance.attributes.insert("ecs.instance-type".into(), "x9.large".into());
        }
        let Err(Kept::Unjudged { why, .. }) = fixture.judge(None) else { panic!() };
        assert!(why.contains("awsvpc"), "{why}");
    }

    #[test]
    fn each_removal_is_judged_against_what_the_earlier_ones_left_their_tasks_included() {
        // Four instances each with one 512/1024 task: a goes (its task to b); b then carries two tasks, which
        // must move again if b goes.
        let mut fixture = Fixture::new();
        fixture.instances = ["a", "b", "c", "d"].map(|n| instance(n, "ACTIVE", Resources::new(1536, 3072), 1)).to_vec();
        fixture.tasks =
            ["a", "b", "c", "d"].iter().enumerate().map(|(i, n)| (n.to_string(), vec![task(i, "api", n)])).collect();
        let mut walk = Walk::new(fixture.view());
        let mut gone = Vec::new();
        for candidate in walk.order() {
            if let Ok(removal) = walk.judge(candidate, Some(Limits { headroom: 5.0, ..LIMITS })) {
                gone.push((candidate.arn.clone(), removal.moved_tasks, removal.cpu_after));
                walk.remove(&removal);
            }
        }
        // a (1 task, 33%), then b (2 tasks, 50%); c would take 3 to d: 100%, too near max.
        assert_eq!(gone.iter().map(|(a, m, _)| (a.as_str(), *m)).collect::<Vec<_>>(), [("a", 1), ("b", 2)]);
        assert!((gone[1].2 - 50.0).abs() < 1e-9, "{gone:?}");
    }

    #[test]
    fn tasks_on_draining_instances_take_their_room_first() {
        // c is DRAINING with two api tasks: they take b's room, so a's task no longer fits anywhere.
        let mut fixture = Fixture::new();
        fixture.instances[2].status = "DRAINING".into();
        fixture.instances[1].remaining = Some(Resources::new(1024, 2048));
        let mut walk = Walk::new(fixture.view());
        assert!(walk.judge(&fixture.instances[0], None).is_ok(), "before the drain's tasks are given room");
        let stuck = walk.reserve_for_draining();
        assert!(stuck.is_empty(), "{stuck:?}");
        let judged = walk.judge(&fixture.instances[0], None);
        assert!(matches!(judged, Err(Kept::FitsNowhere { .. })), "{judged:?}");
        // With less room, one of them finds none: a stuck drain.
        let mut fixture = Fixture::new();
        fixture.instances[2].status = "DRAINING".into();
        fixture.instances[0].remaining = Some(Resources::new(0, 0));
        fixture.instances[1].remaining = Some(Resources::new(512, 1024));
        let mut walk = Walk::new(fixture.view());
        let stuck = walk.reserve_for_draining();
        assert_eq!(stuck.iter().map(|s| s.service.as_deref()).collect::<Vec<_>>(), [Some("api")]);
    }
}
