//! Seeding an AWS emulator with clusters, instances, services, tasks and metrics, the way AWS would have them
//! (feature `seed`). Used by the end-to-end tests, the demo and the benchmark, so a scenario is written once.
//! It lives with the adapters because it speaks the SDK; nothing in the Lambdas uses it.

use aws_config::SdkConfig;
use aws_sdk_autoscaling::types::{
    LaunchTemplate, LaunchTemplateOverrides, LaunchTemplateSpecification, MixedInstancesPolicy, Tag as AsgTag,
};
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat, StandardUnit};
use aws_sdk_ecs::types::{
    AwsVpcConfiguration, ContainerDefinition, DeploymentConfiguration, NetworkConfiguration, NetworkMode,
    PlacementConstraint, PlacementConstraintType, PlacementStrategy, PlacementStrategyType, PortMapping, Resource,
    ResourceRequirement, ResourceType, SchedulingStrategy, SettingName, Tag as EcsTag,
    TaskDefinitionPlacementConstraint, TaskDefinitionPlacementConstraintType, TransportProtocol,
};
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

/// An Auto Scaling group launched from a launch template, as [`Seeder::template_group`] creates it.
#[derive(Debug, Clone)]
pub struct TemplateGroupSpec<'a> {
    pub name: &'a str,
    /// Tagged `ecs-scaler:cluster=<cluster>`.
    pub cluster: &'a str,
    pub size: i32,
    /// The launch template's instance type.
    pub instance_type: &'a str,
    /// A `MixedInstancesPolicy`'s overrides (their `InstanceType`s, in priority order); Auto Scaling launches the
    /// first. Empty: a plain `LaunchTemplate` group.
    pub overrides: &'a [&'a str],
    /// The group's Availability Zones, across which Auto Scaling balances its instances. Empty: `us-east-1a`.
    pub zones: &'a [&'a str],
    pub image_id: &'a str,
    pub hook: Option<HookSpec<'a>>,
}

impl<'a> TemplateGroupSpec<'a> {
    /// `size` instances of `instance_type` in `us-east-1a`, no overrides, no hook.
    pub fn new(name: &'a str, cluster: &'a str, size: i32, instance_type: &'a str) -> Self {
        Self { name, cluster, size, instance_type, overrides: &[], zones: &[], image_id: DEFAULT_AMI, hook: None }
    }
}

/// What the ECS agent of a registering instance reports besides what the emulator derives from its EC2 instance
/// (instance type, zone, AMI, architecture).
#[derive(Debug, Clone, Default)]
pub struct InstanceSpec<'a> {
    /// CPU units and MiB the agent registers (`totalResources`).
    pub cpu: i32,
    pub memory: i32,
    /// GPUs the agent registers (`GPU` ids `GPU-<instance id>-<n>`); 0 for none.
    pub gpus: u32,
    /// Register with a trunk network interface (attribute `ecs.awsvpc-trunk-id`), as ECS does for an instance
    /// of a type that supports ENI trunking when the `awsvpcTrunking` account setting is enabled.
    pub trunk: bool,
    /// Custom attributes.
    pub attributes: &'a [(&'a str, &'a str)],
}

impl InstanceSpec<'_> {
    pub fn new(cpu: i32, memory: i32) -> Self {
        Self { cpu, memory, ..Self::default() }
    }
}

/// A container's port mapping: `host_port` `None` leaves it to ECS (a dynamic port in `bridge` mode, the
/// container port in `host` and `awsvpc` mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortSpec {
    pub container_port: i32,
    pub host_port: Option<i32>,
    pub udp: bool,
}

impl PortSpec {
    pub const fn tcp(container_port: i32, host_port: Option<i32>) -> Self {
        Self { container_port, host_port, udp: false }
    }

    pub const fn udp(container_port: i32, host_port: Option<i32>) -> Self {
        Self { container_port, host_port, udp: true }
    }
}

/// A task definition of one container, as [`Seeder::task_definition_with`] registers it.
#[derive(Debug, Clone)]
pub struct TaskSpec<'a> {
    pub family: &'a str,
    /// The container's `cpu` units and `memoryReservation` MiB.
    pub cpu: i32,
    pub memory: i32,
    /// `None`: ECS's default, `bridge`.
    pub network_mode: Option<NetworkMode>,
    pub ports: &'a [PortSpec],
    /// The container's `resourceRequirements` of type GPU; 0 for none.
    pub gpus: u32,
    /// A `memberOf` placement constraint with this cluster query expression.
    pub member_of: Option<&'a str>,
}

