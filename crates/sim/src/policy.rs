//! Scaling policies: what decides capacity, given what the cluster shows each minute.
//!
//! The simulator owns the world (ECS, CloudWatch, Auto Scaling); a policy acts on it once a minute. `ecs-scaler`
//! is scale-status's own tick over the ports, so the comparison never copies a rule; `seed` is the original
//! rule (not ours to share) publishing through the same ports; `capacity-provider` is AWS's target tracking,
//! modelled here.

use std::collections::BTreeMap;

use chrono::Duration;
use ecs_scaler_core::config::disruption::Budget;
use ecs_scaler_core::config::{
    DEFAULT_CPU, DEFAULT_MEMORY, DEFAULT_NAMESPACE, DEFAULT_STALE_AFTER_SECONDS, Layer, Origin, Sourced, Thresholds,
    TickConfig,
};
use ecs_scaler_core::ports::{Clock, ClusterMetric, MetricUnit, MetricsApi};
use ecs_scaler_core::scale::memory::Memory;
use ecs_scaler_core::scale::tick::{self, Recall, Summary};
use ecs_scaler_core::scale::trigger::{self, Triggered};
use ecs_scaler_core::scale::{ClusterReport, METRIC_NAME};
use ecs_scaler_core::{Datapoint, ScaleRule, ScaleStatus};
use futures::executor::block_on;
use serde::Serialize;

use crate::SimError;
use crate::cloud::{CLUSTER_ARN, Client, client_context};
use crate::knobs::Knobs;
use crate::world::CLUSTER;

/// What ECS managed scaling reads of the cluster at the end of one minute (the other policies read the
/// world through the ports).
#[derive(Debug, Clone, Copy, Default)]
pub struct ClusterView {
    pub minute: u32,
    /// ECS managed scaling's M: instances running non-daemon tasks, plus the fresh instances the tasks ECS
    /// could not place this minute would need (first-fit decreasing).
    pub instances_needed: u32,
    /// ECS managed scaling's N: instances launched or running and not terminating.
    pub instances_running: u32,
    /// Instances among N launched less than the capacity provider's instanceWarmupPeriod ago.
    pub instances_warming: u32,
    /// ACTIVE instances running no non-daemon task (ECS's "empty"; daemons do not count).
    pub instances_empty: u32,
    /// Tasks are provisioning and none fits the group's smallest instance type: managed scaling stops, and
    /// CapacityProviderReservation stays at the target.
    pub provisioning_incompatible: bool,
}

/// What the Terraform module wires around a policy, as the world models it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Wiring {
    /// ECS managed termination protection: instances running non-daemon tasks are protected from scale-in.
    pub protect_busy: bool,
    /// Each colour has the shortfall step scaling policy (`<cluster>-shortfall-<colour>`), and its group the
    /// tags scale-status looks for.
    pub shortfall_policy: bool,
    /// Each colour has the surplus step scaling policy (`<cluster>-surplus-<colour>`) and the InstancesSurplus
    /// alarm that invokes it (unless [`crate::knobs::Knobs::surplus_scale_in`] is off).
    pub surplus_policy: bool,
    /// The groups' termination policy is the custom one ([`ecs_scaler_core::scale::terminate::choose`], run by
    /// the drain-hook Lambda) instead of Auto Scaling's Default.
    pub custom_termination: bool,
    /// An EventBridge rule on SERVICE_TASK_PLACEMENT_FAILURE runs the policy's evaluation at once.
    pub placement_event: bool,
}

/// What a policy did with one minute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Signal {
    /// Whatever ScaleStatus datapoint it had went to CloudWatch, for the alarms and scaling policies.
    Published,
    /// Target tracking: the metric, and the total capacity wanted now (`None`: leave it).
    Capacity { metric: f64, desired: Option<u32> },
}

/// Thresholds a policy draws on the reservation plot.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PlotThresholds {
    pub cpu: Thresholds,
    pub memory: Thresholds,
}

pub trait Policy {
    fn name(&self) -> &str;

    /// Act for one minute, against the world behind `cloud` (the policy's own client: its calls are counted).
    fn tick(&mut self, cloud: &Client, view: &ClusterView) -> Signal;

    /// What Auto Scaling and EventBridge do around it.
    fn wiring(&self) -> Wiring {
        Wiring::default()
    }

    /// The thresholds the drain hook's termination policy is deployed with (its environment's layer): the
    /// Terraform example gives both Lambdas the same values.
    fn drain_layer(&self) -> Layer {
        Layer::default()
    }

