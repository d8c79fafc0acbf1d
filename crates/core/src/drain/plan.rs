//! The drain reconciler: from what is known of one cluster and `now`, what to do for each instance its hook
//! holds in `Terminating:Wait`. Pure and level-triggered, like a kube-rs controller: the shell reads, asks for
//! the plan, executes it, and asks again after any write or extra read it was told to make, until the plan is
//! to act. Every step is safe to repeat.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::readiness::{
    BelowMin, Blocker, ClusterSnapshot, DrainPolicy, DrainVerdict, Registration, Release, Verdict, drain_started,
    readiness,
};
use crate::lifecycle::{LifecycleAction, LifecycleResult};
use crate::ports::{ClusterMetric, MetricUnit};

/// One instance held by our termination hook, with its cluster resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub action: LifecycleAction,
    pub cluster: String,
    /// When the instance entered Terminating:Wait, if a notification said.
    pub since: Option<DateTime<Utc>>,
    /// Whether this invocation has already sent its heartbeat: one per invocation keeps the hook alive (the
    /// heartbeat timeout is at least two reconciles long), more would only load Auto Scaling.
    pub beaten: bool,
}

/// How far an invocation goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A lifecycle notification: start the drain (DRAINING, drain start recorded) and hold. Readiness is the
    /// scheduled reconcile's job, so a burst of notifications costs one container-instance read each, not one
    /// snapshot each: there is one poller per cluster.
    Start,
    /// The reconcile: judge every instance from one snapshot.
    Check,
}

/// How fresh the services in a reading are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Services {
    /// Not read yet in this invocation.
    #[default]
    NotRead,
    /// Read by an earlier check of this invocation: good enough to tell daemon tasks apart.
    Earlier,
    /// Read by this check: fresh enough to judge minimums before a release.
    ThisCheck,
}

/// What the shell has read about a cluster so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    pub snapshot: ClusterSnapshot,
    /// How fresh `snapshot.services` is.
    pub services: Services,
    /// Where instances missing from the snapshot are registered (EC2 id → cluster names), once looked up.
    pub registrations: HashMap<String, Vec<String>>,
}

/// The next thing to do for a cluster.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Set these container instances DRAINING and record these drain starts (epoch seconds in the attribute),
    /// then plan again with the snapshot updated.
    Drain { instances: Vec<String>, record: Vec<(String, DateTime<Utc>)> },
    /// Look up where these EC2 instances are registered: they are missing from the cluster, and one that never
    /// registered is released at once while one registered elsewhere is held. Then plan again.
    LookUp(Vec<String>),
    /// Read the cluster's services, then plan again: once per invocation to tell daemon tasks apart, and again
    /// in a check where an instance would be released, for fresh desired counts and minimums.
    ReadServices,
    /// Read the stopped tasks of these container instances into [`ClusterSnapshot::stopped`], then plan again:
    /// each would otherwise be released, and a task still stopping there, or a service that left it since its
    /// drain began and is below its minimum, holds it.
    ReadStopped(Vec<String>),
    /// The lifecycle action for each target, in target order.
    Act(Vec<Step>),
}

/// What to do with one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub act: Act,
    pub report: InstanceReport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// CompleteLifecycleAction with this result.
    Complete(LifecycleResult),
    /// RecordLifecycleActionHeartbeat: hold it.
    Heartbeat,
    /// Hold it; this invocation already sent its heartbeat.
    Wait,
}

/// How one instance ended an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::IntoStaticStr)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Outcome {
    Completed {
        result: LifecycleResult,
        why: Release,
    },
    /// Not ready; held. A later check looks again.
    Held,
    /// A notification started its drain; the reconcile judges it.
    DrainStarted,
    /// Someone else completed it (or it timed out) first.
    AlreadyDone,
    /// Something failed or could not be told; held, never completed.
    Failed,
}

