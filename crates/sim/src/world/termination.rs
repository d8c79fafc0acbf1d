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
    /// cooldown starts.
    pub fn finish_activities(&mut self) {
        let t = self.tick;
        let in_service = i64::from(t) - i64::from(self.knobs.in_service_minutes);
        for group in 0..self.autoscaling.groups.len() {
            let Some((touched, cooldown)) = &self.autoscaling.groups[group].activity else { continue };
            let done = touched.iter().all(|&i| {
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
