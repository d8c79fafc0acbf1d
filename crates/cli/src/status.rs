//! `ecs-scaler status`: scale-status's own evaluation, printed instead of published.

use std::process::ExitCode;

use ecs_scaler_aws::{AutoScaling, CloudWatch, Ecs, SystemClock};
use ecs_scaler_core::config::{EnvConfig, EventCluster, ScheduleInput, SourcedThresholds, TickConfig, cluster_name};
use ecs_scaler_core::ports::{Clock, Context, EcsApi, MetricsApi};
use ecs_scaler_core::scale::{ClusterReport, Evaluation};
use serde::Serialize;

use crate::{CliError, Result, StatusArgs};

/// Layer the configuration as the Lambda does, with `clusters` (when any) as the schedule input's list, and
/// evaluate. Only the named clusters are kept when there are any.
pub async fn evaluate<E: EcsApi, A, M: MetricsApi, C: Clock>(
    clusters: &[String],
    env: &EnvConfig,
    ctx: Context<'_, E, A, M, C>,
) -> Result<Evaluation> {
    let input = ScheduleInput {
        clusters: (!clusters.is_empty()).then(|| {
            clusters.iter().map(|name| EventCluster { name: name.clone(), cpu: None, memory: None }).collect()
        }),
        namespace: None,
    };
    let config = TickConfig::build(env, &input)?;
    let mut evaluation = ecs_scaler_core::scale::evaluate(ctx, &config).await?;
    if !clusters.is_empty() {
        let wanted: Vec<&str> = clusters.iter().map(|c| cluster_name(c)).collect();
        evaluation.clusters.retain(|report| wanted.contains(&report.cluster.as_str()));
    }
    Ok(evaluation)
}

pub async fn run(args: StatusArgs) -> Result<ExitCode> {
    let env = EnvConfig::from_vars(std::env::vars());
    let sdk = ecs_scaler_aws::load_sdk_config().await;
    let (ecs, autoscaling, metrics) = (Ecs::from_conf(&sdk), AutoScaling::from_conf(&sdk), CloudWatch::from_conf(&sdk));
    let ctx = Context { ecs: &ecs, autoscaling: &autoscaling, metrics: &metrics, clock: &SystemClock };
    let evaluation = evaluate(&args.clusters, &env, ctx).await?;
    if args.json {
        println!("{}", to_json(&evaluation)?);
    } else {
        print!("{}", table(&evaluation.clusters));
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct StatusJson<'a> {
    clusters: &'a [ClusterReport],
}

pub fn to_json(evaluation: &Evaluation) -> Result<String> {
    serde_json::to_string_pretty(&StatusJson { clusters: &evaluation.clusters })
        .map_err(|e| CliError::Output(e.to_string()))
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.1}"))
}

/// `60–85 (default)`, or `60 (env CPU_MIN)–85 (tag ecs-scaler:cpu-max)` when the ends differ in origin.
fn thresholds(t: &SourcedThresholds) -> String {
    if t.min.origin == t.max.origin {
        format!("{}–{} ({})", t.min.value, t.max.value, t.min.origin)
    } else {
        format!("{} ({})–{} ({})", t.min.value, t.min.origin, t.max.value, t.max.origin)
    }
}

/// The reports as an aligned table, one line per cluster.
pub fn table(reports: &[ClusterReport]) -> String {
    let header =
        ["CLUSTER", "CPU %", "MEMORY %", "INSTANCES", "CPU MIN–MAX", "MEMORY MIN–MAX", "STATUS", "REASON", "DETAIL"];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_owned()).collect()];
    for report in reports {
        let (cpu_thresholds, memory_thresholds) = match &report.settings {
            Some(settings) => (thresholds(&settings.cpu), thresholds(&settings.memory)),
            None => ("-".into(), "-".into()),
        };
        rows.push(vec![
            report.cluster.clone(),
            percent(report.cpu),
            percent(report.memory),
            report.instances.map_or_else(|| "-".into(), |n| n.to_string()),
            cpu_thresholds,
            memory_thresholds,
            report.scale_status.map_or_else(|| "-".into(), |s| (s as u8).to_string()),
            report.reason.to_string(),
            report.detail.clone(),
        ]);
    }
    let widths: Vec<usize> =
        (0..header.len()).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in rows {
        let last = row.len() - 1;
        let cells: Vec<String> = row
            .into_iter()
            .enumerate()
            .map(|(c, cell)| if c == last { cell } else { format!("{cell:<w$}", w = widths[c]) })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
