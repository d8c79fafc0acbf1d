//! scale-status: every minute, one compound `ScaleStatus` datapoint per managed ECS cluster.
//!
//! [`evaluate`] reads the clusters and decides (no writes; the CLI's `status` calls it too), [`run`] also
//! publishes and logs, and [`handle`] is the Lambda entry point: event in, [`Summary`] out.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_lambda_events::cloudwatch_events::CloudWatchEvent;
use chrono::{DateTime, Duration, Utc};
use ecs_scaler_core::config::{
    ClusterConfigError, ConfigError, EnvConfig, Management, ScheduleInput, TickConfig, cluster_name,
};
use ecs_scaler_core::ports::{AwsError, ClusterMetric, EcsApi, MetricUnit, MetricsApi, ReservationSeries};
use ecs_scaler_core::scale::{PlacementCheck, Unplaceable, check_placement, is_idle, placement_failures};
use ecs_scaler_core::{
    ClusterFacts, ClusterReading, ClusterSettings, Decision, Observation, Placement, Reason, Resources, ScaleStatus,
    Service,
};
use futures::{StreamExt, TryStreamExt};
use lambda_runtime::Diagnostic;
use serde::Serialize;
use serde_json::Value;

/// The metric this Lambda publishes.
pub const METRIC_NAME: &str = "ScaleStatus";
/// Clusters whose services are read at once for the placement check.
const CONCURRENT_PLACEMENT_CHECKS: usize = 8;

/// Why a tick could do nothing useful. The Lambda reports these as failed invocations.
#[derive(Debug, thiserror::Error)]
pub enum TickError {
    #[error("the event is not a Scheduled Event or schedule input: {0}")]
    Event(String),
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error(
        "no managed clusters: set CLUSTERS, list clusters in the schedule input, or tag a cluster ecs-scaler:enabled=true"
    )]
    NoClusters,
    #[error("could not look up the clusters: {0}")]
    Lookup(AwsError),
    #[error("no cluster could be evaluated ({0})")]
    NothingEvaluated(String),
    #[error("decisions were made but not published: {0}")]
    Publish(AwsError),
}

impl From<TickError> for Diagnostic {
    fn from(error: TickError) -> Self {
        let kind = match &error {
            TickError::Event(_) => "BadEvent",
            TickError::Config(_) => "BadConfig",
            TickError::NoClusters => "NoClusters",
            TickError::Lookup(_) => "LookupFailed",
            TickError::NothingEvaluated(_) => "NothingEvaluated",
            TickError::Publish(_) => "PublishFailed",
        };
        Diagnostic { error_type: format!("ScaleStatus.{kind}"), error_message: error.to_string() }
    }
}

/// One line of the decision table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterReport {
    pub cluster: String,
    /// CPU reservation (%) the decision used, when fresh.
    pub cpu: Option<f64>,
    pub memory: Option<f64>,
    /// Registered container instances.
    pub instances: Option<u32>,
    /// DRAINING ones among them, when the scale-down guard needed to know.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub draining: Option<u32>,
    /// The published value; `None` when nothing was published.
    pub scale_status: Option<ScaleStatus>,
    pub reason: Reason,
    pub detail: String,
    /// Short services whose tasks fit no registered instance (reason `unplaceable_tasks`): reported, never
    /// scaled for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unplaceable: Vec<Unplaceable>,
    /// The layered settings, with where each came from; absent when the configuration was invalid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<ClusterSettings>,
}

impl ClusterReport {
    fn new(cluster: &str, decision: Decision) -> Self {
        Self {
            cluster: cluster.to_owned(),
            cpu: None,
            memory: None,
            instances: None,
            draining: None,
            scale_status: decision.status,
            reason: decision.reason,
            detail: decision.detail,
            unplaceable: Vec::new(),
            settings: None,
        }
    }

    fn config_error(error: &ClusterConfigError) -> Self {
        Self::new(&error.cluster, Decision::config_error(error.error.to_string()))
    }

