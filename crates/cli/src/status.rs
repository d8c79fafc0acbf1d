//! `ecs-scaler status`: scale-status's own evaluation, printed instead of published.

use std::process::ExitCode;

use ecs_scaler_aws::{AutoScaling, CloudWatch, Ecs, SystemClock};
use ecs_scaler_core::arn::cluster_name;
use ecs_scaler_core::config::{EnvConfig, EventCluster, ScheduleInput, SourcedThresholds, TickConfig};
use ecs_scaler_core::ports::{AutoScalingApi, Clock, Context, Ec2Api, EcsApi, MetricsApi};
use ecs_scaler_core::scale::{ClusterReport, Evaluation};
use serde::Serialize;

use crate::{CliError, Result, StatusArgs};

/// Layer the configuration as the Lambda does, with `clusters` (when any) as the schedule input's list, and
/// evaluate. Only the named clusters are kept when there are any.
pub async fn evaluate<E: EcsApi, A: AutoScalingApi, X: Ec2Api, M: MetricsApi, C: Clock>(
    clusters: &[String],
    env: &EnvConfig,
    ctx: Context<'_, E, A, X, M, C>,
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
    let ec2 = ecs_scaler_aws::Ec2::from_conf(&sdk);
    let ctx = Context { ecs: &ecs, autoscaling: &autoscaling, ec2: &ec2, metrics: &metrics, clock: &SystemClock };
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
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING).set_content_arrangement(comfy_table::ContentArrangement::Disabled);
    table.set_header([
        "CLUSTER",
        "CPU %",
        "MEMORY %",
        "INSTANCES",
        "CPU MIN–MAX",
        "MEMORY MIN–MAX",
        "STATUS",
        "REASON",
        "DETAIL",
    ]);
    for report in reports {
        let (cpu_thresholds, memory_thresholds) = match &report.settings {
            Some(settings) => (thresholds(&settings.cpu), thresholds(&settings.memory)),
            None => ("-".into(), "-".into()),
        };
        table.add_row([
            report.cluster.clone(),
            percent(report.cpu),
            percent(report.memory),
            report.instances.map_or_else(|| "-".into(), |n| n.to_string()),
            cpu_thresholds,
            memory_thresholds,
            report.scale_status.map_or_else(|| "-".into(), |s| (s as u8).to_string()),
            report.reason.to_string(),
            // The notes say what the detail does not (why a rule did not apply, what could not be read).
            std::iter::once(report.detail.clone())
                .chain(report.notes.iter().map(ToString::to_string))
                .collect::<Vec<_>>()
                .join("; "),
        ]);
    }
    let lines: Vec<String> = table.lines().map(|line| line.trim().to_owned()).collect();
    lines.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use ecs_scaler_core::{Reason, ScaleStatus};

    use super::*;

    fn report(cluster: &str, cpu: Option<f64>, status: Option<ScaleStatus>, reason: Reason) -> ClusterReport {
        ClusterReport {
            cluster: cluster.into(),
            cpu,
            memory: cpu,
            instances: Some(3),
            draining: None,
            scale_status: status,
            reason,
            detail: format!("{cluster} detail"),
            notes: Vec::new(),
            unplaceable: Vec::new(),
            shortfall: None,
            removal: None,
            surplus: 0,
            settings: None,
            unchanged_since: None,
        }
    }

    #[test]
    fn the_table_has_a_header_and_one_aligned_line_per_cluster() {
        let reports = [
            report("a-long-cluster-name", Some(90.0), Some(ScaleStatus::Up), Reason::CpuAboveMax),
            report("b", None, None, Reason::NoData),
        ];
        let text = table(&reports);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("CLUSTER"), "{text}");
        assert!(lines[1].starts_with("a-long-cluster-name") && lines[1].contains("90.0"), "{text}");
        assert!(lines[2].starts_with("b ") && lines[2].ends_with("b detail"), "{text}");
        // Columns line up: each reason starts where the header's REASON does (in characters: the header has dashes).
        let column = |line: &str, text: &str| line.find(text).map(|byte| line[..byte].chars().count());
        let reason = column(lines[0], "REASON");
        assert!(reason.is_some(), "{text}");
        assert_eq!(column(lines[1], &Reason::CpuAboveMax.to_string()), reason, "{text}");
        assert_eq!(column(lines[2], &Reason::NoData.to_string()), reason, "{text}");
    }
}
