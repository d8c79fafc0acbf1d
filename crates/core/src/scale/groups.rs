//! What a tick asks of Auto Scaling: the serving group of a cluster, and the sized scale-out (ExecutePolicy on
//! its shortfall step policy). The groups are read at most once per tick (DescribeAutoScalingGroups by tag),
//! shared by every cluster's plan and by the scale-out.

use serde::Serialize;

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

/// Ask Auto Scaling for the instances each short cluster needs (`short`: cluster and instances): the groups the
/// plans read (or one DescribeAutoScalingGroups by tag), then one ExecutePolicy per short cluster. The step
/// policy picks the step for the shortfall and subtracts capacity still warming up, so asking again for the
/// same tasks adds nothing. A failure is reported, never fatal: the ScaleStatus alarm still adds headroom.
pub(super) async fn scale_out<A: AutoScalingApi>(
    autoscaling: &A,
    short: &[(String, u32)],
    read: Option<Result<Vec<AutoScalingGroup>, AwsError>>,
) -> Vec<ScaleOut> {
    if short.is_empty() {
        return Vec::new();
    }
    let groups = match read {
        Some(groups) => groups,
        None => autoscaling.tagged_groups(TAG_CLUSTER).await,
    };
    let mut outs = Vec::new();
    for (cluster, instances) in short {
        let (cluster, instances) = (cluster.as_str(), *instances);
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
