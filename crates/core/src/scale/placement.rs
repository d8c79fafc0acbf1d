//! The placement check: which short services more capacity would place, which it never would, and when a
//! cluster without tasks is idle rather than unknown.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::rule::Placement;
use crate::cluster::{ClusterFacts, Resources, Scheduling, Service};

/// The message ECS writes when the scheduler finds no container instance that meets a task's requirements.
const UNABLE_TO_PLACE: &str = "unable to place a task";
/// What ECS adds to it when the closest instance lacks an attribute a placement constraint asks for.
const MISSING_ATTRIBUTE: &str = "missing an attribute required by your task";

/// REPLICA services short of tasks *because* ECS could not place them: running + pending < desired, and an
/// "unable to place a task" event inside the look-back window. Either alone is not enough: a deployment is
/// short for a moment, and an old event may be long resolved. DAEMON services never count: ECS places one
/// task per instance, so more instances never place a missing daemon. Nor does a service whose newest such
/// event says the closest instance lacks an attribute its placement constraints require: instances from the
/// same launch template would lack it too.
pub fn placement_failures(services: &[Service], now: DateTime<Utc>, window: Duration) -> Vec<&Service> {
    services
        .iter()
        .filter(|s| s.scheduling == Scheduling::Replica && s.running + s.pending < s.desired)
        .filter(|s| {
            let recent = s.events.iter().filter(|event| now - event.created_at <= window);
            let newest = recent.map(|e| e.message.to_ascii_lowercase()).find(|m| m.contains(UNABLE_TO_PLACE));
            newest.is_some_and(|message| !message.contains(MISSING_ATTRIBUTE))
        })
        .collect()
}

/// Whether a cluster is idle: instances registered, no task RUNNING or PENDING, and no service short of tasks.
/// ECS publishes no reservation metrics for a cluster without tasks ("If a cluster … has no running tasks, no
/// metrics will be reported"), so for an idle cluster both reservations are known to be 0, not unknown.
/// `services` is only looked at when the counts allow idleness ([`ClusterFacts::may_be_idle`]).
pub fn is_idle(facts: &ClusterFacts, services: &[Service]) -> bool {
    facts.may_be_idle() && services.iter().all(|s| s.running + s.pending >= s.desired)
}

/// A short service whose task no registered instance could hold even empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unplaceable {
    pub service: String,
    pub task_definition: String,
    /// What one task reserves.
    pub task: Resources,
    /// The largest container instance the cluster registers (most memory, then most CPU).
    pub largest: Resources,
}

impl fmt::Display for Unplaceable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "service {} needs {} per task ({}), but the largest container instance registered offers {}: more \
             instances cannot place it",
            self.service, self.task, self.task_definition, self.largest
        )
    }
}

/// What the placement check found, once the failing services' task sizes are known.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PlacementCheck {
    /// Services whose tasks would fit an empty instance: more capacity places them.
    pub unplaced: Vec<String>,
    /// Services whose tasks fit no instance: reported, never scaled for.
    pub unplaceable: Vec<Unplaceable>,
}

impl PlacementCheck {
    pub fn placement(&self) -> Placement {
        if self.unplaced.is_empty() { Placement::Clear } else { Placement::Unplaced(self.unplaced.clone()) }
    }
}

