//! What a tick asks of Auto Scaling, and what it learns from it: the serving group of a cluster, the sized
//! scale-out (ExecutePolicy on its shortfall step policy), a 2 discounted when instances already launching cover
//! it, and a surplus withheld while the groups are not steady. One DescribeAutoScalingGroups (by tag) per tick,
//! and only when some cluster would scale up or has a surplus.

use serde::Serialize;

use super::capacity;
use super::rule::{Decision, Reason, ScaleStatus};
use super::tick::{ClusterReport, Evaluation};
use crate::arn::cluster_name;
use crate::lifecycle::{AutoScalingGroup, TAG_CLUSTER};
use crate::ports::{AutoScalingApi, AwsError};

/// The tag on an Auto Scaling group naming its step scaling policy for sized scale-out.
pub const TAG_SHORTFALL_POLICY: &str = "ecs-scaler:shortfall-policy";

/// One sized scale-out: ExecutePolicy on the cluster's serving group with the shortfall as the metric value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScaleOut {
    pub cluster: String,
    pub instances: u32,
    /// The group asked, when one was found.
    pub group: Option<String>,
    /// Why it was not asked, or why asking failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The group that takes a cluster's scale-out: of the groups tagged with the cluster and a shortfall policy, the
/// serving colour (the larger min size, then the larger desired capacity), the first name on a tie.
pub fn serving_group<'a>(groups: &'a [AutoScalingGroup], cluster: &str) -> Option<&'a AutoScalingGroup> {
    groups
        .iter()
        .filter(|g| g.tags.get(TAG_CLUSTER).map(|c| cluster_name(c)) == Some(cluster))
        .filter(|g| g.tags.contains_key(TAG_SHORTFALL_POLICY))
        .min_by(|a, b| {
            (b.min_size, b.desired_capacity).cmp(&(a.min_size, a.desired_capacity)).then_with(|| a.name.cmp(&b.name))
        })
}

/// Ask Auto Scaling for the instances each short cluster needs: the groups the evaluation read (or one
/// DescribeAutoScalingGroups by tag), then one ExecutePolicy per short cluster. The step policy picks the step for the
/// shortfall and subtracts capacity still warming up, so asking again for the same tasks adds nothing. A
/// failure is reported, never fatal: the ScaleStatus alarm still adds headroom.
pub(super) async fn scale_out<A: AutoScalingApi>(autoscaling: &A, evaluation: &Evaluation) -> Vec<ScaleOut> {
    let short: Vec<(&str, u32)> = evaluation
        .clusters
        .iter()
        .filter(|r| r.scale_status == Some(ScaleStatus::Up))
        .filter_map(|r| Some((r.cluster.as_str(), r.shortfall?.instances)))
        .filter(|(_, instances)| *instances > 0)
        .collect();
    if short.is_empty() {
        return Vec::new();
    }
    let groups = match &evaluation.groups {
        Some(groups) => groups.clone(),
        None => autoscaling.tagged_groups(TAG_CLUSTER).await,
    };
    let mut outs = Vec::new();
    for (cluster, instances) in short {
        let mut out = ScaleOut { cluster: cluster.to_owned(), instances, group: None, error: None };
        match &groups {
            Err(error) => out.error = Some(format!("the groups could not be listed: {error}")),
            Ok(groups) => match serving_group(groups, cluster) {
                None => {
                    out.error = Some(format!("no group is tagged {TAG_CLUSTER}={cluster} and {TAG_SHORTFALL_POLICY}"))
                }
                Some(group) => {
                    out.group = Some(group.name.clone());
                    let policy = group.tags.get(TAG_SHORTFALL_POLICY).map(String::as_str).unwrap_or_default();
                    if let Err(error) = autoscaling.execute_step_policy(&group.name, policy, f64::from(instances)).await
                    {
                        out.error = Some(error.to_string());
                    }
                }
            },
        }
        match &out.error {
            None => tracing::info!(cluster = %out.cluster, group = out.group.as_deref(), instances, "sized scale-out"),
            Some(error) => {
                tracing::warn!(cluster = %out.cluster, instances, error = %error, "sized scale-out not asked")
            }
        }
        outs.push(out);
    }
    outs
}

/// A 2 that instances already launching cover becomes a 1 (reason `capacity_pending`): without it, the high
/// alarm adds its step on top of a sized scale-out whose instances have not registered yet, because the
/// reservation over the registered instances stays high until they do. One DescribeAutoScalingGroups (by tag)
/// when any cluster would scale up; if it fails, the 2s stand.
pub(super) async fn discount_pending<A: AutoScalingApi>(
    autoscaling: &A,
    clusters: &mut [ClusterReport],
) -> Option<Result<Vec<AutoScalingGroup>, AwsError>> {
    if !clusters.iter().any(|r| r.scale_status == Some(ScaleStatus::Up) || r.surplus > 0) {
        return None;
    }
    let groups = autoscaling.tagged_groups(TAG_CLUSTER).await;
    // A surplus is a batch to start only while nothing else moves: no group reading, no instance leaving.
    for report in clusters.iter_mut().filter(|r| r.surplus > 0) {
        let steady = match &groups {
            Ok(found) => capacity::groups_steady(found, &report.cluster),
            Err(_) => false,
        };
        if !steady {
            report.surplus = 0;
            report.detail.push_str("; no surplus while the groups are scaling (or could not be read)");
        }
    }
    let Ok(found) = &groups else { return Some(groups) };
    for report in clusters.iter_mut().filter(|r| r.scale_status == Some(ScaleStatus::Up)) {
        let (Some(settings), Some(registered)) = (&report.settings, report.instances) else { continue };
        let pending = capacity::pending_instances(found, &report.cluster);
        let waiting =
            (report.reason == Reason::UnplacedTasks || report.shortfall.is_some()).then_some(report.shortfall);
        let reservations = [(report.cpu, settings.cpu.max.value), (report.memory, settings.memory.max.value)];
        if let Some(why) = capacity::pending_covers(reservations, registered, pending, waiting) {
            let decision = Decision::capacity_pending(format!("{}; {why}", report.detail));
            (report.scale_status, report.reason, report.detail) = (decision.status, decision.reason, decision.detail);
        }
    }
    Some(groups)
}
