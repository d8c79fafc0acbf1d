//! What a cluster's plan may ask to read ([`Read`]), and everything read about it so far ([`Reading`]). The plan
//! ([`super::plan`]) is pure over a `Reading`; the tick ([`super::tick`]) performs the reads it asks for and asks
//! again, so each answer is computed from what was read, and nothing is read that cannot change it.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};

use crate::cluster::{ClusterFacts, ContainerInstance, Service, Task, TaskDefinition};
use crate::config::ClusterSettings;
use crate::lifecycle::{AutoScalingGroup, LaunchTemplateRef};
use crate::placement::instance_types::InstanceTypeInfo;
use crate::ports::{AwsError, ReservationSeries};

/// One read a plan asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Read {
    /// Every service, with tags and events (ListServices, DescribeServices).
    Services,
    /// How many container instances are DRAINING (one ListContainerInstances page).
    DrainingCount,
    /// Every registered container instance (ListContainerInstances, DescribeContainerInstances).
    Instances,
    /// The desired-RUNNING tasks of these container instances (ListTasks, DescribeTasks per instance).
    TasksOn(Vec<String>),
    /// Every desired-RUNNING task of the cluster (ListTasks, DescribeTasks).
    AllTasks,
    /// These task definitions (DescribeTaskDefinition each).
    TaskDefinitions(Vec<String>),
    /// The Auto Scaling groups tagged for clusters: one read shared by every cluster of the tick.
    Groups,
    /// The instance type of each of these launch template versions.
    LaunchTemplates(Vec<LaunchTemplateRef>),
    /// These instance types' facts.
    InstanceTypes(Vec<String>),
}

/// Everything read about one cluster so far. `None` is "not read"; a failed read keeps its error, so the plan
/// decides what a failure means where it is used.
#[derive(Debug, Clone)]
pub struct Reading {
    pub facts: ClusterFacts,
    pub settings: ClusterSettings,
    pub now: DateTime<Utc>,
    /// How far back placement-failure events count.
    pub lookback: Duration,
    /// How old the newest reservation datapoint may be.
    pub stale_after: Duration,
    pub series: Result<ReservationSeries, AwsError>,
    pub services: Option<Result<Vec<Service>, AwsError>>,
    pub draining: Option<Result<Option<u32>, AwsError>>,
    pub instances: Option<Result<Vec<ContainerInstance>, AwsError>>,
    /// Desired-RUNNING tasks by container instance ARN, for the instances read.
    pub tasks: HashMap<String, Vec<Task>>,
    /// Whether `tasks` holds every instance's (an [`Read::AllTasks`] answered), or why that read failed.
    pub all_tasks: Option<Result<(), AwsError>>,
    /// Instances whose tasks could not be read.
    pub task_errors: HashMap<String, AwsError>,
    pub definitions: HashMap<String, TaskDefinition>,
    pub definition_errors: HashMap<String, AwsError>,
    pub groups: Option<Result<Vec<AutoScalingGroup>, AwsError>>,
    /// What each launch template version launches (`None`: it names no type).
    pub template_types: HashMap<LaunchTemplateRef, Option<String>>,
    pub template_errors: HashMap<LaunchTemplateRef, AwsError>,
    pub types: HashMap<String, InstanceTypeInfo>,
    /// Types asked for and not known to EC2, or whose read failed.
    pub types_missing: BTreeSet<String>,
    pub types_error: Option<AwsError>,
}

impl Reading {
    /// A cluster about to be planned: its facts, settings and reservation series, nothing else read yet.
    pub fn new(
        facts: ClusterFacts,
        settings: ClusterSettings,
        series: Result<ReservationSeries, AwsError>,
        now: DateTime<Utc>,
        lookback: Duration,
        stale_after: Duration,
    ) -> Self {
        Self {
            facts,
            settings,
            now,
            lookback,
            stale_after,
            series,
            services: None,
            draining: None,
            instances: None,
            tasks: HashMap::new(),
            all_tasks: None,
            task_errors: HashMap::new(),
            definitions: HashMap::new(),
            definition_errors: HashMap::new(),
            groups: None,
            template_types: HashMap::new(),
            template_errors: HashMap::new(),
            types: HashMap::new(),
            types_missing: BTreeSet::new(),
            types_error: None,
        }
    }

    /// A read the adapter refused for lack of API budget, if any: the cluster is deferred, whatever was read.
    pub fn budget_exhausted(&self) -> Option<&AwsError> {
        let errors = [
            self.services.as_ref().and_then(|r| r.as_ref().err()),
            self.draining.as_ref().and_then(|r| r.as_ref().err()),
            self.instances.as_ref().and_then(|r| r.as_ref().err()),
            self.all_tasks.as_ref().and_then(|r| r.as_ref().err()),
            self.groups.as_ref().and_then(|r| r.as_ref().err()),
            self.types_error.as_ref(),
        ];
        errors
            .into_iter()
            .flatten()
            .chain(self.task_errors.values())
            .chain(self.definition_errors.values())
            .chain(self.template_errors.values())
            .find(|e| e.is_budget_exhausted())
    }

    /// Whether every instance's tasks are in `tasks`.
    pub fn has_all_tasks(&self) -> bool {
        matches!(self.all_tasks, Some(Ok(())))
    }

    /// Whether this instance's tasks were read (or failed to be).
    pub fn tasks_read(&self, container_instance_arn: &str) -> bool {
        self.has_all_tasks()
            || self.tasks.contains_key(container_instance_arn)
            || self.task_errors.contains_key(container_instance_arn)
    }

    /// Whether this task definition was read (or failed to be).
    pub fn definition_read(&self, arn: &str) -> bool {
        arn.is_empty() || self.definitions.contains_key(arn) || self.definition_errors.contains_key(arn)
    }

    /// Whether this instance type was asked of EC2.
    pub fn type_read(&self, name: &str) -> bool {
        self.types.contains_key(name) || self.types_missing.contains(name)
    }

    /// Record every task of the cluster, by the instance each runs on (instances without any get none).
    pub fn set_all_tasks(&mut self, tasks: Vec<Task>, instances: &[ContainerInstance]) {
        self.tasks = instances.iter().map(|i| (i.arn.clone(), Vec::new())).collect();
        for task in tasks {
            if let Some(on) = task.container_instance_arn.clone() {
                self.tasks.entry(on).or_default().push(task);
            }
        }
        self.all_tasks = Some(Ok(()));
    }
}