/// One instance's line in the summary and the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceReport {
    pub instance: String,
    pub group: String,
    pub cluster: Option<String>,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub drain_age_seconds: Option<i64>,
    pub blockers: Vec<Blocker>,
    /// Services below their minimum that this drain never touched: named, not blocking.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unrelated: Vec<BelowMin>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl InstanceReport {
    pub fn new(action: &LifecycleAction, cluster: Option<&str>, outcome: Outcome) -> Self {
        Self {
            instance: action.instance_id.clone(),
            group: action.group.clone(),
            cluster: cluster.map(str::to_owned),
            outcome,
            drain_age_seconds: None,
            blockers: vec![],
            unrelated: vec![],
            error: None,
        }
    }

    /// Held because something could not be told: never a completion.
    pub fn unsure(action: &LifecycleAction, cluster: Option<&str>, why: impl Into<String>) -> Self {
        Self { error: Some(why.into()), ..Self::new(action, cluster, Outcome::Failed) }
    }

    /// Released as ready or as never registered (not by a timeout).
    pub fn is_ready(&self) -> bool {
        matches!(self.outcome, Outcome::Completed { why: Release::Ready | Release::NotRegistered, .. })
    }
}

/// The status of a container instance read by ARN alone (see [`crate::ports::EcsApi::container_instances_of`]).
pub const UNKNOWN_STATUS: &str = "UNKNOWN";

/// The plan for `targets`, all of one cluster, from what has been read of it.
pub fn plan(reading: &Reading, targets: &[Target], mode: Mode, policy: &DrainPolicy, now: DateTime<Utc>) -> Plan {
    let snapshot = &reading.snapshot;
    let found = |t: &Target| snapshot.instance_by_ec2_id(&t.action.instance_id);

    // Writes first: DRAINING, then the drain start, so that every check after this one counts from it.
    let mut instances = Vec::new();
    let mut record = Vec::new();
    for (target, instance) in targets.iter().filter_map(|t| Some((t, found(t)?))) {
        // UNKNOWN: a notification's cheap read knows the ARN only; setting DRAINING answers with the rest.
        if instance.is_active() || instance.status == UNKNOWN_STATUS {
            instances.push(instance.arn.clone());
        }
        if (instance.is_active() || instance.is_draining()) && drain_started(instance).is_none() {
            record.push((instance.arn.clone(), target.since.map_or(now, |since| since.min(now))));
        }
    }
    if !instances.is_empty() || !record.is_empty() {
        return Plan::Drain { instances, record };
    }

    if mode == Mode::Start {
        let steps = targets
            .iter()
            .map(|t| {
                let outcome = if found(t).is_some() { Outcome::DrainStarted } else { Outcome::Held };
                Step { act: hold(t), report: InstanceReport::new(&t.action, Some(&t.cluster), outcome) }
            })
            .collect();
        return Plan::Act(steps);
    }

    let missing: Vec<String> = targets
        .iter()
        .filter(|t| found(t).is_none() && !reading.registrations.contains_key(&t.action.instance_id))
        .map(|t| t.action.instance_id.clone())
        .collect();
    if !missing.is_empty() {
        return Plan::LookUp(missing);
    }
    if reading.services == Services::NotRead {
        return Plan::ReadServices;
    }

    // Instances with nothing but daemons left would be released: only they need fresh services and their
    // stopped tasks. The others are held by their own tasks whatever those reads say.
    let candidates: Vec<&str> = targets
        .iter()
        .filter_map(found)
        .filter(|i| !readiness(snapshot, &i.arn).blockers.iter().any(|b| matches!(b, Blocker::OwnTasks { .. })))
        .map(|i| i.arn.as_str())
        .collect();
    if !candidates.is_empty() && reading.services != Services::ThisCheck {
        return Plan::ReadServices;
    }
    let unread: Vec<String> =
        candidates.iter().filter(|arn| !snapshot.stopped_read.contains(**arn)).map(|arn| (*arn).to_owned()).collect();
    if !unread.is_empty() {
        return Plan::ReadStopped(unread);
    }
    Plan::Act(targets.iter().map(|target| step(target, judge(reading, target, policy, now))).collect())
}

