//! Which instances go, and their lifecycle: the Default termination policy and the custom one's request and
//! answer, scale-in into Terminating:Wait, completing and extending lifecycle actions, and a group as
//! DescribeAutoScalingGroups reports it.

use ecs_scaler_core::lifecycle::{
    ActionOutcome, AutoScalingGroup, GroupInstance, LaunchTemplateRef, TAG_CLUSTER, TERMINATING_WAIT,
};
use ecs_scaler_core::scale::terminate::{Candidate, CapacityToTerminate, TerminationRequest};
use ecs_scaler_core::scale::tick::TAG_SHORTFALL_POLICY;

use super::autoscaling::{ScalingPolicy, TerminationPolicy};
use super::{CLUSTER, EcsStatus, Lifecycle, World};

impl World {
    /// How many instances per zone a scale-in of `excess` takes, as Auto Scaling balances zones first: one at a
    /// time from the zone with the most of `members` (on a tie, the zone listed last, the mirror of launching
    /// into the first).
    pub fn zone_capacity(&self, members: &[usize], excess: usize) -> Vec<u32> {
        let mut left = vec![0u32; self.zones.len()];
        for &i in members {
            left[self.instances[i].zone] += 1;
        }
        let mut take = vec![0u32; self.zones.len()];
        for _ in 0..excess {
            let Some(zone) = (0..left.len()).filter(|&z| left[z] > 0).max_by_key(|&z| (left[z], z)) else { break };
            left[zone] -= 1;
            take[zone] += 1;
        }
        take
    }

    /// The Default termination policy's choice of `excess` instances among the unprotected `candidates` of the
    /// group's `members`: each from the zone with the most members that has an unprotected one (zones first,
    /// whatever the policy), there the oldest launch template, then the oldest instance (the rest of AWS's
    /// Default, the next billing hour and then chance, is left out so runs stay deterministic).
    pub(super) fn choose_victims(&self, members: &[usize], candidates: Vec<usize>, excess: usize) -> Vec<usize> {
        let mut per_zone = vec![0u32; self.zones.len()];
        for &i in members {
            per_zone[self.instances[i].zone] += 1;
        }
        let mut left = candidates;
        let mut victims = Vec::new();
        while victims.len() < excess {
            let zones = left.iter().map(|&i| self.instances[i].zone);
            let Some(zone) = zones.max_by_key(|&z| (per_zone[z], z)) else { break };
            let in_zone = left.iter().copied().filter(|&i| self.instances[i].zone == zone);
            let Some(oldest) = in_zone.min_by_key(|&i| (self.instances[i].launched, i)) else { break };
            per_zone[zone] -= 1;
            left.retain(|&i| i != oldest);
            victims.push(oldest);
        }
        victims
    }

    /// With the custom termination policy: what Auto Scaling sends the function for every group above its
    /// desired capacity (Cause SCALE_IN). Balance across zones comes first: `CapacityToTerminate` is the excess
    /// split over the zones with the most instances ([`World::zone_capacity`]), and the candidates are the
    /// instances of those zones only, each with its zone and type.
    pub fn termination_requests(&self) -> Vec<TerminationRequest> {
        if self.autoscaling.termination != TerminationPolicy::Custom {
            return Vec::new();
        }
        let mut requests = Vec::new();
        for (index, group) in self.autoscaling.groups.iter().enumerate() {
            let members = self.members(index);
            let excess = members.len().saturating_sub(group.desired as usize);
            if excess == 0 {
                continue;
            }
            let take = self.zone_capacity(&members, excess);
            let capacity = (0..self.zones.len())
                .filter(|&z| take[z] > 0)
                .map(|z| CapacityToTerminate {
                    availability_zone: self.zones[z].clone(),
                    capacity: take[z],
                    market: Some("on-demand".into()),
                })
                .collect();
            let instances = members
                .iter()
                .filter(|&&i| take[self.instances[i].zone] > 0)
                .map(|&i| Candidate {
                    availability_zone: self.zones[self.instances[i].zone].clone(),
                    instance_id: self.instances[i].ec2_instance_id.clone(),
                    instance_type: Some(self.types[self.instances[i].kind].name.clone()),
                    market: Some("on-demand".into()),
                })
                .collect();
            requests.push(TerminationRequest {
                group_arn: None,
                group: group.name.clone(),
                capacity,
                instances,
                cause: Some("SCALE_IN".into()),
                has_more_instances: false,
            });
        }
        requests
    }

    /// Terminate what the function answered for `group`: members only, at most the excess (more than asked for
    /// is trimmed by the Default policy); each goes through the lifecycle hook and joins the group's scaling
    /// activity, if one is in progress. Nothing answered: Auto Scaling asks again next minute.
    pub fn apply_termination(&mut self, group: &str, instance_ids: &[String]) {
        let Some(index) = self.autoscaling.group_index(group) else { return };
        let members = self.members(index);
        let excess = members.len().saturating_sub(self.autoscaling.groups[index].desired as usize);
        let answered: Vec<usize> =
            members.iter().copied().filter(|&i| instance_ids.contains(&self.instances[i].ec2_instance_id)).collect();
        let victims = self.choose_victims(&members, answered, excess);
        if victims.is_empty() {
            self.tally.termination_refusals += u32::from(self.recording().is_some());
        }
        for &victim in &victims {
            self.scale_in(victim);
        }
        if let Some((touched, _)) = &mut self.autoscaling.groups[index].activity {
            touched.extend(victims);
        }
    }

