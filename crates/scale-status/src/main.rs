//! The scale-status Lambda: clients and environment are read once per cold start; the event and the cluster
//! tags are read again every tick, so threshold changes need no redeploy.

use ecs_scaler_aws::{AutoScaling, CloudWatch, SystemClock};
use ecs_scaler_core::config::EnvConfig;
use ecs_scaler_core::ports::Context;
use ecs_scaler_core::scale::memory::Memory;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    ecs_scaler_aws::logging::init();
    let sdk = ecs_scaler_aws::load_sdk_config().await;
    // ECS calls are metered (a share of each ECS throttling bucket); the rest go as they are.
    let (ecs, budget_error) = ecs_scaler_aws::lambda_ecs(&sdk);
    let (autoscaling, metrics) = (AutoScaling::from_conf(&sdk), CloudWatch::from_conf(&sdk));
    let ec2 = ecs_scaler_aws::Ec2::from_conf(&sdk);
    let ctx = Context { ecs: &ecs, autoscaling: &autoscaling, ec2: &ec2, metrics: &metrics, clock: &SystemClock };
    let env = &EnvConfig::from_vars(std::env::vars());
    // What the warm process remembers between invocations: task definitions, verdicts nothing has changed
    // since, clusters a tick deferred. A cold start only costs one read of each cluster from scratch.
    let memory = &Memory::default();
    let budget_error = &budget_error;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        if let Some(error) = budget_error {
            return Err(scale_status::Error::Setting(error.clone()));
        }
        scale_status::respond_with(&event.payload, env, ctx, memory).await
    }))
    .await
}
