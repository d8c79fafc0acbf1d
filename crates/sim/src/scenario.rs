//! Scenarios: a cluster, its services and a desired-count trace, as JSON or CSV.
//!
//! # JSON
//!
//! ```json
//! {
//!   "name": "my-day",
//!   "description": "what it shows",
//!   "minutes": 1440,
//!   "instance_type": { "name": "m5.xlarge", "cpu": 4096, "memory": 15360 },
//!   "initial_instances": 12,
//!   "min_size": 1,
//!   "max_size": 200,
//!   "services": [
//!     { "name": "api", "cpu": 512, "memory": 1024, "desired": 10,
//!       "min_healthy_percent": 100, "maximum_percent": 200, "scheduling": "REPLICA" },
//!     { "name": "logs", "cpu": 128, "memory": 256, "scheduling": "DAEMON" }
//!   ],
//!   "changes": [ { "minute": 60, "service": "api", "desired": 14 } ],
//!   "events": [
//!     { "minute": 300, "kind": "colour_swap", "drain_after_minutes": 10 },
//!     { "minute": 600, "kind": "instance_type", "instance_type": { "name": "m5.2xlarge", "cpu": 8192, "memory": 31000 } }
//!   ]
//! }
//! ```
//!
//! A service's desired count is a step function: `desired` at minute 0, then each `changes` entry from its
//! minute on. `initial_instances` defaults to as many as binpack needs for minute 0's tasks;
//! `min_healthy_percent` to 100, `maximum_percent` to 200, `scheduling` to `REPLICA`, `min_size` to 1,
//! `max_size` to 500.
//!
//! # CSV
//!
//! One row per change, so a trace exported from CloudWatch (`DesiredTaskCount` per service per minute) replays
//! as it is. A service's first row gives its cpu and memory (and, optionally, min_healthy_percent,
//! maximum_percent and scheduling), which hold for the whole run; its later rows give only a new `desired`.
//!
//! ```csv
//! # name: my-day
//! # minutes: 1440
//! # initial_instances: 12
//! # min_size: 1
//! # max_size: 200
//! minute,service,desired,cpu,memory,min_healthy_percent,maximum_percent,scheduling
//! 0,@instance-type,,4096,15360,,,
//! 0,api,10,512,1024,100,200,REPLICA
//! 0,logs,,128,256,,,DAEMON
//! 60,api,14,,,,,
//! 300,@colour-swap,10,,,,,
//! ```
//!
//! `# key: value` lines before the header set `name`, `description`, `minutes` (default: last change + 60),
//! `initial_instances`, `min_size` and `max_size`. Rows whose service starts with `@` are events:
//! `@instance-type` (cpu and memory are the type's registered CPU units and MiB; at minute 0 it is the initial
//! type, default 4096/15360) and `@colour-swap` (desired is the minutes until the old colour is drained,
//! default 10).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use ecs_scaler_core::Scheduling;
use serde::{Deserialize, Serialize};

use crate::SimError;

/// Registered resources of one container instance type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceType {
    pub name: String,
    /// CPU units (1024 per vCPU).
    pub cpu: u32,
    /// MiB that ECS registers (less than the instance's RAM: the agent and OS keep some).
    pub memory: u32,
}

impl InstanceType {
    /// About what ECS registers for an m5.xlarge (4 vCPU, 16 GiB).
    pub fn m5_xlarge() -> Self {
        Self { name: "m5.xlarge".into(), cpu: 4096, memory: 15360 }
    }
}

/// A service's `scheduling`, `REPLICA` or `DAEMON` as ECS spells them: the core's [`Scheduling`], which
/// serializes so, parsed here (a DAEMON service runs one task on every ACTIVE container instance and ignores
/// `desired`).
mod scheduling {
    use ecs_scaler_core::Scheduling;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn parse(raw: &str) -> Result<Scheduling, String> {
        match raw {
            "REPLICA" => Ok(Scheduling::Replica),
            "DAEMON" => Ok(Scheduling::Daemon),
            other => Err(format!("unknown variant `{other}`, expected `REPLICA` or `DAEMON`")),
        }
    }

    pub fn replica() -> Scheduling {
        Scheduling::Replica
    }

