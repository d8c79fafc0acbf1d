//! A Lambda function as the emulator invokes one: an HTTP endpoint the test serves, whose handler runs the
//! project's own code. The emulator calls it for a group's custom termination policy and for EventBridge rules
//! with a Lambda target (see tests/aws-emulator/README.md): `POST <url>` with the event as the body, the
//! function's JSON answer as the response; an `Err` answers 500, a failed invocation.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

use crate::HarnessError;

/// A served function; stops serving when dropped.
pub struct FunctionUrl {
    url: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FunctionUrl {
    /// Serve `handler` on a local port, one invocation at a time, on a thread of its own (which may run an
    /// async runtime of its own for the handler).
    pub fn serve<F>(mut handler: F) -> Result<Self, HarnessError>
    where
        F: FnMut(Value) -> Result<Value, String> + Send + 'static,
    {
        let server =
            tiny_http::Server::http("127.0.0.1:0").map_err(|e| HarnessError::Spawn(format!("function URL: {e}")))?;
        let port = server.server_addr().to_ip().map(|a| a.port()).unwrap_or_default();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                let Ok(Some(mut request)) = server.recv_timeout(Duration::from_millis(100)) else { continue };
                let mut body = String::new();
                let answer = match request.as_reader().read_to_string(&mut body) {
                    Err(error) => Err(format!("reading the request: {error}")),
                    Ok(_) => serde_json::from_str(&body)
                        .map_err(|e| format!("the event is not JSON: {e}"))
                        .and_then(&mut handler),
                };
                let response = match answer {
                    Ok(value) => tiny_http::Response::from_string(value.to_string()).with_status_code(200),
                    Err(error) => tiny_http::Response::from_string(error).with_status_code(500),
                };
                let _ = request.respond(response);
            }
        });
        Ok(Self { url: format!("http://127.0.0.1:{port}/"), stop, thread: Some(thread) })
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for FunctionUrl {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invocation_gets_the_handler_s_answer_and_an_error_is_a_500() {
        let function = FunctionUrl::serve(|event| match event["n"].as_i64() {
            Some(n) => Ok(serde_json::json!({ "twice": n * 2 })),
            None => Err("no n".into()),
        })
        .unwrap();
        let agent = ureq::Agent::new_with_defaults();
        let mut ok = agent.post(function.url()).send_json(serde_json::json!({"n": 21})).unwrap();
        assert_eq!(ok.body_mut().read_json::<Value>().unwrap(), serde_json::json!({"twice": 42}));
        let failed = agent.post(function.url()).send_json(serde_json::json!({}));
        assert!(failed.is_err(), "{failed:?}");
    }
}
