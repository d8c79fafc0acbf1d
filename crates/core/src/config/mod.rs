//! Configuration layering for scale-status.
//!
//! Four layers, later wins, field by field: built-in [`defaults`](Layer::defaults), environment variables
//! ([`EnvConfig`]), the schedule's constant input ([`ScheduleInput`]) and tags on the ECS cluster
//! ([`Layer::from_tags`]). A layer that could not parse a value carries the error *as its value*, so a bad
//! `CPU_MIN` only hurts clusters that do not override it, and every error names the cluster, key and value.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

pub mod disruption;
mod sources;

pub use sources::*;

/// CloudWatch namespace the ScaleStatus and drain metrics go to.
pub const DEFAULT_NAMESPACE: &str = "Curalate/AutoScaling";
/// Default reservation thresholds, in percent: scale up at 85% (headroom for a deploy's extra copies), scale
/// down below 60%, and let the scale-down guard stop flapping near max. The simulator (README, "Simulating
/// policies") shows what other values cost; none meets every target on every scenario.
pub const DEFAULT_CPU: Thresholds = Thresholds { min: 60.0, max: 85.0 };
pub const DEFAULT_MEMORY: Thresholds = Thresholds { min: 60.0, max: 85.0 };
/// Datapoints older than this are stale; "unable to place a task" events older than this are ignored.
pub const DEFAULT_LOOKBACK_SECONDS: u32 = 600;
/// A reservation datapoint older than this does not count. ECS publishes every minute; CloudWatch can lag.
pub const DEFAULT_STALE_AFTER_SECONDS: u32 = 300;

pub const TAG_ENABLED: &str = "ecs-scaler:enabled";
pub const TAG_CPU_MIN: &str = "ecs-scaler:cpu-min";
pub const TAG_CPU_MAX: &str = "ecs-scaler:cpu-max";
pub const TAG_MEMORY_MIN: &str = "ecs-scaler:memory-min";
pub const TAG_MEMORY_MAX: &str = "ecs-scaler:memory-max";
pub const TAG_CONSOLIDATE: &str = "ecs-scaler:consolidate";
pub const TAG_CONSOLIDATE_HEADROOM: &str = "ecs-scaler:consolidate-headroom";
pub const TAG_DISRUPTION_BUDGET: &str = "ecs-scaler:disruption-budget";
pub const TAG_DISRUPTION_WINDOWS: &str = "ecs-scaler:disruption-windows";
/// The service tag that keeps voluntary disruption (consolidation, the surplus, a scale-in's choice) away from
/// every instance running one of the service's tasks.
pub const TAG_DO_NOT_DISRUPT: &str = "ecs-scaler:do-not-disrupt";
/// Default of `CONSOLIDATE_HEADROOM`: consolidation leaves each reservation this many points below its max.
pub const DEFAULT_CONSOLIDATE_HEADROOM: f64 = 5.0;

/// A min/max pair of reservation percentages.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub min: f64,
    pub max: f64,
}

impl std::str::FromStr for Thresholds {
    type Err = String;

    /// `MIN,MAX` in percent, each checked as every other source of a threshold is, and MIN below MAX (the
    /// CLI's value parser).
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let (min, max) = raw.split_once(',').ok_or_else(|| format!("{raw:?}: expected MIN,MAX"))?;
        let percent = |s: &str, end| parse_percent(s, Origin::Argument(end)).map_err(|e| e.to_string());
        let (min, max) = (percent(min, "MIN")?.value, percent(max, "MAX")?.value);
        if min < max { Ok(Thresholds { min, max }) } else { Err(format!("{raw:?}: MIN must be below MAX")) }
    }
}

/// The two reservation metrics a cluster is scaled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    Cpu,
    Memory,
}

impl Resource {
    pub const ALL: [Resource; 2] = [Resource::Cpu, Resource::Memory];

    /// The `AWS/ECS` metric name for this resource.
    pub fn metric_name(self) -> &'static str {
        match self {
            Resource::Cpu => "CPUReservation",
            Resource::Memory => "MemoryReservation",
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Resource::Cpu => "cpu",
            Resource::Memory => "memory",
        })
    }
}

