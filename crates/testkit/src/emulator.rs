//! The project's AWS emulator (moto behind `tests/aws-emulator/emulator.py`) as a Rust value: started on a
//! free port, stopped on drop, and, because it runs with `--exit-with-stdin`, gone even if the test process is
//! killed. See `tests/aws-emulator/README.md` for the control API.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};

use crate::HarnessError;

/// The repository root, where `.venv` and `tests/aws-emulator` live.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python that runs the emulator: `ECS_SCALER_PYTHON`, else the project venv's.
fn python() -> PathBuf {
    std::env::var_os("ECS_SCALER_PYTHON").map_or_else(|| repo_root().join(".venv/bin/python"), PathBuf::from)
}

/// One entry of the emulator's call log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub service: String,
    pub operation: String,
    pub status: u16,
}

/// An error to inject: the next `count` matching requests fail with it.
#[derive(Debug, Clone)]
pub struct Fault {
    pub service: &'static str,
    pub operation: &'static str,
    pub status: u16,
    pub code: &'static str,
    pub message: &'static str,
    pub count: u32,
}

impl Fault {
    /// Throttling, as the SDK sees it after `count` attempts.
    pub fn throttling(service: &'static str, operation: &'static str, count: u32) -> Self {
        Self { service, operation, status: 400, code: "ThrottlingException", message: "Rate exceeded", count }
    }

    /// A 503.
    pub fn unavailable(service: &'static str, operation: &'static str, count: u32) -> Self {
        Self { service, operation, status: 503, code: "ServiceUnavailable", message: "injected by the test", count }
    }

    /// A 400 with this code and message, once: how AWS answers a request it refuses.
    pub fn rejected(service: &'static str, operation: &'static str, code: &'static str, message: &'static str) -> Self {
        Self { service, operation, status: 400, code, message, count: 1 }
    }
}

/// A running emulator. Dropping it stops the process, if this value started it.
#[derive(Debug)]
pub struct Emulator {
    url: String,
    // The process and the pipe whose closing stops it; None when attached to someone else's emulator.
    process: Option<(Child, ChildStdin)>,
}

