//! Auto Scaling lifecycle facts, as plain data.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

/// The lifecycle transition our hook handles.
pub const TERMINATING: &str = "autoscaling:EC2_INSTANCE_TERMINATING";
/// The lifecycle state of an instance held by a termination hook.
pub const TERMINATING_WAIT: &str = "Terminating:Wait";
/// The ASG tag naming the ECS cluster its instances join.
pub const TAG_CLUSTER: &str = "ecs-scaler:cluster";

/// An Auto Scaling group and its instances.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AutoScalingGroup {
    pub name: String,
    pub tags: HashMap<String, String>,
    pub instances: Vec<GroupInstance>,
    pub min_size: u32,
    pub max_size: u32,
    pub desired_capacity: u32,
    /// Its Availability Zones.
    pub zones: Vec<String>,
    /// The launch template it launches from (directly, or as its mixed instances policy's template).
    pub launch_template: Option<LaunchTemplateRef>,
    /// Instance types its mixed instances policy overrides the template's with (empty: the template's own).
    pub override_types: Vec<String>,
    /// Some override chooses instance types by attributes (`InstanceRequirements`): which types it launches is
    /// not known in advance.
    pub attribute_based_types: bool,
}

/// A launch template as a group names it: by ID or name, at a version (`$Default`, `$Latest` or a number).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct LaunchTemplateRef {
    pub id: Option<String>,
    pub name: Option<String>,
    /// `$Default` when the group does not say.
    pub version: Option<String>,
}

impl fmt::Display for LaunchTemplateRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let which = self.id.as_deref().or(self.name.as_deref()).unwrap_or("(unnamed)");
        write!(f, "launch template {which} version {}", self.version.as_deref().unwrap_or("$Default"))
    }
}

impl AutoScalingGroup {
    /// Instances held by a termination hook.
    pub fn terminating(&self) -> impl Iterator<Item = &GroupInstance> {
        self.instances.iter().filter(|i| i.lifecycle_state == TERMINATING_WAIT)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GroupInstance {
    pub instance_id: String,
    pub lifecycle_state: String,
    pub availability_zone: String,
    pub instance_type: Option<String>,
}

/// A lifecycle hook of a group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LifecycleHook {
    pub name: String,
    pub transition: String,
    pub metadata: Option<String>,
}

/// Identifies one pending lifecycle action. The token is used when known, the instance id otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LifecycleAction {
    pub group: String,
    pub hook: String,
    pub instance_id: String,
    pub token: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LifecycleResult {
    Continue,
    Abandon,
}

impl LifecycleResult {
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleResult::Continue => "CONTINUE",
            LifecycleResult::Abandon => "ABANDON",
        }
    }
}

impl fmt::Display for LifecycleResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What completing or heartbeating a lifecycle action found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionOutcome {
    Done,
    /// "No active Lifecycle Action found": another invocation (or the timeout) finished it first.
    NoActiveAction,
}

/// The lifecycle notification Auto Scaling sends (as the SNS message, or as an EventBridge event's detail).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LifecycleMessage {
    /// `autoscaling:TEST_NOTIFICATION` for the test message sent when a hook is created.
    pub event: Option<String>,
    pub lifecycle_hook_name: Option<String>,
    pub auto_scaling_group_name: Option<String>,
    #[serde(rename = "EC2InstanceId")]
    pub ec2_instance_id: Option<String>,
    pub lifecycle_action_token: Option<String>,
    pub lifecycle_transition: Option<String>,
    pub notification_metadata: Option<String>,
    pub time: Option<chrono::DateTime<chrono::Utc>>,
}

/// A termination the drain hook must handle: which action, and what the notification told us.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Termination {
    pub action: LifecycleAction,
    pub metadata: Option<String>,
    /// When the instance entered Terminating:Wait, if the notification said.
    pub time: Option<chrono::DateTime<chrono::Utc>>,
}

/// What a lifecycle message asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LifecycleRequest {
    Test,
    Terminate(Termination),
}

/// Why a lifecycle message cannot be acted on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("the lifecycle message is not valid JSON: {0}")]
    NotJson(String),
    #[error("the lifecycle message has no {0}")]
    Missing(&'static str),
    #[error("LifecycleTransition is {0:?}; the drain hook handles only autoscaling:EC2_INSTANCE_TERMINATING")]
    WrongTransition(String),
}

impl LifecycleMessage {
    /// Validate: a test notification, or a complete termination notification.
    pub fn request(self) -> Result<LifecycleRequest, MessageError> {
        if self.event.as_deref() == Some("autoscaling:TEST_NOTIFICATION") {
            return Ok(LifecycleRequest::Test);
        }
        let transition = self.lifecycle_transition.ok_or(MessageError::Missing("LifecycleTransition"))?;
        if transition != TERMINATING {
            return Err(MessageError::WrongTransition(transition));
        }
        let action = LifecycleAction {
            instance_id: self.ec2_instance_id.ok_or(MessageError::Missing("EC2InstanceId"))?,
            group: self.auto_scaling_group_name.ok_or(MessageError::Missing("AutoScalingGroupName"))?,
            hook: self.lifecycle_hook_name.ok_or(MessageError::Missing("LifecycleHookName"))?,
            token: self.lifecycle_action_token,
        };
        Ok(LifecycleRequest::Terminate(Termination { action, metadata: self.notification_metadata, time: self.time }))
    }

