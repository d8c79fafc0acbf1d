//! The custom termination policy: which instances Auto Scaling should take when it scales a group in.
//!
//! Auto Scaling sends the capacity to take per Availability Zone and its own candidates; the answer lists the
//! instance IDs to terminate. The choice is consolidation's: instances not registered with ECS first (nothing
//! to move), then the cheapest to remove by [`consolidate::removal_order`], never one whose tasks fit nowhere,
//! one of a standalone task, of a task whose size is unknown or of a service already below its minimum.
//!
//! AWS does not fall back to another policy when the function returns nothing, fails or times out: it retries
//! for as long as the group is over its desired capacity. So when the choice cannot be judged (a group we do
//! not manage, a cluster ECS cannot read) the answer is Auto Scaling's own candidates, and the drain hook still
//! protects them; an empty answer is given only for a scale-in where no candidate is safe to remove right now.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::capacity::Gathered;
use super::consolidate::{self, ClusterState, Kept, take_room};
use crate::arn::cluster_name;
use crate::config::Thresholds;
use crate::lifecycle::TAG_CLUSTER;
use crate::ports::{AutoScalingApi, AwsError, EcsApi};

/// What Auto Scaling sends a custom termination policy. The keys are AWS's (`AutoScalingGroupARN`,
/// `InstanceIDs`), not a case convention, so each is named.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct TerminationRequest {
    #[serde(rename = "AutoScalingGroupARN", default)]
    pub group_arn: Option<String>,
    #[serde(rename = "AutoScalingGroupName")]
    pub group: String,
    #[serde(rename = "CapacityToTerminate")]
    pub capacity: Vec<CapacityToTerminate>,
    #[serde(rename = "Instances")]
    pub instances: Vec<Candidate>,
    /// SCALE_IN, INSTANCE_REFRESH, MAX_INSTANCE_LIFETIME or REBALANCE (others are accepted as they come).
    #[serde(rename = "Cause", default)]
    pub cause: Option<String>,
    #[serde(rename = "HasMoreInstances", default)]
    pub has_more_instances: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct CapacityToTerminate {
    #[serde(rename = "AvailabilityZone")]
    pub availability_zone: String,
    #[serde(rename = "Capacity")]
    pub capacity: u32,
    #[serde(rename = "InstanceMarketOption", default)]
    pub market: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Candidate {
    #[serde(rename = "AvailabilityZone")]
    pub availability_zone: String,
    #[serde(rename = "InstanceId")]
    pub instance_id: String,
    #[serde(rename = "InstanceType", default)]
    pub instance_type: Option<String>,
    #[serde(rename = "InstanceMarketOption", default)]
    pub market: Option<String>,
}

/// The answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct TerminationResponse {
    #[serde(rename = "InstanceIDs")]
    pub instance_ids: Vec<String>,
}

/// How the answer came about, for the log and the tests.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "basis", rename_all = "snake_case")]
pub enum Basis {
    /// Chosen by the cost of removal.
    Judged { kept: Vec<String> },
    /// Auto Scaling's own candidates, because the choice could not be judged.
    Fallback { why: String },
}

impl fmt::Display for Basis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Basis::Judged { kept } if kept.is_empty() => f.write_str("chosen by the cost of removal"),
            Basis::Judged { kept } => write!(f, "chosen by the cost of removal; kept: {}", kept.join("; ")),
            Basis::Fallback { why } => write!(f, "Auto Scaling's own candidates: {why}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Choice {
    pub response: TerminationResponse,
    pub basis: Basis,
}

impl Choice {
    /// Auto Scaling's own candidates, as many as it asked for per zone.
    pub fn fallback(request: &TerminationRequest, why: impl Into<String>) -> Self {
        let mut ids = Vec::new();
        for want in &request.capacity {
            let zone = request.instances.iter().filter(|c| serves(want, c)).filter(|c| !ids.contains(&c.instance_id));
            let zone: Vec<String> = zone.map(|c| c.instance_id.clone()).collect();
            ids.extend(zone.into_iter().take(usize::try_from(want.capacity).unwrap_or(usize::MAX)));
        }
        if ids.is_empty() {
            // No capacity breakdown to follow: hand back every candidate and let Auto Scaling pick among them.
            ids = request.instances.iter().map(|c| c.instance_id.clone()).collect();
        }
        Self { response: TerminationResponse { instance_ids: ids }, basis: Basis::Fallback { why: why.into() } }
    }
}

