//! The ScaleStatus rule: one compound signal from CPU and memory reservation.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Serialize, Serializer};

use crate::cluster::Service;
use crate::config::{Resource, Thresholds};
use crate::metrics::Observation;

/// The value published as the `ScaleStatus` metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ScaleStatus {
    Down = 0,
    Stay = 1,
    Up = 2,
}

impl ScaleStatus {
    pub fn metric_value(self) -> f64 {
        f64::from(self as u8)
    }
}

impl Serialize for ScaleStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(*self as u8)
    }
}

/// Why a cluster got the status it got. Stable codes: alarms, dashboards and people grep for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    CpuAboveMax,
    MemoryAboveMax,
    UnplacedTasks,
    BothBelowMin,
    /// Both reservations are low, but removing one instance would push one to its max (or N ≤ 1).
    ScaleDownGuard,
    WithinThresholds,
    /// A metric needed for the decision has no datapoint.
    NoData,
    /// A metric needed for the decision has only old datapoints.
    StaleData,
    ConfigError,
    ReadFailed,
    /// Tagged `ecs-scaler:enabled=false`.
    Paused,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The serde name is the code; reuse it so the two never drift apart.
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(code)) => f.write_str(&code),
            _ => write!(f, "{self:?}"),
        }
    }
}

/// A decision and its explanation. `status: None` means "emit nothing": never guess.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub status: Option<ScaleStatus>,
    pub reason: Reason,
    pub detail: String,
}

impl Decision {
    fn new(status: Option<ScaleStatus>, reason: Reason, detail: impl Into<String>) -> Self {
        Self { status, reason, detail: detail.into() }
    }

    /// No signal, because the cluster's configuration is wrong.
    pub fn config_error(detail: impl Into<String>) -> Self {
        Self::new(None, Reason::ConfigError, detail)
    }

    /// No signal, because reading the cluster failed: a wrong 0 would remove capacity.
    pub fn read_failed(detail: impl Into<String>) -> Self {
        Self::new(None, Reason::ReadFailed, detail)
    }

    pub fn paused() -> Self {
        Self::new(None, Reason::Paused, "tagged ecs-scaler:enabled=false")
    }
}

/// What the placement check found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", content = "services", rename_all = "snake_case")]
pub enum Placement {
    /// Switched off, or skipped because the metrics already say scale up.
    NotChecked,
    Clear,
    /// Services with tasks that ECS could not place.
    Unplaced(Vec<String>),
}

/// Everything the rule needs to know about one cluster, read at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterReading {
    pub cpu: Observation,
    pub memory: Observation,
    /// Registered container instances (ACTIVE and DRAINING), the denominator of the reservation metrics.
    pub instances: u32,
    pub placement: Placement,
}

impl ClusterReading {
    pub fn observation(&self, resource: Resource) -> Observation {
        match resource {
            Resource::Cpu => self.cpu,
            Resource::Memory => self.memory,
        }
    }
}

/// A cluster's thresholds for both resources.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScaleRule {
    pub cpu: Thresholds,
    pub memory: Thresholds,
}

impl ScaleRule {
    pub fn thresholds(&self, resource: Resource) -> Thresholds {
        match resource {
            Resource::Cpu => self.cpu,
            Resource::Memory => self.memory,
        }
    }

    /// The first resource at or above its max, if any. Scale-up may fire on one metric even if the other is
    /// missing.
    fn above_max(&self, reading: &ClusterReading) -> Option<(Resource, f64)> {
        Resource::ALL.into_iter().find_map(|resource| {
            let value = reading.observation(resource).value()?;
            (value >= self.thresholds(resource).max).then_some((resource, value))
        })
    }

    /// Whether the placement check can change the outcome. When a reservation is already at its max the
    /// answer is "scale up" regardless, and the DescribeServices pages can be saved.
    pub fn placement_matters(&self, reading: &ClusterReading) -> bool {
        self.above_max(reading).is_none()
    }