    pub fn serialize<S: Serializer>(scheduling: &Scheduling, serializer: S) -> Result<S::Ok, S::Error> {
        scheduling.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Scheduling, D::Error> {
        parse(&String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// One ECS service of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSpec {
    pub name: String,
    /// Task CPU units.
    pub cpu: u32,
    /// Task memory reservation, MiB.
    pub memory: u32,
    /// Desired count at minute 0.
    #[serde(default)]
    pub desired: u32,
    #[serde(default = "default_min_healthy")]
    pub min_healthy_percent: i32,
    #[serde(default = "default_maximum_percent")]
    pub maximum_percent: i32,
    #[serde(default = "scheduling::replica", with = "scheduling")]
    pub scheduling: Scheduling,
}

fn default_min_healthy() -> i32 {
    100
}

fn default_maximum_percent() -> i32 {
    200
}

/// A service's desired count from `minute` on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub minute: u32,
    pub service: String,
    pub desired: u32,
}

/// Something that happens to the cluster rather than to one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// Instances launched from now on are of this type.
    InstanceType { minute: u32, instance_type: InstanceType },
    /// The idle colour comes up at the size of the live one; `drain_after_minutes` later the old colour goes to
    /// size 0, so all its instances terminate (through the drain hook, when there is one).
    ColourSwap {
        minute: u32,
        #[serde(default = "default_drain_after")]
        drain_after_minutes: u32,
    },
}

fn default_drain_after() -> u32 {
    10
}

impl Event {
    pub fn minute(&self) -> u32 {
        match self {
            Event::InstanceType { minute, .. } | Event::ColourSwap { minute, .. } => *minute,
        }
    }
}

/// A cluster, its services and what their desired counts do over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub minutes: u32,
    pub instance_type: InstanceType,
    #[serde(default)]
    pub initial_instances: Option<u32>,
    #[serde(default = "default_min_size")]
    pub min_size: u32,
    #[serde(default = "default_max_size")]
    pub max_size: u32,
    pub services: Vec<ServiceSpec>,
    #[serde(default)]
    pub changes: Vec<Change>,
    #[serde(default)]
    pub events: Vec<Event>,
}

fn default_min_size() -> u32 {
    1
}

fn default_max_size() -> u32 {
    500
}