    /// ECS reported a task placement failure and the EventBridge rule (when [`Wiring::placement_event`]) invoked
    /// the policy's evaluation mid-minute, right after the scheduler ran.
    fn placement_event(&mut self, _cloud: &Client) {}

    fn thresholds(&self) -> Option<PlotThresholds> {
        None
    }

    /// What the policy's last tick decided and why, when it says (scale-status's reason for the cluster).
    fn last_decision(&self) -> Option<&Decided> {
        None
    }
}

/// scale-status's decision for the cluster at one tick, as its report gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    /// The reason, as the log line spells it (`consolidation`, `swap_in_progress`, ...).
    pub reason: String,
    /// The tick republished the verdict it remembered instead of reading the cluster (see
    /// [`ecs_scaler_core::scale::memory`]).
    pub reused: bool,
}

impl Decided {
    fn of(report: &ClusterReport) -> Self {
        Self { reason: report.reason.to_string(), reused: report.unchanged_since.is_some() }
    }
}

/// The real thing: scale-status's tick ([`ecs_scaler_core::scale::run`]: read, decide with [`ScaleRule`], its
/// scale-down guard, placement signal, idle rule and consolidation, publish, ask the shortfall policy), run
/// against the world with these thresholds, wired as the Terraform module wires it: the shortfall step policy
/// on each colour, the custom termination policy, and the placement-failure event rule.
///
/// Like the deployed Lambda, it keeps one [`Memory`] for its whole run (a warm process that is never recycled),
/// used by the scheduled ticks and the placement-failure events alike, with scale-status's resync period
/// ([`Knobs::memory`] off: a fresh memory every invocation, every tick read from scratch).
///
/// [`EcsScaler::threshold`] is the rule as it was before placement-aware scaling (`ecs-scaler-threshold`):
/// consolidation off, no shortfall policy, the Default termination policy, schedule only.
#[derive(Debug)]
pub struct EcsScaler {
    pub rule: ScaleRule,
    pub placement_check: bool,
    pub lookback: Duration,
    /// scale-status's CONSOLIDATE setting.
    pub consolidate: bool,
    pub consolidate_headroom: f64,
    /// Sized scale-out, the custom termination policy and the event rule (the placement-aware wiring).
    pub placement_aware: bool,
    /// scale-status's EVENT_MIN_INTERVAL_SECONDS.
    pub event_interval: Duration,
    /// scale-status's RESYNC_SECONDS.
    pub resync_seconds: u32,
    /// scale-status's DISRUPTION_BUDGET; `None`: the core's default.
    pub disruption_budget: Option<Budget>,
    /// What the warm process remembers; `None`: nothing, every invocation starts cold.
    memory: Option<Memory>,
    last: Option<Decided>,
}

/// A clone is another process: the same settings, a cold start.
impl Clone for EcsScaler {
    fn clone(&self) -> Self {
        Self {
            rule: self.rule,
            placement_check: self.placement_check,
            lookback: self.lookback,
            consolidate: self.consolidate,
            consolidate_headroom: self.consolidate_headroom,
            placement_aware: self.placement_aware,
            event_interval: self.event_interval,
            resync_seconds: self.resync_seconds,
            disruption_budget: self.disruption_budget,
            memory: self.memory.as_ref().map(|_| Memory::default()),
            last: None,
        }
    }
}

impl EcsScaler {
    pub const NAME: &'static str = "ecs-scaler";
    pub const THRESHOLD_NAME: &'static str = "ecs-scaler-threshold";

    /// The core's default thresholds and lookback, placement check on.
    pub fn new(knobs: &Knobs) -> Self {
        Self::with_rule(ScaleRule { cpu: DEFAULT_CPU, memory: DEFAULT_MEMORY }, knobs)
    }

    pub fn with_rule(rule: ScaleRule, knobs: &Knobs) -> Self {
        Self {
            rule,
            placement_check: true,
            lookback: Duration::seconds(i64::from(knobs.lookback_seconds)),
            consolidate: knobs.consolidate,
            consolidate_headroom: knobs.consolidate_headroom,
            placement_aware: true,
            event_interval: Duration::seconds(i64::from(knobs.placement_event_throttle_seconds)),
            resync_seconds: knobs.resync_seconds,
            disruption_budget: knobs.disruption_budget,
            memory: knobs.memory.then(Memory::default),
            last: None,
        }
    }

    /// Whether it remembers between invocations, as a warm Lambda process does.
    pub fn remembers(&self) -> bool {
        self.memory.is_some()
    }

