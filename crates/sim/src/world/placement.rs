//! How the simulated ECS places a task on a container instance, and which task it stops when a service has one
//! too many: its own model of ECS's scheduler, written from ECS's documentation, never the core's placement
//! model. The only thing it shares with the core is the cluster query language ([`Expression`], parsed and
//! evaluated by `ecs_scaler_core::placement::constraints`): that is the language `memberOf` is written in, not a
//! decision about where a task goes.
//!
//! ECS's steps ("Amazon ECS task placement"): the container instances that satisfy the task's CPU, memory, GPU
//! and port requirements, then its ENI (an awsvpc task takes one of the instance's awsvpc task slots), then its
//! placement constraints (`distinctInstance`: no task of the same task group, here the service, on the instance;
//! `memberOf`: the expression holds for the instance's attributes); then the placement strategy picks among
//! them, rule by rule. Only ACTIVE instances take tasks.

use std::collections::HashMap;

use ecs_scaler_core::cluster::HostPorts;
use ecs_scaler_core::placement::constraints::{Expression, Tri};

use super::{EcsStatus, Instance, World};
use crate::scenario::{BinpackField, NetworkMode, ServiceSpec, Strategy, ZONE_FIELD};

/// What one task of a service needs of an instance, from its task definition and its service.
#[derive(Debug, Clone, PartialEq)]
pub struct Needs {
    pub cpu: u32,
    pub memory: u32,
    pub gpus: u32,
    /// Static host ports it holds (bridge and host mode).
    pub ports: HostPorts,
    /// An awsvpc task: one of its instance's awsvpc task slots (an ENI, or a branch ENI on a trunk).
    pub eni: bool,
    /// `distinctInstance`.
    pub distinct: bool,
    /// `memberOf`, the service's and the task definition's.
    pub member_of: Vec<Expression>,
    pub strategy: Vec<Strategy>,
}

impl Needs {
    /// A scenario's service. An expression that does not parse (the scenario is validated before a run, so only a
    /// world built by hand can have one) is left out.
    pub fn of(spec: &ServiceSpec) -> Self {
        let (tcp, udp) = spec.host_ports();
        Self {
            cpu: spec.cpu,
            memory: spec.memory,
            gpus: spec.gpus,
            ports: HostPorts { tcp: tcp.into_iter().collect(), udp: udp.into_iter().collect() },
            eni: spec.network_mode == NetworkMode::Awsvpc,
            distinct: spec.distinct_instance(),
            member_of: spec.member_of().filter_map(|raw| Expression::parse(raw).ok()).collect(),
            strategy: spec.placement_strategy.clone(),
        }
    }
}

/// Why an instance cannot take a task, in the order ECS checks: the resources first, then the constraints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Refusal {
    Cpu,
    Memory,
    Gpu,
    /// A host port the task needs is in use.
    Port,
    /// No awsvpc task slot left.
    Eni,
    DistinctInstance,
    MemberOf,
}

impl Refusal {
    /// What ECS's service event adds after "no container instance met all of its requirements." about the
    /// closest matching instance, where ECS documents or has been seen to write it (service event messages;
    /// the constraint errors as quoted in AWS's issue trackers). GPUs and ENIs: ECS's wording is not documented,
    /// so nothing is added.
    pub fn closest(self, instance: &Instance) -> Option<String> {
        let id = instance.container_instance_id();
        let what = match self {
            Refusal::Cpu => "has insufficient CPU units available.".to_owned(),
            Refusal::Memory => "has insufficient memory available.".to_owned(),
            Refusal::Port => "is already using a port required by your task.".to_owned(),
            Refusal::DistinctInstance => {
                r#"encountered error "DistinctInstance placement constraint unsatisfied.""#.into()
            }
            Refusal::MemberOf => r#"encountered error "MemberOf placement constraint unsatisfied.""#.into(),
            Refusal::Gpu | Refusal::Eni => return None,
        };
        Some(format!("The closest matching container-instance {id} {what}"))
    }
}