/// Where a setting came from, for error messages and the CLI's "thresholds and their source".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    Env(&'static str),
    /// A JSON path into the schedule's constant input, e.g. `clusters[prod].cpu.min`.
    Event(String),
    Tag(&'static str),
    /// A command-line argument (the CLI's MIN,MAX pairs).
    Argument(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::Env(key) => write!(f, "env {key}"),
            Origin::Event(path) => write!(f, "event {path}"),
            Origin::Tag(key) => write!(f, "tag {key}"),
            Origin::Argument(name) => write!(f, "argument {name}"),
        }
    }
}

impl Serialize for Origin {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A value and the layer it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sourced<T> {
    pub value: T,
    pub origin: Origin,
}

impl<T> Sourced<T> {
    pub fn new(value: T, origin: Origin) -> Self {
        Self { value, origin }
    }
}

/// A configuration mistake. Every variant names the key (through its [`Origin`]) and the offending value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("{origin}={value:?} is not a number")]
    NotANumber { origin: Origin, value: String },
    #[error("{origin}={value} is outside 0-100")]
    OutOfRange { origin: Origin, value: f64 },
    #[error("{origin}={value:?} is not one of {allowed}")]
    NotOneOf { origin: Origin, value: String, allowed: &'static str },
    #[error("{origin}={value:?} is not true or false")]
    NotABool { origin: Origin, value: String },
    #[error("{origin}={value:?} is not a whole number of seconds between {min} and {max}")]
    BadSeconds { origin: Origin, value: String, min: u32, max: u32 },
    #[error(
        "{resource} min {min} ({min_origin}) must be below max {max} ({max_origin})",
        min = min.value,
        min_origin = min.origin,
        max = max.value,
        max_origin = max.origin
    )]
    MinNotBelowMax { resource: Resource, min: Sourced<f64>, max: Sourced<f64> },
    #[error(
        "{origin}={value:?} is not a valid CloudWatch namespace (1-255 printable characters, not starting with \"AWS/\")"
    )]
    BadNamespace { origin: Origin, value: String },
    #[error("the ECS cluster does not exist ({reason})")]
    UnknownCluster { reason: String },
    #[error("the ECS cluster is {status}, not ACTIVE")]
    InactiveCluster { status: String },
    #[error("the schedule input is not valid: {0}")]
    BadEvent(String),
    #[error("{origin}={value:?}: {why}")]
    Invalid { origin: Origin, value: String, why: String },
}

/// A [`ConfigError`] attributed to one cluster: `cluster "prod": tag ecs-scaler:cpu-min="x" is not a number`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cluster {cluster:?}: {error}")]
pub struct ClusterConfigError {
    pub cluster: String,
    pub error: ConfigError,
}

/// One layer's say on a setting: `None` when the layer is silent, `Some(Err)` when it spoke nonsense.
pub type Setting<T> = Option<Result<Sourced<T>, ConfigError>>;

/// What one configuration layer says about a cluster's knobs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layer {
    pub cpu_min: Setting<f64>,
    pub cpu_max: Setting<f64>,
    pub memory_min: Setting<f64>,
    pub memory_max: Setting<f64>,
    pub placement_check: Setting<bool>,
    pub consolidate: Setting<bool>,
    pub consolidate_headroom: Setting<f64>,
    pub disruption_budget: Setting<disruption::Budget>,
    pub disruption_windows: Setting<disruption::Windows>,
}

/// Parse a setting with its type's `FromStr`, naming the key and value when it fails.
pub fn parse_with<T: std::str::FromStr<Err = String>>(raw: &str, origin: Origin) -> Result<Sourced<T>, ConfigError> {
    raw.parse::<T>().map(|value| Sourced::new(value, origin.clone())).map_err(|why| ConfigError::Invalid {
        origin,
        value: raw.to_owned(),
        why,
    })
}