    /// The same policy, remembering between invocations or not.
    pub fn remembering(self, memory: bool) -> Self {
        Self { memory: memory.then(Memory::default), ..self }
    }

    /// One invocation with the process's memory, or a cold one's.
    fn invoke<R>(&self, f: impl FnOnce(&Memory) -> R) -> R {
        match &self.memory {
            Some(memory) => f(memory),
            None => f(&Memory::default()),
        }
    }

    fn decided(&mut self, summary: Option<&Summary>) {
        let report = summary.and_then(|s| s.clusters.iter().find(|r| r.cluster == CLUSTER));
        self.last = report.map(Decided::of);
    }

    /// The threshold-only rule with the core's default thresholds: `ecs-scaler-threshold`.
    pub fn threshold(knobs: &Knobs) -> Self {
        Self::threshold_with_rule(ScaleRule { cpu: DEFAULT_CPU, memory: DEFAULT_MEMORY }, knobs)
    }

    pub fn threshold_with_rule(rule: ScaleRule, knobs: &Knobs) -> Self {
        Self { consolidate: false, placement_aware: false, ..Self::with_rule(rule, knobs) }
    }

    /// scale-status's configuration for the simulated cluster: listed by name, these thresholds and placement
    /// check, the default namespace and staleness.
    pub fn config(&self) -> TickConfig {
        TickConfig {
            namespace: Sourced::new(DEFAULT_NAMESPACE.to_owned(), Origin::Default),
            listed: BTreeMap::from([(CLUSTER.to_owned(), self.layer())]),
            base: Layer::default(),
            lookback_seconds: u32::try_from(self.lookback.num_seconds()).unwrap_or(u32::MAX),
            stale_after_seconds: DEFAULT_STALE_AFTER_SECONDS,
            resync_seconds: self.resync_seconds,
        }
    }

    /// The knobs as one configuration layer, as the environment of both Lambdas would give them.
    #[allow(clippy::needless_update)] // every knob is set today; a knob scale-status adds keeps its default
    pub fn layer(&self) -> Layer {
        let knob = |value: f64| Some(Ok(Sourced::new(value, Origin::Default)));
        Layer {
            cpu_min: knob(self.rule.cpu.min),
            cpu_max: knob(self.rule.cpu.max),
            memory_min: knob(self.rule.memory.min),
            memory_max: knob(self.rule.memory.max),
            placement_check: Some(Ok(Sourced::new(self.placement_check, Origin::Default))),
            consolidate: Some(Ok(Sourced::new(self.consolidate, Origin::Default))),
            consolidate_headroom: knob(self.consolidate_headroom),
            disruption_budget: self.disruption_budget.map(|b| Ok(Sourced::new(b, Origin::Env("DISRUPTION_BUDGET")))),
            // Anything scale-status learns later keeps its default until the simulation has a knob for it.
            ..Layer::default()
        }
    }
}

impl Policy for EcsScaler {
    fn name(&self) -> &str {
        if self.placement_aware { Self::NAME } else { Self::THRESHOLD_NAME }
    }

    /// scale-status's scheduled invocation, as `respond_with` runs it: the tick with the process's memory.
    fn tick(&mut self, cloud: &Client, _view: &ClusterView) -> Signal {
        let config = self.config();
        // A tick that evaluates nothing publishes nothing, exactly as in the Lambda.
        let summary = self.invoke(|memory| {
            block_on(tick::run_in(client_context(cloud), &config, None, Recall { memory, deep: false })).ok()
        });
        self.decided(summary.as_ref());
        Signal::Published
    }

    fn last_decision(&self) -> Option<&Decided> {
        self.last.as_ref()
    }

    fn drain_layer(&self) -> Layer {
        self.layer()
    }

    fn wiring(&self) -> Wiring {
        let aware = self.placement_aware;
        Wiring {
            protect_busy: false,
            shortfall_policy: aware,
            surplus_policy: aware,
            custom_termination: aware,
            placement_event: aware,
        }
    }

    /// The rule's target: scale-status's event handler ([`trigger::on_placement_failure`]) for this cluster,
    /// which evaluates it with the tick's code unless an event did so less than the interval ago (the time kept
    /// as a cluster tag, in the world's ECS).
    fn placement_event(&mut self, cloud: &Client) {
        if !self.placement_aware {
            return;
        }
        let config = self.config();
        let ctx = client_context(cloud);
        let triggered = self.invoke(|memory| {
            block_on(trigger::on_placement_failure(ctx, &config, CLUSTER_ARN, self.event_interval, memory))
        });
        if let Ok(Triggered::Evaluated { .. }) = triggered {
            cloud.inner().with(|world| world.tally.placement_evaluations += u32::from(world.recording().is_some()));
        }
    }

