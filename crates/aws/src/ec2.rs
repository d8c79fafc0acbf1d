//! EC2: the instance type a launch template version launches, and what an instance type offers.
//!
//! Instance types never change, so each one read is kept for the life of the process (a warm Lambda reads a
//! type once). A launch template version is immutable once numbered; `$Latest` and `$Default` move, so those
//! answers are kept only for [`MOVING_VERSION_TTL`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::InstanceType;
use ecs_scaler_core::lifecycle::LaunchTemplateRef;
use ecs_scaler_core::placement::instance_types::InstanceTypeInfo;
use ecs_scaler_core::ports::{AwsError, Ec2Api};

use crate::sdk_error;

/// DescribeInstanceTypes takes 100 types.
const DESCRIBE_TYPES_BATCH: usize = 100;
/// How long a `$Latest` or `$Default` launch template answer is kept.
pub const MOVING_VERSION_TTL: Duration = Duration::from_secs(600);

#[derive(Debug, Default)]
struct Memory {
    types: HashMap<String, InstanceTypeInfo>,
    /// Types EC2 does not know (kept too: asking again would not change the answer).
    unknown: HashMap<String, ()>,
    templates: HashMap<LaunchTemplateRef, (Option<String>, Instant)>,
}

#[derive(Debug)]
pub struct Ec2 {
    client: Client,
    memory: Mutex<Memory>,
}

impl Ec2 {
    pub fn new(client: Client) -> Self {
        Self { client, memory: Mutex::new(Memory::default()) }
    }

    /// Build the client from the shared SDK configuration (see [`crate::load_sdk_config`]).
    pub fn from_conf(sdk: &aws_config::SdkConfig) -> Self {
        Self::new(Client::new(sdk))
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        // A poisoned lock only means another thread panicked mid-update of a cache; its content is still usable.
        self.memory.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn describe_types(&self, names: &[String]) -> Result<Vec<InstanceTypeInfo>, AwsError> {
        const OPERATION: &str = "DescribeInstanceTypes";
        let mut found = Vec::new();
        for batch in names.chunks(DESCRIBE_TYPES_BATCH) {
            let request = self
                .client
                .describe_instance_types()
                .set_instance_types(Some(batch.iter().map(|n| InstanceType::from(n.as_str())).collect()));
            match request.send().await {
                Ok(output) => found.extend(output.instance_types().iter().filter_map(info)),
                // One unknown name fails the whole call: ask for each alone, so the others are still known.
                Err(error) if is_invalid_type(&error) && batch.len() > 1 => {
                    for name in batch {
                        found.extend(Box::pin(self.describe_types(std::slice::from_ref(name))).await?);
                    }
                }
                Err(error) if is_invalid_type(&error) => {}
                Err(error) => return Err(sdk_error(OPERATION, error)),
            }
        }
        Ok(found)
    }
}

fn is_invalid_type<E: aws_sdk_ec2::error::ProvideErrorMetadata>(error: &E) -> bool {
    error.code().is_some_and(|code| code.starts_with("InvalidInstanceType"))
}

fn info(t: &aws_sdk_ec2::types::InstanceTypeInfo) -> Option<InstanceTypeInfo> {
    let count = |v: Option<i32>| v.and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
    let memory = t.memory_info().and_then(|m| m.size_in_mib()).and_then(|m| u32::try_from(m).ok()).unwrap_or(0);
    Some(InstanceTypeInfo {
        name: t.instance_type()?.as_str().to_owned(),
        vcpus: count(t.v_cpu_info().and_then(|v| v.default_v_cpus())),
        memory_mib: memory,
        max_enis: count(t.network_info().and_then(|n| n.maximum_network_interfaces())),
        gpus: t.gpu_info().map_or(0, |g| g.gpus().iter().map(|d| count(d.count())).sum()),
        architecture: t
            .processor_info()
            .and_then(|p| p.supported_architectures().first())
            .map(|a| a.as_str().to_owned()),
    })
}

impl Ec2Api for Ec2 {
    async fn launch_template_type(&self, template: &LaunchTemplateRef) -> Result<Option<String>, AwsError> {
        const OPERATION: &str = "DescribeLaunchTemplateVersions";
        let version = template.version.clone().unwrap_or_else(|| "$Default".to_owned());
        let moving = version.starts_with('$');
        if let Some((launched, at)) = self.memory().templates.get(template).cloned()
            && (!moving || at.elapsed() < MOVING_VERSION_TTL)
        {
            return Ok(launched);
        }
        let output = self
            .client
            .describe_launch_template_versions()
            .set_launch_template_id(template.id.clone())
            .set_launch_template_name(if template.id.is_some() { None } else { template.name.clone() })
            .versions(version)
            .send()
            .await
            .map_err(|e| sdk_error(OPERATION, e))?;
        let found = output
            .launch_template_versions()
            .first()
            .ok_or_else(|| AwsError::malformed(OPERATION, format!("no version of {template} in the answer")))?;
        let launched = found.launch_template_data().and_then(|d| d.instance_type()).map(|t| t.as_str().to_owned());
        self.memory().templates.insert(template.clone(), (launched.clone(), Instant::now()));
        Ok(launched)
    }

