//! The lower bound every policy is measured against.

use ecs_scaler_core::Scheduling;

use crate::scenario::{InstanceType, ServiceSpec};

/// Instances that `tasks` need at the very least: ⌈max(ΣCPU / instance CPU, Σmemory / instance memory)⌉ over
/// the REPLICA tasks, where an instance's room is what its type registers minus the daemons every instance
/// runs. Perfect packing, instant launches: no policy can do with fewer and keep every task placed.
pub fn bound<'a>(
    tasks: impl IntoIterator<Item = (&'a ServiceSpec, u32)>,
    instance: &InstanceType,
    (daemon_cpu, daemon_memory): (u32, u32),
) -> u32 {
    let (mut cpu, mut memory) = (0u64, 0u64);
    for (service, count) in tasks {
        if service.scheduling == Scheduling::Replica {
            cpu += u64::from(service.cpu) * u64::from(count);
            memory += u64::from(service.memory) * u64::from(count);
        }
    }
    let room_cpu = u64::from(instance.cpu.saturating_sub(daemon_cpu));
    let room_memory = u64::from(instance.memory.saturating_sub(daemon_memory));
    let need = |total: u64, room: u64| match (total, room) {
        (0, _) => 0,
        (_, 0) => u64::from(u32::MAX),
        (total, room) => total.div_ceil(room),
    };
    u32::try_from(need(cpu, room_cpu).max(need(memory, room_memory))).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(cpu: u32, memory: u32) -> ServiceSpec {
        ServiceSpec {
            name: "s".into(),
            cpu,
            memory,
            desired: 0,
            min_healthy_percent: 100,
            maximum_percent: 200,
            scheduling: Scheduling::Replica,
        }
    }

    #[test]
    fn the_bound_is_the_scarcer_resource_rounded_up() {
        let m5 = InstanceType::m5_xlarge();
        // 10 × 512 CPU = 1.25 instances of CPU; 10 × 2048 MiB = 1.33 of memory: 2.
        assert_eq!(bound([(&service(512, 2048), 10)], &m5, (0, 0)), 2);
        // CPU-bound: 9 × 1024 = 2.25 instances.
        assert_eq!(bound([(&service(1024, 256), 9)], &m5, (0, 0)), 3);
        assert_eq!(bound([(&service(1024, 256), 0)], &m5, (0, 0)), 0);
    }

    #[test]
    fn daemons_shrink_every_instance() {
        let m5 = InstanceType::m5_xlarge();
        // 15360 − 360 = 15000 MiB of room: 30 × 500 fits exactly on one.
        assert_eq!(bound([(&service(10, 500), 30)], &m5, (0, 360)), 1);
        assert_eq!(bound([(&service(10, 500), 30)], &m5, (0, 361)), 2);
    }
}
