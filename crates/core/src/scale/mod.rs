//! Scaling decisions.
//!
//! - [`rule`]: the ScaleStatus rule, from one cluster's reading: thresholds, the scale-down guard.
//! - [`placement`]: which services ECS recently failed to place; idle clusters.
//! - [`read`] and [`plan`]: one cluster's decision as a pure plan over what was read: the placement check, the
//!   rule, consolidation, the surplus, capacity already launching.
//! - [`capacity`]: the metrics and step tables shared with Auto Scaling, and what the groups say.
//! - [`groups`]: the serving group, and the sized scale-out (ExecutePolicy).
//! - [`terminate`]: the custom termination policy's choice among Auto Scaling's candidates.
//! - [`trigger`]: the placement-failure event, evaluated at once and throttled per cluster.
//! - [`tick`]: one tick over the ports: which clusters, the reads each plan asks for, what to publish.

pub mod capacity;
pub mod groups;
pub mod memory;
pub mod placement;
pub mod plan;
#[cfg(test)]
mod properties;
pub mod read;
pub mod rule;
#[cfg(test)]
mod scenarios;
pub mod terminate;
pub mod tick;
pub mod trigger;

pub use placement::{Unplaceable, is_idle, placement_failures, recent_failures};
pub use plan::{Note, Step, Verdict, plan};
pub use read::{Read, Reading};
pub use rule::{ClusterReading, Decision, Placement, Reason, ScaleRule, ScaleStatus};
pub use tick::{ClusterReport, Evaluation, METRIC_NAME, Recall, Summary, TickError, evaluate, run};
