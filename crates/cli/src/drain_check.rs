//! `ecs-scaler drain-check`: the drain hook's own read-only check of one instance, printed.

use std::fmt::Write as _;
use std::process::ExitCode;

use drain_hook::Inspection;
use ecs_scaler_aws::{AutoScaling, Ecs};
use ecs_scaler_core::drain::{Blocker, DrainSettings, DrainVerdict, Release};
use ecs_scaler_core::ports::{AutoScalingApi, EcsApi};

use crate::{CliError, DrainCheckArgs, Result};

/// Exit status when the instance is held: distinct from 1 (the check failed) and 2 (bad usage).
pub const EXIT_HELD: u8 = 3;

/// The drain hook's verdict for `instance`, judged as if it were DRAINING now. Changes nothing.
pub async fn check<E: EcsApi, A: AutoScalingApi>(
    ecs: &E,
    autoscaling: &A,
    instance: &str,
    cluster: Option<&str>,
    settings: &DrainSettings,
) -> Result<Inspection> {
    Ok(drain_hook::inspect(ecs, autoscaling, instance, cluster, settings).await?)
}

/// Whether the hook would let the instance go on its next check.
pub fn releasable(inspection: &Inspection) -> bool {
    matches!(inspection.verdict, DrainVerdict::Complete { .. })
}

pub async fn run(args: DrainCheckArgs) -> Result<ExitCode> {
    let settings = DrainSettings::from_vars(std::env::vars())?;
    let sdk = ecs_scaler_aws::load_sdk_config().await;
    let (ecs, autoscaling) = (Ecs::from_conf(&sdk), AutoScaling::from_conf(&sdk));
    let inspection = check(&ecs, &autoscaling, &args.instance, args.cluster.as_deref(), &settings).await?;
    if args.json {
        let text = serde_json::to_string_pretty(&inspection).map_err(|e| CliError::Output(e.to_string()))?;
        println!("{text}");
    } else {
        print!("{}", describe(&inspection));
    }
    Ok(if releasable(&inspection) { ExitCode::SUCCESS } else { ExitCode::from(EXIT_HELD) })
}

/// The verdict in words: one headline, then every blocker on its own line.
pub fn describe(inspection: &Inspection) -> String {
    let mut out = String::new();
    let registered = match (&inspection.container_instance_arn, &inspection.status) {
        (Some(arn), Some(status)) => format!("{arn}, {status}"),
        _ => "not registered with ECS".to_owned(),
    };
    let _ = writeln!(out, "{} in cluster {} ({registered})", inspection.instance, inspection.cluster);
    if let Some(age) = inspection.drain_age_seconds {
        let _ = writeln!(out, "draining for {age} s");
    }
    let blockers = match &inspection.verdict {
        DrainVerdict::Complete { why: Release::Ready, .. } => {
            let _ = writeln!(
                out,
                "READY: could be released now; nothing but daemons on it, every service at its minimum elsewhere"
            );
            return out;
        }
        DrainVerdict::Complete { why: Release::NotRegistered, .. } => {
            let _ = writeln!(out, "READY: not registered with ECS, nothing to drain");
            return out;
        }
        DrainVerdict::Complete { why: Release::TimedOut, result, blockers } => {
            let _ = writeln!(
                out,
                "TIMED OUT: the max drain time has passed; the hook would complete with {result} despite:"
            );
            blockers
        }
        DrainVerdict::Hold { blockers } => {
            let _ = writeln!(out, "HELD: the drain hook would keep it in Terminating:Wait because of:");
            blockers
        }
    };
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
    out
}