    /// The rule:
    /// 1. **2** when either reservation is at or above its max, or tasks could not be placed;
    /// 2. **0** when both are at or below their min and removing one of N instances would keep both
    ///    below their max (`reservation × N/(N−1) < max`; never when N ≤ 1);
    /// 3. **1** otherwise; and no status at all when a metric the decision needs is missing or stale.
    pub fn decide(&self, reading: &ClusterReading) -> Decision {
        if let Some((resource, value)) = self.above_max(reading) {
            let reason = match resource {
                Resource::Cpu => Reason::CpuAboveMax,
                Resource::Memory => Reason::MemoryAboveMax,
            };
            let max = self.thresholds(resource).max;
            return Decision::new(Some(ScaleStatus::Up), reason, format!("{resource} {value}% >= max {max}%"));
        }
        if let Placement::Unplaced(services) = &reading.placement {
            let detail = format!("tasks could not be placed for {}", services.join(", "));
            return Decision::new(Some(ScaleStatus::Up), Reason::UnplacedTasks, detail);
        }
        let (cpu, memory) = match (reading.cpu, reading.memory) {
            (Observation::Fresh { value: cpu, .. }, Observation::Fresh { value: memory, .. }) => (cpu, memory),
            _ => return self.unknown(reading),
        };
        if cpu > self.cpu.min || memory > self.memory.min {
            let detail = format!(
                "cpu {cpu}% and memory {memory}% are between min ({}%, {}%) and max ({}%, {}%)",
                self.cpu.min, self.memory.min, self.cpu.max, self.memory.max
            );
            return Decision::new(Some(ScaleStatus::Stay), Reason::WithinThresholds, detail);
        }
        match self.scale_down_blocker(cpu, memory, reading.instances) {
            Some(why) => Decision::new(Some(ScaleStatus::Stay), Reason::ScaleDownGuard, why),
            None => {
                let detail =
                    format!("cpu {cpu}% <= min {}% and memory {memory}% <= min {}%", self.cpu.min, self.memory.min);
                Decision::new(Some(ScaleStatus::Down), Reason::BothBelowMin, detail)
            }
        }
    }

    /// Why removing one instance would be unsafe, if it would.
    fn scale_down_blocker(&self, cpu: f64, memory: f64, instances: u32) -> Option<String> {
        if instances <= 1 {
            return Some(format!("{instances} container instance registered; never scale below one"));
        }
        let n = f64::from(instances);
        let after = |reservation: f64| reservation * n / (n - 1.0);
        let (cpu_after, memory_after) = (after(cpu), after(memory));
        if cpu_after < self.cpu.max && memory_after < self.memory.max {
            return None;
        }
        Some(format!(
            "removing 1 of {instances} instances would raise cpu to {cpu_after:.1}% (max {}%) and memory to \
             {memory_after:.1}% (max {}%)",
            self.cpu.max, self.memory.max
        ))
    }

    fn unknown(&self, reading: &ClusterReading) -> Decision {
        let gaps: Vec<String> = Resource::ALL
            .into_iter()
            .filter_map(|resource| match reading.observation(resource) {
                Observation::Fresh { .. } => None,
                Observation::Missing => Some(format!("no {} datapoint", resource.metric_name())),
                Observation::Stale { newest } => {
                    Some(format!("newest {} datapoint is from {}", resource.metric_name(), newest.to_rfc3339()))
                }
            })
            .collect();
        let any_missing = [reading.cpu, reading.memory].contains(&Observation::Missing);
        let reason = if any_missing { Reason::NoData } else { Reason::StaleData };
        Decision::new(None, reason, gaps.join("; "))
    }
}

/// The message ECS writes when the scheduler finds no container instance with room for a task.
const UNABLE_TO_PLACE: &str = "unable to place a task";

