//! The custom termination policy: which instances Auto Scaling should take when it scales a group in.
//!
//! Auto Scaling sends the capacity to take per Availability Zone and its own candidates; the answer lists the
//! instance IDs to terminate. The choice is the removal walk's ([`crate::placement::removal`]), the one
//! consolidation and the surplus use: instances not registered with ECS first (nothing to move), then the
//! cheapest to remove, never one whose tasks fit nowhere under the full placement model, nor one of a
//! standalone task, of a task the model cannot judge or of a service already below its minimum. A scale-in or
//! a rebalance also keeps both reservations below their max less the consolidation headroom ([`limits`]), by
//! the thresholds scale-status uses (the environment's, under the cluster's `ecs-scaler:*` tags).
//!
//! It acts only on what it read. AWS does not fall back to another policy when the function returns nothing
//! or times out: it asks again ([`Cause::must_proceed`] has the documented retry behaviour per cause). So a
//! scale-in it cannot judge gets an empty answer, never Auto Scaling's own candidates, which may run a task
//! that has nowhere to go; Auto Scaling's candidates are for groups this deployment does not manage, and for
//! the replacements the operator asked for (instance refresh, maximum lifetime), which the drain hook drains.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::arn::cluster_name;
use crate::cluster::{ContainerInstance, Service, Task, TaskDefinition};
use crate::config::{ClusterSettings, Layer};
use crate::lifecycle::TAG_CLUSTER;
use crate::placement::instance_types::InstanceTypeInfo;
use crate::placement::removal::{ClusterView, Kept, Limits, Walk};
use crate::ports::{AutoScalingApi, AwsError, Ec2Api, EcsApi};

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

/// Why a request was answered the way it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Cause {
    /// Auto Scaling lowers the group's capacity, or rebalances it across zones: voluntary, it can wait.
    ScaleIn,
    Rebalance,
    /// A replacement the operator asked for: it goes on, drained by the lifecycle hook.
    InstanceRefresh,
    MaxInstanceLifetime,
}

impl Cause {
    /// The request's cause; one this version does not know is treated as a scale-in (it can wait).
    pub fn of(request: &TerminationRequest) -> Cause {
        match request.cause.as_deref() {
            Some("INSTANCE_REFRESH") => Cause::InstanceRefresh,
            Some("MAX_INSTANCE_LIFETIME") => Cause::MaxInstanceLifetime,
            Some("REBALANCE") => Cause::Rebalance,
            _ => Cause::ScaleIn,
        }
    }

    /// Whether an instance that cannot be judged, or that nothing can safely replace, may still go.
    ///
    /// AWS's documentation ("Use a custom termination policy with a Lambda function", Considerations): when
    /// the function returns no instance or times out, Auto Scaling waits a short time and asks again; for a
    /// scale-in "as long as the group's desired capacity is less than its current capacity"; for an instance
    /// refresh "for an hour", after which the refresh fails; for the maximum instance lifetime it "keeps trying to
    /// terminate the instance that is identified as exceeding its maximum lifetime". For a rebalance it asks
    /// first whether any instance is ready before launching replacements, so an empty answer only postpones it.
    ///
    /// So a scale-in and a rebalance wait for a safe choice (an empty answer costs a retry), while an instance
    /// refresh or a lifetime replacement, which the operator asked for and which waiting would fail or stall,
    /// get Auto Scaling's own candidates when nothing better can be judged: the drain hook still holds each
    /// until its tasks run elsewhere.
    pub fn must_proceed(self) -> bool {
        matches!(self, Cause::InstanceRefresh | Cause::MaxInstanceLifetime)
    }
}

/// How the answer came about, for the log and the tests.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "basis", rename_all = "snake_case")]
pub enum Basis {
    /// Chosen by the cost of removal; `kept` says why the others stay.
    Judged { kept: Vec<String> },
    /// Nothing for now: the choice could not be judged, or no candidate can safely go. Auto Scaling asks again.
    Held { why: String },
    /// Auto Scaling's own candidates: a group this deployment does not manage, or a replacement the operator
    /// asked for that cannot wait.
    Fallback { why: String },
}

impl fmt::Display for Basis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Basis::Judged { kept } if kept.is_empty() => f.write_str("chosen by the cost of removal"),
            Basis::Judged { kept } => write!(f, "chosen by the cost of removal; kept: {}", kept.join("; ")),
            Basis::Held { why } => write!(f, "none for now: {why}"),
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

    /// No instance for now.
    pub fn held(why: impl Into<String>) -> Self {
        Self { response: TerminationResponse::default(), basis: Basis::Held { why: why.into() } }
    }

    /// What to answer when the choice could not be judged (a read failed, no time left): nothing for a
    /// request that can wait, Auto Scaling's own candidates for one that cannot ([`Cause::must_proceed`]).
    pub fn unjudged(request: &TerminationRequest, why: impl Into<String>) -> Self {
        if Cause::of(request).must_proceed() { Choice::fallback(request, why) } else { Choice::held(why) }
    }
}

