//! Drain readiness: may a terminating container instance go now?
//!
//! Only when (a) nothing but daemon tasks is left on it, and (b) every REPLICA service of the cluster has at
//! least ⌈desired × minHealthy% ⌉ healthy RUNNING tasks on ACTIVE instances. Tasks on DRAINING instances do
//! not count, including other instances draining at the same time: that is what keeps a blue/green teardown
//! from taking both copies of a service at once.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::cluster::{ContainerInstance, Scheduling, Service, Task, TaskHealth};
use crate::lifecycle::LifecycleResult;

/// Service tag overriding `deploymentConfiguration.minimumHealthyPercent` for draining.
pub const TAG_MIN_HEALTHY: &str = "ecs-scaler:min-healthy-percent";
/// Container-instance attribute recording when the drain started (epoch seconds), so it survives invocations.
pub const ATTRIBUTE_DRAIN_STARTED: &str = "ecs-scaler.drain-started";
/// ECS's default minimumHealthyPercent for REPLICA services.
const DEFAULT_MIN_HEALTHY: i32 = 100;
/// At most this many task ARNs are named in a blocker, to keep log lines readable.
const NAMED_TASKS: usize = 5;

/// One snapshot of a cluster, read at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClusterSnapshot {
    pub services: Vec<Service>,
    /// Tasks whose desired status is RUNNING.
    pub tasks: Vec<Task>,
    pub instances: Vec<ContainerInstance>,
    /// Tasks ECS is stopping (desired status STOPPED, last status not yet STOPPED) on the instances being
    /// judged: a load balancer may still drain connections through them. Read only for an instance that would
    /// otherwise be released (see [`DrainVerdict::is_ready`]), so it costs calls on that one path.
    pub stopping: Vec<Task>,
}

impl ClusterSnapshot {
    pub fn instance_by_ec2_id(&self, ec2_instance_id: &str) -> Option<&ContainerInstance> {
        self.instances.iter().find(|i| i.ec2_instance_id.as_deref() == Some(ec2_instance_id))
    }
}

/// Something that keeps an instance from being released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Blocker {
    /// Non-daemon tasks still on the instance (standalone tasks are not moved by DRAINING).
    OwnTasks { count: usize, tasks: Vec<String> },
    /// Non-daemon tasks ECS is stopping on the instance but that have not stopped yet (deregistering from a
    /// load balancer, say): terminating now would cut their connections.
    StoppingTasks { count: usize, tasks: Vec<String> },
    /// A service below its minimum on ACTIVE instances.
    Service { name: String, running_on_active: usize, required: usize },
    /// The service's `ecs-scaler:min-healthy-percent` tag is not a whole number in 0–100: hold rather than guess.
    BadMinHealthyTag { service: String, value: String },
    /// The instance is registered in other clusters, not the one the hook resolved: its tasks were never
    /// checked, so it stays until the cluster mapping is fixed (or the lifecycle hook itself times out).
    RegisteredElsewhere { clusters: Vec<String> },
}

impl std::fmt::Display for Blocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Blocker::OwnTasks { count, .. } => write!(f, "{count} task(s) still on the instance"),
            Blocker::StoppingTasks { count, .. } => write!(f, "{count} task(s) still stopping on the instance"),
            Blocker::Service { name, running_on_active, required } => {
                write!(f, "service {name}: {running_on_active} running on ACTIVE instances, {required} required")
            }
            Blocker::BadMinHealthyTag { service, value } => {
                write!(f, "service {service}: tag {TAG_MIN_HEALTHY}={value:?} is not a whole number in 0-100")
            }
            Blocker::RegisteredElsewhere { clusters } => write!(
                f,
                "registered in cluster {} instead: check the hook's cluster (notification metadata, group tag or \
                 CLUSTER)",
                clusters.join(", ")
            ),
        }
    }
}

