//! The drain-hook Lambda: clients and settings are built once per cold start; every invocation reads the
//! current state of the groups and clusters again.

#![recursion_limit = "256"]

use ecs_scaler_aws::{AutoScaling, CloudWatch, SystemClock};
use ecs_scaler_core::drain::DrainSettings;
use ecs_scaler_core::ports::Context;
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
    // A bad setting fails every invocation with a clear error (and no AWS call) rather than the cold start.
    let settings = &DrainSettings::from_vars(std::env::vars());
    let budget_error = &budget_error;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        if let Some(error) = budget_error {
            return Err(drain_hook::DrainError::Setting(error.clone()));
        }
        let settings = settings.as_ref().map_err(|e| drain_hook::DrainError::Config(e.clone()))?;
        let deadline = drain_hook::deadline_instant(event.context.deadline);
        drain_hook::respond(&event.payload, settings, ctx, deadline).await
    }))
    .await
}
