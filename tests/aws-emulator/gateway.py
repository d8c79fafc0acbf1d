"""The WSGI gateway in front of moto's server app.

moto's own server (``moto.server``) is ``DomainDispatcherApplication(create_backend_app)``:
it picks a backend from the SigV4 credential scope of each request. The gateway wraps that
same app and, for every request:

1. applies overdue lifecycle timeouts (lifecycle.py evaluates them lazily);
2. runs the Lambda invocations now due (``settle``, below);
3. answers ``/_emulator/*`` itself (control.py);
4. otherwise identifies the AWS call (service, operation, wire protocol), fails it if a
   fault is armed for it, routes rpc-v2-cbor calls through cbor_bridge.py and everything
   else straight to moto, and records the call with its status in the call log;
5. runs the invocations the request made necessary (a custom termination function asked
   about a scale-in, events delivered to Lambda targets) before answering it.

Requests are handled one at a time under a lock: moto's backends are not thread-safe, the
call log's order then is the order requests were served, and tests are no load test. Lambda
invocations (lambdas.py) run outside the lock: the function under test calls the emulator back
while it runs, and those calls are served meanwhile (the server is threaded).
"""

import io
import json
import logging
import re
import threading
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request

import cbor_bridge
import cloudwatch_gaps
import control
import ec2_gaps
import ecs_gaps
import eventbridge
import lambdas
import lifecycle
import placement
import scaling
import termination

log = logging.getLogger("aws-emulator")

Response = tuple[int, list[tuple[str, str]], bytes]

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/(?P<service>[^/]+)/aws4_request")


@dataclass(frozen=True)
class Call:
    """What the gateway knows about one AWS request."""

    signing_name: str  # the credential scope's service, e.g. "monitoring"
    service: str  # the name used in the call log and faults, e.g. "cloudwatch"
    operation: str | None
    protocol: str  # "cbor", "json", "query" or "rest"
    content_type: str
    api_version: str | None  # the query protocol's Version parameter


def identify(environ: dict[str, Any], body: bytes) -> Call | None:
    """Service, operation and protocol of a signed AWS request (None for anything else)."""
    scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if scope is None:
        return None
    content_type = environ.get("CONTENT_TYPE", "")
    params = parse_qs(environ.get("QUERY_STRING", ""))
    if content_type.startswith("application/x-www-form-urlencoded"):
        params.update(parse_qs(body.decode(errors="replace")))
    target = environ.get("HTTP_X_AMZ_TARGET")
    cbor_path = cbor_bridge.PATH.match(environ.get("PATH_INFO", ""))
    if cbor_path:
        protocol, operation = "cbor", cbor_path["operation"]
    elif target:
        protocol, operation = "json", target.rsplit(".", 1)[-1]
    elif "Action" in params:
        protocol, operation = "query", params["Action"][0]
    else:
        protocol, operation = "rest", None
    return Call(
        signing_name=scope["service"],
        service=control.service_name(scope["service"]),
        operation=operation,
        protocol=protocol,
        content_type=content_type,
        api_version=params.get("Version", [None])[0],
    )


def error_response(call: Call, status: int, code: str, message: str) -> Response:
    """An AWS error in the wire format of the request it answers."""
    request_id = str(uuid.uuid4())
    if call.protocol == "cbor":
        return cbor_bridge.error(status, code, message, [("x-amzn-RequestId", request_id)])
    if call.protocol == "query":
        namespace = f"http://{call.signing_name}.amazonaws.com/doc/{call.api_version}/"
        fault = "Receiver" if status >= 500 else "Sender"
        xml = (
            f'<ErrorResponse xmlns="{namespace}"><Error><Type>{fault}</Type><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], xml.encode()
    # JSON protocols (and, as the best guess, REST ones).
    content_type = call.content_type if call.content_type.startswith("application/x-amz-json") else "application/json"
    headers = [("Content-Type", content_type), ("x-amzn-ErrorType", code), ("x-amzn-RequestId", request_id)]
    return status, headers, json.dumps({"__type": code, "message": message}).encode()


class Gateway:
    def __init__(self, moto_app: Any):
        self.moto_app = moto_app
        self.control = control.ControlApi()
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = Request(environ).get_data()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        path = environ.get("PATH_INFO", "")
        self.settle()
        with self.lock:
            lifecycle.LIFECYCLE.expire_overdue()
            if path.startswith(control.PREFIX):
                status, document = self.control.handle(environ["REQUEST_METHOD"], path, body)
                response = status, [("Content-Type", "application/json")], json.dumps(document, default=str).encode()
                log.info("control %s %s -> %s", environ["REQUEST_METHOD"], path, status)
            else:
                call = identify(environ, body)
                response = self._aws(environ, body, call)
                if call is not None:
                    self.control.record(call.service, call.operation, response[0])
                    log.info("%s %s (%s) -> %s", call.service, call.operation, call.protocol, response[0])
        self.settle()
        status, headers, payload = response
        headers = [(k, v) for k, v in headers if k.lower() not in ("content-length", "status")]
        headers.append(("Content-Length", str(len(payload))))
        start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'Unknown')}", headers)
        return [payload]

    def settle(self, rounds: int = 10) -> None:
        """Run the Lambda invocations that are due: planned and applied under the lock, run outside it.

        A round's outcomes can make more work due (a termination that needs another function call
        is retried only after 10 s of emulator clock, so this stops); ``rounds`` bounds it anyway.
        """
        for _ in range(rounds):
            with self.lock:
                lifecycle.LIFECYCLE.expire_overdue()
                jobs = lambdas.OUTBOX.take()
            if not jobs:
                return
            outcomes = []
            for job in jobs:
                try:
                    outcomes.append(job.run())
                except Exception as exc:  # never let one invocation take the request down
                    log.exception("a Lambda invocation failed inside the emulator")
                    outcomes.append(lambdas.Outcome(False, error=f"the emulator failed to invoke: {exc!r}"))
            with self.lock:
                for job, outcome in zip(jobs, outcomes):
                    try:
                        job.apply(outcome)
                    except Exception:
                        log.exception("applying a Lambda invocation's outcome failed")

    def _aws(self, environ: dict[str, Any], body: bytes, call: Call | None) -> Response:
        if call is None:  # unsigned: moto's own endpoints, instance metadata
            return self.forward(environ)
        fault = self.control.take_fault(call.service, call.operation)
        if fault is not None:
            return error_response(call, fault.status, fault.code, fault.message)
        try:
            if call.protocol == "cbor":
                return cbor_bridge.handle(self.forward, environ, body)
            return self.forward(environ)
        except Exception as exc:  # moto raises (e.g. NotImplementedError) rather than answering
            log.exception("%s.%s failed inside the emulator", call.service, call.operation)
            return error_response(call, 500, "InternalFailure", f"the emulator failed: {exc!r}")

    def forward(self, environ: dict[str, Any]) -> Response:
        """Run a request through moto and collect its whole response."""
        started: list[Any] = []
        chunks = self.moto_app(environ, lambda status, headers, exc_info=None: started.extend((status, headers)))
        try:
            payload = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
        status, headers = started
        return int(status.split(" ", 1)[0]), list(headers), payload


def build_app() -> Gateway:
    """moto's server app with the emulator's patches installed, behind the gateway."""
    lifecycle.install()
    scaling.install()
    termination.install()  # wraps what lifecycle and scaling patched
    ecs_gaps.install()
    placement.install()  # wraps what ecs_gaps patched
    ec2_gaps.install()
    cloudwatch_gaps.install()
    eventbridge.install()
    return Gateway(DomainDispatcherApplication(create_backend_app))