    /// The structured log line: one per cluster per tick.
    pub fn log(&self) {
        let level_is_warn = matches!(self.reason, Reason::ConfigError | Reason::ReadFailed);
        macro_rules! line {
            ($level:ident) => {
                tracing::$level!(
                    cluster = %self.cluster,
                    cpu = self.cpu,
                    memory = self.memory,
                    instances = self.instances,
                    scale_status = self.scale_status.map(|s| s as u8),
                    reason = %self.reason,
                    detail = %self.detail,
                    "scale decision"
                )
            };
        }
        if level_is_warn {
            line!(warn)
        } else {
            line!(info)
        }
        for unplaceable in &self.unplaceable {
            tracing::warn!(
                cluster = %self.cluster,
                service = %unplaceable.service,
                reason = %Reason::UnplaceableTasks,
                detail = %unplaceable,
                "task fits no container instance"
            );
        }
    }
}

/// What the Lambda returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub namespace: String,
    /// ScaleStatus datapoints published.
    pub emitted: usize,
    pub put_metric_data_calls: usize,
    pub clusters: Vec<ClusterReport>,
}

/// The decisions of one tick, before publishing.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub clusters: Vec<ClusterReport>,
}

/// Read the schedule input out of a Lambda event: a plain EventBridge "Scheduled Event" carries none; anything
/// else must be the rule's constant input (or empty, for a manual test invoke).
pub fn schedule_input(event: &Value) -> Result<ScheduleInput, TickError> {
    match event {
        Value::Null => return Ok(ScheduleInput::default()),
        Value::Object(fields) if fields.is_empty() => return Ok(ScheduleInput::default()),
        Value::Object(fields) if fields.contains_key("detail-type") => {
            let scheduled: CloudWatchEvent =
                serde_json::from_value(event.clone()).map_err(|e| TickError::Event(e.to_string()))?;
            return match scheduled.detail_type.as_deref() {
                Some("Scheduled Event") => Ok(ScheduleInput::default()),
                other => Err(TickError::Event(format!(
                    "detail-type {:?} from source {:?} is not handled; expected \"Scheduled Event\"",
                    other.unwrap_or_default(),
                    scheduled.source.unwrap_or_default()
                ))),
            };
        }
        Value::Object(_) => {}
        other => {
            let kind = match other {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                _ => "a boolean",
            };
            return Err(TickError::Event(format!("expected a JSON object, got {kind}")));
        }
    }
    serde_json::from_value(event.clone()).map_err(|e| TickError::Event(e.to_string()))
}

/// Read every managed cluster and decide its ScaleStatus. Publishes nothing.
pub async fn evaluate<M: MetricsApi, E: EcsApi>(
    metrics: &M,
    ecs: &E,
    config: &TickConfig,
    now: DateTime<Utc>,
) -> Result<Evaluation, TickError> {
    let mut names: BTreeSet<String> = config.listed.keys().cloned().collect();
    if config.discovers() {
        let arns = ecs.cluster_arns().await.map_err(TickError::Lookup)?;
        names.extend(arns.iter().map(|arn| cluster_name(arn).to_owned()));
    }
    if names.is_empty() {
        return Err(TickError::NoClusters);
    }
    let names: Vec<String> = names.into_iter().collect();
    let (found, missing) = ecs.describe_clusters(&names).await.map_err(TickError::Lookup)?;

    let mut reports: BTreeMap<String, ClusterReport> = BTreeMap::new();
    let missing_reasons: HashMap<&str, &str> = missing.iter().map(|m| (m.name.as_str(), m.reason.as_str())).collect();
    for name in config.listed.keys().filter(|name| !found.iter().any(|f| &f.name == *name)) {
        let reason = missing_reasons.get(name.as_str()).copied().unwrap_or("not returned by DescribeClusters");
        let error = ConfigError::UnknownCluster { reason: reason.to_owned() };
        reports.insert(name.clone(), ClusterReport::config_error(&ClusterConfigError { cluster: name.clone(), error }));
    }

    let mut candidates = Vec::new();
    for facts in found {
        match config.manages(&facts.name, &facts.tags) {
            Management::Ignored => continue,
            Management::Paused => {
                reports.insert(facts.name.clone(), ClusterReport::new(&facts.name, Decision::paused()));
            }
            Management::Invalid(error) => {
                reports.insert(facts.name.clone(), ClusterReport::config_error(&error));
            }
            Management::Managed if facts.status != "ACTIVE" => {
                let error = ConfigError::InactiveCluster { status: facts.status.clone() };
                let error = ClusterConfigError { cluster: facts.name.clone(), error };
                reports.insert(facts.name.clone(), ClusterReport::config_error(&error));
            }
            Management::Managed => match config.settings(&facts.name, &facts.tags) {
                Ok(settings) => candidates.push((facts, settings)),
                Err(error) => {
                    reports.insert(facts.name.clone(), ClusterReport::config_error(&error));
                }
            },
        }
    }

    let candidate_names: Vec<String> = candidates.iter().map(|(facts, _)| facts.name.clone()).collect();
    let start = now - Duration::seconds(i64::from(config.lookback_seconds));
    let mut reservations = metrics.reservations(&candidate_names, start, now).await;
    let assessments = candidates.into_iter().map(|(facts, settings)| {
        let series = reservations
            .remove(&facts.name)
            .unwrap_or_else(|| Err(AwsError::malformed("GetMetricData", "no result for this cluster")));
        assess(ecs, facts, settings, series, config, now)
    });
    let assessed: Vec<ClusterReport> =
        futures::stream::iter(assessments).buffer_unordered(CONCURRENT_PLACEMENT_CHECKS).collect().await;
    reports.extend(assessed.into_iter().map(|report| (report.cluster.clone(), report)));
    Ok(Evaluation { clusters: reports.into_values().collect() })
}

