//! CloudWatch: the `AWS/ECS` reservation metrics of the cluster, the ScaleStatus and InstancesSurplus
//! datapoints published to it, the two alarms on ScaleStatus and (where the module wires it) the alarm on
//! InstancesSurplus.

use std::collections::VecDeque;

use chrono::{DateTime, Duration, Utc};
use ecs_scaler_core::config::DEFAULT_NAMESPACE;
use ecs_scaler_core::metrics::Datapoint;
use ecs_scaler_core::ports::{ClusterMetric, ReservationSeries};
use ecs_scaler_core::scale::METRIC_NAME;
use ecs_scaler_core::scale::capacity::SURPLUS_METRIC;

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
    /// The surplus alarm: each colour's surplus step policy, with the alarm's newest datapoint.
    SurplusScaleIn,
}

#[derive(Debug, Clone)]
pub struct Alarm {
    pub spec: AlarmSpec,
    pub state: AlarmState,
    pub action: AlarmAction,
}

/// An alarm's TreatMissingData.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Missing {
    /// `missing`: a missing period neither breaches nor clears.
    Missing,
    /// `notBreaching`: a missing period is within the threshold.
    NotBreaching,
}

/// The CloudWatch side of the world.
#[derive(Debug)]
pub struct CloudWatch {
    /// Per minute, Maximum over 60 s: (period start, CPUReservation, MemoryReservation).
    reservations: VecDeque<(DateTime<Utc>, Option<f64>, Option<f64>)>,
    /// ScaleStatus of the cluster in our namespace, Maximum per one-minute period, one slot per tick.
    scale_status: Vec<Option<f64>>,
    /// InstancesSurplus of the cluster in our namespace, Minimum per one-minute period, one slot per tick.
    surplus: Vec<Option<f64>>,
    /// High, then low.
    pub alarms: [Alarm; 2],
    /// The alarm on InstancesSurplus, where the module wires it (ecs-scaler, unless [`Knobs::surplus_scale_in`]
    /// is off).
    pub surplus_alarm: Option<Alarm>,
}

