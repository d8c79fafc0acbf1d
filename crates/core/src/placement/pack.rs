//! First-fit decreasing under every dimension of [`Slot::fit`]: where waiting tasks go, how many fresh instances
//! they need, and whether one instance's tasks fit the others.
//!
//! The heuristic cluster-autoscaler's and Karpenter's simulations also use: the largest task first (its dominant
//! share of a reference instance, so a memory-heavy and a CPU-heavy task of the same weight rank alike; then the
//! more constrained), each into the first slot it fits. It is deterministic, so the scale-status Lambda, the
//! termination policy and the simulator agree on the same input.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::model::{Demand, Fit, Lack, Slot, Unjudgeable};
use crate::cluster::Resources;

/// The indexes of `demands` in first-fit-decreasing order.
pub fn decreasing(demands: &[Demand], reference: Resources) -> Vec<usize> {
    let share = |r: &Resources| {
        let part = |used: u32, of: u32| if of == 0 { 0.0 } else { f64::from(used) / f64::from(of) };
        part(r.cpu, reference.cpu).max(part(r.memory, reference.memory))
    };
    let constrained = |d: &Demand| (d.resources.gpu, d.distinct, d.eni, d.ports.tcp.len() + d.ports.udp.len());
    let mut order: Vec<usize> = (0..demands.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&demands[a], &demands[b]);
        share(&b.resources)
            .partial_cmp(&share(&a.resources))
            .unwrap_or(Ordering::Equal)
            .then_with(|| constrained(b).cmp(&constrained(a)))
            .then(b.resources.memory.cmp(&a.resources.memory))
            .then(b.resources.cpu.cmp(&a.resources.cpu))
    });
    order
}

/// Why a task found no slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "misfit", rename_all = "snake_case")]
pub enum Misfit {
    /// Every slot refused it; what they lacked (each kind once).
    Lacks { lacks: BTreeSet<Lack> },
    /// No slot took it and at least one could not be judged.
    Unknown { why: String },
}

impl std::fmt::Display for Misfit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Misfit::Lacks { lacks } if lacks.is_empty() => f.write_str("no instance to take it"),
            Misfit::Lacks { lacks } => {
                let parts: Vec<String> = lacks.iter().map(ToString::to_string).collect();
                write!(f, "every instance lacks one of: {}", parts.join("; "))
            }
            Misfit::Unknown { why } => write!(f, "cannot judge: {why}"),
        }
    }
}

/// Place one demand into the first slot it fits. `Err` says why none took it.
pub fn place(demand: &Demand, slots: &mut [Slot]) -> Result<usize, Misfit> {
    let mut lacks = BTreeSet::new();
    let mut unknown = None;
    for (index, slot) in slots.iter_mut().enumerate() {
        match slot.fit(demand) {
            Fit::Fits => {
                slot.take(demand);
                return Ok(index);
            }
            Fit::Lacks(lack) => {
                lacks.insert(lack);
            }
            Fit::Unknown(why) => unknown = unknown.or(Some(why)),
        }
    }
    Err(match unknown {
        Some(why) => Misfit::Unknown { why },
        None => Misfit::Lacks { lacks },
    })
}

/// Where first-fit decreasing put each demand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Packing {
    /// (demand index, slot index) for every demand placed.
    pub placed: Vec<(usize, usize)>,
    /// (demand index, why) for every demand that fit no slot.
    pub left: Vec<(usize, Misfit)>,
}

/// Pack `demands` into `slots` by first-fit decreasing; the slots are left with what stays free.
pub fn pack(demands: &[Demand], slots: &mut [Slot], reference: Resources) -> Packing {
    let mut packing = Packing::default();
    for index in decreasing(demands, reference) {
        match place(&demands[index], slots) {
            Ok(slot) => packing.placed.push((index, slot)),
            Err(why) => packing.left.push((index, why)),
        }
    }
    packing
}

/// [`pack`], for those who only need what fit nowhere.
pub fn into_slots(demands: &[Demand], slots: &mut [Slot], reference: Resources) -> Vec<(usize, Misfit)> {
    pack(demands, slots, reference).left
}

/// A type of fresh instance the serving group can launch, as one empty slot of it (its daemons already placed).
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    pub instance_type: String,
    pub empty: Slot,
}