/// Sort the [`placement_failures`] into those more capacity would place and those it never would: a task fits
/// when some registered container instance, empty, has room for it (`sizes` maps task definition ARNs to what
/// a task reserves; `registered` is what each container instance registered). A service whose size is unknown, or a cluster with no registered instance to compare
/// with (scaled to zero), counts as unplaced: a cluster must be able to grow from nothing.
pub fn check_placement(
    failures: &[&Service],
    sizes: &HashMap<String, Resources>,
    registered: &[Resources],
) -> PlacementCheck {
    let largest = registered.iter().copied().max_by_key(|r| (r.memory, r.cpu));
    let mut check = PlacementCheck::default();
    for service in failures {
        let size = sizes.get(&service.task_definition).copied();
        match (size, largest) {
            (Some(task), Some(largest)) if !registered.iter().any(|room| room.holds(task)) => {
                check.unplaceable.push(Unplaceable {
                    service: service.name.clone(),
                    task_definition: service.task_definition.clone(),
                    task,
                    largest,
                });
            }
            _ => check.unplaced.push(service.name.clone()),
        }
    }
    check
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::ServiceEvent;
    use crate::config::Thresholds;
    use crate::metrics::Observation;
    use crate::scale::rule::{ClusterReading, ScaleRule, ScaleStatus};
    use chrono::TimeZone;

    const RULE: ScaleRule =
        ScaleRule { cpu: Thresholds { min: 40.0, max: 75.0 }, memory: Thresholds { min: 40.0, max: 75.0 } };

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).single().expect("valid time")
    }

    fn reading(cpu: f64, memory: f64, instances: u32) -> ClusterReading {
        let fresh = |value| Observation::Fresh { value, timestamp: now() };
        ClusterReading {
            cpu: fresh(cpu),
            memory: fresh(memory),
            registered: instances,
            draining: Some(0),
            placement: Placement::Clear,
        }
    }

    fn service(desired: i32, running: i32, pending: i32, events: &[(i64, &str)]) -> Service {
        Service {
            name: "svc".into(),
            scheduling: Scheduling::Replica,
            desired,
            running,
            pending,
            min_healthy_percent: Some(100),
            task_definition: "td/svc:1".into(),
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

    fn names(failures: &[&Service]) -> Vec<String> {
        failures.iter().map(|s| s.name.clone()).collect()
    }

    #[test]
    fn a_short_service_with_a_recent_placement_failure_is_a_placement_failure() {
        let services = [service(3, 1, 0, &[(60, UNABLE)])];
        assert_eq!(names(&placement_failures(&services, now(), Duration::minutes(10))), ["svc"]);
    }

    #[test]
    fn a_placement_failure_needs_both_a_shortfall_and_a_recent_event() {
        let window = Duration::minutes(10);
        let full = [service(3, 2, 1, &[(60, UNABLE)])];
        assert!(placement_failures(&full, now(), window).is_empty());
        let old_event = [service(3, 1, 0, &[(3600, UNABLE)])];
        assert!(placement_failures(&old_event, now(), window).is_empty());
        let other_event = [service(3, 1, 0, &[(60, "(service svc) has started 1 tasks")])];
        assert!(placement_failures(&other_event, now(), window).is_empty());
    }

    #[test]
    fn a_daemon_service_is_never_a_placement_failure() {
        let mut daemon = service(5, 3, 0, &[(60, UNABLE)]);
        daemon.scheduling = Scheduling::Daemon;
        assert!(placement_failures(&[daemon], now(), Duration::minutes(10)).is_empty());
    }

    #[test]
    fn a_placement_constraint_no_instance_meets_is_not_a_capacity_problem() {
        let attribute = format!(
            "{UNABLE} The closest matching container-instance 5b2e9a8e is missing an attribute required by your task."
        );
        let constrained = [service(3, 1, 0, &[(30, &attribute), (300, UNABLE)])];
        assert!(placement_failures(&constrained, now(), Duration::minutes(10)).is_empty(), "the newest event counts");
        let resolved = [service(3, 1, 0, &[(30, UNABLE), (300, &attribute)])];
        assert_eq!(placement_failures(&resolved, now(), Duration::minutes(10)).len(), 1);
    }

    fn instance(cpu: u32, memory: u32) -> Resources {
        Resources::new(cpu, memory)
    }

    fn cluster(registered: u32, running: u32, pending: u32) -> ClusterFacts {
        ClusterFacts {
            name: "c".into(),
            arn: "arn:aws:ecs:us-east-1:123456789012:cluster/c".into(),
            status: "ACTIVE".into(),
            registered_instances: registered,
            running_tasks: running,
            pending_tasks: pending,
            tags: HashMap::new(),
        }
    }

    #[test]
    fn a_cluster_is_idle_only_with_instances_no_tasks_and_no_service_short() {
        let scaled_to_zero = service(0, 0, 0, &[]);
        assert!(is_idle(&cluster(3, 0, 0), std::slice::from_ref(&scaled_to_zero)));
        assert!(!is_idle(&cluster(0, 0, 0), &[]), "no instance: nothing to scale down");
        assert!(!is_idle(&cluster(3, 1, 0), &[]), "a task runs");
        assert!(!is_idle(&cluster(3, 0, 2), &[]), "tasks are starting");
        let waiting = service(2, 0, 0, &[]);
        assert!(!is_idle(&cluster(3, 0, 0), &[waiting]), "a service wants tasks ECS has not started: not idle");
    }

    #[test]
    fn a_task_larger_than_every_instance_is_unplaceable_and_says_what_would_fit() {
        let services = [service(2, 0, 0, &[(60, UNABLE)])];
        let failures = placement_failures(&services, now(), Duration::minutes(10));
        let sizes = HashMap::from([("td/svc:1".to_owned(), Resources::new(2048, 20_000))]);
        // One instance has the CPU, the other the memory: neither has both.
        let instances = [instance(4096, 15_360), instance(1024, 30_000)];
        let check = check_placement(&failures, &sizes, &instances);
        assert!(check.unplaced.is_empty());
        assert_eq!(check.placement(), Placement::Clear);
        assert_eq!(
            check.unplaceable[0].to_string(),
            "service svc needs 2048 CPU units and 20000 MiB per task (td/svc:1), but the largest container instance \
             registered offers 1024 CPU units and 30000 MiB: more instances cannot place it"
        );
    }

    #[test]
    fn a_task_that_fits_an_empty_instance_is_unplaced() {
        let services = [service(2, 0, 0, &[(60, UNABLE)])];
        let failures = placement_failures(&services, now(), Duration::minutes(10));
        let fits_exactly = HashMap::from([("td/svc:1".to_owned(), Resources::new(4096, 15_360))]);
        let check = check_placement(&failures, &fits_exactly, &[instance(4096, 15_360)]);
        assert_eq!(check.placement(), Placement::Unplaced(vec!["svc".into()]));
        assert!(check.unplaceable.is_empty());
    }

    #[test]
    fn without_a_size_or_an_instance_to_compare_with_a_failure_counts_as_unplaced() {
        let services = [service(2, 0, 0, &[(60, UNABLE)])];
        let failures = placement_failures(&services, now(), Duration::minutes(10));
        let huge = HashMap::from([("td/svc:1".to_owned(), Resources::new(99_999, 999_999))]);
        assert_eq!(check_placement(&failures, &huge, &[]).unplaced, ["svc"], "a cluster scaled to zero must grow");
        assert_eq!(check_placement(&failures, &HashMap::new(), &[instance(4096, 15_360)]).unplaced, ["svc"]);
    }

    #[test]
    fn unplaceable_tasks_leave_the_decision_to_the_reservations() {
        let services = [service(2, 0, 0, &[(60, UNABLE)])];
        let failures = placement_failures(&services, now(), Duration::minutes(10));
        let sizes = HashMap::from([("td/svc:1".to_owned(), Resources::new(8192, 1024))]);
        let mut r = reading(10.0, 10.0, 4);
        r.placement = check_placement(&failures, &sizes, &[instance(4096, 15_360)]).placement();
        assert_eq!(RULE.decide(&r).status, Some(ScaleStatus::Down), "no runaway scale-up; the idle cluster shrinks");
    }
}