/// A target's verdict, or why there is none.
enum Judged {
    Verdict(DrainVerdict, Option<Duration>),
    /// Registered in its own cluster, yet missing from the snapshot: a race with registration. Hold, and look
    /// again at the next check.
    Unsure(String),
}

fn judge(reading: &Reading, target: &Target, policy: &DrainPolicy, now: DateTime<Utc>) -> Judged {
    let snapshot = &reading.snapshot;
    if let Some(instance) = snapshot.instance_by_ec2_id(&target.action.instance_id) {
        let age = drain_started(instance).map(|started| now - started);
        let verdict = policy.verdict(snapshot, Registration::Here(&instance.arn), age.unwrap_or_default());
        return Judged::Verdict(verdict, age);
    }
    let clusters = reading.registrations.get(&target.action.instance_id).map(Vec::as_slice).unwrap_or_default();
    if clusters.contains(&target.cluster) {
        return Judged::Unsure(format!(
            "{} is registered in {} but was not in its snapshot; holding until the next check",
            target.action.instance_id, target.cluster
        ));
    }
    let registration = if clusters.is_empty() { Registration::Nowhere } else { Registration::Elsewhere(clusters) };
    Judged::Verdict(policy.verdict(snapshot, registration, Duration::zero()), None)
}

fn hold(target: &Target) -> Act {
    if target.beaten { Act::Wait } else { Act::Heartbeat }
}

fn step(target: &Target, judged: Judged) -> Step {
    let report = InstanceReport::new(&target.action, Some(&target.cluster), Outcome::Held);
    match judged {
        Judged::Unsure(why) => Step { act: hold(target), report: InstanceReport { error: Some(why), ..report } },
        Judged::Verdict(DrainVerdict { verdict, blockers, unrelated }, age) => {
            let (act, outcome) = match verdict {
                Verdict::Complete { result, why } => (Act::Complete(result), Outcome::Completed { result, why }),
                Verdict::Hold => (hold(target), Outcome::Held),
            };
            let drain_age_seconds = age.map(|a| a.num_seconds());
            Step { act, report: InstanceReport { outcome, drain_age_seconds, blockers, unrelated, ..report } }
        }
    }
}

