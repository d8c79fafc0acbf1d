//! One cluster's scaling decision as one pure plan: from what was read ([`Reading`]), either the next reads or
//! the finished [`Verdict`]. Every rule that shapes a ScaleStatus lives here, in this order:
//!
//! 1. the placement check: which REPLICA services wait for room (short of tasks, or with tasks on a DRAINING
//!    instance, and an "unable to place" event in the look-back window), which of them no instance type the
//!    groups launch could ever hold (`unplaceable`), and how many fresh instances of the serving group's types
//!    the rest need ([`crate::placement::pack::shortfall`]);
//! 2. the threshold rule ([`ScaleRule::decide`]), with the scale-down guard;
//! 3. consolidation: between the thresholds, the cheapest instance that can go ([`Walk`]);
//! 4. the surplus: when the status is 0, how many can go at once;
//! 5. capacity already launching: a 2 that pending instances cover becomes a 1 (`capacity_pending`).
//!
//! The plan asks only for what can change its answer, and is asked again after each read: the tick
//! ([`super::tick`]) performs the reads, the simulator and the tests do the same through the ports. A failed
//! read that the decision needs gives no status (`read_failed`); one that only sizes or refines it leaves the
//! rule's answer and says so in a [`Note`].

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use super::capacity::{CANDIDATES_TRIED, SURPLUS_CANDIDATES, groups_steady, pending_covers, pending_instances};
use super::groups::serving_group;
use super::placement::{Unplaceable, is_idle, recent_failures};
use super::read::{Read, Reading};
use super::rule::{ClusterReading, Decision, Placement, Reason, ScaleRule, ScaleStatus};
use crate::arn::cluster_name;
use crate::cluster::{ContainerInstance, Resources, Scheduling, Service, TaskDefinition};
use crate::lifecycle::{AutoScalingGroup, TAG_CLUSTER};
use crate::metrics::Observation;
use crate::placement::fresh::{self, Registered};
use crate::placement::pack::{self, Shape, Shortfall};
use crate::placement::removal::{ClusterView, Kept, Limits, Removal, Walk, removal_order};
use crate::placement::{Demand, Fit, Unjudgeable};
use crate::ports::AwsError;

/// What a plan says next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Read these, then plan again.
    Read(Vec<Read>),
    Done(Box<Verdict>),
}

/// Something the decision's detail does not say: why a rule did not apply, what it could not read.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "note", rename_all = "snake_case")]
pub enum Note {
    /// The services could not be read; a reservation already scales up, so only the scale-out's size is unknown.
    ScaleOutNotSized { error: String },
    /// The Auto Scaling groups could not be read.
    GroupsUnread { error: String },
    /// Fresh instances were sized from the registered ones: the group's own types could not be told.
    TypesUnknown { why: String },
    /// What the shortfall could not judge, or found no type for.
    Sizing { why: String },
    /// A service's tasks on DRAINING instances find no room: the drain is stuck until capacity comes.
    StuckDrain { service: String, tasks: u32 },
    /// A scale-up the instances already launching cover; what it would have said.
    Covered { reason: Reason, detail: String },
    /// Consolidation did not look, and why.
    ConsolidationSkipped { why: String },
    /// A candidate consolidation judged, and why it stays.
    Kept {
        instance: String,
        #[serde(flatten)]
        kept: Kept,
    },
    /// The surplus is 0 for a reason other than the instances themselves.
    SurplusWithheld { why: String },
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::ScaleOutNotSized { error } => write!(f, "the scale-out is not sized: {error}"),
            Note::GroupsUnread { error } => write!(f, "the groups could not be read: {error}"),
            Note::TypesUnknown { why } => write!(f, "fresh instances sized as the registered ones: {why}"),
            Note::Sizing { why } => write!(f, "sizing: {why}"),
            Note::StuckDrain { service, tasks } => {
                write!(f, "{tasks} task(s) of service {service} on DRAINING instances find no room")
            }
            Note::Covered { reason, detail } => write!(f, "covered {reason}: {detail}"),
            Note::ConsolidationSkipped { why } => write!(f, "consolidation: {why}"),
            Note::Kept { instance, kept } => write!(f, "consolidation: {instance} stays: {kept}"),
            Note::SurplusWithheld { why } => write!(f, "no surplus: {why}"),
        }
    }
}

/// A cluster's finished decision and everything that came with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub decision: Decision,
    /// The reservations the decision used (`None` when not fresh).
    pub cpu: Option<f64>,
    pub memory: Option<f64>,
    /// DRAINING instances, when the guard counted them.
    pub draining: Option<u32>,
    /// Waiting services no type the groups launch can hold: reported, never scaled for.
    pub unplaceable: Vec<Unplaceable>,
    /// What the waiting tasks need; `None` when nothing waits.
    pub shortfall: Option<Shortfall>,
    /// The instance consolidation removes (reason `consolidation`).
    pub removal: Option<Removal>,
    /// ACTIVE instances that can go at once (published when the status is 0).
    pub surplus: u32,
    pub notes: Vec<Note>,
}

