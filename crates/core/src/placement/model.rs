//! What a task needs of an instance ([`Demand`]), what an instance has left ([`Slot`]), and whether one fits the
//! other ([`Fit`]): CPU, memory, GPUs, TCP and UDP host ports, ENI slots for awsvpc tasks, `distinctInstance`
//! and `memberOf`. Where the model lacks a fact (an instance's ports not read, an unknown ENI limit, an
//! attribute a fresh instance will only have once it registers) the answer is [`Fit::Unknown`], never a yes.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

use super::constraints::{Attributes, Expression, Tri};
use crate::cluster::{HostPorts, PlacementConstraint, Resources, TaskDefinition};

/// What one task needs of the instance it runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct Demand {
    /// Its task group (`service:<name>`, `family:<name>`): the tasks `distinctInstance` keeps apart.
    pub group: String,
    pub resources: Resources,
    /// Host ports it holds (bridge and host network modes).
    pub ports: HostPorts,
    /// An awsvpc task: one of the instance's ENI slots.
    pub eni: bool,
    /// `distinctInstance`: no other task of its group on the same instance.
    pub distinct: bool,
    /// `memberOf` expressions, the service's and the task definition's.
    pub member_of: Vec<Expression>,
}

/// Why the model cannot judge where a task could run, for the decision's detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Unjudgeable(pub String);

impl fmt::Display for Unjudgeable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Demand {
    /// A task of `group` running `definition`, under the service's constraints (none for a standalone task)
    /// and the definition's own.
    pub fn new(
        definition: &TaskDefinition,
        group: &str,
        service_constraints: &[PlacementConstraint],
    ) -> Result<Demand, Unjudgeable> {
        let resources = definition
            .reservation()
            .map_err(|why| Unjudgeable(format!("task definition {}: {why}", definition.arn)))?;
        let mut demand = Demand {
            group: group.to_owned(),
            resources,
            ports: definition.host_ports(),
            eni: definition.is_awsvpc(),
            distinct: false,
            member_of: Vec::new(),
        };
        for constraint in service_constraints.iter().chain(&definition.placement_constraints) {
            match constraint {
                PlacementConstraint::DistinctInstance => demand.distinct = true,
                PlacementConstraint::MemberOf(raw) => {
                    let expression = Expression::parse(raw).map_err(|e| Unjudgeable(e.to_string()))?;
                    demand.member_of.push(expression);
                }
                PlacementConstraint::Other(kind) => {
                    return Err(Unjudgeable(format!("placement constraint type {kind:?} is not modelled")));
                }
            }
        }
        Ok(demand)
    }

    /// A demand of CPU and memory alone, for what has no task definition to say more.
    pub fn sized(group: &str, resources: Resources) -> Demand {
        Demand {
            group: group.to_owned(),
            resources,
            ports: HostPorts::default(),
            eni: false,
            distinct: false,
            member_of: Vec::new(),
        }
    }
}

/// One instance as placement sees it: what is left on it, and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    /// The container instance ARN, or `fresh <type> #n` for an instance not launched yet.
    pub id: String,
    /// For people: the EC2 instance ID, or the same as `id`.
    pub label: String,
    pub attributes: Attributes,
    /// What it registered (a fresh one: what its type would).
    pub registered: Resources,
    pub free: Resources,
    /// Host ports in use; `None` when not read.
    pub ports: Option<HostPorts>,
    /// awsvpc tasks it can still take; `None` when its limit or its awsvpc tasks are not known.
    pub enis: Option<u32>,
    /// Tasks per task group on it; `None` when its tasks were not read.
    pub groups: Option<HashMap<String, u32>>,
}

/// Why a task does not fit an instance.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "lacks", content = "detail", rename_all = "snake_case")]
pub enum Lack {
    Cpu,
    Memory,
    Gpu,
    /// The host port is in use.
    Port(String),
    /// No ENI slot left for an awsvpc task.
    Eni,
    /// A task of the same group runs there (`distinctInstance`).
    DistinctInstance,
    /// It does not satisfy this `memberOf` expression.
    MemberOf(String),
}

