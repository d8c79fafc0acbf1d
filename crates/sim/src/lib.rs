//! What-if simulator for ecs-scaler: replay a desired-count trace through a simulated AWS account (ECS,
//! CloudWatch, Auto Scaling) under the real ecs-scaler, the original rule, and ECS managed scaling, and compare
//! what each costs and breaks.
//!
//! **What the simulator owns**: the simulated world ([`world`]: instances, ECS and its scheduler, CloudWatch
//! metrics and alarms, Auto Scaling groups with their scaling policies and lifecycle hook) and the policies
//! that are AWS features (alarm-driven simple scaling, a capacity provider's target tracking). **What it must
//! not do**: re-implement a rule of ecs-scaler or the Lambdas' glue. scale-status's tick
//! ([`ecs_scaler_core::scale::run`]) and the drain hook's reconciler ([`ecs_scaler_core::drain::run`]) run as
//! they are, against [`cloud::SimCloud`], which implements the core's ports over the world. The only I/O is
//! writing reports and plots.
//!
//! # The model
//!
//! Discrete time, one-minute steps. A run starts with minute 0's tasks RUNNING, packed onto as few instances
//! as binpack manages (or the scenario's `initial_instances`), then spends `warmup_minutes` (60) on minute 0's
//! load unrecorded, so each policy enters the scenario from its own steady state. Each minute, in this order:
//!
//! 1. **Trace.** Each service's desired count takes its value for the minute; events fire (a new instance
//!    type for future launches, or a colour swap).
//! 2. **Tasks start.** A task placed `task_start_minutes` (1) ago goes from PENDING to RUNNING. Only RUNNING
//!    tasks count as healthy.
//! 3. **Instances register.** An instance launched `ecs_active_minutes` (3) ago is ACTIVE in ECS; one task of
//!    every DAEMON service is placed on it first.
//! 4. **ECS service scheduler**, for each REPLICA service in order:
//!    - more tasks than desired on ACTIVE instances: the extra ones stop (PENDING first, then those on the
//!      instances with the most free memory, so instances empty out);
//!    - fewer: the missing ones are placed, never exceeding `maximumPercent` of desired counting the copies
//!      still on DRAINING instances. Placement is **binpack on memory**: the ACTIVE instance that fits the
//!      task's CPU and memory with the least memory left (ties: least CPU left, then the oldest). A task that
//!      fits nowhere stays unplaced, and the service gets the event "(service X) was unable to place a task
//!      because no container instance met all of its requirements." — so scale-status's placement check sees it;
//!    - copies on DRAINING instances: PENDING ones stop at once; RUNNING ones stop only as far as
//!      ⌈desired × minimumHealthyPercent⌉ tasks stay RUNNING, so replacements start first when
//!      `maximumPercent` allows. Each REPLICA task stopped on a DRAINING instance is a **task moved**.
//!
//!    DescribeServices answers live counts, so what reads the services next sees this minute's scheduling.
//!
//!    **Placement-failure event.** When a task went unplaced and the policy is wired with the EventBridge rule
//!    on SERVICE_TASK_PLACEMENT_FAILURE (`ecs-scaler`), scale-status's event handler
//!    ([`ecs_scaler_core::scale::trigger::on_placement_failure`]) runs at once: it evaluates the cluster with
//!    the tick's code (reading the reservations published up to the last minute) unless an event did so less
//!    than `placement_event_throttle_seconds` (60) ago, the time kept as a tag on the cluster. The minute's
//!    scheduled tick (step 7) still runs as well, as the schedule does in AWS; asking the shortfall policy twice
//!    for the same tasks adds nothing (its warm-up, step 8).
//! 5. **Drain hook.** The drain hook's scheduled reconcile, through the core's own steps
//!    ([`waiting_targets`], then one [`check`] of every instance held in Terminating:Wait): it reads the
//!    container instances, tasks, services and the stopped tasks of an instance it would release, and completes
//!    the lifecycle action when the core's verdict says so, or when `max_drain` (3600 s) has passed; the
//!    instance's remaining tasks (daemons) stop with it. The Lambda checks a few times within its minute; the
//!    world changes once a minute, so one check is the same.
//! 6. **Metrics.** CPUReservation and MemoryReservation as AWS defines them: CPU units (MiB) reserved by the
//!    tasks on ACTIVE and DRAINING instances over those instances' registered CPU units (MiB), in percent,
//!    PENDING tasks included (their reservation is taken at placement). No instance registered, or no task in
//!    the cluster: no datapoint.
//! 7. **Policy.** The [`Policy`] acts: `ecs-scaler` runs scale-status's tick against the world (reading the
//!    reservations from its CloudWatch and the services, instances, tasks and task definitions from its ECS,
//!    publishing ScaleStatus, InstancesShortfall and InstancesSurplus to its CloudWatch, and executing the
//!    serving group's shortfall policy when tasks wait); `seed` reads the reservations and publishes the same
//!    way; a capacity provider sets a capacity.
//! 8. **Alarms and Auto Scaling.** The Terraform module's alarms on ScaleStatus: high = GreaterThanThreshold 1,
//!    Maximum, 60 s × 4 → scale-up policy; low = LessThanThreshold 1, Maximum, 60 s × 10 → scale-down policy;
//!    missing data treated as missing (never breaching). An alarm in ALARM invokes its Auto Scaling action
//!    every minute it stays there. Simple scaling: +15 % of the group's desired capacity, at least 2, rounded
//!    as Auto Scaling rounds a `PercentChangeInCapacity` (toward zero, never to zero), with a 180 s cooldown;
//!    −1 with 300 s; clamped to the group's min and max; a policy is ignored while the group's previous simple scaling activity is in
//!    progress or cooling down, and the cooldown starts when the activity completes: launches once InService
//!    (`in_service_minutes`, 1), terminations once the lifecycle hook lets the instance go. Scale-in picks the
//!    instance with the oldest launch template, then the oldest instance (the start of AWS's Default termination
//!    policy, which goes on to the next billing hour and then chance; the model stays deterministic). With the
//!    drain hook the instance waits in Terminating:Wait and its lifecycle notification goes to the core's
//!    [`notified_targets`] and [`check`] (set DRAINING, drain start recorded); without it, it terminates at
//!    once and its tasks die with it, as does an instance scaled in before it registered with ECS (the hook
//!    would find it registered nowhere and release it at once).
//!
//!    `ecs-scaler`'s groups are wired as the blue-green module wires them for placement-aware scaling:
//!    - **Shortfall step policy** `<cluster>-shortfall-<colour>` (ChangeInCapacity, the core's
//!      [`SHORTFALL_STEPS`](ecs_scaler_core::scale::capacity::SHORTFALL_STEPS), breach threshold 0,
//!      EstimatedInstanceWarmup `shortfall_warmup_minutes`, the module's 300 s), named by the group's tags
//!      `ecs-scaler:cluster` and `ecs-scaler:shortfall-policy`. ExecutePolicy picks the step for the metric value
//!      (above the threshold: lower bound inclusive, upper exclusive) and adds only what exceeds the capacity that
//!      policy launched and is still warming up, clamped to the max size; no cooldown. While its launches warm
//!      up, scale-in by the simple policy is blocked.
//!    - **Surplus step policy** `<cluster>-surplus-<colour>` (ChangeInCapacity, the core's
//!      [`SURPLUS_STEPS`](ecs_scaler_core::scale::capacity::SURPLUS_STEPS), no cooldown) and the alarm that
//!      invokes it, `<cluster>_InstancesSurplus_<colour>`: InstancesSurplus (Minimum over the minute) ≥ 2 in
//!      every one of the low alarm's 10 periods, missing data not breaching. Invoked every minute the alarm is in
//!      ALARM, with its newest datapoint: a surplus s removes s − 1 (at most 20), the low alarm's −1 the last one,
//!      in the same minute; clamped to the min size; blocked while the shortfall policy's launches warm up. The
//!      termination policy picks the instances. The knob `surplus_scale_in` switches it off.
//!    - **Custom termination policy**: whenever a group is above its desired capacity, Auto Scaling sends the
//!      function (the drain hook running [`ecs_scaler_core::scale::terminate::choose`]) a request as AWS builds it
//!      (Cause SCALE_IN; one Availability Zone in this model, so every member is a candidate and the whole excess
//!      is that zone's CapacityToTerminate) and terminates what it answers, through the lifecycle hook. An empty
//!      answer is asked again the next minute for as long as the group stays above desired.
//!
//!    `seed`, `ecs-scaler-threshold` and the capacity provider keep the Default termination policy (with ECS
//!    managed termination protection for the capacity provider), no step policy and no surplus alarm.
//!
//! **Blue/green.** Two Auto Scaling groups (colours), alarms on each group whose max size is above 0, exactly
//! as the Terraform module does. A colour swap raises the idle colour's min size to the live colour's size
//! (launches go there from now on); `drain_after_minutes` later the old colour goes to min = max = 0, so all its
//! instances terminate through the hook.
//!
//! **Reading the figures.** Instance-hours count every instance paid for (launching, ACTIVE, DRAINING).
//! The oracle bound for a minute is ⌈max(ΣCPU / instance CPU, Σmemory / instance memory)⌉ over the desired
//! REPLICA tasks, with each instance's room reduced by the daemons and taken from the largest instance type
//! seen: perfect packing and instant launches. It is below every policy's registered instances at every
//! minute in which all desired tasks are placed (when they are not, a policy runs short and the bound is
//! above it; that is what "unplaced task-minutes" counts). A **min-healthy violation** is a service-minute with
//! fewer RUNNING tasks than ⌈minimumHealthyPercent × (RUNNING + running tasks it lost with terminated instances
//! and has not got back, capped at desired)⌉: tasks killed under a service count until replaced; scale-ups not
//! yet running and tasks ECS stopped on purpose (within minimumHealthyPercent) do not. An **oscillation**
//! is a capacity change in the opposite direction of the previous one within 10 minutes. **Tasks moved per
//! day** are the REPLICA tasks ECS stopped on DRAINING instances (drains of consolidation, scale-in and colour
//! swaps) scaled to 24 h of recorded minutes. A **spike** starts
//! at a minute whose desired tasks rise by ≥ 10 % (and ≥ 5 tasks); it lasts until every service has all its
//! desired tasks PENDING or RUNNING.
//!
//! # Policies
//!
//! - `ecs-scaler` — [`EcsScaler`]: scale-status's tick, with its scale-down guard (DRAINING instances counted
//!   out), the placement signal (tasks no instance could hold left out), the idle rule, sized scale-out and
//!   consolidation (`consolidate`, on; "consolidate after" is the low alarm's evaluation periods, 10), with the
//!   core's default thresholds ([`ecs_scaler_core::config::DEFAULT_CPU`], `DEFAULT_MEMORY`); the shortfall
//!   policy, the surplus alarm and policy, the custom termination policy and the placement-failure event rule
//!   around it.
//! - `ecs-scaler-threshold` — [`EcsScaler::threshold`] (not in the default comparison; by name): the same tick
//!   as it was before placement-aware scaling: consolidation off, no shortfall or surplus policy, the Default
//!   termination policy, schedule only.
//! - `seed` — [`Seed`]: the original rule (thresholds only, no guard, no placement signal) with the same
//!   thresholds as `ecs-scaler`, so the comparison shows what the rule itself changes; the original example's
//!   40/75 is one flag away (`--seed-thresholds 40,75`).
//! - `capacity-provider` — [`CapacityProvider`]: ECS managed scaling at targetCapacity 100 with managed
//!   termination protection, as AWS documents it: scale-out to ⌈M × 100/target⌉ (step within 1..10000), blocked
//!   while any instance is within instanceWarmupPeriod (300 s); scale-in only after 15 consecutive minutes below
//!   target, then each minute by at most half the empty instances (at least one), blocked while instances warm
//!   up and restarted by any scale-out; only empty instances go.
//!
//! Scenario formats are described in [`scenario`]; the built-in scenarios in [`builtin`].
//!
//! [`waiting_targets`]: ecs_scaler_core::drain::run::waiting_targets
//! [`notified_targets`]: ecs_scaler_core::drain::run::notified_targets
//! [`check`]: ecs_scaler_core::drain::run::check