impl<'a> TaskSpec<'a> {
    pub fn new(family: &'a str, cpu: i32, memory: i32) -> Self {
        Self { family, cpu, memory, network_mode: None, ports: &[], gpus: 0, member_of: None }
    }
}

/// The subnets (and security groups) of `awsvpc` tasks.
#[derive(Debug, Clone, Default)]
pub struct AwsVpc<'a> {
    pub subnets: &'a [String],
    pub security_groups: &'a [String],
}

impl AwsVpc<'_> {
    fn configuration(&self) -> Result<NetworkConfiguration, HarnessError> {
        let vpc = AwsVpcConfiguration::builder()
            .set_subnets(Some(self.subnets.to_vec()))
            .set_security_groups((!self.security_groups.is_empty()).then(|| self.security_groups.to_vec()))
            .build()
            .map_err(|e| HarnessError(format!("awsvpc configuration: {e}")))?;
        Ok(NetworkConfiguration::builder().awsvpc_configuration(vpc).build())
    }
}

/// Placement constraints, strategies and network configuration of a service or a RunTask.
#[derive(Debug, Clone, Default)]
pub struct PlacementSpec<'a> {
    /// A `distinctInstance` constraint.
    pub distinct_instance: bool,
    /// A `memberOf` constraint with this cluster query expression.
    pub member_of: Option<&'a str>,
    /// Placement strategies in order: type and field (`None` for `random`).
    pub strategy: &'a [(PlacementStrategyType, Option<&'a str>)],
    /// For `awsvpc` tasks.
    pub awsvpc: Option<AwsVpc<'a>>,
}

impl PlacementSpec<'_> {
    fn constraints(&self) -> Option<Vec<PlacementConstraint>> {
        let mut constraints = Vec::new();
        if self.distinct_instance {
            constraints.push(PlacementConstraint::builder().r#type(PlacementConstraintType::DistinctInstance).build());
        }
        if let Some(expression) = self.member_of {
            constraints.push(
                PlacementConstraint::builder().r#type(PlacementConstraintType::MemberOf).expression(expression).build(),
            );
        }
        (!constraints.is_empty()).then_some(constraints)
    }

    fn strategies(&self) -> Option<Vec<PlacementStrategy>> {
        let strategies = self.strategy.iter().map(|(kind, field)| {
            PlacementStrategy::builder().r#type(kind.clone()).set_field(field.map(str::to_owned)).build()
        });
        (!self.strategy.is_empty()).then(|| strategies.collect())
    }

    fn network(&self) -> Result<Option<NetworkConfiguration>, HarnessError> {
        self.awsvpc.as_ref().map(AwsVpc::configuration).transpose()
    }
}

/// Why ECS did not start a task: the container instance (or the ARN given, for `MISSING`) and ECS's reason, such
/// as `RESOURCE:MEMORY`, `RESOURCE:PORTS`, `RESOURCE:PORTS_UDP`, `RESOURCE:GPU`, `RESOURCE:ENI` or
/// `MemberOf placement constraint unsatisfied`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    pub arn: String,
    pub reason: String,
    pub detail: Option<String>,
}

impl std::fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on {}", self.reason, self.arn)?;
        if let Some(detail) = &self.detail {
            write!(f, " ({detail})")?;
        }
        Ok(())
    }
}

/// What RunTask did: the tasks it started, and the failures ECS reported for the ones it could not place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOutcome {
    pub tasks: Vec<String>,
    pub failures: Vec<TaskFailure>,
}

const DEFAULT_AMI: &str = "ami-0ecsoptimized0";

fn failures(found: &[aws_sdk_ecs::types::Failure]) -> Vec<TaskFailure> {
    found
        .iter()
        .map(|f| TaskFailure {
            arn: f.arn().unwrap_or_default().to_owned(),
            reason: f.reason().unwrap_or_default().to_owned(),
            detail: f.detail().map(str::to_owned),
        })
        .collect()
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
    pub ec2: aws_sdk_ec2::Client,
}

