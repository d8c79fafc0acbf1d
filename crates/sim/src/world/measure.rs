//! What a minute looked like: the reservation metrics ECS publishes, and the figures the run records.

use ecs_scaler_core::drain::required_tasks;

use super::{EcsStatus, Lifecycle, Minute, World};
use crate::oracle;
use crate::policy::ClusterView;

impl World {
    /// Reservations (also published to CloudWatch as AWS/ECS would), counts, health, and the two numbers ECS
    /// managed scaling needs: M (instances running non-daemon tasks plus the fresh ones this minute's unplaced
    /// tasks would need) and N (instances launched or running and not terminating), with how many of N are
    /// within its instance warm-up and how many ACTIVE instances are empty.
    pub fn measure(&mut self, unplaced: u32) -> (Minute, ClusterView) {
        let counts = self.counts();
        let (mut instances, mut registered, mut draining) = (0, 0, 0);
        let (mut cpu, mut memory, mut reserved_cpu, mut reserved_memory) = (0u64, 0u64, 0u64, 0u64);
        let (mut busy, mut empty) = (0, 0);
        for instance in self.instances.iter().filter(|i| i.lifecycle != Lifecycle::Terminated) {
            instances += 1;
            if !instance.registered() {
                continue;
            }
            registered += 1;
            if instance.draining() {
                draining += 1;
            } else if instance.replica_tasks > 0 {
                busy += 1;
            } else {
                empty += 1;
            }
            cpu += u64::from(instance.cpu);
            memory += u64::from(instance.memory);
            reserved_cpu += u64::from(instance.used_cpu);
            reserved_memory += u64::from(instance.used_memory);
        }
        // ECS publishes no reservation for a cluster that runs no task at all.
        let any_task = self.ecs.services.iter().any(|s| !s.tasks.is_empty());
        let percent = |used: u64, total: u64| (total > 0 && any_task).then(|| used as f64 / total as f64 * 100.0);
        let (cpu_reservation, memory_reservation) = (percent(reserved_cpu, cpu), percent(reserved_memory, memory));
        let now = self.now();
        self.cloudwatch.record_reservations(now, cpu_reservation, memory_reservation);

        let (mut desired_tasks, mut placed_tasks, mut running_tasks, mut shortfall, mut below_min) = (0, 0, 0, 0, 0);
        for (state, c) in self.ecs.services.iter_mut().zip(&counts) {
            if !state.is_replica() {
                continue;
            }
            let desired = state.desired;
            desired_tasks += desired;
            placed_tasks += c.live();
            running_tasks += c.running();
            shortfall += desired.saturating_sub(c.live());
            // What the service would run had no instance been taken from under it.
            state.lost = state.lost.min(desired.saturating_sub(c.running()));
            let baseline = c.running() + state.lost;
            if c.running() < required_tasks(baseline as i32, state.spec.min_healthy_percent) as u32 {
                below_min += 1;
            }
        }

        let desired = self.ecs.services.iter().map(|s| (&s.spec, s.desired));
        let oracle = oracle::bound(desired, &self.largest, self.ecs.daemon_overhead);
        let needed = busy + self.fresh_instances_for_unplaced();
        let running: Vec<i64> = self
            .instances
            .iter()
            .filter(|i| {
                i.lifecycle != Lifecycle::Terminated && matches!(i.ecs, EcsStatus::Unregistered | EcsStatus::Active)
            })
            .map(|i| i.launched)
            .collect();
        let warm_from = i64::from(self.tick) - i64::from(self.knobs.capacity_instance_warmup_minutes);
        let view = ClusterView {
            minute: self.recording().unwrap_or(0),
            instances_needed: needed,
            instances_running: running.len() as u32,
            instances_warming: running.iter().filter(|&&launched| launched > warm_from).count() as u32,
            instances_empty: empty,
        };
        let record = Minute {
            minute: self.recording().unwrap_or(0),
            instances,
            registered,
            draining,
            desired_capacity: 0,
            cpu_reservation,
            memory_reservation,
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
        (record, view)
    }

    /// First-fit decreasing of this minute's unplaced tasks onto fresh instances of the launch type.
    fn fresh_instances_for_unplaced(&self) -> u32 {
        let mut sizes: Vec<(u32, u32)> = Vec::new();
        for state in &self.ecs.services {
            sizes.extend(std::iter::repeat_n((state.spec.cpu, state.spec.memory), state.unplaced as usize));
        }
        if sizes.is_empty() {
            return 0;
        }
        sizes.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        let overhead = self.ecs.daemon_overhead;
        let room =
            (self.launch_type.cpu.saturating_sub(overhead.0), self.launch_type.memory.saturating_sub(overhead.1));
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

    /// Container instances registered now (ACTIVE and DRAINING).
    pub fn registered_instances(&self) -> u32 {
        self.instances.iter().filter(|i| i.registered()).count() as u32
    }

    /// ⌈max(ΣCPU/room, Σmemory/room)⌉ over the tasks actually placed, with the largest instance type seen.
    pub fn placed_bound(&self) -> u32 {
        let placed = self.ecs.services.iter().map(|s| (&s.spec, s.tasks.len() as u32));
        oracle::bound(placed, &self.largest, self.ecs.daemon_overhead)
    }
}
