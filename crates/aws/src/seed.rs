//! Seeding an AWS emulator with clusters, instances, services, tasks and metrics, the way AWS would have them
//! (feature `seed`). Used by the end-to-end tests, the demo and the benchmark, so a scenario is written once.
//! It lives with the adapters because it speaks the SDK; nothing in the Lambdas uses it.

use aws_config::SdkConfig;
use aws_sdk_autoscaling::types::Tag as AsgTag;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat, StandardUnit};
use aws_sdk_ecs::types::{ContainerDefinition, DeploymentConfiguration, Resource, SchedulingStrategy, Tag as EcsTag};
use chrono::{DateTime, Utc};

/// Why seeding could not do what a test asked.
#[derive(Debug, thiserror::Error)]
#[error("seeding the emulator: {0}")]
pub struct HarnessError(String);

/// SDK configuration pointing at an emulator, with the production retry and timeout policy and made-up
/// credentials (the emulator checks none).
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ecs::config::Credentials::new("AKIDEMULATOR", "secret", None, None, "emulator"))
        .retry_config(crate::retry_config())
        .timeout_config(crate::timeout_config())
        .load()
        .await
}

/// One EC2 instance of a seeded group, registered with ECS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeededInstance {
    pub ec2_instance_id: String,
    pub container_instance_arn: String,
}

/// A service to create.
#[derive(Debug, Clone)]
pub struct ServiceSpec<'a> {
    pub name: &'a str,
    pub desired: i32,
    pub min_healthy_percent: i32,
    pub daemon: bool,
    pub tags: &'a [(&'a str, &'a str)],
}

impl<'a> ServiceSpec<'a> {
    pub fn replica(name: &'a str, desired: i32, min_healthy_percent: i32) -> Self {
        Self { name, desired, min_healthy_percent, daemon: false, tags: &[] }
    }

    pub fn daemon(name: &'a str) -> Self {
        Self { name, desired: 0, min_healthy_percent: 0, daemon: true, tags: &[] }
    }
}

/// The termination hook to put on a seeded group.
#[derive(Debug, Clone)]
pub struct HookSpec<'a> {
    pub name: &'a str,
    pub heartbeat_timeout: i32,
    pub metadata: Option<&'a str>,
}

fn aws<E: std::error::Error>(operation: &str) -> impl FnOnce(E) -> HarnessError + '_ {
    move |e| HarnessError(format!("{operation}: {}", aws_sdk_ecs::error::DisplayErrorContext(e)))
}

/// SDK clients for seeding and reading back.
#[derive(Debug, Clone)]
pub struct Seeder {
    pub ecs: aws_sdk_ecs::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
}

