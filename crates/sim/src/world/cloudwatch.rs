//! CloudWatch: the `AWS/ECS` reservation metrics of the cluster, the ScaleStatus datapoints published to it,
//! and the two alarms on ScaleStatus.

use std::collections::VecDeque;

use chrono::{DateTime, Duration, Utc};
use ecs_scaler_core::config::DEFAULT_NAMESPACE;
use ecs_scaler_core::metrics::Datapoint;
use ecs_scaler_core::ports::{ClusterMetric, ReservationSeries};
use ecs_scaler_core::scale::METRIC_NAME;

use super::CLUSTER;
use crate::knobs::{AlarmSpec, Knobs};

/// Minutes of reservation datapoints kept: more than any lookback reads.
const KEPT_MINUTES: usize = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

/// What an alarm in ALARM invokes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmAction {
    ScaleUp,
    ScaleDown,
}

#[derive(Debug, Clone)]
pub struct Alarm {
    pub spec: AlarmSpec,
    pub state: AlarmState,
    pub action: AlarmAction,
}

/// The CloudWatch side of the world.
#[derive(Debug)]
pub struct CloudWatch {
    /// Per minute, Maximum over 60 s: (period start, CPUReservation, MemoryReservation).
    reservations: VecDeque<(DateTime<Utc>, Option<f64>, Option<f64>)>,
    /// ScaleStatus of the cluster in our namespace, Maximum per one-minute period, one slot per tick.
    scale_status: Vec<Option<f64>>,
    /// High, then low.
    pub alarms: [Alarm; 2],
}

impl CloudWatch {
    pub fn new(knobs: &Knobs) -> Self {
        let alarm = |spec, action| Alarm { spec, state: AlarmState::InsufficientData, action };
        Self {
            reservations: VecDeque::new(),
            scale_status: Vec::new(),
            alarms: [alarm(knobs.alarm_high, AlarmAction::ScaleUp), alarm(knobs.alarm_low, AlarmAction::ScaleDown)],
        }
    }

    /// ECS's datapoints for the minute that ends at `now` (none where ECS publishes none).
    pub fn record_reservations(&mut self, now: DateTime<Utc>, cpu: Option<f64>, memory: Option<f64>) {
        self.reservations.push_back((now - Duration::minutes(1), cpu, memory));
        if self.reservations.len() > KEPT_MINUTES {
            self.reservations.pop_front();
        }
    }

    /// GetMetricData of both reservations, periods starting in `[start, end)`.
    pub fn reservations(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> ReservationSeries {
        let mut series = ReservationSeries::default();
        for &(timestamp, cpu, memory) in self.reservations.iter().filter(|(at, ..)| *at >= start && *at < end) {
            series.cpu.extend(cpu.map(|value| Datapoint { timestamp, value }));
            series.memory.extend(memory.map(|value| Datapoint { timestamp, value }));
        }
        series
    }

    /// PutMetricData at `tick`: the ScaleStatus of our cluster in our namespace is what the alarms watch.
    pub fn put(&mut self, tick: u32, namespace: &str, metrics: &[ClusterMetric]) {
        if namespace != DEFAULT_NAMESPACE {
            return;
        }
        for metric in metrics.iter().filter(|m| m.name == METRIC_NAME && m.cluster == CLUSTER) {
            let slot = self.slot(tick);
            *slot = Some(slot.map_or(metric.value, |v| v.max(metric.value)));
        }
    }

    fn slot(&mut self, tick: u32) -> &mut Option<f64> {
        let index = tick as usize;
        if self.scale_status.len() <= index {
            self.scale_status.resize(index + 1, None);
        }
        &mut self.scale_status[index]
    }

    /// The ScaleStatus datapoint of the period at `tick`.
    pub fn scale_status(&self, tick: u32) -> Option<f64> {
        self.scale_status.get(tick as usize).copied().flatten()
    }

    /// Evaluate both alarms on the periods up to `tick`; the actions of those in ALARM, high first.
    pub fn evaluate_alarms(&mut self, tick: u32) -> Vec<AlarmAction> {
        self.slot(tick);
        let datapoints = &self.scale_status[..=tick as usize];
        let mut actions = Vec::new();
        for alarm in &mut self.alarms {
            alarm.state = evaluate(datapoints, &alarm.spec, alarm.state);
            if alarm.state == AlarmState::Alarm {
                actions.push(alarm.action);
            }
        }
        actions
    }
}

/// CloudWatch alarm evaluation with missing data treated as missing: the newest `evaluation_periods`
/// datapoints within the last 2 × `evaluation_periods` minutes decide. All of them breaching is ALARM, any not
/// breaching is OK, too few (but all breaching) keeps the state, none at all is INSUFFICIENT_DATA.
fn evaluate(datapoints: &[Option<f64>], alarm: &AlarmSpec, state: AlarmState) -> AlarmState {
    let n = alarm.evaluation_periods as usize;
    let range = &datapoints[datapoints.len().saturating_sub(2 * n)..];
    let newest: Vec<f64> = range.iter().rev().flatten().take(n).copied().collect();
    if newest.is_empty() {
        AlarmState::InsufficientData
    } else if newest.iter().any(|&v| !alarm.breaches(v)) {
        AlarmState::Ok
    } else if newest.len() == n {
        AlarmState::Alarm
    } else {
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knobs::Comparison;

    const HIGH: AlarmSpec =
        AlarmSpec { comparison: Comparison::GreaterThanThreshold, threshold: 1.0, evaluation_periods: 4 };

    #[test]
    fn the_high_alarm_needs_four_breaching_minutes() {
        let three = [Some(2.0), Some(2.0), Some(2.0)];
        assert_eq!(evaluate(&three, &HIGH, AlarmState::Ok), AlarmState::Ok);
        let four = [Some(1.0), Some(2.0), Some(2.0), Some(2.0), Some(2.0)];
        assert_eq!(evaluate(&four, &HIGH, AlarmState::Ok), AlarmState::Alarm);
        let broken = [Some(2.0), Some(2.0), Some(1.0), Some(2.0)];
        assert_eq!(evaluate(&broken, &HIGH, AlarmState::Alarm), AlarmState::Ok);
    }

    #[test]
    fn missing_datapoints_neither_breach_nor_clear() {
        let gap = [Some(2.0), Some(2.0), None, Some(2.0), None, Some(2.0)];
        assert_eq!(evaluate(&gap, &HIGH, AlarmState::Ok), AlarmState::Alarm);
        let sparse = [None, None, None, None, None, Some(2.0)];
        assert_eq!(evaluate(&sparse, &HIGH, AlarmState::Ok), AlarmState::Ok, "too few datapoints keep the state");
        let silent = [None; 8];
        assert_eq!(evaluate(&silent, &HIGH, AlarmState::Alarm), AlarmState::InsufficientData);
    }
}