impl Seeder {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            ecs: aws_sdk_ecs::Client::new(sdk),
            autoscaling: aws_sdk_autoscaling::Client::new(sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
            ec2: aws_sdk_ec2::Client::new(sdk),
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
            .image_id(DEFAULT_AMI)
            .instance_type("m5.xlarge")
            .send()
            .await
            .map_err(aws("CreateLaunchConfiguration"))?;
        self.autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(name)
            .launch_configuration_name(&launch_configuration)
            .min_size(0)
            .max_size(size.max(1) * 2)
            .desired_capacity(size)
            .availability_zones("us-east-1a")
            .tags(group_tag(name, ecs_scaler_core::lifecycle::TAG_CLUSTER, cluster))
            .send()
            .await
            .map_err(aws("CreateAutoScalingGroup"))?;
        if let Some(hook) = hook {
            self.hook(name, &hook).await?;
        }
        self.group_instances(name).await
    }

    /// A launch template of `instance_type` (its version 1, the default). Returns its id.
    pub async fn launch_template(
        &self,
        name: &str,
        image_id: &str,
        instance_type: &str,
    ) -> Result<String, HarnessError> {
        let data = aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
            .image_id(image_id)
            .instance_type(aws_sdk_ec2::types::InstanceType::from(instance_type))
            .build();
        let output = self
            .ec2
            .create_launch_template()
            .launch_template_name(name)
            .launch_template_data(data)
            .send()
            .await
            .map_err(aws("CreateLaunchTemplate"))?;
        output
            .launch_template()
            .and_then(|t| t.launch_template_id())
            .map(str::to_owned)
            .ok_or_else(|| HarnessError("CreateLaunchTemplate returned no LaunchTemplateId".into()))
    }

    /// An Auto Scaling group `spec.name` from a launch template `<name>-lt` of `spec.instance_type`, tagged for
    /// `spec.cluster`: with a `MixedInstancesPolicy` when `spec.overrides` name instance types (Auto Scaling
    /// launches the first, as its default `prioritized` strategy does), across `spec.zones`, optionally with a
    /// termination hook. Returns the EC2 instance ids, oldest first.
    pub async fn template_group(&self, spec: &TemplateGroupSpec<'_>) -> Result<Vec<String>, HarnessError> {
        let template = format!("{}-lt", spec.name);
        self.launch_template(&template, spec.image_id, spec.instance_type).await?;
        let template_spec = LaunchTemplateSpecification::builder().launch_template_name(&template).version("$Default");
        let zones: Vec<String> = if spec.zones.is_empty() {
            vec!["us-east-1a".to_owned()]
        } else {
            spec.zones.iter().map(|z| (*z).to_owned()).collect()
        };
        let mut request = self
            .autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(spec.name)
            .min_size(0)
            .max_size(spec.size.max(1) * 2)
            .desired_capacity(spec.size)
            .set_availability_zones(Some(zones))
            .tags(group_tag(spec.name, ecs_scaler_core::lifecycle::TAG_CLUSTER, spec.cluster));
        request = if spec.overrides.is_empty() {
            request.launch_template(template_spec.build())
        } else {
            let overrides =
                spec.overrides.iter().map(|t| LaunchTemplateOverrides::builder().instance_type(*t).build()).collect();
            let template = LaunchTemplate::builder()
                .launch_template_specification(template_spec.build())
                .set_overrides(Some(overrides))
                .build();
            request.mixed_instances_policy(MixedInstancesPolicy::builder().launch_template(template).build())
        };
        request.send().await.map_err(aws("CreateAutoScalingGroup"))?;
        if let Some(hook) = &spec.hook {
            self.hook(spec.name, hook).await?;
        }
        self.group_instances(spec.name).await
    }

