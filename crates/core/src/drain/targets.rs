//! Which terminating instances are this deployment's to drain: the notifications of our hook, the groups of
//! our clusters, our hook among a group's hooks, and each instance's cluster.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::plan::Target;
use super::settings::DrainSettings;
use crate::lifecycle::{
    AutoScalingGroup, LifecycleAction, LifecycleHook, TAG_CLUSTER, TERMINATING, Termination, resolve_cluster,
};

/// The instances an invocation works on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Targets {
    pub targets: Vec<Target>,
    /// Instances held by our hook whose cluster cannot be told, or is not one of ours: held, never completed,
    /// and reported as failures so the Errors alarm sees them.
    pub unresolved: Vec<(LifecycleAction, String)>,
    /// Instances in Terminating:Wait per cluster reconciled, for `DrainingInstances` (0 for a cluster whose
    /// groups hold none).
    pub draining: BTreeMap<String, usize>,
}

impl DrainSettings {
    /// Whether this deployment drains for `cluster`: one of `CLUSTERS`, or any when none is named.
    pub fn drains_for(&self, cluster: &str) -> bool {
        self.clusters.is_empty() || self.clusters.iter().any(|c| c == cluster)
    }

    /// Whether a notification is about our hook: with `LIFECYCLE_HOOK_NAME` set, a notification of another
    /// hook on the same topic is someone else's to complete.
    pub fn is_our_notification(&self, termination: &Termination) -> bool {
        self.hook_name.as_ref().is_none_or(|ours| &termination.action.hook == ours)
    }

    /// The cluster of a group's instances, from our hook's metadata, the group's tag, or `CLUSTER`; an error
    /// names what is missing or why the cluster is not ours.
    pub fn cluster_of(&self, group: &AutoScalingGroup, metadata: Option<&str>) -> Result<String, String> {
        let (cluster, _) = resolve_cluster(metadata, &group.tags, self.cluster.as_deref()).ok_or_else(|| {
            format!(
                "no ECS cluster for group {}: set the hook's NotificationMetadata, the {TAG_CLUSTER} tag or CLUSTER",
                group.name
            )
        })?;
        if !self.drains_for(&cluster) {
            return Err(format!(
                "group {} drains into cluster {cluster}, which is not one of this deployment's clusters ({})",
                group.name,
                self.clusters.join(", ")
            ));
        }
        Ok(cluster)
    }

    /// Our termination hook among a group's hooks: the one named `LIFECYCLE_HOOK_NAME`, or the only one.
    pub fn our_hook(&self, group: &str, hooks: &[LifecycleHook]) -> Result<LifecycleHook, String> {
        let ours: Vec<&LifecycleHook> = hooks
            .iter()
            .filter(|h| h.transition == TERMINATING)
            .filter(|h| self.hook_name.as_ref().is_none_or(|name| &h.name == name))
            .collect();
        match ours.as_slice() {
            [hook] => Ok((*hook).clone()),
            [] => Err(match &self.hook_name {
                Some(name) => format!("group {group} has no termination hook named {name} (LIFECYCLE_HOOK_NAME)"),
                None => format!("group {group} has no termination hook"),
            }),
            many => Err(format!(
                "group {group} has {} termination hooks ({}); set LIFECYCLE_HOOK_NAME",
                many.len(),
                many.iter().map(|h| h.name.as_str()).collect::<Vec<_>>().join(", ")
            )),
        }
    }

    /// Whether the reconcile visits this group: listed in `ASG_NAMES`, or tagged for one of our clusters.
    pub fn reconciles(&self, group: &AutoScalingGroup) -> bool {
        self.group_names.contains(&group.name)
            || group.tags.get(TAG_CLUSTER).is_some_and(|cluster| self.drains_for(cluster))
    }
}

/// The targets of lifecycle notifications, once their groups are read. A notification for an instance no
/// longer in Terminating:Wait (a duplicate, or one another invocation finished) is dropped.
pub fn notified(
    settings: &DrainSettings,
    terminations: &[Termination],
    groups: &[AutoScalingGroup],
) -> Result<Targets, UnknownGroup> {
    let mut found = Targets::default();
    for termination in terminations.iter().filter(|t| settings.is_our_notification(t)) {
        let action = &termination.action;
        let group = groups.iter().find(|g| g.name == action.group).ok_or_else(|| UnknownGroup(action.group.clone()))?;
        if !group.terminating().any(|i| i.instance_id == action.instance_id) {
            continue;
        }
        match settings.cluster_of(group, termination.metadata.as_deref()) {
            Ok(cluster) => found.targets.push(target(action.clone(), cluster, termination.time)),
            Err(why) => found.unresolved.push((action.clone(), why)),
        }
    }
    Ok(found)
}