impl Verdict {
    fn of(decision: Decision) -> Self {
        Verdict {
            decision,
            cpu: None,
            memory: None,
            draining: None,
            unplaceable: Vec::new(),
            shortfall: None,
            removal: None,
            surplus: 0,
            notes: Vec::new(),
        }
    }
}

/// Why a part of the plan stopped: it needs reads, or a read it needs failed.
enum Halt {
    Read(Vec<Read>),
    Failed(AwsError),
}

type Need<T> = Result<T, Halt>;

/// Reads collected at one stage, asked for together.
#[derive(Default)]
struct Wants(BTreeSet<Read>);

impl Wants {
    fn add(&mut self, read: Read) {
        let empty = match &read {
            Read::TasksOn(v) | Read::TaskDefinitions(v) | Read::InstanceTypes(v) => v.is_empty(),
            Read::LaunchTemplates(v) => v.is_empty(),
            _ => false,
        };
        if !empty {
            self.0.insert(read);
        }
    }

    fn halt(self) -> Need<()> {
        if self.0.is_empty() { Ok(()) } else { Err(Halt::Read(self.0.into_iter().collect())) }
    }
}

fn instances(r: &Reading) -> Need<&[ContainerInstance]> {
    match &r.instances {
        None => Err(Halt::Read(vec![Read::Instances])),
        Some(Ok(instances)) => Ok(instances),
        Some(Err(error)) => Err(Halt::Failed(error.clone())),
    }
}

fn view<'a>(r: &'a Reading, instances: &'a [ContainerInstance], services: &'a [Service]) -> ClusterView<'a> {
    ClusterView { instances, services, tasks: &r.tasks, definitions: &r.definitions, types: &r.types }
}

/// The groups tagged for this cluster, when read.
fn cluster_groups(r: &Reading) -> Option<Result<Vec<&AutoScalingGroup>, &AwsError>> {
    let groups = r.groups.as_ref()?;
    Some(groups.as_ref().map(|groups| {
        let name = r.facts.name.as_str();
        groups.iter().filter(|g| g.tags.get(TAG_CLUSTER).map(|c| cluster_name(c)) == Some(name)).collect()
    }))
}

/// Plan one cluster from what has been read.
pub fn plan(r: &Reading) -> Step {
    match decide(r) {
        Ok(verdict) => Step::Done(Box::new(verdict)),
        Err(Halt::Read(reads)) => Step::Read(reads),
        Err(Halt::Failed(error)) => Step::Done(Box::new(Verdict::of(Decision::read_failed(error.to_string())))),
    }
}

