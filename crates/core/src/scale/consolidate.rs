//! Consolidation: when an instance that costs little to remove can go because its tasks fit elsewhere.
//!
//! The reservation rule scales in only when both reservations are at or below their min, so a cluster can keep
//! up to (100 / min − 1) of itself spare for good. Consolidation closes that gap the way cluster-autoscaler's
//! scale-down and Karpenter's consolidation do: pick the instance that is cheapest to remove, and say 0 when
//! its non-daemon tasks fit the other ACTIVE instances' free room (first-fit decreasing) and both reservations
//! stay below their max, less a headroom, without it. The low alarm's evaluation periods (10 minutes by default) are the "has
//! looked like that for a while" window, as scale-down-unneeded-time and consolidateAfter are elsewhere.
//!
//! The same ordering picks the instance when Auto Scaling asks the termination policy, so the instance judged
//! here is the one that goes, and the drain hook holds it until its tasks run elsewhere.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

use crate::cluster::{ContainerInstance, Resources, Scheduling, Service, Task};
use crate::config::Thresholds;
use crate::drain::required_tasks;
use crate::pack;

/// Candidates whose tasks are read per tick, cheapest first, before consolidation gives up until the next one.
pub const CANDIDATES_TRIED: usize = 3;

/// The ACTIVE instances in the order they are cheapest to remove: fewest tasks (daemons included, which every
/// instance runs alike), then least reserved (dominant share of what it registered), then ARN for a stable
/// order. Instances whose sizes or task count are unknown are left out: they cannot be judged.
pub fn removal_order(instances: &[ContainerInstance]) -> Vec<&ContainerInstance> {
    let mut order: Vec<(&ContainerInstance, u32, f64)> = instances
        .iter()
        .filter(|i| i.is_active())
        .filter_map(|i| {
            let (registered, remaining, tasks) = (i.registered?, i.remaining?, i.tasks?);
            Some((i, tasks, used_share(registered, remaining)))
        })
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
    /// What each moved task reserves.
    #[serde(skip)]
    pub moved_sizes: Vec<Resources>,
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
    /// It is the only ACTIVE instance with known sizes.
    LastInstance,
    /// A task not started by a service: nothing would start it again elsewhere.
    Standalone { task: String },
    /// A task of a service already below its minimum healthy count.
    BelowMin { service: String },
    /// A task whose size is unknown.
    UnknownSize { task: String },
    /// Tasks that fit none of the other instances' free room.
    FitsNowhere { tasks: u32 },
    /// Without it a reservation would come within the headroom of its max.
    AboveMax { cpu_after: f64, memory_after: f64 },
}

impl fmt::Display for Kept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kept::LastInstance => f.write_str("it is the last ACTIVE instance"),
            Kept::Standalone { task } => write!(f, "standalone task {task} runs on it"),
            Kept::BelowMin { service } => write!(f, "service {service} is already below its minimum healthy count"),
            Kept::UnknownSize { task } => write!(f, "the size of task {task} is unknown"),
            Kept::FitsNowhere { tasks } => write!(f, "{tasks} of its tasks fit no other instance's free room"),
            Kept::AboveMax { cpu_after, memory_after } => {
                write!(f, "without it cpu would be {cpu_after:.1}% and memory {memory_after:.1}%, too near max")
            }
        }
    }
}

/// What consolidation knows about a cluster besides the candidate's own tasks.
#[derive(Debug, Clone, Copy)]
pub struct ClusterState<'a> {
    pub instances: &'a [ContainerInstance],
    pub services: &'a [Service],
    /// What one task of each task definition reserves.
    pub sizes: &'a HashMap<String, Resources>,
    pub cpu: Thresholds,
    pub memory: Thresholds,
    /// Points below each max the cluster must stay without the instance.
    pub headroom: f64,
}