impl Emulator {
    /// Start a private emulator (for tests that inject faults or move the clock).
    pub fn start() -> Result<Self, HarnessError> {
        let script = repo_root().join("tests/aws-emulator/emulator.py");
        let mut child = Command::new(python())
            .arg(&script)
            .args(["--host", "127.0.0.1", "--port", "0", "--exit-with-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| HarnessError::Spawn(format!("{} {}: {e}", python().display(), script.display())))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(HarnessError::Spawn("emulator pipes were not set up".into()));
        };
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let url = line.trim().to_owned();
        if read.is_err() || !url.starts_with("http://") {
            let _ = child.kill();
            let _ = child.wait();
            return Err(HarnessError::Spawn(format!("emulator printed {line:?} instead of its URL")));
        }
        Ok(Self { url, process: Some((child, stdin)) })
    }

    /// Use an emulator someone else started (e.g. `AWS_ENDPOINT_URL` of `scripts/terraform-checks.sh apply`).
    pub fn attach(url: &str) -> Self {
        Self { url: url.trim_end_matches('/').to_owned(), process: None }
    }

    /// One emulator shared by the tests of a test binary; tests keep apart by using their own resource names.
    /// It exits with the test process, through the stdin pipe.
    pub fn shared() -> &'static Emulator {
        static SHARED: OnceLock<Emulator> = OnceLock::new();
        SHARED.get_or_init(|| match Emulator::start() {
            Ok(emulator) => emulator,
            Err(error) => panic!("cannot start the AWS emulator (run `make venv` first?): {error}"),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Environment for a Lambda binary run against this emulator.
    pub fn lambda_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.url.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEMULATOR"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn control(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, HarnessError> {
        let url = format!("{}/_emulator/{path}", self.url);
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        let response = match (method, body) {
            ("GET", _) => agent.get(&url).call(),
            ("DELETE", _) => agent.delete(&url).call(),
            (_, Some(body)) => agent.post(&url).send_json(body),
            (_, None) => agent.post(&url).send_empty(),
        };
        let mut response = response.map_err(|e| HarnessError::Control(format!("{method} {path}: {e}")))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().map_err(|e| HarnessError::Control(format!("{path}: {e}")))?;
        if status >= 300 {
            return Err(HarnessError::Control(format!("{method} {path}: {status} {text}")));
        }
        serde_json::from_str(&text).map_err(|e| HarnessError::Control(format!("{path}: {e}: {text}")))
    }

    /// Every AWS call served so far, in order.
    pub fn calls(&self) -> Result<Vec<Call>, HarnessError> {
        let log = self.control("GET", "calls", None)?;
        Ok(log["calls"]
            .as_array()
            .map(|calls| {
                calls
                    .iter()
                    .map(|c| Call {
                        service: c["service"].as_str().unwrap_or_default().to_owned(),
                        operation: c["operation"].as_str().unwrap_or_default().to_owned(),
                        status: u16::try_from(c["status"].as_u64().unwrap_or_default()).unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    pub fn clear_calls(&self) -> Result<(), HarnessError> {
        self.control("DELETE", "calls", None).map(drop)
    }

    pub fn inject(&self, fault: &Fault) -> Result<(), HarnessError> {
        let body = json!({
            "service": fault.service, "operation": fault.operation, "status": fault.status,
            "code": fault.code, "message": fault.message, "count": fault.count,
        });
        self.control("POST", "faults", Some(body)).map(drop)
    }

    pub fn clear_faults(&self) -> Result<(), HarnessError> {
        self.control("DELETE", "faults", None).map(drop)
    }

    /// Lifecycle notifications queued since the last call (the messages AWS would publish to SNS).
    pub fn lifecycle_notifications(&self) -> Result<Vec<Value>, HarnessError> {
        let answer = self.control("GET", "autoscaling/lifecycle-notifications", None)?;
        Ok(answer["notifications"].as_array().cloned().unwrap_or_default())
    }

    /// Move the emulator clock (lifecycle heartbeat timeouts) forward.
    pub fn advance_clock(&self, seconds: u64) -> Result<(), HarnessError> {
        self.control("POST", "clock", Some(json!({ "advance_seconds": seconds }))).map(drop)
    }

    /// Append a service event, as the ECS scheduler would.
    pub fn service_event(
        &self,
        cluster: &str,
        service: &str,
        message: &str,
        created_at: f64,
    ) -> Result<(), HarnessError> {
        let body = json!({ "cluster": cluster, "service": service, "message": message, "created_at": created_at });
        self.control("POST", "ecs/service-events", Some(body)).map(drop)
    }

    /// Let the emulator invoke the function `arn` (qualified or not) at `url` (a [`crate::FunctionUrl`]).
    pub fn register_function(&self, arn: &str, url: &str, timeout_seconds: f64) -> Result<(), HarnessError> {
        let body = json!({ "arn": arn, "url": url, "timeout_seconds": timeout_seconds });
        self.control("POST", "lambda/functions", Some(body)).map(drop)
    }

    /// Every custom termination request sent so far: `request`, `response`, `terminated`, `error`.
    pub fn termination_requests(&self) -> Result<Vec<Value>, HarnessError> {
        let answer = self.control("GET", "autoscaling/termination-requests", None)?;
        Ok(answer["requests"].as_array().cloned().unwrap_or_default())
    }

    /// Forget the custom termination requests logged so far.
    pub fn clear_termination_requests(&self) -> Result<(), HarnessError> {
        self.control("DELETE", "autoscaling/termination-requests", None).map(drop)
    }

    /// Put an ECS service action event on the bus (`event_name`, e.g. `SERVICE_TASK_PLACEMENT_FAILURE`); rules
    /// with Lambda targets are delivered to before this returns. Returns the event as delivered.
    pub fn service_action(&self, cluster: &str, service: &str, event_name: &str) -> Result<Value, HarnessError> {
        let body =
            json!({ "cluster": cluster, "service": service, "event_name": event_name, "reason": "RESOURCE:MEMORY" });
        self.control("POST", "ecs/service-action", Some(body))
    }

    /// Every EventBridge delivery to a Lambda target so far: `rule`, `payload`, `status`, `response`, `error`.
    pub fn event_deliveries(&self) -> Result<Vec<Value>, HarnessError> {
        let answer = self.control("GET", "events/deliveries", None)?;
        Ok(answer["deliveries"].as_array().cloned().unwrap_or_default())
    }

    /// Set a task's lastStatus, desiredStatus and/or healthStatus, as ECS would (see [`TaskState`]).
    pub fn task_state(&self, cluster: &str, task: &str, state: &TaskState<'_>) -> Result<(), HarnessError> {
        let mut body = serde_json::to_value(state).map_err(|e| HarnessError::Control(e.to_string()))?;
        body["cluster"] = json!(cluster);
        body["task"] = json!(task);
        self.control("POST", "ecs/task-state", Some(body)).map(drop)
    }
}

/// What to set on a task through the emulator's control API; unset fields are left as they are.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct TaskState<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_status: Option<&'a str>,
}

impl TaskState<'_> {
    /// ECS is stopping the task: desired STOPPED, and its load balancer still draining it (DEACTIVATING).
    pub fn stopping() -> Self {
        Self { last_status: Some("DEACTIVATING"), desired_status: Some("STOPPED"), health_status: None }
    }

    pub fn stopped() -> Self {
        Self { last_status: Some("STOPPED"), ..Self::default() }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some((child, _stdin)) = self.process.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