/// Everything blocking one instance; empty means it may go.
pub fn blockers(snapshot: &ClusterSnapshot, container_instance_arn: &str) -> Vec<Blocker> {
    let daemons: Vec<String> =
        snapshot.services.iter().filter(|s| s.scheduling == Scheduling::Daemon).map(Service::task_group).collect();
    let on_instance = |t: &&Task| {
        t.container_instance_arn.as_deref() == Some(container_instance_arn)
            && !t.group.as_ref().is_some_and(|g| daemons.contains(g))
    };
    let own: Vec<&Task> = snapshot.tasks.iter().filter(on_instance).collect();
    let stopping: Vec<&Task> =
        snapshot.stopping.iter().filter(on_instance).filter(|t| t.last_status != "STOPPED").collect();
    let named = |tasks: &[&Task]| tasks.iter().take(NAMED_TASKS).map(|t| t.arn.clone()).collect();
    let mut blockers = Vec::new();
    if !own.is_empty() {
        blockers.push(Blocker::OwnTasks { count: own.len(), tasks: named(&own) });
    }
    if !stopping.is_empty() {
        blockers.push(Blocker::StoppingTasks { count: stopping.len(), tasks: named(&stopping) });
    }

    let active: HashMap<&str, bool> = snapshot.instances.iter().map(|i| (i.arn.as_str(), i.is_active())).collect();
    let counts_as_available = |task: &Task| {
        task.last_status == "RUNNING"
            && task.health != TaskHealth::Unhealthy
            // Tasks off container instances (Fargate) are not going anywhere.
            && task.container_instance_arn.as_deref().is_none_or(|arn| active.get(arn).copied().unwrap_or(false))
    };
    let mut available: HashMap<&str, usize> = HashMap::new();
    for task in snapshot.tasks.iter().filter(|t| counts_as_available(t)) {
        if let Some(service) = task.service_name() {
            *available.entry(service).or_default() += 1;
        }
    }
    for service in snapshot.services.iter().filter(|s| s.scheduling == Scheduling::Replica && s.desired > 0) {
        let percent = match min_healthy_percent(service) {
            Ok(percent) => percent,
            Err(value) => {
                blockers.push(Blocker::BadMinHealthyTag { service: service.name.clone(), value });
                continue;
            }
        };
        let required = required_tasks(service.desired, percent);
        let running_on_active = available.get(service.name.as_str()).copied().unwrap_or(0);
        if running_on_active < required {
            blockers.push(Blocker::Service { name: service.name.clone(), running_on_active, required });
        }
    }
    blockers
}

/// The tag if set, else the service's deployment configuration, else ECS's default of 100.
fn min_healthy_percent(service: &Service) -> Result<i32, String> {
    match service.tags.get(TAG_MIN_HEALTHY) {
        Some(raw) => raw.trim().parse::<i32>().ok().filter(|p| (0..=100).contains(p)).ok_or_else(|| raw.clone()),
        None => Ok(service.min_healthy_percent.unwrap_or(DEFAULT_MIN_HEALTHY).clamp(0, 100)),
    }
}

/// ⌈desired × percent / 100⌉, in integers so 20 × 50% is exactly 10.
pub fn required_tasks(desired: i32, percent: i32) -> usize {
    let product = i64::from(desired.max(0)) * i64::from(percent.clamp(0, 100));
    usize::try_from((product + 99) / 100).unwrap_or(usize::MAX)
}

/// When the drain of `instance` started, from its attribute.
pub fn drain_started(instance: &ContainerInstance) -> Option<DateTime<Utc>> {
    let seconds = instance.attributes.get(ATTRIBUTE_DRAIN_STARTED)?.parse::<i64>().ok()?;
    DateTime::from_timestamp(seconds, 0)
}

/// How long to wait, and what to do when waiting is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DrainPolicy {
    pub max_drain: Duration,
    pub timeout_result: LifecycleResult,
}

