//! ECS calls per throttling bucket: every call scale-status and the drain hook make to the world's ECS, counted
//! as the SDK adapters make them, reaching the summary, the CSV, the JSON and the table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use ecs_scaler_sim::calls::EcsCalls;
use ecs_scaler_sim::{Knobs, Run, Scenario, builtin, policy, report, simulate};

fn run(scenario: &Scenario, policy: &str, knobs: &Knobs) -> Run {
    simulate(scenario, policy::by_name(policy, knobs).unwrap(), knobs, &mut |_| {}).unwrap()
}

/// What one deep read of the cluster's services costs: ListServices (pages of 100) and DescribeServices
/// (10 a call).
fn service_read_of(scenario: &Scenario) -> f64 {
    let n = scenario.services.len();
    (n.div_ceil(100).max(1) + n.div_ceil(10)) as f64
}

/// Without memory every scheduled tick reads the services (the placement check), so scale-status's service
/// reads per minute are at least one read's worth; with the warm process's memory most ticks republish the
/// verdict and read nothing but DescribeClusters. The drain hook's calls are its own, and the per-minute
/// figures add up to the two callers' totals.
#[test]
fn scale_status_reads_the_services_every_minute_without_memory_and_seldom_with_it() {
    let spike = builtin::by_name("spike").unwrap();
    let cold = run(&spike, "ecs-scaler", &Knobs { memory: false, ..Knobs::default() });
    let warm = run(&spike, "ecs-scaler", &Knobs::default());
    let floor = service_read_of(&spike);
    let cold_reads = cold.summary.ecs_calls.scale_status_per_minute.service_read;
    let warm_reads = warm.summary.ecs_calls.scale_status_per_minute.service_read;
    assert!(cold_reads >= floor, "{cold_reads} < {floor} a minute without memory");
    assert!(warm_reads < floor / 2.0, "{warm_reads} a minute with memory, one read is {floor}");
    assert!(warm.tally.verdicts_reused > 120, "{:?}", warm.tally);
    assert_eq!(cold.tally.verdicts_reused, 0);
    // DescribeClusters every tick, either way.
    assert!(warm.summary.ecs_calls.scale_status_per_minute.cluster_read >= 1.0);
    for r in [&cold, &warm] {
        let by_minute = r.timeline.iter().fold(EcsCalls::default(), |sum, m| sum.plus(&m.ecs_calls));
        assert_eq!(by_minute, r.tally.ecs_calls_policy.plus(&r.tally.ecs_calls_drain_hook));
        let peak = r.timeline.iter().map(|m| m.ecs_calls.total()).max().unwrap();
        assert_eq!(r.summary.ecs_calls.peak_minute_calls, peak);
        let at = &r.timeline[r.summary.ecs_calls.peak_minute as usize];
        assert_eq!(at.ecs_calls.total(), peak);
        let mean = by_minute.service_read as f64 / r.timeline.len() as f64;
        assert!((r.summary.ecs_calls.per_minute.service_read - mean).abs() < 1e-9);
    }
}

/// The original rule and the capacity provider call no ECS API themselves (the one reads CloudWatch, the other
/// is AWS's own); what their runs show is the drain hook's. The drain hook's calls come with its drains.
#[test]
fn only_ecs_scaler_s_policy_calls_ecs_and_the_drain_hook_s_calls_come_with_drains() {
    let spike = builtin::by_name("spike").unwrap();
    let knobs = Knobs::default();
    for name in ["seed", "capacity-provider"] {
        let r = run(&spike, name, &knobs);
        assert_eq!(r.tally.ecs_calls_policy, EcsCalls::default(), "{name}");
        assert_eq!(r.tally.drains_completed > 0, r.tally.ecs_calls_drain_hook.total() > 0, "{name}: {:?}", r.tally);
    }
    let real = run(&spike, "ecs-scaler", &knobs);
    assert!(real.tally.ecs_calls_policy.total() > 0);
    // Every minute it publishes needs DescribeClusters at least.
    assert!(real.timeline.iter().all(|m| m.ecs_calls.cluster_read >= 1), "a minute without DescribeClusters");
}

