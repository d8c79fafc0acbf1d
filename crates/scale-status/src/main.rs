//! The scale-status Lambda: clients and environment are read once per cold start; the event and the cluster
//! tags are read again every tick, so threshold changes need no redeploy.

use ecs_scaler_aws::{CloudWatch, Ecs};
use ecs_scaler_core::config::EnvConfig;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    ecs_scaler_aws::logging::init();
    let sdk = ecs_scaler_aws::load_sdk_config().await;
    let (metrics, ecs) = (&CloudWatch::from_conf(&sdk), &Ecs::from_conf(&sdk));
    let env = &EnvConfig::from_vars(std::env::vars());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        scale_status::handle(&event.payload, env, metrics, ecs, chrono::Utc::now()).await
    }))
    .await
}
