//! Where the layers come from: the environment (read once per process), the schedule's constant input, and
//! which clusters a tick manages and with which settings once their tags are read.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::Value;

use super::*;
use crate::arn::cluster_name;

/// The environment variables of scale-status, read once per process.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvConfig {
    pub namespace: Option<Result<Sourced<String>, ConfigError>>,
    pub clusters: Vec<String>,
    pub layer: Layer,
    pub lookback_seconds: Result<u32, ConfigError>,
    pub stale_after_seconds: Result<u32, ConfigError>,
    /// `RESYNC_SECONDS`: a verdict nothing changed is still read again from scratch this often (60–3600).
    pub resync_seconds: Result<u32, ConfigError>,
    /// `EVENT_MIN_INTERVAL_SECONDS`: at most one event-triggered evaluation per cluster this often (10–3600).
    pub event_min_interval_seconds: Result<u32, ConfigError>,
}

/// Default of `EVENT_MIN_INTERVAL_SECONDS`: an event storm costs at most one evaluation a minute per cluster.
pub const DEFAULT_EVENT_MIN_INTERVAL_SECONDS: u32 = 60;

impl EnvConfig {
    /// Build from `(name, value)` pairs, e.g. `std::env::vars()` (see [`env_map`]).
    pub fn from_vars<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let vars = env_map(vars);
        let get = |key: &str| vars.get(key).map(String::as_str);
        let seconds = |key: &'static str, default: u32| {
            get(key).map_or(Ok(default), |raw| parse_seconds(raw, Origin::Env(key), 60, 86_400))
        };
        Self {
            namespace: get("SCALE_NAMESPACE").map(|raw| check_namespace(raw, Origin::Env("SCALE_NAMESPACE"))),
            clusters: get("CLUSTERS").map(split_cluster_list).unwrap_or_default(),
            layer: Layer::from_env(&vars),
            lookback_seconds: seconds("LOOKBACK_SECONDS", DEFAULT_LOOKBACK_SECONDS),
            stale_after_seconds: seconds("STALE_AFTER_SECONDS", DEFAULT_STALE_AFTER_SECONDS),
            resync_seconds: get("RESYNC_SECONDS").map_or(Ok(crate::scale::memory::DEFAULT_RESYNC_SECONDS), |raw| {
                parse_seconds(raw, Origin::Env("RESYNC_SECONDS"), 60, 3600)
            }),
            event_min_interval_seconds: get("EVENT_MIN_INTERVAL_SECONDS")
                .map_or(Ok(DEFAULT_EVENT_MIN_INTERVAL_SECONDS), |raw| {
                    parse_seconds(raw, Origin::Env("EVENT_MIN_INTERVAL_SECONDS"), 10, 3600)
                }),
        }
    }
}

impl Layer {
    /// The knobs the environment sets (`CPU_MIN`, `CPU_MAX`, `MEMORY_MIN`, `MEMORY_MAX`, `PLACEMENT_CHECK`,
    /// `CONSOLIDATE`, `CONSOLIDATE_HEADROOM`, `DISRUPTION_BUDGET`, `DISRUPTION_WINDOWS`), from [`env_map`]'s map.
    /// Both Lambdas read it, so the termination policy judges a scale-in by the thresholds scale-status uses.
    pub fn from_env(vars: &HashMap<String, String>) -> Self {
        let get = |key: &str| vars.get(key).map(String::as_str);
        let percent = |key: &'static str| get(key).map(|raw| parse_percent(raw, Origin::Env(key)));
        Layer {
            cpu_min: percent("CPU_MIN"),
            cpu_max: percent("CPU_MAX"),
            memory_min: percent("MEMORY_MIN"),
            memory_max: percent("MEMORY_MAX"),
            placement_check: get("PLACEMENT_CHECK").map(|raw| parse_bool(raw, Origin::Env("PLACEMENT_CHECK"))),
            consolidate: get("CONSOLIDATE").map(|raw| parse_bool(raw, Origin::Env("CONSOLIDATE"))),
            consolidate_headroom: percent("CONSOLIDATE_HEADROOM"),
            disruption_budget: get("DISRUPTION_BUDGET").map(|raw| parse_with(raw, Origin::Env("DISRUPTION_BUDGET"))),
            disruption_windows: get("DISRUPTION_WINDOWS").map(|raw| parse_with(raw, Origin::Env("DISRUPTION_WINDOWS"))),
        }
    }
}

/// Environment variables as a map, trimmed; empty values count as unset, because Terraform and the console
/// both like to set variables to "".
pub fn env_map<I, K, V>(vars: I) -> HashMap<String, String>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    vars.into_iter()
        .filter(|(_, value)| !value.as_ref().trim().is_empty())
        .map(|(key, value)| (key.as_ref().to_owned(), value.as_ref().trim().to_owned()))
        .collect()
}

/// `"a, b,,arn:…:cluster/c"` → `["a", "b", "c"]`, first occurrence wins.
pub fn split_cluster_list(raw: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|name| !name.is_empty()).map(cluster_name) {
        if !names.iter().any(|seen| seen == name) {
            names.push(name.to_owned());
        }
    }
    names
}

