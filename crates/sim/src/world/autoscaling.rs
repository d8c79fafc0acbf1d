//! Auto Scaling: groups (colours), their scaling policies with activities and cooldowns, and the capacity a
//! capacity provider sets. Which instance goes and the termination lifecycle hook that holds it in
//! Terminating:Wait are in [`super::termination`].

use ecs_scaler_core::lifecycle::{LifecycleHook, TERMINATING};
use ecs_scaler_core::ports::AwsError;
use ecs_scaler_core::scale::capacity::{SHORTFALL_STEPS, SURPLUS_ALARM_THRESHOLD, SURPLUS_STEPS};

use super::cloudwatch::AlarmAction;
use super::{CLUSTER, Lifecycle, World};
use crate::knobs::{Knobs, SimpleScaling};
use crate::policy::Wiring;
use crate::scenario::Scenario;

/// The name of the drain hook's lifecycle hook on every group.
pub const HOOK: &str = "ecs-scaler-drain";

/// A scaling policy of a group.
#[derive(Debug, Clone, PartialEq)]
pub enum ScalingPolicy {
    Simple(SimpleScaling),
    Step(StepScaling),
}

/// A step scaling policy with ChangeInCapacity: the shortfall policy, run by ExecutePolicy with a metric value,
/// or the surplus policy, invoked by its alarm with the alarm's breaching value. No cooldown (step scaling has
/// none); instead, capacity still warming up counts against the next scale-out: AWS adds only the part of the
/// step that exceeds what is warming, so "multiple alarm breaches that fall in the range of the same step
/// adjustment result in a single scaling activity"; and scale-in waits until it has warmed up.
#[derive(Debug, Clone, PartialEq)]
pub struct StepScaling {
    pub name: String,
    /// `(lower, upper, change in instances)`, bounds relative to the breach threshold.
    pub steps: Vec<(f64, Option<f64>, i32)>,
    pub breach_threshold: f64,
    /// EstimatedInstanceWarmup, in minutes.
    pub warmup_minutes: u32,
}

impl StepScaling {
    /// `<cluster>-shortfall-<colour>`: the shortfall table, breach threshold 0.
    pub fn shortfall(colour: &str, warmup_minutes: u32) -> Self {
        Self {
            name: format!("{CLUSTER}-shortfall-{colour}"),
            steps: SHORTFALL_STEPS.iter().map(|&(lower, upper, add)| (lower, upper, add as i32)).collect(),
            breach_threshold: 0.0,
            warmup_minutes,
        }
    }

    /// `<cluster>-surplus-<colour>`: the surplus table, breach threshold 2 (the alarm's), removing s − 1 of a
    /// surplus s. Its warm-up is irrelevant: it only scales in.
    pub fn surplus(colour: &str) -> Self {
        Self {
            name: format!("{CLUSTER}-surplus-{colour}"),
            steps: SURPLUS_STEPS.to_vec(),
            breach_threshold: SURPLUS_ALARM_THRESHOLD,
            warmup_minutes: 0,
        }
    }

    /// The step for a metric value: above the threshold the lower bound is inclusive and the upper exclusive,
    /// below it the other way round. `None`: no step matches (ExecutePolicy fails).
    pub fn adjustment(&self, metric_value: f64) -> Option<i32> {
        let d = metric_value - self.breach_threshold;
        self.steps
            .iter()
            .find(|&&(lower, upper, _)| {
                if d >= 0.0 {
                    lower <= d && upper.is_none_or(|upper| d < upper)
                } else {
                    lower < d && upper.is_none_or(|upper| d <= upper)
                }
            })
            .map(|&(_, _, add)| add)
    }
}

/// Which in-service instances scale-in takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminationPolicy {
    /// The start of AWS's Default: the oldest launch template first, then the oldest instance (the rest of it,
    /// the next billing hour and then chance, is left out so runs stay deterministic).
    Default,
    /// A Lambda function (ecs-scaler's drain hook running [`ecs_scaler_core::scale::terminate::choose`]): Auto
    /// Scaling sends a [`TerminationRequest`] and terminates what the answer lists; an empty answer to a
    /// scale-in is asked again a minute later for as long as the group is above its desired capacity.
    Custom,
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
    /// The shortfall step scaling policy, when the Terraform module wires sized scale-out.
    pub shortfall: Option<ScalingPolicy>,
    /// The surplus step scaling policy, the InstancesSurplus alarm's action, when the module wires it.
    pub surplus: Option<ScalingPolicy>,
}