impl Layer {
    /// `later` overrides `self`, knob by knob.
    pub fn then(self, later: Layer) -> Layer {
        Layer {
            cpu_min: later.cpu_min.or(self.cpu_min),
            cpu_max: later.cpu_max.or(self.cpu_max),
            memory_min: later.memory_min.or(self.memory_min),
            memory_max: later.memory_max.or(self.memory_max),
            placement_check: later.placement_check.or(self.placement_check),
            consolidate: later.consolidate.or(self.consolidate),
            consolidate_headroom: later.consolidate_headroom.or(self.consolidate_headroom),
            disruption_budget: later.disruption_budget.or(self.disruption_budget),
            disruption_windows: later.disruption_windows.or(self.disruption_windows),
        }
    }

    /// The `ecs-scaler:*` threshold tags of an ECS cluster. Unrelated tags are ignored.
    pub fn from_tags(tags: &HashMap<String, String>) -> Self {
        let tag = |key: &'static str| tags.get(key).map(|raw| parse_percent(raw, Origin::Tag(key)));
        Self {
            cpu_min: tag(TAG_CPU_MIN),
            cpu_max: tag(TAG_CPU_MAX),
            memory_min: tag(TAG_MEMORY_MIN),
            memory_max: tag(TAG_MEMORY_MAX),
            placement_check: None,
            consolidate: tags.get(TAG_CONSOLIDATE).map(|raw| parse_bool(raw, Origin::Tag(TAG_CONSOLIDATE))),
            consolidate_headroom: tag(TAG_CONSOLIDATE_HEADROOM),
            disruption_budget: tags
                .get(TAG_DISRUPTION_BUDGET)
                .map(|raw| parse_with(raw, Origin::Tag(TAG_DISRUPTION_BUDGET))),
            disruption_windows: tags
                .get(TAG_DISRUPTION_WINDOWS)
                .map(|raw| parse_with(raw, Origin::Tag(TAG_DISRUPTION_WINDOWS))),
        }
    }

    /// Merge the layers' final word into validated settings for `cluster`; knobs no layer set take the
    /// built-in defaults.
    pub fn resolve(self, cluster: &str) -> Result<ClusterSettings, ClusterConfigError> {
        let fail = |error| ClusterConfigError { cluster: cluster.to_owned(), error };
        let or_default = |setting: Setting<f64>, default: f64| {
            setting.unwrap_or_else(|| Ok(Sourced::new(default, Origin::Default))).map_err(fail)
        };
        let cpu =
            pair(Resource::Cpu, or_default(self.cpu_min, DEFAULT_CPU.min)?, or_default(self.cpu_max, DEFAULT_CPU.max)?);
        let memory = pair(
            Resource::Memory,
            or_default(self.memory_min, DEFAULT_MEMORY.min)?,
            or_default(self.memory_max, DEFAULT_MEMORY.max)?,
        );
        let on_by_default = |setting: Setting<bool>| setting.unwrap_or_else(|| Ok(Sourced::new(true, Origin::Default)));
        Ok(ClusterSettings {
            name: cluster.to_owned(),
            cpu: cpu.map_err(fail)?,
            memory: memory.map_err(fail)?,
            placement_check: on_by_default(self.placement_check).map_err(fail)?,
            consolidate: on_by_default(self.consolidate).map_err(fail)?,
            consolidate_headroom: or_default(self.consolidate_headroom, DEFAULT_CONSOLIDATE_HEADROOM)?,
            disruption_budget: self
                .disruption_budget
                .unwrap_or_else(|| Ok(Sourced::new(disruption::DEFAULT_BUDGET, Origin::Default)))
                .map_err(fail)?,
            disruption_windows: self
                .disruption_windows
                .unwrap_or_else(|| Ok(Sourced::new(disruption::Windows::default(), Origin::Default)))
                .map_err(fail)?,
        })
    }
}

fn pair(resource: Resource, min: Sourced<f64>, max: Sourced<f64>) -> Result<SourcedThresholds, ConfigError> {
    if min.value < max.value {
        Ok(SourcedThresholds { min, max })
    } else {
        Err(ConfigError::MinNotBelowMax { resource, min, max })
    }
}