    fn thresholds(&self) -> Option<PlotThresholds> {
        Some(PlotThresholds { cpu: self.rule.cpu, memory: self.rule.memory })
    }
}

/// The original rule, exactly: 2 if either reservation is at or above its max, 0 if both are at or below their
/// min, 1 otherwise. No scale-down guard, no placement signal; no datapoint when a reservation is missing (the
/// original crashed on an empty metric list, which publishes nothing either). It is not ecs-scaler's rule, so
/// it is decided here, but it reads the minute's reservations from the world's CloudWatch and publishes there.
///
/// Its thresholds default to ecs-scaler's (the core's defaults): the comparison is about what the rule adds
/// (the scale-down guard and the placement signal), so everything else is held equal. Different thresholds
/// are a separate question; [`Seed::ORIGINAL`] (the original example's 40/75) or any other pair runs through
/// [`Seed::with_thresholds`] (`ecs-scaler simulate --seed-thresholds 40,75`).
#[derive(Debug, Clone)]
pub struct Seed {
    pub cpu: Thresholds,
    pub memory: Thresholds,
}

impl Seed {
    pub const NAME: &'static str = "seed";
    /// The original example's thresholds.
    pub const ORIGINAL: Thresholds = Thresholds { min: 40.0, max: 75.0 };

    pub fn new() -> Self {
        Self::with_thresholds(DEFAULT_CPU, DEFAULT_MEMORY)
    }

    pub fn with_thresholds(cpu: Thresholds, memory: Thresholds) -> Self {
        Self { cpu, memory }
    }

    /// The original rule on one minute's reservations.
    pub fn decide(&self, cpu: Option<f64>, memory: Option<f64>) -> Option<ScaleStatus> {
        let (cpu, memory) = (cpu?, memory?);
        Some(if cpu >= self.cpu.max || memory >= self.memory.max {
            ScaleStatus::Up
        } else if cpu <= self.cpu.min && memory <= self.memory.min {
            ScaleStatus::Down
        } else {
            ScaleStatus::Stay
        })
    }
}

impl Default for Seed {
    fn default() -> Self {
        Self::new()
    }
}

impl Policy for Seed {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn tick(&mut self, cloud: &Client, _view: &ClusterView) -> Signal {
        let now = cloud.inner().now();
        let cluster = [CLUSTER.to_owned()];
        let mut read = block_on(cloud.reservations(&cluster, now - Duration::minutes(1), now));
        let series = read.remove(CLUSTER).and_then(Result::ok).unwrap_or_default();
        let newest = |points: &[Datapoint]| points.iter().max_by_key(|p| p.timestamp).map(|p| p.value);
        if let Some(status) = self.decide(newest(&series.cpu), newest(&series.memory)) {
            let metric = ClusterMetric {
                name: METRIC_NAME,
                cluster: CLUSTER.to_owned(),
                value: status.metric_value(),
                unit: MetricUnit::None,
                timestamp: now,
            };
            // The world's CloudWatch never refuses a datapoint.
            let _ = block_on(cloud.put(DEFAULT_NAMESPACE, &[metric]));
        }
        Signal::Published
    }

    fn thresholds(&self) -> Option<PlotThresholds> {
        Some(PlotThresholds { cpu: self.cpu, memory: self.memory })
    }
}

/// ECS managed scaling (a capacity provider with managed termination protection), as AWS documents it:
///
/// - **Metric.** CapacityProviderReservation = M / N × 100 every minute (N = 0: 100 with nothing to run, 200
///   otherwise; every provisioning task too large for the group's smallest type: the target, and no action),
///   target tracking at `targetCapacity`. M comes from the world ([`ClusterView::instances_needed`]: the
///   instances running non-daemon tasks plus the fresh ones the provisioning tasks need, binpacked by CPU,
///   memory, ENIs, ports, GPUs and distinctInstance onto the group's largest type of each; see the crate docs).
/// - **Scale-out.** Above target, to ⌈M × 100 / target⌉ (from no instance at all, at least two), the step
///   clamped to [minimumScalingStepSize, maximumScalingStepSize] (1, 10000), and only when every instance of the
///   group has passed its `instanceWarmupPeriod` (300 s): "The scale-out is blocked for Instances that are within
///   the instanceWarmupPeriod", so a second step waits for the first one's warm-up.
/// - **Scale-in.** Only after 15 consecutive one-minute datapoints below target (the managed low alarm), then
///   every minute the alarm stays in ALARM, by at most half of the empty instances (at least one) and never
///   below ⌈M × 100 / target⌉; blocked while instances warm up (scale-in by scaling policies waits for the
///   warm-up); any scale-out request stops it and restarts the count. Managed termination protection lets only
///   empty instances (no non-daemon task) go.
#[derive(Debug, Clone)]
pub struct CapacityProvider {
    pub target_percent: f64,
    pub scale_in_datapoints: u32,
    pub min_step: u32,
    pub max_step: u32,
    below: u32,
}

