//! Figures per run, the comparison table, and the JSON/CSV files.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::SimError;
use crate::calls::CallRates;
use crate::knobs::Knobs;
use crate::policy::PlotThresholds;
use crate::world::{Minute, Tally};

/// One policy's run of one scenario, minute by minute.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub scenario: String,
    pub policy: String,
    pub drain_hook: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<PlotThresholds>,
    pub summary: Summary,
    #[serde(skip)]
    pub timeline: Vec<Minute>,
    #[serde(skip)]
    pub tally: Tally,
}

/// A spike and how long its tasks waited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Spike {
    pub minute: u32,
    /// Minutes until every service had all its desired tasks placed; `None`: not by the end of the run.
    pub minutes_to_placed: Option<u32>,
}

/// The figures of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub minutes: u32,
    /// Σ instances paid for (launching, ACTIVE, DRAINING) per minute / 60.
    pub instance_hours: f64,
    /// Σ oracle bound per minute / 60.
    pub oracle_hours: f64,
    /// instance_hours / oracle_hours.
    pub ratio: f64,
    /// Σ per minute of tasks the scheduler found no room for.
    pub unplaced_task_minutes: u64,
    /// Service-minutes below minimumHealthyPercent.
    pub min_healthy_violations: u64,
    /// Capacity changes in the opposite direction of the previous one within the oscillation window.
    pub oscillations: u32,
    pub scale_ups: u32,
    pub scale_downs: u32,
    pub spikes: Vec<Spike>,
    /// REPLICA tasks stopped by a termination rather than moved: killed with their instance (no drain hook, a
    /// drain released at the max drain time, an instance terminated before it registered).
    pub tasks_killed: u64,
    /// REPLICA tasks ECS stopped on DRAINING instances (drains of consolidation, scale-in, colour swaps) over
    /// the recorded minutes.
    pub tasks_moved: u64,
    /// The same scaled to 24 h of recorded minutes: an extrapolation, only a day's figure on a 24 h scenario
    /// (on blue-green it is one swap times six).
    pub tasks_moved_per_day: f64,
    /// Drain episodes: maximal stretches of minutes in which some DRAINING instance still ran REPLICA tasks
    /// (one consolidation step, one surplus batch, one colour teardown...).
    pub drain_episodes: u32,
    /// tasks_moved / drain_episodes (0 without episodes).
    pub tasks_moved_per_episode: f64,
    /// The most DRAINING instances still running REPLICA tasks in one minute: what the disruption budget bounds
    /// for voluntary drains (a colour teardown is not bounded by it).
    pub max_draining_with_tasks: u32,
    /// Tasks of services tagged `ecs-scaler:do-not-disrupt=true` moved by a drain.
    pub protected_tasks_moved: u64,
    /// Drains held to the max drain time (`MAX_DRAIN_SECONDS`) and released by it, their tasks still there.
    pub drain_timeouts: u32,
    /// Scale-in requests the custom termination policy answered with no instance (Auto Scaling asks again a
    /// minute later): each is a minute a group stayed above its desired capacity.
    pub termination_refusals: u32,
    pub peak_instances: u32,
    /// Scheduled ticks of scale-status that republished a remembered verdict rather than reading the cluster.
    pub verdicts_reused: u32,
    /// ECS calls per throttling bucket per recorded minute, by scale-status and the drain hook.
    pub ecs_calls: CallRates,
}

