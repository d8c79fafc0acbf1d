//! `ecs-scaler`: see `ecs-scaler --help`.

use std::process::ExitCode;

use clap::Parser;
use ecs_scaler_cli::{Cli, run};

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("ecs-scaler: {error}");
            ExitCode::FAILURE
        }
    }
}