fn decide(r: &Reading) -> Need<Verdict> {
    let series = r.series.as_ref().map_err(|e| Halt::Failed(e.clone()))?;
    let settings = &r.settings;
    let rule = settings.rule();
    let mut reading = ClusterReading {
        cpu: Observation::newest(&series.cpu, r.now, r.stale_after),
        memory: Observation::newest(&series.memory, r.now, r.stale_after),
        registered: r.facts.registered_instances,
        draining: None,
        placement: Placement::NotChecked,
    };
    let mut notes = Vec::new();

    // The services: for the placement check (read even when a reservation already says up: the waiting tasks
    // size the scale-out) and to tell an idle cluster from one whose tasks cannot start.
    let check = settings.placement_check.value;
    let services: Option<&[Service]> = if check || r.facts.may_be_idle() {
        match &r.services {
            None => return Err(Halt::Read(vec![Read::Services])),
            Some(Ok(services)) => Some(services),
            Some(Err(error)) if rule.already_up(&reading) => {
                notes.push(Note::ScaleOutNotSized { error: error.to_string() });
                None
            }
            Some(Err(error)) => return Err(Halt::Failed(error.clone())),
        }
    } else {
        None
    };
    if services.is_some_and(|services| is_idle(&r.facts, services)) {
        reading.cpu = Observation::Idle;
        reading.memory = Observation::Idle;
    }

    let mut waiting = None;
    if let Some(services) = services.filter(|_| check) {
        waiting = placement(r, services, &mut notes)?;
        reading.placement = match &waiting {
            Some(w) if !w.unplaced.is_empty() => Placement::Unplaced(w.unplaced.clone()),
            _ => Placement::Clear,
        };
    }
    if rule.consults_guard(&reading) {
        reading.draining = match &r.draining {
            None => return Err(Halt::Read(vec![Read::DrainingCount])),
            Some(Ok(draining)) => *draining,
            Some(Err(error)) => return Err(Halt::Failed(error.clone())),
        };
    }

    let mut decision = rule.decide(&reading);
    let mut removal = None;
    let mut surplus = 0;
    let limits = Limits {
        cpu: settings.cpu.values(),
        memory: settings.memory.values(),
        headroom: settings.consolidate_headroom.value,
    };
    // The zones a 0 would take an instance from, once voluntary disruption is allowed (`Some(None)`: unknown).
    let mut allowed: Option<Option<Zones>> = None;
    let may_consolidate =
        decision.reason == Reason::WithinThresholds && settings.consolidate.value && rule.may_consolidate(&reading);
    if decision.status == Some(ScaleStatus::Down) || may_consolidate {
        match voluntary(r) {
            Voluntary::Allowed(zones) => {
                allowed = Some(zones.clone());
                if may_consolidate {
                    match consolidation(r, services, limits, zones.as_ref()) {
                        Ok((chosen, kept)) => {
                            notes.extend(kept);
                            if let Some(chosen) = chosen {
                                decision = Decision::consolidation(chosen.to_string());
                                removal = Some(chosen);
                            }
                        }
                        Err(Halt::Read(reads)) => return Err(Halt::Read(reads)),
                        Err(Halt::Failed(error)) => notes
                            .push(Note::ConsolidationSkipped { why: format!("could not read the cluster: {error}") }),
                    }
                }
                if decision.status == Some(ScaleStatus::Down) && settings.consolidate.value {
                    match count_surplus(r, services, limits, zones) {
                        Ok(Ok((count, budget))) => {
                            surplus = count;
                            notes.extend(budget.map(|why| Note::SurplusWithheld { why }));
                        }
                        Ok(Err(why)) => notes.push(Note::SurplusWithheld { why }),
                        Err(Halt::Read(reads)) => return Err(Halt::Read(reads)),
                        Err(Halt::Failed(error)) => {
                            notes.push(Note::SurplusWithheld { why: format!("could not read: {error}") })
                        }
                    }
                    if surplus > 1
                        && let Some(rise) = rising(r)
                    {
                        notes.push(Note::SurplusWithheld { why: format!("at most 1 while the load rises ({rise})") });
                        surplus = 1;
                    }
                }
            }
            Voluntary::Held(reason, why) => {
                // No 0 and no consolidation; what the rule said is kept as a note.
                notes.push(Note::Covered { reason: decision.reason, detail: decision.detail });
                decision = Decision::held(reason, why);
            }
            Voluntary::Unknown(error) => {
                allowed = Some(None);
                notes.push(Note::GroupsUnread { error: error.to_string() });
                notes.push(Note::SurplusWithheld { why: "the groups could not be read".into() });
            }
            Voluntary::Read(reads) => return Err(Halt::Read(reads)),
        }
    }
    // A 0 the termination policy would refuse is worse than a 1: Auto Scaling lowers the desired capacity, asks
    // the policy again and again while the desired is below the current, and the cluster launches from a lower
    // base when the load comes. So every 0 needs an instance the policy would take, in every zone Auto
    // Scaling may take it from.
    if decision.status == Some(ScaleStatus::Down)
        && let Some(zones) = &allowed
    {
        let blocked = match blocked_removal(r, services, limits, zones.as_ref()) {
            Ok(blocked) => blocked,
            Err(Halt::Read(reads)) => return Err(Halt::Read(reads)),
            Err(Halt::Failed(error)) => Some(format!("whether one can go could not be read: {error}")),
        };
        if let Some(why) = blocked {
            notes.push(Note::Covered { reason: decision.reason, detail: decision.detail });
            decision = Decision::held(Reason::ScaleDownGuard, format!("no ACTIVE instance can go now: {why}"));
            removal = None;
            surplus = 0;
        }
    }
    if decision.status == Some(ScaleStatus::Up) {
        decision = launching(r, &rule, &reading, decision, waiting.as_ref(), &mut notes)?;
    }
    let (unplaceable, shortfall) = match waiting {
        Some(w) => (w.unplaceable, (!w.unplaced.is_empty()).then_some(w.shortfall)),
        None => (Vec::new(), None),
    };
    Ok(Verdict {
        decision,
        cpu: reading.cpu.value(),
        memory: reading.memory.value(),
        draining: reading.draining,
        unplaceable,
        shortfall,
        removal,
        surplus,
        notes,
    })
}

/// What the placement check found.
struct Waiting {
    /// Services more capacity would place.
    unplaced: Vec<String>,
    unplaceable: Vec<Unplaceable>,
    shortfall: Shortfall,
}

