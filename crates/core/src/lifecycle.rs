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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AutoScalingGroup {
    pub name: String,
    pub tags: HashMap<String, String>,
    pub instances: Vec<GroupInstance>,
}

impl AutoScalingGroup {
    /// Instances held by a termination hook.
    pub fn terminating(&self) -> impl Iterator<Item = &GroupInstance> {
        self.instances.iter().filter(|i| i.lifecycle_state == TERMINATING_WAIT)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupInstance {
    pub instance_id: String,
    pub lifecycle_state: String,
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
