//! The `ecs-scaler` command: an operator's view of what the Lambdas would do, through the same core calls over
//! the same ports. It owns argument parsing and rendering; it must not decide anything the core does not, and
//! `status` and `drain-check` never change anything in AWS.
//!
//! - `status`: what scale-status would publish for each cluster right now, read from AWS, never published;
//! - `drain-check`: whether one container instance could be released now, and what holds it;
//! - `simulate`: what-if runs of the scaling policies over a scenario (see `ecs-scaler-sim`);
//! - `bench`: how long the simulator takes for a day of a 200-service cluster on 90 to 140 instances.

pub mod drain_check;
pub mod simulate;
pub mod status;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Why a command failed. The binary prints it and exits 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Tick(#[from] ecs_scaler_core::scale::TickError),
    #[error(transparent)]
    Config(#[from] ecs_scaler_core::config::ConfigError),
    #[error(transparent)]
    Sim(#[from] ecs_scaler_sim::SimError),
    #[error(transparent)]
    Drain(#[from] drain_hook::DrainError),
    #[error("{0}")]
    Usage(String),
    #[error("writing output: {0}")]
    Output(String),
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;

#[derive(Debug, Parser)]
#[command(
    name = "ecs-scaler",
    version,
    about = "Autoscaling for Amazon ECS clusters on EC2: inspect decisions, check drains, simulate policies."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// What scale-status would publish for each managed cluster now (reads AWS, publishes nothing).
    #[command(after_help = STATUS_EXAMPLES)]
    Status(StatusArgs),
    /// Whether one container instance could be released now: every blocking service (running on ACTIVE
    /// instances vs required) and the instance's remaining tasks. Changes nothing.
    #[command(after_help = DRAIN_CHECK_EXAMPLES)]
    DrainCheck(DrainCheckArgs),
    /// What-if: replay a scenario under the scaling policies and compare instance-hours, unplaced tasks,
    /// min-healthy violations, oscillation and spike recovery.
    #[command(after_help = SIMULATE_EXAMPLES)]
    Simulate(simulate::SimulateArgs),
    /// Time the simulator on a 24 h day of a 200-service cluster on 90 to 140 instances (use a release build).
    #[command(after_help = BENCH_EXAMPLES)]
    Bench(BenchArgs),
}

const STATUS_EXAMPLES: &str = "\
Examples:
  # every cluster in CLUSTERS or tagged ecs-scaler:enabled=true, thresholds layered as the Lambda does
  CLUSTERS=prod,staging ecs-scaler status
  # just one cluster, as JSON
  ecs-scaler status --cluster prod --json
  # against a local emulator
  AWS_ENDPOINT_URL=http://127.0.0.1:5000 AWS_REGION=us-east-1 ecs-scaler status --cluster demo

Configuration comes from the same environment variables as the scale-status Lambda (CLUSTERS, CPU_MIN,
CPU_MAX, MEMORY_MIN, MEMORY_MAX, PLACEMENT_CHECK, LOOKBACK_SECONDS, STALE_AFTER_SECONDS) and the ECS
cluster tags; credentials and region from the usual AWS chain, AWS_ENDPOINT_URL included.";

const DRAIN_CHECK_EXAMPLES: &str = "\
Examples:
  # the cluster comes from the instance's Auto Scaling group tag ecs-scaler:cluster, else CLUSTER
  ecs-scaler drain-check --instance i-0123456789abcdef0
  ecs-scaler drain-check --instance i-0123456789abcdef0 --cluster prod --json

The instance is judged as the drain hook would judge it once DRAINING (its own tasks no longer count as
available), with the hook's settings from the environment (MAX_DRAIN_SECONDS, DRAIN_TIMEOUT_RESULT, CLUSTER).
Exit status: 0 when it could be released now, 3 when it would be held, 1 when the check failed.";

const SIMULATE_EXAMPLES: &str = "\
Examples:
  # all three policies on the blue/green swap; files and plots go to sim-out/blue-green/
  ecs-scaler simulate --scenario blue-green
  # every built-in scenario, ecs-scaler against the original rule with its original thresholds
  ecs-scaler simulate --scenario all --policy ecs-scaler --policy seed --seed-thresholds 40,75
  # prove the drain hook matters: the same swap with and without it
  ecs-scaler simulate --scenario blue-green --policy ecs-scaler --compare-drain-hook
  # try other thresholds for ecs-scaler
  ecs-scaler simulate --scenario diurnal --cpu 55,80 --memory 55,80
  # replay your own trace (CSV or JSON; see the ecs-scaler-sim docs for the format)
  ecs-scaler simulate --scenario ./my-day.csv --out /tmp/my-day
  # start your own scenario from a built-in one
  ecs-scaler simulate --scenario spike --export spike.json";

const BENCH_EXAMPLES: &str = "\
Examples:
  cargo run --release -p ecs-scaler-cli -- bench
  ecs-scaler bench --json";

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Evaluate this cluster (repeatable). Replaces CLUSTERS, as the schedule input's cluster list does;
    /// only the named clusters are shown.
    #[arg(long = "cluster", value_name = "NAME")]
    pub clusters: Vec<String>,
    /// Print the reports as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DrainCheckArgs {
    /// The EC2 instance id.
    #[arg(long, value_name = "i-…")]
    pub instance: String,
    /// The ECS cluster (default: the group's ecs-scaler:cluster tag, else CLUSTER).
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    /// Print the inspection as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Print the timings as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Run a parsed command line.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Status(args) => status::run(args).await,
        Command::DrainCheck(args) => drain_check::run(args).await,
        Command::Simulate(args) => simulate::run(args),
        Command::Bench(args) => simulate::bench(args),
    }
}