impl Summary {
    pub fn from_run(timeline: &[Minute], tally: &Tally, knobs: &Knobs) -> Self {
        let instance_minutes: u64 = timeline.iter().map(|m| u64::from(m.instances)).sum();
        let oracle_minutes: u64 = timeline.iter().map(|m| u64::from(m.oracle)).sum();
        let ratio = if oracle_minutes == 0 { f64::NAN } else { instance_minutes as f64 / oracle_minutes as f64 };
        let mut oscillations = 0;
        for pair in tally.capacity_changes.windows(2) {
            let ((before, up_before), (after, up_after)) = (pair[0], pair[1]);
            if up_before != up_after && after - before <= knobs.oscillation_window_minutes {
                oscillations += 1;
            }
        }
        let drain_episodes = timeline
            .iter()
            .zip(std::iter::once(0).chain(timeline.iter().map(|m| m.draining_with_tasks)))
            .filter(|(now, before)| now.draining_with_tasks > 0 && *before == 0)
            .count() as u32;
        Self {
            minutes: timeline.len() as u32,
            instance_hours: instance_minutes as f64 / 60.0,
            oracle_hours: oracle_minutes as f64 / 60.0,
            ratio,
            unplaced_task_minutes: timeline.iter().map(|m| u64::from(m.unplaced_tasks)).sum(),
            min_healthy_violations: timeline.iter().map(|m| u64::from(m.below_min_services)).sum(),
            oscillations,
            scale_ups: tally.capacity_changes.iter().filter(|(_, d)| *d > 0).count() as u32,
            scale_downs: tally.capacity_changes.iter().filter(|(_, d)| *d < 0).count() as u32,
            spikes: spikes(timeline, knobs),
            tasks_killed: tally.tasks_killed,
            tasks_moved: tally.tasks_moved,
            drain_episodes,
            tasks_moved_per_episode: if drain_episodes == 0 {
                0.0
            } else {
                tally.tasks_moved as f64 / f64::from(drain_episodes)
            },
            max_draining_with_tasks: timeline.iter().map(|m| m.draining_with_tasks).max().unwrap_or(0),
            protected_tasks_moved: tally.protected_tasks_moved,
            tasks_moved_per_day: if timeline.is_empty() {
                0.0
            } else {
                tally.tasks_moved as f64 * 1440.0 / timeline.len() as f64
            },
            drain_timeouts: tally.drain_timeouts,
            termination_refusals: tally.termination_refusals,
            peak_instances: timeline.iter().map(|m| m.instances).max().unwrap_or(0),
            verdicts_reused: tally.verdicts_reused,
            ecs_calls: CallRates::of(
                &timeline.iter().map(|m| (m.minute, m.ecs_calls)).collect::<Vec<_>>(),
                &tally.ecs_calls_policy,
                &tally.ecs_calls_drain_hook,
            ),
        }
    }

    /// The slowest spike: `None` without spikes, `Some(None)` if one never got all its tasks placed.
    pub fn worst_spike(&self) -> Option<Option<u32>> {
        self.spikes.iter().map(|s| s.minutes_to_placed).max_by_key(|m| m.unwrap_or(u32::MAX))
    }
}

/// Spikes start where desired tasks jump; each lasts until nothing is short any more.
fn spikes(timeline: &[Minute], knobs: &Knobs) -> Vec<Spike> {
    let mut spikes = Vec::new();
    for pair in timeline.windows(2) {
        let (before, now) = (&pair[0], &pair[1]);
        let rise = now.desired_tasks.saturating_sub(before.desired_tasks);
        if rise >= knobs.spike_min_tasks
            && f64::from(rise) >= f64::from(before.desired_tasks) * knobs.spike_increase_percent / 100.0
        {
            let placed = timeline[now.minute as usize..].iter().find(|m| m.shortfall == 0);
            spikes.push(Spike { minute: now.minute, minutes_to_placed: placed.map(|m| m.minute - now.minute) });
        }
    }
    spikes
}

/// Runs of one scenario, one per policy.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub scenario: String,
    pub description: String,
    pub runs: Vec<Run>,
}

fn spike_cell(summary: &Summary) -> String {
    match summary.worst_spike() {
        None => "-".into(),
        Some(None) => "never".into(),
        Some(Some(minutes)) => minutes.to_string(),
    }
}

/// The header of [`table`]. `svc`, `res` and `td r/min` are the mean ECS calls per minute of the service read,
/// cluster resource read and task definition read buckets (scale-status and the drain hook together); `ECS
/// peak/min` the most ECS calls, every bucket, in one minute.
pub const COLUMNS: [&str; 18] = [
    "scenario",
    "policy",
    "instance-h",
    "oracle-h",
    "ratio",
    "unplaced task-min",
    "min-healthy viol.",
    "oscillations",
    "spike→placed min",
    "tasks moved",
    "moved/episode",
    "max draining w/ tasks",
    "drains held to max",
    "tasks killed",
    "svc r/min",
    "res r/min",
    "td r/min",
    "ECS peak/min",
];