pub mod builtin;
pub mod cloud;
pub mod knobs;
pub mod oracle;
pub mod plot;
pub mod policy;
pub mod report;
pub mod run;
pub mod scenario;
pub mod world;

use std::path::Path;
use std::time::{Duration, Instant};

pub use cloud::SimCloud;
pub use knobs::Knobs;
pub use policy::{CapacityProvider, ClusterView, EcsScaler, Policy, Seed, Signal};
pub use report::{Comparison, Run, Summary};
pub use run::Simulation;
pub use scenario::Scenario;
pub use world::{Minute, Tally};

/// Why a simulation could not run or report.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The message names the scenario or the CSV row.
    #[error("{0}")]
    Scenario(String),
    #[error("policy: {0}")]
    Policy(String),
    #[error("writing the report: {0}")]
    Io(String),
    #[error("plotting: {0}")]
    Plot(String),
}

/// A built-in scenario by name, or a `.json` / `.csv` file.
pub fn load_scenario(name_or_path: &str) -> Result<Scenario, SimError> {
    if let Some(scenario) = builtin::by_name(name_or_path) {
        return Ok(scenario);
    }
    let path = Path::new(name_or_path);
    if !path.exists() {
        let names: Vec<&str> = builtin::NAMES.iter().map(|(name, _)| *name).collect();
        return Err(SimError::Scenario(format!(
            "{name_or_path:?} is neither a built-in scenario ({}) nor a file",
            names.join(", ")
        )));
    }
    Scenario::from_file(path)
}

