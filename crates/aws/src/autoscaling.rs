//! Auto Scaling: finding held instances and completing or extending their lifecycle actions.

use aws_sdk_autoscaling::Client;
use aws_sdk_autoscaling::error::ProvideErrorMetadata;
use aws_sdk_autoscaling::types::Filter;
use ecs_scaler_core::lifecycle::{
    ActionOutcome, AutoScalingGroup, GroupInstance, LaunchTemplateRef, LifecycleAction, LifecycleHook, LifecycleResult,
};

use ecs_scaler_core::ports::{AutoScalingApi, AwsError};

use crate::sdk_error;

/// DescribeAutoScalingGroups takes at most 100 group names per call.
const GROUP_NAMES_PER_CALL: usize = 100;

#[derive(Debug, Clone)]
pub struct AutoScaling {
    client: Client,
}

impl AutoScaling {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Build the client from the shared SDK configuration (see [`crate::load_sdk_config`]).
    pub fn from_conf(sdk: &aws_config::SdkConfig) -> Self {
        Self::new(Client::new(sdk))
    }

    async fn describe(
        &self,
        names: Option<&[String]>,
        filter: Option<Filter>,
    ) -> Result<Vec<AutoScalingGroup>, AwsError> {
        let groups: Vec<_> = self
            .client
            .describe_auto_scaling_groups()
            .set_auto_scaling_group_names(names.map(<[String]>::to_vec))
            .set_filters(filter.map(|f| vec![f]))
            .max_records(100)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| sdk_error("DescribeAutoScalingGroups", e))?;
        Ok(groups.iter().map(group).collect())
    }
}

impl AutoScalingApi for AutoScaling {
    async fn groups(&self, names: &[String]) -> Result<Vec<AutoScalingGroup>, AwsError> {
        let mut groups = Vec::new();
        for batch in names.chunks(GROUP_NAMES_PER_CALL) {
            groups.extend(self.describe(Some(batch), None).await?);
        }
        Ok(groups)
    }

    async fn tagged_groups(&self, tag_key: &str) -> Result<Vec<AutoScalingGroup>, AwsError> {
        self.describe(None, Some(Filter::builder().name("tag-key").values(tag_key).build())).await
    }

    async fn group_of(&self, instance_id: &str) -> Result<Option<String>, AwsError> {
        let output = self
            .client
            .describe_auto_scaling_instances()
            .instance_ids(instance_id)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeAutoScalingInstances", e))?;
        Ok(output.auto_scaling_instances().first().and_then(|i| i.auto_scaling_group_name()).map(str::to_owned))
    }

    async fn hooks(&self, group: &str) -> Result<Vec<LifecycleHook>, AwsError> {
        let output = self
            .client
            .describe_lifecycle_hooks()
            .auto_scaling_group_name(group)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeLifecycleHooks", e))?;
        Ok(output
            .lifecycle_hooks()
            .iter()
            .map(|h| LifecycleHook {
                name: h.lifecycle_hook_name().unwrap_or_default().to_owned(),
                transition: h.lifecycle_transition().unwrap_or_default().to_owned(),
                metadata: h.notification_metadata().map(str::to_owned),
            })
            .collect())
    }

    async fn complete(&self, action: &LifecycleAction, result: LifecycleResult) -> Result<ActionOutcome, AwsError> {
        let outcome = self
            .client
            .complete_lifecycle_action()
            .auto_scaling_group_name(&action.group)
            .lifecycle_hook_name(&action.hook)
            .lifecycle_action_result(result.as_str())
            .set_lifecycle_action_token(action.token.clone())
            .set_instance_id(action.token.is_none().then(|| action.instance_id.clone()))
            .send()
            .await;
        classify("CompleteLifecycleAction", outcome)
    }

    async fn execute_step_policy(&self, group: &str, policy: &str, metric_value: f64) -> Result<(), AwsError> {
        self.client
            .execute_policy()
            .auto_scaling_group_name(group)
            .policy_name(policy)
            .metric_value(metric_value)
            .breach_threshold(0.0)
            .send()
            .await
            .map_err(|e| sdk_error("ExecutePolicy", e))?;
        Ok(())
    }

    async fn heartbeat(&self, action: &LifecycleAction) -> Result<ActionOutcome, AwsError> {
        let outcome = self
            .client
            .record_lifecycle_action_heartbeat()
            .auto_scaling_group_name(&action.group)
            .lifecycle_hook_name(&action.hook)
            .set_lifecycle_action_token(action.token.clone())
            .set_instance_id(action.token.is_none().then(|| action.instance_id.clone()))
            .send()
            .await;
        classify("RecordLifecycleActionHeartbeat", outcome)
    }
}

/// `ValidationError: No active Lifecycle Action found with instance ID i-…` (or `… with token …`) means the
/// action is already over: someone completed it, or it timed out. For an idempotent completer that is success.
fn classify<T, E>(operation: &'static str, outcome: Result<T, E>) -> Result<ActionOutcome, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match outcome {
        Ok(_) => Ok(ActionOutcome::Done),
        Err(error) if is_no_active_action(&error) => Ok(ActionOutcome::NoActiveAction),
        Err(error) => Err(sdk_error(operation, error)),
    }
}

fn is_no_active_action(error: &impl ProvideErrorMetadata) -> bool {
    error.code() == Some("ValidationError")
        && error.message().is_some_and(|m| m.to_ascii_lowercase().contains("no active lifecycle action"))
}