/// The drain metrics of one invocation: `DrainingInstances` per reconciled cluster (held instances counted when
/// they were found), and per completion `DrainSeconds` and, for a timeout, `DrainTimeouts`.
pub fn metrics(
    reports: &[InstanceReport],
    draining: &BTreeMap<String, usize>,
    now: DateTime<Utc>,
) -> Vec<ClusterMetric> {
    let metric = |name, cluster: &str, value, unit| ClusterMetric {
        name,
        cluster: cluster.to_owned(),
        value,
        unit,
        timestamp: now,
    };
    let mut metrics: Vec<ClusterMetric> = draining
        .iter()
        .map(|(cluster, count)| metric("DrainingInstances", cluster, *count as f64, MetricUnit::Count))
        .collect();
    for report in reports {
        let (Outcome::Completed { why, .. }, Some(cluster)) = (report.outcome, &report.cluster) else { continue };
        let seconds = report.drain_age_seconds.unwrap_or(0) as f64;
        metrics.push(metric("DrainSeconds", cluster, seconds, MetricUnit::Seconds));
        if why == Release::TimedOut {
            metrics.push(metric("DrainTimeouts", cluster, 1.0, MetricUnit::Count));
        }
    }
    metrics
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drain::fixtures::{Cluster, now};
    use crate::drain::readiness::ATTRIBUTE_DRAIN_STARTED;

    const POLICY: DrainPolicy =
        DrainPolicy { max_drain: Duration::seconds(3600), timeout_result: LifecycleResult::Abandon };

    fn target(instance: &str) -> Target {
        Target {
            action: LifecycleAction {
                group: "prod-blue".into(),
                hook: "drain".into(),
                instance_id: format!("i-{instance}"),
                token: None,
            },
            cluster: "prod".into(),
            since: None,
            beaten: false,
        }
    }

    /// A reading with everything a release needs already read in this check.
    fn reading(cluster: Cluster) -> Reading {
        Reading {
            snapshot: cluster.stopped_read().snapshot,
            services: Services::ThisCheck,
            registrations: HashMap::new(),
        }
    }

    /// A reading at the start of a check: services as an earlier check read them, no stopped task read.
    fn later_check(cluster: Cluster) -> Reading {
        Reading { snapshot: cluster.snapshot, services: Services::Earlier, registrations: HashMap::new() }
    }

    fn acts(plan: &Plan) -> Vec<(Act, Outcome)> {
        let Plan::Act(steps) = plan else { panic!("expected to act, got {plan:?}") };
        steps.iter().map(|s| (s.act, s.report.outcome)).collect()
    }

    #[test]
    fn an_active_instance_is_set_draining_and_its_drain_start_recorded_first() {
        let cluster = Cluster::new().instance("old", "ACTIVE").instance("new", "ACTIVE");
        let since = now() - Duration::seconds(30);
        let notified = Target { since: Some(since), ..target("old") };
        assert_eq!(
            plan(&reading(cluster), &[notified], Mode::Check, &POLICY, now()),
            Plan::Drain { instances: vec!["old".into()], record: vec![("old".into(), since)] }
        );
    }

    #[test]
    fn a_draining_instance_without_a_recorded_start_gets_one_from_now() {
        let cluster = Cluster::new().instance("old", "DRAINING");
        assert_eq!(
            plan(&reading(cluster), &[target("old")], Mode::Check, &POLICY, now()),
            Plan::Drain { instances: vec![], record: vec![("old".into(), now())] }
        );
    }

    #[test]
    fn a_notification_time_in_the_future_is_not_trusted() {
        let cluster = Cluster::new().instance("old", "ACTIVE");
        let skewed = Target { since: Some(now() + Duration::hours(1)), ..target("old") };
        let Plan::Drain { record, .. } = plan(&reading(cluster), &[skewed], Mode::Check, &POLICY, now()) else {
            panic!("expected a drain")
        };
        assert_eq!(record, [("old".into(), now())]);
    }

    #[test]
    fn a_notification_only_starts_the_drain_and_holds() {
        let started = Cluster::new().instance("old", "DRAINING").drain_started_minutes_ago(0);
        let plan = plan(&reading(started), &[target("old"), target("unknown")], Mode::Start, &POLICY, now());
        assert_eq!(acts(&plan), [(Act::Heartbeat, Outcome::DrainStarted), (Act::Heartbeat, Outcome::Held)]);
    }

    #[test]
    fn an_instance_missing_from_its_cluster_is_looked_up_before_anything_is_decided() {
        let cluster = Cluster::new().instance("other", "DRAINING").drain_started_minutes_ago(1);
        assert_eq!(
            plan(&reading(cluster), &[target("other"), target("gone")], Mode::Check, &POLICY, now()),
            Plan::LookUp(vec!["i-gone".into()])
        );
    }

    #[test]
    fn an_instance_registered_nowhere_is_released_at_once() {
        let mut reading = reading(Cluster::new());
        reading.registrations.insert("i-gone".into(), vec![]);
        let plan = plan(&reading, &[target("gone")], Mode::Check, &POLICY, now());
        let release = Outcome::Completed { result: LifecycleResult::Continue, why: Release::NotRegistered };
        assert_eq!(acts(&plan), [(Act::Complete(LifecycleResult::Continue), release)]);
    }

    #[test]
    fn an_instance_registered_in_another_cluster_is_held() {
        let mut reading = reading(Cluster::new());
        reading.registrations.insert("i-moved".into(), vec!["payments".into()]);
        let Plan::Act(steps) = plan(&reading, &[target("moved")], Mode::Check, &POLICY, now()) else { panic!() };
        assert_eq!((steps[0].act, steps[0].report.outcome), (Act::Heartbeat, Outcome::Held));
        assert_eq!(steps[0].report.blockers, [Blocker::RegisteredElsewhere { clusters: vec!["payments".into()] }]);
    }

    #[test]
    fn an_instance_registered_here_after_the_snapshot_missed_it_is_held_not_released() {
        // The race the emulator cannot produce: the lookup finds it in its own cluster.
        let mut reading = reading(Cluster::new().instance("other", "ACTIVE"));
        reading.registrations.insert("i-late".into(), vec!["prod".into()]);
        let Plan::Act(steps) = plan(&reading, &[target("late")], Mode::Check, &POLICY, now()) else { panic!() };
        assert_eq!(steps[0].act, Act::Heartbeat);
        assert_eq!(steps[0].report.outcome, Outcome::Held);
        assert_eq!(
            steps[0].report.error.as_deref(),
            Some("i-late is registered in prod but was not in its snapshot; holding until the next check")
        );
    }

    #[test]
    fn a_ready_instance_gets_fresh_services_and_its_stopped_tasks_read_before_it_is_released() {
        let empty = Cluster::new().instance("old", "DRAINING").drain_started_minutes_ago(3).instance("new", "ACTIVE");
        let first = Reading { services: Services::NotRead, ..later_check(empty.clone()) };
        assert_eq!(plan(&first, &[target("old")], Mode::Check, &POLICY, now()), Plan::ReadServices, "daemons unknown");
        let earlier = later_check(empty.clone());
        assert_eq!(plan(&earlier, &[target("old")], Mode::Check, &POLICY, now()), Plan::ReadServices, "stale minimums");
        let fresh = Reading { services: Services::ThisCheck, ..earlier };
        assert_eq!(
            plan(&fresh, &[target("old")], Mode::Check, &POLICY, now()),
            Plan::ReadStopped(vec!["old".into()]),
            "only the instance that would go"
        );
        let read = reading(empty.stopped("family:job", "new", 1));
        let plan = plan(&read, &[target("old")], Mode::Check, &POLICY, now());
        let release = Outcome::Completed { result: LifecycleResult::Continue, why: Release::Ready };
        assert_eq!(acts(&plan), [(Act::Complete(LifecycleResult::Continue), release)]);
    }

    #[test]
    fn a_notification_read_knows_only_the_arn_and_sets_draining_to_learn_the_rest() {
        let mut cluster = Cluster::new().instance("old", UNKNOWN_STATUS);
        cluster.snapshot.instances[0].attributes.clear();
        let plan = plan(&later_check(cluster), &[target("old")], Mode::Start, &POLICY, now());
        assert_eq!(plan, Plan::Drain { instances: vec!["old".into()], record: vec![] });
    }

    #[test]
    fn a_task_still_stopping_turns_the_release_into_a_hold() {
        let cluster = Cluster::new()
            .instance("old", "DRAINING")
            .drain_started_minutes_ago(3)
            .service("web", 1, 100)
            .stopping("service:web", "old", "DEACTIVATING");
        let Plan::Act(steps) = plan(&reading(cluster), &[target("old")], Mode::Check, &POLICY, now()) else { panic!() };
        assert_eq!((steps[0].act, steps[0].report.outcome), (Act::Heartbeat, Outcome::Held));
        assert_eq!(steps[0].report.drain_age_seconds, Some(180));
        assert!(matches!(steps[0].report.blockers[0], Blocker::StoppingTasks { count: 1, .. }));
    }

    #[test]
    fn a_held_instance_is_not_read_for_stopped_tasks_and_gets_one_heartbeat_per_invocation() {
        let busy =
            Cluster::new().instance("old", "DRAINING").drain_started_minutes_ago(3).tasks("family:job", "old", 1);
        assert_eq!(
            acts(&plan(&reading(busy.clone()), &[target("old")], Mode::Check, &POLICY, now())),
            [(Act::Heartbeat, Outcome::Held)]
        );
        let beaten = Target { beaten: true, ..target("old") };
        assert_eq!(acts(&plan(&reading(busy), &[beaten], Mode::Check, &POLICY, now())), [(Act::Wait, Outcome::Held)]);
    }

    #[test]
    fn past_the_max_drain_time_a_blocked_instance_is_completed_with_the_timeout_result() {
        let stuck =
            Cluster::new().instance("old", "DRAINING").drain_started_minutes_ago(61).tasks("family:job", "old", 1);
        let Plan::Act(steps) = plan(&reading(stuck), &[target("old")], Mode::Check, &POLICY, now()) else { panic!() };
        assert_eq!(steps[0].act, Act::Complete(LifecycleResult::Abandon));
        assert_eq!(
            steps[0].report.outcome,
            Outcome::Completed { result: LifecycleResult::Abandon, why: Release::TimedOut }
        );
        assert_eq!(steps[0].report.drain_age_seconds, Some(3660));
    }

    #[test]
    fn several_instances_of_one_cluster_share_one_snapshot_and_one_plan() {
        let cluster = Cluster::new()
            .instance("a", "DRAINING")
            .drain_started_minutes_ago(5)
            .instance("b", "DRAINING")
            .drain_started_minutes_ago(5)
            .instance("c", "ACTIVE")
            .tasks("family:job", "b", 1)
            .stopped("family:old", "c", 1);
        let plan = plan(&reading(cluster), &[target("a"), target("b")], Mode::Check, &POLICY, now());
        let release = Outcome::Completed { result: LifecycleResult::Continue, why: Release::Ready };
        assert_eq!(acts(&plan), [(Act::Complete(LifecycleResult::Continue), release), (Act::Heartbeat, Outcome::Held)]);
    }

    #[test]
    fn planning_again_after_the_writes_moves_on_to_judging() {
        // Idempotent: the shell applies what it did to the snapshot, and the same plan is not asked twice.
        let mut cluster = Cluster::new().instance("old", "ACTIVE").tasks("family:job", "old", 1);
        assert!(matches!(
            plan(&reading(cluster.clone()), &[target("old")], Mode::Check, &POLICY, now()),
            Plan::Drain { .. }
        ));
        cluster.snapshot.instances[0].status = "DRAINING".into();
        cluster.snapshot.instances[0].attributes.insert(ATTRIBUTE_DRAIN_STARTED.into(), now().timestamp().to_string());
        assert_eq!(
            acts(&plan(&reading(cluster), &[target("old")], Mode::Check, &POLICY, now())),
            [(Act::Heartbeat, Outcome::Held)]
        );
    }

    #[test]
    fn the_metrics_count_draining_instances_and_each_completion() {
        let action = target("old").action;
        let done = InstanceReport {
            drain_age_seconds: Some(300),
            ..InstanceReport::new(
                &action,
                Some("prod"),
                Outcome::Completed { result: LifecycleResult::Continue, why: Release::Ready },
            )
        };
        let timed_out = InstanceReport {
            drain_age_seconds: Some(3600),
            ..InstanceReport::new(
                &action,
                Some("prod"),
                Outcome::Completed { result: LifecycleResult::Abandon, why: Release::TimedOut },
            )
        };
        let held = InstanceReport::new(&action, Some("prod"), Outcome::Held);
        let draining = BTreeMap::from([("prod".to_owned(), 3), ("idle".to_owned(), 0)]);
        let published: Vec<(&str, String, f64)> = metrics(&[done, timed_out, held], &draining, now())
            .iter()
            .map(|m| (m.name, m.cluster.clone(), m.value))
            .collect();
        assert_eq!(
            published,
            [
                ("DrainingInstances", "idle".into(), 0.0),
                ("DrainingInstances", "prod".into(), 3.0),
                ("DrainSeconds", "prod".into(), 300.0),
                ("DrainSeconds", "prod".into(), 3600.0),
                ("DrainTimeouts", "prod".into(), 1.0),
            ]
        );
    }
}
