//! Auto Scaling: groups (colours), their scaling policies with activities and cooldowns, the capacity a
//! capacity provider sets, scale-in (which instance goes), and the termination lifecycle hook that holds
//! instances in Terminating:Wait until the drain hook completes the action.

use ecs_scaler_core::lifecycle::{
    ActionOutcome, AutoScalingGroup, GroupInstance, LifecycleHook, TAG_CLUSTER, TERMINATING, TERMINATING_WAIT,
};

use super::cloudwatch::AlarmAction;
use super::{CLUSTER, EcsStatus, Lifecycle, World};
use crate::knobs::{Knobs, SimpleScaling};
use crate::scenario::Scenario;

/// The name of the drain hook's lifecycle hook on every group.
pub const HOOK: &str = "ecs-scaler-drain";

/// A scaling policy of a group. Step scaling and the like slot in here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalingPolicy {
    Simple(SimpleScaling),
}

/// Which in-service instances scale-in takes. Other termination policies slot in here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminationPolicy {
    /// The start of AWS's Default: the oldest launch template first, then the oldest instance (the rest of it,
    /// the next billing hour and then chance, is left out so runs stay deterministic).
    Default,
}

/// One Auto Scaling group (a colour).
#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub min: u32,
    pub max: u32,
    pub desired: u32,
    /// The scaling activity in progress: its instances, and the cooldown that starts when they are done.
    pub activity: Option<(Vec<usize>, u32)>,
    pub cooldown_until: u32,
    /// The alarms' actions: the scale-up and the scale-down policy.
    pub scale_up: ScalingPolicy,
    pub scale_down: ScalingPolicy,
}

impl Group {
    /// Min = max = desired = 0, no activity: what a colour is between deployments.
    fn idle(&mut self) {
        self.min = 0;
        self.max = 0;
        self.desired = 0;
        self.activity = None;
        self.cooldown_until = 0;
    }
}

/// The Auto Scaling side of the world.
#[derive(Debug)]
pub struct AutoScaling {
    pub groups: Vec<Group>,
    /// The group launches go to (the live colour).
    pub launch_group: usize,
    /// Old colours to bring down: (minute, group).
    pending_teardowns: Vec<(u32, usize)>,
    /// The scenario's group sizes.
    pub min_size: u32,
    pub max_size: u32,
    /// Whether the groups have the drain hook's termination lifecycle hook.
    pub hook: bool,
    /// ECS managed termination protection: instances running non-daemon tasks are protected from scale-in.
    pub protect_busy: bool,
    pub termination: TerminationPolicy,
    /// Instances that entered Terminating:Wait whose lifecycle notification is not delivered yet.
    pub notifications: Vec<usize>,
}

impl AutoScaling {
    pub fn new(scenario: &Scenario, knobs: &Knobs, protect_busy: bool) -> Self {
        let group = |colour: &str, min, max| Group {
            name: format!("{CLUSTER}-{colour}"),
            min,
            max,
            desired: 0,
            activity: None,
            cooldown_until: 0,
            scale_up: ScalingPolicy::Simple(knobs.scale_up),
            scale_down: ScalingPolicy::Simple(knobs.scale_down),
        };
        Self {
            groups: vec![group("blue", scenario.min_size, scenario.max_size), group("green", 0, 0)],
            launch_group: 0,
            pending_teardowns: Vec::new(),
            min_size: scenario.min_size,
            max_size: scenario.max_size,
            hook: knobs.drain_hook,
            protect_busy,
            termination: TerminationPolicy::Default,
            notifications: Vec::new(),
        }
    }

    pub fn desired_capacity(&self) -> u32 {
        self.groups.iter().map(|g| g.desired).sum()
    }

    pub fn group_index(&self, name: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.name == name)
    }

    /// The lifecycle hooks of a group.
    pub fn hooks(&self) -> Vec<LifecycleHook> {
        let hook = LifecycleHook { name: HOOK.into(), transition: TERMINATING.into(), metadata: None };
        if self.hook { vec![hook] } else { vec![] }
    }
}

impl World {
    /// A colour swap raises the idle colour's min size to the live colour's size (launches go there from now
    /// on); `drain_after_minutes` later the old colour goes to size 0.
    pub(super) fn colour_swap(&mut self, t: u32, drain_after_minutes: u32) {
        let asg = &self.autoscaling;
        let (old, new) = (asg.launch_group, 1 - asg.launch_group);
        let size = self.members(old).len() as u32;
        let (min_size, max_size) = (asg.min_size, asg.max_size);
        let group = &mut self.autoscaling.groups[new];
        group.max = max_size;
        group.min = size.clamp(min_size, max_size);
        group.desired = group.desired.max(group.min);
        self.autoscaling.launch_group = new;
        self.autoscaling.pending_teardowns.push((t + drain_after_minutes, old));
    }

    pub(super) fn teardowns_due(&mut self, t: u32) {
        let asg = &mut self.autoscaling;
        let due: Vec<usize> =
            asg.pending_teardowns.iter().filter(|(minute, _)| *minute == t).map(|(_, group)| *group).collect();
        for old in due {
            asg.groups[old].idle();
            asg.groups[1 - old].min = asg.min_size;
        }
    }