/// Whether a task with these needs fits `instance`, which runs `same_group` tasks of its service already; the
/// first refusal in ECS's order otherwise.
pub fn refusal(needs: &Needs, instance: &Instance, same_group: u32) -> Option<Refusal> {
    if instance.used_cpu + needs.cpu > instance.cpu {
        return Some(Refusal::Cpu);
    }
    if instance.used_memory + needs.memory > instance.memory {
        return Some(Refusal::Memory);
    }
    if instance.used_gpus + needs.gpus > instance.gpus {
        return Some(Refusal::Gpu);
    }
    if needs.ports.tcp.iter().any(|p| instance.ports.tcp.contains(p))
        || needs.ports.udp.iter().any(|p| instance.ports.udp.contains(p))
    {
        return Some(Refusal::Port);
    }
    if needs.eni && instance.enis >= instance.eni_limit {
        return Some(Refusal::Eni);
    }
    if needs.distinct && same_group > 0 {
        return Some(Refusal::DistinctInstance);
    }
    // An expression the evaluator cannot decide is not satisfied: ECS places only where it holds.
    if needs.member_of.iter().any(|e| e.eval(&instance.attributes) != Tri::Yes) {
        return Some(Refusal::MemberOf);
    }
    None
}

/// A task no ACTIVE instance could take, and the closest one: the instance that got furthest through ECS's
/// checks (the first such instance on a tie), with what stopped it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unplaced {
    pub closest: Option<(usize, Refusal)>,
}

impl World {
    /// The value of a spread field on an instance: `instanceId`/`host` its ID, `attribute:<name>` the attribute
    /// (absent: the empty value).
    fn field_value<'a>(&'a self, instance: &'a Instance, field: &str) -> &'a str {
        if field == ZONE_FIELD {
            return &self.zones[instance.zone];
        }
        match field.strip_prefix("attribute:") {
            Some(name) => instance.attributes.values.get(name).map_or("", String::as_str),
            None => instance.container_instance_id(),
        }
    }

    /// How many tasks of `service` each instance runs.
    fn per_instance(&self, service: usize) -> Vec<u32> {
        let mut counts = vec![0; self.instances.len()];
        for task in &self.ecs.services[service].tasks {
            counts[task.instance] += 1;
        }
        counts
    }

    /// The service's tasks on ACTIVE instances by the value of `field` there (what spread balances; tasks on
    /// DRAINING instances are leaving).
    fn spread_counts(&self, service: usize, field: &str) -> HashMap<&str, usize> {
        let mut counts = HashMap::new();
        for task in &self.ecs.services[service].tasks {
            let on = &self.instances[task.instance];
            if on.ecs == EcsStatus::Active {
                *counts.entry(self.field_value(on, field)).or_default() += 1;
            }
        }
        counts
    }

    /// Where one more task of `service` goes: the ACTIVE instances that meet all of its requirements, narrowed by
    /// each rule of its placement strategy in turn (spread: the values of the field with the fewest of the
    /// service's tasks; binpack: the least of the resource left), then the least memory left, the least CPU
    /// left, the oldest.
    pub fn choose_instance(&self, service: usize) -> Result<usize, Unplaced> {
        let needs = &self.ecs.services[service].needs;
        let mine = self.per_instance(service);
        let mut closest: Option<(usize, Refusal)> = None;
        let mut candidates = Vec::new();
        for (index, instance) in self.instances.iter().enumerate().filter(|(_, i)| i.ecs == EcsStatus::Active) {
            match refusal(needs, instance, mine[index]) {
                None => candidates.push(index),
                Some(why) => {
                    if closest.is_none_or(|(_, best)| why > best) {
                        closest = Some((index, why));
                    }
                }
            }
        }
        if candidates.is_empty() {
            return Err(Unplaced { closest });
        }
        for rule in &needs.strategy {
            if candidates.len() == 1 {
                break;
            }
            match rule {
                Strategy::Spread { field } => {
                    let counts = self.spread_counts(service, field);
                    let count =
                        |i: usize| counts.get(self.field_value(&self.instances[i], field)).copied().unwrap_or(0);
                    let least = candidates.iter().map(|&i| count(i)).min().unwrap_or(0);
                    candidates.retain(|&i| count(i) == least);
                }
                Strategy::Binpack { field } => {
                    let left = |i: usize| match field {
                        BinpackField::Memory => self.instances[i].free_memory(),
                        BinpackField::Cpu => self.instances[i].free_cpu(),
                    };
                    let least = candidates.iter().map(|&i| left(i)).min().unwrap_or(0);
                    candidates.retain(|&i| left(i) == least);
                }
            }
        }
        candidates
            .into_iter()
            .min_by_key(|&i| (self.instances[i].free_memory(), self.instances[i].free_cpu(), i))
            .ok_or(Unplaced { closest })
    }