/// The constant input of the schedule rule. Every field is optional; unknown fields are rejected so a typo
/// (`"cluster"` for `"clusters"`) is an error rather than silently ignored config.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    pub clusters: Option<Vec<EventCluster>>,
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventCluster {
    pub name: String,
    pub cpu: Option<EventThresholds>,
    pub memory: Option<EventThresholds>,
}

/// Kept as raw JSON so a bad value (`"min": "40"`) is an error for that cluster only.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventThresholds {
    pub min: Option<Value>,
    pub max: Option<Value>,
}

impl EventCluster {
    fn layer(&self) -> Layer {
        let name = cluster_name(&self.name);
        let knob = |thresholds: &Option<EventThresholds>, resource: Resource, end: &str| {
            let raw = thresholds.as_ref().and_then(|t| if end == "min" { t.min.as_ref() } else { t.max.as_ref() })?;
            let origin = Origin::Event(format!("clusters[{name}].{resource}.{end}"));
            Some(match raw.as_f64() {
                Some(value) => check_percent(value, origin),
                None => Err(ConfigError::NotANumber { origin, value: raw.to_string() }),
            })
        };
        Layer {
            cpu_min: knob(&self.cpu, Resource::Cpu, "min"),
            cpu_max: knob(&self.cpu, Resource::Cpu, "max"),
            memory_min: knob(&self.memory, Resource::Memory, "min"),
            memory_max: knob(&self.memory, Resource::Memory, "max"),
            placement_check: None,
            consolidate: None,
            consolidate_headroom: None,
            disruption_budget: None,
            disruption_windows: None,
        }
    }
}

/// Which clusters to manage and how, after the environment and event layers; tags come per cluster later.
#[derive(Debug, Clone, PartialEq)]
pub struct TickConfig {
    pub namespace: Sourced<String>,
    /// Clusters named by `CLUSTERS` or the event (event replaces env), each with its layers so far.
    pub listed: BTreeMap<String, Layer>,
    /// Layers for clusters found only through the `ecs-scaler:enabled=true` tag.
    pub base: Layer,
    pub lookback_seconds: u32,
    pub stale_after_seconds: u32,
    pub resync_seconds: u32,
}

impl TickConfig {
    /// Layer defaults, environment and the event. Errors here concern every cluster (a bad namespace, say),
    /// so they fail the whole tick; per-cluster mistakes stay inside the layers until [`TickConfig::settings`].
    pub fn build(env: &EnvConfig, input: &ScheduleInput) -> Result<Self, ConfigError> {
        let namespace = match (&input.namespace, &env.namespace) {
            (Some(raw), _) => check_namespace(raw, Origin::Event("namespace".into()))?,
            (None, Some(from_env)) => from_env.clone()?,
            (None, None) => Sourced::new(DEFAULT_NAMESPACE.to_owned(), Origin::Default),
        };
        let base = env.layer.clone();
        let listed = match &input.clusters {
            Some(clusters) => clusters
                .iter()
                .map(|cluster| (cluster_name(&cluster.name).to_owned(), base.clone().then(cluster.layer())))
                .collect(),
            None => env.clusters.iter().map(|name| (name.clone(), base.clone())).collect(),
        };
        Ok(Self {
            namespace,
            listed,
            base,
            lookback_seconds: env.lookback_seconds.clone()?,
            stale_after_seconds: env.stale_after_seconds.clone()?,
            resync_seconds: env.resync_seconds.clone()?,
        })
    }

    /// Whether clusters are found by their `ecs-scaler:enabled=true` tag: only when none is named. A deployment
    /// that names its clusters manages exactly those, so two deployments in one account never publish for the
    /// same cluster.
    pub fn discovers(&self) -> bool {
        self.listed.is_empty()
    }

    /// Whether a cluster with these tags is managed: listed, or (when none is listed) tagged
    /// `ecs-scaler:enabled=true`. `ecs-scaler:enabled=false` pauses even a listed cluster.
    pub fn manages(&self, cluster: &str, tags: &HashMap<String, String>) -> Management {
        if !self.discovers() && !self.listed.contains_key(cluster) {
            return Management::Ignored;
        }
        match tags.get(TAG_ENABLED).map(|raw| parse_bool(raw, Origin::Tag(TAG_ENABLED))) {
            Some(Ok(enabled)) if !enabled.value => Management::Paused,
            Some(Ok(_)) => Management::Managed,
            Some(Err(error)) => Management::Invalid(ClusterConfigError { cluster: cluster.to_owned(), error }),
            None if self.listed.contains_key(cluster) => Management::Managed,
            None => Management::Ignored,
        }
    }

    /// The final settings of a managed cluster, with its tags as the last layer.
    pub fn settings(
        &self,
        cluster: &str,
        tags: &HashMap<String, String>,
    ) -> Result<ClusterSettings, ClusterConfigError> {
        let layers = self.listed.get(cluster).unwrap_or(&self.base).clone();
        layers.then(Layer::from_tags(tags)).resolve(cluster)
    }
}

/// The answer of [`TickConfig::manages`].
#[derive(Debug, Clone, PartialEq)]
pub enum Management {
    Managed,
    /// Tagged `ecs-scaler:enabled=false`.
    Paused,
    /// Not listed and not tagged.
    Ignored,
    /// The enabled tag is neither true nor false.
    Invalid(ClusterConfigError),
}
