//! `ecs-scaler simulate` and `ecs-scaler bench`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use ecs_scaler_core::ScaleRule;
use ecs_scaler_core::config::disruption::Budget;
use ecs_scaler_core::config::{DEFAULT_CPU, DEFAULT_MEMORY, Thresholds};
use ecs_scaler_sim::policy::{self, EcsScaler, Policy, Seed};
use ecs_scaler_sim::{Comparison, Knobs, Scenario, builtin, plot, report};
use indicatif::{ProgressBar, ProgressStyle};

use crate::{BenchArgs, CliError, Result};

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// A built-in scenario (`--list` names them: diurnal, spike, ..., the placement ones such as awsvpc or
    /// mixed-zones, bench), `all` for every built-in one but bench, or a .json / .csv file. Repeatable.
    #[arg(long, value_name = "NAME|FILE", required_unless_present = "list")]
    pub scenario: Vec<String>,
    /// ecs-scaler, seed, capacity-provider, or all. Repeatable.
    #[arg(long, value_name = "POLICY", default_value = "all")]
    pub policy: Vec<String>,
    /// Where the JSON, CSV and plots go: one folder per scenario.
    #[arg(long, value_name = "DIR", default_value = "sim-out")]
    pub out: PathBuf,
    /// Terminating instances go at once and their tasks die with them (no drain hook).
    #[arg(long, conflicts_with = "compare_drain_hook")]
    pub no_drain_hook: bool,
    /// Run every policy twice, with and without the drain hook.
    #[arg(long)]
    pub compare_drain_hook: bool,
    /// ecs-scaler's CPU thresholds, MIN,MAX (default: the core's defaults).
    #[arg(long, value_name = "MIN,MAX", value_parser = str::parse::<Thresholds>)]
    pub cpu: Option<Thresholds>,
    /// ecs-scaler's memory thresholds, MIN,MAX (default: the core's defaults).
    #[arg(long, value_name = "MIN,MAX", value_parser = str::parse::<Thresholds>)]
    pub memory: Option<Thresholds>,
    /// The seed policy's thresholds for both resources, MIN,MAX (default: the same as ecs-scaler's; the
    /// original example used 40,75).
    #[arg(long, value_name = "MIN,MAX", value_parser = str::parse::<Thresholds>)]
    pub seed_thresholds: Option<Thresholds>,
    /// scale-status forgets everything between invocations: every tick reads the cluster from scratch (a cold
    /// start each minute), where the deployed Lambda remembers task definitions and verdicts nothing changed.
    #[arg(long)]
    pub no_memory: bool,
    /// ecs-scaler's disruption budget (DISRUPTION_BUDGET): instances with tasks that may drain voluntarily at
    /// once, a count or a percentage of the ACTIVE instances ("3", "10%"; default 10%; "100%" is no budget).
    #[arg(long, value_name = "N|P%", value_parser = str::parse::<Budget>)]
    pub disruption_budget: Option<Budget>,
    /// Skip the PNG/SVG plots.
    #[arg(long)]
    pub no_plots: bool,
    /// Write the (single) scenario as JSON to FILE and exit, to start a scenario of your own.
    #[arg(long, value_name = "FILE")]
    pub export: Option<PathBuf>,
    /// List the built-in scenarios and exit.
    #[arg(long)]
    pub list: bool,
}

/// The scenarios named on the command line, `all` expanded.
fn scenarios(names: &[String]) -> Result<Vec<Scenario>> {
    let mut scenarios = Vec::new();
    for name in names {
        if name == "all" {
            scenarios
                .extend(builtin::NAMES.iter().filter(|(n, _)| *n != "bench").filter_map(|(n, _)| builtin::by_name(n)));
        } else {
            scenarios.push(ecs_scaler_sim::load_scenario(name)?);
        }
    }
    Ok(scenarios)
}

fn policy_names(names: &[String]) -> Result<Vec<&'static str>> {
    let mut chosen: Vec<&'static str> = Vec::new();
    for name in names {
        let named: Vec<&'static str> = if name == "all" {
            policy::NAMES.to_vec()
        } else {
            let known = policy::NAMES.iter().find(|n| **n == name.as_str()).ok_or_else(|| {
                CliError::Usage(format!("unknown policy {name:?}; expected {} or all", policy::NAMES.join(", ")))
            })?;
            vec![*known]
        };
        // `--policy all --policy seed` runs seed once.
        for policy in named {
            if !chosen.contains(&policy) {
                chosen.push(policy);
            }
        }
    }
    Ok(chosen)
}