/// The figures of many comparisons as one aligned text table.
pub fn table<'a>(comparisons: impl IntoIterator<Item = &'a Comparison>) -> String {
    let mut rows: Vec<[String; COLUMNS.len()]> = Vec::new();
    for comparison in comparisons {
        for run in &comparison.runs {
            let s = &run.summary;
            let policy = if run.drain_hook { run.policy.clone() } else { format!("{} (no hook)", run.policy) };
            rows.push([
                comparison.scenario.clone(),
                policy,
                format!("{:.1}", s.instance_hours),
                format!("{:.1}", s.oracle_hours),
                format!("{:.2}", s.ratio),
                s.unplaced_task_minutes.to_string(),
                s.min_healthy_violations.to_string(),
                s.oscillations.to_string(),
                spike_cell(s),
                s.tasks_moved.to_string(),
                format!("{:.1}", s.tasks_moved_per_episode),
                s.max_draining_with_tasks.to_string(),
                s.drain_timeouts.to_string(),
                s.tasks_killed.to_string(),
                format!("{:.1}", s.ecs_calls.per_minute.service_read),
                format!("{:.1}", s.ecs_calls.per_minute.cluster_resource_read),
                format!("{:.2}", s.ecs_calls.per_minute.task_definition_read),
                s.ecs_calls.peak_minute_calls.to_string(),
            ]);
        }
    }
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::ASCII_MARKDOWN);
    table.set_content_arrangement(comfy_table::ContentArrangement::Disabled);
    table.set_header(COLUMNS);
    table.add_rows(rows);
    for column in table.column_iter_mut().skip(2) {
        column.set_cell_alignment(comfy_table::CellAlignment::Right);
    }
    // Markdown says right-aligned with a colon at the end of the header rule, which no preset draws.
    let mut out = String::new();
    for (i, line) in table.lines().enumerate() {
        if i == 1 {
            let cells: Vec<String> = line
                .trim_matches('|')
                .split('|')
                .enumerate()
                .map(|(c, rule)| if c < 2 { rule.to_owned() } else { format!("{}:", &rule[1..]) })
                .collect();
            let _ = writeln!(out, "|{}|", cells.join("|"));
        } else {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> SimError + '_ {
    move |e| SimError::Io(format!("{}: {e}", path.display()))
}

fn csv_error(path: &Path) -> impl Fn(csv::Error) -> SimError + '_ {
    move |e| SimError::Io(format!("{}: {e}", path.display()))
}

#[derive(Serialize)]
struct SummaryRow<'a> {
    scenario: &'a str,
    policy: &'a str,
    drain_hook: bool,
    minutes: u32,
    instance_hours: f64,
    oracle_hours: f64,
    ratio: f64,
    unplaced_task_minutes: u64,
    min_healthy_violations: u64,
    oscillations: u32,
    scale_ups: u32,
    scale_downs: u32,
    spikes: usize,
    worst_spike_minutes_to_placed: String,
    tasks_killed: u64,
    tasks_moved: u64,
    tasks_moved_per_day: f64,
    drain_episodes: u32,
    tasks_moved_per_episode: f64,
    max_draining_with_tasks: u32,
    protected_tasks_moved: u64,
    drain_timeouts: u32,
    termination_refusals: u32,
    peak_instances: u32,
    verdicts_reused: u32,
    ecs_calls_per_min: f64,
    ecs_service_read_per_min: f64,
    ecs_cluster_resource_read_per_min: f64,
    ecs_task_definition_read_per_min: f64,
    ecs_cluster_read_per_min: f64,
    ecs_cluster_resource_modify_per_min: f64,
    ecs_tag_modify_per_min: f64,
    ecs_service_read_peak: u64,
    ecs_cluster_resource_read_peak: u64,
    ecs_task_definition_read_peak: u64,
    ecs_peak_minute: u32,
    ecs_peak_minute_calls: u64,
    scale_status_ecs_calls_per_min: f64,
    drain_hook_ecs_calls_per_min: f64,
}

/// One line of `timeline.csv` (the csv crate cannot flatten a struct).
#[derive(Serialize)]
struct TimelineRow<'a> {
    policy: &'a str,
    drain_hook: bool,
    minute: u32,
    instances: u32,
    registered: u32,
    draining: u32,
    draining_with_tasks: u32,
    desired_capacity: u32,
    cpu_reservation: Option<f64>,
    memory_reservation: Option<f64>,
    scale_status: Option<u8>,
    signal: Option<f64>,
    desired_tasks: u32,
    placed_tasks: u32,
    running_tasks: u32,
    shortfall: u32,
    unplaced_tasks: u32,
    below_min_services: u32,
    oracle: u32,
    reason: Option<&'a str>,
    ecs_service_read: u64,
    ecs_cluster_resource_read: u64,
    ecs_task_definition_read: u64,
    ecs_cluster_read: u64,
    ecs_cluster_resource_modify: u64,
    ecs_tag_modify: u64,
}