/// Whether `candidate`, running `tasks` (desired RUNNING, daemons included), can go.
pub fn judge(state: &ClusterState<'_>, candidate: &ContainerInstance, tasks: &[Task]) -> Result<Removal, Kept> {
    let known: Vec<&ContainerInstance> =
        state.instances.iter().filter(|i| i.is_active() && i.registered.is_some() && i.remaining.is_some()).collect();
    let others: Vec<&ContainerInstance> = known.iter().copied().filter(|i| i.arn != candidate.arn).collect();
    let (Some(registered), Some(_)) = (candidate.registered, candidate.remaining) else {
        return Err(Kept::LastInstance);
    };
    if others.is_empty() || others.len() == known.len() {
        return Err(Kept::LastInstance);
    }
    let services: HashMap<&str, &Service> = state.services.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut moved = Vec::new();
    let mut leaving = Resources::default();
    for task in tasks.iter().filter(|t| t.container_instance_arn.as_deref() == Some(candidate.arn.as_str())) {
        let Some(service) = task.service_name().and_then(|name| services.get(name)) else {
            return Err(Kept::Standalone { task: task.arn.clone() });
        };
        let size = task.task_definition_arn.as_ref().and_then(|arn| state.sizes.get(arn)).copied();
        if service.scheduling == Scheduling::Daemon {
            // Daemons go with their instance; an unknown size only makes the estimate more cautious.
            let size = size.unwrap_or_default();
            leaving.cpu += size.cpu;
            leaving.memory += size.memory;
            continue;
        }
        let required = required_tasks(service.desired, service.min_healthy_percent.unwrap_or(100));
        if usize::try_from(service.running.max(0)).unwrap_or(0) < required {
            return Err(Kept::BelowMin { service: service.name.clone() });
        }
        moved.push(size.ok_or_else(|| Kept::UnknownSize { task: task.arn.clone() })?);
    }

    let mut room: Vec<Resources> = others.iter().filter_map(|i| i.remaining).collect();
    let left = pack::into_room(&moved, &mut room, registered);
    if !left.is_empty() {
        return Err(Kept::FitsNowhere { tasks: u32::try_from(left.len()).unwrap_or(u32::MAX) });
    }

    let sum = |f: &dyn Fn(&ContainerInstance) -> (u64, u64)| {
        known.iter().map(|i| f(i)).fold((0u64, 0u64), |(c, m), (dc, dm)| (c + dc, m + dm))
    };
    let reserved = sum(&|i| {
        let (r, left) = (i.registered.unwrap_or_default(), i.remaining.unwrap_or_default());
        (u64::from(r.cpu.saturating_sub(left.cpu)), u64::from(r.memory.saturating_sub(left.memory)))
    });
    let capacity = sum(&|i| {
        let r = i.registered.unwrap_or_default();
        (u64::from(r.cpu), u64::from(r.memory))
    });
    let percent = |reserved: u64, leaving: u32, capacity: u64, gone: u32| {
        let capacity = capacity.saturating_sub(u64::from(gone));
        if capacity == 0 {
            f64::INFINITY
        } else {
            100.0 * reserved.saturating_sub(u64::from(leaving)) as f64 / capacity as f64
        }
    };
    let cpu_after = percent(reserved.0, leaving.cpu, capacity.0, registered.cpu);
    let memory_after = percent(reserved.1, leaving.memory, capacity.1, registered.memory);
    if cpu_after >= state.cpu.max - state.headroom || memory_after >= state.memory.max - state.headroom {
        return Err(Kept::AboveMax { cpu_after, memory_after });
    }
    Ok(Removal {
        container_instance_arn: candidate.arn.clone(),
        ec2_instance_id: candidate.ec2_instance_id.clone(),
        moved_tasks: u32::try_from(moved.len()).unwrap_or(u32::MAX),
        remaining_instances: u32::try_from(others.len()).unwrap_or(u32::MAX),
        cpu_after,
        memory_after,
        moved_sizes: moved,
    })
}