/// The placement check. Reads, only when some service failed placement recently: the container instances, the
/// tasks on DRAINING instances (when a failing service is not short: its drain may be stuck), the failing
/// services' and the daemons' task definitions, the groups, their launch templates' types, the instance types'
/// facts, and every task of the cluster when a waiting task has `distinctInstance` or uses an ENI.
fn placement(r: &Reading, services: &[Service], notes: &mut Vec<Note>) -> Need<Option<Waiting>> {
    let failing = recent_failures(services, r.now, r.lookback);
    if failing.is_empty() {
        return Ok(None);
    }
    let instances = instances(r)?;
    let draining: Vec<&ContainerInstance> = instances.iter().filter(|i| i.is_draining()).collect();
    let daemons: Vec<&Service> = services.iter().filter(|s| s.scheduling == Scheduling::Daemon).collect();
    let mut wants = Wants::default();
    if failing.iter().any(|s| s.running + s.pending >= s.desired) {
        wants.add(Read::TasksOn(draining.iter().filter(|i| !r.tasks_read(&i.arn)).map(|i| i.arn.clone()).collect()));
    }
    let definitions = failing.iter().chain(&daemons).map(|s| s.task_definition.clone());
    wants.add(Read::TaskDefinitions(unique(definitions.filter(|arn| !r.definition_read(arn)))));
    if r.groups.is_none() {
        wants.add(Read::Groups);
    }
    wants.halt()?;
    if let Some(error) = draining.iter().find_map(|i| r.task_errors.get(&i.arn)) {
        return Err(Halt::Failed(error.clone()));
    }

    let view = view(r, instances, services);
    let on_draining = |service: &Service| -> i64 {
        let tasks = draining.iter().filter_map(|i| r.tasks.get(&i.arn)).flatten();
        let count = tasks.filter(|t| t.service_name() == Some(service.name.as_str())).count();
        i64::try_from(count).unwrap_or(i64::MAX)
    };
    let demand_of = |service: &Service| match r.definition_errors.get(&service.task_definition) {
        Some(error) => {
            Err(Unjudgeable(format!("task definition {} could not be read: {error}", service.task_definition)))
        }
        None => view.service_demand(service),
    };
    let mut waiting: Vec<(&Service, u32, Result<Demand, Unjudgeable>)> = Vec::new();
    for service in &failing {
        let stuck = on_draining(service);
        let count = i64::from(service.desired) - i64::from(service.running) - i64::from(service.pending) + stuck;
        let count = u32::try_from(count.max(0)).unwrap_or(u32::MAX);
        if count == 0 {
            continue;
        }
        if stuck > 0 {
            notes.push(Note::StuckDrain {
                service: service.name.clone(),
                tasks: u32::try_from(stuck).unwrap_or(u32::MAX),
            });
        }
        waiting.push((service, count, demand_of(service)));
    }
    if waiting.is_empty() {
        return Ok(None);
    }

    // The groups' instance types: their launch templates', then the types' facts.
    let groups = match cluster_groups(r) {
        Some(Ok(groups)) => groups,
        Some(Err(error)) => {
            notes.push(Note::GroupsUnread { error: error.to_string() });
            Vec::new()
        }
        None => Vec::new(),
    };
    let mut wants = Wants::default();
    let templates = groups.iter().filter(|g| !g.attribute_based_types && g.override_types.is_empty());
    let templates = templates.filter_map(|g| g.launch_template.clone());
    let templates = templates.filter(|t| !r.template_types.contains_key(t) && !r.template_errors.contains_key(t));
    wants.add(Read::LaunchTemplates(templates.collect::<BTreeSet<_>>().into_iter().collect()));
    wants.halt()?;
    let any = |f: fn(&Demand) -> bool| waiting.iter().any(|(_, _, d)| d.as_ref().is_ok_and(f));
    let mut types: BTreeSet<String> = groups.iter().flat_map(|g| fresh::wanted_types(g, &r.template_types)).collect();
    if any(|d| d.eni) {
        types.extend(instances.iter().filter(|i| i.is_active()).filter_map(|i| i.instance_type().map(str::to_owned)));
    }
    let mut wants = Wants::default();
    if r.types_error.is_none() {
        wants.add(Read::InstanceTypes(types.into_iter().filter(|t| !r.type_read(t)).collect()));
    }
    if any(|d| d.distinct || d.eni) && r.all_tasks.is_none() && instances.iter().any(|i| i.is_active()) {
        wants.add(Read::AllTasks);
    }
    wants.halt()?;

    let daemon_demands: Vec<Demand> = daemons.iter().filter_map(|d| demand_of(d).ok()).collect();
    let registered = Registered { instances, types: &r.types, daemons: &daemon_demands };
    let (serving, every) = fresh_shapes(r, &groups, registered, notes);
    let mut unplaced = Vec::new();
    let mut unplaceable = Vec::new();
    let mut demands = Vec::new();
    for (service, count, demand) in waiting {
        if let Ok(d) = &demand
            && !every.is_empty()
            && every.iter().all(|shape| matches!(shape.empty.fit(d), Fit::Lacks(_)))
        {
            let lacks: BTreeSet<String> = every
                .iter()
                .filter_map(|shape| match shape.empty.fit(d) {
                    Fit::Lacks(lack) => {
                        Some(format!("{} offers {} and lacks {lack}", shape.instance_type, shape.empty.free))
                    }
                    _ => None,
                })
                .collect();
            unplaceable.push(Unplaceable {
                service: service.name.clone(),
                task_definition: service.task_definition.clone(),
                task: d.resources,
                why: lacks.into_iter().collect::<Vec<_>>().join("; "),
            });
            continue;
        }
        unplaced.push(service.name.clone());
        demands.extend(std::iter::repeat_n(demand, usize::try_from(count).unwrap_or(usize::MAX)));
    }
    let mut existing: Vec<_> = instances.iter().filter(|i| i.is_active()).filter_map(|i| view.slot(i)).collect();
    let shortfall = pack::shortfall(&demands, &mut existing, &serving);
    notes.extend(shortfall.notes.iter().map(|why| Note::Sizing { why: why.clone() }));
    Ok(Some(Waiting { unplaced, unplaceable, shortfall }))
}

