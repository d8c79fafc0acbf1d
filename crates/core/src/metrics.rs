//! Turning CloudWatch datapoints into one trustworthy reading.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// One CloudWatch datapoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Datapoint {
    pub timestamp: DateTime<Utc>,
    pub value: f64,
}

/// What we know about one reservation metric of one cluster.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Observation {
    /// The newest datapoint, young enough to act on.
    Fresh { value: f64, timestamp: DateTime<Utc> },
    /// Only datapoints older than the staleness limit; `newest` says how old.
    Stale { newest: DateTime<Utc> },
    /// No datapoint at all.
    Missing,
    /// No datapoint because the cluster runs no task at all: ECS reports no reservation metrics for such a
    /// cluster, so this one is known to be 0 rather than unknown.
    Idle,
}

impl Observation {
    /// Pick the datapoint with the newest timestamp, whatever order CloudWatch returned them in (the original
    /// took an arbitrary first element, and crashed on an empty list). Non-finite values are ignored.
    pub fn newest(points: &[Datapoint], now: DateTime<Utc>, stale_after: Duration) -> Self {
        let newest = points.iter().filter(|p| p.value.is_finite()).max_by_key(|p| p.timestamp);
        match newest {
            None => Observation::Missing,
            Some(p) if now - p.timestamp > stale_after => Observation::Stale { newest: p.timestamp },
            Some(p) => Observation::Fresh { value: p.value, timestamp: p.timestamp },
        }
    }

    pub fn value(&self) -> Option<f64> {
        match self {
            Observation::Fresh { value, .. } => Some(*value),
            Observation::Idle => Some(0.0),
            Observation::Stale { .. } | Observation::Missing => None,
        }
    }

    /// Whether this says nothing about the present: no datapoint, or only old ones.
    pub fn is_unknown(&self) -> bool {
        self.value().is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, minute, 0).single().expect("valid time")
    }

    fn point(minute: u32, value: f64) -> Datapoint {
        Datapoint { timestamp: at(minute), value }
    }

    #[test]
    fn takes_the_newest_timestamp_not_the_first_element() {
        let points = [point(7, 10.0), point(9, 90.0), point(8, 50.0)];
        assert_eq!(
            Observation::newest(&points, at(10), Duration::minutes(5)),
            Observation::Fresh { value: 90.0, timestamp: at(9) }
        );
    }

    #[test]
    fn no_datapoints_is_missing() {
        assert_eq!(Observation::newest(&[], at(10), Duration::minutes(5)), Observation::Missing);
    }

    #[test]
    fn only_old_datapoints_are_stale() {
        let points = [point(1, 10.0), point(3, 20.0)];
        assert_eq!(Observation::newest(&points, at(10), Duration::minutes(5)), Observation::Stale { newest: at(3) });
    }

    #[test]
    fn a_datapoint_exactly_at_the_limit_is_still_fresh() {
        assert_eq!(Observation::newest(&[point(5, 1.0)], at(10), Duration::minutes(5)).value(), Some(1.0));
    }

    #[test]
    fn non_finite_values_are_ignored() {
        let points = [point(8, 30.0), point(9, f64::NAN)];
        assert_eq!(Observation::newest(&points, at(10), Duration::minutes(5)).value(), Some(30.0));
    }
}
