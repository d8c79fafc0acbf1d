//! ECS API calls per throttling bucket: what scale-status and the drain hook cost the account's ECS buckets,
//! counted per minute by [`Counted`](ecs_scaler_core::ports::counted::Counted) exactly as the SDK adapters make
//! the calls (batches, pages; [`ecs_scaler_core::ports::cost`]).

use ecs_scaler_core::ports::cost::Category;
use ecs_scaler_core::ports::counted::{Ledger, per_category};
use serde::Serialize;

/// One figure per ECS throttling bucket ecs-scaler draws on ([`Category`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Buckets<T> {
    /// DescribeServices, ListServices.
    pub service_read: T,
    /// DescribeContainerInstances, DescribeTasks, ListContainerInstances, ListTasks.
    pub cluster_resource_read: T,
    /// DescribeTaskDefinition.
    pub task_definition_read: T,
    /// DescribeClusters, ListClusters.
    pub cluster_read: T,
    /// UpdateContainerInstancesState, PutAttributes.
    pub cluster_resource_modify: T,
    /// TagResource.
    pub tag_modify: T,
}

/// Calls per bucket.
pub type EcsCalls = Buckets<u64>;

impl<T: Copy> Buckets<T> {
    pub fn get(&self, category: Category) -> T {
        match category {
            Category::ServiceRead => self.service_read,
            Category::ClusterResourceRead => self.cluster_resource_read,
            Category::TaskDefinitionRead => self.task_definition_read,
            Category::ClusterRead => self.cluster_read,
            Category::ClusterResourceModify => self.cluster_resource_modify,
            Category::TagModify => self.tag_modify,
        }
    }

    fn get_mut(&mut self, category: Category) -> &mut T {
        match category {
            Category::ServiceRead => &mut self.service_read,
            Category::ClusterResourceRead => &mut self.cluster_resource_read,
            Category::TaskDefinitionRead => &mut self.task_definition_read,
            Category::ClusterRead => &mut self.cluster_read,
            Category::ClusterResourceModify => &mut self.cluster_resource_modify,
            Category::TagModify => &mut self.tag_modify,
        }
    }

    /// Each bucket's figure through `f`, bucket by bucket with `other`'s.
    pub fn zip<U: Copy, V>(&self, other: &Buckets<U>, f: impl Fn(T, U) -> V) -> Buckets<V> {
        Buckets {
            service_read: f(self.service_read, other.service_read),
            cluster_resource_read: f(self.cluster_resource_read, other.cluster_resource_read),
            task_definition_read: f(self.task_definition_read, other.task_definition_read),
            cluster_read: f(self.cluster_read, other.cluster_read),
            cluster_resource_modify: f(self.cluster_resource_modify, other.cluster_resource_modify),
            tag_modify: f(self.tag_modify, other.tag_modify),
        }
    }

    pub fn map<V>(&self, f: impl Fn(T) -> V) -> Buckets<V> {
        self.zip(self, |a, _| f(a))
    }

    /// Every bucket together.
    pub fn total(&self) -> T
    where
        T: std::iter::Sum<T>,
    {
        CATEGORIES.iter().map(|&c| self.get(c)).sum()
    }
}

/// Every bucket, in the order the reports list them.
pub const CATEGORIES: [Category; 6] = [
    Category::ServiceRead,
    Category::ClusterResourceRead,
    Category::TaskDefinitionRead,
    Category::ClusterRead,
    Category::ClusterResourceModify,
    Category::TagModify,
];

impl EcsCalls {
    /// The ECS calls of a ledger (calls to other services are left out).
    pub fn of(ledger: &Ledger) -> Self {
        let mut calls = EcsCalls::default();
        for (category, count) in per_category(ledger) {
            *calls.get_mut(category) += count as u64;
        }
        calls
    }

    pub fn plus(&self, other: &EcsCalls) -> EcsCalls {
        self.zip(other, |a, b| a + b)
    }
}

/// A run's ECS calls: the mean per recorded minute of each bucket, its busiest minute, and who made them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallRates {
    /// Mean calls per minute, per bucket, scale-status and the drain hook together.
    pub per_minute: Buckets<f64>,
    /// Mean ECS calls per minute, every bucket.
    pub total_per_minute: f64,
    /// The most calls of each bucket made in any one minute.
    pub peak: EcsCalls,
    /// The minute with the most ECS calls, every bucket together, and how many.
    pub peak_minute: u32,
    pub peak_minute_calls: u64,
    /// Mean calls per minute of scale-status (scheduled ticks and placement-failure events).
    pub scale_status_per_minute: Buckets<f64>,
    /// Mean calls per minute of the drain hook (reconcile, lifecycle notifications, termination policy).
    pub drain_hook_per_minute: Buckets<f64>,
}

impl CallRates {
    /// From each recorded minute's calls (`(minute, calls)`), and the totals per caller over the same minutes.
    pub fn of(minutes: &[(u32, EcsCalls)], scale_status: &EcsCalls, drain_hook: &EcsCalls) -> Self {
        let n = minutes.len().max(1) as f64;
        let sum = minutes.iter().fold(EcsCalls::default(), |sum, (_, calls)| sum.plus(calls));
        let peak = minutes.iter().fold(EcsCalls::default(), |peak, (_, calls)| peak.zip(calls, u64::max));
        let busiest = minutes.iter().max_by_key(|(minute, calls)| (calls.total(), std::cmp::Reverse(*minute)));
        let mean = |calls: &EcsCalls| calls.map(|c| c as f64 / n);
        CallRates {
            per_minute: mean(&sum),
            total_per_minute: sum.total() as f64 / n,
            peak,
            peak_minute: busiest.map_or(0, |(minute, _)| *minute),
            peak_minute_calls: busiest.map_or(0, |(_, calls)| calls.total()),
            scale_status_per_minute: mean(scale_status),
            drain_hook_per_minute: mean(drain_hook),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ledger_s_ecs_calls_fall_in_their_buckets_and_other_services_are_left_out() {
        let ledger: Ledger = [
            ("DescribeServices", 3),
            ("ListServices", 1),
            ("ListTasks", 2),
            ("DescribeTasks", 2),
            ("DescribeTaskDefinition", 5),
            ("GetMetricData", 7),
            ("DescribeAutoScalingGroups", 4),
        ]
        .into_iter()
        .collect();
        let calls = EcsCalls::of(&ledger);
        assert_eq!((calls.service_read, calls.cluster_resource_read, calls.task_definition_read), (4, 4, 5));
        assert_eq!(calls.total(), 13, "GetMetricData and DescribeAutoScalingGroups are not ECS's");
    }

    #[test]
    fn rates_are_means_over_the_minutes_and_the_peak_is_the_busiest_one() {
        let minute = |service_read, cluster_resource_read| EcsCalls {
            service_read,
            cluster_resource_read,
            ..EcsCalls::default()
        };
        let minutes = [(0, minute(2, 0)), (1, minute(0, 9)), (2, minute(4, 1)), (3, minute(2, 0))];
        let rates = CallRates::of(&minutes, &minute(6, 0), &minute(2, 10));
        assert_eq!(rates.per_minute.service_read, 2.0);
        assert_eq!(rates.per_minute.cluster_resource_read, 2.5);
        assert_eq!(rates.total_per_minute, 4.5);
        assert_eq!((rates.peak.service_read, rates.peak.cluster_resource_read), (4, 9));
        assert_eq!((rates.peak_minute, rates.peak_minute_calls), (1, 9));
        assert_eq!(rates.scale_status_per_minute.service_read, 1.5);
        assert_eq!(rates.drain_hook_per_minute.cluster_resource_read, 2.5);
    }
}