/// Why an instance is released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Release {
    /// Its tasks are gone and every service has its minimum elsewhere.
    Ready,
    /// It never registered with ECS, or is already gone: nothing to drain.
    NotRegistered,
    /// The max drain time passed with blockers left.
    TimedOut,
}

/// Where ECS has the terminating instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration<'a> {
    /// In the cluster being checked, as this container instance ARN.
    Here(&'a str),
    /// Not in the cluster being checked, but in these ones.
    Elsewhere(&'a [String]),
    /// In no cluster: it never registered, or it has already left.
    Nowhere,
}

/// The verdict for one terminating instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum DrainVerdict {
    Complete { result: LifecycleResult, why: Release, blockers: Vec<Blocker> },
    Hold { blockers: Vec<Blocker> },
}

impl DrainVerdict {
    /// Whether this releases the instance because it is ready. Before acting on it, the shell reads the
    /// instance's stopping tasks into [`ClusterSnapshot::stopping`] and asks again: they can only turn a release
    /// into a hold, so reading them for any other verdict would be wasted calls.
    pub fn is_ready(&self) -> bool {
        matches!(self, DrainVerdict::Complete { why: Release::Ready, .. })
    }

    pub fn blockers(&self) -> &[Blocker] {
        match self {
            DrainVerdict::Complete { blockers, .. } | DrainVerdict::Hold { blockers } => blockers,
        }
    }
}

