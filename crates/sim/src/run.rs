//! The per-minute loop: the world moves, then ecs-scaler's functions run against it through [`SimCloud`] as
//! the Lambdas would (the drain hook's reconcile and lifecycle notifications, scale-status's tick), and the
//! policies that are AWS features (alarms and scaling policies, a capacity provider's target tracking) act.

use std::collections::BTreeMap;

use ecs_scaler_core::ScaleStatus;
use ecs_scaler_core::drain::{DrainSettings, Memory, Mode, Outcome, Release, run};
use ecs_scaler_core::lifecycle::{LifecycleAction, Termination};
use ecs_scaler_core::scale::terminate;
use futures::executor::block_on;

use crate::SimError;
use crate::calls::EcsCalls;
use crate::cloud::{Client, SimCloud, client, client_context};
use crate::knobs::Knobs;
use crate::policy::{Policy, Signal};
use crate::scenario::Scenario;
use crate::world::autoscaling::HOOK;
use crate::world::{CLUSTER, Minute, Tally, World};

/// A run in progress. [`Simulation::step`] advances one minute; [`Simulation::audit`] checks the invariants.
pub struct Simulation<'s> {
    policy: Box<dyn Policy + 's>,
    cloud: SimCloud,
    /// The policy's client of the world (scale-status's, for ecs-scaler), and the drain hook's: each function's
    /// calls counted apart.
    policy_client: Client,
    drain_client: Client,
    /// The drain hook's settings: every group of the cluster, the knobs' max drain time and timeout result.
    drain: DrainSettings,
    /// Scenario minutes to record, after the warm-up.
    minutes: u32,
    warmup: u32,
    timeline: Vec<Minute>,
}

impl<'s> Simulation<'s> {
    pub fn new(scenario: &'s Scenario, policy: Box<dyn Policy + 's>, knobs: Knobs) -> Result<Self, SimError> {
        scenario.validate()?;
        let defaults = DrainSettings::from_vars([("CLUSTERS", CLUSTER)])
            .map_err(|e| SimError::Policy(format!("drain hook settings: {e}")))?;
        let drain = DrainSettings { policy: knobs.drain, layer: policy.drain_layer(), ..defaults };
        let (minutes, warmup) = (scenario.minutes, knobs.warmup_minutes);
        let world = World::new(scenario, knobs, policy.wiring());
        let cloud = SimCloud::new(world);
        Ok(Self {
            policy,
            policy_client: client(&cloud),
            drain_client: client(&cloud),
            cloud,
            drain,
            minutes,
            warmup,
            timeline: Vec::with_capacity(minutes as usize),
        })
    }

    /// The world behind the ports.
    pub fn cloud(&self) -> &SimCloud {
        &self.cloud
    }

    fn tick(&self) -> u32 {
        self.cloud.with(|world| world.tick)
    }

    /// The scenario minute the next step simulates (0 throughout the warm-up).
    pub fn minute(&self) -> u32 {
        self.tick().saturating_sub(self.warmup)
    }

    pub fn finished(&self) -> bool {
        self.tick() >= self.warmup + self.minutes
    }

    pub fn timeline(&self) -> &[Minute] {
        &self.timeline
    }

    pub fn tally(&self) -> Tally {
        self.cloud.with(|world| world.tally.clone())
    }

    pub fn policy(&self) -> &dyn Policy {
        self.policy.as_ref()
    }

    /// Run to the end; `progress` hears each finished minute.
    pub fn run(mut self, progress: &mut dyn FnMut(u32)) -> (Vec<Minute>, Tally) {
        while !self.finished() {
            if let Some(minute) = self.step().map(|m| m.minute) {
                progress(minute);
            }
        }
        let tally = self.tally();
        (self.timeline, tally)
    }

    /// Advance one minute. Returns its record, or `None` during the warm-up.
    pub fn step(&mut self) -> Option<&Minute> {
        let unplaced = self.cloud.with(|world| {
            world.apply_scenario();
            world.start_tasks();
            world.activate_instances();
            world.schedule()
        });
        if unplaced > 0 {
            // ECS emits SERVICE_TASK_PLACEMENT_FAILURE; the event rule (if the policy has one) evaluates now.
            self.policy.placement_event(&self.policy_client);
        }
        self.reconcile_drains();
        let (mut record, view) = self.cloud.with(|world| world.measure(unplaced));
        let signal = self.policy.tick(&self.policy_client, &view);
        if let Some(decided) = self.policy.last_decision() {
            record.reason = Some(decided.reason.clone());
            let reused = decided.reused;
            self.cloud.with(|world| world.tally.verdicts_reused += u32::from(reused && world.recording().is_some()));
        }
        let target = self.cloud.with(|world| world.knobs.capacity_target_percent);
        self.cloud.with(|world| {
            let tick = world.tick;
            match signal {
                Signal::Published => {
                    let value = world.cloudwatch.scale_status(tick);
                    record.scale_status = value.map(|v| v as u8);
                    record.signal = value;
                    let actions = world.cloudwatch.evaluate_alarms(tick);
                    world.alarm_actions(&actions);
                }
                Signal::Capacity { metric, desired } => {
                    let status = if metric > target {
                        ScaleStatus::Up
                    } else if metric < target {
                        ScaleStatus::Down
                    } else {
                        ScaleStatus::Stay
                    };
                    record.scale_status = Some(status as u8);
                    record.signal = Some(metric);
                    if let Some(total) = desired {
                        world.target_capacity(total);
                    }
                }
            }
            world.reconcile_groups();
        });
        self.terminations();
        let recording = self.cloud.with(|world| {
            world.finish_activities();
            record.desired_capacity = world.autoscaling.desired_capacity();
            world.recording()
        });
        self.deliver_notifications();
        let (by_policy, by_hook) = (EcsCalls::of(&self.policy_client.take()), EcsCalls::of(&self.drain_client.take()));
        record.ecs_calls = by_policy.plus(&by_hook);
        self.cloud.with(|world| {
            if world.recording().is_some() {
                world.tally.ecs_calls_policy = world.tally.ecs_calls_policy.plus(&by_policy);
                world.tally.ecs_calls_drain_hook = world.tally.ecs_calls_drain_hook.plus(&by_hook);
            }
            world.tick += 1;
        });
        recording?;
        self.timeline.push(record);
        self.timeline.last()
    }