/// An Auto Scaling group a notification named does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Auto Scaling group {0:?} does not exist")]
pub struct UnknownGroup(pub String);

/// Every instance in Terminating:Wait in the groups the reconcile visits, given each waiting group's hooks.
pub fn waiting(
    settings: &DrainSettings,
    groups: &[AutoScalingGroup],
    hooks: &BTreeMap<String, Result<Vec<LifecycleHook>, String>>,
) -> Targets {
    let mut found = Targets::default();
    for group in groups.iter().filter(|g| settings.reconciles(g)) {
        let waiting: Vec<&str> = group.terminating().map(|i| i.instance_id.as_str()).collect();
        let hook = match hooks.get(&group.name) {
            Some(Ok(hooks)) => settings.our_hook(&group.name, hooks),
            Some(Err(error)) => Err(error.clone()),
            None if waiting.is_empty() => Err(String::new()),
            None => Err(format!("the hooks of group {} were not read", group.name)),
        };
        let metadata = hook.as_ref().ok().and_then(|h| h.metadata.as_deref());
        let cluster = settings.cluster_of(group, metadata);
        if let Ok(cluster) = &cluster {
            *found.draining.entry(cluster.clone()).or_default() += waiting.len();
        }
        for instance in waiting {
            let action = LifecycleAction {
                group: group.name.clone(),
                hook: hook.as_ref().map(|h| h.name.clone()).unwrap_or_default(),
                instance_id: instance.to_owned(),
                token: None,
            };
            match (&hook, &cluster) {
                (Ok(_), Ok(cluster)) => found.targets.push(target(action, cluster.clone(), None)),
                (Err(why), _) | (_, Err(why)) => found.unresolved.push((action, why.clone())),
            }
        }
    }
    found
}