impl DrainPolicy {
    /// Decide for the instance, registered as `registration`, after `drain_age` of draining.
    ///
    /// An instance registered in another cluster was never drained, so `max_drain` does not apply to it: it is
    /// held, loudly, until the cluster mapping is fixed or the lifecycle hook's own timeout ends the wait.
    pub fn verdict(
        &self,
        snapshot: &ClusterSnapshot,
        registration: Registration<'_>,
        drain_age: Duration,
    ) -> DrainVerdict {
        let arn = match registration {
            Registration::Here(arn) => arn,
            Registration::Elsewhere(clusters) => {
                return DrainVerdict::Hold {
                    blockers: vec![Blocker::RegisteredElsewhere { clusters: clusters.to_vec() }],
                };
            }
            Registration::Nowhere => {
                return DrainVerdict::Complete {
                    result: LifecycleResult::Continue,
                    why: Release::NotRegistered,
                    blockers: vec![],
                };
            }
        };
        let blockers = blockers(snapshot, arn);
        if blockers.is_empty() {
            DrainVerdict::Complete { result: LifecycleResult::Continue, why: Release::Ready, blockers }
        } else if drain_age >= self.max_drain {
            DrainVerdict::Complete { result: self.timeout_result, why: Release::TimedOut, blockers }
        } else {
            DrainVerdict::Hold { blockers }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::ServiceEvent;

    /// Builder-style fixtures, so each test reads like the situation it checks.
    #[derive(Default)]
    struct Cluster {
        snapshot: ClusterSnapshot,
    }

    impl Cluster {
        fn new() -> Self {
            Self::default()
        }

        fn instance(mut self, arn: &str, status: &str) -> Self {
            self.snapshot.instances.push(ContainerInstance {
                arn: arn.into(),
                ec2_instance_id: Some(format!("i-{arn}")),
                status: status.into(),
                attributes: HashMap::new(),
                registered: None,
            });
            self
        }

        fn service(mut self, name: &str, desired: i32, min_healthy: i32) -> Self {
            self.snapshot.services.push(Service {
                name: name.into(),
                scheduling: Scheduling::Replica,
                desired,
                running: 0,
                pending: 0,
                min_healthy_percent: Some(min_healthy),
                task_definition: format!("td/{name}:1"),
                tags: HashMap::new(),
                events: Vec::<ServiceEvent>::new(),
            });
            self
        }

        fn daemon(mut self, name: &str) -> Self {
            self = self.service(name, 0, 0);
            if let Some(s) = self.snapshot.services.last_mut() {
                s.scheduling = Scheduling::Daemon;
            }
            self
        }

        fn tag(mut self, key: &str, value: &str) -> Self {
            if let Some(s) = self.snapshot.services.last_mut() {
                s.tags.insert(key.into(), value.into());
            }
            self
        }

        fn tasks(mut self, group: &str, on: &str, count: usize) -> Self {
            for _ in 0..count {
                let n = self.snapshot.tasks.len();
                self.snapshot.tasks.push(Task {
                    arn: format!("task-{n}"),
                    container_instance_arn: Some(on.into()),
                    group: Some(group.into()),
                    last_status: "RUNNING".into(),
                    health: TaskHealth::Unknown,
                    stopped_at: None,
                });
            }
            self
        }

        fn last_task(mut self, last_status: &str, health: TaskHealth) -> Self {
            if let Some(t) = self.snapshot.tasks.last_mut() {
                t.last_status = last_status.into();
                t.health = health;
            }
            self
        }

        /// A task ECS is stopping on `on`, in `last_status` (DEACTIVATING, STOPPING, ... or STOPPED).
        fn stopping(mut self, group: &str, on: &str, last_status: &str) -> Self {
            let n = self.snapshot.tasks.len() + self.snapshot.stopping.len();
            self.snapshot.stopping.push(Task {
                arn: format!("task-{n}"),
                container_instance_arn: Some(on.into()),
                group: Some(group.into()),
                last_status: last_status.into(),
                health: TaskHealth::Unknown,
                stopped_at: None,
            });
            self
        }

        fn blockers(&self, arn: &str) -> Vec<Blocker> {
            blockers(&self.snapshot, arn)
        }
    }

    fn service_blocker(name: &str, running_on_active: usize, required: usize) -> Blocker {
        Blocker::Service { name: name.into(), running_on_active, required }
    }

    #[test]
    fn holds_while_a_service_is_below_min_on_active_instances() {
        // desired 20 at 50% needs 10 elsewhere; only 6 run on ACTIVE instances.
        let cluster = Cluster::new()
            .instance("old", "DRAINING")
            .instance("new", "ACTIVE")
            .service("api", 20, 50)
            .tasks("service:api", "new", 6);
        assert_eq!(cluster.blockers("old"), [service_blocker("api", 6, 10)]);
    }

    #[test]
    fn releases_once_the_minimum_runs_elsewhere_and_the_instance_is_empty() {
        let cluster = Cluster::new()
            .instance("old", "DRAINING")
            .instance("new", "ACTIVE")
            .service("api", 20, 50)
            .tasks("service:api", "new", 10);
        assert!(cluster.blockers("old").is_empty());
    }

    #[test]
    fn tasks_on_any_draining_instance_do_not_count() {
        // Two instances carry both copies of a 2-task service at 100%: neither may go first.
        let cluster = Cluster::new()
            .instance("a", "DRAINING")
            .instance("b", "DRAINING")
            .instance("c", "ACTIVE")
            .service("pair", 2, 100)
            .tasks("service:pair", "a", 1)
            .tasks("service:pair", "b", 1);
        assert!(cluster.blockers("a").contains(&service_blocker("pair", 0, 2)));
        assert!(cluster.blockers("b").contains(&service_blocker("pair", 0, 2)));
    }

    #[test]
    fn min_healthy_zero_only_waits_for_the_instance_to_empty() {
        let busy = Cluster::new().instance("old", "DRAINING").service("volume", 1, 0).tasks("service:volume", "old", 1);
        assert_eq!(busy.blockers("old"), [Blocker::OwnTasks { count: 1, tasks: vec!["task-0".into()] }]);
        let empty = Cluster::new().instance("old", "DRAINING").service("volume", 1, 0);
        assert!(empty.blockers("old").is_empty());
    }

    #[test]
    fn daemon_tasks_do_not_block() {
        let cluster = Cluster::new().instance("old", "DRAINING").daemon("logs").tasks("service:logs", "old", 1);
        assert!(cluster.blockers("old").is_empty());
    }

    #[test]
    fn standalone_tasks_block_until_they_stop() {
        let cluster = Cluster::new().instance("old", "DRAINING").tasks("family:nightly-backup", "old", 1);
        assert_eq!(cluster.blockers("old"), [Blocker::OwnTasks { count: 1, tasks: vec!["task-0".into()] }]);
    }

    #[test]
    fn tasks_still_stopping_on_the_instance_block_until_they_have_stopped() {
        // ECS started the replacement and is deregistering the old copy from its load balancer.
        let draining = Cluster::new()
            .instance("old", "DRAINING")
            .instance("new", "ACTIVE")
            .service("api", 1, 100)
            .daemon("logs")
            .tasks("service:api", "new", 1)
            .stopping("service:api", "old", "DEACTIVATING")
            .stopping("service:logs", "old", "STOPPING")
            .stopping("service:api", "new", "STOPPING");
        assert_eq!(
            draining.blockers("old"),
            [Blocker::StoppingTasks { count: 1, tasks: vec!["task-1".into()] }],
            "only the instance's own non-daemon task counts"
        );
        assert_eq!(draining.blockers("old")[0].to_string(), "1 task(s) still stopping on the instance");
        let stopped = Cluster::new()
            .instance("old", "DRAINING")
            .instance("new", "ACTIVE")
            .service("api", 1, 100)
            .tasks("service:api", "new", 1)
            .stopping("service:api", "old", "STOPPED");
        assert!(stopped.blockers("old").is_empty());
    }

    #[test]
    fn only_a_ready_verdict_asks_for_the_stopping_tasks() {
        let policy = DrainPolicy { max_drain: Duration::seconds(3600), timeout_result: LifecycleResult::Continue };
        let empty = Cluster::new().instance("old", "DRAINING");
        let busy = Cluster::new().instance("old", "DRAINING").tasks("family:backup", "old", 1);
        assert!(policy.verdict(&empty.snapshot, Registration::Here("old"), Duration::zero()).is_ready());
        assert!(!policy.verdict(&busy.snapshot, Registration::Here("old"), Duration::zero()).is_ready());
        assert!(!policy.verdict(&busy.snapshot, Registration::Here("old"), Duration::hours(2)).is_ready(), "timeout");
        assert!(!policy.verdict(&empty.snapshot, Registration::Nowhere, Duration::zero()).is_ready());
    }

    #[test]
    fn unhealthy_and_pending_tasks_do_not_count() {
        let cluster = Cluster::new()
            .instance("old", "DRAINING")
            .instance("new", "ACTIVE")
            .service("api", 2, 100)
            .tasks("service:api", "new", 1)
            .last_task("RUNNING", TaskHealth::Unhealthy)
            .tasks("service:api", "new", 1)
            .last_task("PENDING", TaskHealth::Unknown);
        assert_eq!(cluster.blockers("old"), [service_blocker("api", 0, 2)]);
    }

    #[test]
    fn the_tag_overrides_the_deployment_configuration() {
        let cluster = Cluster::new()
            .instance("old", "DRAINING")
            .instance("new", "ACTIVE")
            .service("api", 4, 100)
            .tag(TAG_MIN_HEALTHY, "50")
            .tasks("service:api", "new", 2);
        assert!(cluster.blockers("old").is_empty());
    }

    #[test]
    fn a_bad_tag_holds_and_says_why() {
        let cluster = Cluster::new().instance("old", "DRAINING").service("api", 4, 0).tag(TAG_MIN_HEALTHY, "half");
        let blockers = cluster.blockers("old");
        assert_eq!(blockers, [Blocker::BadMinHealthyTag { service: "api".into(), value: "half".into() }]);
        assert_eq!(
            blockers[0].to_string(),
            r#"service api: tag ecs-scaler:min-healthy-percent="half" is not a whole number in 0-100"#
        );
    }

    #[test]
    fn services_scaled_to_zero_do_not_block() {
        let cluster = Cluster::new().instance("old", "DRAINING").service("off", 0, 100);
        assert!(cluster.blockers("old").is_empty());
    }

    #[test]
    fn required_tasks_round_up() {
        assert_eq!(required_tasks(20, 50), 10);
        assert_eq!(required_tasks(3, 50), 2);
        assert_eq!(required_tasks(1, 1), 1);
        assert_eq!(required_tasks(5, 0), 0);
        assert_eq!(required_tasks(2, 100), 2);
    }

    #[test]
    fn the_verdict_releases_unregistered_ready_or_timed_out_instances() {
        let policy = DrainPolicy { max_drain: Duration::seconds(3600), timeout_result: LifecycleResult::Abandon };
        let blocked = Cluster::new().instance("old", "DRAINING").tasks("family:backup", "old", 1);
        assert_eq!(
            policy.verdict(&blocked.snapshot, Registration::Nowhere, Duration::zero()),
            DrainVerdict::Complete { result: LifecycleResult::Continue, why: Release::NotRegistered, blockers: vec![] }
        );
        assert!(matches!(
            policy.verdict(&blocked.snapshot, Registration::Here("old"), Duration::seconds(3599)),
            DrainVerdict::Hold { .. }
        ));
        let DrainVerdict::Complete { result, why, blockers } =
            policy.verdict(&blocked.snapshot, Registration::Here("old"), Duration::seconds(3600))
        else {
            panic!("expected a timeout");
        };
        assert_eq!((result, why, blockers.len()), (LifecycleResult::Abandon, Release::TimedOut, 1));
    }

    #[test]
    fn an_instance_registered_in_another_cluster_is_held_past_the_max_drain_time() {
        let policy = DrainPolicy { max_drain: Duration::seconds(3600), timeout_result: LifecycleResult::Continue };
        let empty = Cluster::new().instance("other", "ACTIVE");
        let clusters = vec!["payments".to_owned()];
        for age in [Duration::zero(), Duration::seconds(3600), Duration::days(3)] {
            let verdict = policy.verdict(&empty.snapshot, Registration::Elsewhere(&clusters), age);
            let DrainVerdict::Hold { blockers } = verdict else { panic!("released at {age}: {verdict:?}") };
            assert_eq!(blockers, [Blocker::RegisteredElsewhere { clusters: clusters.clone() }]);
            assert!(blockers[0].to_string().starts_with("registered in cluster payments instead"), "{}", blockers[0]);
        }
    }

    #[test]
    fn the_drain_start_is_read_from_the_attribute() {
        let mut instance = ContainerInstance {
            arn: "a".into(),
            ec2_instance_id: None,
            status: "DRAINING".into(),
            attributes: HashMap::new(),
            registered: None,
        };
        assert_eq!(drain_started(&instance), None);
        instance.attributes.insert(ATTRIBUTE_DRAIN_STARTED.into(), "1795312345".into());
        assert_eq!(drain_started(&instance).map(|t| t.timestamp()), Some(1_795_312_345));
    }
}

/// The drain hook's settings, from its environment.
#[derive(Debug, Clone, PartialEq)]
pub struct DrainSettings {
    pub namespace: String,
    /// Groups managed in addition to those tagged `ecs-scaler:cluster`.
    pub group_names: Vec<String>,
    /// The cluster of last resort (after notification metadata and the group tag).
    pub cluster: Option<String>,
    /// Which termination hook is ours, when a group has several.
    pub hook_name: Option<String>,
    pub poll: Duration,
    pub policy: DrainPolicy,
}

/// Default seconds between readiness checks inside one invocation.
pub const DEFAULT_POLL_SECONDS: u32 = 10;
/// Default max drain time: an hour covers slow deployments; longer means something is stuck.
pub const DEFAULT_MAX_DRAIN_SECONDS: u32 = 3600;

impl DrainSettings {
    /// Read `SCALE_NAMESPACE`, `ASG_NAMES`, `CLUSTER`, `LIFECYCLE_HOOK_NAME`, `POLL_SECONDS`,
    /// `MAX_DRAIN_SECONDS` and `DRAIN_TIMEOUT_RESULT`. Empty values count as unset.
    pub fn from_vars<I, K, V>(vars: I) -> Result<Self, crate::config::ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        use crate::config::{ConfigError, DEFAULT_NAMESPACE, Origin, check_namespace, env_map, parse_seconds};
        let vars = env_map(vars);
        let get = |key: &str| vars.get(key).cloned();
        let seconds = |key: &'static str, default: u32, min: u32, max: u32| {
            get(key).map_or(Ok(default), |raw| parse_seconds(&raw, Origin::Env(key), min, max))
        };
        let namespace = match get("SCALE_NAMESPACE") {
            Some(raw) => check_namespace(&raw, Origin::Env("SCALE_NAMESPACE"))?.value,
            None => DEFAULT_NAMESPACE.to_owned(),
        };
        let timeout_result = match get("DRAIN_TIMEOUT_RESULT").map(|r| r.to_ascii_uppercase()).as_deref() {
            None | Some("CONTINUE") => LifecycleResult::Continue,
            Some("ABANDON") => LifecycleResult::Abandon,
            Some(_) => {
                let value = get("DRAIN_TIMEOUT_RESULT").unwrap_or_default();
                let origin = Origin::Env("DRAIN_TIMEOUT_RESULT");
                return Err(ConfigError::NotOneOf { origin, value, allowed: "CONTINUE, ABANDON" });
            }
        };
        Ok(Self {
            namespace,
            group_names: get("ASG_NAMES")
                .map(|raw| raw.split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned).collect())
                .unwrap_or_default(),
            cluster: get("CLUSTER"),
            hook_name: get("LIFECYCLE_HOOK_NAME"),
            poll: Duration::seconds(i64::from(seconds("POLL_SECONDS", DEFAULT_POLL_SECONDS, 1, 300)?)),
            policy: DrainPolicy {
                max_drain: Duration::seconds(i64::from(seconds(
                    "MAX_DRAIN_SECONDS",
                    DEFAULT_MAX_DRAIN_SECONDS,
                    60,
                    172_800,
                )?)),
                timeout_result,
            },
        })
    }
}