/// Thresholds whose ends remember where they came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourcedThresholds {
    pub min: Sourced<f64>,
    pub max: Sourced<f64>,
}

impl SourcedThresholds {
    pub fn values(&self) -> Thresholds {
        Thresholds { min: self.min.value, max: self.max.value }
    }
}

/// The validated, fully layered settings of one managed cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterSettings {
    pub name: String,
    pub cpu: SourcedThresholds,
    pub memory: SourcedThresholds,
    pub placement_check: Sourced<bool>,
    /// Whether a partly used instance whose tasks fit elsewhere may be removed (ScaleStatus 0, reason
    /// `consolidation`). Env `CONSOLIDATE`, tag `ecs-scaler:consolidate`; on by default.
    pub consolidate: Sourced<bool>,
    /// Points below each max that consolidation leaves: a removal is judged against `max − headroom`, so the
    /// next small rise does not turn it into a scale-up. Env `CONSOLIDATE_HEADROOM`, tag
    /// `ecs-scaler:consolidate-headroom` (0–100); 5 by default.
    pub consolidate_headroom: Sourced<f64>,
    /// How many instances with tasks may drain voluntarily at once (consolidation and the surplus together).
    /// Env `DISRUPTION_BUDGET`, tag `ecs-scaler:disruption-budget`; 10 % of the ACTIVE instances by default.
    pub disruption_budget: Sourced<disruption::Budget>,
    /// When voluntary disruption is off. Env `DISRUPTION_WINDOWS`, tag `ecs-scaler:disruption-windows`; none
    /// by default.
    pub disruption_windows: Sourced<disruption::Windows>,
}

impl ClusterSettings {
    pub fn thresholds(&self, resource: Resource) -> Thresholds {
        match resource {
            Resource::Cpu => self.cpu.values(),
            Resource::Memory => self.memory.values(),
        }
    }
}

/// Parse a reservation percentage: a finite number within 0–100.
pub fn parse_percent(raw: &str, origin: Origin) -> Result<Sourced<f64>, ConfigError> {
    let value: f64 =
        raw.trim().parse().map_err(|_| ConfigError::NotANumber { origin: origin.clone(), value: raw.to_owned() })?;
    check_percent(value, origin)
}

fn check_percent(value: f64, origin: Origin) -> Result<Sourced<f64>, ConfigError> {
    if value.is_finite() && (0.0..=100.0).contains(&value) {
        Ok(Sourced::new(value, origin))
    } else if value.is_finite() {
        Err(ConfigError::OutOfRange { origin, value })
    } else {
        Err(ConfigError::NotANumber { origin, value: value.to_string() })
    }
}

/// Parse `true`/`false` (any case, surrounding blanks ignored).
pub fn parse_bool(raw: &str, origin: Origin) -> Result<Sourced<bool>, ConfigError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(Sourced::new(true, origin)),
        "false" => Ok(Sourced::new(false, origin)),
        _ => Err(ConfigError::NotABool { origin, value: raw.to_owned() }),
    }
}

/// Parse a whole number of seconds within `min..=max`.
pub fn parse_seconds(raw: &str, origin: Origin, min: u32, max: u32) -> Result<u32, ConfigError> {
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|seconds| (min..=max).contains(seconds))
        .ok_or_else(|| ConfigError::BadSeconds { origin, value: raw.to_owned(), min, max })
}

