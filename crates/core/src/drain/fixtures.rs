//! Builder-style fixtures for the drain tests, so each test reads like the situation it checks:
//! `Cluster::new().instance("old", "DRAINING").service("api", 20, 50).tasks("service:api", "new", 6)`.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::readiness::{ATTRIBUTE_DRAIN_STARTED, Blocker, ClusterSnapshot, readiness};
use crate::cluster::{ContainerInstance, Scheduling, Service, ServiceEvent, Task, TaskHealth};

/// The fixtures' "now".
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).single().unwrap_or(DateTime::UNIX_EPOCH)
}

#[derive(Debug, Default, Clone)]
pub struct Cluster {
    pub snapshot: ClusterSnapshot,
}

impl Cluster {
    pub fn new() -> Self {
        Self::default()
    }

    /// A container instance `arn`, EC2 id `i-<arn>`, in this status.
    pub fn instance(mut self, arn: &str, status: &str) -> Self {
        self.snapshot.instances.push(ContainerInstance {
            arn: arn.into(),
            ec2_instance_id: Some(format!("i-{arn}")),
            status: status.into(),
            attributes: HashMap::new(),
            ..ContainerInstance::default()
        });
        self
    }

    /// The last instance's drain started this long before [`now`] (its attribute is set).
    pub fn drain_started_minutes_ago(mut self, minutes: i64) -> Self {
        if let Some(instance) = self.snapshot.instances.last_mut() {
            let started = (now() - Duration::minutes(minutes)).timestamp().to_string();
            instance.attributes.insert(ATTRIBUTE_DRAIN_STARTED.into(), started);
        }
        self
    }

    pub fn service(mut self, name: &str, desired: i32, min_healthy: i32) -> Self {
        self.snapshot.services.push(Service {
            name: name.into(),
            scheduling: Scheduling::Replica,
            desired,
            running: 0,
            pending: 0,
            min_healthy_percent: Some(min_healthy),
            task_definition: format!("td/{name}:1"),
            tags: HashMap::new(),
            events: Vec::<ServiceEvent>::new(),
            placement_constraints: Vec::new(),
        });
        self
    }

    pub fn daemon(mut self, name: &str) -> Self {
        self = self.service(name, 0, 0);
        if let Some(s) = self.snapshot.services.last_mut() {
            s.scheduling = Scheduling::Daemon;
        }
        self
    }

    pub fn tag(mut self, key: &str, value: &str) -> Self {
        if let Some(s) = self.snapshot.services.last_mut() {
            s.tags.insert(key.into(), value.into());
        }
        self
    }

    fn task(&self, group: &str, on: &str, last_status: &str) -> Task {
        let n = self.snapshot.tasks.len() + self.snapshot.stopped.len();
        Task {
            arn: format!("task-{n}"),
            container_instance_arn: Some(on.into()),
            group: Some(group.into()),
            last_status: last_status.into(),
            health: TaskHealth::Unknown,
            ..Task::default()
        }
    }

    /// `count` RUNNING tasks of `group` on `on`.
    pub fn tasks(mut self, group: &str, on: &str, count: usize) -> Self {
        for _ in 0..count {
            let task = self.task(group, on, "RUNNING");
            self.snapshot.tasks.push(task);
        }
        self
    }

    pub fn last_task(mut self, last_status: &str, health: TaskHealth) -> Self {
        if let Some(t) = self.snapshot.tasks.last_mut() {
            t.last_status = last_status.into();
            t.health = health;
        }
        self
    }

    /// A task ECS is stopping on `on`, in `last_status` (DEACTIVATING, STOPPING, ... or STOPPED just now).
    pub fn stopping(mut self, group: &str, on: &str, last_status: &str) -> Self {
        let mut task = self.task(group, on, last_status);
        task.stopped_at = (last_status == "STOPPED").then(now);
        self.snapshot.stopped.push(task);
        self
    }

    /// `count` tasks of `group` that stopped on `on` just now.
    pub fn stopped(mut self, group: &str, on: &str, count: usize) -> Self {
        for _ in 0..count {
            self = self.stopping(group, on, "STOPPED");
        }
        self
    }

    /// A task of `group` that stopped on `on` this long before [`now`].
    pub fn stopped_minutes_ago(mut self, group: &str, on: &str, minutes: i64) -> Self {
        self = self.stopping(group, on, "STOPPED");
        if let Some(task) = self.snapshot.stopped.last_mut() {
            task.stopped_at = Some(now() - Duration::minutes(minutes));
        }
        self
    }

    /// Mark every instance's stopped tasks as read (the fixture added whatever stopped tasks there are).
    pub fn stopped_read(mut self) -> Self {
        self.snapshot.stopped_read = self.snapshot.instances.iter().map(|i| i.arn.clone()).collect();
        self
    }

    /// What blocks the instance `arn`, with its stopped tasks read.
    pub fn blockers(&self, arn: &str) -> Vec<Blocker> {
        readiness(&self.snapshot, arn).blockers
    }
}
