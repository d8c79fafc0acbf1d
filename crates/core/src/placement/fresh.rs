//! Fresh instances: what an instance the group has not launched yet will offer, type by type.
//!
//! A group launches the types of its mixed instances policy's overrides, else its launch template's type.
//! Each type's size is what a registered instance of that type registered (the most common such size), else
//! an estimate from EC2's facts ([`estimated_registration`]). Its daemons take their share first; its ports
//! are the agent's reserved ones; its ENI limit is the type's, with a trunk when the cluster's instances have
//! trunks (trunking is an account setting, so new instances get one too). Of its attributes the model knows
//! the type's own (`ecs.instance-type`, `ecs.cpu-architecture`, `ecs.os-type`), the zone when the group has
//! only one, and whatever every registered instance of the group shares (custom attributes set at launch);
//! any other is unknown until it registers, so a `memberOf` on it cannot be judged.

use std::collections::{BTreeSet, HashMap};

use super::constraints::Attributes;
use super::instance_types::{InstanceTypeInfo, awsvpc_task_limit, estimated_registration};
use super::model::{Demand, Fit, Slot};
use super::pack::Shape;
use crate::cluster::{ATTRIBUTE_INSTANCE_TYPE, ATTRIBUTE_ZONE, ContainerInstance, HostPorts, Resources};
use crate::lifecycle::{AutoScalingGroup, LaunchTemplateRef};

/// The ports the ECS agent reserves on every container instance by default (ECS_RESERVED_PORTS).
pub const AGENT_RESERVED_PORTS: [u16; 5] = [22, 2375, 2376, 51678, 51679];

/// The instance types a group launches: its overrides, else its launch template's type (as read), else the
/// types of the instances it has. `None` when they cannot be known (attribute-based selection, or nothing
/// read says).
pub fn group_types(
    group: &AutoScalingGroup,
    template_types: &HashMap<LaunchTemplateRef, Option<String>>,
) -> Option<Vec<String>> {
    if group.attribute_based_types {
        return None;
    }
    if !group.override_types.is_empty() {
        return Some(group.override_types.clone());
    }
    if let Some(Some(instance_type)) = group.launch_template.as_ref().and_then(|t| template_types.get(t)) {
        return Some(vec![instance_type.clone()]);
    }
    let running: BTreeSet<String> = group.instances.iter().filter_map(|i| i.instance_type.clone()).collect();
    (!running.is_empty()).then(|| running.into_iter().collect())
}

/// The types whose facts [`shapes`] will look up for a group: those [`group_types`] names.
pub fn wanted_types(
    group: &AutoScalingGroup,
    template_types: &HashMap<LaunchTemplateRef, Option<String>>,
) -> Vec<String> {
    group_types(group, template_types).unwrap_or_default()
}

/// What the registered instances of a cluster say about a fresh instance.
#[derive(Debug, Clone, Copy)]
pub struct Registered<'a> {
    pub instances: &'a [ContainerInstance],
    pub types: &'a HashMap<String, InstanceTypeInfo>,
    /// Each DAEMON service's task: it takes its share of every instance it may run on.
    pub daemons: &'a [Demand],
}