impl fmt::Display for Lack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lack::Cpu => f.write_str("CPU"),
            Lack::Memory => f.write_str("memory"),
            Lack::Gpu => f.write_str("GPUs"),
            Lack::Port(port) => write!(f, "host port {port} in use"),
            Lack::Eni => f.write_str("no ENI left for an awsvpc task"),
            Lack::DistinctInstance => f.write_str("a task of the same group (distinctInstance)"),
            Lack::MemberOf(expression) => write!(f, "not memberOf {expression}"),
        }
    }
}

/// Whether a task fits an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fit {
    Fits,
    Lacks(Lack),
    /// The model cannot tell, and says why.
    Unknown(String),
}

impl Slot {
    /// Whether `demand` fits: every dimension, the first that lacks decides; where none lacks but one is not
    /// known, [`Fit::Unknown`].
    pub fn fit(&self, demand: &Demand) -> Fit {
        let need = demand.resources;
        if need.cpu > self.free.cpu {
            return Fit::Lacks(Lack::Cpu);
        }
        if need.memory > self.free.memory {
            return Fit::Lacks(Lack::Memory);
        }
        if need.gpu > self.free.gpu {
            return Fit::Lacks(Lack::Gpu);
        }
        let mut unknown = None;
        if !demand.ports.is_empty() {
            match &self.ports {
                Some(in_use) => {
                    if let Some(port) = in_use.clash(&demand.ports) {
                        return Fit::Lacks(Lack::Port(port));
                    }
                }
                None => unknown = Some(format!("the host ports in use on {} are not known", self.label)),
            }
        }
        if demand.eni {
            match self.enis {
                Some(0) => return Fit::Lacks(Lack::Eni),
                Some(_) => {}
                None => unknown = Some(format!("how many awsvpc tasks {} can take is not known", self.label)),
            }
        }
        if demand.distinct {
            match &self.groups {
                Some(groups) if groups.get(&demand.group).is_some_and(|n| *n > 0) => {
                    return Fit::Lacks(Lack::DistinctInstance);
                }
                Some(_) => {}
                None => unknown = Some(format!("the tasks on {} are not known", self.label)),
            }
        }
        for expression in &demand.member_of {
            match expression.eval(&self.attributes) {
                Tri::Yes => {}
                Tri::No => return Fit::Lacks(Lack::MemberOf(expression.to_string())),
                Tri::Unknown => {
                    let what = expression.untracked().unwrap_or_else(|| "an attribute it does not know".into());
                    unknown = Some(format!("memberOf {expression} on {}: {what}", self.label));
                }
            }
        }
        match unknown {
            Some(why) => Fit::Unknown(why),
            None => Fit::Fits,
        }
    }