fn serves(want: &CapacityToTerminate, candidate: &Candidate) -> bool {
    candidate.availability_zone == want.availability_zone
        && (want.market.is_none() || candidate.market.is_none() || want.market == candidate.market)
}

/// Choose from the request's candidates. Reads the group (its `ecs-scaler:cluster` tag), then the cluster (its
/// tags), services, container instances and tasks, the task definitions of the tasks a removal would move, and
/// the instance types' facts when one of them uses an ENI. `clusters` are the clusters this deployment manages
/// (empty: any cluster a group is tagged with); `layer` is what the environment says of the thresholds, under
/// the cluster's tags.
pub async fn choose<E: EcsApi, A: AutoScalingApi, X: Ec2Api>(
    ecs: &E,
    autoscaling: &A,
    ec2: &X,
    clusters: &[String],
    layer: &Layer,
    request: &TerminationRequest,
) -> Choice {
    let groups = match autoscaling.groups(std::slice::from_ref(&request.group)).await {
        Ok(groups) => groups,
        Err(error) => return Choice::unjudged(request, format!("the group could not be read: {error}")),
    };
    let Some(cluster) = groups.iter().find(|g| g.name == request.group).and_then(|g| g.tags.get(TAG_CLUSTER)) else {
        return Choice::fallback(request, format!("group {} is not tagged {TAG_CLUSTER}: not ours", request.group));
    };
    let cluster = cluster_name(cluster).to_owned();
    if !clusters.is_empty() && !clusters.contains(&cluster) {
        return Choice::fallback(request, format!("cluster {cluster} is not one of this deployment's: not ours"));
    }
    let names = [cluster.clone()];
    let (described, read) = futures::join!(ecs.describe_clusters(&names), read_cluster(ecs, ec2, &cluster, request));
    let facts = match described {
        Ok((found, _)) => found.into_iter().find(|c| c.name == cluster),
        Err(error) => return Choice::unjudged(request, format!("cluster {cluster} could not be described: {error}")),
    };
    let Some(facts) = facts else {
        return Choice::unjudged(request, format!("cluster {cluster} does not exist"));
    };
    let settings = match layer.clone().then(Layer::from_tags(&facts.tags)).resolve(&cluster) {
        Ok(settings) => settings,
        Err(error) => return Choice::unjudged(request, error.to_string()),
    };
    match read {
        Ok(read) => judge(request, &read, limits(Cause::of(request), &settings)),
        Err(error) => Choice::unjudged(request, format!("cluster {cluster} could not be read: {error}")),
    }
}

/// The limits a removal must respect for this cause: a scale-in or a rebalance, which can wait, keeps both
/// reservations below their max less the consolidation headroom, as scale-status's 0 and surplus were judged;
/// otherwise the next tick would publish a 2 for the capacity just taken. A replacement the operator asked for
/// is judged only on whether the tasks can run elsewhere: its new instance brings the capacity back.
pub fn limits(cause: Cause, settings: &ClusterSettings) -> Option<Limits> {
    (!cause.must_proceed()).then(|| Limits {
        cpu: settings.cpu.values(),
        memory: settings.memory.values(),
        headroom: settings.consolidate_headroom.value,
    })
}

/// What the termination policy reads of a cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterRead {
    pub instances: Vec<ContainerInstance>,
    pub services: Vec<Service>,
    pub tasks: HashMap<String, Vec<Task>>,
    pub definitions: HashMap<String, TaskDefinition>,
    pub types: HashMap<String, InstanceTypeInfo>,
}

/// Task definitions described at once.
const CONCURRENT_DESCRIBES: usize = 8;