    /// Which of the service's tasks on ACTIVE instances to stop when it has one too many: PENDING ones first,
    /// then by its strategy's rules in turn (spread: from the value with the most of its tasks, keeping the
    /// balance; binpack: from the instance left with the most of the resource), then the newest instance.
    /// Returns the task's position in the service's tasks.
    pub fn choose_task_to_stop(&self, service: usize) -> Option<usize> {
        let state = &self.ecs.services[service];
        let spreads: Vec<Option<HashMap<&str, usize>>> = state
            .needs
            .strategy
            .iter()
            .map(|rule| match rule {
                Strategy::Spread { field } => Some(self.spread_counts(service, field)),
                Strategy::Binpack { .. } => None,
            })
            .collect();
        let candidates =
            (0..state.tasks.len()).filter(|&p| self.instances[state.tasks[p].instance].ecs == EcsStatus::Active);
        candidates.min_by_key(|&p| {
            let task = &state.tasks[p];
            let instance = &self.instances[task.instance];
            let mut key: Vec<i64> = vec![i64::from(task.running)];
            for (rule, counts) in state.needs.strategy.iter().zip(&spreads) {
                key.push(match (rule, counts) {
                    (Strategy::Spread { field }, Some(counts)) => {
                        -(counts.get(self.field_value(instance, field)).copied().unwrap_or(0) as i64)
                    }
                    (Strategy::Binpack { field: BinpackField::Cpu }, _) => -i64::from(instance.free_cpu()),
                    _ => -i64::from(instance.free_memory()),
                });
            }
            key.push(-i64::from(instance.free_memory()));
            key.push(-(task.instance as i64));
            key
        })
    }
}

#[cfg(test)]
mod tests {
    use ecs_scaler_core::Scheduling;

    use super::*;
    use crate::knobs::Knobs;
    use crate::policy::Wiring;
    use crate::scenario::{Constraint, InstanceType, PortSpec, Protocol, Scenario};
    use crate::world::Lifecycle;

    /// `instances` ACTIVE instances of `instance_type` over three zones (a, b, c, a, ...), no task yet, and the
    /// services given (all at desired 0).
    fn world(instance_type: InstanceType, instances: u32, services: Vec<ServiceSpec>) -> World {
        let scenario = Scenario {
            instance_type,
            initial_instances: Some(instances),
            min_size: 0,
            max_size: 50,
            services,
            ..Scenario::default()
        };
        scenario.validate().unwrap();
        World::new(&scenario, Knobs::default(), Wiring::default())
    }

    fn service(name: &str, cpu: u32, memory: u32) -> ServiceSpec {
        ServiceSpec::replica(name, cpu, memory, 0)
    }

    /// Place `n` tasks of service `s`; the instance each went to.
    fn place(world: &mut World, s: usize, n: usize) -> Vec<Result<usize, Unplaced>> {
        (0..n).map(|_| world.place(s, true)).collect()
    }

    #[test]
    fn awsvpc_tasks_stop_at_the_eni_limit_where_cpu_and_memory_would_take_more() {
        // m5.large: 3 ENIs, the primary one taken: 2 awsvpc tasks, though 8 of 256/512 fit its CPU and memory.
        let awsvpc = ServiceSpec { network_mode: NetworkMode::Awsvpc, ..service("api", 256, 512) };
        let mut w = world(InstanceType::m5_large(), 1, vec![awsvpc, service("bridge", 256, 512)]);
        let placed = place(&mut w, 0, 3);
        assert!(placed[0].is_ok() && placed[1].is_ok());
        assert_eq!(placed[2], Err(Unplaced { closest: Some((0, Refusal::Eni)) }));
        assert_eq!(w.instances[0].enis, 2);
        assert!(w.place(1, true).is_ok(), "a bridge task needs no ENI");
        // With a trunk ENI, ECS's trunk limit for the type (10 on an m5.large).
        let awsvpc = ServiceSpec { network_mode: NetworkMode::Awsvpc, ..service("api", 128, 256) };
        let scenario = Scenario {
            instance_type: InstanceType::m5_large(),
            initial_instances: Some(1),
            awsvpc_trunking: true,
            services: vec![awsvpc],
            ..Scenario::default()
        };
        let mut trunked = World::new(&scenario, Knobs::default(), Wiring::default());
        assert!(trunked.instances[0].trunk);
        assert!(place(&mut trunked, 0, 10).iter().all(Result::is_ok));
        assert!(trunked.place(0, true).is_err());
    }