    /// Parse an SNS message body.
    pub fn parse(message: &str) -> Result<Self, MessageError> {
        serde_json::from_str(message).map_err(|e| MessageError::NotJson(e.to_string()))
    }
}

/// Where the cluster of a terminating instance was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterSource {
    NotificationMetadata,
    GroupTag,
    Env,
}

/// The ECS cluster of a terminating instance: the hook's notification metadata (`{"cluster":"name"}` or a
/// bare name), else the group's `ecs-scaler:cluster` tag, else the `CLUSTER` environment variable.
pub fn resolve_cluster(
    metadata: Option<&str>,
    group_tags: &HashMap<String, String>,
    env_cluster: Option<&str>,
) -> Option<(String, ClusterSource)> {
    let from_metadata = metadata.map(str::trim).and_then(|raw| match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::Object(fields)) => fields.get("cluster")?.as_str().map(str::to_owned),
        Ok(serde_json::Value::String(name)) => Some(name),
        Ok(_) => None,
        Err(_) => Some(raw.to_owned()),
    });
    let valid = |name: &String| {
        !name.is_empty() && name.len() <= 255 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    from_metadata
        .filter(valid)
        .map(|name| (name, ClusterSource::NotificationMetadata))
        .or_else(|| group_tags.get(TAG_CLUSTER).filter(|n| valid(n)).map(|n| (n.clone(), ClusterSource::GroupTag)))
        .or_else(|| env_cluster.map(str::to_owned).filter(valid).map(|n| (n, ClusterSource::Env)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(json: &str) -> Result<LifecycleRequest, MessageError> {
        LifecycleMessage::parse(json)?.request()
    }

    const TERMINATING_MESSAGE: &str = r#"{"Origin":"AutoScalingGroup","LifecycleHookName":"drain","Destination":"EC2",
        "AccountId":"123456789012","RequestId":"r","LifecycleTransition":"autoscaling:EC2_INSTANCE_TERMINATING",
        "AutoScalingGroupName":"prod-blue","Service":"AWS Auto Scaling","Time":"2026-11-22T10:00:00.123Z",
        "EC2InstanceId":"i-0abc","LifecycleActionToken":"tok","NotificationMetadata":"{\"cluster\":\"prod\"}"}"#;

    #[test]
    fn a_termination_message_becomes_an_action() {
        let Ok(LifecycleRequest::Terminate(t)) = message(TERMINATING_MESSAGE) else { panic!("expected a termination") };
        assert_eq!(t.action.instance_id, "i-0abc");
        assert_eq!(t.action.group, "prod-blue");
        assert_eq!(t.action.token.as_deref(), Some("tok"));
        assert_eq!(t.metadata.as_deref(), Some(r#"{"cluster":"prod"}"#));
        assert_eq!(t.time.map(|t| t.timestamp()), Some(1_795_341_600));
    }

    #[test]
    fn the_test_notification_is_recognised() {
        let test = r#"{"AccountId":"1","RequestId":"r","AutoScalingGroupARN":"arn","AutoScalingGroupName":"g",
            "Service":"AWS Auto Scaling","Event":"autoscaling:TEST_NOTIFICATION","Time":"2026-11-22T10:00:00Z"}"#;
        assert_eq!(message(test), Ok(LifecycleRequest::Test));
    }

    #[test]
    fn malformed_messages_say_what_is_wrong() {
        assert!(matches!(message("not json"), Err(MessageError::NotJson(_))));
        let no_instance = TERMINATING_MESSAGE.replace(r#""EC2InstanceId":"i-0abc","#, "");
        assert_eq!(message(&no_instance), Err(MessageError::Missing("EC2InstanceId")));
        let launching = TERMINATING_MESSAGE.replace("EC2_INSTANCE_TERMINATING", "EC2_INSTANCE_LAUNCHING");
        assert_eq!(
            message(&launching).unwrap_err().to_string(),
            r#"LifecycleTransition is "autoscaling:EC2_INSTANCE_LAUNCHING"; the drain hook handles only autoscaling:EC2_INSTANCE_TERMINATING"#
        );
    }

    #[test]
    fn the_cluster_comes_from_metadata_then_tag_then_env() {
        let tags: HashMap<String, String> = [(TAG_CLUSTER.to_owned(), "tagged".to_owned())].into();
        let none = HashMap::new();
        assert_eq!(
            resolve_cluster(Some(r#"{"cluster":"meta"}"#), &tags, Some("env")),
            Some(("meta".into(), ClusterSource::NotificationMetadata))
        );
        assert_eq!(
            resolve_cluster(Some("bare-name"), &tags, None),
            Some(("bare-name".into(), ClusterSource::NotificationMetadata))
        );
        assert_eq!(
            resolve_cluster(Some(r#"{"other":1}"#), &tags, None),
            Some(("tagged".into(), ClusterSource::GroupTag))
        );
        assert_eq!(resolve_cluster(None, &none, Some("env")), Some(("env".into(), ClusterSource::Env)));
        assert_eq!(resolve_cluster(Some("not a name!"), &none, None), None);
    }
}
