//! One tick of scale-status over the ports: which clusters are managed, the reads each cluster's plan asks for,
//! and what gets published. The Lambda, the CLI's `status` and the simulator all run this same code: the Lambda
//! with the AWS SDK behind the ports, the simulator with its simulated world. Every decision is the plan's
//! ([`super::plan`]); this module only reads what it asks for and asks again.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use futures::lock::Mutex;
use serde::Serialize;

use super::capacity::{SHORTFALL_METRIC, SURPLUS_METRIC};
use super::groups::scale_out;
pub use super::groups::{ScaleOut, TAG_SHORTFALL_POLICY, serving_group};
use super::memory::Memory;
use super::placement::Unplaceable;
use super::plan::{Note, Step, Verdict, plan};
use super::read::{Read, Reading};
use super::rule::{Decision, Reason, ScaleStatus};
use crate::arn::cluster_name;
use crate::cluster::ClusterFacts;
use crate::config::{ClusterConfigError, ClusterSettings, ConfigError, Management, TickConfig};
use crate::lifecycle::{AutoScalingGroup, TAG_CLUSTER};
use crate::placement::pack::Shortfall;
use crate::placement::removal::Removal;
use crate::ports::{AutoScalingApi, AwsError, Clock, ClusterMetric, Context, Ec2Api, EcsApi, MetricUnit, MetricsApi};

/// The metric a tick publishes.
pub const METRIC_NAME: &str = "ScaleStatus";
/// Clusters planned at once: a cluster's reads are mostly sequential rounds (services, then instances, then
/// tasks and task definitions), so 300 clusters at 50 ms a call need this many in flight to end within 20 s
/// (`make bench`: 12.9 s from scratch where consolidation reads every task, 3.3 s for steady clusters).
const CONCURRENT_CLUSTERS: usize = 32;
/// Reads of one kind in flight at once within a cluster (task definitions, instances' tasks).
const CONCURRENT_READS: usize = 8;
/// A plan that keeps asking past this many rounds is a bug; the cluster gets no status rather than a loop.
const MAX_ROUNDS: usize = 16;

/// Why a tick could do nothing useful. The Lambda reports these as failed invocations.
#[derive(Debug, thiserror::Error)]
pub enum TickError {
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
    /// What the detail does not say: why a rule did not apply, what could not be read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
    /// Waiting services whose tasks no instance type the groups launch could hold (reason `unplaceable_tasks`):
    /// reported, never scaled for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unplaceable: Vec<Unplaceable>,
    /// Instances the waiting tasks need (published as `InstancesShortfall`); absent when nothing waits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shortfall: Option<Shortfall>,
    /// The instance consolidation would remove (reason `consolidation`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removal: Option<Removal>,
    /// ACTIVE instances that can go at once (published as `InstancesSurplus`; computed when the status is 0).
    pub surplus: u32,
    /// The layered settings, with where each came from; absent when the configuration was invalid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<ClusterSettings>,
    /// When the verdict was last read from scratch, if this tick reused it (nothing it depends on changed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unchanged_since: Option<DateTime<Utc>>,
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
            notes: Vec::new(),
            unplaceable: Vec::new(),
            shortfall: None,
            removal: None,
            surplus: 0,
            settings: None,
            unchanged_since: None,
        }
    }

    fn config_error(error: &ClusterConfigError) -> Self {
        Self::new(&error.cluster, Decision::config_error(error.error.to_string()))
    }

    fn from_verdict(facts: &ClusterFacts, settings: ClusterSettings, verdict: Verdict) -> Self {
        Self {
            cpu: verdict.cpu,
            memory: verdict.memory,
            instances: Some(facts.registered_instances),
            draining: verdict.draining,
            notes: verdict.notes,
            unplaceable: verdict.unplaceable,
            shortfall: verdict.shortfall,
            removal: verdict.removal,
            surplus: verdict.surplus,
            settings: Some(settings),
            ..ClusterReport::new(&facts.name, verdict.decision)
        }
    }

    /// The structured log line: one per cluster per tick, the notes as a JSON array.
    pub fn log(&self) {
        let level_is_warn = matches!(self.reason, Reason::ConfigError | Reason::ReadFailed);
        let notes = serde_json::to_string(&self.notes).unwrap_or_default();
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
                    notes = %notes,
                    shortfall = self.shortfall.as_ref().map(|s| s.instances),
                    surplus = self.surplus,
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
    /// Sized scale-outs asked of Auto Scaling.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scale_outs: Vec<ScaleOut>,
    /// Clusters read from scratch this tick; the others' verdicts held (nothing they depend on changed).
    pub deep_reads: usize,
    /// Clusters left for the next tick (first in line then): the API budget ran out before they were read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deferred: Vec<String>,
}