    #[test]
    fn static_host_ports_clash_per_protocol_and_dynamic_ones_never() {
        let tcp = |port| PortSpec { container_port: 80, host_port: Some(port), protocol: Protocol::Tcp };
        let web = ServiceSpec { ports: vec![tcp(8080)], ..service("web", 128, 256) };
        let dns = ServiceSpec {
            ports: vec![PortSpec { container_port: 8080, host_port: Some(8080), protocol: Protocol::Udp }],
            ..service("dns", 128, 256)
        };
        let host = ServiceSpec {
            network_mode: NetworkMode::Host,
            ports: vec![PortSpec { container_port: 9000, host_port: None, protocol: Protocol::Tcp }],
            ..service("host", 128, 256)
        };
        let dynamic = ServiceSpec { ports: vec![tcp(0)], ..service("dynamic", 128, 256) };
        let mut w = world(InstanceType::m5_xlarge(), 1, vec![web, dns, host, dynamic]);
        assert!(w.place(0, true).is_ok());
        assert_eq!(w.place(0, true), Err(Unplaced { closest: Some((0, Refusal::Port)) }), "tcp/8080 is taken");
        assert!(w.place(1, true).is_ok(), "udp/8080 is another port");
        assert!(w.place(2, true).is_ok());
        assert!(w.place(2, true).is_err(), "host mode holds the container port");
        assert!(place(&mut w, 3, 5).iter().all(Result::is_ok), "dynamic ports never clash");
        let ports = &w.instances[0].ports;
        assert!(ports.tcp.contains(&8080) && ports.tcp.contains(&9000) && ports.udp.contains(&8080));
        assert!(ports.tcp.contains(&22), "the agent's reserved ports are in use from the start");
    }

    #[test]
    fn gpus_are_a_resource_of_their_own() {
        let ml = ServiceSpec { gpus: 1, ..service("ml", 1024, 4096) };
        let mut w = world(InstanceType::g4dn_xlarge(), 1, vec![ml]);
        assert!(w.place(0, true).is_ok());
        assert_eq!(w.place(0, true), Err(Unplaced { closest: Some((0, Refusal::Gpu)) }));
        assert_eq!(w.instances[0].used_gpus, 1);
        assert!(w.instances[0].fits(1024, 4096), "CPU and memory alone would take two more");
    }