    async fn instance_types(&self, names: &[String]) -> Result<Vec<InstanceTypeInfo>, AwsError> {
        let (mut known, wanted): (Vec<InstanceTypeInfo>, Vec<String>) = {
            let memory = self.memory();
            let known = names.iter().filter_map(|n| memory.types.get(n).cloned()).collect();
            let wanted = names
                .iter()
                .filter(|n| !memory.types.contains_key(*n) && !memory.unknown.contains_key(*n))
                .cloned()
                .collect();
            (known, wanted)
        };
        if wanted.is_empty() {
            return Ok(known);
        }
        let found = self.describe_types(&wanted).await?;
        let mut memory = self.memory();
        for name in &wanted {
            match found.iter().find(|t| &t.name == name) {
                Some(t) => {
                    memory.types.insert(name.clone(), t.clone());
                }
                None => {
                    memory.unknown.insert(name.clone(), ());
                }
            }
        }
        known.extend(found);
        Ok(known)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::operation::describe_instance_types::{DescribeInstanceTypesError, DescribeInstanceTypesOutput};
    use aws_sdk_ec2::operation::describe_launch_template_versions::DescribeLaunchTemplateVersionsOutput;
    use aws_sdk_ec2::types::{
        GpuDeviceInfo, GpuInfo, LaunchTemplateVersion, MemoryInfo, NetworkInfo, ResponseLaunchTemplateData, VCpuInfo,
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn m5_large() -> aws_sdk_ec2::types::InstanceTypeInfo {
        aws_sdk_ec2::types::InstanceTypeInfo::builder()
            .instance_type(InstanceType::M5Large)
            .v_cpu_info(VCpuInfo::builder().default_v_cpus(2).build())
            .memory_info(MemoryInfo::builder().size_in_mib(8192).build())
            .network_info(NetworkInfo::builder().maximum_network_interfaces(3).build())
            .build()
    }

    #[tokio::test]
    async fn instance_types_are_read_once_and_gpus_add_up() {
        let g4 = aws_sdk_ec2::types::InstanceTypeInfo::builder()
            .instance_type(InstanceType::G4dn12xlarge)
            .gpu_info(GpuInfo::builder().gpus(GpuDeviceInfo::builder().count(4).build()).build())
            .build();
        let describe = mock!(Client::describe_instance_types).then_output(move || {
            DescribeInstanceTypesOutput::builder().instance_types(m5_large()).instance_types(g4.clone()).build()
        });
        let ec2 = Ec2::new(mock_client!(aws_sdk_ec2, RuleMode::Sequential, [&describe]));
        let names = vec!["m5.large".to_owned(), "g4dn.12xlarge".to_owned()];
        let first = ec2.instance_types(&names).await.unwrap();
        assert_eq!(first.len(), 2);
        let m5 = first.iter().find(|t| t.name == "m5.large").unwrap();
        assert_eq!((m5.vcpus, m5.memory_mib, m5.max_enis, m5.gpus), (2, 8192, 3, 0));
        assert_eq!(first.iter().find(|t| t.name == "g4dn.12xlarge").unwrap().gpus, 4);
        // The second time costs nothing: instance types do not change.
        assert_eq!(ec2.instance_types(&names).await.unwrap().len(), 2);
        assert_eq!(describe.num_calls(), 1);
    }

    #[tokio::test]
    async fn an_unknown_type_does_not_hide_the_known_ones() {
        let invalid = mock!(Client::describe_instance_types).then_error(|| {
            DescribeInstanceTypesError::generic(
                aws_sdk_ec2::error::ErrorMetadata::builder().code("InvalidInstanceType").message("x9.huge").build(),
            )
        });
        let alone = mock!(Client::describe_instance_types)
            .then_output(|| DescribeInstanceTypesOutput::builder().instance_types(m5_large()).build());
        let invalid_alone = mock!(Client::describe_instance_types).then_error(|| {
            DescribeInstanceTypesError::generic(
                aws_sdk_ec2::error::ErrorMetadata::builder().code("InvalidInstanceType").build(),
            )
        });
        let ec2 = Ec2::new(mock_client!(aws_sdk_ec2, RuleMode::Sequential, [&invalid, &alone, &invalid_alone]));
        let found = ec2.instance_types(&["m5.large".to_owned(), "x9.huge".to_owned()]).await.unwrap();
        assert_eq!(found.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["m5.large"]);
    }

    #[tokio::test]
    async fn a_numbered_launch_template_version_is_read_once() {
        let versions = mock!(Client::describe_launch_template_versions).then_output(|| {
            let data = ResponseLaunchTemplateData::builder().instance_type(InstanceType::M5Xlarge).build();
            DescribeLaunchTemplateVersionsOutput::builder()
                .launch_template_versions(LaunchTemplateVersion::builder().launch_template_data(data).build())
                .build()
        });
        let ec2 = Ec2::new(mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&versions]));
        let pinned = LaunchTemplateRef { id: Some("lt-1".into()), name: None, version: Some("3".into()) };
        assert_eq!(ec2.launch_template_type(&pinned).await.unwrap().as_deref(), Some("m5.xlarge"));
        assert_eq!(ec2.launch_template_type(&pinned).await.unwrap().as_deref(), Some("m5.xlarge"));
        assert_eq!(versions.num_calls(), 1);
    }
}