impl CapacityProvider {
    pub const NAME: &'static str = "capacity-provider";

    pub fn new(knobs: &Knobs) -> Self {
        Self {
            target_percent: knobs.capacity_target_percent,
            scale_in_datapoints: knobs.capacity_scale_in_datapoints,
            min_step: knobs.capacity_min_step.max(1),
            max_step: knobs.capacity_max_step.max(1),
            below: 0,
        }
    }
}

impl Policy for CapacityProvider {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn tick(&mut self, _cloud: &Client, view: &ClusterView) -> Signal {
        self.decide(view)
    }

    fn wiring(&self) -> Wiring {
        Wiring { protect_busy: true, ..Wiring::default() }
    }
}

impl CapacityProvider {
    /// Target tracking on this minute's M and N.
    pub fn decide(&mut self, view: &ClusterView) -> Signal {
        let (m, n) = (f64::from(view.instances_needed), f64::from(view.instances_running));
        // AWS: N = 0 reads 100 with nothing to run and 200 with something to run; when every provisioning task
        // is too large for the group's smallest type, managed scaling stops at the target.
        let metric = match (view.instances_needed, view.instances_running) {
            _ if view.provisioning_incompatible => self.target_percent,
            (0, 0) => 100.0,
            (_, 0) => 200.0,
            _ => m / n * 100.0,
        };
        // Target tracking scales to metric/target × N = M × 100/target; written with M so that it also scales
        // out from zero instances, where the metric alone (200) says nothing about how many are needed. From
        // zero, ECS "always scales-out to two instances initially".
        let wanted = (m * 100.0 / self.target_percent).ceil();
        let wanted = if wanted.is_finite() && wanted >= 0.0 { wanted.min(f64::from(u32::MAX)) as u32 } else { 0 };
        let wanted = if view.instances_running == 0 && wanted > 0 { wanted.max(2) } else { wanted };
        let warming = view.instances_warming > 0;
        if metric > self.target_percent {
            // A scale-out request stops any scale-in in progress, whether or not the warm-up lets it act.
            self.below = 0;
            if warming {
                return Signal::Capacity { metric, desired: None };
            }
            let running = view.instances_running;
            let step = wanted.saturating_sub(running).clamp(self.min_step, self.max_step);
            Signal::Capacity { metric, desired: Some(running.saturating_add(step)) }
        } else if metric < self.target_percent {
            self.below = self.below.saturating_add(1);
            if self.below < self.scale_in_datapoints || warming {
                return Signal::Capacity { metric, desired: None };
            }
            let running = view.instances_running;
            let at_most = (view.instances_empty / 2).max(1);
            let step = running.saturating_sub(wanted).min(at_most);
            Signal::Capacity { metric, desired: (step > 0).then(|| running - step) }
        } else {
            self.below = 0;
            Signal::Capacity { metric, desired: None }
        }
    }
}

/// The policies every comparison runs, in report order.
pub const NAMES: [&str; 3] = [EcsScaler::NAME, Seed::NAME, CapacityProvider::NAME];
/// Further names [`by_name`] accepts: `ecs-scaler-threshold`, the rule as it was before placement-aware
/// scaling (no consolidation, no sized scale-out, Default termination, schedule only).
pub const VARIANTS: [&str; 1] = [EcsScaler::THRESHOLD_NAME];