async fn read_cluster<E: EcsApi, X: Ec2Api>(
    ecs: &E,
    ec2: &X,
    cluster: &str,
    request: &TerminationRequest,
) -> Result<ClusterRead, AwsError> {
    let (services, instances, tasks) =
        futures::try_join!(ecs.services(cluster), ecs.container_instances(cluster), ecs.tasks(cluster))?;
    let mut read = ClusterRead { services, ..ClusterRead::default() };
    read.tasks = instances.iter().map(|i| (i.arn.clone(), Vec::new())).collect();
    for task in tasks {
        if let Some(on) = task.container_instance_arn.clone() {
            read.tasks.entry(on).or_default().push(task);
        }
    }
    read.instances = instances;
    // The definitions of what a removal would move: the candidates' tasks and those still on DRAINING instances.
    let offered: Vec<&str> = request.instances.iter().map(|c| c.instance_id.as_str()).collect();
    let moving = read
        .instances
        .iter()
        .filter(|i| i.is_draining() || i.ec2_instance_id.as_deref().is_some_and(|id| offered.contains(&id)));
    let arns: BTreeSet<String> =
        moving.filter_map(|i| read.tasks.get(&i.arn)).flatten().filter_map(|t| t.task_definition_arn.clone()).collect();
    let definitions: Vec<TaskDefinition> = futures::stream::iter(arns.iter().map(|arn| ecs.task_definition(arn)))
        .buffer_unordered(CONCURRENT_DESCRIBES)
        .try_collect()
        .await?;
    read.definitions = definitions.into_iter().map(|d| (d.arn.clone(), d)).collect();
    if read.definitions.values().any(TaskDefinition::is_awsvpc) {
        let types: BTreeSet<String> =
            read.instances.iter().filter_map(|i| i.instance_type().map(str::to_owned)).collect();
        let types: Vec<String> = types.into_iter().collect();
        read.types = ec2.instance_types(&types).await?.into_iter().map(|t| (t.name.clone(), t)).collect();
    }
    Ok(read)
}