    /// The alarms in ALARM invoke their policy on every group that has alarms (max size above 0).
    pub fn alarm_actions(&mut self, actions: &[AlarmAction]) {
        let t = self.tick;
        for action in actions {
            for group in 0..self.autoscaling.groups.len() {
                let g = &self.autoscaling.groups[group];
                if g.max == 0 {
                    continue;
                }
                let policy = match action {
                    AlarmAction::ScaleUp => g.scale_up,
                    AlarmAction::ScaleDown => g.scale_down,
                };
                match policy {
                    ScalingPolicy::Simple(simple) => self.simple_scaling(t, group, simple),
                }
            }
        }
    }

    /// A simple scaling policy fires: ignored while the group's last scaling activity is in progress or
    /// cooling down (the cooldown starts when the activity completes, i.e. after any lifecycle hook).
    fn simple_scaling(&mut self, t: u32, group: usize, policy: SimpleScaling) {
        let g = &self.autoscaling.groups[group];
        if g.activity.is_some() || t < g.cooldown_until {
            return;
        }
        let desired = (i64::from(g.desired) + policy.change(g.desired)).clamp(i64::from(g.min), i64::from(g.max));
        let desired = desired as u32;
        if desired == g.desired {
            return;
        }
        if let Some(minute) = self.recording() {
            self.tally.capacity_changes.push((minute, if desired > g.desired { 1 } else { -1 }));
        }
        self.autoscaling.groups[group].desired = desired;
        let touched = self.reconcile_group(t, group);
        self.autoscaling.groups[group].activity = Some((touched, policy.cooldown_minutes()));
    }

    /// Target tracking sets the total capacity; the difference goes to the group launches go to.
    pub fn target_capacity(&mut self, total: u32) {
        let group = self.autoscaling.launch_group;
        let groups = self.autoscaling.groups.len();
        let elsewhere: u32 = (0..groups).filter(|&g| g != group).map(|g| self.members(g).len() as u32).sum();
        let g = &self.autoscaling.groups[group];
        let desired = total.saturating_sub(elsewhere).clamp(g.min, g.max);
        if desired != g.desired {
            if let Some(minute) = self.recording() {
                self.tally.capacity_changes.push((minute, if desired > g.desired { 1 } else { -1 }));
            }
            self.autoscaling.groups[group].desired = desired;
        }
    }

    /// Instances of a group that Auto Scaling counts against its desired capacity: pending and in service.
    pub fn members(&self, group: usize) -> Vec<usize> {
        (0..self.instances.len())
            .filter(|&i| self.instances[i].group == group && self.instances[i].lifecycle == Lifecycle::InService)
            .collect()
    }

    pub fn reconcile_groups(&mut self) {
        for group in 0..self.autoscaling.groups.len() {
            self.reconcile_group(self.tick, group);
        }
    }

    /// Launch or terminate until the group's members match its desired capacity. Returns the instances touched.
    fn reconcile_group(&mut self, t: u32, group: usize) -> Vec<usize> {
        let members = self.members(group);
        let desired = self.autoscaling.groups[group].desired as usize;
        let mut touched = Vec::new();
        if members.len() < desired {
            for _ in members.len()..desired {
                touched.push(self.launch(group, i64::from(t)));
            }
        } else if members.len() > desired {
            // Managed termination protection keeps instances running non-daemon tasks out of the capacity
            // provider's scale-in; a colour brought down to size 0 still goes, through the lifecycle hook.
            let protect = self.autoscaling.protect_busy && self.autoscaling.groups[group].max > 0;
            let excess = members.len() - desired;
            let candidates: Vec<usize> =
                members.into_iter().filter(|&i| !protect || self.instances[i].replica_tasks == 0).collect();
            let victims = self.choose_victims(candidates, excess);
            if protect && victims.len() < excess {
                let kept = self.members(group).len() - victims.len();
                self.autoscaling.groups[group].desired = kept as u32;
            }
            for index in victims {
                self.scale_in(index);
                touched.push(index);
            }
        }
        touched
    }

    /// The termination policy's choice of `excess` instances among the unprotected `candidates`.
    fn choose_victims(&self, mut candidates: Vec<usize>, excess: usize) -> Vec<usize> {
        match self.autoscaling.termination {
            TerminationPolicy::Default => candidates.sort_by_key(|&i| (self.instances[i].launched, i)),
        }
        candidates.truncate(excess);
        candidates
    }

    /// An instance leaves its group: with the drain hook, into Terminating:Wait (and a lifecycle notification
    /// to the hook); without it, terminated at once. An instance that never registered with ECS goes at once
    /// too: the hook's first look would find it registered nowhere and complete its action.
    fn scale_in(&mut self, index: usize) {
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
    fn waiting(&self, group: &str, instance_id: &str) -> Option<usize> {
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

    /// A group as DescribeAutoScalingGroups reports it.
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
                    availability_zone: "sim-1a".into(),
                })
            })
            .collect();
        let tags = [(TAG_CLUSTER.to_owned(), CLUSTER.to_owned())].into();
        let g = &self.autoscaling.groups[group];
        AutoScalingGroup {
            name: g.name.clone(),
            tags,
            instances,
            min_size: g.min,
            max_size: g.max,
            desired_capacity: g.desired,
        }
    }
}
