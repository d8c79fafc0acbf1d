//! The drain hook's settings, from its environment.

use chrono::Duration;

use super::readiness::DrainPolicy;
use crate::config::Layer;
use crate::lifecycle::LifecycleResult;

/// The drain hook's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DrainSettings {
    pub namespace: String,
    /// The clusters this deployment drains for (`CLUSTERS`): only groups of these clusters are reconciled, so
    /// two deployments in one account never touch each other's instances. Empty: every tagged group.
    pub clusters: Vec<String>,
    /// Groups managed in addition to those tagged `ecs-scaler:cluster`.
    pub group_names: Vec<String>,
    /// The cluster of last resort (after notification metadata and the group tag).
    pub cluster: Option<String>,
    /// Which termination hook is ours, when a group has several.
    pub hook_name: Option<String>,
    pub poll: Duration,
    /// How long one scheduled reconcile keeps polling. Shorter than the schedule's interval, so reconciles
    /// never overlap: at most one poller per cluster at a time.
    pub reconcile_window: Duration,
    pub policy: DrainPolicy,
    /// What the environment says of the thresholds (`CPU_MIN`, `CPU_MAX`, `MEMORY_MIN`, `MEMORY_MAX`,
    /// `CONSOLIDATE_HEADROOM`; the same variables as scale-status): the termination policy layers a cluster's
    /// `ecs-scaler:*` tags over it and judges a scale-in by the limits scale-status judged its 0 by.
    pub layer: Layer,
}

/// Default seconds between readiness checks inside one invocation.
pub const DEFAULT_POLL_SECONDS: u32 = 10;
/// Default max drain time: an hour covers slow deployments; longer means something is stuck.
pub const DEFAULT_MAX_DRAIN_SECONDS: u32 = 3600;
/// Default polling window of one reconcile: five checks, 10 s apart, well inside the one-minute schedule.
pub const DEFAULT_RECONCILE_SECONDS: u32 = 45;

impl DrainSettings {
    /// Read `SCALE_NAMESPACE`, `CLUSTERS`, `ASG_NAMES`, `CLUSTER`, `LIFECYCLE_HOOK_NAME`, `POLL_SECONDS`,
    /// `RECONCILE_SECONDS`, `MAX_DRAIN_SECONDS`, `DRAIN_TIMEOUT_RESULT` and the thresholds ([`Layer::from_env`],
    /// checked here so a bad value fails the cold start). Empty values count as unset.
    pub fn from_vars<I, K, V>(vars: I) -> Result<Self, crate::config::ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        use crate::config::{
            ConfigError, DEFAULT_NAMESPACE, Origin, check_namespace, env_map, parse_seconds, split_cluster_list,
        };
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
        let layer = Layer::from_env(&vars);
        // A bad threshold, or a min not below its max, fails now rather than at the first scale-in.
        layer.clone().resolve("(environment)").map_err(|e| e.error)?;
        Ok(Self {
            namespace,
            layer,
            clusters: get("CLUSTERS").map(|raw| split_cluster_list(&raw)).unwrap_or_default(),
            group_names: get("ASG_NAMES")
                .map(|raw| raw.split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned).collect())
                .unwrap_or_default(),
            cluster: get("CLUSTER"),
            hook_name: get("LIFECYCLE_HOOK_NAME"),
            poll: Duration::seconds(i64::from(seconds("POLL_SECONDS", DEFAULT_POLL_SECONDS, 1, 300)?)),
            reconcile_window: Duration::seconds(i64::from(seconds(
                "RECONCILE_SECONDS",
                DEFAULT_RECONCILE_SECONDS,
                0,
                840,
            )?)),
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
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let defaults = DrainSettings::from_vars(Vec::<(String, String)>::new()).unwrap();
        assert_eq!(defaults.poll, Duration::seconds(10));
        assert_eq!(defaults.policy.max_drain, Duration::seconds(3600));
        assert_eq!(defaults.policy.timeout_result, LifecycleResult::Continue);
        assert_eq!(defaults.namespace, "Curalate/AutoScaling");
        assert_eq!(defaults.reconcile_window, Duration::seconds(45));
        assert!(defaults.clusters.is_empty());
        assert_eq!(defaults.layer, Layer::default());
        let set = DrainSettings::from_vars([
            ("CLUSTERS", "prod, arn:aws:ecs:us-east-1:123456789012:cluster/staging"),
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
        assert_eq!(set.clusters, ["prod", "staging"]);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let error = DrainSettings::from_vars([("DRAIN_TIMEOUT_RESULT", "KILL")]).unwrap_err();
        assert_eq!(error.to_string(), r#"env DRAIN_TIMEOUT_RESULT="KILL" is not one of CONTINUE, ABANDON"#);
        let error = DrainSettings::from_vars([("CPU_MAX", "120")]).unwrap_err();
        assert!(error.to_string().contains("env CPU_MAX=120"), "{error}");
        let error = DrainSettings::from_vars([("MEMORY_MIN", "90"), ("MEMORY_MAX", "80")]).unwrap_err();
        assert!(error.to_string().contains("MEMORY_MIN") && error.to_string().contains("MEMORY_MAX"), "{error}");
        let set = DrainSettings::from_vars([("CPU_MAX", "90"), ("CONSOLIDATE_HEADROOM", "3")]).unwrap();
        let settings = set.layer.resolve("web").unwrap();
        assert_eq!((settings.cpu.max.value, settings.consolidate_headroom.value), (90.0, 3.0));
        let error = DrainSettings::from_vars([("POLL_SECONDS", "0")]).unwrap_err();
        assert_eq!(error.to_string(), r#"env POLL_SECONDS="0" is not a whole number of seconds between 1 and 300"#);
    }
}