    /// An instance leaves its group: with the drain hook, into Terminating:Wait (and a lifecycle notification
    /// to the hook); without it, terminated at once. An instance that never registered with ECS goes at once
    /// too: the hook's first look would find it registered nowhere and complete its action.
    pub(super) fn scale_in(&mut self, index: usize) {
        if self.autoscaling.hook && self.instances[index].ecs == EcsStatus::Active {
            self.instances[index].lifecycle = Lifecycle::TerminatingWait;
            self.autoscaling.notifications.push(index);
        } else {
            self.terminate(index);
        }
    }

    /// A scaling activity completes when its launches are InService and its terminations are done; then its
    /// cooldown starts. A scale-in the custom termination policy has not answered with an instance yet is still
    /// in progress: the group is above its desired capacity, and Auto Scaling keeps asking.
    pub fn finish_activities(&mut self) {
        let t = self.tick;
        let in_service = i64::from(t) - i64::from(self.knobs.in_service_minutes);
        for group in 0..self.autoscaling.groups.len() {
            let Some((touched, cooldown)) = &self.autoscaling.groups[group].activity else { continue };
            let above = self.members(group).len() > self.autoscaling.groups[group].desired as usize;
            let done = !above
                && touched.iter().all(|&i| {
                    let instance = &self.instances[i];
                    match instance.lifecycle {
                        Lifecycle::Terminated => true,
                        Lifecycle::InService => instance.launched <= in_service,
                        Lifecycle::TerminatingWait => false,
                    }
                });
            if done {
                let cooldown = *cooldown;
                let g = &mut self.autoscaling.groups[group];
                g.activity = None;
                g.cooldown_until = t + cooldown;
            }
        }
    }

    /// Whether any instance is held in Terminating:Wait.
    pub fn any_waiting(&self) -> bool {
        self.instances.iter().any(|i| i.lifecycle == Lifecycle::TerminatingWait)
    }

    /// The instance held in Terminating:Wait in this group, if it is.
    pub(super) fn waiting(&self, group: &str, instance_id: &str) -> Option<usize> {
        let group = self.autoscaling.group_index(group)?;
        self.instances.iter().position(|i| {
            i.group == group && i.ec2_instance_id == instance_id && i.lifecycle == Lifecycle::TerminatingWait
        })
    }

    /// CompleteLifecycleAction: CONTINUE or ABANDON, a terminating instance terminates.
    pub fn complete_lifecycle(&mut self, group: &str, instance_id: &str) -> ActionOutcome {
        match self.waiting(group, instance_id) {
            Some(index) => {
                self.terminate(index);
                ActionOutcome::Done
            }
            None => ActionOutcome::NoActiveAction,
        }
    }

    /// RecordLifecycleActionHeartbeat. The hook's own timeout is not modelled: the drain hook's max drain time
    /// always comes first.
    pub fn heartbeat(&self, group: &str, instance_id: &str) -> ActionOutcome {
        match self.waiting(group, instance_id) {
            Some(_) => ActionOutcome::Done,
            None => ActionOutcome::NoActiveAction,
        }
    }

