//! How ECS places tasks on EC2 container instances, as data: no I/O.
//!
//! - [`model`]: what a task needs ([`Demand`]), what an instance has left ([`Slot`]), and whether one fits the
//!   other: CPU, memory, GPUs, TCP and UDP host ports, ENI slots for awsvpc tasks, `distinctInstance`, `memberOf`;
//! - [`constraints`]: the cluster query language of `memberOf`, with "cannot judge" for what the model does not
//!   track;
//! - [`instance_types`]: what an instance type offers (ENI limits with and without trunking);
//! - [`pack`]: first-fit decreasing under all of it, and the shortfall of fresh instances of the group's types;
//! - [`removal`]: the one candidate walk that consolidation, the surplus and the termination policy share.
//!
//! The simulator's scheduler is a separate model of ECS ("the world"), so the two can disagree where ECS and
//! this model would.

pub mod constraints;
pub mod fresh;
pub mod instance_types;
pub mod model;
pub mod pack;
pub mod removal;

pub use model::{Demand, Fit, Lack, Slot, Unjudgeable};
pub use pack::{Misfit, Shape, Shortfall};
pub use removal::{ClusterView, Kept, Limits, Removal, Stuck, Walk, removal_order};
