//! The decisions of ecs-scaler, as pure functions of plain data.
//!
//! Nothing here does I/O or knows the AWS SDK: the Lambdas, the CLI and the simulator all feed snapshots in
//! and get decisions out, so the rule is written exactly once.

pub mod arn;
pub mod cluster;
pub mod config;
pub mod drain;
pub mod lifecycle;
pub mod metrics;
pub mod pack;
pub mod ports;
pub mod scale;

pub use cluster::{
    ClusterFacts, ContainerInstance, ContainerSize, Resources, Scheduling, Service, ServiceEvent, Task, TaskDefinition,
    TaskHealth,
};
pub use config::{ClusterSettings, Resource, Thresholds};
pub use metrics::{Datapoint, Observation};
pub use scale::{ClusterReading, Decision, Placement, Reason, ScaleRule, ScaleStatus};

impl ClusterSettings {
    /// The ScaleStatus rule with this cluster's thresholds.
    pub fn rule(&self) -> ScaleRule {
        ScaleRule { cpu: self.cpu.values(), memory: self.memory.values() }
    }
}