fn target(action: LifecycleAction, cluster: String, since: Option<DateTime<Utc>>) -> Target {
    Target { action, cluster, since, beaten: false }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::lifecycle::{GroupInstance, TERMINATING_WAIT};

    fn settings(vars: &[(&str, &str)]) -> DrainSettings {
        DrainSettings::from_vars(vars.iter().copied()).unwrap()
    }

    fn group(name: &str, cluster: Option<&str>, waiting: &[&str]) -> AutoScalingGroup {
        AutoScalingGroup {
            name: name.into(),
            tags: cluster.map(|c| HashMap::from([(TAG_CLUSTER.to_owned(), c.to_owned())])).unwrap_or_default(),
            instances: waiting
                .iter()
                .map(|id| GroupInstance {
                    instance_id: (*id).into(),
                    lifecycle_state: TERMINATING_WAIT.into(),
                    ..GroupInstance::default()
                })
                .chain([GroupInstance {
                    instance_id: "i-serving".into(),
                    lifecycle_state: "InService".into(),
                    ..GroupInstance::default()
                }])
                .collect(),
            ..AutoScalingGroup::default()
        }
    }

    fn hook(name: &str) -> LifecycleHook {
        LifecycleHook { name: name.into(), transition: TERMINATING.into(), metadata: None }
    }

    fn hooks(groups: &[&str], names: &[&str]) -> BTreeMap<String, Result<Vec<LifecycleHook>, String>> {
        groups.iter().map(|g| ((*g).to_owned(), Ok(names.iter().map(|n| hook(n)).collect()))).collect()
    }

    fn termination(group: &str, instance: &str, hook: &str) -> Termination {
        Termination {
            action: LifecycleAction {
                group: group.into(),
                hook: hook.into(),
                instance_id: instance.into(),
                token: None,
            },
            metadata: None,
            time: None,
        }
    }

    #[test]
    fn a_deployment_that_names_its_clusters_reconciles_only_their_groups() {
        let groups = [
            group("a-blue", Some("a"), &["i-1"]),
            group("b-blue", Some("b"), &["i-2"]),
            group("untagged", None, &["i-3"]),
        ];
        let ours = waiting(&settings(&[("CLUSTERS", "a")]), &groups, &hooks(&["a-blue", "b-blue"], &["drain"]));
        let instances: Vec<&str> = ours.targets.iter().map(|t| t.action.instance_id.as_str()).collect();
        assert_eq!(instances, ["i-1"]);
        assert!(ours.unresolved.is_empty(), "another deployment's group is not an error: {:?}", ours.unresolved);
        assert_eq!(ours.draining, BTreeMap::from([("a".to_owned(), 1)]));
        // Naming none visits every tagged group.
        let all = waiting(&settings(&[]), &groups, &hooks(&["a-blue", "b-blue"], &["drain"]));
        assert_eq!(all.targets.len(), 2);
    }

    #[test]
    fn a_listed_group_is_visited_and_its_cluster_comes_from_the_env_of_last_resort() {
        let groups = [group("legacy", None, &["i-9"])];
        let found = waiting(
            &settings(&[("ASG_NAMES", "legacy"), ("CLUSTER", "prod")]),
            &groups,
            &hooks(&["legacy"], &["drain"]),
        );
        assert_eq!(found.targets[0].cluster, "prod");
        assert_eq!(found.targets[0].action.hook, "drain");
    }

    #[test]
    fn a_group_with_several_termination_hooks_needs_the_hook_name() {
        let groups = [group("a-blue", Some("a"), &["i-1"])];
        let found = waiting(&settings(&[]), &groups, &hooks(&["a-blue"], &["drain", "backup"]));
        assert_eq!(
            found.unresolved[0].1,
            "group a-blue has 2 termination hooks (drain, backup); set LIFECYCLE_HOOK_NAME"
        );
        let named =
            waiting(&settings(&[("LIFECYCLE_HOOK_NAME", "drain")]), &groups, &hooks(&["a-blue"], &["drain", "backup"]));
        assert_eq!(named.targets[0].action.hook, "drain");
        let missing = waiting(&settings(&[("LIFECYCLE_HOOK_NAME", "other")]), &groups, &hooks(&["a-blue"], &["drain"]));
        assert_eq!(missing.unresolved[0].1, "group a-blue has no termination hook named other (LIFECYCLE_HOOK_NAME)");
    }

    #[test]
    fn a_group_without_waiting_instances_still_counts_zero_draining() {
        let groups = [group("a-blue", Some("a"), &[])];
        let found = waiting(&settings(&[]), &groups, &BTreeMap::new());
        assert!(found.targets.is_empty() && found.unresolved.is_empty());
        assert_eq!(found.draining, BTreeMap::from([("a".to_owned(), 0)]));
    }

    #[test]
    fn notifications_of_another_hook_or_for_instances_no_longer_waiting_are_dropped() {
        let groups = [group("a-blue", Some("a"), &["i-1"])];
        let terminations = [
            termination("a-blue", "i-1", "drain"),
            termination("a-blue", "i-1", "backup"),
            termination("a-blue", "i-serving", "drain"),
        ];
        let found = notified(&settings(&[("LIFECYCLE_HOOK_NAME", "drain")]), &terminations, &groups).unwrap();
        assert_eq!(found.targets.len(), 1);
        assert_eq!((found.targets[0].action.hook.as_str(), found.targets[0].cluster.as_str()), ("drain", "a"));
    }

    #[test]
    fn a_notification_for_a_cluster_that_is_not_ours_is_held_as_a_failure() {
        let groups = [group("b-blue", Some("b"), &["i-2"])];
        let found =
            notified(&settings(&[("CLUSTERS", "a")]), &[termination("b-blue", "i-2", "drain")], &groups).unwrap();
        assert!(found.targets.is_empty());
        assert_eq!(
            found.unresolved[0].1,
            "group b-blue drains into cluster b, which is not one of this deployment's clusters (a)"
        );
    }

    #[test]
    fn a_notification_for_an_unknown_group_is_an_error() {
        let error = notified(&settings(&[]), &[termination("gone", "i-1", "drain")], &[]).unwrap_err();
        assert_eq!(error.to_string(), r#"Auto Scaling group "gone" does not exist"#);
    }
}
