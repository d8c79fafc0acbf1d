//! Scaling policies: what decides capacity, given what the cluster shows each minute.
//!
//! The simulator owns the world (ECS, alarms, Auto Scaling); a policy only reads the minute's view and says
//! what it would publish or ask for. So the comparison never copies a rule: `ecs-scaler` calls the core crate.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use ecs_scaler_core::config::{DEFAULT_CPU, DEFAULT_MEMORY, Thresholds};
use ecs_scaler_core::scale::{check_placement, is_idle, placement_failures};
use ecs_scaler_core::{
    ClusterFacts, ClusterReading, Observation, Placement, Resources, ScaleRule, ScaleStatus, Service,
};
use serde::Serialize;

use crate::SimError;
use crate::knobs::Knobs;

/// What the cluster shows a policy at the end of one minute.
#[derive(Debug, Clone, Copy)]
pub struct ClusterView<'a> {
    pub minute: u32,
    pub now: DateTime<Utc>,
    /// `AWS/ECS` CPUReservation (%), absent when no instance is registered.
    pub cpu_reservation: Option<f64>,
    pub memory_reservation: Option<f64>,
    /// Registered (ACTIVE and DRAINING) container instances.
    pub registered_instances: u32,
    /// DRAINING ones among them.
    pub draining_instances: u32,
    /// What each registered container instance registered.
    pub registered_sizes: &'a [Resources],
    /// Tasks RUNNING and PENDING in the cluster, daemons included, as DescribeClusters counts them.
    pub running_tasks: u32,
    pub pending_tasks: u32,
    /// Every service as DescribeServices reports it, events included.
    pub services: &'a [Service],
    /// What one task of each task definition reserves.
    pub task_sizes: &'a HashMap<String, Resources>,
    /// ECS managed scaling's M: instances running non-daemon tasks, plus the fresh instances the tasks ECS
    /// could not place this minute would need (first-fit decreasing).
    pub instances_needed: u32,
    /// ECS managed scaling's N: instances launched or running and not terminating.
    pub instances_running: u32,
}

/// What a policy does with one minute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Signal {
    /// A ScaleStatus datapoint (`None`: nothing published), for the alarms and simple scaling policies.
    ScaleStatus(Option<ScaleStatus>),
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

    /// Decide for one minute.
    fn tick(&mut self, view: &ClusterView<'_>) -> Signal;

    /// Whether instances running tasks are protected from scale-in (ECS managed termination protection).
    fn protects_busy_instances(&self) -> bool {
        false
    }

    fn thresholds(&self) -> Option<PlotThresholds> {
        None
    }
}

/// The real thing: the core's [`ScaleRule::decide`] with its scale-down guard and the placement signal from
/// [`unplaced_services`], read the way scale-status reads it.
#[derive(Debug, Clone)]
pub struct EcsScaler {
    pub rule: ScaleRule,
    pub placement_check: bool,
    pub lookback: Duration,
}

impl EcsScaler {
    pub const NAME: &'static str = "ecs-scaler";

    /// The core's default thresholds and lookback, placement check on.
    pub fn new(knobs: &Knobs) -> Self {
        Self::with_rule(ScaleRule { cpu: DEFAULT_CPU, memory: DEFAULT_MEMORY }, knobs)
    }

    pub fn with_rule(rule: ScaleRule, knobs: &Knobs) -> Self {
        Self { rule, placement_check: true, lookback: Duration::seconds(i64::from(knobs.lookback_seconds)) }
    }
}

fn observation(value: Option<f64>, now: DateTime<Utc>) -> Observation {
    value.map_or(Observation::Missing, |value| Observation::Fresh { value, timestamp: now })
}