#[cfg(test)]
mod settings_tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let defaults = DrainSettings::from_vars(Vec::<(String, String)>::new()).unwrap();
        assert_eq!(defaults.poll, Duration::seconds(10));
        assert_eq!(defaults.policy.max_drain, Duration::seconds(3600));
        assert_eq!(defaults.policy.timeout_result, LifecycleResult::Continue);
        assert_eq!(defaults.namespace, "Curalate/AutoScaling");
        let set = DrainSettings::from_vars([
            ("ASG_NAMES", "a, b"),
            ("DRAIN_TIMEOUT_RESULT", "abandon"),
            ("MAX_DRAIN_SECONDS", "600"),
            ("CLUSTER", "prod"),
        ])
        .unwrap();
        assert_eq!(set.group_names, ["a", "b"]);
        assert_eq!(set.policy.timeout_result, LifecycleResult::Abandon);
        assert_eq!(set.policy.max_drain, Duration::seconds(600));
        assert_eq!(set.cluster.as_deref(), Some("prod"));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let error = DrainSettings::from_vars([("DRAIN_TIMEOUT_RESULT", "KILL")]).unwrap_err();
        assert_eq!(error.to_string(), r#"env DRAIN_TIMEOUT_RESULT="KILL" is not one of CONTINUE, ABANDON"#);
        let error = DrainSettings::from_vars([("POLL_SECONDS", "0")]).unwrap_err();
        assert_eq!(error.to_string(), r#"env POLL_SECONDS="0" is not a whole number of seconds between 1 and 300"#);
    }
}
