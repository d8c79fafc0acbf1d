"""Lambda functions the emulator can invoke: HTTP endpoints registered through the control API.

moto can run a Lambda function only inside Docker, and the functions AWS invokes for ecs-scaler
(a custom termination policy, an EventBridge rule's target) are the project's own binaries that
the tests run elsewhere. So a test registers, per function ARN, a URL standing in for the
function: an invocation is ``POST <url>`` with the event JSON as body, and the function's JSON
answer as the response. A non-2xx status, a body that is not JSON or no answer within the
function's timeout is a failed invocation.

Functions are matched by name: ``arn:aws:lambda:us-east-1:123456789012:function:scaler``,
``...:function:scaler:prod`` and ``...:function:scaler:7`` are one function; the qualifier (a
version or an alias) is ignored both when registering and when invoking.

Invocations never run under the gateway's lock: the function under test usually calls the
emulator back (ECS, Auto Scaling) while it runs. Work that needs an invocation is therefore a
``Job``: planned under the lock (``OUTBOX.take``), run outside it (``Job.run``), and its outcome
applied under the lock again (``Job.apply``). gateway.py drives that loop around every request.
"""

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

DEFAULT_TIMEOUT_SECONDS = 3.0  # a Lambda function's default timeout
MAX_TIMEOUT_SECONDS = 900.0

FUNCTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:(?P<name>[A-Za-z0-9_-]{1,64})"
    r"(?::(?P<qualifier>[A-Za-z0-9$_-]{1,128}))?$"
)

# Proxies from the environment must not capture calls to the tests' own local endpoints.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def function_name(arn: str) -> str | None:
    """The function name of a Lambda function ARN (qualified or not), or None if ``arn`` is not one."""
    match = FUNCTION_ARN.match(arn)
    return match["name"] if match else None


@dataclass
class Function:
    arn: str  # as registered
    name: str
    url: str
    timeout_seconds: float

    def describe(self) -> dict[str, Any]:
        return {"arn": self.arn, "name": self.name, "url": self.url, "timeout_seconds": self.timeout_seconds}


@dataclass
class Outcome:
    """What one invocation came to: the function's JSON answer, or why it failed."""

    ok: bool
    status: int | None = None  # the HTTP status, if the endpoint answered
    answer: Any = None  # the parsed JSON answer when ok
    error: str | None = None
    seconds: float = 0.0


class Registry:
    def __init__(self) -> None:
        self.functions: dict[str, Function] = {}

    def register(self, arn: str, url: str, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> Function:
        name = function_name(arn)
        if name is None:
            raise ValueError(f"not a Lambda function ARN: {arn}")
        if not re.match(r"^https?://", url):
            raise ValueError(f"'url' must be an http:// or https:// URL: {url}")
        if not 0 < timeout_seconds <= MAX_TIMEOUT_SECONDS:
            raise ValueError(f"'timeout_seconds' must be in (0, {MAX_TIMEOUT_SECONDS:g}]")
        function = Function(arn, name, url, float(timeout_seconds))
        self.functions[name] = function
        return function

    def lookup(self, arn: str) -> Function | None:
        name = function_name(arn)
        return self.functions.get(name) if name else None

    def reset(self) -> None:
        self.functions.clear()


REGISTRY = Registry()


def invoke(function: Function, payload: Any, timeout: float) -> Outcome:
    """POST ``payload`` to the function's endpoint and wait at most ``timeout`` seconds for its answer."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    request = urllib.request.Request(
        function.url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    started = time.monotonic()
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        return Outcome(False, error.code, error=f"the function failed: HTTP {error.code}", seconds=_since(started))
    except (TimeoutError, urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        if isinstance(reason, TimeoutError) or isinstance(error, TimeoutError):
            return Outcome(False, error=f"the function timed out after {timeout:g} s", seconds=_since(started))
        return Outcome(False, error=f"the function could not be reached: {reason}", seconds=_since(started))
    seconds = _since(started)
    if seconds > timeout:  # an answer trickled in past the deadline
        return Outcome(False, status, error=f"the function timed out after {timeout:g} s", seconds=seconds)
    if not 200 <= status < 300:
        return Outcome(False, status, error=f"the function failed: HTTP {status}", seconds=seconds)
    try:
        answer = json.loads(raw) if raw.strip() else None
    except ValueError:
        return Outcome(False, status, error="the function's answer is not JSON", seconds=seconds)
    return Outcome(True, status, answer, seconds=seconds)


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)


class Job(Protocol):
    """Work that invokes a function: ``run`` outside the gateway's lock, ``apply`` under it."""

    def run(self) -> Outcome: ...

    def apply(self, outcome: Outcome) -> None: ...


class Outbox:
    """Jobs waiting to run: queued ones, and those that sources (e.g. termination retries) find due."""

    def __init__(self) -> None:
        self.queue: list[Job] = []
        self.sources: list[Callable[[], list[Job]]] = []

    def put(self, job: Job) -> None:
        self.queue.append(job)

    def take(self) -> list[Job]:
        """Every job to run now (called under the gateway's lock)."""
        jobs, self.queue = self.queue, []
        for source in self.sources:
            jobs.extend(source())
        return jobs

    def reset(self) -> None:
        self.queue.clear()


OUTBOX = Outbox()