/// Mark the instance at `index` as leaving and its tasks as placed on the others, so the next removal of the
/// same request is judged against what is left.
pub fn take_room(instances: &mut [ContainerInstance], index: usize, moved: &[Resources]) {
    instances[index].status = "DRAINING".into();
    let reference = instances[index].registered.unwrap_or_default();
    let mut room: Vec<Resources> = instances
        .iter()
        .map(|i| if i.is_active() { i.remaining.unwrap_or_default() } else { Resources::default() })
        .collect();
    pack::into_room(moved, &mut room, reference);
    for (instance, left) in instances.iter_mut().zip(room) {
        if instance.is_active() {
            instance.remaining = Some(left);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LARGE: Resources = Resources::new(2048, 4096);
    const MAX: Thresholds = Thresholds { min: 60.0, max: 85.0 };

    fn instance(arn: &str, status: &str, remaining: Resources, tasks: u32) -> ContainerInstance {
        ContainerInstance {
            arn: arn.into(),
            ec2_instance_id: Some(format!("i-{arn}")),
            status: status.into(),
            registered: Some(LARGE),
            remaining: Some(remaining),
            tasks: Some(tasks),
            ..ContainerInstance::default()
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

    /// Three instances: `a` runs one api task (512/1024) and the daemon; `b` and `c` are half full.
    struct Fixture {
        instances: Vec<ContainerInstance>,
        services: Vec<Service>,
        sizes: HashMap<String, Resources>,
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
                sizes: HashMap::from([
                    ("td/api".to_owned(), Resources::new(512, 1024)),
                    ("td/agent".to_owned(), Resources::new(128, 256)),
                ]),
            }
        }

        fn state(&self) -> ClusterState<'_> {
            ClusterState {
                instances: &self.instances,
                services: &self.services,
                sizes: &self.sizes,
                cpu: MAX,
                memory: MAX,
                headroom: 0.0,
            }
        }

        fn candidate_tasks(&self) -> Vec<Task> {
            vec![task(0, "api", "a"), task(1, "agent", "a")]
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
        let fixture = Fixture::new();
        let removal = judge(&fixture.state(), &fixture.instances[0], &fixture.candidate_tasks()).unwrap();
        assert_eq!(removal.moved_tasks, 1);
        assert_eq!(removal.remaining_instances, 2);
        // Reserved: a 640/1280, b and c 1152/2304 each = 2944/5888 of 6144/12288. Without a and its daemon:
        // 2816/5632 of 4096/8192 = 68.75%.
        assert!((removal.cpu_after - 68.75).abs() < 1e-9, "{removal:?}");
        assert!((removal.memory_after - 68.75).abs() < 1e-9, "{removal:?}");
        assert!(removal.to_string().contains("i-a"), "{removal}");
    }

    #[test]
    fn the_last_active_instance_never_goes() {
        let mut fixture = Fixture::new();
        fixture.instances.truncate(1);
        assert_eq!(judge(&fixture.state(), &fixture.instances[0], &fixture.candidate_tasks()), Err(Kept::LastInstance));
        // DRAINING others do not count.
        let mut fixture = Fixture::new();
        fixture.instances[1].status = "DRAINING".into();
        fixture.instances[2].status = "DRAINING".into();
        assert_eq!(judge(&fixture.state(), &fixture.instances[0], &fixture.candidate_tasks()), Err(Kept::LastInstance));
    }

    #[test]
    fn a_standalone_task_keeps_its_instance() {
        let fixture = Fixture::new();
        let mut tasks = fixture.candidate_tasks();
        tasks.push(Task { group: Some("family:batch".into()), ..task(2, "batch", "a") });
        assert_eq!(
            judge(&fixture.state(), &fixture.instances[0], &tasks),
            Err(Kept::Standalone { task: "task-2".into() })
        );
    }

    #[test]
    fn a_task_of_a_service_below_its_minimum_keeps_its_instance() {
        let mut fixture = Fixture::new();
        // 5 desired at 50%: 3 required; 2 running.
        fixture.services[0].running = 2;
        assert_eq!(
            judge(&fixture.state(), &fixture.instances[0], &fixture.candidate_tasks()),
            Err(Kept::BelowMin { service: "api".into() })
        );
    }

    #[test]
    fn a_task_of_unknown_size_keeps_its_instance() {
        let mut fixture = Fixture::new();
        fixture.sizes.remove("td/api");
        assert_eq!(
            judge(&fixture.state(), &fixture.instances[0], &fixture.candidate_tasks()),
            Err(Kept::UnknownSize { task: "task-0".into() })
        );
    }

    #[test]
    fn tasks_that_fit_no_other_instance_keep_it() {
        let mut fixture = Fixture::new();
        // b and c have 400 MiB free each: the 1 GiB task fits neither, although 800 MiB is free in total.
        for other in &mut fixture.instances[1..] {
            other.remaining = Some(Resources::new(896, 400));
        }
        assert_eq!(
            judge(&fixture.state(), &fixture.instances[0], &fixture.candidate_tasks()),
            Err(Kept::FitsNowhere { tasks: 1 })
        );
    }

    #[test]
    fn a_removal_that_would_reach_a_max_keeps_the_instance() {
        let mut fixture = Fixture::new();
        // Room for the task on b, but the cluster would be at 1152+1664+... ≥ 85% memory without a.
        fixture.instances[1].remaining = Some(Resources::new(896, 1100));
        fixture.instances[2].remaining = Some(Resources::new(896, 100));
        let kept = judge(&fixture.state(), &fixture.instances[0], &fixture.candidate_tasks()).unwrap_err();
        let Kept::AboveMax { memory_after, .. } = kept else { panic!("{kept:?}") };
        assert!(memory_after >= MAX.max, "{memory_after}");
    }

    #[test]
    fn the_headroom_keeps_a_removal_away_from_max() {
        let fixture = Fixture::new();
        // Without a: 68.75%. Fine at max 85 less 10 points; too near at less 20.
        let state = ClusterState { headroom: 10.0, ..fixture.state() };
        assert!(judge(&state, &fixture.instances[0], &fixture.candidate_tasks()).is_ok());
        let state = ClusterState { headroom: 20.0, ..fixture.state() };
        let kept = judge(&state, &fixture.instances[0], &fixture.candidate_tasks()).unwrap_err();
        assert!(matches!(kept, Kept::AboveMax { .. }), "{kept:?}");
        assert!(kept.to_string().contains("too near max"), "{kept}");
    }

    #[test]
    fn an_empty_instance_goes_whenever_the_others_stay_below_max() {
        let mut fixture = Fixture::new();
        fixture.instances[0].remaining = Some(Resources::new(1920, 3840));
        fixture.instances[0].tasks = Some(1);
        let removal = judge(&fixture.state(), &fixture.instances[0], &[task(1, "agent", "a")]).unwrap();
        assert_eq!(removal.moved_tasks, 0);
    }
}