    #[test]
    fn distinct_instance_keeps_a_service_s_tasks_apart_but_not_other_services() {
        let one_each =
            ServiceSpec { placement_constraints: vec![Constraint::DistinctInstance], ..service("zk", 128, 256) };
        let mut w =
            world(InstanceType::m5_xlarge(), 3, vec![one_each.clone(), ServiceSpec { name: "zk2".into(), ..one_each }]);
        let placed: Vec<usize> = place(&mut w, 0, 3).into_iter().map(Result::unwrap).collect();
        let mut distinct = placed.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 3, "{placed:?}");
        assert!(matches!(w.place(0, true), Err(Unplaced { closest: Some((_, Refusal::DistinctInstance)) })));
        assert!(place(&mut w, 1, 3).iter().all(Result::is_ok), "another service's tasks do not count");
    }

    #[test]
    fn member_of_places_only_where_the_expression_holds() {
        let pinned = ServiceSpec {
            placement_constraints: vec![Constraint::MemberOf {
                expression: "attribute:ecs.availability-zone == sim-1b".into(),
            }],
            ..service("pinned", 128, 256)
        };
        let typed = ServiceSpec {
            task_definition_constraints: vec![Constraint::MemberOf {
                expression: "attribute:ecs.instance-type == m5.2xlarge".into(),
            }],
            ..service("typed", 128, 256)
        };
        let mut w = world(InstanceType::m5_xlarge(), 3, vec![pinned, typed]);
        for result in place(&mut w, 0, 4) {
            assert_eq!(w.zones[w.instances[result.unwrap()].zone], "sim-1b");
        }
        assert!(matches!(w.place(1, true), Err(Unplaced { closest: Some((_, Refusal::MemberOf)) })));
    }

    #[test]
    fn the_default_strategy_spreads_over_zones_then_binpacks_on_memory_within_one() {
        let mut w = world(InstanceType::m5_xlarge(), 6, vec![service("api", 256, 1024)]);
        let zones: Vec<usize> = w.instances.iter().map(|i| i.zone).collect();
        assert_eq!(zones, [0, 1, 2, 0, 1, 2], "instances launch balanced over the zones");
        let placed: Vec<usize> = place(&mut w, 0, 6).into_iter().map(Result::unwrap).collect();
        let zone_of: Vec<usize> = placed.iter().map(|&i| w.instances[i].zone).collect();
        assert_eq!(zone_of, [0, 1, 2, 0, 1, 2], "one per zone in turn");
        // Within a zone, binpack: the second task of a zone goes where the first one is, not to the empty one.
        assert_eq!(placed[3], placed[0]);
        assert_eq!(placed[4], placed[1]);
        // Binpack alone would have stacked them all on one instance.
        let binpack = ServiceSpec {
            placement_strategy: vec![Strategy::Binpack { field: BinpackField::Memory }],
            ..service("packed", 256, 1024)
        };
        let mut w = world(InstanceType::m5_xlarge(), 6, vec![binpack]);
        let placed: Vec<usize> = place(&mut w, 0, 6).into_iter().map(Result::unwrap).collect();
        assert!(placed.iter().all(|&i| i == placed[0]), "{placed:?}");
    }

    #[test]
    fn a_spread_service_scales_in_from_its_fullest_zone() {
        let mut w = world(InstanceType::m5_xlarge(), 3, vec![service("api", 256, 1024)]);
        // Zone a gets two tasks, b and c one each.
        for zone in [0, 0, 1, 2] {
            w.put(0, zone, true);
        }
        let stop = w.choose_task_to_stop(0).unwrap();
        assert_eq!(w.instances[w.ecs.services[0].tasks[stop].instance].zone, 0);
        w.remove_tasks(0, vec![stop], false);
        let next = w.choose_task_to_stop(0).unwrap();
        assert_eq!(w.instances[w.ecs.services[0].tasks[next].instance].zone, 2, "then the zones are even: the newest");
    }

    #[test]
    fn the_closest_matching_instance_is_the_one_that_got_furthest() {
        let pinned = ServiceSpec {
            placement_constraints: vec![Constraint::MemberOf { expression: "attribute:purpose == batch".into() }],
            ..service("batch", 2048, 8192)
        };
        let mut w = world(InstanceType::m5_xlarge(), 2, vec![pinned, service("filler", 3000, 1024)]);
        w.put(1, 0, true);
        // Instance 0 lacks CPU, instance 1 has room but not the attribute: 1 is the closest.
        let unplaced = w.place(0, true).unwrap_err();
        assert_eq!(unplaced.closest, Some((1, Refusal::MemberOf)));
        let message = Refusal::MemberOf.closest(&w.instances[1]).unwrap();
        assert!(message.ends_with(r#"encountered error "MemberOf placement constraint unsatisfied.""#), "{message}");
        assert!(message.contains(w.instances[1].container_instance_id()));
    }

    #[test]
    fn daemons_go_only_where_they_fit_every_dimension() {
        let daemon = ServiceSpec {
            scheduling: Scheduling::Daemon,
            gpus: 1,
            min_healthy_percent: 0,
            maximum_percent: 100,
            ..service("gpu-exporter", 64, 64)
        };
        let scenario = Scenario {
            instance_type: InstanceType::m5_xlarge(),
            mixed_instance_types: vec![InstanceType::g4dn_xlarge()],
            initial_instances: Some(2),
            services: vec![daemon],
            unavailable: vec![crate::scenario::Unavailable {
                zone: "sim-1b".into(),
                instance_type: "m5.xlarge".into(),
            }],
            ..Scenario::default()
        };
        scenario.validate().unwrap();
        let w = World::new(&scenario, Knobs::default(), Wiring::default());
        let kinds: Vec<&str> = w.instances.iter().map(|i| w.types[i.kind].name.as_str()).collect();
        assert_eq!(kinds, ["m5.xlarge", "g4dn.xlarge"], "zone b has no m5.xlarge: the next type");
        assert_eq!(w.instances.iter().map(|i| i.tasks).collect::<Vec<_>>(), [0, 1]);
        assert!(w.instances.iter().all(|i| i.lifecycle == Lifecycle::InService));
        w.audit().unwrap();
    }
}
