//! What an EC2 instance type offers ECS: CPU units, memory, GPUs, and how many awsvpc tasks its network
//! interfaces hold, with and without ENI trunking.
//!
//! The facts come from EC2's DescribeInstanceTypes (read through [`crate::ports::Ec2Api`]); the awsvpc task
//! limits are ECS's own, published per instance type in the ECS developer guide ("Supported Amazon EC2 instance
//! types" under ENI trunking), and kept in `eni-limits.csv` beside this file.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Serialize;

/// One instance type, as DescribeInstanceTypes reports what placement needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InstanceTypeInfo {
    pub name: String,
    /// `VCpuInfo.DefaultVCpus`.
    pub vcpus: u32,
    /// `MemoryInfo.SizeInMiB`: what EC2 sells, more than the ECS agent registers.
    pub memory_mib: u32,
    /// `NetworkInfo.MaximumNetworkInterfaces`.
    pub max_enis: u32,
    /// The sum of `GpuInfo.Gpus[].Count`.
    pub gpus: u32,
    /// `ProcessorInfo.SupportedArchitectures`' first entry, as ECS names it (`x86_64`, `arm64`).
    pub architecture: Option<String>,
}

/// How many awsvpc tasks an instance of this type runs. Without trunking, ECS's published limit for the type,
/// else one per network interface but the primary one (ECS developer guide, "Elastic network interface
/// trunking": "the primary network interface counts as one … you can typically only run two such tasks" on a
/// c5.large of three ENIs; for types with several network cards ECS publishes fewer than that rule gives). With
/// a trunk ENI, ECS's published limit for the type. `None` when neither is known: an awsvpc task there cannot
/// be judged.
pub fn awsvpc_task_limit(instance_type: &str, info: Option<&InstanceTypeInfo>, trunk: bool) -> Option<u32> {
    let published = published_limits(instance_type);
    if trunk {
        return published.and_then(|(_, with)| with);
    }
    published.map(|(without, _)| without).or_else(|| info.map(|i| i.max_enis.saturating_sub(1)))
}

/// ECS's published awsvpc task limits of a type: (without trunking, with trunking where supported).
fn published_limits(instance_type: &str) -> Option<(u32, Option<u32>)> {
    ENI_LIMITS.get_or_init(parse_limits).get(instance_type).copied()
}

static ENI_LIMITS: OnceLock<HashMap<&'static str, (u32, Option<u32>)>> = OnceLock::new();

/// ECS's table, `eni-limits.csv` (source and caveats in its header).
const ENI_LIMITS_CSV: &str = include_str!("eni-limits.csv");

fn parse_limits() -> HashMap<&'static str, (u32, Option<u32>)> {
    ENI_LIMITS_CSV
        .lines()
        .filter(|line| !line.starts_with('#') && !line.starts_with("instance_type"))
        .filter_map(|line| {
            let mut fields = line.split(',');
            let name = fields.next()?;
            let without = fields.next()?.parse().ok()?;
            let with = fields.next().and_then(|f| f.parse().ok());
            Some((name, (without, with)))
        })
        .collect()
}

/// An estimate of what the ECS agent registers for an instance type no container instance of the cluster
/// has registered yet: all of its vCPUs (1024 units each, as the agent counts), its GPUs, and its memory less
/// [`UNREGISTERED_MEMORY_SHARE`]. A registered instance of the type always wins over this.
pub fn estimated_registration(info: &InstanceTypeInfo) -> (u32, u32) {
    let cpu = info.vcpus.saturating_mul(1024);
    let kept = (f64::from(info.memory_mib) * UNREGISTERED_MEMORY_SHARE).ceil();
    let memory = (f64::from(info.memory_mib) - kept).max(0.0) as u32;
    (cpu, memory)
}

/// The share of an instance type's memory the ECS agent does not register (the kernel and the platform keep
/// it). ECS's own example registers 7985 of an m4.large's 8192 MiB (2.5 % kept); an m6i.large has been seen
/// registering 7817 (4.6 % kept). 5 % errs on the side of a smaller fresh instance, so a scale-out is sized
/// up rather than short.
pub const UNREGISTERED_MEMORY_SHARE: f64 = 0.05;

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, max_enis: u32) -> InstanceTypeInfo {
        InstanceTypeInfo { name: name.into(), vcpus: 2, memory_mib: 8192, max_enis, gpus: 0, architecture: None }
    }

    #[test]
    fn awsvpc_limits_follow_ecs_s_table_then_the_eni_rule() {
        // m5.large: 3 ENIs, the primary one taken; 10 with a trunk.
        assert_eq!(awsvpc_task_limit("m5.large", None, false), Some(2));
        assert_eq!(awsvpc_task_limit("m5.large", None, true), Some(10));
        assert_eq!(awsvpc_task_limit("c6i.4xlarge", None, true), Some(60));
        // A type ECS does not list: the ENI rule without a trunk, unknown with one.
        assert_eq!(awsvpc_task_limit("x9.large", Some(&info("x9.large", 4)), false), Some(3));
        assert_eq!(awsvpc_task_limit("x9.large", Some(&info("x9.large", 4)), true), None);
        assert_eq!(awsvpc_task_limit("x9.large", None, false), None);
        // Families ECS does not trunk have no trunking limit.
        assert_eq!(awsvpc_task_limit("c5.metal", None, true), None);
        assert_eq!(awsvpc_task_limit("t3.large", Some(&info("t3.large", 3)), true), None);
        assert!(published_limits("m5.large").is_some() && ENI_LIMITS.get().is_some_and(|t| t.len() > 400));
    }

    #[test]
    fn an_unregistered_type_is_estimated_a_little_small() {
        let m4 = InstanceTypeInfo { vcpus: 2, memory_mib: 8192, ..info("m4.large", 2) };
        let (cpu, memory) = estimated_registration(&m4);
        assert_eq!(cpu, 2048);
        // ECS's own example registers 7985 MiB; the estimate stays below it.
        assert!((7700..=7985).contains(&memory), "{memory}");
    }
}
