//! ECS: every read is a paginated List followed by batched Describes, so calls grow with pages, not with
//! services or tasks.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{
    Attribute, ClusterField, ContainerInstanceStatus, DesiredStatus, HealthStatus, SchedulingStrategy, ServiceField,
    TargetType,
};
use ecs_scaler_core::{
    ClusterFacts, ContainerInstance, ContainerSize, HostPorts, PlacementConstraint, PortMapping, Protocol, Resources,
    Scheduling, Service, ServiceEvent, Task, TaskDefinition, TaskHealth,
};
use futures::{StreamExt, TryStreamExt};

use ecs_scaler_core::ports::{AwsError, EcsApi, MissingCluster};

use crate::sdk_error;

// The batch sizes, page sizes and concurrency are the core's cost model (`ports::cost`): the simulator and the
// benchmark count calls by the same numbers.
use ecs_scaler_core::ports::cost::{
    CONCURRENT_DESCRIBES, DESCRIBE_BATCH, DESCRIBE_SERVICES_BATCH, LIST_PAGE, UPDATE_STATE_BATCH,
};

/// The List calls' page size (their `maxResults`).
const LIST_PAGE_SIZE: i32 = LIST_PAGE as i32;

#[derive(Debug, Clone)]
pub struct Ecs {
    client: Client,
}

impl Ecs {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Build the client from the shared SDK configuration (see [`crate::load_sdk_config`]), unmetered.
    pub fn from_conf(sdk: &aws_config::SdkConfig) -> Self {
        Self::new(Client::new(sdk))
    }

    /// Build the client with every call metered by `budget` (see [`crate::budget`]): what the Lambdas use.
    pub fn metered(sdk: &aws_config::SdkConfig, budget: &std::sync::Arc<crate::budget::Budget>) -> Self {
        let inner = sdk.http_client().unwrap_or_else(crate::budget::default_https_client);
        let config = aws_sdk_ecs::config::Builder::from(sdk).http_client(budget.meter(inner));
        Self::new(Client::from_conf(config.build()))
    }
}

/// Run `describe` over `names` in batches of `size`, a few at a time, and flatten the results in order.
/// Batches are passed by value: borrowed ones trip the compiler's `Send` inference for async closures.
async fn in_batches<T, F, Fut>(names: &[String], size: usize, describe: F) -> Result<Vec<T>, AwsError>
where
    F: Fn(Vec<String>) -> Fut,
    Fut: Future<Output = Result<Vec<T>, AwsError>>,
{
    let requests = names.chunks(size).map(<[String]>::to_vec).map(describe);
    let batches: Vec<Vec<T>> = futures::stream::iter(requests).buffered(CONCURRENT_DESCRIBES).try_collect().await?;
    Ok(batches.into_iter().flatten().collect())
}

fn required<'a>(value: Option<&'a str>, operation: &'static str, what: &str) -> Result<&'a str, AwsError> {
    value.ok_or_else(|| AwsError::malformed(operation, format!("response has no {what}")))
}

/// Describe calls answer names they could not describe as failures. MISSING means the thing is gone (a
/// service deleted or a container instance deregistered between the List and the Describe), which a snapshot
/// may leave out; any other reason means part of the snapshot is unknown, and a partial snapshot could release
/// an instance early, so it is an error.
fn check_failures(operation: &'static str, failures: &[aws_sdk_ecs::types::Failure]) -> Result<(), AwsError> {
    match failures.iter().find(|f| f.reason() != Some("MISSING")) {
        None => Ok(()),
        Some(failure) => {
            let message = format!(
                "{}: {} {}",
                failure.arn().unwrap_or("a resource"),
                failure.reason().unwrap_or("failed"),
                failure.detail().unwrap_or_default()
            );
            Err(AwsError::malformed(operation, message.trim_end()))
        }
    }
}