/// The decisions of one tick, before publishing.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub clusters: Vec<ClusterReport>,
    /// How many clusters were read from scratch.
    pub deep_reads: usize,
    /// The groups tagged `ecs-scaler:cluster`, when some plan read them.
    pub groups: Option<Result<Vec<AutoScalingGroup>, AwsError>>,
}

/// How a tick treats what the process remembers.
#[derive(Debug, Clone, Copy)]
pub struct Recall<'m> {
    pub memory: &'m Memory,
    /// Read every cluster from scratch (a placement-failure event, the CLI).
    pub deep: bool,
}

/// Read every managed cluster and decide its ScaleStatus, from scratch. Publishes nothing.
pub async fn evaluate<E: EcsApi, A: AutoScalingApi, X: Ec2Api, M: MetricsApi, C: Clock>(
    ctx: Context<'_, E, A, X, M, C>,
    config: &TickConfig,
) -> Result<Evaluation, TickError> {
    let memory = Memory::default();
    evaluate_in(ctx, config, None, Recall { memory: &memory, deep: true }).await
}

/// [`evaluate`] for one cluster only (`only`), or all of them: an event about one cluster reads that one.
/// Whether it is managed is decided exactly as for the tick (listed, or tagged when none is listed). `recall`
/// says what the process remembers, and whether to use it.
pub async fn evaluate_in<E: EcsApi, A: AutoScalingApi, X: Ec2Api, M: MetricsApi, C: Clock>(
    ctx: Context<'_, E, A, X, M, C>,
    config: &TickConfig,
    only: Option<&str>,
    recall: Recall<'_>,
) -> Result<Evaluation, TickError> {
    let (ecs, metrics, now) = (ctx.ecs, ctx.metrics, ctx.clock.now());
    let mut names: BTreeSet<String> = config.listed.keys().cloned().collect();
    match only {
        Some(cluster) if config.discovers() || names.contains(cluster) => names = BTreeSet::from([cluster.to_owned()]),
        Some(_) => names.clear(),
        None if config.discovers() => {
            let arns = ecs.cluster_arns().await.map_err(TickError::Lookup)?;
            names.extend(arns.iter().map(|arn| cluster_name(arn).to_owned()));
        }
        None => {}
    }
    if names.is_empty() {
        return Err(TickError::NoClusters);
    }
    let names: Vec<String> = names.into_iter().collect();
    let (found, missing) = ecs.describe_clusters(&names).await.map_err(TickError::Lookup)?;

    let mut reports: BTreeMap<String, ClusterReport> = BTreeMap::new();
    let missing_reasons: HashMap<&str, &str> = missing.iter().map(|m| (m.name.as_str(), m.reason.as_str())).collect();
    for name in names.iter().filter(|name| config.listed.contains_key(*name) && !found.iter().any(|f| &f.name == *name))
    {
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

    // Clusters a tick deferred go first, in the order they were deferred: no cluster waits twice.
    let deferred = recall.memory.deferred();
    candidates.sort_by_key(|(facts, _)| deferred.iter().position(|d| *d == facts.name).unwrap_or(usize::MAX));
    let candidate_names: Vec<String> = candidates.iter().map(|(facts, _)| facts.name.clone()).collect();
    let lookback = Duration::seconds(i64::from(config.lookback_seconds));
    let stale_after = Duration::seconds(i64::from(config.stale_after_seconds));
    let resync = Duration::seconds(i64::from(config.resync_seconds));
    let mut reservations = metrics.reservations(&candidate_names, now - lookback, now).await;
    let shared = Shared { memory: recall.memory, groups: Mutex::new(None), exhausted: AtomicBool::new(false) };
    let assessments = candidates.into_iter().map(|(facts, settings)| {
        let series = reservations
            .remove(&facts.name)
            .unwrap_or_else(|| Err(AwsError::malformed("GetMetricData", "no result for this cluster")));
        let reading = Reading::new(facts, settings, series, now, lookback, stale_after);
        assess(ctx, &shared, reading, resync, recall.deep)
    });
    let assessed: Vec<(ClusterReport, bool)> =
        futures::stream::iter(assessments).buffered(CONCURRENT_CLUSTERS).collect().await;
    let deep_reads = assessed.iter().filter(|(_, deep)| *deep).count();
    reports.extend(assessed.into_iter().map(|(report, _)| (report.cluster.clone(), report)));
    let clusters: Vec<ClusterReport> = reports.into_values().collect();
    Ok(Evaluation { clusters, deep_reads, groups: shared.groups.into_inner() })
}

/// What the clusters of one tick share: the process's memory, the groups (read at most once), and whether the
/// API budget ran out (then every cluster that needs reading waits for the next tick, without trying).
struct Shared<'m> {
    memory: &'m Memory,
    groups: Mutex<Option<Result<Vec<AutoScalingGroup>, AwsError>>>,
    exhausted: AtomicBool,
}