fn serves(want: &CapacityToTerminate, candidate: &Candidate) -> bool {
    candidate.availability_zone == want.availability_zone
        && (want.market.is_none() || candidate.market.is_none() || want.market == candidate.market)
}

/// Choose from the request's candidates. Reads the group (its `ecs-scaler:cluster` tag), the cluster's container
/// instances and services, and the tasks of each candidate it judges. `clusters` are the clusters this
/// deployment manages (empty: any cluster a group is tagged with).
pub async fn choose<E: EcsApi, A: AutoScalingApi>(
    ecs: &E,
    autoscaling: &A,
    clusters: &[String],
    request: &TerminationRequest,
) -> Choice {
    let groups = match autoscaling.groups(std::slice::from_ref(&request.group)).await {
        Ok(groups) => groups,
        Err(error) => return Choice::fallback(request, format!("the group could not be read: {error}")),
    };
    let Some(cluster) = groups.iter().find(|g| g.name == request.group).and_then(|g| g.tags.get(TAG_CLUSTER)) else {
        return Choice::fallback(request, format!("group {} is not tagged {TAG_CLUSTER}: not ours", request.group));
    };
    let cluster = cluster_name(cluster).to_owned();
    if !clusters.is_empty() && !clusters.contains(&cluster) {
        return Choice::fallback(request, format!("cluster {cluster} is not one of this deployment's: not ours"));
    }
    match judge_request(ecs, &cluster, request).await {
        Ok(choice) => choice,
        Err(error) => Choice::fallback(request, format!("cluster {cluster} could not be read: {error}")),
    }
}