impl Scenario {
    /// A `.json` or `.csv` file (see [`crate::load_scenario`] for built-in names too).
    pub fn from_file(path: &Path) -> Result<Self, SimError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| SimError::Io(format!("reading {}: {e}", path.display())))?;
        match path.extension().and_then(|e| e.to_str()) {
            Some("csv") => Self::from_csv(&text),
            _ => Self::from_json(&text),
        }
    }

    pub fn from_json(text: &str) -> Result<Self, SimError> {
        let scenario: Scenario =
            serde_json::from_str(text).map_err(|e| SimError::Scenario(format!("scenario: JSON: {e}")))?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Parse the CSV trace format described in the module docs.
    pub fn from_csv(text: &str) -> Result<Self, SimError> {
        let mut directives: HashMap<String, String> = HashMap::new();
        for line in text.lines().map(str::trim).filter(|l| l.starts_with('#')) {
            if let Some((key, value)) = line.trim_start_matches('#').split_once(':') {
                directives.insert(key.trim().to_owned(), value.trim().to_owned());
            }
        }
        let number = |key: &str| -> Result<Option<u32>, SimError> {
            directives
                .get(key)
                .map(|raw| {
                    raw.parse::<u32>()
                        .map_err(|_| SimError::Scenario(format!("scenario: # {key}: {raw:?} is not a number")))
                })
                .transpose()
        };

        let mut reader =
            csv::ReaderBuilder::new().comment(Some(b'#')).trim(csv::Trim::All).from_reader(text.as_bytes());
        let headers = reader.headers().map_err(|e| SimError::Scenario(format!("scenario: CSV header: {e}")))?.clone();
        let mut services: Vec<ServiceSpec> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut changes = Vec::new();
        let mut events = Vec::new();
        let mut instance_type = InstanceType::m5_xlarge();
        let mut last_minute = 0;
        for raw in reader.records() {
            let raw = raw.map_err(|e| SimError::Scenario(format!("scenario: CSV: {e}")))?;
            // The line in the file, `#` lines included, so an error points where an editor would.
            let line = raw.position().map_or(0, csv::Position::line);
            let record: CsvRow = raw
                .deserialize(Some(&headers))
                .map_err(|e| SimError::Scenario(format!("scenario: CSV line {line}: {e}")))?;
            last_minute = last_minute.max(record.minute);
            let bad =
                |what: &str| SimError::Scenario(format!("scenario: CSV line {line} ({}): {what}", record.service));
            match record.service.as_str() {
                "@instance-type" => {
                    let (Some(cpu), Some(memory)) = (record.cpu, record.memory) else {
                        return Err(bad("an instance type needs cpu and memory"));
                    };
                    let new = InstanceType { name: format!("{cpu}cpu-{memory}MiB"), cpu, memory };
                    if record.minute == 0 {
                        instance_type = new;
                    } else {
                        events.push(Event::InstanceType { minute: record.minute, instance_type: new });
                    }
                }
                "@colour-swap" => events.push(Event::ColourSwap {
                    minute: record.minute,
                    drain_after_minutes: record.desired.unwrap_or_else(default_drain_after),
                }),
                name if name.starts_with('@') => {
                    return Err(bad("unknown event; expected @instance-type or @colour-swap"));
                }
                name => match index.get(name) {
                    None => {
                        let (Some(cpu), Some(memory)) = (record.cpu, record.memory) else {
                            return Err(bad("the first row of a service needs cpu and memory"));
                        };
                        let service = ServiceSpec {
                            name: name.to_owned(),
                            cpu,
                            memory,
                            desired: 0,
                            min_healthy_percent: record.min_healthy_percent.unwrap_or_else(default_min_healthy),
                            maximum_percent: record.maximum_percent.unwrap_or_else(default_maximum_percent),
                            scheduling: match record.scheduling.as_deref() {
                                Some(raw) => scheduling::parse(raw).map_err(|e| bad(&e))?,
                                None => Scheduling::Replica,
                            },
                        };
                        index.insert(name.to_owned(), services.len());
                        services.push(service);
                        if let Some(desired) = record.desired {
                            changes.push(Change { minute: record.minute, service: name.to_owned(), desired });
                        }
                    }
                    Some(_) => {
                        let fixed = [record.cpu, record.memory].iter().any(Option::is_some)
                            || record.scheduling.is_some()
                            || record.min_healthy_percent.is_some()
                            || record.maximum_percent.is_some();
                        if fixed {
                            return Err(bad(
                                "cpu, memory, min_healthy_percent, maximum_percent and scheduling can only be set on \
                                 a service's first row",
                            ));
                        }
                        if let Some(desired) = record.desired {
                            changes.push(Change { minute: record.minute, service: name.to_owned(), desired });
                        }
                    }
                },
            }
        }
        // Minute-0 rows are the initial counts.
        for change in changes.iter().filter(|c| c.minute == 0) {
            if let Some(&i) = index.get(&change.service) {
                services[i].desired = change.desired;
            }
        }
        changes.retain(|c| c.minute > 0);
        let scenario = Scenario {
            name: directives.get("name").cloned().unwrap_or_else(|| "trace".into()),
            description: directives.get("description").cloned().unwrap_or_default(),
            minutes: number("minutes")?.unwrap_or(last_minute + 60),
            instance_type,
            initial_instances: number("initial_instances")?,
            min_size: number("min_size")?.unwrap_or_else(default_min_size),
            max_size: number("max_size")?.unwrap_or_else(default_max_size),
            services,
            changes,
            events,
        };
        scenario.validate()?;
        Ok(scenario)
    }

    /// Reject what would make the results meaningless, naming the offender.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |what: String| Err(SimError::Scenario(format!("scenario {:?}: {what}", self.name)));
        if self.minutes == 0 {
            return bad("minutes must be at least 1".into());
        }
        if self.min_size > self.max_size {
            return bad(format!("min_size {} is above max_size {}", self.min_size, self.max_size));
        }
        let mut types = vec![&self.instance_type];
        for event in &self.events {
            if let Event::InstanceType { instance_type, .. } = event {
                types.push(instance_type);
            }
        }
        if let Some(t) = types.iter().find(|t| t.cpu == 0 || t.memory == 0) {
            return bad(format!("instance type {} has no cpu or memory", t.name));
        }
        let mut names = std::collections::HashSet::new();
        let (daemon_cpu, daemon_memory) = self.daemon_overhead();
        for service in &self.services {
            if !names.insert(service.name.as_str()) {
                return bad(format!("service {} is listed twice", service.name));
            }
            if service.cpu == 0 && service.memory == 0 {
                return bad(format!("service {} reserves neither cpu nor memory", service.name));
            }
            if !(0..=100).contains(&service.min_healthy_percent) || !(100..=200).contains(&service.maximum_percent) {
                return bad(format!(
                    "service {}: min_healthy_percent must be 0-100 and maximum_percent 100-200",
                    service.name
                ));
            }
            let (cpu, memory) = match service.scheduling {
                Scheduling::Daemon => (service.cpu, service.memory),
                Scheduling::Replica => (service.cpu + daemon_cpu, service.memory + daemon_memory),
            };
            if !types.iter().any(|t| cpu <= t.cpu && memory <= t.memory) {
                return bad(format!(
                    "a task of service {} ({} cpu, {} MiB, plus the daemons) fits on no instance type",
                    service.name, service.cpu, service.memory
                ));
            }
        }
        if let Some(change) = self.changes.iter().find(|c| !names.contains(c.service.as_str())) {
            return bad(format!("change at minute {} names unknown service {}", change.minute, change.service));
        }
        Ok(())
    }

    /// CPU units and MiB every ACTIVE instance gives to daemon tasks.
    pub fn daemon_overhead(&self) -> (u32, u32) {
        self.services
            .iter()
            .filter(|s| s.scheduling == Scheduling::Daemon)
            .fold((0, 0), |(cpu, memory), s| (cpu + s.cpu, memory + s.memory))
    }

    /// Each service's desired count as change points, minute-sorted, starting at minute 0.
    pub fn trace(&self) -> Vec<Vec<(u32, u32)>> {
        let index: HashMap<&str, usize> = self.services.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
        let mut points: Vec<BTreeMap<u32, u32>> =
            self.services.iter().map(|s| BTreeMap::from([(0, s.desired)])).collect();
        for change in &self.changes {
            if let Some(&i) = index.get(change.service.as_str()) {
                points[i].insert(change.minute, change.desired);
            }
        }
        points.into_iter().map(|p| p.into_iter().collect()).collect()
    }
}