/// A policy by its CLI name.
pub fn by_name(name: &str, knobs: &Knobs) -> Result<Box<dyn Policy>, SimError> {
    match name {
        EcsScaler::NAME => Ok(Box::new(EcsScaler::new(knobs))),
        EcsScaler::THRESHOLD_NAME => Ok(Box::new(EcsScaler::threshold(knobs))),
        Seed::NAME => Ok(Box::new(Seed::new())),
        CapacityProvider::NAME => Ok(Box::new(CapacityProvider::new(knobs))),
        other => Err(SimError::Policy(format!(
            "unknown policy {other:?}; expected one of {}, {}",
            NAMES.join(", "),
            VARIANTS.join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn view(needed: u32, running: u32) -> ClusterView {
        ClusterView { instances_needed: needed, instances_running: running, ..ClusterView::default() }
    }

    #[test]
    fn seed_scales_down_where_the_guard_would_hold() {
        // 39% on 2 instances is 78% on one: ecs-scaler's guard stays, the original rule scales down.
        let seed = Seed::with_thresholds(Seed::ORIGINAL, Seed::ORIGINAL);
        assert_eq!(seed.decide(Some(39.0), Some(30.0)), Some(ScaleStatus::Down));
        let rule = ScaleRule { cpu: Seed::ORIGINAL, memory: Seed::ORIGINAL };
        let real = EcsScaler::with_rule(rule, &Knobs::default());
        let settings = real.config().settings(CLUSTER, &HashMap::new()).unwrap();
        assert_eq!(settings.rule(), rule, "scale-status runs with the policy's thresholds");
    }

    #[test]
    fn seed_thresholds_are_inclusive_and_a_missing_reservation_publishes_nothing() {
        let seed = Seed::with_thresholds(Seed::ORIGINAL, Seed::ORIGINAL);
        assert_eq!(seed.decide(Some(75.0), Some(0.0)), Some(ScaleStatus::Up));
        assert_eq!(seed.decide(Some(40.0), Some(40.0)), Some(ScaleStatus::Down));
        assert_eq!(seed.decide(Some(40.1), Some(40.0)), Some(ScaleStatus::Stay));
        assert_eq!(seed.decide(None, Some(90.0)), None);
    }

    #[test]
    fn the_capacity_provider_scales_out_at_once_and_in_after_fifteen_minutes() {
        let mut cp = CapacityProvider::new(&Knobs::default());
        assert_eq!(cp.decide(&view(6, 4)), Signal::Capacity { metric: 150.0, desired: Some(6) });
        let idle = ClusterView { instances_empty: 1, ..view(3, 4) };
        for _ in 0..14 {
            assert_eq!(cp.decide(&idle), Signal::Capacity { metric: 75.0, desired: None });
        }
        assert_eq!(cp.decide(&idle), Signal::Capacity { metric: 75.0, desired: Some(3) });
    }

    #[test]
    fn the_capacity_provider_scales_out_from_zero_instances() {
        let mut cp = CapacityProvider::new(&Knobs::default());
        assert_eq!(cp.decide(&view(3, 0)), Signal::Capacity { metric: 200.0, desired: Some(3) });
    }

    #[test]
    fn the_capacity_provider_waits_for_the_warm_up_before_another_step() {
        let mut cp = CapacityProvider::new(&Knobs::default());
        let warming = ClusterView { instances_warming: 2, ..view(8, 6) };
        assert_eq!(cp.decide(&warming), Signal::Capacity { metric: 8.0 / 6.0 * 100.0, desired: None });
        assert_eq!(cp.decide(&view(8, 6)), Signal::Capacity { metric: 8.0 / 6.0 * 100.0, desired: Some(8) });
    }

    #[test]
    fn the_capacity_provider_scales_in_by_at_most_half_the_empty_instances_each_minute_until_a_scale_out() {
        let mut cp = CapacityProvider::new(&Knobs::default());
        let idle = ClusterView { instances_empty: 6, ..view(4, 10) };
        for _ in 0..14 {
            assert_eq!(cp.decide(&idle), Signal::Capacity { metric: 40.0, desired: None });
        }
        assert_eq!(cp.decide(&idle), Signal::Capacity { metric: 40.0, desired: Some(7) }, "half of 6 empty");
        let fewer = ClusterView { instances_empty: 3, ..view(4, 7) };
        assert_eq!(
            cp.decide(&fewer),
            Signal::Capacity { metric: 4.0 / 7.0 * 100.0, desired: Some(6) },
            "the next minute"
        );
        let last = ClusterView { instances_empty: 1, ..view(4, 5) };
        assert_eq!(cp.decide(&last), Signal::Capacity { metric: 80.0, desired: Some(4) }, "at least one");
        cp.decide(&view(6, 4));
        assert_eq!(
            cp.decide(&idle),
            Signal::Capacity { metric: 40.0, desired: None },
            "a scale-out restarts the count"
        );
    }
}