/// The fresh instances of the serving group (what a scale-out launches) and of every group of the cluster
/// (what could ever be launched), falling back to the registered instances' sizes where the groups do not say.
fn fresh_shapes(
    r: &Reading,
    groups: &[&AutoScalingGroup],
    registered: Registered<'_>,
    notes: &mut Vec<Note>,
) -> (Vec<Shape>, Vec<Shape>) {
    let owned: Vec<AutoScalingGroup> = groups.iter().map(|g| (*g).clone()).collect();
    let serving = serving_group(&owned, &r.facts.name)
        .or_else(|| groups.iter().copied().max_by_key(|g| (g.min_size, g.desired_capacity)));
    let shapes_of = |group: &AutoScalingGroup, notes: &mut Vec<Note>| -> Vec<Shape> {
        let Some(types) = fresh::group_types(group, &r.template_types) else {
            notes.push(Note::TypesUnknown {
                why: format!("group {} chooses its instance types by attributes, or names none", group.name),
            });
            return fresh::registered_shapes(registered);
        };
        let (shapes, untyped) = fresh::shapes(group, &types, registered);
        if !untyped.is_empty() {
            notes.push(Note::TypesUnknown {
                why: format!("EC2 does not describe {} (group {})", untyped.join(", "), group.name),
            });
        }
        if shapes.is_empty() { fresh::registered_shapes(registered) } else { shapes }
    };
    let Some(serving) = serving else {
        let shapes = fresh::registered_shapes(registered);
        return (shapes.clone(), shapes);
    };
    let serving_shapes = shapes_of(serving, notes);
    let mut every = serving_shapes.clone();
    for group in groups.iter().filter(|g| g.name != serving.name) {
        for shape in shapes_of(group, &mut Vec::new()) {
            if !every.iter().any(|s| s.instance_type == shape.instance_type) {
                every.push(shape);
            }
        }
    }
    (serving_shapes, every)
}

/// The reads a walk over these candidates needs: their tasks, their moved tasks' definitions, and, when a
/// moved task uses an ENI or `distinctInstance`, every task of the cluster (the others' ENIs and groups) and
/// the registered instance types' facts.
fn ready_to_walk(
    r: &Reading,
    instances: &[ContainerInstance],
    services: &[Service],
    candidates: &[&ContainerInstance],
) -> Need<()> {
    let mut wants = Wants::default();
    wants.add(Read::TasksOn(candidates.iter().filter(|c| !r.tasks_read(&c.arn)).map(|c| c.arn.clone()).collect()));
    wants.halt()?;
    if let Some(error) = candidates.iter().find_map(|c| r.task_errors.get(&c.arn)) {
        return Err(Halt::Failed(error.clone()));
    }
    let tasks: Vec<_> = candidates.iter().filter_map(|c| r.tasks.get(&c.arn)).flatten().collect();
    let mut wants = Wants::default();
    let definitions = tasks.iter().filter_map(|t| t.task_definition_arn.clone());
    wants.add(Read::TaskDefinitions(unique(definitions.filter(|arn| !r.definition_read(arn)))));
    wants.halt()?;
    let view = view(r, instances, services);
    let demands: Vec<Demand> = tasks.iter().filter_map(|t| view.demand(t).ok()).collect();
    let mut wants = Wants::default();
    if demands.iter().any(|d| d.eni || d.distinct) && r.all_tasks.is_none() {
        wants.add(Read::AllTasks);
    }
    if demands.iter().any(|d| d.eni) && r.types_error.is_none() {
        let types = instances.iter().filter(|i| i.is_active()).filter_map(|i| i.instance_type().map(str::to_owned));
        wants.add(Read::InstanceTypes(unique(types.filter(|t| !r.type_read(t)))));
    }
    wants.halt()?;
    match &r.all_tasks {
        Some(Err(error)) => Err(Halt::Failed(error.clone())),
        _ => Ok(()),
    }
}

/// Whether voluntary disruption (the rule's 0, consolidation, the surplus) may act now.
enum Voluntary {
    /// Yes; among the instances of these zones when Auto Scaling's balance says which.
    Allowed(Option<Zones>),
    /// No: a window is open, or a blue/green swap is in progress.
    Held(Reason, String),
    /// The groups could not be read: the rule's 0 stands, nothing more is removed.
    Unknown(AwsError),
    Read(Vec<Read>),
}

fn voluntary(r: &Reading) -> Voluntary {
    if let Some(window) = r.settings.disruption_windows.value.active(r.now) {
        let origin = &r.settings.disruption_windows.origin;
        return Voluntary::Held(Reason::DisruptionWindow, format!("disruption window {window:?} ({origin}) is open"));
    }
    let groups = match cluster_groups(r) {
        None => return Voluntary::Read(vec![Read::Groups]),
        Some(Err(error)) => return Voluntary::Unknown(error.clone()),
        Some(Ok(groups)) => groups,
    };
    // A colour serves once it has an instance InService, and is coming up as soon as its desired capacity is
    // above 0: a swap begins when the operator scales the idle colour up, minutes before its first instance is
    // InService, and a removal decided then would land in the middle of the swap.
    let serving: Vec<&AutoScalingGroup> = groups
        .iter()
        .copied()
        .filter(|g| g.desired_capacity > 0 || g.instances.iter().any(|i| i.lifecycle_state == "InService"))
        .collect();
    if serving.len() > 1 {
        let names: Vec<&str> = serving.iter().map(|g| g.name.as_str()).collect();
        return Voluntary::Held(
            Reason::SwapInProgress,
            format!(
                "groups {} all serve or are coming up (instances InService or a desired capacity above 0): a \
                 blue/green swap is in progress",
                names.join(" and ")
            ),
        );
    }
    Voluntary::Allowed(serving.first().map(|g| Zones::of(g)))
}