    /// Place `demand` here (its fit already checked).
    pub fn take(&mut self, demand: &Demand) {
        self.free = self.free.less(demand.resources);
        if let Some(ports) = &mut self.ports {
            ports.add(&demand.ports);
        }
        if demand.eni {
            self.enis = self.enis.map(|n| n.saturating_sub(1));
        }
        if let Some(groups) = &mut self.groups {
            *groups.entry(demand.group.clone()).or_default() += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{ContainerSize, PortMapping, Protocol};

    fn slot() -> Slot {
        Slot {
            id: "ci/a".into(),
            label: "i-a".into(),
            attributes: Attributes {
                values: [("ecs.instance-type".to_string(), "m5.large".to_string())].into(),
                ec2_instance_id: Some("i-a".into()),
                complete: true,
            },
            registered: Resources::new(2048, 7680),
            free: Resources::new(1024, 4096),
            ports: Some(HostPorts { tcp: [22, 8080].into(), udp: Default::default() }),
            enis: Some(1),
            groups: Some([("service:api".to_string(), 1)].into()),
        }
    }

    fn definition(mode: &str, host_port: Option<u16>, constraints: &[PlacementConstraint]) -> TaskDefinition {
        TaskDefinition {
            arn: "td/api:1".into(),
            containers: vec![ContainerSize {
                cpu: 256,
                memory: Some(512),
                port_mappings: vec![PortMapping { container_port: Some(80), host_port, protocol: Protocol::Tcp }],
                ..ContainerSize::default()
            }],
            network_mode: Some(mode.into()),
            placement_constraints: constraints.to_vec(),
            ..TaskDefinition::default()
        }
    }

    fn demand(mode: &str, host_port: Option<u16>, service: &[PlacementConstraint]) -> Demand {
        Demand::new(&definition(mode, host_port, &[]), "service:api", service).unwrap()
    }

    #[test]
    fn every_dimension_can_refuse_a_task() {
        let s = slot();
        assert_eq!(s.fit(&demand("bridge", Some(0), &[])), Fit::Fits);
        assert_eq!(s.fit(&demand("bridge", Some(8080), &[])), Fit::Lacks(Lack::Port("tcp/8080".into())));
        let distinct = [PlacementConstraint::DistinctInstance];
        assert_eq!(s.fit(&demand("bridge", None, &distinct)), Fit::Lacks(Lack::DistinctInstance));
        let pinned = [PlacementConstraint::MemberOf("attribute:ecs.instance-type == m5.xlarge".into())];
        assert_eq!(
            s.fit(&demand("bridge", None, &pinned)),
            Fit::Lacks(Lack::MemberOf("attribute:ecs.instance-type == m5.xlarge".into()))
        );
        let mut full = slot();
        full.enis = Some(0);
        assert_eq!(full.fit(&demand("awsvpc", Some(8080), &[])), Fit::Lacks(Lack::Eni), "awsvpc holds no host port");
        let big = Demand::sized("service:x", Resources::new(100, 100).with_gpu(1));
        assert_eq!(s.fit(&big), Fit::Lacks(Lack::Gpu));
        assert_eq!(s.fit(&Demand::sized("service:x", Resources::new(2000, 1))), Fit::Lacks(Lack::Cpu));
        assert_eq!(s.fit(&Demand::sized("service:x", Resources::new(1, 5000))), Fit::Lacks(Lack::Memory));
    }

    #[test]
    fn what_is_not_known_is_unknown_unless_something_else_refuses() {
        let mut s = slot();
        s.ports = None;
        s.enis = None;
        s.groups = None;
        assert!(matches!(s.fit(&demand("bridge", Some(9000), &[])), Fit::Unknown(why) if why.contains("host ports")));
        assert!(matches!(s.fit(&demand("awsvpc", None, &[])), Fit::Unknown(why) if why.contains("awsvpc")));
        let distinct = [PlacementConstraint::DistinctInstance];
        assert!(matches!(s.fit(&demand("bridge", None, &distinct)), Fit::Unknown(_)));
        let group = [PlacementConstraint::MemberOf("task:group == service:db".into())];
        let Fit::Unknown(why) = slot().fit(&demand("bridge", None, &group)) else { panic!() };
        assert!(why.contains("the subject task:group"), "{why}");
        // A dimension that refuses decides even when another is unknown.
        assert_eq!(s.fit(&Demand { eni: true, ..Demand::sized("g", Resources::new(9999, 1)) }), Fit::Lacks(Lack::Cpu));
        // Plain CPU and memory need nothing else to be known.
        assert_eq!(s.fit(&Demand::sized("g", Resources::new(10, 10))), Fit::Fits);
    }

    #[test]
    fn taking_a_task_uses_up_its_room_ports_eni_and_group() {
        let mut s = slot();
        let d = Demand { eni: true, ..demand("bridge", Some(9090), &[PlacementConstraint::DistinctInstance]) };
        let mut other = d.clone();
        other.group = "service:web".into();
        assert_eq!(s.fit(&other), Fit::Fits);
        s.take(&other);
        assert_eq!(s.free, Resources::new(768, 3584));
        assert_eq!(s.enis, Some(0));
        assert_eq!(s.fit(&other), Fit::Lacks(Lack::Port("tcp/9090".into())));
        s.enis = Some(5);
        let mut again = other.clone();
        again.ports = HostPorts::default();
        assert_eq!(s.fit(&again), Fit::Lacks(Lack::DistinctInstance));
    }

    #[test]
    fn a_definition_that_cannot_be_judged_says_why() {
        let mut td = definition("bridge", None, &[PlacementConstraint::MemberOf("attribute:a ==".into())]);
        let error = Demand::new(&td, "service:api", &[]).unwrap_err();
        assert!(error.0.contains("memberOf expression"), "{error}");
        td.placement_constraints = vec![PlacementConstraint::Other("spreadish".into())];
        assert!(Demand::new(&td, "service:api", &[]).unwrap_err().0.contains("spreadish"));
        td.placement_constraints.clear();
        td.containers[0].memory = None;
        assert!(Demand::new(&td, "service:api", &[]).unwrap_err().0.contains("neither memory"));
    }
}
