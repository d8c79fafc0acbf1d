//! Every timing and size of the model, in one place, with the Terraform modules' defaults.

use chrono::Duration;
use ecs_scaler_core::config::DEFAULT_LOOKBACK_SECONDS;
use ecs_scaler_core::config::disruption::Budget;
use ecs_scaler_core::drain::DrainPolicy;
use ecs_scaler_core::lifecycle::LifecycleResult;
use ecs_scaler_core::scale::capacity::SURPLUS_ALARM_THRESHOLD;
use serde::Serialize;

/// `ComparisonOperator` of a CloudWatch alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Comparison {
    GreaterThanThreshold,
    GreaterThanOrEqualToThreshold,
    LessThanThreshold,
}

/// A CloudWatch alarm on one of scale-status's metrics (period 60 s; datapoints to alarm = evaluation periods).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AlarmSpec {
    pub comparison: Comparison,
    pub threshold: f64,
    pub evaluation_periods: u32,
}

impl AlarmSpec {
    pub fn breaches(&self, value: f64) -> bool {
        match self.comparison {
            Comparison::GreaterThanThreshold => value > self.threshold,
            Comparison::GreaterThanOrEqualToThreshold => value >= self.threshold,
            Comparison::LessThanThreshold => value < self.threshold,
        }
    }
}

/// How much a simple scaling policy changes capacity: its `AdjustmentType` and `ScalingAdjustment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Adjustment {
    /// `ChangeInCapacity`: this many instances.
    Instances(i32),
    /// `PercentChangeInCapacity`: this percent of the group's capacity, and at least `min_instances` of them
    /// (`MinAdjustmentMagnitude`).
    Percent { percent: i32, min_instances: u32 },
}

/// An Auto Scaling simple scaling policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SimpleScaling {
    pub adjustment: Adjustment,
    pub cooldown_seconds: u32,
}

impl SimpleScaling {
    /// The change in instances for a group of `capacity`, rounded as Auto Scaling rounds a percent: toward
    /// zero, but never to zero (12.7 is 12, 0.4 is 1, −0.4 is −1, −6.7 is −6), then at least `min_instances`.
    pub fn change(&self, capacity: u32) -> i64 {
        match self.adjustment {
            Adjustment::Instances(n) => i64::from(n),
            Adjustment::Percent { percent, min_instances } => {
                let exact = i64::from(capacity) * i64::from(percent);
                let rounded = match exact / 100 {
                    0 if exact != 0 => exact.signum(),
                    whole => whole,
                };
                i64::from(percent.signum()) * rounded.abs().max(i64::from(min_instances))
            }
        }
    }

    pub fn cooldown_minutes(&self) -> u32 {
        self.cooldown_seconds.div_ceil(60)
    }
}

/// The knobs of the model. [`Knobs::default`] is the Terraform modules' defaults.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Knobs {
    /// Minutes every run first spends on minute 0's load, unrecorded, so each policy starts the scenario from
    /// its own steady state rather than from the same guess.
    pub warmup_minutes: u32,
    /// Minutes from launch until Auto Scaling has the instance InService (its launch activity is complete).
    pub in_service_minutes: u32,
    /// Minutes from launch until the instance is ACTIVE in ECS and takes tasks.
    pub ecs_active_minutes: u32,
    /// Minutes a placed task is PENDING before it is RUNNING (and counts as healthy).
    pub task_start_minutes: u32,
    /// `<cluster>_ScaleStatus_high_<colour>`: GreaterThanThreshold 1, Maximum, 60 s × 4.
    pub alarm_high: AlarmSpec,
    /// `<cluster>_ScaleStatus_low_<colour>`: LessThanThreshold 1, Maximum, 60 s × 10.
    pub alarm_low: AlarmSpec,
    /// `<cluster>_InstancesSurplus_<colour>`: GreaterThanOrEqualToThreshold 2 ([`SURPLUS_ALARM_THRESHOLD`]),
    /// Minimum, 60 s × the low alarm's evaluation periods, missing data not breaching, invoking the colour's
    /// surplus step policy ([`SURPLUS_STEPS`]); the module wires it for ecs-scaler only. Off: the ScaleStatus
    /// low alarm's −1 is the only scale-in, as before.
    ///
    /// [`SURPLUS_ALARM_THRESHOLD`]: ecs_scaler_core::scale::capacity::SURPLUS_ALARM_THRESHOLD
    /// [`SURPLUS_STEPS`]: ecs_scaler_core::scale::capacity::SURPLUS_STEPS
    pub surplus_scale_in: bool,
    /// +15 % of the group's capacity, at least 2 instances; cooldown 180 s.
    pub scale_up: SimpleScaling,
    /// −1 instance, cooldown 300 s.
    pub scale_down: SimpleScaling,
    /// Whether terminating instances are held in Terminating:Wait by the drain hook. Without it they terminate
    /// at once and their tasks die with them.
    pub drain_hook: bool,
    /// The drain hook's MAX_DRAIN_SECONDS (3600) and DRAIN_TIMEOUT_RESULT.
    pub drain: DrainPolicy,
    /// How far back "unable to place a task" events count (scale-status's LOOKBACK_SECONDS).
    pub lookback_seconds: u32,
    /// ECS managed scaling's targetCapacity, percent.
    pub capacity_target_percent: f64,
    /// ECS managed scaling scales in after this many one-minute datapoints below target (its low alarm, 15).
    pub capacity_scale_in_datapoints: u32,
    /// ECS managed scaling's instanceWarmupPeriod (300 s): no scale-out, and no scale-in, while an instance of
    /// the group launched less than this long ago.
    pub capacity_instance_warmup_minutes: u32,
    /// ECS managed scaling's minimumScalingStepSize (1) and maximumScalingStepSize (10000).
    pub capacity_min_step: u32,
    pub capacity_max_step: u32,
    /// Whether scale-status may consolidate (its `CONSOLIDATE` setting, on by default). The low alarm's
    /// evaluation periods ([`Knobs::alarm_low`]) are how long an instance must be consolidatable before it goes.
    pub consolidate: bool,
    /// Points below each max that consolidation leaves (its `CONSOLIDATE_HEADROOM`, 5 by default).
    pub consolidate_headroom: f64,
    /// The shortfall step scaling policy's EstimatedInstanceWarmup: the blue-green module's
    /// `shortfall_warmup_seconds` default, 300 s. (An instance takes [`Knobs::ecs_active_minutes`], 3, to take
    /// tasks in this model; for the 2 minutes after that it still counts as warming.)
    pub shortfall_warmup_minutes: u32,
    /// The EventBridge rule on SERVICE_TASK_PLACEMENT_FAILURE runs scale-status for the cluster at once, at most
    /// once per this many seconds per cluster: scale-status's EVENT_MIN_INTERVAL_SECONDS (60).
    pub placement_event_throttle_seconds: u32,
    /// scale-status keeps what a warm Lambda process remembers between invocations
    /// ([`ecs_scaler_core::scale::memory::Memory`]: task definitions, and each cluster's last verdict while
    /// nothing it was decided from changed), as the deployed function does. Off: every tick reads the cluster
    /// from scratch, as a cold start each minute would.
    pub memory: bool,
    /// scale-status's RESYNC_SECONDS: a remembered verdict is read again from scratch at least this often
    /// (each cluster once per period, at its own phase).
    pub resync_seconds: u32,
    /// scale-status's DISRUPTION_BUDGET (the cluster's `ecs-scaler:disruption-budget` tag): how many instances
    /// with tasks may drain voluntarily at once. `None`: the core's default, 10 % of the ACTIVE instances.
    pub disruption_budget: Option<Budget>,
    /// Two capacity changes in opposite directions this close together count as one oscillation.
    pub oscillation_window_minutes: u32,
    /// A minute whose desired tasks rise by this many percent over the minute before (and by at least
    /// `spike_min_tasks`) starts a spike.
    pub spike_increase_percent: f64,
    pub spike_min_tasks: u32,
}