async fn judge_request<E: EcsApi>(ecs: &E, cluster: &str, request: &TerminationRequest) -> Result<Choice, AwsError> {
    let mut gathered = Gathered::default();
    let (services, mut instances) = futures::try_join!(ecs.services(cluster), ecs.container_instances(cluster))?;
    gathered.services = Some(services);
    let by_ec2: HashMap<String, usize> =
        instances.iter().enumerate().filter_map(|(index, i)| Some((i.ec2_instance_id.clone()?, index))).collect();
    // Thresholds do not gate a scale-in Auto Scaling already decided; a removal is judged only on whether its
    // tasks can run elsewhere.
    let unlimited = Thresholds { min: 0.0, max: f64::INFINITY };
    let order: Vec<String> = consolidate::removal_order(&instances).iter().map(|i| i.arn.clone()).collect();
    // Unregistered first (rank 0), then the removal order; instances that cannot be judged are not candidates.
    let ranks: HashMap<&str, usize> = request
        .instances
        .iter()
        .filter_map(|c| {
            let rank = match by_ec2.get(&c.instance_id) {
                None => 0,
                Some(&index) => order.iter().position(|arn| *arn == instances[index].arn)? + 1,
            };
            Some((c.instance_id.as_str(), rank))
        })
        .collect();

    let mut chosen = Vec::new();
    let mut kept = Vec::new();
    for want in &request.capacity {
        let mut zone: Vec<(&Candidate, usize)> = request
            .instances
            .iter()
            .filter(|c| serves(want, c) && !chosen.contains(&c.instance_id))
            .filter_map(|c| Some((c, *ranks.get(c.instance_id.as_str())?)))
            .collect();
        zone.sort_by_key(|(c, rank)| (*rank, c.instance_id.clone()));
        let mut taken = 0;
        for (candidate, _) in zone {
            if taken >= want.capacity {
                break;
            }
            let Some(&index) = by_ec2.get(&candidate.instance_id) else {
                // Not registered with ECS (still booting, or never joined): nothing runs there.
                chosen.push(candidate.instance_id.clone());
                taken += 1;
                continue;
            };
            let tasks = gathered.tasks_on(ecs, cluster, &instances[index].arn).await?;
            let state = ClusterState {
                instances: &instances,
                services: gathered.services.as_deref().unwrap_or_default(),
                sizes: &gathered.sizes,
                cpu: unlimited,
                memory: unlimited,
                headroom: 0.0,
            };
            match consolidate::judge(&state, &instances[index], &tasks) {
                Ok(removal) => {
                    chosen.push(candidate.instance_id.clone());
                    taken += 1;
                    take_room(&mut instances, index, &removal.moved_sizes);
                }
                Err(why @ (Kept::LastInstance | Kept::AboveMax { .. })) => {
                    // Auto Scaling's minimum guards the last instance; thresholds are not this policy's call.
                    kept.push(format!("{} would otherwise go but: {why}", candidate.instance_id));
                }
                Err(why) => kept.push(format!("{}: {why}", candidate.instance_id)),
            }
        }
    }
    if chosen.is_empty() && request.cause.as_deref().is_some_and(|cause| cause != "SCALE_IN") {
        // An instance refresh or lifetime replacement must go on; the drain hook moves the tasks first.
        return Ok(Choice::fallback(request, format!("no candidate is cheap to remove ({})", kept.join("; "))));
    }
    Ok(Choice { response: TerminationResponse { instance_ids: chosen }, basis: Basis::Judged { kept } })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::cluster::Resources;
    use crate::ports::script::Script;

    const API: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/api:1";

    /// Group `web-blue` of cluster `web`: `a` runs one api task, `b` two, `c` is empty, `d` never registered.
    fn cloud() -> Script {
        Script::new()
            .with_group("web-blue", 1, 4, &[(TAG_CLUSTER, "web")])
            .with_group("other", 1, 2, &[])
            .with_instance("web", "a", "ACTIVE", 2048, 4096)
            .with_instance("web", "b", "ACTIVE", 2048, 4096)
            .with_instance("web", "c", "ACTIVE", 2048, 4096)
            .with_load("web", "a", Resources::new(1536, 3072), 1)
            .with_load("web", "b", Resources::new(1024, 2048), 2)
            .with_load("web", "c", Resources::new(2048, 4096), 0)
            .with_task_definition(API, 512, 1024)
            .with_service("web", "api", 3, 3, &[])
            .with_task("web", "service:api", "a", API)
            .with_task("web", "service:api", "b", API)
            .with_task("web", "service:api", "b", API)
    }

    fn request(group: &str, capacity: &[(&str, u32)], candidates: &[(&str, &str)], cause: &str) -> TerminationRequest {
        serde_json::from_value(json!({
            "AutoScalingGroupARN": format!("arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:x:autoScalingGroupName/{group}"),
            "AutoScalingGroupName": group,
            "CapacityToTerminate": capacity.iter().map(|(zone, n)| json!({"AvailabilityZone": zone, "Capacity": n, "InstanceMarketOption": "on-demand"})).collect::<Vec<_>>(),
            "Instances": candidates.iter().map(|(zone, id)| json!({"AvailabilityZone": zone, "InstanceId": id, "InstanceType": "m5.large", "InstanceMarketOption": "on-demand"})).collect::<Vec<_>>(),
            "Cause": cause,
        }))
        .unwrap()
    }

    fn choose_now(cloud: &Script, request: &TerminationRequest) -> Choice {
        futures::executor::block_on(choose(cloud, cloud, &[], request))
    }

    #[test]
    fn aws_s_request_and_response_keep_aws_s_spelling() {
        let request = request("web-blue", &[("us-east-1a", 1)], &[("us-east-1a", "i-a")], "SCALE_IN");
        assert_eq!(request.capacity[0].capacity, 1);
        assert!(request.group_arn.as_deref().is_some_and(|arn| arn.ends_with("/web-blue")));
        let response = TerminationResponse { instance_ids: vec!["i-a".into()] };
        assert_eq!(serde_json::to_value(&response).unwrap(), json!({"InstanceIDs": ["i-a"]}));
        // Missing required keys are an error, not an empty request.
        assert!(serde_json::from_value::<TerminationRequest>(json!({"AutoScalingGroupName": "g"})).is_err());
    }

    #[test]
    fn the_empty_instance_goes_first_then_the_one_with_fewest_tasks() {
        let cloud = cloud();
        let all = [("us-east-1a", "i-a"), ("us-east-1a", "i-b"), ("us-east-1a", "i-c")];
        let choice = choose_now(&cloud, &request("web-blue", &[("us-east-1a", 1)], &all, "SCALE_IN"));
        assert_eq!(choice.response.instance_ids, ["i-c"]);
        let choice = choose_now(&cloud, &request("web-blue", &[("us-east-1a", 2)], &all, "SCALE_IN"));
        assert_eq!(choice.response.instance_ids, ["i-c", "i-a"], "{}", choice.basis);
        assert!(matches!(choice.basis, Basis::Judged { .. }));
    }

    #[test]
    fn an_unregistered_instance_costs_nothing_and_zones_are_respected() {
        let cloud = cloud();
        let candidates = [("us-east-1a", "i-a"), ("us-east-1b", "i-b"), ("us-east-1b", "i-d")];
        let choice =
            choose_now(&cloud, &request("web-blue", &[("us-east-1a", 1), ("us-east-1b", 1)], &candidates, "SCALE_IN"));
        assert_eq!(choice.response.instance_ids, ["i-a", "i-d"]);
    }

    #[test]
    fn a_second_removal_is_judged_against_the_room_the_first_one_used() {
        let cloud = cloud();
        // c's room goes to nobody (c leaves first); a's task then fits b; b's two tasks would then fit nowhere.
        let all = [("us-east-1a", "i-a"), ("us-east-1a", "i-b"), ("us-east-1a", "i-c")];
        let choice = choose_now(&cloud, &request("web-blue", &[("us-east-1a", 3)], &all, "SCALE_IN"));
        assert_eq!(choice.response.instance_ids, ["i-c", "i-a"], "{}", choice.basis);
        let Basis::Judged { kept } = &choice.basis else { panic!("{:?}", choice.basis) };
        assert!(kept.iter().any(|k| k.starts_with("i-b")), "{kept:?}");
    }

    #[test]
    fn a_scale_in_with_nothing_safe_to_remove_answers_nothing_for_now() {
        let cloud = cloud();
        // Only b is offered, and its two tasks fit nowhere once a and c are full.
        let mut state = cloud.state();
        let instances = state.instances.get_mut("web").unwrap();
        instances[0].remaining = Some(Resources::new(256, 512));
        instances[2].remaining = Some(Resources::new(0, 0));
        drop(state);
        let choice =
            choose_now(&cloud, &request("web-blue", &[("us-east-1a", 1)], &[("us-east-1a", "i-b")], "SCALE_IN"));
        assert!(choice.response.instance_ids.is_empty(), "{choice:?}");
        // An instance refresh must go on: Auto Scaling's own candidate, and the drain hook moves the tasks.
        let choice = choose_now(
            &cloud,
            &request("web-blue", &[("us-east-1a", 1)], &[("us-east-1a", "i-b")], "INSTANCE_REFRESH"),
        );
        assert_eq!(choice.response.instance_ids, ["i-b"]);
        assert!(matches!(choice.basis, Basis::Fallback { .. }));
    }

    #[test]
    fn groups_we_do_not_manage_and_unreadable_clusters_get_auto_scaling_s_own_candidates() {
        let cloud = cloud();
        let candidates = [("us-east-1a", "i-x"), ("us-east-1a", "i-y")];
        let choice = choose_now(&cloud, &request("other", &[("us-east-1a", 1)], &candidates, "SCALE_IN"));
        assert_eq!(choice.response.instance_ids, ["i-x"]);
        let Basis::Fallback { why } = &choice.basis else { panic!("{:?}", choice.basis) };
        assert!(why.contains("not ours"), "{why}");

        let choice = choose_now(&cloud, &request("unknown", &[("us-east-1a", 2)], &candidates, "SCALE_IN"));
        assert_eq!(choice.response.instance_ids, ["i-x", "i-y"]);

        // A deployment that names its clusters leaves other clusters' groups alone.
        let all = [("us-east-1a", "i-a"), ("us-east-1a", "i-c")];
        let elsewhere = request("web-blue", &[("us-east-1a", 1)], &all, "SCALE_IN");
        let choice = futures::executor::block_on(choose(&cloud, &cloud, &["api".to_owned()], &elsewhere));
        assert_eq!(choice.response.instance_ids, ["i-a"]);
        assert!(matches!(choice.basis, Basis::Fallback { .. }));

        let cloud = cloud.failing("DescribeContainerInstances");
        let all = [("us-east-1a", "i-a"), ("us-east-1a", "i-b")];
        let choice = choose_now(&cloud, &request("web-blue", &[("us-east-1a", 1)], &all, "SCALE_IN"));
        assert_eq!(choice.response.instance_ids, ["i-a"]);
        let Basis::Fallback { why } = &choice.basis else { panic!("{:?}", choice.basis) };
        assert!(why.contains("DescribeContainerInstances"), "{why}");
    }
}