/// The choice, from what was read: instances not registered with ECS first (nothing to move), then the ACTIVE
/// instances in removal order, each judged by the walk against the room the earlier ones used, the room the
/// tasks still on DRAINING instances need and, when given, the [`limits`].
pub fn judge(request: &TerminationRequest, read: &ClusterRead, limits: Option<Limits>) -> Choice {
    let view = ClusterView {
        instances: &read.instances,
        services: &read.services,
        tasks: &read.tasks,
        definitions: &read.definitions,
        types: &read.types,
    };
    let mut walk = Walk::new(view);
    let stuck = walk.reserve_for_draining();
    let by_ec2: HashMap<&str, &ContainerInstance> =
        read.instances.iter().filter_map(|i| Some((i.ec2_instance_id.as_deref()?, i))).collect();
    let order: Vec<String> = walk.order().iter().map(|i| i.arn.clone()).collect();
    // Unregistered first (rank 0), then the removal order; registered instances that cannot be ranked (DRAINING
    // already, or of unknown size) are not candidates.
    let rank = |candidate: &Candidate| match by_ec2.get(candidate.instance_id.as_str()) {
        None => Some(0),
        Some(instance) => order.iter().position(|arn| *arn == instance.arn).map(|p| p + 1),
    };
    let mut chosen: Vec<String> = Vec::new();
    let mut kept = Vec::new();
    if !stuck.is_empty() {
        kept.push(format!("{} task(s) on DRAINING instances find no room yet", stuck.len()));
    }
    for want in &request.capacity {
        let mut zone: Vec<(&Candidate, usize)> = request
            .instances
            .iter()
            .filter(|c| serves(want, c) && !chosen.contains(&c.instance_id))
            .filter_map(|c| Some((c, rank(c)?)))
            .collect();
        zone.sort_by_key(|(c, rank)| (*rank, c.instance_id.clone()));
        let mut taken = 0;
        for (candidate, _) in zone {
            if taken >= want.capacity {
                break;
            }
            let Some(instance) = by_ec2.get(candidate.instance_id.as_str()) else {
                // Not registered with ECS (still booting, or never joined): nothing runs there.
                chosen.push(candidate.instance_id.clone());
                taken += 1;
                continue;
            };
            match walk.judge(instance, limits) {
                Ok(removal) => {
                    walk.remove(&removal);
                    chosen.push(candidate.instance_id.clone());
                    taken += 1;
                }
                Err(Kept::LastInstance) => {
                    // Auto Scaling's minimum guards the last instance; it is not this policy's call.
                    kept.push(format!("{}: it is the last ACTIVE instance", candidate.instance_id));
                }
                Err(why) => kept.push(format!("{}: {why}", candidate.instance_id)),
            }
        }
    }
    if chosen.is_empty() {
        let why = if kept.is_empty() { "no candidate is registered and rankable".to_owned() } else { kept.join("; ") };
        return if Cause::of(request).must_proceed() {
            Choice::fallback(request, format!("no candidate is cheap to remove ({why})"))
        } else {
            Choice::held(format!("no candidate can go now ({why})"))
        };
    }
    Choice { response: TerminationResponse { instance_ids: chosen }, basis: Basis::Judged { kept } }
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
        tagged(&[])
    }

    /// [`cloud`] with these tags on cluster `web`.
    fn tagged(tags: &[(&str, &str)]) -> Script {
        Script::new()
            .with_cluster("web", 3, tags)
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
        futures::executor::block_on(choose(cloud, cloud, cloud, &[], &Layer::default(), request))
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
    fn groups_we_do_not_manage_get_auto_scaling_s_own_candidates_and_an_unreadable_cluster_none() {
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
        let choice = futures::executor::block_on(choose(
            &cloud,
            &cloud,
            &cloud,
            &["api".to_owned()],
            &Layer::default(),
            &elsewhere,
        ));
        assert_eq!(choice.response.instance_ids, ["i-a"]);
        assert!(matches!(choice.basis, Basis::Fallback { .. }));

        // Our group, but ECS cannot be read: a scale-in can wait (Auto Scaling asks again), so nothing for now.
        let cloud = cloud.failing("DescribeContainerInstances");
        let all = [("us-east-1a", "i-a"), ("us-east-1a", "i-b")];
        let choice = choose_now(&cloud, &request("web-blue", &[("us-east-1a", 1)], &all, "SCALE_IN"));
        assert!(choice.response.instance_ids.is_empty(), "{choice:?}");
        let Basis::Held { why } = &choice.basis else { panic!("{:?}", choice.basis) };
        assert!(why.contains("DescribeContainerInstances"), "{why}");
        // So is a rebalance; an instance refresh the operator started goes on with Auto Scaling's candidate.
        let choice = choose_now(&cloud, &request("web-blue", &[("us-east-1a", 1)], &all, "REBALANCE"));
        assert!(choice.response.instance_ids.is_empty(), "{choice:?}");
        let choice = choose_now(&cloud, &request("web-blue", &[("us-east-1a", 1)], &all, "INSTANCE_REFRESH"));
        assert_eq!(choice.response.instance_ids, ["i-a"]);
        // And a group read that fails says nothing about whose it is: hold a scale-in.
        let cloud = super::tests::cloud().failing("DescribeAutoScalingGroups");
        let choice = choose_now(&cloud, &request("web-blue", &[("us-east-1a", 1)], &all, "SCALE_IN"));
        assert!(choice.response.instance_ids.is_empty(), "{choice:?}");
    }

    #[test]
    fn a_scale_in_keeps_the_reservations_below_max_less_the_headroom_by_the_cluster_s_thresholds() {
        // 1536 of 6144 CPU units reserved. Without c: 37.5 %; without c and a: 75 %, within 5 of cpu-max 78.
        let all = [("us-east-1a", "i-a"), ("us-east-1a", "i-b"), ("us-east-1a", "i-c")];
        let two = request("web-blue", &[("us-east-1a", 2)], &all, "SCALE_IN");
        let choice = choose_now(&tagged(&[("ecs-scaler:cpu-max", "78")]), &two);
        assert_eq!(choice.response.instance_ids, ["i-c"], "{}", choice.basis);
        let Basis::Judged { kept } = &choice.basis else { panic!("{:?}", choice.basis) };
        assert!(kept.iter().any(|k| k.starts_with("i-a") && k.contains("cpu would be 75.0%")), "{kept:?}");
        // With the default max (85 less 5) both go; so they do for a refresh, which brings its capacity back.
        assert_eq!(choose_now(&cloud(), &two).response.instance_ids, ["i-c", "i-a"]);
        let refresh = request("web-blue", &[("us-east-1a", 2)], &all, "INSTANCE_REFRESH");
        let choice = choose_now(&tagged(&[("ecs-scaler:cpu-max", "78")]), &refresh);
        assert_eq!(choice.response.instance_ids, ["i-c", "i-a"], "{}", choice.basis);
        // The environment's layer counts, under the tags: CPU_MAX 78 holds a, a tag of 90 over it lets a go.
        let env = Layer::from_env(&[("CPU_MAX".to_owned(), "78".to_owned())].into_iter().collect());
        let choice = futures::executor::block_on(choose(&cloud(), &cloud(), &cloud(), &[], &env, &two));
        assert_eq!(choice.response.instance_ids, ["i-c"], "{}", choice.basis);
        let over = tagged(&[("ecs-scaler:cpu-max", "90")]);
        let choice = futures::executor::block_on(choose(&over, &over, &over, &[], &env, &two));
        assert_eq!(choice.response.instance_ids, ["i-c", "i-a"], "{}", choice.basis);
    }

    #[test]
    fn a_cluster_whose_thresholds_are_unknown_holds_a_scale_in() {
        let all = [("us-east-1a", "i-a"), ("us-east-1a", "i-c")];
        let bad = tagged(&[("ecs-scaler:memory-max", "lots")]);
        let choice = choose_now(&bad, &request("web-blue", &[("us-east-1a", 1)], &all, "SCALE_IN"));
        assert!(choice.response.instance_ids.is_empty(), "{choice:?}");
        let Basis::Held { why } = &choice.basis else { panic!("{:?}", choice.basis) };
        assert!(why.contains("ecs-scaler:memory-max") && why.contains("lots"), "{why}");
        // A lifetime replacement goes on with Auto Scaling's own candidate.
        let choice = choose_now(&bad, &request("web-blue", &[("us-east-1a", 1)], &all, "MAX_INSTANCE_LIFETIME"));
        assert_eq!(choice.response.instance_ids, ["i-a"]);
        // So does a cluster DescribeClusters cannot find, and one it cannot be asked about.
        let gone = Script::new().with_group("web-blue", 1, 4, &[(TAG_CLUSTER, "web")]);
        let choice = choose_now(&gone, &request("web-blue", &[("us-east-1a", 1)], &all, "SCALE_IN"));
        let Basis::Held { why } = &choice.basis else { panic!("{:?}", choice.basis) };
        assert!(why.contains("cluster web does not exist"), "{why}");
        let choice = choose_now(
            &cloud().failing("DescribeClusters"),
            &request("web-blue", &[("us-east-1a", 1)], &all, "REBALANCE"),
        );
        let Basis::Held { why } = &choice.basis else { panic!("{:?}", choice.basis) };
        assert!(why.contains("DescribeClusters"), "{why}");
    }

    #[test]
    fn an_instance_whose_distinct_instance_task_has_nowhere_to_go_is_not_named() {
        // api is distinctInstance and every instance runs one already (c too, here): no task can move.
        let cloud =
            cloud().with_load("web", "c", Resources::new(1536, 3072), 1).with_task("web", "service:api", "c", API);
        cloud.state().services.get_mut("web").unwrap()[0].placement_constraints =
            vec![crate::cluster::PlacementConstraint::DistinctInstance];
        let all = [("us-east-1a", "i-a"), ("us-east-1a", "i-b"), ("us-east-1a", "i-c")];
        let choice = choose_now(&cloud, &request("web-blue", &[("us-east-1a", 1)], &all, "SCALE_IN"));
        assert!(choice.response.instance_ids.is_empty(), "{choice:?}");
        let Basis::Held { why } = &choice.basis else { panic!("{:?}", choice.basis) };
        assert!(why.contains("i-a") && why.contains("distinctInstance"), "{why}");
        // The lifetime replacement Auto Scaling insists on still goes, drained by the hook.
        let choice = choose_now(&cloud, &request("web-blue", &[("us-east-1a", 1)], &all, "MAX_INSTANCE_LIFETIME"));
        assert_eq!(choice.response.instance_ids, ["i-a"]);
        assert!(matches!(choice.basis, Basis::Fallback { .. }));
        // Without the constraint, c's task could go to a: c is the cheapest then.
        let choice = choose_now(&super::tests::cloud(), &request("web-blue", &[("us-east-1a", 1)], &all, "SCALE_IN"));
        assert_eq!(choice.response.instance_ids, ["i-c"]);
    }

    #[test]
    fn the_tasks_still_on_a_draining_instance_get_their_room_before_a_removal_counts_on_it() {
        // d is DRAINING with six api tasks (512/1024 each): they take 3 slots of a's room, 2 of b's and 1 of c's.
        // Then a's own task and the three given its room would need 4 slots on b and c, which have 3: a stays,
        // and so does b. Without d, a's one task fits elsewhere and a goes.
        let mut cloud =
            cloud().with_instance("web", "d", "DRAINING", 2048, 4096).with_load("web", "d", Resources::new(0, 0), 6);
        for _ in 0..6 {
            cloud = cloud.with_task("web", "service:api", "d", API);
        }
        cloud.state().services.get_mut("web").unwrap()[0].desired = 9;
        cloud.state().services.get_mut("web").unwrap()[0].running = 9;
        let offered = [("us-east-1a", "i-a"), ("us-east-1a", "i-b")];
        let choice = choose_now(&cloud, &request("web-blue", &[("us-east-1a", 1)], &offered, "SCALE_IN"));
        assert!(choice.response.instance_ids.is_empty(), "{choice:?}");
        let choice =
            choose_now(&super::tests::cloud(), &request("web-blue", &[("us-east-1a", 1)], &offered, "SCALE_IN"));
        assert_eq!(choice.response.instance_ids, ["i-a"]);
    }
}