/// One empty fresh instance of each type `group` launches. Types whose size is neither registered nor known
/// from EC2 are left out, and named in the second list.
pub fn shapes(group: &AutoScalingGroup, types: &[String], registered: Registered<'_>) -> (Vec<Shape>, Vec<String>) {
    let members: Vec<&ContainerInstance> = registered
        .instances
        .iter()
        .filter(|i| i.is_active())
        .filter(|i| i.ec2_instance_id.as_ref().is_some_and(|id| group.instances.iter().any(|g| &g.instance_id == id)))
        .collect();
    let trunk = registered.instances.iter().any(ContainerInstance::has_trunk);
    let shared = shared_attributes(&members);
    let reserved = registered
        .instances
        .iter()
        .find_map(|i| i.reserved_ports.clone())
        .unwrap_or_else(|| HostPorts { tcp: AGENT_RESERVED_PORTS.into(), udp: Default::default() });
    let mut shaped = Vec::new();
    let mut untyped = Vec::new();
    for name in types {
        let info = registered.types.get(name);
        let size = registered_size(registered.instances, name).or_else(|| {
            info.map(estimated_registration)
                .map(|(cpu, memory)| Resources::new(cpu, memory).with_gpu(info.map_or(0, |i| i.gpus)))
        });
        let Some(size) = size else {
            untyped.push(name.clone());
            continue;
        };
        let mut values = shared.clone();
        values.insert(ATTRIBUTE_INSTANCE_TYPE.to_owned(), name.clone());
        values.insert("ecs.os-type".to_owned(), "linux".to_owned());
        if let Some(architecture) = info.and_then(|i| i.architecture.clone()) {
            values.insert("ecs.cpu-architecture".to_owned(), architecture);
        }
        if let [zone] = group.zones.as_slice() {
            values.insert(ATTRIBUTE_ZONE.to_owned(), zone.clone());
        }
        let mut empty = Slot {
            id: format!("fresh {name}"),
            label: format!("a fresh {name}"),
            attributes: Attributes { values, ec2_instance_id: None, complete: false },
            registered: size,
            free: size,
            ports: Some(reserved.clone()),
            enis: awsvpc_task_limit(name, info, trunk),
            groups: Some(HashMap::new()),
        };
        for daemon in registered.daemons {
            // A daemon the model cannot place for sure is still counted: its share is the cautious guess.
            if !matches!(empty.fit(daemon), Fit::Lacks(_)) {
                empty.take(daemon);
            }
        }
        shaped.push(Shape { instance_type: name.clone(), empty });
    }
    (shaped, untyped)
}

/// The most common size the ACTIVE instances of this type registered (the larger on a tie).
fn registered_size(instances: &[ContainerInstance], instance_type: &str) -> Option<Resources> {
    let mut counts: HashMap<Resources, usize> = HashMap::new();
    for instance in instances.iter().filter(|i| i.is_active() && i.instance_type() == Some(instance_type)) {
        if let Some(size) = instance.registered {
            *counts.entry(size).or_default() += 1;
        }
    }
    counts.into_iter().max_by_key(|(size, count)| (*count, *size)).map(|(size, _)| size)
}

/// The attributes every one of these instances has with the same value, but those that differ per instance
/// by nature (the zone) and the type's own (set from the type).
fn shared_attributes(members: &[&ContainerInstance]) -> HashMap<String, String> {
    let Some((first, rest)) = members.split_first() else { return HashMap::new() };
    first
        .attributes
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), ATTRIBUTE_ZONE | ATTRIBUTE_INSTANCE_TYPE))
        .filter(|(name, value)| rest.iter().all(|other| other.attributes.get(*name) == Some(value)))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// Shapes from the registered instances alone, for when the groups cannot be read: one per instance type
/// registered (the most common size of each), as the cluster shows them.
pub fn registered_shapes(registered: Registered<'_>) -> Vec<Shape> {
    let types: BTreeSet<String> = registered
        .instances
        .iter()
        .filter(|i| i.is_active())
        .filter_map(|i| i.instance_type().map(str::to_owned))
        .collect();
    let group = AutoScalingGroup::default();
    let mut shaped = shapes(&group, &types.into_iter().collect::<Vec<_>>(), registered).0;
    if shaped.is_empty() {
        // Instances without a type attribute: the most common registered size, as one anonymous shape.
        let mut counts: HashMap<Resources, usize> = HashMap::new();
        for size in registered.instances.iter().filter(|i| i.is_active()).filter_map(|i| i.registered) {
            *counts.entry(size).or_default() += 1;
        }
        if let Some((size, _)) = counts.into_iter().max_by_key(|(size, count)| (*count, *size)) {
            let mut empty = Slot {
                id: "fresh instance".into(),
                label: "a fresh instance".into(),
                attributes: Attributes::default(),
                registered: size,
                free: size,
                ports: Some(HostPorts { tcp: AGENT_RESERVED_PORTS.into(), udp: Default::default() }),
                enis: None,
                groups: Some(HashMap::new()),
            };
            for daemon in registered.daemons {
                if !matches!(empty.fit(daemon), Fit::Lacks(_)) {
                    empty.take(daemon);
                }
            }
            shaped.push(Shape { instance_type: "registered size".into(), empty });
        }
    }
    shaped
}
