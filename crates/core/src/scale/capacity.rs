//! The capacity contract with Auto Scaling: the metrics a tick publishes beside ScaleStatus, the step tables the
//! Terraform module writes, how many candidates a tick judges, and what the groups say about capacity already
//! launching or leaving.

use crate::arn::cluster_name;
use crate::lifecycle::{AutoScalingGroup, TAG_CLUSTER};

/// The metric a tick publishes with the number of instances waiting tasks need.
pub const SHORTFALL_METRIC: &str = "InstancesShortfall";
/// The step adjustments of each colour's shortfall policy (a step scaling policy with ChangeInCapacity, asked
/// with ExecutePolicy, the shortfall as the metric value and a breach threshold of 0): `(lower, upper,
/// instances)` with the bounds relative to the threshold. Exact up to 15 instances, then rounded up, because a
/// policy holds at most 20 steps; an overshoot is consolidated away later, an undershoot would wait a warm-up.
/// The Terraform module writes the same table (its test checks it against this one).
pub const SHORTFALL_STEPS: [(f64, Option<f64>, u32); 20] = [
    (0.5, Some(1.5), 1),
    (1.5, Some(2.5), 2),
    (2.5, Some(3.5), 3),
    (3.5, Some(4.5), 4),
    (4.5, Some(5.5), 5),
    (5.5, Some(6.5), 6),
    (6.5, Some(7.5), 7),
    (7.5, Some(8.5), 8),
    (8.5, Some(9.5), 9),
    (9.5, Some(10.5), 10),
    (10.5, Some(11.5), 11),
    (11.5, Some(12.5), 12),
    (12.5, Some(13.5), 13),
    (13.5, Some(14.5), 14),
    (14.5, Some(15.5), 15),
    (15.5, Some(20.5), 20),
    (20.5, Some(30.5), 30),
    (30.5, Some(50.5), 50),
    (50.5, Some(80.5), 80),
    (80.5, None, 120),
];

/// The metric a tick publishes with the number of ACTIVE instances that can go at once.
pub const SURPLUS_METRIC: &str = "InstancesSurplus";
/// The surplus alarm's threshold: the ScaleStatus low alarm removes one instance, the surplus policy the rest.
pub const SURPLUS_ALARM_THRESHOLD: f64 = 2.0;

/// The step adjustments of each colour's surplus policy (step scaling, ChangeInCapacity), run by the alarm
/// `InstancesSurplus >= 2` (Minimum, every datapoint of the low alarm's window): `(lower, upper, change)` with
/// the bounds relative to that threshold. A surplus of s removes s − 1 instances, since the ScaleStatus low
/// alarm, in ALARM over the same window, removes the other one; at most 20 at a time.
pub const SURPLUS_STEPS: [(f64, Option<f64>, i32); 20] = [
    (0.0, Some(1.0), -1),
    (1.0, Some(2.0), -2),
    (2.0, Some(3.0), -3),
    (3.0, Some(4.0), -4),
    (4.0, Some(5.0), -5),
    (5.0, Some(6.0), -6),
    (6.0, Some(7.0), -7),
    (7.0, Some(8.0), -8),
    (8.0, Some(9.0), -9),
    (9.0, Some(10.0), -10),
    (10.0, Some(11.0), -11),
    (11.0, Some(12.0), -12),
    (12.0, Some(13.0), -13),
    (13.0, Some(14.0), -14),
    (14.0, Some(15.0), -15),
    (15.0, Some(16.0), -16),
    (16.0, Some(17.0), -17),
    (17.0, Some(18.0), -18),
    (18.0, Some(19.0), -19),
    (19.0, None, -20),
];

/// The step Auto Scaling picks for a shortfall of `instances`: how many it adds (0 for no shortfall).
pub fn step_for(instances: u32) -> u32 {
    let value = f64::from(instances);
    SHORTFALL_STEPS
        .iter()
        .find(|(lower, upper, _)| value >= *lower && upper.is_none_or(|upper| value < upper))
        .map_or(0, |(_, _, add)| *add)
}