/// Decide one cluster from its reservation series. A failed read gives no status: a wrong 0 removes capacity.
async fn assess<E: EcsApi>(
    ecs: &E,
    facts: ClusterFacts,
    settings: ClusterSettings,
    series: Result<ReservationSeries, AwsError>,
    config: &TickConfig,
    now: DateTime<Utc>,
) -> ClusterReport {
    let (reading, unplaceable, decision) = match read(ecs, &facts, &settings, series, config, now).await {
        Ok((reading, check)) => {
            let decision = settings.rule().decide(&reading);
            (Some(reading), check.unplaceable, decision)
        }
        Err(error) => (None, Vec::new(), Decision::read_failed(error.to_string())),
    };
    ClusterReport {
        cpu: reading.as_ref().and_then(|r| r.cpu.value()),
        memory: reading.as_ref().and_then(|r| r.memory.value()),
        instances: Some(facts.registered_instances),
        draining: reading.as_ref().and_then(|r| r.draining),
        unplaceable,
        settings: Some(settings),
        ..ClusterReport::new(&facts.name, decision)
    }
}

/// Everything the rule needs about one cluster, read only where it can change the answer:
/// - the services, for the placement check (unless a reservation already says scale up) and to tell an idle
///   cluster from one whose tasks cannot start;
/// - for services that failed placement, their task definitions (one DescribeTaskDefinition each) and the
///   registered instances, to tell what more capacity would place from what it never would;
/// - the DRAINING instances, one page, only when the scale-down guard is consulted.
async fn read<E: EcsApi>(
    ecs: &E,
    facts: &ClusterFacts,
    settings: &ClusterSettings,
    series: Result<ReservationSeries, AwsError>,
    config: &TickConfig,
    now: DateTime<Utc>,
) -> Result<(ClusterReading, PlacementCheck), AwsError> {
    let series = series?;
    let stale_after = Duration::seconds(i64::from(config.stale_after_seconds));
    let rule = settings.rule();
    let mut reading = ClusterReading {
        cpu: Observation::newest(&series.cpu, now, stale_after),
        memory: Observation::newest(&series.memory, now, stale_after),
        registered: facts.registered_instances,
        draining: None,
        placement: Placement::NotChecked,
    };
    let check_placement_now = settings.placement_check.value && rule.placement_matters(&reading);
    let services =
        if check_placement_now || facts.may_be_idle() { Some(ecs.services(&facts.name).await?) } else { None };
    if services.as_deref().is_some_and(|services| is_idle(facts, services)) {
        reading.cpu = Observation::Idle;
        reading.memory = Observation::Idle;
    }
    let mut check = PlacementCheck::default();
    if let Some(services) = services.as_deref().filter(|_| check_placement_now) {
        let window = Duration::seconds(i64::from(config.lookback_seconds));
        let failures = placement_failures(services, now, window);
        if !failures.is_empty() {
            let (instances, sizes) =
                futures::try_join!(ecs.container_instances(&facts.name), task_sizes(ecs, &failures))?;
            let registered: Vec<Resources> = instances.iter().filter_map(|i| i.registered).collect();
            check = check_placement(&failures, &sizes, &registered);
        }
        reading.placement = check.placement();
    }
    if rule.consults_guard(&reading) {
        reading.draining = ecs.draining_instances(&facts.name).await?;
    }
    Ok((reading, check))
}