fn group(g: &aws_sdk_autoscaling::types::AutoScalingGroup) -> AutoScalingGroup {
    AutoScalingGroup {
        name: g.auto_scaling_group_name().unwrap_or_default().to_owned(),
        tags: g
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
            .collect(),
        instances: g
            .instances()
            .iter()
            .filter_map(|i| {
                Some(GroupInstance {
                    instance_id: i.instance_id()?.to_owned(),
                    lifecycle_state: i.lifecycle_state()?.as_str().to_owned(),
                    availability_zone: i.availability_zone().unwrap_or_default().to_owned(),
                    instance_type: i.instance_type().map(str::to_owned),
                })
            })
            .collect(),
        min_size: count(g.min_size()),
        max_size: count(g.max_size()),
        desired_capacity: count(g.desired_capacity()),
        zones: g.availability_zones().to_vec(),
        launch_template: launch_template(g),
        override_types: overrides(g).filter_map(|o| o.instance_type().map(str::to_owned)).collect(),
        attribute_based_types: overrides(g).any(|o| o.instance_requirements().is_some()),
    }
}

fn overrides(
    g: &aws_sdk_autoscaling::types::AutoScalingGroup,
) -> impl Iterator<Item = &aws_sdk_autoscaling::types::LaunchTemplateOverrides> {
    let policy = g.mixed_instances_policy().and_then(|p| p.launch_template());
    policy.map(|t| t.overrides()).unwrap_or_default().iter()
}

/// The launch template a group launches from: its own, or its mixed instances policy's.
fn launch_template(g: &aws_sdk_autoscaling::types::AutoScalingGroup) -> Option<LaunchTemplateRef> {
    let spec = g.launch_template().or_else(|| {
        g.mixed_instances_policy().and_then(|p| p.launch_template()).and_then(|t| t.launch_template_specification())
    })?;
    Some(LaunchTemplateRef {
        id: spec.launch_template_id().map(str::to_owned),
        name: spec.launch_template_name().map(str::to_owned),
        version: spec.version().map(str::to_owned),
    })
}

/// A group size as Auto Scaling reports it (never negative; absent reads as 0).
fn count(value: Option<i32>) -> u32 {
    value.and_then(|v| u32::try_from(v).ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_autoscaling::error::ErrorMetadata;
    use aws_sdk_autoscaling::operation::complete_lifecycle_action::{
        CompleteLifecycleActionError, CompleteLifecycleActionOutput,
    };
    use aws_sdk_autoscaling::operation::record_lifecycle_action_heartbeat::RecordLifecycleActionHeartbeatError;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn action(token: Option<&str>) -> LifecycleAction {
        LifecycleAction {
            group: "asg".into(),
            hook: "drain".into(),
            instance_id: "i-1".into(),
            token: token.map(str::to_owned),
        }
    }

    fn validation(message: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code("ValidationError").message(message).build()
    }

    #[tokio::test]
    async fn completes_with_the_token_when_there_is_one() {
        let rule = mock!(Client::complete_lifecycle_action)
            .match_requests(|r| {
                r.lifecycle_action_token() == Some("tok")
                    && r.instance_id().is_none()
                    && r.lifecycle_action_result() == Some("CONTINUE")
            })
            .then_output(|| CompleteLifecycleActionOutput::builder().build());
        let client = mock_client!(aws_sdk_autoscaling, [&rule]);
        let outcome = AutoScaling::new(client).complete(&action(Some("tok")), LifecycleResult::Continue).await;
        assert_eq!(outcome, Ok(ActionOutcome::Done));
    }

    #[tokio::test]
    async fn completes_by_instance_id_without_a_token() {
        let rule = mock!(Client::complete_lifecycle_action)
            .match_requests(|r| {
                r.instance_id() == Some("i-1")
                    && r.lifecycle_action_token().is_none()
                    && r.lifecycle_action_result() == Some("ABANDON")
            })
            .then_output(|| CompleteLifecycleActionOutput::builder().build());
        let client = mock_client!(aws_sdk_autoscaling, [&rule]);
        let outcome = AutoScaling::new(client).complete(&action(None), LifecycleResult::Abandon).await;
        assert_eq!(outcome, Ok(ActionOutcome::Done));
    }

    #[tokio::test]
    async fn no_active_lifecycle_action_counts_as_done() {
        let rule = mock!(Client::complete_lifecycle_action).then_error(|| {
            CompleteLifecycleActionError::generic(validation("No active Lifecycle Action found with instance ID i-1"))
        });
        let client = mock_client!(aws_sdk_autoscaling, [&rule]);
        let outcome = AutoScaling::new(client).complete(&action(None), LifecycleResult::Continue).await;
        assert_eq!(outcome, Ok(ActionOutcome::NoActiveAction));
    }

    #[tokio::test]
    async fn other_validation_errors_are_errors() {
        let rule = mock!(Client::record_lifecycle_action_heartbeat).then_error(|| {
            RecordLifecycleActionHeartbeatError::generic(validation("No Lifecycle Hook found with name drain"))
        });
        let client = mock_client!(aws_sdk_autoscaling, RuleMode::Sequential, [&rule]);
        let error = AutoScaling::new(client).heartbeat(&action(None)).await.unwrap_err();
        assert_eq!(error.operation, "RecordLifecycleActionHeartbeat");
        assert_eq!(error.code.as_deref(), Some("ValidationError"));
    }
}