/// How many fresh instances waiting tasks need.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Shortfall {
    /// Fresh instances to add.
    pub instances: u32,
    /// Waiting tasks that fit the free room of instances already there.
    pub fit_existing: u32,
    /// Waiting tasks that fit no type the group launches (never asked for).
    pub never_fit: u32,
    /// Waiting tasks the model cannot judge (each asks for at least one fresh instance).
    pub unjudged: u32,
    /// Fresh instances by the type they were sized as.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub by_type: BTreeMap<String, u32>,
    /// Why tasks were not judged, or never fit, each reason once.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Shortfall {
    fn note(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }
}

/// First-fit decreasing of the `waiting` tasks into the `existing` ACTIVE instances' free room first, then into
/// fresh instances of the `shapes` the serving group launches, in the group's order of preference (a mixed
/// instances policy's overrides, first first, as Auto Scaling's prioritized allocation launches them). A task
/// that fits no open fresh instance opens one of the first shape that holds it. A task no shape holds is never
/// asked for (`never_fit`); one the model cannot judge (an unknown size, an attribute a fresh instance only has
/// once it registers, no shape known at all) is counted in `unjudged`, and the answer is at least one instance
/// while any is.
pub fn shortfall(waiting: &[Result<Demand, Unjudgeable>], existing: &mut [Slot], shapes: &[Shape]) -> Shortfall {
    let mut needed = Shortfall::default();
    let mut judged = Vec::new();
    for demand in waiting {
        match demand {
            Ok(demand) => judged.push(demand.clone()),
            Err(why) => {
                needed.unjudged += 1;
                needed.note(why.to_string());
            }
        }
    }
    let reference = shapes.first().map_or_else(|| largest(existing), |s| s.empty.registered);
    let left = into_slots(&judged, existing, reference);
    needed.fit_existing = u32::try_from(judged.len() - left.len()).unwrap_or(u32::MAX);
    let mut opened: Vec<Slot> = Vec::new();
    for (index, _) in left {
        let demand = &judged[index];
        if place(demand, &mut opened).is_ok() {
            continue;
        }
        let mut unknown = None;
        let mut lacks = BTreeSet::new();
        let fitting = shapes.iter().find(|shape| match shape.empty.fit(demand) {
            Fit::Fits => true,
            Fit::Lacks(lack) => {
                lacks.insert(lack);
                false
            }
            Fit::Unknown(why) => {
                unknown = unknown.take().or(Some(why));
                false
            }
        });
        match (fitting, unknown) {
            (Some(shape), _) => {
                let mut fresh = shape.empty.clone();
                fresh.id = format!("fresh {} #{}", shape.instance_type, opened.len() + 1);
                fresh.take(demand);
                opened.push(fresh);
                *needed.by_type.entry(shape.instance_type.clone()).or_default() += 1;
            }
            (None, Some(why)) => {
                needed.unjudged += 1;
                needed.note(why);
            }
            (None, None) if shapes.is_empty() => {
                needed.unjudged += 1;
                needed.note("no instance type the group launches is known".into());
            }
            (None, None) => {
                needed.never_fit += 1;
                let what = Misfit::Lacks { lacks };
                needed.note(format!("a {} task fits no type the group launches: {what}", demand.group));
            }
        }
    }
    needed.instances = u32::try_from(opened.len()).unwrap_or(u32::MAX);
    if needed.unjudged > 0 && needed.instances == 0 {
        needed.instances = 1;
    }
    needed
}