/// Services that are short of tasks *because* ECS could not place them: running + pending < desired, and an
/// "unable to place a task" event inside the look-back window. Either alone is not enough: a deployment is
/// short for a moment, and an old event may be long resolved.
pub fn unplaced_services(services: &[Service], now: DateTime<Utc>, window: Duration) -> Vec<String> {
    services
        .iter()
        .filter(|s| s.running + s.pending < s.desired)
        .filter(|s| {
            s.events.iter().any(|event| {
                now - event.created_at <= window && event.message.to_ascii_lowercase().contains(UNABLE_TO_PLACE)
            })
        })
        .map(|s| s.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::ServiceEvent;
    use chrono::TimeZone;
    use proptest::prelude::*;

    const RULE: ScaleRule =
        ScaleRule { cpu: Thresholds { min: 40.0, max: 75.0 }, memory: Thresholds { min: 40.0, max: 75.0 } };

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).single().expect("valid time")
    }

    fn fresh(value: f64) -> Observation {
        Observation::Fresh { value, timestamp: now() }
    }

    fn reading(cpu: Observation, memory: Observation, instances: u32) -> ClusterReading {
        ClusterReading { cpu, memory, instances, placement: Placement::Clear }
    }

    fn decide(cpu: f64, memory: f64, instances: u32) -> (Option<ScaleStatus>, Reason) {
        let decision = RULE.decide(&reading(fresh(cpu), fresh(memory), instances));
        (decision.status, decision.reason)
    }

    #[test]
    fn the_rule_table() {
        use Reason::*;
        use ScaleStatus::*;
        let cases = [
            // cpu, memory, instances => status, reason
            (80.0, 10.0, 5, Some(Up), CpuAboveMax),
            (10.0, 80.0, 5, Some(Up), MemoryAboveMax),
            (75.0, 10.0, 5, Some(Up), CpuAboveMax), // exactly at max scales up
            (10.0, 75.0, 5, Some(Up), MemoryAboveMax),
            (74.9, 74.9, 5, Some(Stay), WithinThresholds),
            (50.0, 20.0, 5, Some(Stay), WithinThresholds), // one low is not enough
            (20.0, 50.0, 5, Some(Stay), WithinThresholds),
            (40.0, 40.0, 5, Some(Down), BothBelowMin), // exactly at min scales down
            (40.1, 40.0, 5, Some(Stay), WithinThresholds),
            (10.0, 10.0, 5, Some(Down), BothBelowMin),
        ];
        for (cpu, memory, instances, status, reason) in cases {
            assert_eq!(decide(cpu, memory, instances), (status, reason), "cpu {cpu} memory {memory} n {instances}");
        }
    }

    #[test]
    fn the_guard_never_scales_below_one_instance() {
        assert_eq!(decide(0.0, 0.0, 1), (Some(ScaleStatus::Stay), Reason::ScaleDownGuard));
        assert_eq!(decide(0.0, 0.0, 0), (Some(ScaleStatus::Stay), Reason::ScaleDownGuard));
    }

    #[test]
    fn the_guard_at_two_instances_doubles_the_reservation() {
        // 37.5 × 2 = 75: would hit max, so stay; 37 × 2 = 74 stays below.
        assert_eq!(decide(37.5, 10.0, 2), (Some(ScaleStatus::Stay), Reason::ScaleDownGuard));
        assert_eq!(decide(37.0, 37.0, 2), (Some(ScaleStatus::Down), Reason::BothBelowMin));
    }

    #[test]
    fn the_guard_at_three_instances() {
        // 40 × 3/2 = 60 < 75: fine. With max 59, the same cluster must stay.
        assert_eq!(decide(40.0, 40.0, 3), (Some(ScaleStatus::Down), Reason::BothBelowMin));
        let tight = ScaleRule { cpu: Thresholds { min: 40.0, max: 59.0 }, ..RULE };
        let decision = tight.decide(&reading(fresh(40.0), fresh(10.0), 3));
        assert_eq!(decision.reason, Reason::ScaleDownGuard);
        assert_eq!(
            decision.detail,
            "removing 1 of 3 instances would raise cpu to 60.0% (max 59%) and memory to 15.0% (max 75%)"
        );
    }

    #[test]
    fn the_guard_at_ten_instances() {
        let tight = ScaleRule { memory: Thresholds { min: 40.0, max: 44.0 }, ..RULE };
        // 40 × 10/9 = 44.4 >= 44: stay; 39 × 10/9 = 43.3 < 44: down.
        assert_eq!(tight.decide(&reading(fresh(10.0), fresh(40.0), 10)).reason, Reason::ScaleDownGuard);
        assert_eq!(tight.decide(&reading(fresh(10.0), fresh(39.0), 10)).status, Some(ScaleStatus::Down));
    }

    #[test]
    fn unplaced_tasks_scale_up_even_without_data() {
        let mut r = reading(Observation::Missing, Observation::Missing, 0);
        r.placement = Placement::Unplaced(vec!["api".into(), "worker".into()]);
        let decision = RULE.decide(&r);
        assert_eq!(decision.status, Some(ScaleStatus::Up));
        assert_eq!(decision.reason, Reason::UnplacedTasks);
        assert_eq!(decision.detail, "tasks could not be placed for api, worker");
    }

    #[test]
    fn unplaced_tasks_override_a_scale_down() {
        let mut r = reading(fresh(5.0), fresh(5.0), 4);
        r.placement = Placement::Unplaced(vec!["big".into()]);
        assert_eq!(RULE.decide(&r).status, Some(ScaleStatus::Up));
    }

    #[test]
    fn no_data_emits_nothing() {
        let decision = RULE.decide(&reading(Observation::Missing, Observation::Missing, 3));
        assert_eq!((decision.status, decision.reason), (None, Reason::NoData));
        assert_eq!(decision.detail, "no CPUReservation datapoint; no MemoryReservation datapoint");
    }

    #[test]
    fn stale_data_emits_nothing() {
        let old = Observation::Stale { newest: now() - Duration::minutes(20) };
        let decision = RULE.decide(&reading(old, fresh(10.0), 3));
        assert_eq!((decision.status, decision.reason), (None, Reason::StaleData));
        assert_eq!(decision.detail, "newest CPUReservation datapoint is from 2026-11-22T09:40:00+00:00");
    }

    #[test]
    fn one_metric_missing_can_still_scale_up_but_never_down() {
        assert_eq!(RULE.decide(&reading(Observation::Missing, fresh(90.0), 3)).status, Some(ScaleStatus::Up));
        assert_eq!(RULE.decide(&reading(fresh(90.0), Observation::Missing, 3)).status, Some(ScaleStatus::Up));
        let low = RULE.decide(&reading(Observation::Missing, fresh(1.0), 3));
        assert_eq!((low.status, low.reason), (None, Reason::NoData));
    }

    #[test]
    fn placement_is_skipped_only_when_the_metrics_already_scale_up() {
        assert!(!RULE.placement_matters(&reading(fresh(80.0), Observation::Missing, 3)));
        assert!(RULE.placement_matters(&reading(fresh(74.0), fresh(74.0), 3)));
        assert!(RULE.placement_matters(&reading(Observation::Missing, Observation::Missing, 0)));
    }

    #[test]
    fn reason_codes_are_snake_case() {
        assert_eq!(Reason::ScaleDownGuard.to_string(), "scale_down_guard");
        assert_eq!(serde_json::to_string(&ScaleStatus::Up).unwrap(), "2");
    }

    fn service(desired: i32, running: i32, pending: i32, events: &[(i64, &str)]) -> Service {
        Service {
            name: "svc".into(),
            scheduling: crate::cluster::Scheduling::Replica,
            desired,
            running,
            pending,
            min_healthy_percent: Some(100),
            tags: Default::default(),
            events: events
                .iter()
                .map(|(ago, msg)| ServiceEvent {
                    created_at: now() - Duration::seconds(*ago),
                    message: msg.to_string(),
                })
                .collect(),
        }
    }

    const UNABLE: &str =
        "(service svc) was unable to place a task because no container instance met all of its requirements.";

    #[test]
    fn a_short_service_with_a_recent_placement_failure_is_unplaced() {
        let services = [service(3, 1, 0, &[(60, UNABLE)])];
        assert_eq!(unplaced_services(&services, now(), Duration::minutes(10)), ["svc"]);
    }

    #[test]
    fn placement_needs_both_a_shortfall_and_a_recent_event() {
        let window = Duration::minutes(10);
        let full = [service(3, 2, 1, &[(60, UNABLE)])];
        assert!(unplaced_services(&full, now(), window).is_empty());
        let old_event = [service(3, 1, 0, &[(3600, UNABLE)])];
        assert!(unplaced_services(&old_event, now(), window).is_empty());
        let other_event = [service(3, 1, 0, &[(60, "(service svc) has started 1 tasks")])];
        assert!(unplaced_services(&other_event, now(), window).is_empty());
    }

    fn observation() -> impl Strategy<Value = Observation> {
        prop_oneof![
            (0.0f64..=100.0).prop_map(fresh),
            Just(Observation::Missing),
            Just(Observation::Stale { newest: now() - Duration::hours(1) }),
        ]
    }

    proptest! {
        /// Scale-down is only ever emitted with both metrics fresh, both at or below min, and a guard that holds.
        #[test]
        fn scale_down_is_always_safe(cpu in observation(), memory in observation(), n in 0u32..50) {
            let decision = RULE.decide(&reading(cpu, memory, n));
            if decision.status == Some(ScaleStatus::Down) {
                let (c, m) = (cpu.value().unwrap(), memory.value().unwrap());
                prop_assert!(c <= RULE.cpu.min && m <= RULE.memory.min);
                prop_assert!(n >= 2);
                let factor = f64::from(n) / f64::from(n - 1);
                prop_assert!(c * factor < RULE.cpu.max && m * factor < RULE.memory.max);
            }
        }

        /// Any fresh value at or above max scales up, whatever the other metric says.
        #[test]
        fn at_or_above_max_always_scales_up(v in 75.0f64..=100.0, other in observation(), n in 0u32..50) {
            prop_assert_eq!(RULE.decide(&reading(fresh(v), other, n)).status, Some(ScaleStatus::Up));
            prop_assert_eq!(RULE.decide(&reading(other, fresh(v), n)).status, Some(ScaleStatus::Up));
        }

        /// Without a fresh reading of a metric, the only possible signal is scale-up.
        #[test]
        fn missing_data_never_yields_stay_or_down(v in 0.0f64..75.0, n in 0u32..50) {
            for r in [reading(fresh(v), Observation::Missing, n), reading(Observation::Missing, fresh(v), n)] {
                prop_assert_eq!(RULE.decide(&r).status, None);
            }
        }
    }
}
