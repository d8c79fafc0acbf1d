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
//! Discrete time, one-minute steps. A run starts with minute 0's tasks RUNNING, placed by the scheduler onto as
//! few instances as it manages (or the scenario's `initial_instances`), then spends `warmup_minutes` (60) on
//! minute 0's load unrecorded, so each policy enters the scenario from its own steady state.
//!
//! **The account.** One ECS cluster; its Auto Scaling groups span the scenario's Availability Zones (three by
//! default: `sim-1a`, `sim-1b`, `sim-1c`) and launch its instance types: `instance_type`, then the
//! `mixed_instance_types` overrides, in priority order (a mixed instances policy with `prioritized` on-demand
//! allocation). An instance type is what ECS registers (CPU units, MiB, GPUs) and what EC2's
//! DescribeInstanceTypes says (vCPUs, memory, `MaximumNetworkInterfaces`, GPUs, architecture), with ECS's
//! awsvpc task limit under ENI trunking where the type supports it, and the custom attributes its launch
//! template's user data registers. Each instance has a zone and a type, and registers the agent's attributes
//! (`ecs.instance-type`, `ecs.availability-zone`, `ecs.cpu-architecture`, `ecs.os-type`, and
//! `ecs.awsvpc-trunk-id` when it has a trunk ENI: the account's `awsvpc_trunking` on, and a type that supports
//! it), its type's custom attributes, and the agent's reserved host ports (22, 2375, 2376, 51678, 51679 TCP).
//! A service is its task definition (CPU, memory, GPUs, network mode `bridge`, `host` or `awsvpc`, port
//! mappings, memberOf constraints) and its own placement constraints (`distinctInstance`, `memberOf`) and
//! strategy.
//!
//! Each minute, in this order:
//!
//! 1. **Trace.** Each service's desired count takes its value for the minute; events fire (a new instance
//!    type for future launches, or a colour swap).
//! 2. **Tasks start.** A task placed `task_start_minutes` (1) ago goes from PENDING to RUNNING. Only RUNNING
//!    tasks count as healthy.
//! 3. **Instances register.** An instance launched `ecs_active_minutes` (3) ago is ACTIVE in ECS; one task of
//!    every DAEMON service whose task it can hold (every dimension below) is placed on it first.
//! 4. **ECS service scheduler**, for each REPLICA service in order:
//!    - more tasks than desired on ACTIVE instances: the extra ones stop, one at a time: PENDING first, then as
//!      the strategy scales in (spread: from the zone, or value, with the most of the service's tasks; binpack:
//!      from the instance left with the most free), then the newest instance;
//!    - fewer: the missing ones are placed, never exceeding `maximumPercent` of desired counting the copies
//!      still on DRAINING instances, as described under *Placement* below. A task that fits nowhere stays
//!      unplaced, and the service gets the event "(service X) was unable to place a task because no container
//!      instance met all of its requirements.", with what ECS adds about the closest matching instance — so
//!      scale-status's placement check sees it;
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
//!    ([`waiting_targets`], then a [`check`] of every instance held in Terminating:Wait, five times as the
//!    Lambda's poller does, with one invocation's memory): it reads the
//!    container instances, tasks, services and the stopped tasks of an instance it would release, and completes
//!    the lifecycle action when the core's verdict says so, or when `max_drain` (3600 s) has passed; the
//!    instance's remaining tasks (daemons, and at the max drain time whatever could not move) stop with it. The
//!    world changes once a minute, so the checks after the first find what it found; they are there for the
//!    calls they cost.
//! 6. **Metrics.** CPUReservation and MemoryReservation as AWS defines them: CPU units (MiB) reserved by the
//!    tasks on ACTIVE and DRAINING instances over those instances' registered CPU units (MiB), in percent,
//!    PENDING tasks included (their reservation is taken at placement). No instance registered, or no task in
//!    the cluster: no datapoint.
//! 7. **Policy.** The [`Policy`] acts: `ecs-scaler` runs scale-status's tick against the world (reading the
//!    reservations from its CloudWatch and the services, instances, tasks, task definitions, groups and instance
//!    types from its ECS, Auto Scaling and EC2, publishing ScaleStatus, InstancesShortfall and InstancesSurplus
//!    to its CloudWatch, and executing the serving group's shortfall policy when tasks wait); `seed` reads the
//!    reservations and publishes the same way; a capacity provider sets a capacity.
//! 8. **Alarms and Auto Scaling.** The Terraform module's alarms on ScaleStatus: high = GreaterThanThreshold 1,
//!    Maximum, 60 s × 4 → scale-up policy; low = LessThanThreshold 1, Maximum, 60 s × 10 → scale-down policy;
//!    missing data treated as missing (never breaching). An alarm in ALARM invokes its Auto Scaling action
//!    every minute it stays there. Simple scaling: +15 % of the group's desired capacity, at least 2, rounded
//!    as Auto Scaling rounds a `PercentChangeInCapacity` (toward zero, never to zero), with a 180 s cooldown;
//!    −1 with 300 s; clamped to the group's min and max; a policy is ignored while the group's previous simple
//!    scaling activity is in progress or cooling down, and the cooldown starts when the activity completes:
//!    launches once InService (`in_service_minutes`, 1), terminations once the lifecycle hook lets the instance
//!    go, and a scale-in the custom termination policy has not answered with an instance yet only once the group
//!    is down to its desired capacity.
//!
//!    **Launching**: each new instance goes to the zone with the fewest of the group's instances (ties: the zone
//!    listed first; only zones where one of the group's types has capacity), as the first of the group's types
//!    EC2 has capacity for in that zone (the scenario's `unavailable` pairs are zones out of a type).
//!    **Scale-in** balances zones first, whatever the termination policy: the Default policy takes each instance
//!    from the zone with the most of the group's instances (ties: the zone listed last), there the oldest
//!    launch template, then the oldest instance (the start of AWS's Default termination policy, which goes on to
//!    the next billing hour and then chance; the model stays deterministic). With the drain hook the instance
//!    waits in Terminating:Wait and its lifecycle notification goes to the core's [`notified_targets`] and
//!    [`check`] (set DRAINING, drain start recorded); without it, it terminates at once and its tasks die with
//!    it, as does an instance scaled in before it registered with ECS (the hook would find it registered nowhere
//!    and release it at once). AWS's AZRebalance (launch, then terminate, when zones drift apart) is not
//!    modelled: launches and scale-ins keep the zones within one instance of each other.
//!
//!    `ecs-scaler`'s groups are wired as the blue-green module wires them for placement-aware scaling:
//!    - **Shortfall step policy** `<cluster>-shortfall-<colour>` (ChangeInCapacity, the core's
//!      [`SHORTFALL_STEPS`](ecs_scaler_core::scale::capacity::SHORTFALL_STEPS), breach threshold 0,
//!      EstimatedInstanceWarmup `shortfall_warmup_minutes`, the module's 300 s), named by the group's tags
//!      `ecs-scaler:cluster` and `ecs-scaler:shortfall-policy`. ExecutePolicy picks the step for the metric value
//!      (above the threshold: lower bound inclusive, upper exclusive) and adds only what exceeds the capacity that
//!      policy launched and is still warming up, to the desired capacity, clamped to the max size; no cooldown.
//!      While its launches warm up, scale-in by the simple policy is blocked.
//!    - **Surplus step policy** `<cluster>-surplus-<colour>` (ChangeInCapacity, the core's
//!      [`SURPLUS_STEPS`](ecs_scaler_core::scale::capacity::SURPLUS_STEPS), no cooldown) and the alarm that
//!      invokes it, `<cluster>_InstancesSurplus_<colour>`: InstancesSurplus (Minimum over the minute) ≥ 2 in
//!      every one of the low alarm's 10 periods, missing data not breaching. Invoked every minute the alarm is in
//!      ALARM, with its newest datapoint: a surplus s removes s − 1 (at most 20), the low alarm's −1 the last one,
//!      in the same minute; clamped to the min size; blocked while the shortfall policy's launches warm up. The
//!      termination policy picks the instances. The knob `surplus_scale_in` switches it off.
//!    - **Custom termination policy**: whenever a group is above its desired capacity, Auto Scaling sends the
//!      function (the drain hook running [`ecs_scaler_core::scale::terminate::choose`]) a request as AWS builds it
//!      (Cause SCALE_IN; `CapacityToTerminate` is the excess split over the zones with the most instances as the
//!      Default policy would take it, and `Instances` are only those zones' instances, each with its zone and
//!      type: AWS's input data holds "instances that are eligible for termination only from the imbalanced
//!      Availability Zone") and terminates what it answers, through the lifecycle hook; more than asked for is
//!      trimmed zone first by the Default policy. An empty answer is asked again the next minute for as long as
//!      the group stays above desired (a **termination refusal**).
//!
//!    `seed`, `ecs-scaler-threshold` and the capacity provider keep the Default termination policy (with ECS
//!    managed termination protection for the capacity provider), no step policy and no surplus alarm.
//!
//! **Blue/green.** Two Auto Scaling groups (colours), alarms on each group whose max size is above 0, exactly
//! as the Terraform module does. A colour swap raises the idle colour's min size to the live colour's size
//! (launches go there from now on); `drain_after_minutes` later the old colour goes to min = max = 0, so all its
//! instances terminate through the hook.
//!
//! # Placement
//!
//! The world's scheduler ([`world::placement`]) is its own model of ECS, written from ECS's documentation; it
//! never calls the core's placement model (`ecs_scaler_core::placement::{model, pack, removal, fresh}`), so
//! the two can disagree only where ECS and the core's model would. The one thing it shares with the core is the
//! cluster query language: `memberOf` expressions are parsed and evaluated by
//! [`ecs_scaler_core::placement::constraints::Expression`], the language's grammar and semantics rather than a
//! placement decision. A scenario may only use expressions that evaluator decides on a registered instance
//! (attributes and `ec2InstanceId`; not `task:group`, `agentVersion` or a `=~` pattern); one it cannot decide
//! at run time (an order comparison of non-numbers) is not satisfied.
//!
//! For each task, as ECS's "task placement" steps go: the ACTIVE container instances that have its CPU
//! units, memory and GPUs left; none of its static host ports in use, TCP and UDP apart (bridge mode: the
//! non-zero `hostPort`s, 0 or none being dynamic; host mode: every mapping's container port; awsvpc: none);
//! in awsvpc mode a free awsvpc task slot (its type's `MaximumNetworkInterfaces` − 1, the primary ENI
//! counting, or ECS's trunk limit for the type when it has a trunk ENI); under `distinctInstance` no task of
//! the same task group (the service) on it; every `memberOf` expression, the service's and the task
//! definition's, satisfied by its attributes. Then the service's placement strategy narrows them, rule by rule,
//! and the least memory left, then CPU, then the oldest instance break what is still tied. The default is ECS's
//! for a service — spread on `attribute:ecs.availability-zone` — followed by binpack on memory within the
//! chosen zone: ECS documents only the spread and leaves the choice within a zone unspecified, and binpack on
//! memory (its "AZ Balanced BinPack") keeps the model deterministic and close to the binpack it had before zones.
//! Spread counts the service's tasks on ACTIVE instances per value, over the candidates' values.
//!
//! Where no instance fits, the *closest matching* instance is the one that got furthest through those checks
//! (CPU, memory, GPUs, ports, ENIs, distinctInstance, memberOf; the first on a tie), and the event says what ECS
//! says of it where its wording is documented or quoted in AWS's issue trackers: "The closest matching
//! container-instance ID has insufficient CPU units available." / "has insufficient memory available." / "is
//! already using a port required by your task." / `encountered error "DistinctInstance placement constraint
//! unsatisfied."` / `encountered error "MemberOf placement constraint unsatisfied."`; nothing for GPUs and ENIs,
//! whose wording is not documented. None of them is "…is missing an attribute required by your task.": that is
//! ECS's message for a task definition's `requiresAttributes`, which the model does not have; a memberOf no
//! instance satisfies is, to ECS and so to the core's [`recent_failures`], a placement failure like any other.
//!
//! **Reading the figures.** Instance-hours count every instance paid for (launching, ACTIVE, DRAINING).
//! The oracle bound for a minute is the most of, over the desired REPLICA tasks: ⌈ΣCPU / instance CPU⌉ and
//! ⌈Σmemory / instance memory⌉, each instance's room reduced by the daemons that run everywhere; ⌈ΣGPUs /
//! GPUs⌉; ⌈awsvpc tasks / awsvpc task slots⌉; a `distinctInstance` service's desired count; and, per static
//! host port (TCP and UDP apart), the tasks that hold it — each dimension taken from the largest instance type
//! the groups launch or started with: perfect packing and instant launches. It is below every policy's
//! registered instances at every minute in which all desired tasks are placed (when they are not, a policy runs
//! short and the bound is above it; that is what "unplaced task-minutes" counts). A **min-healthy violation** is a service-minute with
//! fewer RUNNING tasks than ⌈minimumHealthyPercent × (RUNNING + running tasks it lost with terminated instances
//! and has not got back, capped at desired)⌉: tasks killed under a service count until replaced; scale-ups not
//! yet running and tasks ECS stopped on purpose (within minimumHealthyPercent) do not. An **oscillation**
//! is a capacity change in the opposite direction of the previous one within 10 minutes. **Tasks moved per
//! day** are the REPLICA tasks ECS stopped on DRAINING instances (drains of consolidation, scale-in and colour
//! swaps) scaled to 24 h of recorded minutes. **Drains held to max** count the instances the drain hook
//! released at `MAX_DRAIN_SECONDS` rather than because their tasks ran elsewhere; **tasks killed** are the
//! REPLICA tasks stopped by a termination rather than moved (no drain hook, such a drain, or an instance gone
//! before it registered). **ECS calls per bucket** are every call scale-status (its ticks and placement-failure
//! events) and the drain hook (its reconcile, lifecycle notifications and termination policy) make to the world's
//! ECS, each function through its own [`Counted`](ecs_scaler_core::ports::counted::Counted) client, charged as the
//! SDK adapters make them (list pages, describe batches) to ECS's throttling buckets: the mean per recorded
//! minute of each bucket (table: `svc`, `res`, `td r/min` for service, cluster resource and task definition
//! reads), the most of each in one minute, and the busiest minute (`ECS peak/min`). The drain hook's reconcile
//! checks as often as the Lambda's poller does within its minute (every 10 s for 45 s: five checks); the world
//! changes once a minute, so those checks repeat the first's reads, as the Lambda's would on a world that did
//! not move. **Termination refusals** (JSON and CSV) are the minutes a scale-in asked the custom
//! termination policy and got no instance. A **spike** starts
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
//!   around it. Like the deployed function in a warm Lambda process, it keeps one
//!   [`Memory`](ecs_scaler_core::scale::memory::Memory) for the whole run, for its scheduled ticks and its
//!   placement-failure events: task definitions, and the cluster's last verdict, republished while nothing it
//!   was decided from changed and read again from scratch once every `resync_seconds` (600), each cluster at its own phase;
//!   `--no-memory` ([`Knobs::memory`] off) reads every tick from scratch.
//! - `ecs-scaler-threshold` — [`EcsScaler::threshold`] (not in the default comparison; by name): the same tick
//!   as it was before placement-aware scaling: consolidation off, no shortfall or surplus policy, the Default
//!   termination policy, schedule only.
//! - `seed` — [`Seed`]: the original rule (thresholds only, no guard, no placement signal) with the same
//!   thresholds as `ecs-scaler`, so the comparison shows what the rule itself changes; the original example's
//!   40/75 is one flag away (`--seed-thresholds 40,75`).
//! - `capacity-provider` — [`CapacityProvider`]: ECS managed scaling at targetCapacity 100 with managed
//!   termination protection, as AWS documents it: scale-out to ⌈M × 100/target⌉ (step within 1..10000; from no
//!   instance at all, at least two), blocked while any instance is within instanceWarmupPeriod (300 s); scale-in
//!   only after 15 consecutive minutes below target, then each minute by at most half the empty instances (at
//!   least one), blocked while instances warm up and restarted by any scale-out; only empty instances go. M is
//!   the instances running non-daemon tasks plus the fresh instances this minute's provisioning tasks need,
//!   as the ECS developer guide's "managed scaling behavior" computes it: binpack by CPU, memory, ENIs, host
//!   ports, GPUs and `distinctInstance` (not `memberOf`, which the guide does not name among the parameters) onto
//!   instances of the group's largest type of each parameter, the tasks the smallest type cannot hold left out;
//!   when every provisioning task is left out, scaling stops and CapacityProviderReservation stays at the target.
//!   The API reference says instead that a group of several instance types or zones scales by exactly
//!   minimumScalingStepSize; the developer guide is followed because it is the page that describes the
//!   calculation (and was revised since, naming PROVISIONING), and because with every scenario in three zones
//!   the API's sentence would make the yardstick a one-instance-per-warm-up scaler, weaker than what AWS
//!   documents elsewhere. Tasks with different requirements are packed together, not sized group by group and
//!   the largest count taken, which the guide does not say either way.
//!
//! Scenario formats are described in [`scenario`]; the built-in scenarios in [`builtin`].
//!
//! [`waiting_targets`]: ecs_scaler_core::drain::run::waiting_targets
//! [`notified_targets`]: ecs_scaler_core::drain::run::notified_targets
//! [`check`]: ecs_scaler_core::drain::run::check
//! [`recent_failures`]: ecs_scaler_core::scale::recent_failures

pub mod builtin;
pub mod calls;
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
