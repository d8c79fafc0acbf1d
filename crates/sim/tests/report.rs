//! The files a comparison writes: JSON, CSV, every plot as PNG and SVG, and the table; each holding the figures
//! the scenario says it must, in the right policy's row and the right column.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use ecs_scaler_sim::{Comparison, Knobs, builtin, compare, plot, report};

/// The markdown table as rows of header → cell.
fn table_rows(table: &str) -> Vec<HashMap<String, String>> {
    let cells =
        |line: &str| -> Vec<String> { line.trim().trim_matches('|').split('|').map(|c| c.trim().to_owned()).collect() };
    let mut lines = table.lines();
    let header = cells(lines.next().unwrap());
    assert!(lines.next().unwrap().contains("---:"), "the rule line right-aligns the figures");
    lines.map(|line| header.iter().cloned().zip(cells(line)).collect()).collect()
}

/// `summary.csv` as rows of column → value.
fn csv_rows(path: &std::path::Path) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    reader.records().map(|r| header.iter().cloned().zip(r.unwrap().iter().map(str::to_owned)).collect()).collect()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ecs-scaler-sim-report-{name}-{}", std::process::id()))
}

/// `fragmentation`: ten 9.5 GiB tasks from the start, four 6 GiB ones from minute 20, 120 minutes. The oracle is
/// ⌈97280 / 15360⌉ = 7 instances for 20 minutes, then ⌈121856 / 15360⌉ = 8 for 100: 940 instance-minutes,
/// 15.67 hours, for every policy. The original rule never scales up (memory stays at 63 %), so the four batch
/// tasks wait the whole 100 minutes: 400 unplaced task-minutes, in seed's row and nowhere else.
#[test]
fn a_comparison_writes_json_csv_and_every_plot_with_the_scenario_s_figures_in_the_right_places() {
    let scenario = builtin::by_name("fragmentation").unwrap();
    let comparison = compare(&scenario, &ecs_scaler_sim::policy::NAMES, &Knobs::default(), &mut |_| {}).unwrap();
    let dir = temp_dir("fragmentation");
    let mut files = comparison.write_files(&dir).unwrap();
    files.extend(plot::write_plots(&comparison, &dir).unwrap());

    let names: Vec<String> = files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
    for chart in ["instances", "reservation", "scale_status", "unplaced", "below_min"] {
        for extension in ["png", "svg"] {
            assert!(names.contains(&format!("{chart}.{extension}")), "{chart}.{extension} missing from {names:?}");
        }
    }
    let png = std::fs::read(dir.join("instances.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let svg = std::fs::read_to_string(dir.join("reservation.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("MemoryReservation"), "the legend is drawn as text");

    let oracle_hours = 940.0 / 60.0;
    let seed = comparison.runs.iter().find(|r| r.policy == "seed").unwrap();
    assert_eq!(seed.summary.unplaced_task_minutes, 400);
    assert!((seed.summary.oracle_hours - oracle_hours).abs() < 1e-9);
    let real = comparison.runs.iter().find(|r| r.policy == "ecs-scaler").unwrap();
    assert!(real.summary.unplaced_task_minutes < 50, "{:?}", real.summary);

    // JSON: one run per policy in report order, each with its own figures.
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let runs = summary["runs"].as_array().unwrap();
    let policies: Vec<&str> = runs.iter().map(|r| r["policy"].as_str().unwrap()).collect();
    assert_eq!(policies, ["ecs-scaler", "seed", "capacity-provider"]);
    assert_eq!(runs[1]["summary"]["unplaced_task_minutes"], 400);
    assert_eq!(runs[0]["summary"]["unplaced_task_minutes"], real.summary.unplaced_task_minutes);
    for run in runs {
        assert!((run["summary"]["oracle_hours"].as_f64().unwrap() - oracle_hours).abs() < 1e-9);
        for figure in ["drain_timeouts", "tasks_killed", "termination_refusals", "tasks_moved_per_day"] {
            assert!(run["summary"][figure].is_number(), "{figure} missing from {run}");
        }
    }

    // CSV: the same figures under their own column names.
    let rows = csv_rows(&dir.join("summary.csv"));
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1]["policy"], "seed");
    assert_eq!(rows[1]["unplaced_task_minutes"], "400");
    assert_eq!(rows[0]["unplaced_task_minutes"], real.summary.unplaced_task_minutes.to_string());
    assert!(rows.iter().all(|r| (r["oracle_hours"].parse::<f64>().unwrap() - oracle_hours).abs() < 1e-9));
    assert_eq!(rows[1]["worst_spike_minutes_to_placed"], "-", "a step of 4 tasks is no spike");

    // The timeline: 120 minutes a policy; seed's batch tasks short from minute 20, the oracle stepping to 8.
    let mut reader = csv::Reader::from_path(dir.join("timeline.csv")).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(&header[..4], ["policy", "drain_hook", "minute", "instances"]);
    let lines: Vec<HashMap<String, String>> =
        reader.records().map(|r| header.iter().cloned().zip(r.unwrap().iter().map(str::to_owned)).collect()).collect();
    assert_eq!(lines.len(), 3 * 120);
    let at = |policy: &str, minute: u32| {
        lines.iter().find(|l| l["policy"] == policy && l["minute"] == minute.to_string()).unwrap()
    };
    assert_eq!((at("seed", 19)["shortfall"].as_str(), at("seed", 20)["shortfall"].as_str()), ("0", "4"));
    assert_eq!((at("seed", 10)["oracle"].as_str(), at("seed", 50)["oracle"].as_str()), ("7", "8"));
    assert_eq!(at("ecs-scaler", 119)["shortfall"], "0");
    std::fs::remove_dir_all(&dir).unwrap();

    // The table: a row per policy, each cell under its header.
    let table = report::table([&comparison]);
    let rows = table_rows(&table);
    assert_eq!(rows.len(), 3, "{table}");
    assert_eq!(rows[0].keys().len(), report::COLUMNS.len());
    let row = |policy: &str| rows.iter().find(|r| r["policy"] == policy).unwrap();
    assert_eq!(row("seed")["unplaced task-min"], "400");
    assert_eq!(row("ecs-scaler")["unplaced task-min"], real.summary.unplaced_task_minutes.to_string());
    assert!(rows.iter().all(|r| r["oracle-h"] == "15.7" && r["scenario"] == "fragmentation"));
    assert_eq!(row("seed")["instance-h"], format!("{:.1}", seed.summary.instance_hours));
    assert_eq!(row("seed")["instance-h"], "20.0", "ten instances for two hours, never more");
}

