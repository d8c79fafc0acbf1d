//! What a warm process remembers between ticks, so a steady cluster costs almost nothing to watch:
//!
//! - **task definitions**, immutable per revision, kept for the life of the process;
//! - each cluster's **last verdict** and the fingerprint of what it was decided from: DescribeClusters' counts,
//!   status and tags, the reservation readings, the settings, whether a disruption window is open, and (for a
//!   verdict that depended on them) the cluster's Auto Scaling groups. While the fingerprint holds and the
//!   verdict is not due for its resync (once per period, 10 minutes by default, each cluster at its own phase
//!   within the period, so the clusters' resyncs spread evenly), the verdict is published again without
//!   reading services, instances or tasks;
//! - the clusters a tick **deferred** for lack of API budget, which the next tick takes first.
//!
//! Nothing here is needed for a correct status: a cold start (or a process that never remembers) reads every
//! cluster deeply, as before. A placement-failure event always reads deeply.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};

use super::read::Reading;
use super::tick::ClusterReport;
use crate::cluster::TaskDefinition;
use crate::lifecycle::AutoScalingGroup;
use crate::metrics::Observation;

/// Default resync period: a verdict is read again from scratch at least this often.
pub const DEFAULT_RESYNC_SECONDS: u32 = 600;

/// A cluster's last deep verdict.
#[derive(Debug, Clone)]
struct Remembered {
    fingerprint: u64,
    /// The cluster's groups when the verdict depended on them.
    groups: Option<u64>,
    report: ClusterReport,
    decided: DateTime<Utc>,
}

/// What a process remembers; see the module documentation. Share one per process (a warm Lambda's cold start
/// builds it); [`Memory::default`] remembers nothing yet.
#[derive(Debug, Default)]
pub struct Memory {
    definitions: Mutex<HashMap<String, TaskDefinition>>,
    verdicts: Mutex<HashMap<String, Remembered>>,
    deferred: Mutex<Vec<String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means a panic elsewhere mid-update; what is inside is still a valid memory.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn hash<T: Hash>(value: &T) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

impl Memory {
    /// A task definition read before, by ARN. Only revisioned ARNs (`family:3`) are kept: a bare family names
    /// whatever revision is newest.
    pub fn definition(&self, arn: &str) -> Option<TaskDefinition> {
        lock(&self.definitions).get(arn).cloned()
    }

    pub fn remember_definition(&self, definition: &TaskDefinition) {
        let revisioned = definition.arn.rsplit_once(':').is_some_and(|(_, rev)| rev.parse::<u32>().is_ok());
        if revisioned {
            lock(&self.definitions).insert(definition.arn.clone(), definition.clone());
        }
    }

    /// The clusters the last tick deferred, oldest first.
    pub fn deferred(&self) -> Vec<String> {
        lock(&self.deferred).clone()
    }

    pub fn set_deferred(&self, clusters: Vec<String>) {
        *lock(&self.deferred) = clusters;
    }

    /// The last verdict of a cluster, if it still holds for this reading: the same fingerprint, the same groups
    /// (when it depended on them: `groups` is this tick's), and younger than its resync period.
    pub fn verdict(
        &self,
        reading: &Reading,
        groups: Option<&[AutoScalingGroup]>,
        resync: Duration,
    ) -> Option<(ClusterReport, DateTime<Utc>)> {
        let verdicts = lock(&self.verdicts);
        let remembered = verdicts.get(&reading.facts.name)?;
        if remembered.fingerprint != fingerprint(reading)
            || resync_due(&reading.facts.name, remembered.decided, reading.now, resync)
        {
            return None;
        }
        if let Some(digest) = remembered.groups {
            let now = groups.map(|g| groups_digest(g, &reading.facts.name))?;
            if now != digest {
                return None;
            }
        }
        Some((remembered.report.clone(), remembered.decided))
    }

    /// Whether the cluster's last verdict depended on its groups (so reusing it needs this tick's groups).
    pub fn needs_groups(&self, cluster: &str) -> bool {
        lock(&self.verdicts).get(cluster).is_some_and(|r| r.groups.is_some())
    }

    /// Remember a deep verdict. `groups` are the groups it read, if any.
    pub fn remember(&self, reading: &Reading, groups: Option<&[AutoScalingGroup]>, report: &ClusterReport) {
        let remembered = Remembered {
            fingerprint: fingerprint(reading),
            groups: groups.map(|g| groups_digest(g, &reading.facts.name)),
            report: report.clone(),
            decided: reading.now,
        };
        lock(&self.verdicts).insert(reading.facts.name.clone(), remembered);
    }

