//! Draining terminating container instances.
//!
//! - [`readiness`]: may an instance go now? Its tasks gone, nothing still stopping, every service the drain is
//!   moving at its minimum on ACTIVE instances.
//! - [`plan`]: the reconciler: what to do for each instance held in `Terminating:Wait`, from what has been
//!   read, as a pure function.
//! - [`targets`]: which held instances are this deployment's, and in which cluster.
//! - [`run`]: the same steps over the ports, for the Lambda, the CLI and the simulator alike.
//! - [`settings`]: the drain hook's environment.

pub mod plan;
pub mod readiness;
pub mod run;
pub mod settings;
pub mod targets;

#[cfg(test)]
pub(crate) mod fixtures;

pub use plan::{
    Act, InstanceReport, Mode, Outcome, Plan, Reading, Services, Step, Target, UNKNOWN_STATUS, metrics, plan,
};
pub use readiness::{
    ATTRIBUTE_DRAIN_STARTED, BelowMin, Blocker, ClusterSnapshot, DrainPolicy, DrainVerdict, Readiness, Registration,
    Release, TAG_MIN_HEALTHY, Verdict, drain_started, readiness, required_tasks,
};
pub use run::{Error, Inspection, Memory};
pub use settings::{DEFAULT_MAX_DRAIN_SECONDS, DEFAULT_POLL_SECONDS, DEFAULT_RECONCILE_SECONDS, DrainSettings};
pub use targets::Targets;