/// The cluster query `ec2InstanceId == <id>`. Instance IDs are `i-` and letters or digits; anything else could
/// change what the filter expression means, so it is refused before any call.
fn ec2_instance_filter(operation: &'static str, ec2_instance_id: &str) -> Result<String, AwsError> {
    let valid = ec2_instance_id
        .strip_prefix("i-")
        .is_some_and(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()));
    if !valid {
        return Err(AwsError::malformed(operation, format!("{ec2_instance_id:?} is not an EC2 instance ID")));
    }
    Ok(format!("ec2InstanceId == {ec2_instance_id}"))
}

fn tag_map(tags: &[aws_sdk_ecs::types::Tag]) -> HashMap<String, String> {
    tags.iter().filter_map(|tag| Some((tag.key()?.to_owned(), tag.value().unwrap_or_default().to_owned()))).collect()
}

impl EcsApi for Ecs {
    async fn cluster_arns(&self) -> Result<Vec<String>, AwsError> {
        self.client
            .list_clusters()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| sdk_error("ListClusters", e))
    }

    async fn describe_clusters(&self, names: &[String]) -> Result<(Vec<ClusterFacts>, Vec<MissingCluster>), AwsError> {
        let outputs = in_batches(names, DESCRIBE_BATCH, |batch| async move {
            let output = self
                .client
                .describe_clusters()
                .set_clusters(Some(batch))
                .include(ClusterField::Tags)
                .send()
                .await
                .map_err(|e| sdk_error("DescribeClusters", e))?;
            Ok(vec![output])
        })
        .await?;
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for output in outputs {
            for cluster in output.clusters() {
                found.push(ClusterFacts {
                    name: required(cluster.cluster_name(), "DescribeClusters", "clusterName")?.to_owned(),
                    arn: cluster.cluster_arn().unwrap_or_default().to_owned(),
                    status: cluster.status().unwrap_or("UNKNOWN").to_owned(),
                    registered_instances: u32::try_from(cluster.registered_container_instances_count()).unwrap_or(0),
                    running_tasks: u32::try_from(cluster.running_tasks_count()).unwrap_or(0),
                    pending_tasks: u32::try_from(cluster.pending_tasks_count()).unwrap_or(0),
                    active_services: u32::try_from(cluster.active_services_count()).unwrap_or(0),
                    tags: tag_map(cluster.tags()),
                });
            }
            for failure in output.failures() {
                let name = failure.arn().map(ecs_scaler_core::arn::cluster_name).unwrap_or_default().to_owned();
                let reason = [failure.reason(), failure.detail()].into_iter().flatten().collect::<Vec<_>>().join(": ");
                missing.push(MissingCluster { name, reason });
            }
        }
        Ok((found, missing))
    }

    async fn services(&self, cluster: &str) -> Result<Vec<Service>, AwsError> {
        let arns: Vec<String> = self
            .client
            .list_services()
            .cluster(cluster)
            .max_results(LIST_PAGE_SIZE)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| sdk_error("ListServices", e))?;
        in_batches(&arns, DESCRIBE_SERVICES_BATCH, |batch| async move {
            let output = self
                .client
                .describe_services()
                .cluster(cluster)
                .set_services(Some(batch))
                .include(ServiceField::Tags)
                .send()
                .await
                .map_err(|e| sdk_error("DescribeServices", e))?;
            check_failures("DescribeServices", output.failures())?;
            output.services().iter().map(service).collect()
        })
        .await
    }

    async fn tasks(&self, cluster: &str) -> Result<Vec<Task>, AwsError> {
        self.list_tasks(cluster, None, DesiredStatus::Running).await
    }

    async fn tasks_on(&self, cluster: &str, container_instance_arn: &str) -> Result<Vec<Task>, AwsError> {
        self.list_tasks(cluster, Some(container_instance_arn), DesiredStatus::Running).await
    }

    async fn stopped_tasks(&self, cluster: &str, container_instance_arn: &str) -> Result<Vec<Task>, AwsError> {
        self.list_tasks(cluster, Some(container_instance_arn), DesiredStatus::Stopped).await
    }

    async fn container_instances_of(
        &self,
        cluster: &str,
        ec2_instance_ids: &[String],
    ) -> Result<Vec<ContainerInstance>, AwsError> {
        const OPERATION: &str = "ListContainerInstances";
        let mut found = Vec::new();
        for id in ec2_instance_ids {
            let filter = ec2_instance_filter(OPERATION, id)?;
            let arns: Vec<String> = self
                .client
                .list_container_instances()
                .cluster(cluster)
                .filter(filter)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| sdk_error(OPERATION, e))?;
            found.extend(arns.into_iter().map(|arn| ContainerInstance {
                arn,
                ec2_instance_id: Some(id.clone()),
                status: ecs_scaler_core::drain::UNKNOWN_STATUS.to_owned(),
                attributes: HashMap::new(),
                ..ContainerInstance::default()
            }));
        }
        Ok(found)
    }

    async fn container_instances(&self, cluster: &str) -> Result<Vec<ContainerInstance>, AwsError> {
        let arns: Vec<String> = self
            .client
            .list_container_instances()
            .cluster(cluster)
            .max_results(LIST_PAGE_SIZE)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| sdk_error("ListContainerInstances", e))?;
        in_batches(&arns, DESCRIBE_BATCH, |batch| async move {
            let output = self
                .client
                .describe_container_instances()
                .cluster(cluster)
                .set_container_instances(Some(batch))
                .send()
                .await
                .map_err(|e| sdk_error("DescribeContainerInstances", e))?;
            check_failures("DescribeContainerInstances", output.failures())?;
            output.container_instances().iter().map(|ci| container_instance(ci, "DescribeContainerInstances")).collect()
        })
        .await
    }

    async fn draining_instances(&self, cluster: &str) -> Result<Option<u32>, AwsError> {
        let page = self
            .client
            .list_container_instances()
            .cluster(cluster)
            .status(ContainerInstanceStatus::Draining)
            .max_results(LIST_PAGE_SIZE)
            .send()
            .await
            .map_err(|e| sdk_error("ListContainerInstances", e))?;
        let count = u32::try_from(page.container_instance_arns().len()).unwrap_or(u32::MAX);
        Ok(page.next_token().is_none().then_some(count))
    }

    async fn task_definition(&self, arn: &str) -> Result<TaskDefinition, AwsError> {
        const OPERATION: &str = "DescribeTaskDefinition";
        let output = self
            .client
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await
            .map_err(|e| sdk_error(OPERATION, e))?;
        let definition = output.task_definition().ok_or_else(|| AwsError::malformed(OPERATION, "no taskDefinition"))?;
        let size = |value: Option<i32>| value.and_then(|v| u32::try_from(v).ok());
        let port = |value: Option<i32>| value.and_then(|v| u16::try_from(v).ok());
        let containers = definition.container_definitions().iter().map(|c| {
            let gpus = c
                .resource_requirements()
                .iter()
                .filter(|r| r.r#type() == &aws_sdk_ecs::types::ResourceType::Gpu)
                .map(|r| gpu_count(r.value()))
                .collect::<Result<Vec<u32>, String>>()
                .map_err(|why| AwsError::malformed(OPERATION, format!("{arn}: {why}")))?;
            Ok(ContainerSize {
                cpu: u32::try_from(c.cpu()).unwrap_or(0),
                memory: size(c.memory()),
                memory_reservation: size(c.memory_reservation()),
                port_mappings: c
                    .port_mappings()
                    .iter()
                    .map(|m| PortMapping {
                        container_port: port(m.container_port()),
                        host_port: port(m.host_port()),
                        protocol: match m.protocol() {
                            Some(aws_sdk_ecs::types::TransportProtocol::Udp) => Protocol::Udp,
                            _ => Protocol::Tcp,
                        },
                    })
                    .collect(),
                gpus: gpus.iter().sum(),
            })
        });
        Ok(TaskDefinition {
            arn: definition.task_definition_arn().unwrap_or(arn).to_owned(),
            cpu: definition.cpu().map(str::to_owned),
            memory: definition.memory().map(str::to_owned),
            containers: containers.collect::<Result<_, AwsError>>()?,
            network_mode: definition.network_mode().map(|m| m.as_str().to_owned()),
            placement_constraints: definition
                .placement_constraints()
                .iter()
                .map(|c| constraint(c.r#type().map(|t| t.as_str()), c.expression()))
                .collect(),
        })
    }

    async fn clusters_with_instance(&self, ec2_instance_id: &str) -> Result<Vec<String>, AwsError> {
        const OPERATION: &str = "ListContainerInstances";
        let filter = ec2_instance_filter(OPERATION, ec2_instance_id)?;
        let clusters = self.cluster_arns().await?;
        let lookups = clusters.into_iter().map(|arn| {
            let filter = filter.clone();
            async move {
                let found: Vec<String> = self
                    .client
                    .list_container_instances()
                    .cluster(arn.as_str())
                    .filter(filter)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| sdk_error(OPERATION, e))?;
                let name = ecs_scaler_core::arn::cluster_name(&arn).to_owned();
                Ok::<_, AwsError>((!found.is_empty()).then_some(name))
            }
        });
        let found: Vec<Option<String>> =
            futures::stream::iter(lookups).buffered(CONCURRENT_DESCRIBES).try_collect().await?;
        Ok(found.into_iter().flatten().collect())
    }

    async fn drain(
        &self,
        cluster: &str,
        container_instance_arns: &[String],
    ) -> Result<Vec<ContainerInstance>, AwsError> {
        const OPERATION: &str = "UpdateContainerInstancesState";
        in_batches(container_instance_arns, UPDATE_STATE_BATCH, |batch| async move {
            let output = self
                .client
                .update_container_instances_state()
                .cluster(cluster)
                .set_container_instances(Some(batch))
                .status(ContainerInstanceStatus::Draining)
                .send()
                .await
                .map_err(|e| sdk_error(OPERATION, e))?;
            if let Some(failure) = output.failures().first() {
                let message = format!(
                    "{}: {} {}",
                    failure.arn().unwrap_or("container instance"),
                    failure.reason().unwrap_or("failed"),
                    failure.detail().unwrap_or_default()
                );
                return Err(AwsError::malformed(OPERATION, message.trim_end()));
            }
            output.container_instances().iter().map(|ci| container_instance(ci, OPERATION)).collect()
        })
        .await
    }

    async fn tag_cluster(&self, cluster_arn: &str, key: &str, value: &str) -> Result<(), AwsError> {
        let tag = aws_sdk_ecs::types::Tag::builder().key(key).value(value).build();
        self.client
            .tag_resource()
            .resource_arn(cluster_arn)
            .tags(tag)
            .send()
            .await
            .map_err(|e| sdk_error("TagResource", e))?;
        Ok(())
    }

    async fn put_attribute(
        &self,
        cluster: &str,
        container_instance_arn: &str,
        name: &str,
        value: &str,
    ) -> Result<(), AwsError> {
        let attribute = Attribute::builder()
            .name(name)
            .value(value)
            .target_type(TargetType::ContainerInstance)
            .target_id(container_instance_arn)
            .build()
            .map_err(|e| AwsError::malformed("PutAttributes", e.to_string()))?;
        self.client
            .put_attributes()
            .cluster(cluster)
            .attributes(attribute)
            .send()
            .await
            .map_err(|e| sdk_error("PutAttributes", e))?;
        Ok(())
    }
}

impl Ecs {
    /// The cluster's tasks with this desired status (on one container instance, if given): ListTasks pages,
    /// then DescribeTasks, 100 per call.
    async fn list_tasks(
        &self,
        cluster: &str,
        container_instance_arn: Option<&str>,
        desired_status: DesiredStatus,
    ) -> Result<Vec<Task>, AwsError> {
        let arns: Vec<String> = self
            .client
            .list_tasks()
            .cluster(cluster)
            .set_container_instance(container_instance_arn.map(str::to_owned))
            .desired_status(desired_status)
            .max_results(LIST_PAGE_SIZE)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| sdk_error("ListTasks", e))?;
        in_batches(&arns, DESCRIBE_BATCH, |batch| async move {
            let output = self
                .client
                .describe_tasks()
                .cluster(cluster)
                .set_tasks(Some(batch))
                .send()
                .await
                .map_err(|e| sdk_error("DescribeTasks", e))?;
            check_failures("DescribeTasks", output.failures())?;
            output.tasks().iter().map(task).collect()
        })
        .await
    }
}