impl Shared<'_> {
    async fn groups<A: AutoScalingApi>(&self, autoscaling: &A) -> Result<Vec<AutoScalingGroup>, AwsError> {
        let mut groups = self.groups.lock().await;
        if groups.is_none() {
            *groups = Some(autoscaling.tagged_groups(TAG_CLUSTER).await);
        }
        groups.clone().unwrap_or_else(|| Ok(Vec::new()))
    }
}

/// Plan one cluster, reading what its plan asks for until it decides; or hold its last verdict when nothing it
/// depends on changed (and `deep` is not asked). Returns the report and whether the cluster was read deeply.
async fn assess<E: EcsApi, A: AutoScalingApi, X: Ec2Api, M: MetricsApi, C: Clock>(
    ctx: Context<'_, E, A, X, M, C>,
    shared: &Shared<'_>,
    mut reading: Reading,
    resync: Duration,
    deep: bool,
) -> (ClusterReport, bool) {
    let memory = shared.memory;
    let name = reading.facts.name.clone();
    if !deep {
        let groups = if memory.needs_groups(&name) { Some(shared.groups(ctx.autoscaling).await) } else { None };
        let groups = groups.as_ref().and_then(|g| g.as_ref().ok()).map(Vec::as_slice);
        if let Some((mut report, decided)) = memory.verdict(&reading, groups, resync) {
            report.unchanged_since = Some(decided);
            return (report, false);
        }
    }
    let deferred = |reading: Reading, why: String| {
        memory.forget(&reading.facts.name);
        let decision = Decision::deferred(why);
        (ClusterReport { settings: Some(reading.settings), ..ClusterReport::new(&reading.facts.name, decision) }, true)
    };
    if shared.exhausted.load(Ordering::Relaxed) {
        return deferred(reading, "the client-side API budget ran out earlier in this tick".into());
    }
    let mut asked: BTreeSet<Read> = BTreeSet::new();
    for _ in 0..MAX_ROUNDS {
        match plan(&reading) {
            Step::Done(verdict) => {
                let report = ClusterReport::from_verdict(&reading.facts, reading.settings.clone(), *verdict);
                if matches!(report.reason, Reason::ReadFailed | Reason::ConfigError) {
                    memory.forget(&name);
                } else {
                    let groups = reading.groups.as_ref().and_then(|g| g.as_ref().ok()).map(Vec::as_slice);
                    memory.remember(&reading, groups, &report);
                }
                return (report, true);
            }
            Step::Read(reads) => {
                if reads.iter().any(|read| !asked.insert(read.clone())) {
                    break;
                }
                perform(ctx, shared, &mut reading, reads).await;
                if let Some(error) = reading.budget_exhausted() {
                    shared.exhausted.store(true, Ordering::Relaxed);
                    let why = format!("the client-side API budget ran out: {error}");
                    return deferred(reading, why);
                }
            }
        }
    }
    memory.forget(&name);
    let decision =
        Decision::read_failed("the plan kept asking for what it had read; holding (a bug: please report it)");
    (ClusterReport { settings: Some(reading.settings), ..ClusterReport::new(&name, decision) }, true)
}

/// Perform a plan's reads, concurrently, and record each answer (or error) in the reading.
async fn perform<E: EcsApi, A: AutoScalingApi, X: Ec2Api, M: MetricsApi, C: Clock>(
    ctx: Context<'_, E, A, X, M, C>,
    shared: &Shared<'_>,
    reading: &mut Reading,
    reads: Vec<Read>,
) {
    let cluster = reading.facts.name.clone();
    let answers = futures::future::join_all(reads.into_iter().map(|read| answer(ctx, shared, &cluster, read))).await;
    for answer in answers {
        answer.record(reading);
    }
}

/// One read's answer.
enum Answer {
    Services(Result<Vec<crate::cluster::Service>, AwsError>),
    DrainingCount(Result<Option<u32>, AwsError>),
    Instances(Result<Vec<crate::cluster::ContainerInstance>, AwsError>),
    TasksOn(Vec<(String, Result<Vec<crate::cluster::Task>, AwsError>)>),
    AllTasks(Result<Vec<crate::cluster::Task>, AwsError>),
    Definitions(Vec<(String, Result<crate::cluster::TaskDefinition, AwsError>)>),
    Groups(Result<Vec<AutoScalingGroup>, AwsError>),
    Templates(Vec<(crate::lifecycle::LaunchTemplateRef, Result<Option<String>, AwsError>)>),
    Types(Vec<String>, Result<Vec<crate::placement::instance_types::InstanceTypeInfo>, AwsError>),
}

