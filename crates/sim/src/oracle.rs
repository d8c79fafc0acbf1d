//! The lower bound every policy is measured against.

use std::collections::HashMap;

use ecs_scaler_core::Scheduling;

use crate::scenario::{InstanceType, NetworkMode, ServiceSpec};

/// The most one instance of any type the groups launch (or started with) holds, per dimension: CPU units, MiB,
/// GPUs, awsvpc tasks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Room {
    pub cpu: u32,
    pub memory: u32,
    pub gpus: u32,
    pub enis: u32,
}

impl Room {
    /// One type's room; `trunking`: the account's awsvpcTrunking.
    pub fn of(instance_type: &InstanceType, trunking: bool) -> Self {
        let mut room = Self::default();
        room.grow(instance_type, trunking);
        room
    }

    /// Take the larger of each dimension.
    pub fn grow(&mut self, instance_type: &InstanceType, trunking: bool) {
        let trunk = trunking && instance_type.trunk_tasks.is_some();
        self.cpu = self.cpu.max(instance_type.cpu);
        self.memory = self.memory.max(instance_type.memory);
        self.gpus = self.gpus.max(instance_type.gpus);
        self.enis = self.enis.max(instance_type.awsvpc_tasks(trunk));
    }
}

/// Instances that `tasks` need at the very least, the most of, over the REPLICA tasks:
/// - ⌈ΣCPU / CPU room⌉ and ⌈Σmemory / memory room⌉, where an instance's room is what the largest type registers
///   minus the daemons every instance runs;
/// - ⌈ΣGPUs / GPUs⌉ and ⌈awsvpc tasks / awsvpc task slots⌉ of the largest type;
/// - the desired count of a `distinctInstance` service (one instance each);
/// - for every static host port (TCP and UDP apart), the tasks holding it (one per instance).
///
/// Perfect packing, instant launches, each dimension's largest type: no policy can do with fewer and keep every
/// task placed.
pub fn bound<'a>(
    tasks: impl IntoIterator<Item = (&'a ServiceSpec, u32)>,
    room: &Room,
    (daemon_cpu, daemon_memory): (u32, u32),
) -> u32 {
    let (mut cpu, mut memory, mut gpus, mut enis) = (0u64, 0u64, 0u64, 0u64);
    let mut at_least = 0u64;
    let mut ports: HashMap<(bool, u16), u64> = HashMap::new();
    for (service, count) in tasks {
        if service.scheduling != Scheduling::Replica || count == 0 {
            continue;
        }
        let n = u64::from(count);
        cpu += u64::from(service.cpu) * n;
        memory += u64::from(service.memory) * n;
        gpus += u64::from(service.gpus) * n;
        if service.network_mode == NetworkMode::Awsvpc {
            enis += n;
        }
        if service.distinct_instance() {
            at_least = at_least.max(n);
        }
        let (tcp, udp) = service.host_ports();
        for (udp, port) in tcp.into_iter().map(|p| (false, p)).chain(udp.into_iter().map(|p| (true, p))) {
            *ports.entry((udp, port)).or_default() += n;
        }
    }
    at_least = at_least.max(ports.values().copied().max().unwrap_or(0));
    let room_cpu = u64::from(room.cpu.saturating_sub(daemon_cpu));
    let room_memory = u64::from(room.memory.saturating_sub(daemon_memory));
    let need = |total: u64, room: u64| match (total, room) {
        (0, _) => 0,
        (_, 0) => u64::from(u32::MAX),
        (total, room) => total.div_ceil(room),
    };
    let most = need(cpu, room_cpu)
        .max(need(memory, room_memory))
        .max(need(gpus, u64::from(room.gpus)))
        .max(need(enis, u64::from(room.enis)))
        .max(at_least);
    u32::try_from(most).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(cpu: u32, memory: u32) -> ServiceSpec {
        ServiceSpec::replica("s", cpu, memory, 0)
    }

    fn m5() -> Room {
        Room::of(&InstanceType::m5_xlarge(), false)
    }

    #[test]
    fn the_bound_is_the_scarcer_resource_rounded_up() {
        let m5 = m5();
        // 10 × 512 CPU = 1.25 instances of CPU; 10 × 2048 MiB = 1.33 of memory: 2.
        assert_eq!(bound([(&service(512, 2048), 10)], &m5, (0, 0)), 2);
        // CPU-bound: 9 × 1024 = 2.25 instances.
        assert_eq!(bound([(&service(1024, 256), 9)], &m5, (0, 0)), 3);
        assert_eq!(bound([(&service(1024, 256), 0)], &m5, (0, 0)), 0);
    }

    #[test]
    fn daemons_shrink_every_instance() {
        let m5 = m5();
        // 15360 − 360 = 15000 MiB of room: 30 × 500 fits exactly on one.
        assert_eq!(bound([(&service(10, 500), 30)], &m5, (0, 360)), 1);
        assert_eq!(bound([(&service(10, 500), 30)], &m5, (0, 361)), 2);
    }

    #[test]
    fn enis_gpus_distinct_instances_and_host_ports_each_bound_the_count() {
        use crate::scenario::{Constraint, PortSpec, Protocol};
        let large = Room::of(&InstanceType::m5_large(), false);
        assert_eq!(large.enis, 2);
        let awsvpc = ServiceSpec { network_mode: NetworkMode::Awsvpc, ..service(128, 256) };
        // 9 tiny awsvpc tasks: one instance of CPU and memory, five of ENIs (2 each).
        assert_eq!(bound([(&awsvpc, 9)], &large, (0, 0)), 5);
        assert_eq!(bound([(&awsvpc, 9)], &Room::of(&InstanceType::m5_large(), true), (0, 0)), 1, "10 with a trunk");
        let gpu = ServiceSpec { gpus: 1, ..service(128, 256) };
        assert_eq!(bound([(&gpu, 3)], &Room::of(&InstanceType::g4dn_xlarge(), false), (0, 0)), 3);
        let distinct = ServiceSpec { placement_constraints: vec![Constraint::DistinctInstance], ..service(128, 256) };
        assert_eq!(bound([(&distinct, 7)], &m5(), (0, 0)), 7);
        let port = |protocol| PortSpec { container_port: 53, host_port: Some(53), protocol };
        let tcp = ServiceSpec { ports: vec![port(Protocol::Tcp)], ..service(128, 256) };
        let udp = ServiceSpec { ports: vec![port(Protocol::Udp)], ..service(128, 256) };
        assert_eq!(bound([(&tcp, 4), (&udp, 4)], &m5(), (0, 0)), 4, "tcp/53 and udp/53 share instances");
        let tcp2 = ServiceSpec { name: "t2".into(), ..tcp.clone() };
        assert_eq!(bound([(&tcp, 4), (&tcp2, 2)], &m5(), (0, 0)), 6, "two services on one port do not");
    }
}
