//! What each port call costs in AWS API calls, as the SDK adapters (`ecs-scaler-aws`) make them, and which ECS
//! throttling bucket each call draws on. The adapters batch and page with these constants; the simulator and
//! the benchmark count calls with [`Counted`](super::counted::Counted), which charges each port call by them.

use std::fmt;

/// DescribeClusters, DescribeTasks and DescribeContainerInstances take 100 names each.
pub const DESCRIBE_BATCH: usize = 100;
/// DescribeServices takes 10 services.
pub const DESCRIBE_SERVICES_BATCH: usize = 10;
/// UpdateContainerInstancesState takes 10 container instances.
pub const UPDATE_STATE_BATCH: usize = 10;
/// List pages of 100 (ListClusters, ListServices, ListTasks, ListContainerInstances).
pub const LIST_PAGE: usize = 100;
/// Describe calls of one read in flight at once.
pub const CONCURRENT_DESCRIBES: usize = 4;
/// DescribeAutoScalingGroups: 100 group names per call, and pages of 100.
pub const GROUPS_PER_CALL: usize = 100;
/// DescribeInstanceTypes takes 100 types.
pub const TYPES_PER_CALL: usize = 100;
/// GetMetricData takes 500 queries (two per cluster).
pub const METRIC_QUERIES_PER_CALL: usize = 500;
/// PutMetricData takes 1000 datapoints.
pub const DATUMS_PER_CALL: usize = 1000;

/// ECS's API throttling categories that ecs-scaler calls into (ECS API reference, "Request throttling for the
/// Amazon ECS API"): each a token bucket per account and Region, shared by every client of the account.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, strum::Display, strum::EnumIter, serde::Serialize,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// DescribeClusters, ListClusters.
    ClusterRead,
    /// DescribeServices, ListServices.
    ServiceRead,
    /// DescribeContainerInstances, DescribeTasks, ListAttributes, ListContainerInstances, ListTasks.
    ClusterResourceRead,
    /// DescribeTaskDefinition, ListTaskDefinitions, ListTaskDefinitionFamilies.
    TaskDefinitionRead,
    /// PutAttributes, UpdateContainerInstancesState and the rest of the cluster resource modify actions.
    ClusterResourceModify,
    /// TagResource, UntagResource.
    TagModify,
}

impl Category {
    /// The ECS category of an operation; `None` for an operation of another service, or one ecs-scaler does
    /// not make.
    pub fn of(operation: &str) -> Option<Category> {
        Some(match operation {
            "DescribeClusters" | "ListClusters" => Category::ClusterRead,
            "DescribeServices" | "ListServices" => Category::ServiceRead,
            "DescribeContainerInstances"
            | "DescribeTasks"
            | "ListAttributes"
            | "ListContainerInstances"
            | "ListTasks" => Category::ClusterResourceRead,
            "DescribeTaskDefinition" | "ListTaskDefinitions" | "ListTaskDefinitionFamilies" => {
                Category::TaskDefinitionRead
            }
            "DeleteAttributes"
            | "PutAttributes"
            | "UpdateContainerInstancesState"
            | "StartTask"
            | "StopTask"
            | "RunTask" => Category::ClusterResourceModify,
            "TagResource" | "UntagResource" => Category::TagModify,
            _ => return None,
        })
    }

    /// The account's bucket: (maximum capacity, refill per second).
    pub fn account_bucket(self) -> (u32, u32) {
        match self {
            Category::ClusterRead => (50, 20),
            Category::ServiceRead => (100, 20),
            Category::ClusterResourceRead => (100, 20),
            Category::TaskDefinitionRead => (50, 20),
            Category::ClusterResourceModify => (100, 40),
            Category::TagModify => (20, 10),
        }
    }
}

/// The calls of one port call: each operation and how many of it, and how many round trips they take one after
/// the other (list pages are sequential; describes go [`CONCURRENT_DESCRIBES`] at a time).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cost {
    pub calls: Vec<(&'static str, usize)>,
    pub round_trips: usize,
}

impl Cost {
    /// One call.
    pub fn one(operation: &'static str) -> Cost {
        Cost { calls: vec![(operation, 1)], round_trips: 1 }
    }

    /// `count` calls of `operation`, made `concurrently` at a time.
    pub fn batched(operation: &'static str, count: usize, concurrently: usize) -> Cost {
        Cost { calls: vec![(operation, count)], round_trips: count.div_ceil(concurrently.max(1)) }
    }

    /// A List-then-Describe read of `items`: at least one list page, then the describes.
    pub fn list_describe(list: &'static str, describe: &'static str, items: usize, batch: usize) -> Cost {
        let pages = items.div_ceil(LIST_PAGE).max(1);
        let describes = items.div_ceil(batch);
        Cost {
            calls: vec![(list, pages), (describe, describes)],
            round_trips: pages + describes.div_ceil(CONCURRENT_DESCRIBES),
        }
    }

    /// Every call of both.
    pub fn and(mut self, other: Cost) -> Cost {
        self.calls.extend(other.calls);
        self.round_trips += other.round_trips;
        self
    }

    pub fn total(&self) -> usize {
        self.calls.iter().map(|(_, n)| n).sum()
    }
}

impl fmt::Display for Cost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.calls.iter().map(|(op, n)| format!("{op} {n}")).collect();
        f.write_str(&parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_then_describe_read_pages_and_batches_as_the_adapter_does() {
        let services = Cost::list_describe("ListServices", "DescribeServices", 50, DESCRIBE_SERVICES_BATCH);
        assert_eq!(services.calls, [("ListServices", 1), ("DescribeServices", 5)]);
        assert_eq!(services.round_trips, 1 + 2);
        let tasks = Cost::list_describe("ListTasks", "DescribeTasks", 0, DESCRIBE_BATCH);
        assert_eq!(tasks.calls, [("ListTasks", 1), ("DescribeTasks", 0)], "an empty list is still one page");
        let many = Cost::list_describe("ListTasks", "DescribeTasks", 501, DESCRIBE_BATCH);
        assert_eq!((many.total(), many.round_trips), (12, 6 + 2));
    }

    #[test]
    fn operations_fall_in_ecs_s_buckets() {
        assert_eq!(Category::of("DescribeServices"), Some(Category::ServiceRead));
        assert_eq!(Category::of("ListTasks"), Some(Category::ClusterResourceRead));
        assert_eq!(Category::of("DescribeTaskDefinition"), Some(Category::TaskDefinitionRead));
        assert_eq!(Category::of("GetMetricData"), None);
        assert_eq!(Category::ServiceRead.account_bucket(), (100, 20));
    }
}