async fn answer<E: EcsApi, A: AutoScalingApi, X: Ec2Api, M: MetricsApi, C: Clock>(
    ctx: Context<'_, E, A, X, M, C>,
    shared: &Shared<'_>,
    cluster: &str,
    read: Read,
) -> Answer {
    let ecs = ctx.ecs;
    match read {
        Read::Services => Answer::Services(ecs.services(cluster).await),
        Read::DrainingCount => Answer::DrainingCount(ecs.draining_instances(cluster).await),
        Read::Instances => Answer::Instances(ecs.container_instances(cluster).await),
        Read::AllTasks => Answer::AllTasks(ecs.tasks(cluster).await),
        Read::TasksOn(arns) => {
            let reads = arns.into_iter().map(|arn| async move {
                let tasks = ecs.tasks_on(cluster, &arn).await;
                (arn, tasks)
            });
            Answer::TasksOn(futures::stream::iter(reads).buffer_unordered(CONCURRENT_READS).collect().await)
        }
        Read::TaskDefinitions(arns) => {
            // Task definitions are immutable per revision: each is read once per process.
            let memory = shared.memory;
            let reads = arns.into_iter().map(|arn| async move {
                let definition = match memory.definition(&arn) {
                    Some(known) => Ok(known),
                    None => ecs.task_definition(&arn).await.inspect(|d| memory.remember_definition(d)),
                };
                (arn, definition)
            });
            Answer::Definitions(futures::stream::iter(reads).buffer_unordered(CONCURRENT_READS).collect().await)
        }
        Read::Groups => Answer::Groups(shared.groups(ctx.autoscaling).await),
        Read::LaunchTemplates(templates) => {
            let reads = templates.into_iter().map(|template| async move {
                let launched = ctx.ec2.launch_template_type(&template).await;
                (template, launched)
            });
            Answer::Templates(futures::stream::iter(reads).buffer_unordered(CONCURRENT_READS).collect().await)
        }
        Read::InstanceTypes(names) => {
            let found = ctx.ec2.instance_types(&names).await;
            Answer::Types(names, found)
        }
    }
}

impl Answer {
    fn record(self, reading: &mut Reading) {
        match self {
            Answer::Services(services) => reading.services = Some(services),
            Answer::DrainingCount(count) => reading.draining = Some(count),
            Answer::Instances(instances) => reading.instances = Some(instances),
            Answer::AllTasks(Ok(tasks)) => {
                let instances = match &reading.instances {
                    Some(Ok(instances)) => instances.clone(),
                    _ => Vec::new(),
                };
                reading.set_all_tasks(tasks, &instances);
            }
            Answer::AllTasks(Err(error)) => reading.all_tasks = Some(Err(error)),
            Answer::TasksOn(found) => {
                for (arn, tasks) in found {
                    match tasks {
                        Ok(tasks) => {
                            reading.tasks.insert(arn, tasks);
                        }
                        Err(error) => {
                            reading.task_errors.insert(arn, error);
                        }
                    }
                }
            }
            Answer::Definitions(found) => {
                for (arn, definition) in found {
                    match definition {
                        Ok(definition) => {
                            reading.definitions.insert(arn, definition);
                        }
                        Err(error) => {
                            tracing::warn!(task_definition = %arn, error = %error, "task definition unreadable");
                            reading.definition_errors.insert(arn, error);
                        }
                    }
                }
            }
            Answer::Groups(groups) => reading.groups = Some(groups),
            Answer::Templates(found) => {
                for (template, launched) in found {
                    match launched {
                        Ok(launched) => {
                            reading.template_types.insert(template, launched);
                        }
                        Err(error) => {
                            reading.template_errors.insert(template, error);
                        }
                    }
                }
            }
            Answer::Types(names, Ok(found)) => {
                for name in names.iter().filter(|n| !found.iter().any(|t| &t.name == *n)) {
                    reading.types_missing.insert(name.clone());
                }
                reading.types.extend(found.into_iter().map(|t| (t.name.clone(), t)));
            }
            Answer::Types(names, Err(error)) => {
                reading.types_missing.extend(names);
                reading.types_error = Some(error);
            }
        }
    }
}

/// Evaluate, log each decision once, publish the ScaleStatus, InstancesShortfall and InstancesSurplus
/// datapoints in as few calls as possible, then ask for the instances short clusters need. Reads every cluster
/// from scratch (see [`run_in`] for a process that remembers).
pub async fn run<E: EcsApi, A: AutoScalingApi, X: Ec2Api, M: MetricsApi, C: Clock>(
    ctx: Context<'_, E, A, X, M, C>,
    config: &TickConfig,
) -> Result<Summary, TickError> {
    let memory = Memory::default();
    run_in(ctx, config, None, Recall { memory: &memory, deep: true }).await
}