/// How Auto Scaling balances a scale-in across zones: it offers only the instances of the zone(s) with the most
/// instances. The group's InService instances per zone, followed removal by removal.
#[derive(Debug, Clone)]
struct Zones {
    count: std::collections::HashMap<String, u32>,
    zone_of: std::collections::HashMap<String, String>,
}

impl Zones {
    fn of(group: &AutoScalingGroup) -> Zones {
        let mut count = std::collections::HashMap::new();
        let mut zone_of = std::collections::HashMap::new();
        for instance in group.instances.iter().filter(|i| i.lifecycle_state == "InService") {
            *count.entry(instance.availability_zone.clone()).or_default() += 1;
            zone_of.insert(instance.instance_id.clone(), instance.availability_zone.clone());
        }
        Zones { count, zone_of }
    }

    /// Whether a scale-in of the group could take this instance now: it is the group's, in a fullest zone.
    fn offers(&self, instance: &ContainerInstance) -> bool {
        let most = self.count.values().copied().max().unwrap_or(0);
        instance
            .ec2_instance_id
            .as_ref()
            .and_then(|id| self.zone_of.get(id))
            .is_some_and(|zone| self.count.get(zone).copied() == Some(most))
    }

    /// The zones holding the most instances: where Auto Scaling takes the next one from.
    fn fullest(&self) -> Vec<String> {
        let most = self.count.values().copied().max().unwrap_or(0);
        let mut zones: Vec<String> = self.count.iter().filter(|(_, n)| **n == most).map(|(z, _)| z.clone()).collect();
        zones.sort();
        zones
    }

    /// The instance's zone, when it is the group's.
    fn zone(&self, instance: &ContainerInstance) -> Option<&str> {
        instance.ec2_instance_id.as_ref().and_then(|id| self.zone_of.get(id)).map(String::as_str)
    }

    fn remove(&mut self, instance: &ContainerInstance) {
        if let Some(zone) = instance.ec2_instance_id.as_ref().and_then(|id| self.zone_of.get(id))
            && let Some(n) = self.count.get_mut(zone)
        {
            *n = n.saturating_sub(1);
        }
    }
}

/// Whether either reservation rose over the look-back window (the low alarm's, by the module's wiring): the
/// newest datapoint above the oldest. `Some` says how.
fn rising(r: &Reading) -> Option<String> {
    let series = r.series.as_ref().ok()?;
    [("cpu", &series.cpu), ("memory", &series.memory)].into_iter().find_map(|(name, points)| {
        let oldest = points.iter().filter(|p| p.value.is_finite()).min_by_key(|p| p.timestamp)?;
        let newest = points.iter().filter(|p| p.value.is_finite()).max_by_key(|p| p.timestamp)?;
        (newest.value > oldest.value).then(|| {
            format!("{name} {:.1}% to {:.1}% since {}", oldest.value, newest.value, oldest.timestamp.format("%H:%M"))
        })
    })
}

/// How many of the ACTIVE instances with tasks may drain at once.
fn allowance(r: &Reading, instances: &[ContainerInstance]) -> u32 {
    let active = u32::try_from(instances.iter().filter(|i| i.is_active()).count()).unwrap_or(u32::MAX);
    r.settings.disruption_budget.value.allowance(active)
}