impl Knobs {
    /// The surplus alarm: InstancesSurplus ≥ 2 (Minimum) in every period of the low alarm's window.
    pub fn alarm_surplus(&self) -> AlarmSpec {
        AlarmSpec {
            comparison: Comparison::GreaterThanOrEqualToThreshold,
            threshold: SURPLUS_ALARM_THRESHOLD,
            evaluation_periods: self.alarm_low.evaluation_periods,
        }
    }
}

impl Default for Knobs {
    fn default() -> Self {
        Self {
            warmup_minutes: 60,
            in_service_minutes: 1,
            ecs_active_minutes: 3,
            task_start_minutes: 1,
            alarm_high: AlarmSpec {
                comparison: Comparison::GreaterThanThreshold,
                threshold: 1.0,
                evaluation_periods: 4,
            },
            alarm_low: AlarmSpec { comparison: Comparison::LessThanThreshold, threshold: 1.0, evaluation_periods: 10 },
            surplus_scale_in: true,
            scale_up: SimpleScaling {
                adjustment: Adjustment::Percent { percent: 15, min_instances: 2 },
                cooldown_seconds: 180,
            },
            scale_down: SimpleScaling { adjustment: Adjustment::Instances(-1), cooldown_seconds: 300 },
            drain_hook: true,
            drain: DrainPolicy { max_drain: Duration::seconds(3600), timeout_result: LifecycleResult::Continue },
            lookback_seconds: DEFAULT_LOOKBACK_SECONDS,
            capacity_target_percent: 100.0,
            capacity_scale_in_datapoints: 15,
            capacity_instance_warmup_minutes: 5,
            capacity_min_step: 1,
            capacity_max_step: 10_000,
            consolidate: true,
            consolidate_headroom: ecs_scaler_core::config::DEFAULT_CONSOLIDATE_HEADROOM,
            shortfall_warmup_minutes: 5,
            placement_event_throttle_seconds: 60,
            memory: true,
            resync_seconds: ecs_scaler_core::scale::memory::DEFAULT_RESYNC_SECONDS,
            disruption_budget: None,
            oscillation_window_minutes: 10,
            spike_increase_percent: 10.0,
            spike_min_tasks: 5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn percent(percent: i32, min_instances: u32) -> SimpleScaling {
        SimpleScaling { adjustment: Adjustment::Percent { percent, min_instances }, cooldown_seconds: 0 }
    }

    #[test]
    fn a_percent_adjustment_rounds_toward_zero_but_never_to_zero_then_applies_the_minimum() {
        assert_eq!(percent(25, 0).change(51), 12, "12.75 rounds down");
        assert_eq!(percent(25, 0).change(2), 1, "0.5 rounds to 1");
        assert_eq!(percent(-25, 0).change(2), -1);
        assert_eq!(percent(-25, 0).change(27), -6, "-6.75 rounds toward zero");
        assert_eq!(percent(25, 2).change(4), 2, "at least the minimum magnitude");
        assert_eq!(percent(25, 2).change(40), 10);
        assert_eq!(percent(25, 2).change(0), 2, "an empty group still grows");
    }

    #[test]
    fn an_instance_adjustment_is_what_it_says() {
        let step = SimpleScaling { adjustment: Adjustment::Instances(-1), cooldown_seconds: 300 };
        assert_eq!((step.change(1), step.change(100)), (-1, -1));
    }
}