/// The policy by name, with the thresholds given on the command line; the rest as [`policy::by_name`] makes them.
fn build_policy(name: &str, args: &SimulateArgs, knobs: &Knobs) -> Result<Box<dyn Policy>> {
    Ok(match name {
        EcsScaler::NAME => {
            let rule =
                ScaleRule { cpu: args.cpu.unwrap_or(DEFAULT_CPU), memory: args.memory.unwrap_or(DEFAULT_MEMORY) };
            Box::new(EcsScaler::with_rule(rule, knobs))
        }
        Seed::NAME => {
            let cpu = args.seed_thresholds.or(args.cpu).unwrap_or(DEFAULT_CPU);
            let memory = args.seed_thresholds.or(args.memory).unwrap_or(DEFAULT_MEMORY);
            Box::new(Seed::with_thresholds(cpu, memory))
        }
        other => policy::by_name(other, knobs)?,
    })
}

fn progress_bar(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {msg:<40} [{bar:40}] {pos}/{len} simulated minutes ({eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

pub fn run(args: SimulateArgs) -> Result<ExitCode> {
    if args.list {
        for (name, description) in builtin::NAMES {
            println!("{name:<18} {description}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let scenarios = scenarios(&args.scenario)?;
    if let Some(path) = &args.export {
        let [scenario] = scenarios.as_slice() else {
            return Err(CliError::Usage("--export takes exactly one scenario".into()));
        };
        let json = serde_json::to_string_pretty(scenario).map_err(|e| CliError::Output(e.to_string()))?;
        std::fs::write(path, json + "\n").map_err(|e| CliError::Output(format!("{}: {e}", path.display())))?;
        eprintln!("wrote {}", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let policies = policy_names(&args.policy)?;
    let hooks: &[bool] = match (args.no_drain_hook, args.compare_drain_hook) {
        (true, _) => &[false],
        (false, true) => &[true, false],
        (false, false) => &[true],
    };
    let runs_each = (policies.len() * hooks.len()) as u64;
    let total: u64 = scenarios.iter().map(|s| u64::from(s.minutes) * runs_each).sum();
    let bar = progress_bar(total);

    let mut comparisons = Vec::new();
    for scenario in &scenarios {
        let mut runs = Vec::new();
        for &drain_hook in hooks {
            let knobs = Knobs {
                drain_hook,
                memory: !args.no_memory,
                disruption_budget: args.disruption_budget,
                ..Knobs::default()
            };
            for name in &policies {
                bar.set_message(format!("{} / {name}", scenario.name));
                let policy = build_policy(name, &args, &knobs)?;
                runs.push(ecs_scaler_sim::simulate(scenario, policy, &knobs, &mut |_| bar.inc(1))?);
            }
        }
        let comparison =
            Comparison { scenario: scenario.name.clone(), description: scenario.description.clone(), runs };
        let dir = args.out.join(&scenario.name);
        let mut files = comparison.write_files(&dir)?;
        if !args.no_plots {
            files.extend(plot::write_plots(&comparison, &dir)?);
        }
        bar.suspend(|| eprintln!("{}: wrote {} files in {}", scenario.name, files.len(), dir.display()));
        comparisons.push(comparison);
    }
    bar.finish_and_clear();
    let table = report::table(&comparisons);
    print!("{table}");
    let table_path = args.out.join("table.md");
    std::fs::write(&table_path, &table).map_err(|e| CliError::Output(format!("{}: {e}", table_path.display())))?;
    Ok(ExitCode::SUCCESS)
}

pub fn bench(args: BenchArgs) -> Result<ExitCode> {
    let timings = ecs_scaler_sim::bench(&Knobs::default())?;
    if args.json {
        let rows: Vec<serde_json::Value> = timings
            .iter()
            .map(|(policy, elapsed, summary)| {
                serde_json::json!({
                    "scenario": "bench",
                    "policy": policy,
                    "wall_seconds": elapsed.as_secs_f64(),
                    "minutes": summary.minutes,
                    "peak_instances": summary.peak_instances,
                })
            })
            .collect();
        let text = serde_json::to_string_pretty(&rows).map_err(|e| CliError::Output(e.to_string()))?;
        println!("{text}");
    } else {
        println!("24 h of the bench scenario (200 services, 90 to 140 instances), one run per policy:");
        for (policy, elapsed, summary) in &timings {
            println!(
                "  {policy:<18} {:>7.2} s  ({} minutes, peak {} instances)",
                elapsed.as_secs_f64(),
                summary.minutes,
                summary.peak_instances
            );
        }
        if cfg!(debug_assertions) {
            println!("(debug build: time a release build, `cargo run --release -p ecs-scaler-cli -- bench`)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(args: &[&str]) -> Result<Vec<&'static str>> {
        policy_names(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn each_policy_runs_once_in_report_order_of_first_mention() {
        assert_eq!(names(&["all", "seed"]).unwrap(), ["ecs-scaler", "seed", "capacity-provider"]);
        assert_eq!(names(&["seed", "ecs-scaler", "seed"]).unwrap(), ["seed", "ecs-scaler"]);
        let error = names(&["seeed"]).unwrap_err().to_string();
        assert!(error.contains(r#"unknown policy "seeed""#), "{error}");
    }
}