/// Candidates whose tasks consolidation reads per tick, cheapest first, before it gives up until the next one.
pub const CANDIDATES_TRIED: usize = 3;
/// Candidates whose tasks the surplus reads per tick, cheapest first.
pub const SURPLUS_CANDIDATES: usize = 10;

fn cluster_groups<'a>(groups: &'a [AutoScalingGroup], cluster: &'a str) -> impl Iterator<Item = &'a AutoScalingGroup> {
    groups.iter().filter(move |g| g.tags.get(TAG_CLUSTER).map(|c| cluster_name(c)) == Some(cluster))
}

/// Instances the cluster's groups are launching: those in a `Pending` state, and the desired ones not created
/// yet. An instance already InService is not counted, even if it has not registered with ECS: one that never
/// does (a bad AMI, a broken agent) must not hold back a scale-up forever.
pub fn pending_instances(groups: &[AutoScalingGroup], cluster: &str) -> u32 {
    cluster_groups(groups, cluster)
        .map(|g| {
            let pending = g.instances.iter().filter(|i| i.lifecycle_state.starts_with("Pending")).count();
            let live = g.instances.iter().filter(|i| !i.lifecycle_state.starts_with("Terminating")).count();
            let created = u32::try_from(live).unwrap_or(u32::MAX);
            u32::try_from(pending).unwrap_or(u32::MAX) + g.desired_capacity.saturating_sub(created)
        })
        .sum()
}

/// Whether the cluster's groups are steady: every instance InService and as many as desired, so none is
/// launching and none is leaving (an instance in Terminating:Wait that ECS does not show DRAINING yet included).
/// A cluster without groups tagged for it is never steady: its surplus cannot be acted on.
pub fn groups_steady(groups: &[AutoScalingGroup], cluster: &str) -> bool {
    let mut ours = cluster_groups(groups, cluster).peekable();
    ours.peek().is_some()
        && ours.all(|g| {
            let in_service = g.instances.iter().all(|i| i.lifecycle_state == "InService");
            in_service && u32::try_from(g.instances.len()).is_ok_and(|n| n == g.desired_capacity)
        })
}