fn service(s: &aws_sdk_ecs::types::Service) -> Result<Service, AwsError> {
    Ok(Service {
        name: required(s.service_name(), "DescribeServices", "serviceName")?.to_owned(),
        scheduling: match s.scheduling_strategy() {
            Some(SchedulingStrategy::Daemon) => Scheduling::Daemon,
            _ => Scheduling::Replica,
        },
        desired: s.desired_count(),
        running: s.running_count(),
        pending: s.pending_count(),
        min_healthy_percent: s.deployment_configuration().and_then(|d| d.minimum_healthy_percent()),
        task_definition: s.task_definition().unwrap_or_default().to_owned(),
        tags: tag_map(s.tags()),
        placement_constraints: s
            .placement_constraints()
            .iter()
            .map(|c| constraint(c.r#type().map(|t| t.as_str()), c.expression()))
            .collect(),
        events: s
            .events()
            .iter()
            .filter_map(|e| {
                Some(ServiceEvent {
                    created_at: crate::to_chrono(e.created_at()?)?,
                    message: e.message().unwrap_or_default().to_owned(),
                })
            })
            .collect(),
    })
}

fn task(t: &aws_sdk_ecs::types::Task) -> Result<Task, AwsError> {
    Ok(Task {
        arn: required(t.task_arn(), "DescribeTasks", "taskArn")?.to_owned(),
        container_instance_arn: t.container_instance_arn().map(str::to_owned),
        group: t.group().map(str::to_owned),
        last_status: t.last_status().unwrap_or("UNKNOWN").to_owned(),
        health: match t.health_status() {
            Some(HealthStatus::Healthy) => TaskHealth::Healthy,
            Some(HealthStatus::Unhealthy) => TaskHealth::Unhealthy,
            _ => TaskHealth::Unknown,
        },
        stopped_at: t.stopped_at().and_then(crate::to_chrono),
        task_definition_arn: t.task_definition_arn().map(str::to_owned),
        eni: t.attachments().iter().any(|a| a.r#type() == Some("ElasticNetworkInterface")),
    })
}

/// A placement constraint as ECS reports it; a type this version does not know is kept, and never judged.
fn constraint(kind: Option<&str>, expression: Option<&str>) -> PlacementConstraint {
    match kind {
        Some("distinctInstance") => PlacementConstraint::DistinctInstance,
        Some("memberOf") => PlacementConstraint::MemberOf(expression.unwrap_or_default().to_owned()),
        other => PlacementConstraint::Other(other.unwrap_or("(none)").to_owned()),
    }
}

/// A GPU resource requirement's value: a count (`"ALL"`, every GPU of the instance, cannot be placed by count).
fn gpu_count(value: &str) -> Result<u32, String> {
    value.trim().parse().map_err(|_| format!("GPU requirement {value:?} is not a number of GPUs"))
}

fn container_instance(
    ci: &aws_sdk_ecs::types::ContainerInstance,
    operation: &'static str,
) -> Result<ContainerInstance, AwsError> {
    Ok(ContainerInstance {
        arn: required(ci.container_instance_arn(), operation, "containerInstanceArn")?.to_owned(),
        ec2_instance_id: ci.ec2_instance_id().map(str::to_owned),
        status: ci.status().unwrap_or("UNKNOWN").to_owned(),
        attributes: ci
            .attributes()
            .iter()
            .map(|a| (a.name().to_owned(), a.value().unwrap_or_default().to_owned()))
            .collect(),
        registered: resources(ci.registered_resources()),
        remaining: resources(ci.remaining_resources()),
        tasks: u32::try_from(ci.running_tasks_count().saturating_add(ci.pending_tasks_count())).ok(),
        reserved_ports: ports(ci.registered_resources()),
        ports_in_use: ports(ci.remaining_resources()),
    })
}

/// CPU, memory and GPUs of `registeredResources` or `remainingResources`, when CPU and MEMORY are there; GPUs are a
/// STRINGSET of GPU IDs (absent on an instance without GPUs).
fn resources(resources: &[aws_sdk_ecs::types::Resource]) -> Option<Resources> {
    let find = |name: &str| resources.iter().find(|r| r.name() == Some(name));
    let value = |name: &str| find(name).and_then(|r| u32::try_from(r.integer_value()).ok());
    let gpus = find("GPU").map_or(0, |r| u32::try_from(r.string_set_value().len()).unwrap_or(u32::MAX));
    Some(Resources { cpu: value("CPU")?, memory: value("MEMORY")?, gpu: gpus })
}

/// The host ports `PORTS` and `PORTS_UDP` list (STRINGSETs: the agent's reserved ports, and in
/// `remainingResources` every port in use); `None` when ECS reported neither.
fn ports(resources: &[aws_sdk_ecs::types::Resource]) -> Option<HostPorts> {
    let set = |name: &str| resources.iter().find(|r| r.name() == Some(name)).map(|r| r.string_set_value());
    let (tcp, udp) = (set("PORTS"), set("PORTS_UDP"));
    if tcp.is_none() && udp.is_none() {
        return None;
    }
    let parse = |values: Option<&[String]>| values.unwrap_or_default().iter().filter_map(|p| p.parse().ok()).collect();
    Some(HostPorts { tcp: parse(tcp), udp: parse(udp) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::operation::describe_clusters::DescribeClustersOutput;
    use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
    use aws_sdk_ecs::operation::describe_tasks::{DescribeTasksError, DescribeTasksOutput};
    use aws_sdk_ecs::operation::list_services::ListServicesOutput;
    use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
    use aws_sdk_ecs::types::{Cluster, DeploymentConfiguration, Failure, Tag};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn arns(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|i| format!("arn:aws:ecs:us-east-1:123456789012:{prefix}/{i}")).collect()
    }

    #[tokio::test]
    async fn an_instance_is_looked_up_in_every_cluster_with_an_ec2_instance_id_filter() {
        use aws_sdk_ecs::operation::list_clusters::ListClustersOutput;
        use aws_sdk_ecs::operation::list_container_instances::ListContainerInstancesOutput;
        let clusters = mock!(Client::list_clusters)
            .then_output(|| ListClustersOutput::builder().set_cluster_arns(Some(arns("cluster", 0..3))).build());
        let lookup = mock!(Client::list_container_instances)
            .match_requests(|r| r.filter() == Some("ec2InstanceId == i-0abc"))
            .then_compute_output(|r| {
                let found = r.cluster() == Some("arn:aws:ecs:us-east-1:123456789012:cluster/1");
                let arns = if found { arns("container-instance/1", 7..8) } else { vec![] };
                ListContainerInstancesOutput::builder().set_container_instance_arns(Some(arns)).build()
            });
        let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&clusters, &lookup]);
        let ecs = Ecs::new(client);
        assert_eq!(ecs.clusters_with_instance("i-0abc").await.unwrap(), ["1"]);
        assert_eq!((clusters.num_calls(), lookup.num_calls()), (1, 3));

        let error = ecs.clusters_with_instance("i-0abc or ec2InstanceId exists").await.unwrap_err();
        assert!(error.to_string().contains("is not an EC2 instance ID"), "{error}");
        assert_eq!((clusters.num_calls(), lookup.num_calls()), (1, 3), "a bad ID makes no call");
    }

    #[tokio::test]
    async fn services_page_through_list_and_describe_ten_at_a_time() {
        let page1 = mock!(Client::list_services).match_requests(|r| r.next_token().is_none()).then_output(|| {
            ListServicesOutput::builder().set_service_arns(Some(arns("service/c", 0..100))).next_token("t").build()
        });
        let page2 = mock!(Client::list_services)
            .match_requests(|r| r.next_token() == Some("t"))
            .then_output(|| ListServicesOutput::builder().set_service_arns(Some(arns("service/c", 100..125))).build());
        let describe = mock!(Client::describe_services)
            .match_requests(|r| r.services().len() <= 10 && r.include() == [ServiceField::Tags])
            .then_compute_output(|r| {
                let services = r
                    .services()
                    .iter()
                    .map(|arn| {
                        aws_sdk_ecs::types::Service::builder()
                            .service_name(arn.rsplit('/').next().unwrap())
                            .desired_count(2)
                            .scheduling_strategy(SchedulingStrategy::Replica)
                            .deployment_configuration(
                                DeploymentConfiguration::builder().minimum_healthy_percent(50).build(),
                            )
                            .tags(Tag::builder().key("team").value("core").build())
                            .build()
                    })
                    .collect();
                DescribeServicesOutput::builder().set_services(Some(services)).build()
            });
        let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&page1, &page2, &describe]);
        let services = Ecs::new(client).services("c").await.unwrap();
        assert_eq!(services.len(), 125);
        assert_eq!((page1.num_calls(), page2.num_calls(), describe.num_calls()), (1, 1, 13));
        assert_eq!(services[0].name, "0");
        assert_eq!(services[124].name, "124", "order is kept across concurrent batches");
        assert_eq!(services[7].min_healthy_percent, Some(50));
        assert_eq!(services[7].tags["team"], "core");
    }

    #[tokio::test]
    async fn describe_clusters_batches_by_100_and_reports_missing_ones() {
        let rule = mock!(Client::describe_clusters)
            .match_requests(|r| r.clusters().len() <= 100 && r.include() == [ClusterField::Tags])
            .then_compute_output(|r| {
                let mut output = DescribeClustersOutput::builder();
                for name in r.clusters() {
                    if name == "ghost" {
                        output = output.failures(
                            Failure::builder()
                                .arn(format!("arn:aws:ecs:us-east-1:1:cluster/{name}"))
                                .reason("MISSING")
                                .build(),
                        );
                    } else {
                        output = output.clusters(
                            Cluster::builder()
                                .cluster_name(name)
                                .status("ACTIVE")
                                .registered_container_instances_count(3)
                                .tags(Tag::builder().key("ecs-scaler:enabled").value("true").build())
                                .build(),
                        );
                    }
                }
                output.build()
            });
        let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&rule]);
        let mut names: Vec<String> = (0..150).map(|i| format!("c{i}")).collect();
        names.push("ghost".into());
        let (found, missing) = Ecs::new(client).describe_clusters(&names).await.unwrap();
        assert_eq!(rule.num_calls(), 2);
        assert_eq!(found.len(), 150);
        assert_eq!(found[0].registered_instances, 3);
        assert_eq!(found[0].tags["ecs-scaler:enabled"], "true");
        assert_eq!(missing, [MissingCluster { name: "ghost".into(), reason: "MISSING".into() }]);
    }

    #[tokio::test]
    async fn tasks_fail_with_the_operation_named_after_retries_run_out() {
        let list = mock!(Client::list_tasks)
            .then_output(|| ListTasksOutput::builder().set_task_arns(Some(arns("task/c", 0..3))).build());
        let describe = mock!(Client::describe_tasks)
            .sequence()
            .error(|| {
                DescribeTasksError::generic(
                    aws_sdk_ecs::error::ErrorMetadata::builder()
                        .code("ThrottlingException")
                        .message("Rate exceeded")
                        .build(),
                )
            })
            .repeatedly()
            .build();
        let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&list, &describe], |c| c
            .retry_config(crate::retry_config()));
        let error = Ecs::new(client).tasks("c").await.unwrap_err();
        assert_eq!(describe.num_calls(), 4);
        assert_eq!(error.operation, "DescribeTasks");
        assert_eq!(error.code.as_deref(), Some("ThrottlingException"));
    }

    fn task_in(arn: &str, last_status: &str) -> aws_sdk_ecs::types::Task {
        aws_sdk_ecs::types::Task::builder().task_arn(arn).group("service:web").last_status(last_status).build()
    }

    #[tokio::test]
    async fn stopped_tasks_are_the_instances_desired_stopped_tasks_whatever_their_last_status() {
        let instance = "arn:aws:ecs:us-east-1:123456789012:container-instance/c/1";
        let list = mock!(Client::list_tasks)
            .match_requests(move |r| {
                r.container_instance() == Some(instance) && r.desired_status() == Some(&DesiredStatus::Stopped)
            })
            .then_output(|| ListTasksOutput::builder().set_task_arns(Some(arns("task/c", 0..3))).build());
        let describe = mock!(Client::describe_tasks).then_compute_output(|r| {
            let statuses = ["STOPPED", "DEACTIVATING", "STOPPING"];
            let tasks = r.tasks().iter().zip(statuses).map(|(arn, status)| task_in(arn, status)).collect();
            DescribeTasksOutput::builder().set_tasks(Some(tasks)).build()
        });
        let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&list, &describe]);
        let stopped = Ecs::new(client).stopped_tasks("c", instance).await.unwrap();
        let statuses: Vec<&str> = stopped.iter().map(|t| t.last_status.as_str()).collect();
        assert_eq!(statuses, ["STOPPED", "DEACTIVATING", "STOPPING"]);
        assert_eq!((list.num_calls(), describe.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn a_describe_failure_other_than_missing_fails_the_read() {
        let list = mock!(Client::list_tasks)
            .then_output(|| ListTasksOutput::builder().set_task_arns(Some(arns("task/c", 0..2))).build());
        let answer = |reason: &'static str| {
            move || {
                let [found, failed] = [0, 1].map(|i| format!("arn:aws:ecs:us-east-1:123456789012:task/c/{i}"));
                DescribeTasksOutput::builder()
                    .tasks(task_in(&found, "RUNNING"))
                    .failures(Failure::builder().arn(failed).reason(reason).build())
                    .build()
            }
        };
        let describe =
            mock!(Client::describe_tasks).sequence().output(answer("MISSING")).output(answer("ACCESS_DENIED")).build();
        let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&list, &describe]);
        let ecs = Ecs::new(client);
        assert_eq!(ecs.tasks("c").await.unwrap().len(), 1, "a task gone between List and Describe is just gone");
        let error = ecs.tasks("c").await.unwrap_err();
        assert_eq!(error.operation, "DescribeTasks");
        assert!(error.message.contains("task/c/1: ACCESS_DENIED"), "{error}");
    }

    #[tokio::test]
    async fn tasks_recover_from_two_server_errors() {
        let list = mock!(Client::list_tasks)
            .then_output(|| ListTasksOutput::builder().set_task_arns(Some(arns("task/c", 0..100))).build());
        let describe = mock!(Client::describe_tasks)
            .sequence()
            .http_status(500, None)
            .times(2)
            .output(|| {
                let tasks = arns("task/c", 0..100)
                    .into_iter()
                    .map(|arn| {
                        aws_sdk_ecs::types::Task::builder()
                            .task_arn(arn)
                            .group("service:web")
                            .last_status("RUNNING")
                            .build()
                    })
                    .collect();
                DescribeTasksOutput::builder().set_tasks(Some(tasks)).build()
            })
            .build();
        let client = mock_client!(aws_sdk_ecs, RuleMode::Sequential, [&list, &describe], |c| c
            .retry_config(crate::retry_config()));
        let tasks = Ecs::new(client).tasks("c").await.unwrap();
        assert_eq!(tasks.len(), 100);
        assert_eq!(describe.num_calls(), 3, "two 500s retried, then success");
        assert_eq!(tasks[0].service_name(), Some("web"));
    }
}