impl Seeder {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            ecs: aws_sdk_ecs::Client::new(sdk),
            autoscaling: aws_sdk_autoscaling::Client::new(sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
        }
    }

    pub async fn cluster(&self, name: &str, tags: &[(&str, &str)]) -> Result<(), HarnessError> {
        let tags = tags.iter().map(|(k, v)| EcsTag::builder().key(*k).value(*v).build()).collect();
        self.ecs.create_cluster().cluster_name(name).set_tags(Some(tags)).send().await.map_err(aws("CreateCluster"))?;
        Ok(())
    }

    /// An Auto Scaling group of `size` instances tagged for `cluster`, optionally with a termination hook.
    /// Returns the EC2 instance ids, oldest first.
    pub async fn group(
        &self,
        name: &str,
        cluster: &str,
        size: i32,
        hook: Option<HookSpec<'_>>,
    ) -> Result<Vec<String>, HarnessError> {
        let launch_configuration = format!("{name}-lc");
        self.autoscaling
            .create_launch_configuration()
            .launch_configuration_name(&launch_configuration)
            .image_id("ami-0ecsoptimized0")
            .instance_type("m5.xlarge")
            .send()
            .await
            .map_err(aws("CreateLaunchConfiguration"))?;
        let tag = |key: &str, value: &str| {
            AsgTag::builder()
                .key(key)
                .value(value)
                .propagate_at_launch(true)
                .resource_id(name)
                .resource_type("auto-scaling-group")
                .build()
        };
        self.autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(name)
            .launch_configuration_name(&launch_configuration)
            .min_size(0)
            .max_size(size.max(1) * 2)
            .desired_capacity(size)
            .availability_zones("us-east-1a")
            .tags(tag(ecs_scaler_core::lifecycle::TAG_CLUSTER, cluster))
            .send()
            .await
            .map_err(aws("CreateAutoScalingGroup"))?;
        if let Some(hook) = hook {
            self.autoscaling
                .put_lifecycle_hook()
                .auto_scaling_group_name(name)
                .lifecycle_hook_name(hook.name)
                .lifecycle_transition(ecs_scaler_core::lifecycle::TERMINATING)
                .heartbeat_timeout(hook.heartbeat_timeout)
                .default_result("CONTINUE")
                .set_notification_metadata(hook.metadata.map(str::to_owned))
                .send()
                .await
                .map_err(aws("PutLifecycleHook"))?;
        }
        self.group_instances(name).await
    }

    /// The group's shortfall step policy, as the blue-green module creates it: the core's step table, this
    /// warm-up, and the tag that names the policy to scale-status. Returns the policy name.
    pub async fn shortfall_policy(&self, group: &str, warmup_seconds: i32) -> Result<String, HarnessError> {
        use aws_sdk_autoscaling::types::StepAdjustment;
        use ecs_scaler_core::scale::capacity::SHORTFALL_STEPS;
        use ecs_scaler_core::scale::tick::TAG_SHORTFALL_POLICY;
        let name = format!("{group}-shortfall");
        let steps = SHORTFALL_STEPS.iter().map(|(lower, upper, add)| {
            StepAdjustment::builder()
                .metric_interval_lower_bound(*lower)
                .set_metric_interval_upper_bound(*upper)
                .scaling_adjustment(i32::try_from(*add).unwrap_or(i32::MAX))
                .build()
        });
        let steps: Vec<StepAdjustment> = steps.collect();
        self.autoscaling
            .put_scaling_policy()
            .auto_scaling_group_name(group)
            .policy_name(&name)
            .policy_type("StepScaling")
            .adjustment_type("ChangeInCapacity")
            .metric_aggregation_type("Maximum")
            .estimated_instance_warmup(warmup_seconds)
            .set_step_adjustments(Some(steps))
            .send()
            .await
            .map_err(aws("PutScalingPolicy"))?;
        let tag = AsgTag::builder()
            .key(TAG_SHORTFALL_POLICY)
            .value(&name)
            .propagate_at_launch(false)
            .resource_id(group)
            .resource_type("auto-scaling-group")
            .build();
        self.autoscaling.create_or_update_tags().tags(tag).send().await.map_err(aws("CreateOrUpdateTags"))?;
        Ok(name)
    }

    /// The EC2 instance ids of a group, oldest first.
    pub async fn group_instances(&self, name: &str) -> Result<Vec<String>, HarnessError> {
        let groups = self
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .map_err(aws("DescribeAutoScalingGroups"))?;
        Ok(groups
            .auto_scaling_groups()
            .iter()
            .flat_map(|g| g.instances())
            .filter_map(|i| i.instance_id().map(str::to_owned))
            .collect())
    }

    /// The scale-status tests' standard cluster: an ECS cluster with `tags`, a group `<name>-asg` of `instances`
    /// m5.xlarge-sized instances registered with it, a task running on the first (a cluster without tasks is
    /// idle; see [`Seeder::idle_cluster`]) and, if given, one CPU and memory reservation datapoint at `at`.
    /// CloudWatch's EndTime is exclusive (to the second), so a datapoint meant to be fresh should be a little in
    /// the past, as ECS's own are.
    pub async fn scaled_cluster(
        &self,
        name: &str,
        tags: &[(&str, &str)],
        instances: i32,
        reservations: Option<(f64, f64)>,
        at: DateTime<Utc>,
    ) -> Result<Vec<SeededInstance>, HarnessError> {
        let registered = self.idle_cluster(name, tags, instances).await?;
        if let Some(first) = registered.first() {
            let definition = self.task_definition(&format!("{name}-load"), 256, 512).await?;
            self.start_task(name, &definition, &first.container_instance_arn, None).await?;
        }
        if let Some((cpu, memory)) = reservations {
            self.reservations(name, cpu, memory, at).await?;
        }
        Ok(registered)
    }

    /// An ECS cluster with `tags` and a group `<name>-asg` of `instances` m5.xlarge-sized instances registered
    /// with it, running nothing.
    pub async fn idle_cluster(
        &self,
        name: &str,
        tags: &[(&str, &str)],
        instances: i32,
    ) -> Result<Vec<SeededInstance>, HarnessError> {
        self.cluster(name, tags).await?;
        let ids = self.group(&format!("{name}-asg"), name, instances, None).await?;
        self.register(name, &ids, 4096, 16384).await
    }

    /// Register EC2 instances with a cluster, each offering `cpu` units and `memory` MiB.
    pub async fn register(
        &self,
        cluster: &str,
        ec2_instance_ids: &[String],
        cpu: i32,
        memory: i32,
    ) -> Result<Vec<SeededInstance>, HarnessError> {
        let mut registered = Vec::new();
        for id in ec2_instance_ids {
            let document = serde_json::json!({
                "instanceId": id, "region": "us-east-1", "availabilityZone": "us-east-1a",
                "instanceType": "m5.xlarge", "imageId": "ami-0ecsoptimized0", "accountId": "123456789012",
            });
            let resource =
                |name: &str, value: i32| Resource::builder().name(name).r#type("INTEGER").integer_value(value).build();
            let output = self
                .ecs
                .register_container_instance()
                .cluster(cluster)
                .instance_identity_document(document.to_string())
                .total_resources(resource("CPU", cpu))
                .total_resources(resource("MEMORY", memory))
                .send()
                .await
                .map_err(aws("RegisterContainerInstance"))?;
            let arn = output
                .container_instance()
                .and_then(|ci| ci.container_instance_arn())
                .ok_or_else(|| HarnessError("RegisterContainerInstance returned no ARN".into()))?;
            registered.push(SeededInstance { ec2_instance_id: id.clone(), container_instance_arn: arn.to_owned() });
        }
        Ok(registered)
    }

    /// A task definition of one container reserving `cpu` units and `memory` MiB. Returns its ARN.
    pub async fn task_definition(&self, family: &str, cpu: i32, memory: i32) -> Result<String, HarnessError> {
        let container = ContainerDefinition::builder()
            .name("app")
            .image("public.ecr.aws/nginx/nginx")
            .cpu(cpu)
            .memory_reservation(memory)
            .build();
        let output = self
            .ecs
            .register_task_definition()
            .family(family)
            .container_definitions(container)
            .send()
            .await
            .map_err(aws("RegisterTaskDefinition"))?;
        output
            .task_definition()
            .and_then(|td| td.task_definition_arn())
            .map(str::to_owned)
            .ok_or_else(|| HarnessError("RegisterTaskDefinition returned no ARN".into()))
    }

    pub async fn service(
        &self,
        cluster: &str,
        task_definition: &str,
        spec: &ServiceSpec<'_>,
    ) -> Result<(), HarnessError> {
        let tags = spec.tags.iter().map(|(k, v)| EcsTag::builder().key(*k).value(*v).build()).collect();
        let mut request = self
            .ecs
            .create_service()
            .cluster(cluster)
            .service_name(spec.name)
            .task_definition(task_definition)
            .set_tags(Some(tags));
        request = if spec.daemon {
            request.scheduling_strategy(SchedulingStrategy::Daemon)
        } else {
            let deployment = DeploymentConfiguration::builder()
                .minimum_healthy_percent(spec.min_healthy_percent)
                .maximum_percent(200)
                .build();
            request
                .scheduling_strategy(SchedulingStrategy::Replica)
                .desired_count(spec.desired)
                .deployment_configuration(deployment)
        };
        request.send().await.map_err(aws("CreateService"))?;
        Ok(())
    }

    /// Start a task on one container instance; `group` is `service:<name>` for a service's task. Returns its ARN.
    pub async fn start_task(
        &self,
        cluster: &str,
        task_definition: &str,
        container_instance_arn: &str,
        group: Option<&str>,
    ) -> Result<String, HarnessError> {
        let started_by = group.and_then(|g| g.strip_prefix("service:")).map(|_| "ecs-svc/1234567890123456789");
        let output = self
            .ecs
            .start_task()
            .cluster(cluster)
            .task_definition(task_definition)
            .container_instances(container_instance_arn)
            .set_group(group.map(str::to_owned))
            .set_started_by(started_by.map(str::to_owned))
            .send()
            .await
            .map_err(aws("StartTask"))?;
        output
            .tasks()
            .first()
            .and_then(|t| t.task_arn())
            .map(str::to_owned)
            .ok_or_else(|| HarnessError("StartTask started no task".into()))
    }

    /// Set container instances DRAINING, as an operator or a Spot interruption would.
    pub async fn set_draining(&self, cluster: &str, container_instance_arns: &[String]) -> Result<(), HarnessError> {
        self.ecs
            .update_container_instances_state()
            .cluster(cluster)
            .set_container_instances(Some(container_instance_arns.to_vec()))
            .status(aws_sdk_ecs::types::ContainerInstanceStatus::Draining)
            .send()
            .await
            .map_err(aws("UpdateContainerInstancesState"))?;
        Ok(())
    }

    pub async fn stop_task(&self, cluster: &str, task: &str) -> Result<(), HarnessError> {
        self.ecs.stop_task().cluster(cluster).task(task).send().await.map_err(aws("StopTask"))?;
        Ok(())
    }

    /// One `AWS/ECS` CPUReservation and MemoryReservation datapoint for `cluster` at `at`.
    pub async fn reservations(
        &self,
        cluster: &str,
        cpu: f64,
        memory: f64,
        at: DateTime<Utc>,
    ) -> Result<(), HarnessError> {
        let datum = |name: &str, value: f64| {
            MetricDatum::builder()
                .metric_name(name)
                .dimensions(Dimension::builder().name("ClusterName").value(cluster).build())
                .value(value)
                .unit(StandardUnit::Percent)
                .timestamp(aws_smithy_types::DateTime::from_secs(at.timestamp()))
                .build()
        };
        self.cloudwatch
            .put_metric_data()
            .namespace("AWS/ECS")
            .metric_data(datum("CPUReservation", cpu))
            .metric_data(datum("MemoryReservation", memory))
            .send()
            .await
            .map_err(aws("PutMetricData"))?;
        Ok(())
    }

    /// The values of a metric with dimension `ClusterName=cluster` (Maximum per minute), oldest first.
    pub async fn cluster_metric(
        &self,
        namespace: &str,
        metric: &str,
        cluster: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<f64>, HarnessError> {
        let metric = Metric::builder()
            .namespace(namespace)
            .metric_name(metric)
            .dimensions(Dimension::builder().name("ClusterName").value(cluster).build())
            .build();
        let query = MetricDataQuery::builder()
            .id("m")
            .metric_stat(MetricStat::builder().metric(metric).period(60).stat("Maximum").build())
            .build();
        let output = self
            .cloudwatch
            .get_metric_data()
            .metric_data_queries(query)
            .start_time(aws_smithy_types::DateTime::from_secs(start.timestamp()))
            .end_time(aws_smithy_types::DateTime::from_secs(end.timestamp()))
            .scan_by(aws_sdk_cloudwatch::types::ScanBy::TimestampAscending)
            .send()
            .await
            .map_err(aws("GetMetricData"))?;
        Ok(output.metric_data_results().iter().flat_map(|r| r.values().iter().copied()).collect())
    }
}
