//! The drain-hook Lambda: clients and settings are built once per cold start; every invocation reads the
//! current state of the groups and clusters again.

#![recursion_limit = "256"]

use ecs_scaler_aws::{AutoScaling, CloudWatch, Ecs, SystemClock};
use ecs_scaler_core::drain::DrainSettings;
use ecs_scaler_core::ports::Context;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    ecs_scaler_aws::logging::init();
    let sdk = ecs_scaler_aws::load_sdk_config().await;
    let (ecs, autoscaling, metrics) = (Ecs::from_conf(&sdk), AutoScaling::from_conf(&sdk), CloudWatch::from_conf(&sdk));
    let ec2 = ecs_scaler_aws::Ec2::from_conf(&sdk);
    let ctx = Context { ecs: &ecs, autoscaling: &autoscaling, ec2: &ec2, metrics: &metrics, clock: &SystemClock };
    // A bad setting fails every invocation with a clear error (and no AWS call) rather than the cold start.
    let settings = &DrainSettings::from_vars(std::env::vars());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let settings = settings.as_ref().map_err(|e| drain_hook::DrainError::Config(e.clone()))?;
        let deadline = drain_hook::deadline_instant(event.context.deadline);
        drain_hook::respond(&event.payload, settings, ctx, deadline).await
    }))
    .await
}