/// Validate a CloudWatch namespace for our metrics.
pub fn check_namespace(value: &str, origin: Origin) -> Result<Sourced<String>, ConfigError> {
    let printable = value.chars().all(|c| c.is_ascii() && !c.is_ascii_control());
    if !value.is_empty() && value.len() <= 255 && printable && !value.starts_with("AWS/") {
        Ok(Sourced::new(value.to_owned(), origin))
    } else {
        Err(ConfigError::BadNamespace { origin, value: value.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn env(pairs: &[(&str, &str)]) -> EnvConfig {
        EnvConfig::from_vars(pairs.iter().copied())
    }

    fn input(json: &str) -> ScheduleInput {
        serde_json::from_str(json).expect("valid test input")
    }

    #[test]
    fn defaults_apply_when_nothing_is_configured() {
        let config = TickConfig::build(&env(&[("CLUSTERS", "prod")]), &ScheduleInput::default()).unwrap();
        let settings = config.settings("prod", &HashMap::new()).unwrap();
        assert_eq!(settings.cpu.values(), DEFAULT_CPU);
        assert_eq!(settings.memory.values(), DEFAULT_MEMORY);
        assert_eq!(settings.cpu.min.origin, Origin::Default);
        assert!(settings.placement_check.value);
        assert_eq!(config.namespace.value, DEFAULT_NAMESPACE);
    }

    #[test]
    fn later_layers_win_knob_by_knob() {
        let env = env(&[("CLUSTERS", "prod"), ("CPU_MIN", "30"), ("CPU_MAX", "70"), ("MEMORY_MAX", "90")]);
        let input = input(r#"{"clusters":[{"name":"prod","cpu":{"max":80}}]}"#);
        let config = TickConfig::build(&env, &input).unwrap();
        let settings = config.settings("prod", &tags(&[(TAG_CPU_MIN, "35")])).unwrap();
        assert_eq!(settings.cpu.min, Sourced::new(35.0, Origin::Tag(TAG_CPU_MIN)));
        assert_eq!(settings.cpu.max, Sourced::new(80.0, Origin::Event("clusters[prod].cpu.max".into())));
        assert_eq!(settings.memory.min, Sourced::new(DEFAULT_MEMORY.min, Origin::Default));
        assert_eq!(settings.memory.max, Sourced::new(90.0, Origin::Env("MEMORY_MAX")));
    }

    #[test]
    fn event_cluster_list_replaces_the_environment_list() {
        let config = TickConfig::build(&env(&[("CLUSTERS", "a,b")]), &input(r#"{"clusters":[{"name":"c"}]}"#)).unwrap();
        assert_eq!(config.listed.keys().collect::<Vec<_>>(), ["c"]);
    }

    #[test]
    fn cluster_list_is_trimmed_deduplicated_and_accepts_arns() {
        let env = env(&[("CLUSTERS", " a, b,,arn:aws:ecs:us-east-1:123456789012:cluster/c ,a")]);
        assert_eq!(env.clusters, ["a", "b", "c"]);
    }

    #[test]
    fn empty_environment_values_count_as_unset() {
        let env = env(&[("CPU_MIN", ""), ("SCALE_NAMESPACE", "  ")]);
        assert_eq!(env.layer.cpu_min, None);
        assert_eq!(env.namespace, None);
    }

    #[test]
    fn a_tag_that_is_not_a_number_names_cluster_key_and_value() {
        let config = TickConfig::build(&env(&[("CLUSTERS", "prod")]), &ScheduleInput::default()).unwrap();
        let error = config.settings("prod", &tags(&[(TAG_CPU_MAX, "eighty")])).unwrap_err();
        assert_eq!(error.to_string(), r#"cluster "prod": tag ecs-scaler:cpu-max="eighty" is not a number"#);
    }

    #[test]
    fn min_not_below_max_names_both_origins() {
        let config =
            TickConfig::build(&env(&[("CLUSTERS", "prod"), ("CPU_MAX", "50")]), &ScheduleInput::default()).unwrap();
        let error = config.settings("prod", &tags(&[(TAG_CPU_MIN, "50")])).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"cluster "prod": cpu min 50 (tag ecs-scaler:cpu-min) must be below max 50 (env CPU_MAX)"#
        );
    }

    #[test]
    fn values_outside_0_to_100_are_rejected_wherever_they_come_from() {
        let env = env(&[("CLUSTERS", "prod"), ("MEMORY_MAX", "101")]);
        let config = TickConfig::build(&env, &ScheduleInput::default()).unwrap();
        let error = config.settings("prod", &HashMap::new()).unwrap_err();
        assert_eq!(error.to_string(), r#"cluster "prod": env MEMORY_MAX=101 is outside 0-100"#);

        let input = input(r#"{"clusters":[{"name":"x","cpu":{"min":-1}}]}"#);
        let error = TickConfig::build(&EnvConfig::from_vars(Vec::<(String, String)>::new()), &input)
            .unwrap()
            .settings("x", &HashMap::new())
            .unwrap_err();
        assert_eq!(error.to_string(), r#"cluster "x": event clusters[x].cpu.min=-1 is outside 0-100"#);
    }

    #[test]
    fn a_bad_event_value_hurts_only_its_cluster() {
        let input = input(r#"{"clusters":[{"name":"bad","memory":{"min":"40"}},{"name":"good"}]}"#);
        let config = TickConfig::build(&env(&[]), &input).unwrap();
        let error = config.settings("bad", &HashMap::new()).unwrap_err();
        assert_eq!(error.to_string(), r#"cluster "bad": event clusters[bad].memory.min="\"40\"" is not a number"#);
        assert!(config.settings("good", &HashMap::new()).is_ok());
    }

    #[test]
    fn a_bad_environment_value_is_forgiven_where_a_later_layer_overrides_it() {
        let config =
            TickConfig::build(&env(&[("CLUSTERS", "a,b"), ("CPU_MIN", "low")]), &ScheduleInput::default()).unwrap();
        assert!(config.settings("a", &tags(&[(TAG_CPU_MIN, "20")])).is_ok());
        let error = config.settings("b", &HashMap::new()).unwrap_err();
        assert_eq!(error.to_string(), r#"cluster "b": env CPU_MIN="low" is not a number"#);
    }

    #[test]
    fn placement_check_can_be_switched_off_and_must_be_a_bool() {
        let off =
            TickConfig::build(&env(&[("CLUSTERS", "a"), ("PLACEMENT_CHECK", "FALSE")]), &ScheduleInput::default())
                .unwrap()
                .settings("a", &HashMap::new())
                .unwrap();
        assert!(!off.placement_check.value);
        let error =
            TickConfig::build(&env(&[("CLUSTERS", "a"), ("PLACEMENT_CHECK", "yes")]), &ScheduleInput::default())
                .unwrap()
                .settings("a", &HashMap::new())
                .unwrap_err();
        assert_eq!(error.to_string(), r#"cluster "a": env PLACEMENT_CHECK="yes" is not true or false"#);
    }

    #[test]
    fn namespace_comes_from_event_then_env_then_default() {
        let env_ns = env(&[("SCALE_NAMESPACE", "Team/Scaling")]);
        assert_eq!(TickConfig::build(&env_ns, &ScheduleInput::default()).unwrap().namespace.value, "Team/Scaling");
        let config = TickConfig::build(&env_ns, &input(r#"{"namespace":"Other"}"#)).unwrap();
        assert_eq!(config.namespace, Sourced::new("Other".to_owned(), Origin::Event("namespace".into())));
    }

    #[test]
    fn a_bad_namespace_fails_the_whole_tick() {
        let error = TickConfig::build(&env(&[("SCALE_NAMESPACE", "AWS/ECS")]), &ScheduleInput::default()).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"env SCALE_NAMESPACE="AWS/ECS" is not a valid CloudWatch namespace (1-255 printable characters, not starting with "AWS/")"#
        );
    }

    #[test]
    fn unknown_event_fields_are_rejected() {
        let error = serde_json::from_str::<ScheduleInput>(r#"{"cluster":[]}"#).unwrap_err();
        assert!(error.to_string().contains("unknown field `cluster`"), "{error}");
    }

    #[test]
    fn bad_lookback_seconds_fail_the_tick() {
        let error = TickConfig::build(&env(&[("LOOKBACK_SECONDS", "5")]), &ScheduleInput::default()).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"env LOOKBACK_SECONDS="5" is not a whole number of seconds between 60 and 86400"#
        );
    }

    #[test]
    fn a_deployment_that_names_its_clusters_manages_exactly_those() {
        let config = TickConfig::build(&env(&[("CLUSTERS", "listed")]), &ScheduleInput::default()).unwrap();
        assert!(!config.discovers());
        assert_eq!(config.manages("listed", &HashMap::new()), Management::Managed);
        assert_eq!(config.manages("other", &HashMap::new()), Management::Ignored);
        // Another deployment's cluster, tagged for discovery, is not this deployment's to publish for.
        assert_eq!(config.manages("other", &tags(&[(TAG_ENABLED, "true")])), Management::Ignored);
        assert_eq!(config.manages("listed", &tags(&[(TAG_ENABLED, "false")])), Management::Paused);
        let Management::Invalid(error) = config.manages("listed", &tags(&[(TAG_ENABLED, "on")])) else {
            panic!("expected an invalid enabled tag");
        };
        assert_eq!(error.to_string(), r#"cluster "listed": tag ecs-scaler:enabled="on" is not true or false"#);
    }

    #[test]
    fn a_deployment_that_names_no_cluster_discovers_them_by_tag() {
        let config = TickConfig::build(&env(&[]), &ScheduleInput::default()).unwrap();
        assert!(config.discovers());
        assert_eq!(config.manages("other", &HashMap::new()), Management::Ignored);
        assert_eq!(config.manages("other", &tags(&[(TAG_ENABLED, "true")])), Management::Managed);
        assert_eq!(config.manages("other", &tags(&[(TAG_ENABLED, "false")])), Management::Paused);
    }
}

#[cfg(test)]
mod consolidation_settings_tests {
    use super::*;

    #[test]
    fn consolidation_headroom_defaults_to_five_and_is_checked_like_a_percentage() {
        let build = |vars: &[(&str, &str)]| {
            let env = EnvConfig::from_vars(vars.iter().copied().chain([("CLUSTERS", "a")]));
            let config = TickConfig::build(&env, &ScheduleInput::default()).unwrap();
            config.settings("a", &HashMap::new())
        };
        let settings = build(&[]).unwrap();
        assert_eq!(settings.consolidate_headroom.value, DEFAULT_CONSOLIDATE_HEADROOM);
        assert!(settings.consolidate.value);
        let settings = build(&[("CONSOLIDATE_HEADROOM", "2.5"), ("CONSOLIDATE", "false")]).unwrap();
        assert_eq!(settings.consolidate_headroom.value, 2.5);
        assert!(!settings.consolidate.value);
        let error = build(&[("CONSOLIDATE_HEADROOM", "lots")]).unwrap_err().to_string();
        assert!(error.contains("CONSOLIDATE_HEADROOM"), "{error}");
        let tags = HashMap::from([(TAG_CONSOLIDATE_HEADROOM.to_owned(), "150".to_owned())]);
        let env = EnvConfig::from_vars([("CLUSTERS", "a")]);
        let error = TickConfig::build(&env, &ScheduleInput::default()).unwrap().settings("a", &tags).unwrap_err();
        assert!(error.to_string().contains(TAG_CONSOLIDATE_HEADROOM), "{error}");
    }
}

#[cfg(test)]
mod threshold_argument_tests {
    use super::*;

    #[test]
    fn a_min_max_argument_parses_and_names_what_is_wrong() {
        assert_eq!("40, 75".parse::<Thresholds>(), Ok(Thresholds { min: 40.0, max: 75.0 }));
        let error = |raw: &str| raw.parse::<Thresholds>().unwrap_err();
        assert!(error("75").contains("expected MIN,MAX"), "{}", error("75"));
        assert!(error("x,75").contains("argument MIN"), "{}", error("x,75"));
        assert!(error("40,101").contains("argument MAX"), "{}", error("40,101"));
        assert!(error("40,NaN").contains("argument MAX"), "{}", error("40,NaN"));
        assert!(error("75,40").contains("MIN must be below MAX"), "{}", error("75,40"));
        assert!(error("60,60").contains("MIN must be below MAX"), "{}", error("60,60"));
    }
}
