//! CloudWatch: reservation reads in one GetMetricData call per 250 clusters, writes in one PutMetricData call
//! per 1000 datapoints.

use std::collections::HashMap;

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{
    Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat, ScanBy, StandardUnit, StatusCode,
};
use aws_smithy_types_convert::date_time::DateTimeExt;
use chrono::{DateTime, Utc};
use ecs_scaler_core::{Datapoint, Resource};
use futures::StreamExt;

use ecs_scaler_core::ports::{AwsError, ClusterMetric, MetricUnit, MetricsApi, ReservationSeries, Reservations};

use crate::sdk_error;

/// GetMetricData takes at most 500 queries; each cluster needs two.
pub const MAX_QUERIES_PER_CALL: usize = 500;
/// PutMetricData takes at most 1000 datapoints (and 1 MB) per call.
pub const MAX_DATUMS_PER_CALL: usize = 1000;

#[derive(Debug, Clone)]
pub struct CloudWatch {
    client: Client,
}

impl CloudWatch {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Build the client from the shared SDK configuration (see [`crate::load_sdk_config`]).
    pub fn from_conf(sdk: &aws_config::SdkConfig) -> Self {
        Self::new(Client::new(sdk))
    }

    /// One GetMetricData call (plus its NextToken pages) for up to 250 clusters.
    async fn reservation_batch(
        &self,
        clusters: &[String],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<HashMap<String, Result<ReservationSeries, AwsError>>, AwsError> {
        let queries = clusters
            .iter()
            .enumerate()
            .flat_map(|(index, cluster)| Resource::ALL.map(|resource| reservation_query(index, cluster, resource)))
            .collect();
        let pages: Vec<_> = self
            .client
            .get_metric_data()
            .set_metric_data_queries(Some(queries))
            .start_time(aws_smithy_types::DateTime::from_chrono_utc(start))
            .end_time(aws_smithy_types::DateTime::from_chrono_utc(end))
            .scan_by(ScanBy::TimestampDescending)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| sdk_error("GetMetricData", e))?;

        let mut series: Vec<Result<ReservationSeries, AwsError>> =
            clusters.iter().map(|_| Ok(ReservationSeries::default())).collect();
        for result in pages.iter().flat_map(|page| page.metric_data_results()) {
            let Some((index, resource)) = result.id().and_then(parse_query_id) else { continue };
            let Some(slot) = series.get_mut(index) else { continue };
            if let Some(status @ (StatusCode::InternalError | StatusCode::Forbidden)) = result.status_code() {
                let messages: Vec<&str> = result.messages().iter().filter_map(|m| m.value()).collect();
                let message =
                    format!("{} query returned {}: {}", resource.metric_name(), status.as_str(), messages.join("; "));
                *slot = Err(AwsError::malformed("GetMetricData", message));
                continue;
            }
            let Ok(entry) = slot else { continue };
            let points = result
                .timestamps()
                .iter()
                .zip(result.values())
                .filter_map(|(at, value)| Some(Datapoint { timestamp: crate::to_chrono(at)?, value: *value }));
            match resource {
                Resource::Cpu => entry.cpu.extend(points),
                Resource::Memory => entry.memory.extend(points),
            }
        }
        Ok(clusters.iter().cloned().zip(series).collect())
    }
}

impl MetricsApi for CloudWatch {
    async fn reservations(&self, clusters: &[String], start: DateTime<Utc>, end: DateTime<Utc>) -> Reservations {
        let per_call = MAX_QUERIES_PER_CALL / Resource::ALL.len();
        let requests = clusters.chunks(per_call).map(<[String]>::to_vec).map(|batch| async move {
            let result = self.reservation_batch(&batch, start, end).await;
            (batch, result)
        });
        let batches: Vec<_> = futures::stream::iter(requests).buffer_unordered(4).collect().await;
        let mut reservations = Reservations::new();
        for (batch, result) in batches {
            match result {
                Ok(found) => reservations.extend(found),
                Err(error) => reservations.extend(batch.iter().map(|cluster| (cluster.clone(), Err(error.clone())))),
            }
        }
        reservations
    }

    async fn put(&self, namespace: &str, metrics: &[ClusterMetric]) -> Result<usize, AwsError> {
        let mut calls = 0;
        for chunk in metrics.chunks(MAX_DATUMS_PER_CALL) {
            self.client
                .put_metric_data()
                .namespace(namespace)
                .set_metric_data(Some(chunk.iter().map(datum).collect()))
                .send()
                .await
                .map_err(|e| sdk_error("PutMetricData", e))?;
            calls += 1;
        }
        Ok(calls)
    }
}

fn cluster_dimension(cluster: &str) -> Dimension {
    Dimension::builder().name("ClusterName").value(cluster).build()
}