impl Policy for EcsScaler {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn tick(&mut self, view: &ClusterView<'_>) -> Signal {
        let mut reading = ClusterReading {
            cpu: observation(view.cpu_reservation, view.now),
            memory: observation(view.memory_reservation, view.now),
            registered: view.registered_instances,
            draining: None,
            placement: Placement::NotChecked,
        };
        let facts = ClusterFacts {
            name: "sim".into(),
            arn: String::new(),
            status: "ACTIVE".into(),
            registered_instances: view.registered_instances,
            running_tasks: view.running_tasks,
            pending_tasks: view.pending_tasks,
            tags: HashMap::new(),
        };
        if is_idle(&facts, view.services) {
            reading.cpu = Observation::Idle;
            reading.memory = Observation::Idle;
        }
        if self.placement_check && self.rule.placement_matters(&reading) {
            let failures = placement_failures(view.services, view.now, self.lookback);
            reading.placement = check_placement(&failures, view.task_sizes, view.registered_sizes).placement();
        }
        if self.rule.consults_guard(&reading) {
            reading.draining = Some(view.draining_instances);
        }
        Signal::ScaleStatus(self.rule.decide(&reading).status)
    }

    fn thresholds(&self) -> Option<PlotThresholds> {
        Some(PlotThresholds { cpu: self.rule.cpu, memory: self.rule.memory })
    }
}

/// The original rule, exactly: 2 if either reservation is at or above its max, 0 if both are at or below their
/// min, 1 otherwise. No scale-down guard, no placement signal; no datapoint when a reservation is missing (the
/// original crashed on an empty metric list, which publishes nothing either).
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

    fn tick(&mut self, view: &ClusterView<'_>) -> Signal {
        let (Some(cpu), Some(memory)) = (view.cpu_reservation, view.memory_reservation) else {
            return Signal::ScaleStatus(None);
        };
        let status = if cpu >= self.cpu.max || memory >= self.memory.max {
            ScaleStatus::Up
        } else if cpu <= self.cpu.min && memory <= self.memory.min {
            ScaleStatus::Down
        } else {
            ScaleStatus::Stay
        };
        Signal::ScaleStatus(Some(status))
    }

    fn thresholds(&self) -> Option<PlotThresholds> {
        Some(PlotThresholds { cpu: self.cpu, memory: self.memory })
    }
}

/// ECS managed scaling (a capacity provider with managed termination protection):
/// CapacityProviderReservation = M / N × 100, target tracking at `targetCapacity`. Above target it scales out
/// to M at once; after `capacity_scale_in_datapoints` consecutive minutes below target it scales in to M, and
/// only empty instances may go.
#[derive(Debug, Clone)]
pub struct CapacityProvider {
    pub target_percent: f64,
    pub scale_in_datapoints: u32,
    below: u32,
}

impl CapacityProvider {
    pub const NAME: &'static str = "capacity-provider";

    pub fn new(knobs: &Knobs) -> Self {
        Self {
            target_percent: knobs.capacity_target_percent,
            scale_in_datapoints: knobs.capacity_scale_in_datapoints,
            below: 0,
        }
    }
}

impl Policy for CapacityProvider {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn tick(&mut self, view: &ClusterView<'_>) -> Signal {
        let (m, n) = (f64::from(view.instances_needed), f64::from(view.instances_running));
        // AWS: N = 0 reads 100 with nothing to run and 200 with something to run.
        let metric = match (view.instances_needed, view.instances_running) {
            (0, 0) => 100.0,
            (_, 0) => 200.0,
            _ => m / n * 100.0,
        };
        // Target tracking scales to metric/target × N = M × 100/target; written with M so that it also scales
        // out from zero instances, where the metric alone (200) says nothing about how many are needed.
        let wanted = (m * 100.0 / self.target_percent).ceil();
        let wanted = if wanted.is_finite() && wanted >= 0.0 { wanted.min(f64::from(u32::MAX)) as u32 } else { 0 };
        if metric > self.target_percent {
            self.below = 0;
            Signal::Capacity { metric, desired: Some(wanted) }
        } else if metric < self.target_percent {
            self.below += 1;
            let desired = (self.below >= self.scale_in_datapoints).then(|| {
                self.below = 0;
                wanted
            });
            Signal::Capacity { metric, desired }
        } else {
            self.below = 0;
            Signal::Capacity { metric, desired: None }
        }
    }