impl<'a> TimelineRow<'a> {
    fn new(policy: &'a str, drain_hook: bool, m: &'a Minute) -> Self {
        Self {
            policy,
            drain_hook,
            minute: m.minute,
            instances: m.instances,
            registered: m.registered,
            draining: m.draining,
            draining_with_tasks: m.draining_with_tasks,
            desired_capacity: m.desired_capacity,
            cpu_reservation: m.cpu_reservation.map(|v| (v * 100.0).round() / 100.0),
            memory_reservation: m.memory_reservation.map(|v| (v * 100.0).round() / 100.0),
            scale_status: m.scale_status,
            signal: m.signal.map(|v| (v * 100.0).round() / 100.0),
            desired_tasks: m.desired_tasks,
            placed_tasks: m.placed_tasks,
            running_tasks: m.running_tasks,
            shortfall: m.shortfall,
            unplaced_tasks: m.unplaced_tasks,
            below_min_services: m.below_min_services,
            oracle: m.oracle,
            reason: m.reason.as_deref(),
            ecs_service_read: m.ecs_calls.service_read,
            ecs_cluster_resource_read: m.ecs_calls.cluster_resource_read,
            ecs_task_definition_read: m.ecs_calls.task_definition_read,
            ecs_cluster_read: m.ecs_calls.cluster_read,
            ecs_cluster_resource_modify: m.ecs_calls.cluster_resource_modify,
            ecs_tag_modify: m.ecs_calls.tag_modify,
        }
    }
}

impl Comparison {
    /// `summary.json`, `summary.csv` and `timeline.csv` in `dir`. Returns the files written.
    pub fn write_files(&self, dir: &Path) -> Result<Vec<std::path::PathBuf>, SimError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let json = dir.join("summary.json");
        let text = serde_json::to_string_pretty(self).map_err(|e| SimError::Io(e.to_string()))?;
        std::fs::write(&json, text + "\n").map_err(io(&json))?;

        let summary = dir.join("summary.csv");
        let mut writer = csv::Writer::from_path(&summary).map_err(csv_error(&summary))?;
        for run in &self.runs {
            let s = &run.summary;
            let calls = &s.ecs_calls;
            writer
                .serialize(SummaryRow {
                    scenario: &self.scenario,
                    policy: &run.policy,
                    drain_hook: run.drain_hook,
                    minutes: s.minutes,
                    instance_hours: s.instance_hours,
                    oracle_hours: s.oracle_hours,
                    ratio: s.ratio,
                    unplaced_task_minutes: s.unplaced_task_minutes,
                    min_healthy_violations: s.min_healthy_violations,
                    oscillations: s.oscillations,
                    scale_ups: s.scale_ups,
                    scale_downs: s.scale_downs,
                    spikes: s.spikes.len(),
                    worst_spike_minutes_to_placed: spike_cell(s),
                    tasks_killed: s.tasks_killed,
                    tasks_moved: s.tasks_moved,
                    tasks_moved_per_day: s.tasks_moved_per_day,
                    drain_episodes: s.drain_episodes,
                    tasks_moved_per_episode: s.tasks_moved_per_episode,
                    max_draining_with_tasks: s.max_draining_with_tasks,
                    protected_tasks_moved: s.protected_tasks_moved,
                    drain_timeouts: s.drain_timeouts,
                    termination_refusals: s.termination_refusals,
                    peak_instances: s.peak_instances,
                    verdicts_reused: s.verdicts_reused,
                    ecs_calls_per_min: calls.total_per_minute,
                    ecs_service_read_per_min: calls.per_minute.service_read,
                    ecs_cluster_resource_read_per_min: calls.per_minute.cluster_resource_read,
                    ecs_task_definition_read_per_min: calls.per_minute.task_definition_read,
                    ecs_cluster_read_per_min: calls.per_minute.cluster_read,
                    ecs_cluster_resource_modify_per_min: calls.per_minute.cluster_resource_modify,
                    ecs_tag_modify_per_min: calls.per_minute.tag_modify,
                    ecs_service_read_peak: calls.peak.service_read,
                    ecs_cluster_resource_read_peak: calls.peak.cluster_resource_read,
                    ecs_task_definition_read_peak: calls.peak.task_definition_read,
                    ecs_peak_minute: calls.peak_minute,
                    ecs_peak_minute_calls: calls.peak_minute_calls,
                    scale_status_ecs_calls_per_min: calls.scale_status_per_minute.total(),
                    drain_hook_ecs_calls_per_min: calls.drain_hook_per_minute.total(),
                })
                .map_err(csv_error(&summary))?;
        }
        writer.flush().map_err(io(&summary))?;

        let timeline = dir.join("timeline.csv");
        let mut writer = csv::Writer::from_path(&timeline).map_err(csv_error(&timeline))?;
        for run in &self.runs {
            for minute in &run.timeline {
                writer
                    .serialize(TimelineRow::new(&run.policy, run.drain_hook, minute))
                    .map_err(csv_error(&timeline))?;
            }
        }
        writer.flush().map_err(io(&timeline))?;
        Ok(vec![json, summary, timeline])
    }
}
