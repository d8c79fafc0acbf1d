//! The decisions of ecs-scaler, as pure functions of plain data, and the ports they are read and acted on
//! through.
//!
//! It owns every rule (ScaleStatus, placement, sizing a scale-out, consolidation, the termination policy's
//! choice, drain readiness, configuration layering) and the orchestration that reads, decides and acts over
//! the [`ports`] traits. Nothing here does I/O itself or knows the AWS SDK: the Lambdas run it over SDK
//! adapters, the simulator over its simulated world and the unit tests over a script, so each rule is
//! written exactly once.

pub mod arn;
pub mod cluster;
pub mod config;
pub mod drain;
pub mod lifecycle;
pub mod metrics;
pub mod placement;
pub mod ports;
pub mod scale;

pub use cluster::{
    ClusterFacts, ContainerInstance, ContainerSize, HostPorts, PlacementConstraint, PortMapping, Protocol, Resources,
    Scheduling, Service, ServiceEvent, Task, TaskDefinition, TaskHealth,
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