/// Consolidation: the ACTIVE instances cheapest to remove, at most [`CANDIDATES_TRIED`], the first that can go.
/// Nothing is tried while an instance is DRAINING: one consolidation at a time, and a drain in progress is
/// never judged as free room. The notes say why the candidates before the chosen one (or all) stay.
fn consolidation(
    r: &Reading,
    services: Option<&[Service]>,
    limits: Limits,
    zones: Option<&Zones>,
) -> Need<(Option<Removal>, Vec<Note>)> {
    let services = walk_services(r, services)?;
    let instances = instances(r)?;
    if let Some(draining) = instances.iter().find(|i| i.is_draining()) {
        let why = format!("instance {} is DRAINING; one consolidation at a time", draining.id());
        return Ok((None, vec![Note::ConsolidationSkipped { why }]));
    }
    // Candidates whose going would bring a reservation within the headroom of its max whatever they run (all
    // the daemons going with them) are not read: on a steady cluster that is every candidate, and the tick
    // reads nothing more than its services.
    let daemons = daemon_share(r, services)?;
    let bound = Walk::new(view(r, instances, services));
    let offered: Vec<&ContainerInstance> =
        removal_order(instances).into_iter().filter(|i| zones.is_none_or(|z| z.offers(i))).collect();
    let passing = |c: &&ContainerInstance| daemons.is_none_or(|d| bound.may_pass(c, d, limits));
    let order: Vec<&ContainerInstance> = offered.iter().copied().filter(passing).take(CANDIDATES_TRIED).collect();
    if order.is_empty() && !offered.is_empty() {
        let why = "without any instance Auto Scaling would offer, a reservation would come within the headroom of \
                   its max";
        return Ok((None, vec![Note::ConsolidationSkipped { why: why.into() }]));
    }
    ready_to_walk(r, instances, services, &order)?;
    let walk = Walk::new(view(r, instances, services));
    let budget = allowance(r, instances);
    let mut kept = Vec::new();
    for candidate in order {
        match walk.judge(candidate, Some(limits)) {
            Ok(removal) if removal.moved_tasks > 0 && budget == 0 => {
                let why = format!(
                    "the disruption budget ({}) allows no instance with tasks to drain",
                    r.settings.disruption_budget.value
                );
                kept.push(Note::ConsolidationSkipped { why });
            }
            Ok(removal) => return Ok((Some(removal), kept)),
            Err(why) => kept.push(Note::Kept { instance: candidate.id().to_owned(), kept: why }),
        }
    }
    if kept.is_empty() {
        let why = if zones.is_some() {
            "no ACTIVE instance with known sizes in a zone Auto Scaling would scale in"
        } else {
            "no ACTIVE instance with known sizes"
        };
        kept.push(Note::ConsolidationSkipped { why: why.into() });
    }
    Ok((None, kept))
}

/// What every DAEMON service's task reserves together (one of each runs on every instance), reading their task
/// definitions; `None` when one of them could not be read.
fn daemon_share(r: &Reading, services: &[Service]) -> Need<Option<Resources>> {
    let daemons: Vec<&Service> = services.iter().filter(|s| s.scheduling == Scheduling::Daemon).collect();
    let mut wants = Wants::default();
    let unread = daemons.iter().map(|s| s.task_definition.clone()).filter(|arn| !r.definition_read(arn));
    wants.add(Read::TaskDefinitions(unique(unread)));
    wants.halt()?;
    let mut share = Resources::default();
    for daemon in daemons {
        match r.definitions.get(&daemon.task_definition).map(TaskDefinition::reservation) {
            Some(Ok(size)) => share = share.plus(size),
            _ => return Ok(None),
        }
    }
    Ok(Some(share))
}

/// The services a walk needs: those the plan read already, or a read of them.
fn walk_services<'a>(r: &'a Reading, services: Option<&'a [Service]>) -> Need<&'a [Service]> {
    if let Some(services) = services {
        return Ok(services);
    }
    match &r.services {
        Some(Ok(services)) => Ok(services),
        Some(Err(error)) => Err(Halt::Failed(error.clone())),
        None => Err(Halt::Read(vec![Read::Services])),
    }
}

/// Why the termination policy would take no instance on a scale-in of one, if it would not: in each zone Auto
/// Scaling may take it from (every fullest one; any instance when the zones are unknown), the cheapest
/// [`SURPLUS_CANDIDATES`] are judged as the policy judges them (the room the tasks on DRAINING instances need
/// first, the same limits), and one must go, within the disruption budget unless it is empty.
fn blocked_removal(
    r: &Reading,
    services: Option<&[Service]>,
    limits: Limits,
    zones: Option<&Zones>,
) -> Need<Option<String>> {
    let services = walk_services(r, services)?;
    let instances = instances(r)?;
    let order = removal_order(instances);
    let fullest: Vec<Option<String>> = match zones {
        Some(zones) => zones.fullest().into_iter().map(Some).collect(),
        None => vec![None],
    };
    let in_zone = |zone: &Option<String>| -> Vec<&ContainerInstance> {
        let of_zone = |i: &&ContainerInstance| zone.is_none() || zones.and_then(|z| z.zone(i)) == zone.as_deref();
        order.iter().copied().filter(of_zone).take(SURPLUS_CANDIDATES).collect()
    };
    let mut reads: Vec<&ContainerInstance> = fullest.iter().flat_map(in_zone).collect();
    reads.extend(instances.iter().filter(|i| i.is_draining()));
    ready_to_walk(r, instances, services, &reads)?;
    let mut walk = Walk::new(view(r, instances, services));
    walk.reserve_for_draining();
    let budget = allowance(r, instances);
    for zone in &fullest {
        let mut kept = Vec::new();
        let mut found = false;
        for candidate in in_zone(zone) {
            match walk.judge(candidate, Some(limits)) {
                Ok(removal) if removal.moved_tasks > 0 && budget == 0 => {
                    kept.push(format!("{}: the disruption budget allows none with tasks", candidate.id()));
                }
                Ok(_) => {
                    found = true;
                    break;
                }
                Err(why) => kept.push(format!("{}: {why}", candidate.id())),
            }
        }
        if !found {
            let place = zone.as_deref().map(|z| format!(" in {z}")).unwrap_or_default();
            let kept = if kept.is_empty() { "no ACTIVE instance with known sizes".to_owned() } else { kept.join("; ") };
            return Ok(Some(format!("none{place} ({kept})")));
        }
    }
    Ok(None)
}