    /// The custom termination policy: for each group above its desired capacity, Auto Scaling asks the
    /// function (the core's [`terminate::choose`], as the drain-hook Lambda runs it, reading the world through
    /// the ports with the world unlocked) and terminates what it answers. An empty answer is asked again next
    /// minute, for as long as the group stays above its desired capacity.
    fn terminations(&mut self) {
        let requests = self.cloud.with(|world| world.termination_requests());
        let clusters = [CLUSTER.to_owned()];
        for request in requests {
            let hook = &self.drain_client;
            let choice = block_on(terminate::choose(hook, hook, hook, &clusters, &self.drain.layer, &request));
            self.cloud.with(|world| world.apply_termination(&request.group, &choice.response.instance_ids));
        }
    }

    /// The drain hook's scheduled reconcile, through the core's own steps as its poller runs them: the waiting
    /// instances ([`run::waiting_targets`]), then a check of every one ([`run::check`]), every `POLL_SECONDS`
    /// (10) within the reconcile window (45 s): five checks with one invocation's memory, each heartbeat sent
    /// once. The world changes once a minute, so the checks after the first find what it found (less the
    /// instances it released); they are made because the Lambda makes them, and their calls count.
    fn reconcile_drains(&mut self) {
        if !self.cloud.with(|world| world.any_waiting()) {
            return;
        }
        let ctx = client_context(&self.drain_client);
        let mut hooks = BTreeMap::new();
        let mut memory = Memory::default();
        let Ok(found) = block_on(run::waiting_targets(ctx, &self.drain, &mut hooks)) else { return };
        let mut targets = found.targets;
        let (poll, window) = (self.drain.poll.num_seconds().max(1), self.drain.reconcile_window.num_seconds());
        let rounds = window.max(0) / poll + 1;
        for round in 1..=rounds {
            if targets.is_empty() {
                break;
            }
            let reports = block_on(run::check(ctx, &self.drain, &mut targets, Mode::Check, &mut memory));
            self.cloud.with(|world| {
                let recording = u32::from(world.recording().is_some());
                for report in reports {
                    match report.outcome {
                        Outcome::Completed { why: Release::TimedOut, .. } => world.tally.drain_timeouts += recording,
                        Outcome::Completed { .. } => world.tally.drains_completed += recording,
                        _ => {}
                    }
                }
            });
            if round == rounds {
                break;
            }
            let Ok(again) = block_on(run::waiting_targets(ctx, &self.drain, &mut hooks)) else { break };
            let before = targets;
            targets = again.targets;
            for target in &mut targets {
                let seen = before.iter().find(|b| b.action.instance_id == target.action.instance_id);
                target.beaten = seen.is_some_and(|b| b.beaten);
            }
        }
    }

    /// The lifecycle notifications of the instances that entered Terminating:Wait this minute, handled as the
    /// drain hook handles them: set DRAINING, drain start recorded, held.
    fn deliver_notifications(&mut self) {
        let terminations: Vec<Termination> = self.cloud.with(|world| {
            let now = world.now();
            let waiting = std::mem::take(&mut world.autoscaling.notifications);
            waiting
                .into_iter()
                .map(|index| {
                    let instance = &world.instances[index];
                    let action = LifecycleAction {
                        group: world.autoscaling.groups[instance.group].name.clone(),
                        hook: HOOK.into(),
                        instance_id: instance.ec2_instance_id.clone(),
                        token: None,
                    };
                    Termination { action, metadata: None, time: Some(now) }
                })
                .collect()
        });
        if terminations.is_empty() {
            return;
        }
        let ctx = client_context(&self.drain_client);
        let Ok(found) = block_on(run::notified_targets(ctx, &self.drain, &terminations)) else { return };
        let mut targets = found.targets;
        block_on(run::check(ctx, &self.drain, &mut targets, Mode::Start, &mut Memory::default()));
    }

    /// Check the model's invariants; `Err` names the first one broken.
    pub fn audit(&self) -> Result<(), String> {
        self.cloud.with(|world| world.audit())
    }

    /// Container instances registered now (ACTIVE and DRAINING).
    pub fn registered_instances(&self) -> u32 {
        self.cloud.with(|world| world.registered_instances())
    }

    /// The oracle's bound ([`crate::oracle::bound`]) over the tasks actually placed, with the largest instance types seen.
    pub fn placed_bound(&self) -> u32 {
        self.cloud.with(|world| world.placed_bound())
    }
}
