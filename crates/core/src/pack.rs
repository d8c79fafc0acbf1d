//! Bin packing in two dimensions (CPU units and MiB): how many instances waiting tasks need, and whether one
//! instance's tasks fit into the others' free room.
//!
//! Both questions are answered by first-fit decreasing, the heuristic cluster-autoscaler's and Karpenter's
//! simulations also use: the largest task first, each into the first bin with room. It never packs better than
//! the optimum and at most 11/9 of it plus a constant in one dimension, which is close enough to size a
//! scale-out, and it is deterministic, so the scale-status Lambda, the termination policy and the simulator
//! agree on the same input. "Largest" is the dominant share of the reference capacity (an instance of the
//! group's size), so a memory-heavy and a CPU-heavy task of the same weight rank alike.

use std::cmp::Ordering;

use serde::Serialize;

use crate::cluster::Resources;

/// `items` in first-fit-decreasing order: largest dominant share of `reference` first, ties by memory, then CPU.
fn decreasing(items: &[Resources], reference: Resources) -> Vec<Resources> {
    let share = |r: &Resources| {
        let part = |used: u32, of: u32| if of == 0 { 0.0 } else { f64::from(used) / f64::from(of) };
        part(r.cpu, reference.cpu).max(part(r.memory, reference.memory))
    };
    let mut sorted = items.to_vec();
    sorted.sort_by(|a, b| {
        share(b).partial_cmp(&share(a)).unwrap_or(Ordering::Equal).then(b.memory.cmp(&a.memory)).then(b.cpu.cmp(&a.cpu))
    });
    sorted
}

fn take(room: &mut Resources, task: Resources) {
    room.cpu -= task.cpu;
    room.memory -= task.memory;
}

/// Pack `items` into the free `room` of existing bins, first-fit decreasing; `room` is left with what stays
/// free. Returns the items that fit no bin, largest first.
pub fn into_room(items: &[Resources], room: &mut [Resources], reference: Resources) -> Vec<Resources> {
    let mut left = Vec::new();
    for task in decreasing(items, reference) {
        match room.iter_mut().find(|r| r.holds(task)) {
            Some(bin) => take(bin, task),
            None => left.push(task),
        }
    }
    left
}

/// How many fresh instances waiting tasks need.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Shortfall {
    /// Fresh instances to add.
    pub instances: u32,
    /// Waiting tasks that fit the free room of instances already there.
    pub fit_existing: u32,
    /// Waiting tasks that fit no fresh instance either (never asked for).
    pub never_fit: u32,
}

/// First-fit decreasing of `waiting` tasks into the free `room` of ACTIVE instances first, then into as many
/// fresh instances of `fresh` free capacity (an instance of the group's size, the daemons' share taken off) as
/// they need.
pub fn shortfall(waiting: &[Resources], room: &[Resources], fresh: Resources) -> Shortfall {
    let mut room = room.to_vec();
    let placed_before = waiting.len();
    let left = into_room(waiting, &mut room, fresh);
    let fit_existing = u32::try_from(placed_before - left.len()).unwrap_or(u32::MAX);
    let mut opened: Vec<Resources> = Vec::new();
    let mut never_fit = 0u32;
    for task in left {
        if !fresh.holds(task) {
            never_fit += 1;
            continue;
        }
        match opened.iter_mut().find(|r| r.holds(task)) {
            Some(bin) => take(bin, task),
            None => {
                let mut bin = fresh;
                take(&mut bin, task);
                opened.push(bin);
            }
        }
    }
    Shortfall { instances: u32::try_from(opened.len()).unwrap_or(u32::MAX), fit_existing, never_fit }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FRESH: Resources = Resources::new(2048, 4096);

    fn tasks(n: usize, cpu: u32, memory: u32) -> Vec<Resources> {
        vec![Resources::new(cpu, memory); n]
    }

    #[test]
    fn nothing_waiting_needs_nothing() {
        assert_eq!(shortfall(&[], &[], FRESH), Shortfall::default());
    }

    #[test]
    fn waiting_tasks_fill_free_room_before_fresh_instances() {
        // 10 tasks of 512/1024: 2 fit the free room, 8 need 2 fresh instances of 4 each.
        let room = [Resources::new(1024, 2048), Resources::new(100, 100)];
        let needed = shortfall(&tasks(10, 512, 1024), &room, FRESH);
        assert_eq!(needed, Shortfall { instances: 2, fit_existing: 2, ..Shortfall::default() });
    }

    #[test]
    fn the_dominant_resource_decides() {
        // Memory-bound: 3 tasks of 3 GiB need 3 instances of 4 GiB although 3 × 100 CPU fits one.
        assert_eq!(shortfall(&tasks(3, 100, 3072), &[], FRESH).instances, 3);
        // CPU-bound the other way round.
        assert_eq!(shortfall(&tasks(3, 1536, 100), &[], FRESH).instances, 3);
    }

    #[test]
    fn largest_first_packs_mixed_sizes_tightly() {
        // First-fit in arrival order would open 3 bins for small, small, big, big; decreasing opens 2.
        let waiting = [
            Resources::new(512, 1024),
            Resources::new(512, 1024),
            Resources::new(1536, 3072),
            Resources::new(1536, 3072),
        ];
        assert_eq!(shortfall(&waiting, &[], FRESH).instances, 2);
    }

    #[test]
    fn a_task_larger_than_a_fresh_instance_is_never_asked_for() {
        let waiting = [Resources::new(4096, 1024), Resources::new(512, 512)];
        assert_eq!(shortfall(&waiting, &[], FRESH), Shortfall { instances: 1, never_fit: 1, ..Shortfall::default() });
    }

    #[test]
    fn into_room_reports_what_fits_nowhere_and_leaves_the_rest_free() {
        let mut room = [Resources::new(1024, 2048), Resources::new(512, 512)];
        let left = into_room(&tasks(3, 512, 1024), &mut room, FRESH);
        assert_eq!(left, tasks(1, 512, 1024));
        assert_eq!(room, [Resources::new(0, 0), Resources::new(512, 512)]);
    }

    proptest! {
        /// The answer is never below the volume bound (total size over one instance's size, per resource) and
        /// never above one instance per task; every task is accounted for exactly once.
        #[test]
        fn shortfall_is_between_the_volume_bound_and_one_per_task(
            sizes in prop::collection::vec((1u32..=2048, 1u32..=4096), 0..60),
            room in prop::collection::vec((0u32..=2048, 0u32..=4096), 0..5),
        ) {
            let waiting: Vec<Resources> = sizes.iter().map(|&(c, m)| Resources::new(c, m)).collect();
            let room: Vec<Resources> = room.iter().map(|&(c, m)| Resources::new(c, m)).collect();
            let needed = shortfall(&waiting, &room, FRESH);
            prop_assert_eq!(needed.never_fit, 0);
            let waiting_count = u32::try_from(waiting.len()).unwrap();
            prop_assert!(needed.instances + needed.fit_existing <= waiting_count);
            let free: (u64, u64) = room.iter().fold((0, 0), |(c, m), r| (c + u64::from(r.cpu), m + u64::from(r.memory)));
            let total: (u64, u64) =
                waiting.iter().fold((0, 0), |(c, m), r| (c + u64::from(r.cpu), m + u64::from(r.memory)));
            let bound = |need: u64, free: u64, per: u32| need.saturating_sub(free).div_ceil(u64::from(per));
            let lower = bound(total.0, free.0, FRESH.cpu).max(bound(total.1, free.1, FRESH.memory));
            prop_assert!(u64::from(needed.instances) >= lower, "{} < volume bound {}", needed.instances, lower);
        }
    }
}
