//! Scaling decisions.
//!
//! - [`rule`]: the ScaleStatus rule, from one cluster's reading: thresholds, the scale-down guard.
//! - [`placement`]: which short services more capacity would place, which never; idle clusters.
//! - [`capacity`]: what sizing a scale-out or finding an instance to consolidate reads, and only then.
//! - [`consolidate`]: which instance is cheapest to remove, and whether its tasks fit elsewhere.
//! - [`groups`]: what a tick asks of Auto Scaling (sized scale-out) and learns from it (capacity launching).
//! - [`terminate`]: the custom termination policy's choice among Auto Scaling's candidates.
//! - [`trigger`]: the placement-failure event, evaluated at once and throttled per cluster.
//! - [`tick`]: one tick over the ports: which clusters, what to read, what to publish.

pub mod capacity;
pub mod consolidate;
pub mod groups;
pub mod placement;
pub mod rule;
pub mod terminate;
pub mod tick;
pub mod trigger;

pub use placement::{PlacementCheck, Unplaceable, check_placement, is_idle, placement_failures};
pub use rule::{ClusterReading, Decision, Placement, Reason, ScaleRule, ScaleStatus};
pub use tick::{ClusterReport, Evaluation, METRIC_NAME, Summary, TickError, evaluate, run};