impl Group {
    fn policy(&self, name: &str) -> Option<&ScalingPolicy> {
        self.shortfall.iter().chain(&self.surplus).find(|p| matches!(p, ScalingPolicy::Step(step) if step.name == name))
    }
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
    pub fn new(scenario: &Scenario, knobs: &Knobs, wiring: Wiring) -> Self {
        let group = |colour: &str, min, max| Group {
            name: format!("{CLUSTER}-{colour}"),
            min,
            max,
            desired: 0,
            activity: None,
            cooldown_until: 0,
            scale_up: ScalingPolicy::Simple(knobs.scale_up),
            scale_down: ScalingPolicy::Simple(knobs.scale_down),
            shortfall: wiring
                .shortfall_policy
                .then(|| ScalingPolicy::Step(StepScaling::shortfall(colour, knobs.shortfall_warmup_minutes))),
            surplus: (wiring.surplus_policy && knobs.surplus_scale_in)
                .then(|| ScalingPolicy::Step(StepScaling::surplus(colour))),
        };
        Self {
            groups: vec![group("blue", scenario.min_size, scenario.max_size), group("green", 0, 0)],
            launch_group: 0,
            pending_teardowns: Vec::new(),
            min_size: scenario.min_size,
            max_size: scenario.max_size,
            hook: knobs.drain_hook,
            protect_busy: wiring.protect_busy,
            termination: if wiring.custom_termination { TerminationPolicy::Custom } else { TerminationPolicy::Default },
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

    /// The alarms in ALARM invoke their policy on every group that has alarms (max size above 0). The surplus
    /// alarm's step policy gets the alarm's newest datapoint as its breaching value.
    pub fn alarm_actions(&mut self, actions: &[AlarmAction]) {
        let t = self.tick;
        for action in actions {
            for group in 0..self.autoscaling.groups.len() {
                let g = &self.autoscaling.groups[group];
                if g.max == 0 {
                    continue;
                }
                let policy = match action {
                    AlarmAction::ScaleUp => &g.scale_up,
                    AlarmAction::ScaleDown => &g.scale_down,
                    AlarmAction::SurplusScaleIn => match &g.surplus {
                        Some(policy) => policy,
                        None => continue,
                    },
                };
                match policy {
                    ScalingPolicy::Simple(simple) => {
                        let simple = *simple;
                        self.simple_scaling(t, group, simple);
                    }
                    ScalingPolicy::Step(step) => {
                        let step = step.clone();
                        if let Some(value) = self.cloudwatch.surplus(t) {
                            self.step_scale_in(group, &step, value);
                        }
                    }
                }
            }
        }
    }

    /// A step scaling policy invoked by its alarm with a negative step for `metric_value`: the desired capacity
    /// goes down by it (never below the min size), at once and whatever activity is in progress (step scaling
    /// has no cooldown); blocked while a step scale-out's launches warm up, like scale-in by the simple policy.
    /// Which instances go is the termination policy's choice, as for any scale-in.
    fn step_scale_in(&mut self, group: usize, step: &StepScaling, metric_value: f64) {
        let Some(change) = step.adjustment(metric_value).filter(|&change| change < 0) else { return };
        if self.warming(group) > 0 {
            return;
        }
        let g = &self.autoscaling.groups[group];
        let desired = g.desired.saturating_sub(change.unsigned_abs()).max(g.min);
        if desired >= g.desired {
            return;
        }
        if let Some(minute) = self.recording() {
            self.tally.capacity_changes.push((minute, -1));
            self.tally.step_scale_ins += 1;
            self.tally.step_removed += g.desired - desired;
        }
        self.autoscaling.groups[group].desired = desired;
        let t = self.tick;
        self.reconcile_group(t, group);
    }

    /// A simple scaling policy fires: ignored while the group's last scaling activity is in progress or
    /// cooling down (the cooldown starts when the activity completes, i.e. after any lifecycle hook).
    fn simple_scaling(&mut self, t: u32, group: usize, policy: SimpleScaling) {
        let g = &self.autoscaling.groups[group];
        if g.activity.is_some() || t < g.cooldown_until {
            return;
        }
        let change = policy.change(g.desired);
        if change < 0 && self.warming(group) > 0 {
            // "While the scale-out activity is in progress, all scale-in activities initiated by scaling policies
            // are blocked until the instances finish warming up."
            return;
        }
        let desired = (i64::from(g.desired) + change).clamp(i64::from(g.min), i64::from(g.max));
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

    /// Members of the group a step scaling policy launched that are still within its warm-up. (The module sets
    /// EstimatedInstanceWarmup on the step policy and no DefaultInstanceWarmup, so only the step's own launches
    /// warm up; the simple policies' launches are covered by their cooldown.)
    pub fn warming(&self, group: usize) -> u32 {
        let t = self.tick;
        self.members(group).into_iter().filter(|&i| self.instances[i].warm_at.is_some_and(|at| at > t)).count() as u32
    }

    /// ExecutePolicy of a step scaling policy with a metric value: the step for the value, less the capacity
    /// still warming up, added to the desired capacity (clamped to the max size); the launches start at once.
    pub fn execute_step_policy(&mut self, group: &str, policy: &str, metric_value: f64) -> Result<(), AwsError> {
        let fail =
            |message: String| AwsError { operation: "ExecutePolicy", code: Some("ValidationError".into()), message };
        let index = self.autoscaling.group_index(group).ok_or_else(|| fail(format!("group {group} not found")))?;
        let step = match self.autoscaling.groups[index].policy(policy) {
            Some(ScalingPolicy::Step(step)) => step.clone(),
            _ => return Err(fail(format!("group {group} has no step scaling policy {policy}"))),
        };
        let add = step.adjustment(metric_value).ok_or_else(|| {
            fail(format!("metric value {metric_value} does not correspond to a step adjustment of {policy}"))
        })?;
        let add = u32::try_from(add).unwrap_or(0);
        let warming = self.warming(index);
        let g = &self.autoscaling.groups[index];
        let desired = g.desired.saturating_add(add.saturating_sub(warming)).min(g.max.max(g.desired));
        if desired > g.desired {
            if let Some(minute) = self.recording() {
                self.tally.capacity_changes.push((minute, 1));
                self.tally.step_scale_outs += 1;
            }
            self.autoscaling.groups[index].desired = desired;
            let t = self.tick;
            for launched in self.reconcile_group(t, index) {
                self.instances[launched].warm_at = Some(t + step.warmup_minutes);
            }
        }
        Ok(())
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
            if self.autoscaling.termination == TerminationPolicy::Custom {
                // The termination function is asked outside the world (it reads the world through the ports):
                // see [`World::termination_requests`].
                return touched;
            }
            let all = self.members(group);
            let victims = self.choose_victims(&all, candidates, excess);
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
}

#[cfg(test)]
mod tests {
    use ecs_scaler_core::scale::terminate;
    use futures::executor::block_on;

    use super::*;
    use crate::cloud::SimCloud;
    use crate::scenario::{InstanceType, ServiceSpec};
    use ecs_scaler_core::scale::tick::TAG_SHORTFALL_POLICY;

    /// Three idle-ish instances in one zone: one service of two 1024/2048 tasks, packed onto the first.
    fn scenario() -> Scenario {
        Scenario {
            name: "t".into(),
            minutes: 10,
            instance_type: InstanceType::m5_xlarge(),
            zones: vec!["sim-1a".into()],
            initial_instances: Some(3),
            min_size: 1,
            max_size: 10,
            services: vec![ServiceSpec { min_healthy_percent: 50, ..ServiceSpec::replica("api", 1024, 2048, 2) }],
            ..Scenario::default()
        }
    }

    fn ours() -> Wiring {
        Wiring {
            protect_busy: false,
            shortfall_policy: true,
            surplus_policy: true,
            custom_termination: true,
            placement_event: true,
        }
    }

    #[test]
    fn a_step_is_picked_by_the_metric_value_as_aws_bounds_it() {
        let step = StepScaling::shortfall("blue", 5);
        assert_eq!(step.adjustment(0.0), None, "no step for no shortfall: ExecutePolicy fails");
        assert_eq!(step.adjustment(1.0), Some(1));
        assert_eq!(step.adjustment(15.0), Some(15));
        assert_eq!(step.adjustment(16.0), Some(20));
        assert_eq!(step.adjustment(500.0), Some(120));
    }

    #[test]
    fn asking_again_for_what_is_warming_up_adds_nothing_and_a_larger_ask_adds_the_difference() {
        let mut world = World::new(&scenario(), Knobs::default(), ours());
        let (group, policy) = ("sim-blue", "sim-shortfall-blue");
        assert_eq!(world.autoscaling.groups[0].desired, 3);
        world.execute_step_policy(group, policy, 3.0).unwrap();
        assert_eq!((world.autoscaling.groups[0].desired, world.members(0).len()), (6, 6), "launched at once");
        world.tick += 1;
        world.execute_step_policy(group, policy, 3.0).unwrap();
        assert_eq!(world.autoscaling.groups[0].desired, 6, "the same 3 are warming up");
        world.execute_step_policy(group, policy, 5.0).unwrap();
        assert_eq!(world.autoscaling.groups[0].desired, 8, "5 less the 3 warming");
        world.tick += 5;
        assert_eq!(world.warming(0), 0);
        world.execute_step_policy(group, policy, 3.0).unwrap();
        assert_eq!(world.autoscaling.groups[0].desired, 10, "clamped to the max size");
        assert!(world.execute_step_policy(group, "nope", 3.0).is_err());
        assert!(world.execute_step_policy(group, policy, 0.0).is_err());
        let view = world.group_view(0);
        assert_eq!(view.tags.get(TAG_SHORTFALL_POLICY).map(String::as_str), Some(policy));
    }

    #[test]
    fn scale_in_by_a_simple_policy_waits_for_the_step_s_warm_up() {
        let mut world = World::new(&scenario(), Knobs::default(), ours());
        world.tick = 100;
        world.execute_step_policy("sim-blue", "sim-shortfall-blue", 1.0).unwrap();
        let down = SimpleScaling { adjustment: crate::knobs::Adjustment::Instances(-1), cooldown_seconds: 300 };
        world.simple_scaling(101, 0, down);
        assert_eq!(world.autoscaling.groups[0].desired, 4, "blocked while warming up");
        world.tick = 105;
        world.simple_scaling(105, 0, down);
        assert_eq!(world.autoscaling.groups[0].desired, 3);
    }

    #[test]
    fn the_custom_termination_policy_takes_an_empty_instance_where_default_takes_the_oldest() {
        let cloud = SimCloud::new(World::new(&scenario(), Knobs::default(), ours()));
        let busy = cloud.with(|world| {
            world.autoscaling.groups[0].desired = 2;
            world.reconcile_groups();
            assert_eq!(world.members(0).len(), 3, "nothing goes before the function answers");
            world.instances[0].ec2_instance_id.clone()
        });
        let requests = cloud.with(|world| world.termination_requests());
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].capacity[0].capacity, 1);
        assert_eq!(requests[0].instances.len(), 3);
        let choice = block_on(terminate::choose(
            &cloud,
            &cloud,
            &cloud,
            &[CLUSTER.to_owned()],
            &Default::default(),
            &requests[0],
        ));
        assert_eq!(choice.response.instance_ids.len(), 1);
        assert_ne!(choice.response.instance_ids[0], busy, "{choice:?}");
        cloud.with(|world| {
            world.apply_termination("sim-blue", &choice.response.instance_ids);
            assert_eq!(world.members(0).len(), 2);
            assert!(world.termination_requests().is_empty());
        });

        let mut default = World::new(&scenario(), Knobs::default(), Wiring::default());
        default.autoscaling.groups[0].desired = 2;
        default.reconcile_groups();
        assert_eq!(default.instances[0].lifecycle, Lifecycle::TerminatingWait, "the oldest goes");
    }

    /// One minute of ecs-scaler's metrics: ScaleStatus and InstancesSurplus published, the alarms evaluated,
    /// their actions taken, the groups reconciled; then the clock moves on.
    fn minute(world: &mut World, status: f64, surplus: f64) {
        use ecs_scaler_core::config::DEFAULT_NAMESPACE;
        use ecs_scaler_core::ports::{ClusterMetric, MetricUnit};
        use ecs_scaler_core::scale::METRIC_NAME;
        use ecs_scaler_core::scale::capacity::SURPLUS_METRIC;
        let metric =
            |name, value, unit| ClusterMetric { name, cluster: CLUSTER.into(), value, unit, timestamp: world.now() };
        let metrics =
            [metric(METRIC_NAME, status, MetricUnit::None), metric(SURPLUS_METRIC, surplus, MetricUnit::Count)];
        let t = world.tick;
        world.cloudwatch.put(t, DEFAULT_NAMESPACE, &metrics);
        let actions = world.cloudwatch.evaluate_alarms(t);
        world.alarm_actions(&actions);
        world.reconcile_groups();
        world.tick += 1;
    }

    fn ten_instances(min_size: u32) -> World {
        let scenario = Scenario { initial_instances: Some(10), min_size, max_size: 20, ..scenario() };
        let mut world = World::new(&scenario, Knobs::default(), ours());
        world.tick = 100;
        world
    }

    #[test]
    fn the_surplus_policy_acts_only_after_ten_minutes_of_surplus_and_removes_the_low_alarm_s_one_less() {
        let mut world = ten_instances(1);
        assert_eq!(world.autoscaling.groups[0].desired, 10);
        for _ in 0..9 {
            minute(&mut world, 0.0, 5.0);
        }
        assert_eq!(world.autoscaling.groups[0].desired, 10, "nine minutes are not enough for either alarm");
        minute(&mut world, 0.0, 5.0);
        assert_eq!(world.autoscaling.groups[0].desired, 5, "4 by the surplus policy, 1 by the low alarm's");
        assert_eq!((world.tally.step_scale_ins, world.tally.step_removed), (1, 4));

        // The function chooses which 5 go, through the hook; the empty ones, not the busy one.
        let cloud = SimCloud::new(world);
        let requests = cloud.with(|world| world.termination_requests());
        assert_eq!(requests[0].capacity[0].capacity, 5);
        let choice = block_on(terminate::choose(
            &cloud,
            &cloud,
            &cloud,
            &[CLUSTER.to_owned()],
            &Default::default(),
            &requests[0],
        ));
        cloud.with(|world| {
            world.apply_termination("sim-blue", &choice.response.instance_ids);
            assert_eq!(world.members(0).len(), 5, "{choice:?}");
            assert_eq!(world.instances[0].lifecycle, Lifecycle::InService, "the busy instance stays");
        });

        let knobs = Knobs { surplus_scale_in: false, ..Knobs::default() };
        let scenario = Scenario { initial_instances: Some(10), min_size: 1, max_size: 20, ..scenario() };
        let mut off = World::new(&scenario, knobs, ours());
        for _ in 0..10 {
            minute(&mut off, 0.0, 5.0);
        }
        assert_eq!(off.autoscaling.groups[0].desired, 9, "switched off: the low alarm's 1 alone");
    }

    #[test]
    fn a_surplus_that_drops_below_two_within_the_window_removes_nothing_extra() {
        let mut world = ten_instances(1);
        for m in 0..10 {
            minute(&mut world, 0.0, if m == 4 { 1.0 } else { 5.0 });
        }
        assert_eq!(world.autoscaling.groups[0].desired, 9, "the low alarm's 1 only");
    }

    #[test]
    fn surplus_scale_in_waits_for_a_step_scale_out_to_warm_up() {
        let mut world = ten_instances(1);
        world.execute_step_policy("sim-blue", "sim-shortfall-blue", 1.0).unwrap();
        assert_eq!(world.autoscaling.groups[0].desired, 11);
        let launched = world.members(0).into_iter().max().unwrap();
        world.instances[launched].warm_at = Some(world.tick + 11);
        for _ in 0..11 {
            minute(&mut world, 0.0, 5.0);
        }
        assert_eq!(world.autoscaling.groups[0].desired, 11, "both policies blocked while warming up");
        minute(&mut world, 0.0, 5.0);
        assert_eq!(world.warming(0), 0);
        assert_eq!(world.autoscaling.groups[0].desired, 6, "then the whole surplus goes");
    }

    #[test]
    fn surplus_scale_in_never_goes_below_the_min_size() {
        let mut world = ten_instances(4);
        for _ in 0..10 {
            minute(&mut world, 0.0, 9.0);
        }
        assert_eq!(world.autoscaling.groups[0].desired, 4, "8 + 1 asked for, the min size kept");
        for _ in 0..10 {
            minute(&mut world, 0.0, 9.0);
        }
        assert_eq!(world.autoscaling.groups[0].desired, 4);
        let step = StepScaling::surplus("blue");
        assert_eq!((step.adjustment(1.0), step.adjustment(2.0), step.adjustment(5.0)), (None, Some(-1), Some(-4)));
        assert_eq!(step.adjustment(40.0), Some(-20));
    }
}