/// The two figures a termination adds: drains held to the max drain time, and REPLICA tasks killed with their
/// instance. On `static-ports` the original rule scales in instances whose static-port tasks can go nowhere:
/// their drains run to the hour and the tasks die. Without the drain hook every such task dies at once.
#[test]
fn drains_held_to_the_max_and_tasks_killed_reach_every_output() {
    let scenario = builtin::by_name("static-ports").unwrap();
    let with_hook = compare(&scenario, &["seed"], &Knobs::default(), &mut |_| {}).unwrap();
    let without = Knobs { drain_hook: false, ..Knobs::default() };
    let no_hook = compare(&scenario, &["seed"], &without, &mut |_| {}).unwrap();
    let runs = [&with_hook.runs[0], &no_hook.runs[0]];
    let (held, killed) = (&runs[0].summary, &runs[1].summary);
    assert!(held.drain_timeouts > 0 && held.tasks_killed > 0, "{held:?}");
    assert_eq!(killed.drain_timeouts, 0, "no hook, nothing held");
    assert!(killed.tasks_killed > held.tasks_killed, "{killed:?} vs {held:?}");
    for run in runs {
        assert_eq!(run.summary.drain_timeouts, run.tally.drain_timeouts);
        assert_eq!(run.summary.tasks_killed, run.tally.tasks_killed);
    }

    let both = Comparison { runs: vec![runs[0].clone(), runs[1].clone()], ..with_hook.clone() };
    let dir = temp_dir("static-ports");
    both.write_files(&dir).unwrap();
    let rows = csv_rows(&dir.join("summary.csv"));
    std::fs::remove_dir_all(&dir).unwrap();
    for (row, run) in rows.iter().zip(runs) {
        assert_eq!(row["drain_hook"], run.drain_hook.to_string());
        assert_eq!(row["drain_timeouts"], run.summary.drain_timeouts.to_string());
        assert_eq!(row["tasks_killed"], run.summary.tasks_killed.to_string());
        assert_eq!(row["termination_refusals"], "0", "seed keeps Auto Scaling's Default termination policy");
    }
    let table = report::table([&both]);
    let rows = table_rows(&table);
    assert_eq!(rows[1]["policy"], "seed (no hook)");
    for (row, run) in rows.iter().zip(runs) {
        assert_eq!(row["drains held to max"], run.summary.drain_timeouts.to_string(), "{table}");
        assert_eq!(row["tasks killed"], run.summary.tasks_killed.to_string(), "{table}");
    }
}