/// [`run`] for one cluster only, or all of them (see [`evaluate_in`]), with what the process remembers.
pub async fn run_in<E: EcsApi, A: AutoScalingApi, X: Ec2Api, M: MetricsApi, C: Clock>(
    ctx: Context<'_, E, A, X, M, C>,
    config: &TickConfig,
    only: Option<&str>,
    recall: Recall<'_>,
) -> Result<Summary, TickError> {
    let evaluation = evaluate_in(ctx, config, only, recall).await?;
    let deferred: Vec<String> =
        evaluation.clusters.iter().filter(|r| r.reason == Reason::Deferred).map(|r| r.cluster.clone()).collect();
    if only.is_none() {
        recall.memory.set_deferred(deferred.clone());
    }
    let (metrics, now) = (ctx.metrics, ctx.clock.now());
    for report in &evaluation.clusters {
        report.log();
    }
    // InstancesShortfall goes with every ScaleStatus: 0 when nothing waits, so its alarm and graph never starve.
    let datapoints: Vec<ClusterMetric> = evaluation
        .clusters
        .iter()
        .filter_map(|report| {
            let metric = |name, value, unit| ClusterMetric {
                name,
                cluster: report.cluster.clone(),
                value,
                unit,
                timestamp: now,
            };
            let shortfall = report.shortfall.as_ref().map_or(0, |s| s.instances);
            Some([
                metric(METRIC_NAME, report.scale_status?.metric_value(), MetricUnit::None),
                metric(SHORTFALL_METRIC, f64::from(shortfall), MetricUnit::Count),
                metric(SURPLUS_METRIC, f64::from(report.surplus), MetricUnit::Count),
            ])
        })
        .flatten()
        .collect();
    let emitted = datapoints.iter().filter(|d| d.name == METRIC_NAME).count();
    let failed = evaluation.clusters.iter().filter(|r| matches!(r.reason, Reason::ConfigError | Reason::ReadFailed));
    let failed = failed.filter(|_| deferred.is_empty());
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
    let short: Vec<(String, u32)> = evaluation
        .clusters
        .iter()
        .filter(|r| r.scale_status == Some(ScaleStatus::Up))
        .filter_map(|r| Some((r.cluster.clone(), r.shortfall.as_ref()?.instances)))
        .filter(|(_, instances)| *instances > 0)
        .collect();
    let scale_outs = scale_out(ctx.autoscaling, &short, evaluation.groups).await;
    let deep_reads = evaluation.deep_reads;
    tracing::info!(
        namespace = %config.namespace.value,
        emitted,
        clusters = evaluation.clusters.len(),
        deep_reads,
        deferred = deferred.len(),
        "tick done"
    );
    Ok(Summary {
        namespace: config.namespace.value.clone(),
        emitted,
        put_metric_data_calls: calls,
        clusters: evaluation.clusters,
        scale_outs,
        deep_reads,
        deferred,
    })
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};
    use serde_json::{Value, json};

    use super::*;
    use crate::cluster::Resources;
    use crate::config::{EnvConfig, ScheduleInput};
    use crate::ports::FixedClock;
    use crate::ports::script::Script;

    const UNABLE: &str =
        "(service api) was unable to place a task because no container instance met all of its requirements.";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).single().unwrap()
    }

    fn minute_ago() -> DateTime<Utc> {
        now() - Duration::minutes(1)
    }

    fn env(pairs: &[(&str, &str)]) -> EnvConfig {
        let mut vars = vec![("CPU_MIN", "40"), ("CPU_MAX", "75"), ("MEMORY_MIN", "40"), ("MEMORY_MAX", "75")];
        vars.extend_from_slice(pairs);
        EnvConfig::from_vars(vars)
    }

    /// One tick of the listed configuration (the schedule's constant input, `{}` for none) at [`now`].
    fn tick(cloud: &Script, env: &EnvConfig, input: Value) -> Result<Summary, TickError> {
        let input: ScheduleInput = serde_json::from_value(input).unwrap();
        let config = TickConfig::build(env, &input)?;
        let ctx = Context { ecs: cloud, autoscaling: cloud, ec2: cloud, metrics: cloud, clock: &FixedClock(now()) };
        futures::executor::block_on(run(ctx, &config))
    }

    fn scheduled_event() -> Value {
        json!({})
    }

    fn decision(summary: &Summary, cluster: &str) -> (Option<ScaleStatus>, Reason) {
        let report =
            summary.clusters.iter().find(|r| r.cluster == cluster).unwrap_or_else(|| panic!("no report for {cluster}"));
        (report.scale_status, report.reason)
    }

    /// The ScaleStatus datapoints published, by cluster.
    fn published(cloud: &Script) -> Vec<(String, f64)> {
        published_as(cloud, METRIC_NAME)
    }

    fn published_as(cloud: &Script, metric: &str) -> Vec<(String, f64)> {
        let published = cloud.published().into_iter().filter(|(_, m)| m.name == metric);
        let mut values: Vec<_> = published.map(|(_, m)| (m.cluster, m.value)).collect();
        values.sort_by(|a, b| a.0.cmp(&b.0));
        values
    }

    #[test]
    fn one_tick_decides_every_listed_cluster_and_publishes_in_one_call() {
        let cloud = Script::new()
            .with_cluster("hot", 4, &[])
            .with_reservations("hot", 80.0, 20.0, minute_ago())
            .with_cluster("idle", 5, &[])
            .with_reservations("idle", 10.0, 30.0, minute_ago())
            .with_instance("idle", "i1", "ACTIVE", 2048, 4096)
            .with_load("idle", "i1", Resources::new(2048, 4096), 0)
            .with_instance("idle", "i2", "ACTIVE", 2048, 4096)
            .with_load("idle", "i2", Resources::new(1536, 3072), 0)
            .with_cluster("pair", 2, &[])
            .with_reservations("pair", 39.0, 10.0, minute_ago())
            .with_cluster("steady", 3, &[])
            .with_reservations("steady", 50.0, 50.0, minute_ago())
            .with_cluster("dark", 3, &[])
            .with_cluster("full", 3, &[])
            .with_reservations("full", 50.0, 60.0, minute_ago())
            .with_service("full", "api", 4, 2, &[(minute_ago(), UNABLE)]);
        let env = env(&[("CLUSTERS", "hot,idle,pair,steady,dark,full")]);

        let summary = tick(&cloud, &env, scheduled_event()).unwrap();

        assert_eq!(decision(&summary, "hot"), (Some(ScaleStatus::Up), Reason::CpuAboveMax));
        assert_eq!(decision(&summary, "idle"), (Some(ScaleStatus::Down), Reason::BothBelowMin));
        assert_eq!(decision(&summary, "pair"), (Some(ScaleStatus::Stay), Reason::ScaleDownGuard));
        assert_eq!(decision(&summary, "steady"), (Some(ScaleStatus::Stay), Reason::WithinThresholds));
        assert_eq!(decision(&summary, "dark"), (None, Reason::NoData));
        assert_eq!(decision(&summary, "full"), (Some(ScaleStatus::Up), Reason::UnplacedTasks));
        assert_eq!(
            published(&cloud),
            [
                ("full".into(), 2.0),
                ("hot".into(), 2.0),
                ("idle".into(), 0.0),
                ("pair".into(), 1.0),
                ("steady".into(), 1.0)
            ]
        );
        // InstancesShortfall beside every ScaleStatus: 0 where nothing waits. `full` has no instance to take
        // the size from, so it asks for one.
        assert_eq!(
            published_as(&cloud, SHORTFALL_METRIC),
            [
                ("full".into(), 1.0),
                ("hot".into(), 0.0),
                ("idle".into(), 0.0),
                ("pair".into(), 0.0),
                ("steady".into(), 0.0)
            ]
        );
        assert_eq!((summary.emitted, summary.put_metric_data_calls), (5, 1));
        assert_eq!(cloud.calls("GetMetricData"), 1);
        assert!(cloud.published().iter().all(|(namespace, _)| namespace == "Curalate/AutoScaling"));
        // And InstancesSurplus: 0 everywhere, as `idle` has no instance list to judge.
        assert_eq!(published_as(&cloud, SURPLUS_METRIC).iter().map(|(_, v)| *v).sum::<f64>(), 0.0);
        assert_eq!(cloud.published().len(), 15);
    }

    #[test]
    fn the_summary_names_the_fields_operators_look_for() {
        let cloud = Script::new().with_cluster("a", 3, &[]).with_reservations("a", 80.0, 20.0, minute_ago());
        let summary = tick(&cloud, &env(&[("CLUSTERS", "a")]), json!({})).unwrap();
        let json = serde_json::to_value(&summary).unwrap();
        let entry = &json["clusters"][0];
        assert_eq!(entry["cluster"], "a");
        assert_eq!(entry["cpu"], 80.0);
        assert_eq!(entry["memory"], 20.0);
        assert_eq!(entry["instances"], 3);
        assert_eq!(entry["scale_status"], 2);
        assert_eq!(entry["reason"], "cpu_above_max");
        assert_eq!(entry["settings"]["cpu"]["max"]["origin"], "env CPU_MAX");
    }

    #[test]
    fn a_hot_cluster_s_waiting_tasks_still_size_its_scale_out_and_the_check_can_be_switched_off() {
        let cloud = Script::new()
            .with_cluster("hot", 4, &[])
            .with_reservations("hot", 90.0, 20.0, minute_ago())
            .with_service("hot", "api", 4, 2, &[(minute_ago(), UNABLE)]);
        let summary = tick(&cloud, &env(&[("CLUSTERS", "hot")]), json!({})).unwrap();
        assert_eq!(decision(&summary, "hot"), (Some(ScaleStatus::Up), Reason::CpuAboveMax));
        assert_eq!(cloud.calls("DescribeServices"), 1);
        assert!(summary.clusters[0].shortfall.as_ref().is_some_and(|s| s.instances > 0), "{:?}", summary.clusters[0]);

        let cloud = Script::new()
            .with_cluster("full", 3, &[])
            .with_reservations("full", 50.0, 50.0, minute_ago())
            .with_service("full", "api", 4, 2, &[(minute_ago(), UNABLE)]);
        let summary = tick(&cloud, &env(&[("CLUSTERS", "full"), ("PLACEMENT_CHECK", "false")]), json!({})).unwrap();
        assert_eq!(cloud.calls("DescribeServices"), 0);
        assert_eq!(decision(&summary, "full"), (Some(ScaleStatus::Stay), Reason::WithinThresholds));
    }

    #[test]
    fn unplaced_tasks_scale_up_a_cluster_without_metrics() {
        // A cluster with no instances publishes no reservation metrics at all; only the placement signal can grow it.
        let cloud =
            Script::new().with_cluster("empty", 0, &[]).with_service("empty", "api", 2, 0, &[(minute_ago(), UNABLE)]);
        let summary = tick(&cloud, &env(&[("CLUSTERS", "empty")]), json!({})).unwrap();
        assert_eq!(decision(&summary, "empty"), (Some(ScaleStatus::Up), Reason::UnplacedTasks));
        assert_eq!(published(&cloud), [("empty".into(), 2.0)]);
    }

    #[test]
    fn a_failed_service_read_publishes_nothing_for_that_cluster() {
        let cloud = Script::new()
            .with_cluster("idle", 5, &[])
            .with_reservations("idle", 10.0, 10.0, minute_ago())
            .with_cluster("hot", 5, &[])
            .with_reservations("hot", 90.0, 10.0, minute_ago())
            .failing("DescribeServices");
        let summary = tick(&cloud, &env(&[("CLUSTERS", "idle,hot")]), json!({})).unwrap();
        assert_eq!(decision(&summary, "idle"), (None, Reason::ReadFailed));
        let detail = &summary.clusters.iter().find(|r| r.cluster == "idle").unwrap().detail;
        assert!(detail.contains("DescribeServices failed"), "{detail}");
        assert_eq!(published(&cloud), [("hot".into(), 2.0)], "the idle cluster must not get a 0");
        let hot = summary.clusters.iter().find(|r| r.cluster == "hot").unwrap();
        assert!(
            hot.notes
                .iter()
                .any(|n| matches!(n, Note::ScaleOutNotSized { error } if error.contains("DescribeServices"))),
            "{:?}",
            hot.notes
        );
    }

    #[test]
    fn failed_metric_reads_fail_the_invocation_and_publish_nothing() {
        let cloud = Script::new()
            .with_cluster("a", 5, &[])
            .with_reservations("a", 10.0, 10.0, minute_ago())
            .failing("GetMetricData");
        let error = tick(&cloud, &env(&[("CLUSTERS", "a")]), json!({})).unwrap_err();
        assert!(matches!(error, TickError::NothingEvaluated(_)), "{error}");
        assert_eq!(cloud.calls("PutMetricData"), 0);
    }

    #[test]
    fn stale_datapoints_publish_nothing() {
        let cloud =
            Script::new().with_cluster("a", 5, &[]).with_reservations("a", 10.0, 10.0, now() - Duration::minutes(8));
        let summary = tick(&cloud, &env(&[("CLUSTERS", "a")]), json!({})).unwrap();
        assert_eq!(decision(&summary, "a"), (None, Reason::StaleData));
        assert_eq!(cloud.calls("PutMetricData"), 0);
    }

    #[test]
    fn bad_configuration_is_reported_per_cluster_and_the_others_still_run() {
        let cloud = Script::new()
            .with_cluster("good", 5, &[])
            .with_reservations("good", 80.0, 10.0, minute_ago())
            .with_cluster("typo", 5, &[("ecs-scaler:cpu-max", "eighty")])
            .with_reservations("typo", 80.0, 10.0, minute_ago());
        let summary = tick(&cloud, &env(&[("CLUSTERS", "good,typo,ghost")]), json!({})).unwrap();

        let detail = |cluster: &str| summary.clusters.iter().find(|r| r.cluster == cluster).unwrap().detail.clone();
        assert_eq!(decision(&summary, "typo"), (None, Reason::ConfigError));
        assert_eq!(detail("typo"), r#"tag ecs-scaler:cpu-max="eighty" is not a number"#);
        assert_eq!(decision(&summary, "ghost"), (None, Reason::ConfigError));
        assert_eq!(detail("ghost"), "the ECS cluster does not exist (MISSING)");
        assert_eq!(published(&cloud), [("good".into(), 2.0)]);
    }

    #[test]
    fn min_at_or_above_max_is_a_config_error_naming_both_sources() {
        let cloud = Script::new().with_cluster("a", 5, &[("ecs-scaler:memory-min", "80")]);
        let input = json!({"clusters": [{"name": "a"}]});
        let error = tick(&cloud, &env(&[]), input).unwrap_err();
        assert!(matches!(error, TickError::NothingEvaluated(_)));
        let cloud = Script::new()
            .with_cluster("a", 5, &[("ecs-scaler:memory-min", "80")])
            .with_cluster("b", 5, &[])
            .with_reservations("b", 50.0, 50.0, minute_ago());
        let summary = tick(&cloud, &env(&[("CLUSTERS", "a,b")]), json!({})).unwrap();
        let a = summary.clusters.iter().find(|r| r.cluster == "a").unwrap();
        assert_eq!(a.detail, "memory min 80 (tag ecs-scaler:memory-min) must be below max 75 (env MEMORY_MAX)");
    }

    #[test]
    fn clusters_tagged_enabled_are_managed_with_their_tag_thresholds() {
        let cloud = Script::new()
            .with_cluster("tagged", 4, &[("ecs-scaler:enabled", "true"), ("ecs-scaler:cpu-max", "95")])
            .with_reservations("tagged", 80.0, 10.0, minute_ago())
            .with_cluster("untagged", 4, &[])
            .with_reservations("untagged", 80.0, 10.0, minute_ago());
        let summary = tick(&cloud, &env(&[]), json!({})).unwrap();
        assert_eq!(summary.clusters.len(), 1, "untagged, unlisted clusters are not managed");
        assert_eq!(decision(&summary, "tagged"), (Some(ScaleStatus::Stay), Reason::WithinThresholds));
    }

    #[test]
    fn enabled_false_pauses_a_listed_cluster() {
        let cloud = Script::new()
            .with_cluster("paused", 4, &[("ecs-scaler:enabled", "false")])
            .with_reservations("paused", 90.0, 10.0, minute_ago())
            .with_cluster("live", 4, &[])
            .with_reservations("live", 90.0, 10.0, minute_ago());
        let summary = tick(&cloud, &env(&[("CLUSTERS", "paused,live")]), json!({})).unwrap();
        assert_eq!(decision(&summary, "paused"), (None, Reason::Paused));
        assert_eq!(published(&cloud), [("live".into(), 2.0)]);
    }

    #[test]
    fn no_managed_cluster_fails_the_invocation() {
        let error = tick(&Script::new(), &env(&[]), json!({})).unwrap_err();
        assert!(matches!(error, TickError::NoClusters), "{error}");
    }

    #[test]
    fn a_deployment_that_names_its_clusters_never_lists_the_account_and_ignores_tagged_ones() {
        let cloud = Script::new()
            .with_cluster("a", 4, &[])
            .with_reservations("a", 90.0, 10.0, minute_ago())
            .with_cluster("theirs", 4, &[("ecs-scaler:enabled", "true")])
            .with_reservations("theirs", 90.0, 10.0, minute_ago())
            .failing("ListClusters");
        let summary = tick(&cloud, &env(&[("CLUSTERS", "a")]), json!({})).unwrap();
        assert_eq!(decision(&summary, "a"), (Some(ScaleStatus::Up), Reason::CpuAboveMax));
        assert_eq!(summary.clusters.len(), 1, "{:?}", summary.clusters);
        assert_eq!(cloud.calls("ListClusters"), 0);
        assert_eq!(published(&cloud), [("a".into(), 2.0)]);
    }

    #[test]
    fn a_deployment_that_names_no_cluster_fails_when_discovery_fails() {
        let cloud = Script::new().with_cluster("a", 4, &[("ecs-scaler:enabled", "true")]).failing("ListClusters");
        let error = tick(&cloud, &env(&[]), json!({})).unwrap_err();
        assert!(matches!(error, TickError::Lookup(_)), "{error}");
        assert_eq!(cloud.calls("PutMetricData"), 0);
    }
}