/// How many ACTIVE instances can go at once: the cheapest first, at most [`SURPLUS_CANDIDATES`], each judged
/// against what the earlier ones left, from the zone Auto Scaling would take it from, and no more instances
/// with tasks than the disruption budget allows (empty ones do not count). Only while the cluster's groups are
/// steady and nothing drains: one batch at a time, and a batch in progress is never counted again. `Ok(Err(why))`
/// when withheld; the count comes with why the budget stopped it, when it did.
fn count_surplus(
    r: &Reading,
    services: Option<&[Service]>,
    limits: Limits,
    mut zones: Option<Zones>,
) -> Need<Result<(u32, Option<String>), String>> {
    match cluster_groups(r) {
        None => return Err(Halt::Read(vec![Read::Groups])),
        Some(Err(error)) => return Ok(Err(format!("the groups could not be read: {error}"))),
        Some(Ok(_)) => {}
    }
    let Some(Ok(groups)) = &r.groups else { return Ok(Err("the groups could not be read".into())) };
    if !groups_steady(groups, &r.facts.name) {
        return Ok(Err("the groups are scaling (an instance launching or leaving), or none is tagged".into()));
    }
    let services = walk_services(r, services)?;
    let instances = instances(r)?;
    if let Some(draining) = instances.iter().find(|i| i.is_draining()) {
        return Ok(Err(format!("instance {} is DRAINING", draining.id())));
    }
    let order: Vec<&ContainerInstance> = removal_order(instances).into_iter().take(SURPLUS_CANDIDATES).collect();
    ready_to_walk(r, instances, services, &order)?;
    let mut walk = Walk::new(view(r, instances, services));
    let budget = allowance(r, instances);
    let (mut count, mut with_tasks) = (0, 0);
    let mut over_budget = 0;
    let mut judged: Vec<&str> = Vec::new();
    // Auto Scaling takes each instance from the zone that has the most at that moment: after every removal the
    // next one is chosen among the zones then fullest, cheapest first.
    loop {
        let mut next = None;
        let untried: Vec<&ContainerInstance> =
            order.iter().copied().filter(|c| !judged.contains(&c.arn.as_str())).collect();
        for candidate in untried {
            if zones.as_ref().is_some_and(|z| !z.offers(candidate)) {
                continue;
            }
            judged.push(&candidate.arn);
            match walk.judge(candidate, Some(limits)) {
                Ok(removal) if removal.moved_tasks == 0 || with_tasks < budget => {
                    next = Some((candidate, removal));
                    break;
                }
                Ok(_) => over_budget += 1,
                Err(_) => {}
            }
        }
        let Some((candidate, removal)) = next else { break };
        walk.remove(&removal);
        if let Some(zones) = zones.as_mut() {
            zones.remove(candidate);
        }
        count += 1;
        if removal.moved_tasks > 0 {
            with_tasks += 1;
        }
    }
    let budget_note = (over_budget > 0).then(|| {
        let setting = &r.settings.disruption_budget;
        format!(
            "more could go, but the disruption budget ({} from {}: {budget} with tasks at once) is used",
            setting.value, setting.origin
        )
    });
    Ok(Ok((count, budget_note)))
}

/// A 2 that instances already launching cover becomes a 1 (reason `capacity_pending`): without it, the high
/// alarm adds its step on top of a sized scale-out whose instances have not registered yet, because the
/// reservation over the registered instances stays high until they do. If the groups cannot be read, the 2
/// stands.
fn launching(
    r: &Reading,
    rule: &ScaleRule,
    reading: &ClusterReading,
    decision: Decision,
    waiting: Option<&Waiting>,
    notes: &mut Vec<Note>,
) -> Need<Decision> {
    let groups = match &r.groups {
        None => return Err(Halt::Read(vec![Read::Groups])),
        Some(Err(error)) => {
            notes.push(Note::GroupsUnread { error: error.to_string() });
            return Ok(decision);
        }
        Some(Ok(groups)) => groups,
    };
    let pending = pending_instances(groups, &r.facts.name);
    let waits = decision.reason == Reason::UnplacedTasks || waiting.is_some_and(|w| !w.unplaced.is_empty());
    let need = waits.then(|| waiting.filter(|w| !w.unplaced.is_empty()).map(|w| w.shortfall.instances));
    let reservations = [(reading.cpu.value(), rule.cpu.max), (reading.memory.value(), rule.memory.max)];
    match pending_covers(reservations, reading.registered, pending, need) {
        Some(why) => {
            notes.push(Note::Covered { reason: decision.reason, detail: decision.detail });
            Ok(Decision::capacity_pending(why))
        }
        None => Ok(decision),
    }
}

fn unique(items: impl Iterator<Item = String>) -> Vec<String> {
    items.filter(|s| !s.is_empty()).collect::<BTreeSet<_>>().into_iter().collect()
}
