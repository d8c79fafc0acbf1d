//! `ecs-scaler drain-check`: the drain hook's own read-only check of one instance, printed.

use std::fmt::Write as _;
use std::process::ExitCode;

use ecs_scaler_aws::{AutoScaling, CloudWatch, Ecs, SystemClock};
use ecs_scaler_core::drain::run::inspect;
use ecs_scaler_core::drain::{Blocker, DrainSettings, Inspection, Outcome, Release};
use ecs_scaler_core::ports::{AutoScalingApi, Clock, Context, Ec2Api, EcsApi, MetricsApi};

use crate::{CliError, DrainCheckArgs, Result};

/// Exit status when the instance is held: distinct from 1 (the check failed) and 2 (bad usage).
pub const EXIT_HELD: u8 = 3;

/// The drain hook's verdict for `instance`, judged as if it were DRAINING now. Changes nothing.
pub async fn check<E: EcsApi, A: AutoScalingApi, X: Ec2Api, M: MetricsApi, C: Clock>(
    ctx: Context<'_, E, A, X, M, C>,
    instance: &str,
    cluster: Option<&str>,
    settings: &DrainSettings,
) -> Result<Inspection> {
    Ok(inspect(ctx, settings, instance, cluster).await.map_err(drain_hook::DrainError::from)?)
}

pub async fn run(args: DrainCheckArgs) -> Result<ExitCode> {
    let settings = DrainSettings::from_vars(std::env::vars())?;
    let sdk = ecs_scaler_aws::load_sdk_config().await;
    let (ecs, autoscaling, metrics) = (Ecs::from_conf(&sdk), AutoScaling::from_conf(&sdk), CloudWatch::from_conf(&sdk));
    let ec2 = ecs_scaler_aws::Ec2::from_conf(&sdk);
    let ctx = Context { ecs: &ecs, autoscaling: &autoscaling, ec2: &ec2, metrics: &metrics, clock: &SystemClock };
    let inspection = check(ctx, &args.instance, args.cluster.as_deref(), &settings).await?;
    if args.json {
        let text = serde_json::to_string_pretty(&inspection).map_err(|e| CliError::Output(e.to_string()))?;
        println!("{text}");
    } else {
        print!("{}", describe(&inspection));
    }
    Ok(if inspection.releasable() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_HELD) })
}

/// The verdict in words: one headline, then every blocker on its own line.
pub fn describe(inspection: &Inspection) -> String {
    let mut out = String::new();
    let registered = match (&inspection.container_instance_arn, &inspection.status) {
        (Some(arn), Some(status)) => format!("{arn}, {status}"),
        _ => "not registered with ECS".to_owned(),
    };
    let _ = writeln!(out, "{} in cluster {} ({registered})", inspection.instance, inspection.cluster);
    let report = &inspection.report;
    if let Some(age) = report.drain_age_seconds {
        let _ = writeln!(out, "draining for {age} s");
    }
    match report.outcome {
        Outcome::Completed { why: Release::Ready, .. } => {
            let _ = writeln!(
                out,
                "READY: could be released now; nothing but daemons on it, every service it moved at its minimum elsewhere"
            );
        }
        Outcome::Completed { why: Release::NotRegistered, .. } => {
            let _ = writeln!(out, "READY: not registered with ECS, nothing to drain");
        }
        Outcome::Completed { why: Release::TimedOut, result } => {
            let _ = writeln!(
                out,
                "TIMED OUT: the max drain time has passed; the hook would complete with {result} despite:"
            );
        }
        _ => {
            let _ = writeln!(out, "HELD: the drain hook would keep it in Terminating:Wait because of:");
        }
    }
    if let Some(error) = &report.error {
        let _ = writeln!(out, "  - {error}");
    }
    let blockers = &report.blockers;
    for blocker in blockers {
        match blocker {
            Blocker::OwnTasks { count, tasks } => {
                let _ = writeln!(out, "  - {count} task(s) still on the instance:");
                for task in tasks {
                    let _ = writeln!(out, "      {task}");
                }
                if *count > tasks.len() {
                    let _ = writeln!(out, "      ... and {} more", count - tasks.len());
                }
            }
            other => {
                let _ = writeln!(out, "  - {other}");
            }
        }
    }
    if !report.unrelated.is_empty() {
        let _ = writeln!(out, "below their minimum, but not moved by this drain (they do not hold it):");
        for below in &report.unrelated {
            let _ = writeln!(out, "  - {below}");
        }
    }
    out
}
