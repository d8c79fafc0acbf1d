//! The placement check's inputs: which REPLICA services ECS recently failed to place, and when a cluster without
//! tasks is idle rather than unknown. What they wait for and whether more capacity would place them is the
//! plan's ([`super::plan`]), with the placement model.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::cluster::{ClusterFacts, Resources, Scheduling, Service};

/// The message ECS writes when the scheduler finds no container instance that meets a task's requirements.
const UNABLE_TO_PLACE: &str = "unable to place a task";
/// What ECS adds to it when the closest instance lacks an attribute a placement constraint asks for.
const MISSING_ATTRIBUTE: &str = "missing an attribute required by your task";

/// How long ECS withholds a repeated service event: "duplicate event messages are omitted until either the
/// cause is resolved or six hours passes" (ECS developer guide, service event messages).
pub const DUPLICATE_EVENTS_OMITTED_FOR: Duration = Duration::hours(6);

/// REPLICA services ECS recently failed to place: the tasks it wants to start (a service short of tasks, or one
/// moving tasks off a DRAINING instance) found no room. Recently means an "unable to place a task" event inside
/// the look-back window, or one that is still the service's newest event: ECS writes a failure once and omits
/// its duplicates until the cause is resolved (it then writes that it started tasks, or reached a steady
/// state) or six hours pass, so a failure older than the window with nothing after it is still going on. An
/// event alone is not a shortfall: the plan counts what actually waits. DAEMON services never count: ECS
/// places one task per instance, so more instances never place a missing daemon. Nor does a service whose
/// newest such event says the closest instance lacks an attribute its placement constraints require:
/// instances from the same launch template would lack it too.
pub fn recent_failures(services: &[Service], now: DateTime<Utc>, window: Duration) -> Vec<&Service> {
    let unable = |message: &str| message.to_ascii_lowercase().contains(UNABLE_TO_PLACE);
    services
        .iter()
        .filter(|s| s.scheduling == Scheduling::Replica)
        .filter(|s| {
            let newest = s.events.iter().max_by_key(|e| e.created_at);
            let still_going =
                newest.filter(|e| unable(&e.message) && now - e.created_at <= DUPLICATE_EVENTS_OMITTED_FOR);
            let failure = s
                .events
                .iter()
                .filter(|e| now - e.created_at <= window && unable(&e.message))
                .max_by_key(|e| e.created_at)
                .or(still_going);
            failure.is_some_and(|event| !event.message.to_ascii_lowercase().contains(MISSING_ATTRIBUTE))
        })
        .collect()
}

/// The [`recent_failures`] that are short of tasks (running + pending < desired).
pub fn placement_failures(services: &[Service], now: DateTime<Utc>, window: Duration) -> Vec<&Service> {
    let failing = recent_failures(services, now, window);
    failing.into_iter().filter(|s| s.running + s.pending < s.desired).collect()
}

/// Whether a cluster is idle: instances registered, no task RUNNING or PENDING, and no service short of tasks.
/// ECS publishes no reservation metrics for a cluster without tasks ("If a cluster … has no running tasks, no
/// metrics will be reported"), so for an idle cluster both reservations are known to be 0, not unknown.
/// `services` is only looked at when the counts allow idleness ([`ClusterFacts::may_be_idle`]).
pub fn is_idle(facts: &ClusterFacts, services: &[Service]) -> bool {
    facts.may_be_idle() && services.iter().all(|s| s.running + s.pending >= s.desired)
}

/// A waiting service whose task no instance type the cluster's groups launch could hold, even empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unplaceable {
    pub service: String,
    pub task_definition: String,
    /// What one task reserves.
    pub task: Resources,
    /// What each type lacks for it.
    pub why: String,
}

impl fmt::Display for Unplaceable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "service {} needs {} per task ({}), but no instance type the cluster's groups launch can hold it \
             ({}): more instances cannot place it",
            self.service, self.task, self.task_definition, self.why
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::ServiceEvent;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).single().expect("valid time")
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
            placement_constraints: Vec::new(),
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
        // A failure older than the window counts only while nothing came after it (ECS omits its duplicates until
        // the cause is resolved) and for at most the six hours ECS omits them for.
        let resolved = [service(3, 1, 0, &[(600, "(service svc) has started 1 tasks"), (3600, UNABLE)])];
        assert!(placement_failures(&resolved, now(), window).is_empty());
        let still_going = [service(3, 1, 0, &[(3600, UNABLE), (7200, "(service svc) has reached a steady state.")])];
        assert_eq!(names(&placement_failures(&still_going, now(), window)), ["svc"]);
        let too_old = [service(3, 1, 0, &[(6 * 3600 + 60, UNABLE)])];
        assert!(placement_failures(&too_old, now(), window).is_empty());
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

    fn cluster(registered: u32, running: u32, pending: u32) -> ClusterFacts {
        ClusterFacts {
            name: "c".into(),
            arn: "arn:aws:ecs:us-east-1:123456789012:cluster/c".into(),
            status: "ACTIVE".into(),
            registered_instances: registered,
            running_tasks: running,
            pending_tasks: pending,
            active_services: 0,
            tags: Default::default(),
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
    fn a_service_that_is_not_short_still_failed_placement_recently_when_its_drain_is_stuck() {
        // Running all it wants (one on a DRAINING instance) but unable to place the replacement.
        let stuck = [service(3, 3, 0, &[(60, UNABLE)])];
        assert!(placement_failures(&stuck, now(), Duration::minutes(10)).is_empty());
        assert_eq!(names(&recent_failures(&stuck, now(), Duration::minutes(10))), ["svc"]);
    }
}