/// Run one policy over a scenario; `progress` hears each finished minute.
pub fn simulate(
    scenario: &Scenario,
    policy: Box<dyn Policy + '_>,
    knobs: &Knobs,
    progress: &mut dyn FnMut(u32),
) -> Result<Run, SimError> {
    let name = policy.name().to_owned();
    let thresholds = policy.thresholds();
    let simulation = Simulation::new(scenario, policy, knobs.clone())?;
    let (timeline, tally) = simulation.run(progress);
    Ok(Run {
        scenario: scenario.name.clone(),
        policy: name,
        drain_hook: knobs.drain_hook,
        thresholds,
        summary: Summary::from_run(&timeline, &tally, knobs),
        timeline,
        tally,
    })
}

/// Run the named policies (see [`policy::NAMES`]) over a scenario.
pub fn compare(
    scenario: &Scenario,
    policies: &[&str],
    knobs: &Knobs,
    progress: &mut dyn FnMut(u32),
) -> Result<Comparison, SimError> {
    let mut runs = Vec::new();
    for name in policies {
        runs.push(simulate(scenario, policy::by_name(name, knobs)?, knobs, progress)?);
    }
    Ok(Comparison { scenario: scenario.name.clone(), description: scenario.description.clone(), runs })
}

/// Wall time of one run of the `bench` scenario (24 h, 200 services, 90 to 140 instances) per policy.
/// Meant for release builds: `ecs-scaler bench`, or a project benchmark calling this.
pub fn bench(knobs: &Knobs) -> Result<Vec<(String, Duration, Summary)>, SimError> {
    let scenario = builtin::bench();
    let mut timings = Vec::new();
    for name in policy::NAMES {
        let started = Instant::now();
        let run = simulate(&scenario, policy::by_name(name, knobs)?, knobs, &mut |_| {})?;
        timings.push((name.to_owned(), started.elapsed(), run.summary));
    }
    Ok(timings)
}