    fn protects_busy_instances(&self) -> bool {
        true
    }
}

/// Names accepted by [`by_name`], in report order.
pub const NAMES: [&str; 3] = [EcsScaler::NAME, Seed::NAME, CapacityProvider::NAME];

/// A policy by its CLI name.
pub fn by_name(name: &str, knobs: &Knobs) -> Result<Box<dyn Policy>, SimError> {
    match name {
        EcsScaler::NAME => Ok(Box::new(EcsScaler::new(knobs))),
        Seed::NAME => Ok(Box::new(Seed::new())),
        CapacityProvider::NAME => Ok(Box::new(CapacityProvider::new(knobs))),
        other => Err(SimError::Policy(format!("unknown policy {other:?}; expected one of {}", NAMES.join(", ")))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(cpu: f64, memory: f64, instances: u32) -> ClusterView<'static> {
        static NO_SIZES: std::sync::OnceLock<HashMap<String, Resources>> = std::sync::OnceLock::new();
        ClusterView {
            minute: 0,
            now: DateTime::UNIX_EPOCH,
            cpu_reservation: Some(cpu),
            memory_reservation: Some(memory),
            registered_instances: instances,
            draining_instances: 0,
            registered_sizes: &[],
            running_tasks: instances,
            pending_tasks: 0,
            services: &[],
            task_sizes: NO_SIZES.get_or_init(HashMap::new),
            instances_needed: 0,
            instances_running: instances,
        }
    }

    #[test]
    fn seed_scales_down_where_the_guard_would_hold() {
        // 39% on 2 instances is 78% on one: ecs-scaler's guard stays, the original rule scales down.
        let mut seed = Seed::with_thresholds(Seed::ORIGINAL, Seed::ORIGINAL);
        assert_eq!(seed.tick(&view(39.0, 30.0, 2)), Signal::ScaleStatus(Some(ScaleStatus::Down)));
        let mut real =
            EcsScaler::with_rule(ScaleRule { cpu: Seed::ORIGINAL, memory: Seed::ORIGINAL }, &Knobs::default());
        assert_eq!(real.tick(&view(39.0, 30.0, 2)), Signal::ScaleStatus(Some(ScaleStatus::Stay)));
    }

    #[test]
    fn seed_thresholds_are_inclusive() {
        let mut seed = Seed::with_thresholds(Seed::ORIGINAL, Seed::ORIGINAL);
        assert_eq!(seed.tick(&view(75.0, 0.0, 5)), Signal::ScaleStatus(Some(ScaleStatus::Up)));
        assert_eq!(seed.tick(&view(40.0, 40.0, 5)), Signal::ScaleStatus(Some(ScaleStatus::Down)));
        assert_eq!(seed.tick(&view(40.1, 40.0, 5)), Signal::ScaleStatus(Some(ScaleStatus::Stay)));
    }

    #[test]
    fn the_capacity_provider_scales_out_at_once_and_in_after_fifteen_minutes() {
        let mut cp = CapacityProvider::new(&Knobs::default());
        let mut v = view(0.0, 0.0, 4);
        v.instances_needed = 6;
        assert_eq!(cp.tick(&v), Signal::Capacity { metric: 150.0, desired: Some(6) });
        v.instances_needed = 3;
        for _ in 0..14 {
            assert_eq!(cp.tick(&v), Signal::Capacity { metric: 75.0, desired: None });
        }
        assert_eq!(cp.tick(&v), Signal::Capacity { metric: 75.0, desired: Some(3) });
    }

    #[test]
    fn the_capacity_provider_scales_out_from_zero_instances() {
        let mut cp = CapacityProvider::new(&Knobs::default());
        let mut v = view(0.0, 0.0, 0);
        v.instances_needed = 3;
        assert_eq!(cp.tick(&v), Signal::Capacity { metric: 200.0, desired: Some(3) });
    }
}