/// What one task of each failing service reserves, by task definition: one DescribeTaskDefinition per distinct
/// definition. A definition whose size cannot be told is left out (its service then counts as unplaced).
async fn task_sizes<E: EcsApi>(ecs: &E, failures: &[&Service]) -> Result<HashMap<String, Resources>, AwsError> {
    let arns: BTreeSet<&str> = failures.iter().map(|s| s.task_definition.as_str()).filter(|a| !a.is_empty()).collect();
    let definitions: Vec<_> = futures::stream::iter(arns.into_iter().map(|arn| ecs.task_definition(arn)))
        .buffer_unordered(CONCURRENT_PLACEMENT_CHECKS)
        .try_collect()
        .await?;
    let mut sizes = HashMap::new();
    for definition in definitions {
        match definition.reservation() {
            Ok(size) => {
                sizes.insert(definition.arn, size);
            }
            Err(why) => tracing::warn!(task_definition = %definition.arn, why = %why, "task size unknown"),
        }
    }
    Ok(sizes)
}

/// Evaluate, log each decision once, and publish the ScaleStatus datapoints in as few calls as possible.
pub async fn run<M: MetricsApi, E: EcsApi>(
    metrics: &M,
    ecs: &E,
    config: &TickConfig,
    now: DateTime<Utc>,
) -> Result<Summary, TickError> {
    let evaluation = evaluate(metrics, ecs, config, now).await?;
    for report in &evaluation.clusters {
        report.log();
    }
    let datapoints: Vec<ClusterMetric> = evaluation
        .clusters
        .iter()
        .filter_map(|report| {
            Some(ClusterMetric {
                name: METRIC_NAME,
                cluster: report.cluster.clone(),
                value: report.scale_status?.metric_value(),
                unit: MetricUnit::None,
                timestamp: now,
            })
        })
        .collect();
    let failed = evaluation.clusters.iter().filter(|r| matches!(r.reason, Reason::ConfigError | Reason::ReadFailed));
    let failed = failed.count();
    if failed > 0 && failed == evaluation.clusters.len() {
        return Err(TickError::NothingEvaluated(format!(
            "{failed} of {failed} clusters had configuration errors or failed reads; see the log"
        )));
    }
    let calls = if datapoints.is_empty() {
        0
    } else {
        metrics.put(&config.namespace.value, &datapoints).await.map_err(TickError::Publish)?
    };
    tracing::info!(namespace = %config.namespace.value, emitted = datapoints.len(), clusters = evaluation.clusters.len(), "tick done");
    Ok(Summary {
        namespace: config.namespace.value.clone(),
        emitted: datapoints.len(),
        put_metric_data_calls: calls,
        clusters: evaluation.clusters,
    })
}

/// The Lambda handler: layer the configuration from `env` and the event, then [`run`].
pub async fn handle<M: MetricsApi, E: EcsApi>(
    event: &Value,
    env: &EnvConfig,
    metrics: &M,
    ecs: &E,
    now: DateTime<Utc>,
) -> Result<Summary, TickError> {
    let input = schedule_input(event)?;
    let config = TickConfig::build(env, &input)?;
    run(metrics, ecs, &config, now).await
}