    /// Change the instance type a [`Seeder::template_group`] group launches, as an operator would: a new version
    /// of its launch template `<group>-lt` with `instance_type`, made the default (the group launches
    /// `$Default`). The instances it already has keep their type. Returns the new version's number.
    pub async fn retype_group(&self, group: &str, instance_type: &str) -> Result<i64, HarnessError> {
        let template = format!("{group}-lt");
        let data = aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
            .image_id(DEFAULT_AMI)
            .instance_type(aws_sdk_ec2::types::InstanceType::from(instance_type))
            .build();
        let output = self
            .ec2
            .create_launch_template_version()
            .launch_template_name(&template)
            .launch_template_data(data)
            .send()
            .await
            .map_err(aws("CreateLaunchTemplateVersion"))?;
        let version = output
            .launch_template_version()
            .and_then(|v| v.version_number())
            .ok_or_else(|| HarnessError("CreateLaunchTemplateVersion returned no VersionNumber".into()))?;
        self.ec2
            .modify_launch_template()
            .launch_template_name(&template)
            .default_version(version.to_string())
            .send()
            .await
            .map_err(aws("ModifyLaunchTemplate"))?;
        Ok(version)
    }

    /// Give a [`Seeder::template_group`] group a `MixedInstancesPolicy` with these overrides (instance types in
    /// priority order; Auto Scaling launches the first) on its launch template `<group>-lt`, as an operator
    /// adding a type would. The instances it already has keep their type.
    pub async fn set_overrides(&self, group: &str, overrides: &[&str]) -> Result<(), HarnessError> {
        let template = format!("{group}-lt");
        let spec = LaunchTemplateSpecification::builder().launch_template_name(&template).version("$Default").build();
        let overrides =
            overrides.iter().map(|t| LaunchTemplateOverrides::builder().instance_type(*t).build()).collect();
        let template =
            LaunchTemplate::builder().launch_template_specification(spec).set_overrides(Some(overrides)).build();
        self.autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(group)
            .mixed_instances_policy(MixedInstancesPolicy::builder().launch_template(template).build())
            .send()
            .await
            .map_err(aws("UpdateAutoScalingGroup"))?;
        Ok(())
    }

    /// The default subnet of each of `zones` (the default VPC's), for `awsvpc` tasks and services, in that order.
    pub async fn default_subnets(&self, zones: &[&str]) -> Result<Vec<String>, HarnessError> {
        let filter = aws_sdk_ec2::types::Filter::builder().name("default-for-az").values("true").build();
        let output = self.ec2.describe_subnets().filters(filter).send().await.map_err(aws("DescribeSubnets"))?;
        zones
            .iter()
            .map(|zone| {
                output
                    .subnets()
                    .iter()
                    .find(|s| s.availability_zone() == Some(*zone))
                    .and_then(|s| s.subnet_id())
                    .map(str::to_owned)
                    .ok_or_else(|| HarnessError(format!("DescribeSubnets: no default subnet in {zone}")))
            })
            .collect()
    }

