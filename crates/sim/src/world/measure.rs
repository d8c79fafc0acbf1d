//! What a minute looked like: the reservation metrics ECS publishes, and the figures the run records.

use ecs_scaler_core::cluster::HostPorts;
use ecs_scaler_core::drain::required_tasks;

use super::{EcsStatus, Lifecycle, Minute, World};
use crate::oracle;
use crate::policy::ClusterView;
use crate::scenario::{AGENT_RESERVED_PORTS, InstanceType};

/// ECS managed scaling's view of this minute's provisioning tasks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Provisioning {
    /// Fresh instances they need.
    pub instances: u32,
    /// Tasks left out: they do not fit the group's smallest instance type.
    pub excluded: u32,
}

impl World {
    /// Reservations (also published to CloudWatch as AWS/ECS would), counts, health, and the two numbers ECS
    /// managed scaling needs: M (instances running non-daemon tasks plus the fresh ones this minute's unplaced
    /// tasks would need) and N (instances launched or running and not terminating), with how many of N are
    /// within its instance warm-up and how many ACTIVE instances are empty.
    pub fn measure(&mut self, unplaced: u32) -> (Minute, ClusterView) {
        let counts = self.counts();
        let (mut instances, mut registered, mut draining, mut draining_with_tasks) = (0, 0, 0, 0);
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
                draining_with_tasks += u32::from(instance.replica_tasks > 0);
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
        let provisioning = self.fresh_instances_for_unplaced();
        let needed = busy + provisioning.instances;
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
            provisioning_incompatible: provisioning.instances == 0 && provisioning.excluded > 0,
        };
        let record = Minute {
            minute: self.recording().unwrap_or(0),
            instances,
            registered,
            draining,
            draining_with_tasks,
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
            reason: None,
            ecs_calls: Default::default(),
        };
        (record, view)
    }

    /// ECS managed scaling's count of fresh instances for this minute's provisioning tasks (those the scheduler
    /// could not place), as the ECS developer guide describes it for a group of several instance types: the
    /// tasks that do not fit the smallest type of each parameter (vCPU, memory, ENIs, GPUs) are left out; the
    /// others are binpacked (first-fit decreasing, memory then CPU) by CPU, memory, GPUs, ENIs, host ports and
    /// `distinctInstance` onto fresh instances of the largest type of each parameter, each less the daemons
    /// every instance runs and with the agent's reserved ports. `memberOf` is not part of it: the guide names
    /// only those parameters, and recommends no constraint but distinctInstance with managed scaling.
    fn fresh_instances_for_unplaced(&self) -> Provisioning {
        let types: Vec<&InstanceType> = self.launch_types.iter().map(|&k| &self.types[k]).collect();
        let trunk = |t: &InstanceType| self.trunking && t.trunk_tasks.is_some();
        let per = |pick: fn(u32, u32) -> u32, f: &dyn Fn(&InstanceType) -> u32| {
            types.iter().map(|t| f(t)).reduce(pick).unwrap_or(0)
        };
        let enis = |t: &InstanceType| t.awsvpc_tasks(trunk(t));
        let (daemon_cpu, daemon_memory) = self.ecs.daemon_overhead;
        let largest = (
            per(u32::max, &|t| t.cpu).saturating_sub(daemon_cpu),
            per(u32::max, &|t| t.memory).saturating_sub(daemon_memory),
            per(u32::max, &|t| t.gpus),
            per(u32::max, &enis),
        );
        let smallest = (
            per(u32::min, &|t| t.cpu).saturating_sub(daemon_cpu),
            per(u32::min, &|t| t.memory).saturating_sub(daemon_memory),
            per(u32::min, &|t| t.gpus),
            per(u32::min, &enis),
        );
        let mut provisioning = Provisioning::default();
        let mut tasks: Vec<usize> = Vec::new();
        for (index, state) in self.ecs.services.iter().enumerate().filter(|(_, s)| s.unplaced > 0) {
            let n = &state.needs;
            let fits_smallest =
                n.cpu <= smallest.0 && n.memory <= smallest.1 && n.gpus <= smallest.2 && (!n.eni || smallest.3 > 0);
            if fits_smallest {
                tasks.extend(std::iter::repeat_n(index, state.unplaced as usize));
            } else {
                provisioning.excluded += state.unplaced;
            }
        }
        let needs = |service: usize| &self.ecs.services[service].needs;
        tasks.sort_by_key(|&s| std::cmp::Reverse((needs(s).memory, needs(s).cpu, s)));
        struct Bin {
            cpu: u32,
            memory: u32,
            gpus: u32,
            enis: u32,
            ports: HostPorts,
            services: Vec<usize>,
        }
        let mut bins: Vec<Bin> = Vec::new();
        for service in tasks {
            let n = needs(service);
            let fits = |bin: &Bin| {
                bin.cpu + n.cpu <= largest.0
                    && bin.memory + n.memory <= largest.1
                    && bin.gpus + n.gpus <= largest.2
                    && bin.enis + u32::from(n.eni) <= largest.3
                    && n.ports.clash(&bin.ports).is_none()
                    && !(n.distinct && bin.services.contains(&service))
            };
            let bin = match bins.iter_mut().position(|bin| fits(bin)) {
                Some(index) => &mut bins[index],
                None => {
                    bins.push(Bin {
                        cpu: 0,
                        memory: 0,
                        gpus: 0,
                        enis: 0,
                        ports: HostPorts { tcp: AGENT_RESERVED_PORTS.into(), udp: Default::default() },
                        services: Vec::new(),
                    });
                    let last = bins.len() - 1;
                    &mut bins[last]
                }
            };
            bin.cpu += n.cpu;
            bin.memory += n.memory;
            bin.gpus += n.gpus;
            bin.enis += u32::from(n.eni);
            bin.ports.add(&n.ports);
            bin.services.push(service);
        }
        provisioning.instances = bins.len() as u32;
        provisioning
    }

    /// Container instances registered now (ACTIVE and DRAINING).
    pub fn registered_instances(&self) -> u32 {
        self.instances.iter().filter(|i| i.registered()).count() as u32
    }

    /// The oracle's bound ([`oracle::bound`]) over the tasks actually placed, with the largest instance types seen.
    pub fn placed_bound(&self) -> u32 {
        let placed = self.ecs.services.iter().map(|s| (&s.spec, s.tasks.len() as u32));
        oracle::bound(placed, &self.largest, self.ecs.daemon_overhead)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knobs::Knobs;
    use crate::policy::Wiring;
    use crate::scenario::{Constraint, NetworkMode, PortSpec, Protocol, Scenario, ServiceSpec, Unavailable};

    /// A world of `instance_type` (then `more`) with these services, each with `unplaced` tasks waiting.
    fn waiting(instance_type: InstanceType, more: Vec<InstanceType>, services: Vec<(ServiceSpec, u32)>) -> World {
        let unavailable = if more.is_empty() {
            vec![]
        } else {
            vec![Unavailable { zone: "sim-1c".into(), instance_type: instance_type.name.clone() }]
        };
        let scenario = Scenario {
            instance_type,
            mixed_instance_types: more,
            unavailable,
            initial_instances: Some(1),
            services: services.iter().map(|(s, _)| s.clone()).collect(),
            ..Scenario::default()
        };
        scenario.validate().unwrap();
        let mut world = World::new(&scenario, Knobs::default(), Wiring::default());
        for (state, (_, unplaced)) in world.ecs.services.iter_mut().zip(&services) {
            state.unplaced = *unplaced;
        }
        world
    }

    fn small(name: &str) -> ServiceSpec {
        ServiceSpec::replica(name, 128, 256, 0)
    }

    #[test]
    fn managed_scaling_counts_fresh_instances_by_enis_ports_and_distinct_instance() {
        // Six tiny tasks: CPU and memory would put them all on one m5.large.
        let plain = waiting(InstanceType::m5_large(), vec![], vec![(small("a"), 6)]);
        assert_eq!(plain.fresh_instances_for_unplaced(), Provisioning { instances: 1, excluded: 0 });
        // awsvpc: 2 per m5.large.
        let awsvpc = ServiceSpec { network_mode: NetworkMode::Awsvpc, ..small("a") };
        let w = waiting(InstanceType::m5_large(), vec![], vec![(awsvpc, 6)]);
        assert_eq!(w.fresh_instances_for_unplaced().instances, 3);
        // A static port: one per instance; the same port over UDP shares them.
        let port = |protocol| PortSpec { container_port: 53, host_port: Some(53), protocol };
        let tcp = ServiceSpec { ports: vec![port(Protocol::Tcp)], ..small("tcp") };
        let udp = ServiceSpec { ports: vec![port(Protocol::Udp)], ..small("udp") };
        let w = waiting(InstanceType::m5_large(), vec![], vec![(tcp, 4), (udp, 4)]);
        assert_eq!(w.fresh_instances_for_unplaced().instances, 4);
        // distinctInstance: one per instance, but only within its own service.
        let distinct = ServiceSpec { placement_constraints: vec![Constraint::DistinctInstance], ..small("d") };
        let w = waiting(InstanceType::m5_large(), vec![], vec![(distinct, 5), (small("other"), 5)]);
        assert_eq!(w.fresh_instances_for_unplaced().instances, 5);
    }

    #[test]
    fn managed_scaling_ignores_member_of_and_leaves_out_what_the_smallest_type_cannot_hold() {
        let pinned = ServiceSpec {
            placement_constraints: vec![Constraint::MemberOf { expression: "attribute:team == data".into() }],
            ..small("pinned")
        };
        let w = waiting(InstanceType::m5_large(), vec![], vec![(pinned, 6)]);
        assert_eq!(
            w.fresh_instances_for_unplaced(),
            Provisioning { instances: 1, excluded: 0 },
            "memberOf is not sized"
        );
        // m5.large then m5.xlarge: a task only an m5.xlarge holds is left out, the others are packed onto the
        // largest type (4 × 1000 CPU units fit one m5.xlarge).
        let big = ServiceSpec::replica("big", 3000, 4096, 0);
        let mid = ServiceSpec::replica("mid", 1000, 1024, 0);
        let w = waiting(InstanceType::m5_large(), vec![InstanceType::m5_xlarge()], vec![(big.clone(), 2), (mid, 4)]);
        assert_eq!(w.fresh_instances_for_unplaced(), Provisioning { instances: 1, excluded: 2 });
        let (_, view) = waiting(InstanceType::m5_large(), vec![InstanceType::m5_xlarge()], vec![(big, 2)]).measure(2);
        assert!(view.provisioning_incompatible, "nothing it can size: managed scaling stops");
        // GPUs: a GPU task on a group without GPUs is never sized.
        let gpu = ServiceSpec { gpus: 1, ..small("gpu") };
        let w = waiting(InstanceType::g4dn_xlarge(), vec![], vec![(gpu, 3)]);
        assert_eq!(w.fresh_instances_for_unplaced().instances, 3, "one GPU each");
    }
}