/// The figures in the files and the table are the summary's.
#[test]
fn ecs_calls_per_minute_reach_the_json_csv_and_table() {
    let scenario = builtin::by_name("fragmentation").unwrap();
    let comparison =
        ecs_scaler_sim::compare(&scenario, &["ecs-scaler", "seed"], &Knobs::default(), &mut |_| {}).unwrap();
    let dir = std::env::temp_dir().join(format!("ecs-scaler-sim-calls-{}", std::process::id()));
    comparison.write_files(&dir).unwrap();
    let real = &comparison.runs[0].summary.ecs_calls;
    assert!(real.per_minute.service_read > 0.0 && real.peak_minute_calls > 0);

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let calls = &json["runs"][0]["summary"]["ecs_calls"];
    assert_eq!(calls["per_minute"]["service_read"].as_f64().unwrap(), real.per_minute.service_read);
    assert_eq!(calls["peak_minute_calls"].as_u64().unwrap(), real.peak_minute_calls);
    assert!(calls["scale_status_per_minute"]["cluster_resource_read"].is_number());

    let mut reader = csv::Reader::from_path(dir.join("summary.csv")).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let rows: Vec<HashMap<String, String>> =
        reader.records().map(|r| header.iter().cloned().zip(r.unwrap().iter().map(str::to_owned)).collect()).collect();
    let parse = |row: &HashMap<String, String>, column: &str| row[column].parse::<f64>().unwrap();
    assert_eq!(parse(&rows[0], "ecs_service_read_per_min"), real.per_minute.service_read);
    assert_eq!(parse(&rows[0], "ecs_cluster_resource_read_per_min"), real.per_minute.cluster_resource_read);
    assert_eq!(parse(&rows[0], "ecs_peak_minute_calls"), real.peak_minute_calls as f64);
    assert_eq!(parse(&rows[1], "scale_status_ecs_calls_per_min"), 0.0, "seed's policy makes no ECS call");

    let timeline = std::fs::read_to_string(dir.join("timeline.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(timeline.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let column = header.iter().position(|h| h == "ecs_service_read").unwrap();
    let sum: u64 = reader.records().take(120).map(|r| r.unwrap()[column].parse::<u64>().unwrap()).sum();
    assert_eq!(sum, comparison.runs[0].timeline.iter().map(|m| m.ecs_calls.service_read).sum::<u64>());
    std::fs::remove_dir_all(&dir).unwrap();

    let table = report::table([&comparison]);
    let line = table.lines().find(|l| l.contains("ecs-scaler")).unwrap();
    let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
    let at = |name: &str| report::COLUMNS.iter().position(|c| *c == name).unwrap();
    assert_eq!(cells[at("svc r/min")], format!("{:.1}", real.per_minute.service_read));
    assert_eq!(cells[at("ECS peak/min")], real.peak_minute_calls.to_string());
}

/// What remembering must not cost: reaction. Over every built-in scenario the warm process (verdicts republished
/// while nothing they were decided from changed, resync every 600 s) places each spike as soon as reading every
/// tick from scratch does, and the spike within 3 minutes; it removes no later than one resync period (10
/// minutes) after reading from scratch would have: its first scale-in after the spike falls back.
#[test]
fn remembering_places_spikes_as_fast_and_consolidates_within_a_resync_of_reading_from_scratch() {
    let first_scale_in_after = |r: &Run, minute: u32| {
        r.tally.capacity_changes.iter().find(|(at, change)| *at >= minute && *change < 0).map(|(at, _)| *at)
    };
    for (name, _) in builtin::NAMES.iter().filter(|(n, _)| *n != "bench") {
        let scenario = builtin::by_name(name).unwrap();
        let cold = run(&scenario, "ecs-scaler", &Knobs { memory: false, ..Knobs::default() });
        let warm = run(&scenario, "ecs-scaler", &Knobs::default());
        let spikes = |r: &Run| r.summary.spikes.iter().map(|s| s.minutes_to_placed).collect::<Vec<_>>();
        assert_eq!(spikes(&warm), spikes(&cold), "{name}");
        if *name == "spike" {
            assert!(warm.summary.worst_spike().unwrap().unwrap() <= 3, "{name}: {:?}", warm.summary.spikes);
            // The load falls back at minute 150.
            let (warm_in, cold_in) = (first_scale_in_after(&warm, 150), first_scale_in_after(&cold, 150));
            let (warm_in, cold_in) = (warm_in.unwrap(), cold_in.unwrap());
            assert!(warm_in <= cold_in + 10, "{name}: first scale-in at {warm_in} remembering, {cold_in} from scratch");
        }
        assert_eq!(warm.summary.min_healthy_violations, 0, "{name}");
    }
}