#[derive(Debug, Deserialize)]
struct CsvRow {
    minute: u32,
    service: String,
    desired: Option<u32>,
    cpu: Option<u32>,
    memory: Option<u32>,
    min_healthy_percent: Option<i32>,
    maximum_percent: Option<i32>,
    scheduling: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../scenarios/example.csv");

    #[test]
    fn the_shipped_csv_example_parses_into_services_changes_and_events() {
        let scenario = Scenario::from_csv(EXAMPLE).unwrap();
        assert_eq!(scenario.name, "example");
        assert_eq!(scenario.services.len(), 3);
        let api = &scenario.services[0];
        assert_eq!((api.name.as_str(), api.desired, api.cpu, api.memory), ("api", 6, 512, 1024));
        assert_eq!(scenario.services[2].scheduling, Scheduling::Daemon);
        assert!(scenario.changes.iter().any(|c| c.service == "api" && c.minute == 30 && c.desired == 12));
        assert!(scenario.events.iter().any(|e| matches!(e, Event::ColourSwap { minute: 60, drain_after_minutes: 5 })));
    }

    #[test]
    fn csv_services_need_sizes_on_their_first_row() {
        let error = Scenario::from_csv("minute,service,desired,cpu,memory\n0,api,3,,\n").unwrap_err();
        assert_eq!(error.to_string(), "scenario: CSV line 2 (api): the first row of a service needs cpu and memory");
    }

    #[test]
    fn csv_errors_name_the_line_of_the_file_comments_included() {
        let trace = "# name: t\n# minutes: 60\nminute,service,desired,cpu,memory,min_healthy_percent\n\
                     0,api,3,512,1024,100\n10,api,4,,,50\n";
        let error = Scenario::from_csv(trace).unwrap_err().to_string();
        assert!(error.starts_with("scenario: CSV line 5 (api): "), "{error}");
        assert!(error.contains("min_healthy_percent"), "a later row cannot change it for the whole run: {error}");
        let error = Scenario::from_csv("# c\nminute,service,desired\nsoon,api,3\n").unwrap_err().to_string();
        assert!(error.starts_with("scenario: CSV line 3: "), "{error}");
    }

    #[test]
    fn a_task_that_fits_no_instance_is_rejected() {
        let error = Scenario::from_csv("minute,service,desired,cpu,memory\n0,huge,1,512,99999\n").unwrap_err();
        assert!(error.to_string().contains("a task of service huge (512 cpu, 99999 MiB, plus the daemons) fits on no"));
    }

    #[test]
    fn the_trace_is_a_step_function_per_service() {
        let scenario = Scenario::from_csv(EXAMPLE).unwrap();
        let trace = scenario.trace();
        assert_eq!(trace[0][0], (0, 6));
        assert!(trace[0].windows(2).all(|w| w[0].0 < w[1].0));
    }
}