    /// Forget a cluster's verdict (a failed or deferred evaluation is never reused).
    pub fn forget(&self, cluster: &str) {
        lock(&self.verdicts).remove(cluster);
    }
}

/// Whether a verdict decided at `decided` is due to be read again from scratch at `now`. Each cluster resyncs
/// once per `resync` period, at its own phase within the period (fixed per cluster name): the clusters' resyncs
/// spread evenly over the period whenever they were first read, and no verdict is older than one period.
fn resync_due(cluster: &str, decided: DateTime<Utc>, now: DateTime<Utc>, resync: Duration) -> bool {
    let period = resync.num_seconds().max(1);
    let phase = i64::try_from(hash(&cluster) % period.unsigned_abs()).unwrap_or(0);
    let slot = |at: DateTime<Utc>| (at.timestamp() - phase).div_euclid(period);
    slot(now) > slot(decided)
}

/// Everything cheap that could change a verdict: DescribeClusters' answer for the cluster, its settings, the
/// reservation readings (their state and value; a new datapoint of the same value is no change) and whether a
/// disruption window is open now.
fn fingerprint(reading: &Reading) -> u64 {
    let facts = &reading.facts;
    let tags: BTreeMap<&String, &String> = facts.tags.iter().collect();
    let observe = |points: Option<&Vec<crate::metrics::Datapoint>>| match points {
        None => "unread".to_owned(),
        Some(points) => match Observation::newest(points, reading.now, reading.stale_after) {
            Observation::Fresh { value, .. } => format!("fresh {value:.2}"),
            Observation::Stale { .. } => "stale".into(),
            Observation::Missing => "missing".into(),
            Observation::Idle => "idle".into(),
        },
    };
    let series = reading.series.as_ref().ok();
    let window = reading.settings.disruption_windows.value.active(reading.now).map(str::to_owned);
    let settings = serde_json::to_string(&reading.settings).unwrap_or_default();
    hash(&(
        &facts.status,
        facts.registered_instances,
        facts.running_tasks,
        facts.pending_tasks,
        facts.active_services,
        tags,
        settings,
        observe(series.map(|s| &s.cpu)),
        observe(series.map(|s| &s.memory)),
        reading.series.is_err(),
        window,
    ))
}

/// One group as far as a verdict reads it: name, sizes, and each instance's ID, state and zone.
type GroupShape<'a> = (&'a str, u32, u32, u32, Vec<(&'a str, &'a str, &'a str)>);

/// The cluster's groups as far as a verdict reads them: sizes, and each instance's state and zone.
fn groups_digest(groups: &[AutoScalingGroup], cluster: &str) -> u64 {
    let mut ours: Vec<GroupShape<'_>> = groups
        .iter()
        .filter(|g| g.tags.get(crate::lifecycle::TAG_CLUSTER).map(|c| crate::arn::cluster_name(c)) == Some(cluster))
        .map(|g| {
            let mut instances: Vec<(&str, &str, &str)> = g
                .instances
                .iter()
                .map(|i| (i.instance_id.as_str(), i.lifecycle_state.as_str(), i.availability_zone.as_str()))
                .collect();
            instances.sort_unstable();
            (g.name.as_str(), g.min_size, g.max_size, g.desired_capacity, instances)
        })
        .collect();
    ours.sort_unstable();
    hash(&ours)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn each_cluster_resyncs_once_a_period_and_the_clusters_spread_over_it() {
        let start = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).single().unwrap();
        let period = Duration::minutes(10);
        let names: Vec<String> = (0..100).map(|c| format!("c{c}")).collect();
        // Every cluster decided at the same minute, then re-read whenever due, minute by minute for an hour.
        let mut decided: Vec<DateTime<Utc>> = vec![start; names.len()];
        let mut per_minute = Vec::new();
        for minute in 1..=60 {
            let now = start + Duration::minutes(minute);
            let mut due = 0;
            for (name, at) in names.iter().zip(decided.iter_mut()) {
                if resync_due(name, *at, now, period) {
                    assert!(now - *at <= period, "{name}: read {} after the last", now - *at);
                    *at = now;
                    due += 1;
                }
            }
            per_minute.push(due);
        }
        // 100 clusters, each once per 10 minutes: 600 deep reads in the hour, about 10 a minute.
        let total: usize = per_minute.iter().sum();
        assert!((590..=610).contains(&total), "{total} deep reads: {per_minute:?}");
        assert!(per_minute[10..].iter().all(|n| *n <= 25), "no minute takes a crowd: {per_minute:?}");
        assert!(decided.iter().all(|at| start + Duration::minutes(60) - *at < period));
        // A verdict just decided is not due again before its phase comes round.
        assert!(!resync_due("c1", start, start, period));
    }
}