fn reservation_query(index: usize, cluster: &str, resource: Resource) -> MetricDataQuery {
    let metric = Metric::builder()
        .namespace("AWS/ECS")
        .metric_name(resource.metric_name())
        .dimensions(cluster_dimension(cluster))
        .build();
    let stat = MetricStat::builder().metric(metric).period(60).stat("Maximum").build();
    MetricDataQuery::builder().id(query_id(index, resource)).metric_stat(stat).return_data(true).build()
}

/// Query ids must match `^[a-z][a-zA-Z0-9_]*$`: `cpu_17`, `memory_17`.
fn query_id(index: usize, resource: Resource) -> String {
    format!("{resource}_{index}")
}

fn parse_query_id(id: &str) -> Option<(usize, Resource)> {
    let (resource, index) = id.split_once('_')?;
    let resource = Resource::ALL.into_iter().find(|r| r.to_string() == resource)?;
    Some((index.parse().ok()?, resource))
}

fn datum(metric: &ClusterMetric) -> MetricDatum {
    let unit = match metric.unit {
        MetricUnit::None => StandardUnit::None,
        MetricUnit::Count => StandardUnit::Count,
        MetricUnit::Seconds => StandardUnit::Seconds,
    };
    MetricDatum::builder()
        .metric_name(metric.name)
        .dimensions(cluster_dimension(&metric.cluster))
        .value(metric.value)
        .unit(unit)
        .timestamp(aws_smithy_types::DateTime::from_chrono_utc(metric.timestamp))
        .storage_resolution(60)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudwatch::error::ErrorMetadata;
    use aws_sdk_cloudwatch::operation::get_metric_data::{GetMetricDataError, GetMetricDataOutput};
    use aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataOutput;
    use aws_sdk_cloudwatch::types::MetricDataResult;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).single().unwrap()
    }

    fn ts(minutes_ago: i64) -> aws_smithy_types::DateTime {
        aws_smithy_types::DateTime::from_chrono_utc(now() - Duration::minutes(minutes_ago))
    }

    fn throttled() -> GetMetricDataError {
        GetMetricDataError::generic(ErrorMetadata::builder().code("Throttling").message("Rate exceeded").build())
    }

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("cluster-{i}")).collect()
    }

    /// Echo every query back with one datapoint whose value encodes the query's position.
    fn echo_output(input: &aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataInput) -> GetMetricDataOutput {
        let results = input
            .metric_data_queries()
            .iter()
            .map(|q| MetricDataResult::builder().id(q.id().unwrap()).timestamps(ts(1)).values(42.0).build())
            .collect();
        GetMetricDataOutput::builder().set_metric_data_results(Some(results)).build()
    }

    #[tokio::test]
    async fn batches_260_clusters_into_two_calls() {
        let rule = mock!(Client::get_metric_data)
            .match_requests(|input| input.metric_data_queries().len() <= MAX_QUERIES_PER_CALL)
            .then_compute_output(echo_output);
        let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&rule]);
        let clusters = names(260);
        let found = CloudWatch::new(client).reservations(&clusters, now() - Duration::minutes(10), now()).await;
        assert_eq!(rule.num_calls(), 2);
        assert_eq!(found.len(), 260);
        for cluster in &clusters {
            let series = found[cluster].as_ref().unwrap();
            assert_eq!((series.cpu.len(), series.memory.len()), (1, 1), "{cluster}");
        }
    }

    #[tokio::test]
    async fn one_cluster_is_one_call_with_two_queries() {
        let rule = mock!(Client::get_metric_data)
            .match_requests(|input| {
                let ids: Vec<_> = input.metric_data_queries().iter().filter_map(|q| q.id()).collect();
                ids == ["cpu_0", "memory_0"]
            })
            .then_compute_output(echo_output);
        let client = mock_client!(aws_sdk_cloudwatch, [&rule]);
        CloudWatch::new(client).reservations(&names(1), now() - Duration::minutes(10), now()).await;
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn follows_next_token_pages_and_keeps_every_datapoint() {
        let first =
            mock!(Client::get_metric_data).match_requests(|input| input.next_token().is_none()).then_output(|| {
                GetMetricDataOutput::builder()
                    .metric_data_results(
                        MetricDataResult::builder()
                            .id("cpu_0")
                            .timestamps(ts(1))
                            .values(10.0)
                            .status_code(StatusCode::PartialData)
                            .build(),
                    )
                    .next_token("page-2")
                    .build()
            });
        let second = mock!(Client::get_metric_data)
            .match_requests(|input| input.next_token() == Some("page-2"))
            .then_output(|| {
                GetMetricDataOutput::builder()
                    .metric_data_results(MetricDataResult::builder().id("cpu_0").timestamps(ts(2)).values(20.0).build())
                    .metric_data_results(
                        MetricDataResult::builder().id("memory_0").timestamps(ts(1)).values(30.0).build(),
                    )
                    .build()
            });
        let client = mock_client!(aws_sdk_cloudwatch, RuleMode::Sequential, [&first, &second]);
        let found = CloudWatch::new(client).reservations(&names(1), now() - Duration::minutes(10), now()).await;
        let series = found["cluster-0"].as_ref().unwrap();
        assert_eq!(series.cpu.iter().map(|p| p.value).collect::<Vec<_>>(), [10.0, 20.0]);
        assert_eq!(series.memory.len(), 1);
    }

    #[tokio::test]
    async fn a_cluster_without_datapoints_gets_empty_series() {
        let rule = mock!(Client::get_metric_data).then_output(|| {
            GetMetricDataOutput::builder()
                .metric_data_results(MetricDataResult::builder().id("cpu_0").status_code(StatusCode::Complete).build())
                .build()
        });
        let client = mock_client!(aws_sdk_cloudwatch, [&rule]);
        let found = CloudWatch::new(client).reservations(&names(1), now() - Duration::minutes(10), now()).await;
        assert_eq!(found["cluster-0"], Ok(ReservationSeries::default()));
    }

    #[tokio::test]
    async fn a_forbidden_query_fails_only_its_cluster() {
        let rule = mock!(Client::get_metric_data).then_output(|| {
            GetMetricDataOutput::builder()
                .metric_data_results(MetricDataResult::builder().id("cpu_0").status_code(StatusCode::Forbidden).build())
                .metric_data_results(MetricDataResult::builder().id("cpu_1").timestamps(ts(1)).values(5.0).build())
                .build()
        });
        let client = mock_client!(aws_sdk_cloudwatch, [&rule]);
        let found = CloudWatch::new(client).reservations(&names(2), now() - Duration::minutes(10), now()).await;
        assert!(found["cluster-0"].as_ref().unwrap_err().message.contains("CPUReservation query returned Forbidden"));
        assert!(found["cluster-1"].is_ok());
    }

    #[tokio::test]
    async fn retries_throttling_then_succeeds() {
        let rule = mock!(Client::get_metric_data)
            .sequence()
            .error(throttled)
            .times(2)
            .output(|| GetMetricDataOutput::builder().build())
            .build();
        let client =
            mock_client!(aws_sdk_cloudwatch, RuleMode::Sequential, [&rule], |c| c.retry_config(crate::retry_config()));
        let found = CloudWatch::new(client).reservations(&names(1), now() - Duration::minutes(10), now()).await;
        assert_eq!(rule.num_calls(), 3);
        assert!(found["cluster-0"].is_ok());
    }

    #[tokio::test]
    async fn gives_up_after_the_bounded_retries_and_fails_every_cluster_of_the_batch() {
        let rule =
            mock!(Client::get_metric_data).sequence().error(throttled).http_status(503, None).repeatedly().build();
        let client =
            mock_client!(aws_sdk_cloudwatch, RuleMode::Sequential, [&rule], |c| c.retry_config(crate::retry_config()));
        let found = CloudWatch::new(client).reservations(&names(3), now() - Duration::minutes(10), now()).await;
        assert_eq!(rule.num_calls(), 4, "one call plus three retries");
        for (_, result) in found {
            assert_eq!(result.unwrap_err().operation, "GetMetricData");
        }
    }

    #[tokio::test]
    async fn puts_1001_datapoints_in_two_calls_with_cluster_dimension() {
        let rule = mock!(Client::put_metric_data)
            .match_requests(|input| {
                input.namespace() == Some("Curalate/AutoScaling")
                    && input.metric_data().len() <= MAX_DATUMS_PER_CALL
                    && input.metric_data().iter().all(|d| {
                        d.storage_resolution() == Some(60)
                            && d.dimensions().first().and_then(|dim| dim.name()) == Some("ClusterName")
                    })
            })
            .then_output(|| PutMetricDataOutput::builder().build());
        let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&rule]);
        let metrics: Vec<_> = names(1001)
            .into_iter()
            .map(|cluster| ClusterMetric {
                name: "ScaleStatus",
                cluster,
                value: 1.0,
                unit: MetricUnit::None,
                timestamp: now(),
            })
            .collect();
        let calls = CloudWatch::new(client).put("Curalate/AutoScaling", &metrics).await.unwrap();
        assert_eq!((calls, rule.num_calls()), (2, 2));
    }

    #[test]
    fn query_ids_round_trip() {
        for resource in Resource::ALL {
            assert_eq!(parse_query_id(&query_id(249, resource)), Some((249, resource)));
        }
        assert_eq!(parse_query_id("bogus"), None);
    }
}