impl CloudWatch {
    /// `surplus`: the module wires the InstancesSurplus alarm (and the surplus step policy it invokes).
    pub fn new(knobs: &Knobs, surplus: bool) -> Self {
        let alarm = |spec, action| Alarm { spec, state: AlarmState::InsufficientData, action };
        Self {
            reservations: VecDeque::new(),
            scale_status: Vec::new(),
            surplus: Vec::new(),
            alarms: [alarm(knobs.alarm_high, AlarmAction::ScaleUp), alarm(knobs.alarm_low, AlarmAction::ScaleDown)],
            surplus_alarm: surplus.then(|| alarm(knobs.alarm_surplus(), AlarmAction::SurplusScaleIn)),
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

    /// PutMetricData at `tick`: the ScaleStatus and InstancesSurplus of our cluster in our namespace are what the
    /// alarms watch, each aggregated over the minute by its alarm's statistic (Maximum, Minimum): the event
    /// rule's evaluation and the scheduled tick may both publish within one minute.
    pub fn put(&mut self, tick: u32, namespace: &str, metrics: &[ClusterMetric]) {
        if namespace != DEFAULT_NAMESPACE {
            return;
        }
        for metric in metrics.iter().filter(|m| m.cluster == CLUSTER) {
            let (series, statistic): (_, fn(f64, f64) -> f64) = match metric.name {
                METRIC_NAME => (&mut self.scale_status, f64::max),
                SURPLUS_METRIC => (&mut self.surplus, f64::min),
                _ => continue,
            };
            let slot = slot(series, tick);
            *slot = Some(slot.map_or(metric.value, |v| statistic(v, metric.value)));
        }
    }

    /// The ScaleStatus datapoint of the period at `tick`.
    pub fn scale_status(&self, tick: u32) -> Option<f64> {
        self.scale_status.get(tick as usize).copied().flatten()
    }

    /// The InstancesSurplus datapoint of the period at `tick`.
    pub fn surplus(&self, tick: u32) -> Option<f64> {
        self.surplus.get(tick as usize).copied().flatten()
    }

    /// Evaluate the alarms on the periods up to `tick`; the actions of those in ALARM, high first, then low,
    /// then surplus.
    pub fn evaluate_alarms(&mut self, tick: u32) -> Vec<AlarmAction> {
        slot(&mut self.scale_status, tick);
        slot(&mut self.surplus, tick);
        let mut actions = Vec::new();
        let scale_status = &self.scale_status[..=tick as usize];
        let surplus = &self.surplus[..=tick as usize];
        let watched = self.alarms.iter_mut().map(|alarm| (alarm, scale_status, Missing::Missing));
        let watched = watched.chain(self.surplus_alarm.iter_mut().map(|alarm| (alarm, surplus, Missing::NotBreaching)));
        for (alarm, datapoints, missing) in watched {
            alarm.state = match missing {
                Missing::Missing => evaluate(datapoints, &alarm.spec, alarm.state),
                Missing::NotBreaching => evaluate_not_breaching(datapoints, &alarm.spec),
            };
            if alarm.state == AlarmState::Alarm {
                actions.push(alarm.action);
            }
        }
        actions
    }
}

/// The period at `tick` of a series, grown to hold it.
fn slot(series: &mut Vec<Option<f64>>, tick: u32) -> &mut Option<f64> {
    let index = tick as usize;
    if series.len() <= index {
        series.resize(index + 1, None);
    }
    &mut series[index]
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

/// CloudWatch alarm evaluation with missing data not breaching: ALARM when each of the last
/// `evaluation_periods` periods has a datapoint and all breach (datapoints to alarm = evaluation periods), OK
/// otherwise.
fn evaluate_not_breaching(datapoints: &[Option<f64>], alarm: &AlarmSpec) -> AlarmState {
    let n = alarm.evaluation_periods as usize;
    let breaching = datapoints.len() >= n
        && datapoints[datapoints.len() - n..].iter().all(|v| v.is_some_and(|v| alarm.breaches(v)));
    if breaching { AlarmState::Alarm } else { AlarmState::Ok }
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

    const SURPLUS: AlarmSpec =
        AlarmSpec { comparison: Comparison::GreaterThanOrEqualToThreshold, threshold: 2.0, evaluation_periods: 10 };

    #[test]
    fn the_surplus_alarm_needs_every_one_of_its_periods_at_two_or_more() {
        let ten = [Some(2.0); 10];
        assert_eq!(evaluate_not_breaching(&ten, &SURPLUS), AlarmState::Alarm, "2 is at the threshold");
        assert_eq!(evaluate_not_breaching(&ten[..9], &SURPLUS), AlarmState::Ok, "9 periods are too few");
        let mut one_low = [Some(5.0); 12];
        one_low[4] = Some(1.0);
        assert_eq!(evaluate_not_breaching(&one_low, &SURPLUS), AlarmState::Ok, "one surplus of 1 in the window");
        assert_eq!(evaluate_not_breaching(&one_low[5..], &SURPLUS), AlarmState::Ok, "only 7 left");
        one_low[4] = Some(5.0);
        one_low[1] = None;
        assert_eq!(evaluate_not_breaching(&one_low, &SURPLUS), AlarmState::Alarm, "outside the window");
        let mut gap = [Some(3.0); 10];
        gap[6] = None;
        assert_eq!(evaluate_not_breaching(&gap, &SURPLUS), AlarmState::Ok, "a missing period does not breach");
    }

    #[test]
    fn surplus_datapoints_are_kept_by_name_with_the_minute_s_minimum() {
        let metric = |name: &'static str, value: f64| ClusterMetric {
            name,
            cluster: CLUSTER.to_owned(),
            value,
            unit: ecs_scaler_core::ports::MetricUnit::Count,
            timestamp: DateTime::UNIX_EPOCH,
        };
        let mut cloudwatch = CloudWatch::new(&Knobs::default(), true);
        cloudwatch.put(3, DEFAULT_NAMESPACE, &[metric(METRIC_NAME, 0.0), metric(SURPLUS_METRIC, 4.0)]);
        cloudwatch.put(3, DEFAULT_NAMESPACE, &[metric(METRIC_NAME, 1.0), metric(SURPLUS_METRIC, 3.0)]);
        cloudwatch.put(3, "elsewhere", &[metric(SURPLUS_METRIC, 1.0)]);
        cloudwatch.put(3, DEFAULT_NAMESPACE, &[metric("InstancesShortfall", 1.0)]);
        assert_eq!((cloudwatch.scale_status(3), cloudwatch.surplus(3)), (Some(1.0), Some(3.0)));
        assert_eq!(cloudwatch.surplus(2), None);
        for tick in 4..13 {
            cloudwatch.put(tick, DEFAULT_NAMESPACE, &[metric(METRIC_NAME, 0.0), metric(SURPLUS_METRIC, 2.0)]);
            let actions = cloudwatch.evaluate_alarms(tick);
            assert_eq!(actions.contains(&AlarmAction::SurplusScaleIn), tick == 12, "at {tick}: {actions:?}");
        }
        let mut without = CloudWatch::new(&Knobs::default(), false);
        for tick in 0..12 {
            without.put(tick, DEFAULT_NAMESPACE, &[metric(SURPLUS_METRIC, 5.0)]);
            assert!(without.evaluate_alarms(tick).is_empty());
        }
    }
}