    /// A group as DescribeAutoScalingGroups reports it: its zones, a mixed instances policy whose overrides are
    /// the types it launches (in priority order) over a launch template that names none, and each instance's
    /// zone and type.
    pub fn group_view(&self, group: usize) -> AutoScalingGroup {
        let instances = self
            .instances
            .iter()
            .filter(|i| i.group == group)
            .filter_map(|i| {
                let state = match i.lifecycle {
                    Lifecycle::InService if i.ecs == EcsStatus::Unregistered => "Pending",
                    Lifecycle::InService => "InService",
                    Lifecycle::TerminatingWait => TERMINATING_WAIT,
                    Lifecycle::Terminated => return None,
                };
                Some(GroupInstance {
                    instance_id: i.ec2_instance_id.clone(),
                    lifecycle_state: state.to_owned(),
                    availability_zone: self.zones[i.zone].clone(),
                    instance_type: Some(self.types[i.kind].name.clone()),
                })
            })
            .collect();
        let g = &self.autoscaling.groups[group];
        let mut tags: std::collections::HashMap<String, String> = [(TAG_CLUSTER.to_owned(), CLUSTER.to_owned())].into();
        if let Some(ScalingPolicy::Step(step)) = &g.shortfall {
            tags.insert(TAG_SHORTFALL_POLICY.to_owned(), step.name.clone());
        }
        AutoScalingGroup {
            name: g.name.clone(),
            tags,
            instances,
            min_size: g.min,
            max_size: g.max,
            desired_capacity: g.desired,
            zones: self.zones.clone(),
            launch_template: Some(LaunchTemplateRef {
                id: None,
                name: Some(format!("{CLUSTER}-{}", g.name)),
                version: Some("$Default".into()),
            }),
            override_types: self.launch_types.iter().map(|&k| self.types[k].name.clone()).collect(),
            attribute_based_types: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knobs::Knobs;
    use crate::policy::Wiring;
    use crate::scenario::{InstanceType, Scenario, ServiceSpec};

    fn custom() -> Wiring {
        Wiring { custom_termination: true, shortfall_policy: true, ..Wiring::default() }
    }

    /// `n` ACTIVE m5.xlarge instances over three zones (a, b, c, a, ...), a small service on each.
    fn world(n: u32, wiring: Wiring) -> World {
        let scenario = Scenario {
            instance_type: InstanceType::m5_xlarge(),
            initial_instances: Some(n),
            max_size: 20,
            services: vec![ServiceSpec::replica("api", 256, 512, n)],
            ..Scenario::default()
        };
        World::new(&scenario, Knobs::default(), wiring)
    }

    fn zone_of(world: &World, instance_id: &str) -> String {
        let instance = world.instances.iter().find(|i| i.ec2_instance_id == instance_id).unwrap();
        world.zones[instance.zone].clone()
    }

    #[test]
    fn a_scale_in_offers_only_the_zone_with_the_most_instances() {
        let mut w = world(7, custom());
        let per_zone: Vec<usize> = (0..3).map(|z| w.instances.iter().filter(|i| i.zone == z).count()).collect();
        assert_eq!(per_zone, [3, 2, 2]);
        w.autoscaling.groups[0].desired = 6;
        let request = &w.termination_requests()[0];
        let capacity: Vec<(&str, u32)> =
            request.capacity.iter().map(|c| (c.availability_zone.as_str(), c.capacity)).collect();
        assert_eq!(capacity, [("sim-1a", 1)]);
        assert_eq!(request.instances.len(), 3, "only zone a's instances: {:?}", request.instances);
        assert!(request.instances.iter().all(|c| c.availability_zone == "sim-1a"));
        assert!(request.instances.iter().all(|c| zone_of(&w, &c.instance_id) == "sim-1a"));
        assert!(request.instances.iter().all(|c| c.instance_type.as_deref() == Some("m5.xlarge")));

        // Two to go: one from a, which leaves the zones even, then one from the zone listed last.
        w.autoscaling.groups[0].desired = 5;
        let request = &w.termination_requests()[0];
        let capacity: Vec<(&str, u32)> =
            request.capacity.iter().map(|c| (c.availability_zone.as_str(), c.capacity)).collect();
        assert_eq!(capacity, [("sim-1a", 1), ("sim-1c", 1)]);
        assert_eq!(request.instances.len(), 5, "zones a and c");
        assert!(request.instances.iter().all(|c| c.availability_zone != "sim-1b"));
    }

    #[test]
    fn the_default_policy_also_takes_from_the_fullest_zone_first_then_the_oldest() {
        let mut w = world(7, Wiring::default());
        w.autoscaling.groups[0].desired = 5;
        w.reconcile_groups();
        let gone: Vec<usize> =
            (0..w.instances.len()).filter(|&i| w.instances[i].lifecycle != Lifecycle::InService).collect();
        // Instance 0 (zone a, the oldest), then, the zones even at 2, the oldest of zone c (instance 2).
        assert_eq!(gone, [0, 2]);
        let members = w.members(0);
        let per_zone: Vec<usize> =
            (0..3).map(|z| members.iter().filter(|&&i| w.instances[i].zone == z).count()).collect();
        assert_eq!(per_zone, [2, 2, 1]);
    }

    #[test]
    fn the_termination_policy_s_answer_is_trimmed_zone_first_to_the_excess() {
        let mut w = world(6, custom());
        w.autoscaling.groups[0].desired = 5;
        let everyone: Vec<String> = w.instances.iter().map(|i| i.ec2_instance_id.clone()).collect();
        w.apply_termination("sim-blue", &everyone);
        assert_eq!(w.members(0).len(), 5);
        let left = w.instances.iter().find(|i| i.lifecycle != Lifecycle::InService).unwrap();
        assert_eq!(w.zones[left.zone], "sim-1c", "the zones were even: the last one gives");
    }

    #[test]
    fn a_group_reports_its_zones_types_and_each_instance_s_zone_and_type() {
        let w = world(4, custom());
        let group = w.group_view(0);
        assert_eq!(group.zones, ["sim-1a", "sim-1b", "sim-1c"]);
        assert_eq!(group.override_types, ["m5.xlarge"]);
        assert!(group.launch_template.is_some() && !group.attribute_based_types);
        let zones: Vec<&str> = group.instances.iter().map(|i| i.availability_zone.as_str()).collect();
        assert_eq!(zones, ["sim-1a", "sim-1b", "sim-1c", "sim-1a"]);
        assert!(group.instances.iter().all(|i| i.instance_type.as_deref() == Some("m5.xlarge")));
    }
}