/// Whether `pending` instances already on their way cover a scale-up: every reservation at or above its max
/// falls below it over the `registered + pending` instances, and the instances the waiting tasks need (when any
/// wait; `Some(None)` when they are not sized) are no more than `pending`. Returns why, for the decision's
/// detail; `None` when they do not.
pub fn pending_covers(
    reservations: [(Option<f64>, f64); 2],
    registered: u32,
    pending: u32,
    waiting: Option<Option<u32>>,
) -> Option<String> {
    if pending == 0 {
        return None;
    }
    let factor = f64::from(registered) / f64::from(registered + pending);
    let mut parts = Vec::new();
    for (name, (value, max)) in ["cpu", "memory"].into_iter().zip(reservations) {
        if let Some(value) = value.filter(|v| *v >= max) {
            let after = value * factor;
            if after >= max {
                return None;
            }
            parts.push(format!("{name} {value:.1}% would be {after:.1}%"));
        }
    }
    match waiting {
        None => {}
        Some(Some(instances)) if instances <= pending => {
            parts.push(format!("the waiting tasks need {instances} instance(s)"));
        }
        // Waiting tasks that need more, or whose need is unknown, still ask.
        Some(_) => return None,
    }
    Some(format!("{} once the {pending} instance(s) launching register", parts.join(" and ")))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::lifecycle::GroupInstance;

    #[test]
    fn launching_instances_cover_a_scale_up_only_when_they_bring_every_resource_below_max() {
        let instance = |state: &str| GroupInstance { lifecycle_state: state.into(), ..GroupInstance::default() };
        let group = |cluster: &str, desired, states: &[&str]| AutoScalingGroup {
            tags: HashMap::from([(TAG_CLUSTER.to_owned(), cluster.to_owned())]),
            desired_capacity: desired,
            instances: states.iter().map(|s| instance(s)).collect(),
            ..AutoScalingGroup::default()
        };
        // 6 desired: 4 InService, 1 Pending, 1 not created yet.
        let groups = [group("web", 6, &["InService"; 4]), group("web", 0, &[]), group("api", 9, &[])];
        let mut launching = groups.clone();
        launching[0].instances.push(instance("Pending"));
        assert_eq!(pending_instances(&launching, "web"), 2);
        assert_eq!(pending_instances(&groups, "web"), 2);
        // An InService instance counts as launched whether or not ECS has it.
        assert_eq!(pending_instances(&[group("web", 4, &["InService"; 4])], "web"), 0);
        // Steady: all InService and as many as desired; a leaving instance or a missing group is not.
        assert!(groups_steady(&[group("web", 4, &["InService"; 4])], "web"));
        assert!(!groups_steady(
            &[group("web", 3, &["InService", "InService", "InService", "Terminating:Wait"])],
            "web"
        ));
        assert!(!groups_steady(&groups, "web"));
        assert!(!groups_steady(&groups, "other"));

        // 90% on 4 instances is 60% on 6.
        let covered = pending_covers([(Some(90.0), 85.0), (Some(50.0), 85.0)], 4, 2, None).unwrap();
        assert!(covered.contains("cpu 90.0% would be 60.0%"), "{covered}");
        // 95% on 10 is 86% on 11: still at max.
        assert_eq!(pending_covers([(Some(95.0), 85.0), (None, 85.0)], 10, 1, None), None);
        assert_eq!(pending_covers([(Some(90.0), 85.0), (None, 85.0)], 4, 0, None), None);
        // Waiting tasks: covered only when sized and no more than what is launching.
        let short = |instances: u32| Some(instances);
        assert!(pending_covers([(Some(70.0), 85.0), (None, 85.0)], 4, 3, Some(short(3))).is_some());
        assert_eq!(pending_covers([(Some(70.0), 85.0), (None, 85.0)], 4, 3, Some(short(4))), None);
        assert_eq!(pending_covers([(Some(70.0), 85.0), (None, 85.0)], 4, 3, Some(None)), None);
    }

    #[test]
    fn the_steps_are_exact_to_fifteen_then_round_up_and_never_undershoot() {
        assert_eq!(step_for(0), 0);
        assert_eq!((1..=15).map(step_for).collect::<Vec<_>>(), (1..=15).collect::<Vec<_>>());
        assert_eq!(
            (step_for(16), step_for(20), step_for(21), step_for(80), step_for(81), step_for(500)),
            (20, 20, 30, 80, 120, 120)
        );
        // Contiguous, increasing, open only at the top: what Auto Scaling accepts.
        for pair in SHORTFALL_STEPS.windows(2) {
            assert_eq!(pair[0].1, Some(pair[1].0));
            assert!(pair[0].2 < pair[1].2);
        }
        assert!((1..=120).all(|n| step_for(n) >= n));
    }

    /// A step table as the blue-green module reads it from its JSON file.
    fn written<T: serde::de::DeserializeOwned>(json: &str) -> Vec<(f64, Option<f64>, T)> {
        #[derive(serde::Deserialize)]
        struct Step<T> {
            lower: f64,
            upper: Option<f64>,
            adjustment: T,
        }
        let steps: Vec<Step<T>> = serde_json::from_str(json).unwrap();
        steps.into_iter().map(|s| (s.lower, s.upper, s.adjustment)).collect()
    }

    #[test]
    fn the_terraform_module_writes_the_same_step_table() {
        let json = include_str!("../../../../terraform/modules/ecs-cluster-blue-green/shortfall-steps.json");
        assert_eq!(written::<u32>(json), SHORTFALL_STEPS);
    }

    #[test]
    fn the_terraform_module_writes_the_same_surplus_table() {
        let json = include_str!("../../../../terraform/modules/ecs-cluster-blue-green/surplus-steps.json");
        assert_eq!(written::<i32>(json), SURPLUS_STEPS);
        // A surplus of s (metric value s, threshold 2) removes s − 1, up to 20.
        let change = |s: f64| {
            let over = s - SURPLUS_ALARM_THRESHOLD;
            SURPLUS_STEPS.iter().find(|(l, u, _)| over >= *l && u.is_none_or(|u| over < u)).map(|(_, _, c)| *c)
        };
        assert_eq!(
            (change(1.0), change(2.0), change(5.0), change(21.0), change(40.0)),
            (None, Some(-1), Some(-4), Some(-20), Some(-20))
        );
    }
}