    async fn hook(&self, group: &str, hook: &HookSpec<'_>) -> Result<(), HarnessError> {
        self.autoscaling
            .put_lifecycle_hook()
            .auto_scaling_group_name(group)
            .lifecycle_hook_name(hook.name)
            .lifecycle_transition(ecs_scaler_core::lifecycle::TERMINATING)
            .heartbeat_timeout(hook.heartbeat_timeout)
            .default_result("CONTINUE")
            .set_notification_metadata(hook.metadata.map(str::to_owned))
            .send()
            .await
            .map_err(aws("PutLifecycleHook"))?;
        Ok(())
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

    /// Register EC2 instances with a cluster as their agents would: the emulator reads the instance type, zone and
    /// AMI from each EC2 instance; `spec` adds CPU and memory, GPUs, a trunk interface and custom attributes.
    pub async fn register_instances(
        &self,
        cluster: &str,
        ec2_instance_ids: &[String],
        spec: &InstanceSpec<'_>,
    ) -> Result<Vec<SeededInstance>, HarnessError> {
        let trunking_before = if spec.trunk { Some(self.trunking().await?) } else { None };
        if trunking_before == Some(false) {
            self.set_trunking(true).await?;
        }
        let registered = self.register_each(cluster, ec2_instance_ids, spec).await;
        if trunking_before == Some(false) {
            self.set_trunking(false).await?;
        }
        registered
    }

    async fn register_each(
        &self,
        cluster: &str,
        ec2_instance_ids: &[String],
        spec: &InstanceSpec<'_>,
    ) -> Result<Vec<SeededInstance>, HarnessError> {
        let mut registered = Vec::new();
        for id in ec2_instance_ids {
            let document = serde_json::json!({"instanceId": id, "region": "us-east-1", "accountId": "123456789012"});
            let integer =
                |name: &str, value: i32| Resource::builder().name(name).r#type("INTEGER").integer_value(value).build();
            let mut request = self
                .ecs
                .register_container_instance()
                .cluster(cluster)
                .instance_identity_document(document.to_string())
                .total_resources(integer("CPU", spec.cpu))
                .total_resources(integer("MEMORY", spec.memory));
            if spec.gpus > 0 {
                let ids = (0..spec.gpus).map(|n| format!("GPU-{id}-{n}")).collect();
                let gpus = Resource::builder().name("GPU").r#type("STRINGSET").set_string_set_value(Some(ids)).build();
                request = request.total_resources(gpus);
            }
            for (name, value) in spec.attributes {
                let attribute = aws_sdk_ecs::types::Attribute::builder()
                    .name(*name)
                    .value(*value)
                    .build()
                    .map_err(|e| HarnessError(format!("attribute {name}: {e}")))?;
                request = request.attributes(attribute);
            }
            let output = request.send().await.map_err(aws("RegisterContainerInstance"))?;
            let arn = output
                .container_instance()
                .and_then(|ci| ci.container_instance_arn())
                .ok_or_else(|| HarnessError("RegisterContainerInstance returned no ARN".into()))?;
            registered.push(SeededInstance { ec2_instance_id: id.clone(), container_instance_arn: arn.to_owned() });
        }
        Ok(registered)
    }

    /// Whether the account's `awsvpcTrunking` setting is enabled.
    async fn trunking(&self) -> Result<bool, HarnessError> {
        let output = self
            .ecs
            .list_account_settings()
            .name(SettingName::AwsvpcTrunking)
            .effective_settings(true)
            .send()
            .await
            .map_err(aws("ListAccountSettings"))?;
        Ok(output.settings().iter().any(|s| s.value() == Some("enabled")))
    }

    async fn set_trunking(&self, enabled: bool) -> Result<(), HarnessError> {
        self.ecs
            .put_account_setting_default()
            .name(SettingName::AwsvpcTrunking)
            .value(if enabled { "enabled" } else { "disabled" })
            .send()
            .await
            .map_err(aws("PutAccountSettingDefault"))?;
        Ok(())
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

    /// A task definition of one container as `spec` describes it: network mode, port mappings, GPUs and a
    /// `memberOf` constraint. Returns its ARN.
    pub async fn task_definition_with(&self, spec: &TaskSpec<'_>) -> Result<String, HarnessError> {
        let ports = spec.ports.iter().map(|p| {
            PortMapping::builder()
                .container_port(p.container_port)
                .set_host_port(p.host_port)
                .protocol(if p.udp { TransportProtocol::Udp } else { TransportProtocol::Tcp })
                .build()
        });
        let mut container = ContainerDefinition::builder()
            .name("app")
            .image("public.ecr.aws/nginx/nginx")
            .cpu(spec.cpu)
            .memory_reservation(spec.memory)
            .set_port_mappings((!spec.ports.is_empty()).then(|| ports.collect()));
        if spec.gpus > 0 {
            let gpus = ResourceRequirement::builder()
                .r#type(ResourceType::Gpu)
                .value(spec.gpus.to_string())
                .build()
                .map_err(|e| HarnessError(format!("GPU requirement: {e}")))?;
            container = container.resource_requirements(gpus);
        }
        let constraint = spec.member_of.map(|expression| {
            TaskDefinitionPlacementConstraint::builder()
                .r#type(TaskDefinitionPlacementConstraintType::MemberOf)
                .expression(expression)
                .build()
        });
        let output = self
            .ecs
            .register_task_definition()
            .family(spec.family)
            .container_definitions(container.build())
            .set_network_mode(spec.network_mode.clone())
            .set_placement_constraints(constraint.map(|c| vec![c]))
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
        self.placed_service(cluster, task_definition, spec, &PlacementSpec::default()).await
    }

    /// A service with placement constraints, strategies and an `awsvpc` network configuration.
    pub async fn placed_service(
        &self,
        cluster: &str,
        task_definition: &str,
        spec: &ServiceSpec<'_>,
        placement: &PlacementSpec<'_>,
    ) -> Result<(), HarnessError> {
        let tags = spec.tags.iter().map(|(k, v)| EcsTag::builder().key(*k).value(*v).build()).collect();
        let mut request = self
            .ecs
            .create_service()
            .cluster(cluster)
            .service_name(spec.name)
            .task_definition(task_definition)
            .set_tags(Some(tags))
            .set_placement_constraints(placement.constraints())
            .set_placement_strategy(placement.strategies())
            .set_network_configuration(placement.network()?);
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

    /// Start a task on one container instance; `group` is `service:<name>` for a service's task. Returns its ARN;
    /// a task that does not fit is an error naming ECS's reason (`StartTask: RESOURCE:MEMORY on <arn>`).
    pub async fn start_task(
        &self,
        cluster: &str,
        task_definition: &str,
        container_instance_arn: &str,
        group: Option<&str>,
    ) -> Result<String, HarnessError> {
        self.start_task_in(cluster, task_definition, container_instance_arn, group, None).await
    }

    /// [`Seeder::start_task`] with the subnets of an `awsvpc` task.
    pub async fn start_task_in(
        &self,
        cluster: &str,
        task_definition: &str,
        container_instance_arn: &str,
        group: Option<&str>,
        awsvpc: Option<&AwsVpc<'_>>,
    ) -> Result<String, HarnessError> {
        self.try_start_task(cluster, task_definition, container_instance_arn, group, awsvpc)
            .await?
            .map_err(|failure| HarnessError(format!("StartTask: {failure}")))
    }

    /// Start a task on one container instance as [`Seeder::start_task_in`] does, but return ECS's failure when it
    /// does not fit rather than an error: `Ok(Ok(task ARN))` or `Ok(Err(failure))`.
    pub async fn try_start_task(
        &self,
        cluster: &str,
        task_definition: &str,
        container_instance_arn: &str,
        group: Option<&str>,
        awsvpc: Option<&AwsVpc<'_>>,
    ) -> Result<Result<String, TaskFailure>, HarnessError> {
        let started_by = group.and_then(|g| g.strip_prefix("service:")).map(|_| "ecs-svc/1234567890123456789");
        let network = awsvpc.map(AwsVpc::configuration).transpose()?;
        let output = self
            .ecs
            .start_task()
            .cluster(cluster)
            .task_definition(task_definition)
            .container_instances(container_instance_arn)
            .set_group(group.map(str::to_owned))
            .set_started_by(started_by.map(str::to_owned))
            .set_network_configuration(network)
            .send()
            .await
            .map_err(aws("StartTask"))?;
        if let Some(task) = output.tasks().first().and_then(|t| t.task_arn()) {
            return Ok(Ok(task.to_owned()));
        }
        failures(output.failures())
            .into_iter()
            .next()
            .map(Err)
            .ok_or_else(|| HarnessError("StartTask started no task and reported no failure".into()))
    }

    /// RunTask: ECS places `count` tasks itself (the task definition's `memberOf`, `placement`'s constraints and
    /// strategies, by default random). The tasks it started and the failures it reported for the rest.
    pub async fn run_task(
        &self,
        cluster: &str,
        task_definition: &str,
        count: i32,
        group: Option<&str>,
        placement: &PlacementSpec<'_>,
    ) -> Result<RunOutcome, HarnessError> {
        let output = self
            .ecs
            .run_task()
            .cluster(cluster)
            .task_definition(task_definition)
            .count(count)
            .set_group(group.map(str::to_owned))
            .set_placement_constraints(placement.constraints())
            .set_placement_strategy(placement.strategies())
            .set_network_configuration(placement.network()?)
            .send()
            .await
            .map_err(aws("RunTask"))?;
        Ok(RunOutcome {
            tasks: output.tasks().iter().filter_map(|t| t.task_arn().map(str::to_owned)).collect(),
            failures: failures(output.failures()),
        })
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

fn group_tag(group: &str, key: &str, value: &str) -> AsgTag {
    AsgTag::builder()
        .key(key)
        .value(value)
        .propagate_at_launch(true)
        .resource_id(group)
        .resource_type("auto-scaling-group")
        .build()
}
