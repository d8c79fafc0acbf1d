//! The event trigger: ECS reports that it could not place a service's task (the `SERVICE_TASK_PLACEMENT_FAILURE`
//! service action event), and scale-status evaluates that cluster at once instead of at the next tick.
//!
//! It runs the tick's own code for the one cluster, so it decides and acts exactly as the tick would; sized
//! scale-out asks Auto Scaling through a step policy whose warm-up discounts capacity already on its way, so
//! the tick and the trigger asking for the same waiting tasks add them once. An event storm (ECS reports every
//! failed placement of every service) becomes at most one evaluation per cluster per interval: the time of the
//! last one is a tag on the cluster, the only state kept, and kept in AWS.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::memory::Memory;
use super::tick::{Recall, Summary, TickError, run_in};
use crate::arn::cluster_name;
use crate::config::TickConfig;
use crate::ports::{AutoScalingApi, Clock, Context, Ec2Api, EcsApi, MetricsApi};

/// The cluster tag holding when an event last made scale-status evaluate it (epoch seconds).
pub const TAG_EVALUATED_AT: &str = "ecs-scaler:evaluated-at";

/// What an event came to.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Triggered {
    /// Evaluated (and published, and acted on) like a tick of this one cluster.
    Evaluated { summary: Summary },
    /// Evaluated by an earlier event less than the interval ago.
    Throttled { cluster: String, last: DateTime<Utc> },
    /// Not a cluster this deployment manages, or not one ECS knows.
    Ignored { cluster: String, why: String },
}

/// When the cluster was last evaluated for an event, from its tags.
pub fn evaluated_at(tags: &std::collections::HashMap<String, String>) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(tags.get(TAG_EVALUATED_AT)?.trim().parse().ok()?, 0)
}

/// Evaluate `cluster` (a name or ARN) for a placement failure, unless an event did so less than `interval` ago.
/// Reads DescribeClusters (with tags) once more than a tick of one cluster; a failed tag write is logged and the
/// evaluation goes ahead, since evaluating twice is harmless.
pub async fn on_placement_failure<E: EcsApi, A: AutoScalingApi, X: Ec2Api, M: MetricsApi, C: Clock>(
    ctx: Context<'_, E, A, X, M, C>,
    config: &TickConfig,
    cluster: &str,
    interval: Duration,
    memory: &Memory,
) -> Result<Triggered, TickError> {
    let name = cluster_name(cluster).to_owned();
    if !config.discovers() && !config.listed.contains_key(&name) {
        let why = "not one of the clusters this deployment manages".to_owned();
        return Ok(Triggered::Ignored { cluster: name, why });
    }
    let (found, _) = ctx.ecs.describe_clusters(std::slice::from_ref(&name)).await.map_err(TickError::Lookup)?;
    let Some(facts) = found.into_iter().find(|f| f.name == name) else {
        return Ok(Triggered::Ignored { cluster: name, why: "ECS does not know it".into() });
    };
    let now = ctx.clock.now();
    if let Some(last) = evaluated_at(&facts.tags).filter(|last| now - *last < interval && *last <= now) {
        return Ok(Triggered::Throttled { cluster: name, last });
    }
    if let Err(error) = ctx.ecs.tag_cluster(&facts.arn, TAG_EVALUATED_AT, &now.timestamp().to_string()).await {
        tracing::warn!(cluster = %name, error = %error, "could not record the evaluation; evaluating anyway");
    }
    // Always from scratch: the event says something changed that the counts may not show yet.
    let summary = run_in(ctx, config, Some(&name), Recall { memory, deep: true }).await?;
    Ok(Triggered::Evaluated { summary })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::config::{EnvConfig, ScheduleInput};
    use crate::ports::FixedClock;
    use crate::ports::script::Script;
    use crate::scale::ScaleStatus;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).single().unwrap()
    }

    fn cloud() -> Script {
        Script::new()
            .with_cluster("web", 3, &[])
            .with_reservations("web", 90.0, 50.0, now() - Duration::minutes(1))
            .with_cluster("api", 3, &[])
            .with_reservations("api", 90.0, 50.0, now() - Duration::minutes(1))
    }

    fn trigger(cloud: &Script, clusters: &str, cluster: &str, at: DateTime<Utc>) -> Triggered {
        let env = EnvConfig::from_vars([("CLUSTERS", clusters)]);
        let config = TickConfig::build(&env, &ScheduleInput::default()).unwrap();
        let ctx = Context { ecs: cloud, autoscaling: cloud, ec2: cloud, metrics: cloud, clock: &FixedClock(at) };
        futures::executor::block_on(on_placement_failure(
            ctx,
            &config,
            cluster,
            Duration::seconds(60),
            &Memory::default(),
        ))
        .unwrap()
    }

    #[test]
    fn an_event_evaluates_its_cluster_alone_and_records_when() {
        let cloud = cloud();
        let arn = "arn:aws:ecs:us-east-1:123456789012:cluster/web";
        let Triggered::Evaluated { summary } = trigger(&cloud, "web,api", arn, now()) else { panic!() };
        let clusters: Vec<&str> = summary.clusters.iter().map(|r| r.cluster.as_str()).collect();
        assert_eq!(clusters, ["web"]);
        assert_eq!(summary.clusters[0].scale_status, Some(ScaleStatus::Up));
        let tags = cloud.state().clusters[0].tags.clone();
        assert_eq!(evaluated_at(&tags), Some(now()));
    }

    #[test]
    fn a_storm_is_one_evaluation_per_interval() {
        let cloud = cloud();
        assert!(matches!(trigger(&cloud, "web", "web", now()), Triggered::Evaluated { .. }));
        let again = trigger(&cloud, "web", "web", now() + Duration::seconds(30));
        assert_eq!(again, Triggered::Throttled { cluster: "web".into(), last: now() });
        assert_eq!(cloud.calls("GetMetricData"), 1);
        assert!(matches!(trigger(&cloud, "web", "web", now() + Duration::seconds(61)), Triggered::Evaluated { .. }));
        assert_eq!(cloud.calls("GetMetricData"), 2);
    }

    #[test]
    fn clusters_of_other_deployments_and_unknown_ones_are_ignored() {
        let cloud = cloud();
        assert!(matches!(trigger(&cloud, "api", "web", now()), Triggered::Ignored { .. }));
        assert!(matches!(trigger(&cloud, "ghost", "ghost", now()), Triggered::Ignored { .. }));
        assert_eq!(cloud.calls("GetMetricData"), 0);
    }

    #[test]
    fn a_failed_tag_write_still_evaluates() {
        let cloud = cloud().failing("TagResource");
        assert!(matches!(trigger(&cloud, "web", "web", now()), Triggered::Evaluated { .. }));
    }

    #[test]
    fn a_garbled_or_future_tag_does_not_throttle() {
        let cloud = cloud();
        cloud.state().clusters[0].tags.insert(TAG_EVALUATED_AT.into(), "yesterday".into());
        assert!(matches!(trigger(&cloud, "web", "web", now()), Triggered::Evaluated { .. }));
        let later = (now() + Duration::hours(1)).timestamp().to_string();
        cloud.state().clusters[0].tags.insert(TAG_EVALUATED_AT.into(), later);
        assert!(matches!(trigger(&cloud, "web", "web", now()), Triggered::Evaluated { .. }));
    }
}