fn largest(slots: &[Slot]) -> Resources {
    slots.iter().map(|s| s.registered).max_by_key(|r| (r.memory, r.cpu)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;
    use crate::cluster::HostPorts;
    use crate::placement::constraints::{Attributes, Expression};

    const FRESH: Resources = Resources::new(2048, 4096);

    fn slot(id: &str, free: Resources) -> Slot {
        Slot {
            id: id.into(),
            label: id.into(),
            attributes: Attributes { complete: true, ..Attributes::default() },
            registered: FRESH,
            free,
            ports: Some(HostPorts::default()),
            enis: Some(2),
            groups: Some(HashMap::new()),
        }
    }

    fn shape(instance_type: &str, size: Resources, enis: u32) -> Shape {
        let mut empty = slot(instance_type, size);
        empty.registered = size;
        empty.enis = Some(enis);
        empty.attributes = Attributes {
            values: [("ecs.instance-type".to_string(), instance_type.to_string())].into(),
            ec2_instance_id: None,
            complete: false,
        };
        Shape { instance_type: instance_type.into(), empty }
    }

    fn tasks(n: usize, cpu: u32, memory: u32) -> Vec<Result<Demand, Unjudgeable>> {
        vec![Ok(Demand::sized("service:api", Resources::new(cpu, memory))); n]
    }

    #[test]
    fn waiting_tasks_fill_free_room_before_fresh_instances() {
        // 10 tasks of 512/1024: 2 fit the free room, 8 need 2 fresh instances of 4 each.
        let mut room = [slot("a", Resources::new(1024, 2048)), slot("b", Resources::new(100, 100))];
        let needed = shortfall(&tasks(10, 512, 1024), &mut room, &[shape("m5.large", FRESH, 2)]);
        assert_eq!((needed.instances, needed.fit_existing, needed.never_fit), (2, 2, 0));
        assert_eq!(needed.by_type, BTreeMap::from([("m5.large".to_string(), 2)]));
    }

    #[test]
    fn the_dominant_resource_decides_and_largest_first_packs_tightly() {
        let fresh = [shape("m5.large", FRESH, 2)];
        assert_eq!(shortfall(&tasks(3, 100, 3072), &mut [], &fresh).instances, 3);
        assert_eq!(shortfall(&tasks(3, 1536, 100), &mut [], &fresh).instances, 3);
        let mut mixed = tasks(2, 512, 1024);
        mixed.extend(tasks(2, 1536, 3072));
        assert_eq!(shortfall(&mixed, &mut [], &fresh).instances, 2);
    }

    #[test]
    fn awsvpc_tasks_are_limited_by_enis_not_by_cpu_and_memory() {
        // An m5.large takes 2 awsvpc tasks (3 ENIs, the primary one taken): 6 small tasks need 3 of them.
        let awsvpc = Demand { eni: true, ..Demand::sized("service:api", Resources::new(128, 256)) };
        let waiting = vec![Ok(awsvpc); 6];
        let mut full = [slot("a", Resources::new(2048, 4096))];
        full[0].enis = Some(0);
        let needed = shortfall(&waiting, &mut full, &[shape("m5.large", FRESH, 2)]);
        assert_eq!((needed.instances, needed.fit_existing), (3, 0));
    }

    #[test]
    fn distinct_instance_and_host_ports_open_one_instance_per_task() {
        let distinct = Demand { distinct: true, ..Demand::sized("service:api", Resources::new(128, 256)) };
        let mut existing = [slot("a", FRESH), slot("b", FRESH)];
        for s in &mut existing {
            s.groups = Some([("service:api".to_string(), 1)].into());
        }
        let needed = shortfall(&vec![Ok(distinct); 3], &mut existing, &[shape("m5.large", FRESH, 2)]);
        assert_eq!(needed.instances, 3);
        let port = Demand {
            ports: HostPorts { tcp: [8080].into(), ..HostPorts::default() },
            ..Demand::sized("service:web", Resources::new(128, 256))
        };
        let mut busy = [slot("a", FRESH)];
        busy[0].ports = Some(HostPorts { tcp: [8080].into(), ..HostPorts::default() });
        let needed = shortfall(&vec![Ok(port); 2], &mut busy, &[shape("m5.large", FRESH, 2)]);
        assert_eq!((needed.instances, needed.fit_existing), (2, 0));
    }

    #[test]
    fn a_task_pinned_to_a_type_opens_that_type_and_one_no_type_holds_is_never_asked_for() {
        let pinned = Demand {
            member_of: vec![Expression::parse("attribute:ecs.instance-type == m5.xlarge").unwrap()],
            ..Demand::sized("service:api", Resources::new(512, 1024))
        };
        let mut existing = [slot("a", FRESH)];
        existing[0].attributes.values.insert("ecs.instance-type".into(), "m5.large".into());
        let both = [shape("m5.large", FRESH, 2), shape("m5.xlarge", Resources::new(4096, 8192), 3)];
        let needed = shortfall(&vec![Ok(pinned.clone()); 2], &mut existing, &both);
        assert_eq!((needed.instances, needed.fit_existing), (1, 0));
        assert_eq!(needed.by_type, BTreeMap::from([("m5.xlarge".to_string(), 1)]));
        let needed = shortfall(&vec![Ok(pinned); 2], &mut existing, &both[..1]);
        assert_eq!((needed.instances, needed.never_fit), (0, 2));
        assert!(needed.notes[0].contains("not memberOf"), "{:?}", needed.notes);
        let gpu = Demand::sized("service:ml", Resources::new(512, 1024).with_gpu(1));
        assert_eq!(shortfall(&[Ok(gpu)], &mut [], &both).never_fit, 1);
    }

    #[test]
    fn the_first_shape_the_group_prefers_that_holds_a_task_is_opened() {
        let shapes = [shape("m5.large", FRESH, 2), shape("m5.xlarge", Resources::new(4096, 8192), 3)];
        let needed = shortfall(&tasks(1, 512, 1024), &mut [], &shapes);
        assert_eq!(needed.by_type, BTreeMap::from([("m5.large".to_string(), 1)]));
        let needed = shortfall(&tasks(1, 3000, 1024), &mut [], &shapes);
        assert_eq!(needed.by_type, BTreeMap::from([("m5.xlarge".to_string(), 1)]));
        // Preferred first: a group that lists m5.xlarge first launches it.
        let needed = shortfall(&tasks(1, 512, 1024), &mut [], &[shapes[1].clone(), shapes[0].clone()]);
        assert_eq!(needed.by_type, BTreeMap::from([("m5.xlarge".to_string(), 1)]));
    }

    #[test]
    fn what_cannot_be_judged_asks_for_at_least_one_instance_and_says_why() {
        let unknown = vec![Err(Unjudgeable("task definition td/x:1 could not be read".into()))];
        let needed = shortfall(&unknown, &mut [], &[shape("m5.large", FRESH, 2)]);
        assert_eq!((needed.instances, needed.unjudged), (1, 1));
        assert_eq!(needed.notes, ["task definition td/x:1 could not be read"]);
        let custom = Demand {
            member_of: vec![Expression::parse("attribute:team == payments").unwrap()],
            ..Demand::sized("service:api", Resources::new(512, 1024))
        };
        let needed = shortfall(&[Ok(custom)], &mut [], &[shape("m5.large", FRESH, 2)]);
        assert_eq!((needed.instances, needed.unjudged), (1, 1));
        let needed = shortfall(&tasks(1, 512, 1024), &mut [], &[]);
        assert_eq!((needed.instances, needed.unjudged), (1, 1), "no type known: grow by one, size next tick");
    }

    proptest! {
        /// CPU and memory alone: never below the volume bound, never above one instance per task, every task
        /// accounted for once.
        #[test]
        fn shortfall_is_between_the_volume_bound_and_one_per_task(
            sizes in prop::collection::vec((1u32..=2048, 1u32..=4096), 0..60),
            room in prop::collection::vec((0u32..=2048, 0u32..=4096), 0..5),
        ) {
            let waiting: Vec<_> = sizes.iter().map(|&(c, m)| Ok(Demand::sized("service:s", Resources::new(c, m)))).collect();
            let mut slots: Vec<Slot> =
                room.iter().enumerate().map(|(i, &(c, m))| slot(&i.to_string(), Resources::new(c, m))).collect();
            let free: (u64, u64) =
                slots.iter().fold((0, 0), |(c, m), s| (c + u64::from(s.free.cpu), m + u64::from(s.free.memory)));
            let needed = shortfall(&waiting, &mut slots, &[shape("m5.large", FRESH, 2)]);
            prop_assert_eq!(needed.never_fit + needed.unjudged, 0);
            let count = u32::try_from(waiting.len()).unwrap();
            prop_assert!(needed.instances + needed.fit_existing <= count);
            let total: (u64, u64) = sizes.iter().fold((0, 0), |(c, m), &(dc, dm)| (c + u64::from(dc), m + u64::from(dm)));
            let bound = |need: u64, free: u64, per: u32| need.saturating_sub(free).div_ceil(u64::from(per));
            let lower = bound(total.0, free.0, FRESH.cpu).max(bound(total.1, free.1, FRESH.memory));
            prop_assert!(u64::from(needed.instances) >= lower, "{} < volume bound {}", needed.instances, lower);
        }
    }
}
