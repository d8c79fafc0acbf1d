//! Run a packaged Lambda (`target/lambda/<fn>/bootstrap.zip`) as AWS would: a fresh process talking to a Runtime
//! API, here a local one serving exactly one invocation. Used by the demo and the benchmark, which measure the
//! real release binary: cold start (process start to first response) and peak RSS.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::HarnessError;
use crate::emulator::repo_root;

/// The result of one invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The handler's response, or its error diagnostic.
    pub payload: Value,
    pub is_error: bool,
    /// Process start to the Runtime API's first `next` call.
    pub init: Duration,
    /// Process start to the response.
    pub cold_start: Duration,
    /// Peak resident set (VmHWM) just after the response, in KiB.
    pub peak_rss_kib: Option<u64>,
    /// What the function logged (one JSON object per line).
    pub logs: String,
}

/// Extract the `bootstrap` of a packaged function into a fresh directory. Returns its path.
pub fn bootstrap(function: &str) -> Result<PathBuf, HarnessError> {
    let zip = repo_root().join(format!("target/lambda/{function}/bootstrap.zip"));
    let unreadable = |e: &dyn std::fmt::Display| HarnessError::Spawn(format!("{}: {e}", zip.display()));
    let file = std::fs::File::open(&zip)
        .map_err(|e| HarnessError::Spawn(format!("{} cannot be read (run `make package`): {e}", zip.display())))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| unreadable(&e))?;
    let mut entry = archive.by_name("bootstrap").map_err(|_| unreadable(&"holds no bootstrap"))?;
    let dir = std::env::temp_dir().join(format!("ecs-scaler-{function}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| unreadable(&e))?;
    let binary = dir.join("bootstrap");
    let mut out = std::fs::File::create(&binary).map_err(|e| unreadable(&e))?;
    std::io::copy(&mut entry, &mut out).map_err(|e| unreadable(&e))?;
    make_executable(&binary)?;
    Ok(binary)
}

fn make_executable(path: &Path) -> Result<(), HarnessError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| HarnessError::Spawn(format!("chmod {}: {e}", path.display())))
}

/// Start `binary` with `env` against a one-shot Runtime API, hand it `event`, and wait for its answer.
/// `timeout` is the function's timeout: the invocation's deadline, and how long we wait.
pub fn invoke(
    binary: &Path,
    env: &[(String, String)],
    event: &Value,
    timeout: Duration,
) -> Result<Invocation, HarnessError> {
    let server =
        tiny_http::Server::http("127.0.0.1:0").map_err(|e| HarnessError::Spawn(format!("runtime API: {e}")))?;
    let port = server.server_addr().to_ip().map(|a| a.port()).unwrap_or_default();
    let logs = tempfile(binary)?;
    let log_file = std::fs::File::create(&logs).map_err(|e| HarnessError::Spawn(e.to_string()))?;
    let log_err = log_file.try_clone().map_err(|e| HarnessError::Spawn(e.to_string()))?;
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", binary_name(binary))
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .stdout(Stdio::from(log_file))
        .stderr(Stdio::from(log_err))
        .spawn()
        .map_err(|e| HarnessError::Spawn(format!("{}: {e}", binary.display())))?;

    let mut init = None;
    let mut answer = None;
    let deadline = started + timeout + Duration::from_secs(5);
    while answer.is_none() && Instant::now() < deadline {
        let Ok(Some(mut request)) = server.recv_timeout(Duration::from_millis(200)) else { continue };
        let url = request.url().to_owned();
        if url.ends_with("/runtime/invocation/next") && init.is_none() {
            init = Some(started.elapsed());
            let now_ms =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
            let deadline_ms = now_ms.saturating_add(timeout.as_millis());
            let headers = [
                ("Lambda-Runtime-Aws-Request-Id", "8476a536-e9f4-11e8-9739-2dfe598c3fcd".to_owned()),
                ("Lambda-Runtime-Deadline-Ms", deadline_ms.to_string()),
                (
                    "Lambda-Runtime-Invoked-Function-Arn",
                    format!("arn:aws:lambda:us-east-1:123456789012:function:{}", binary_name(binary)),
                ),
                (
                    "Lambda-Runtime-Trace-Id",
                    "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1".to_owned(),
                ),
                ("Content-Type", "application/json".to_owned()),
            ];
            let mut response = tiny_http::Response::from_string(event.to_string());
            for (name, value) in headers {
                if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                    response.add_header(header);
                }
            }
            let _ = request.respond(response);
        } else if url.ends_with("/response") || url.ends_with("/error") {
            let mut body = String::new();
            let _ = request.as_reader().read_to_string(&mut body);
            let rss = peak_rss_kib(child.id());
            let _ = request.respond(tiny_http::Response::empty(202));
            let payload = serde_json::from_str(&body).unwrap_or(Value::String(body));
            answer = Some((payload, url.ends_with("/error"), started.elapsed(), rss));
        }
        // A second `next` (the runtime waiting for more work) is left unanswered; the process is stopped below.
    }
    let _ = child.kill();
    let _ = child.wait();
    let logs_text = std::fs::read_to_string(&logs).unwrap_or_default();
    let _ = std::fs::remove_file(&logs);
    let Some((payload, is_error, cold_start, peak_rss_kib)) = answer else {
        return Err(HarnessError::Spawn(format!(
            "{} gave no answer within {timeout:?}; its log:\n{logs_text}",
            binary.display()
        )));
    };
    Ok(Invocation { payload, is_error, init: init.unwrap_or(cold_start), cold_start, peak_rss_kib, logs: logs_text })
}

fn binary_name(binary: &Path) -> String {
    binary
        .parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "function".into())
}

fn tempfile(binary: &Path) -> Result<PathBuf, HarnessError> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    Ok(std::env::temp_dir().join(format!("{}-{}-{nanos}.log", binary_name(binary), std::process::id())))
}

/// VmHWM of a process, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
