"""The control API under ``/_emulator/``: what tests need and AWS has no API for.

JSON in and out, no authentication. It exposes the call log (to count API calls per tick and
to assert that nothing mutating happened), fault injection, the lifecycle notifications AWS
would have published, the emulator clock, the ECS facts only the ECS scheduler and agent can
set in real life (service events, task status and health) or emit (service action events),
the HTTP endpoints standing in for Lambda functions, and what was sent to them (custom
termination requests, EventBridge deliveries). README.md documents each endpoint.
"""

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from moto.core.exceptions import ServiceException
from moto.moto_api._internal.models import moto_api_backend

import ecs_gaps
import eventbridge
import lambdas
import lifecycle
import placement
import scaling
import termination

PREFIX = "/_emulator/"

# SigV4 signing names that differ from the service names the call log and faults use.
SERVICE_ALIASES = {"monitoring": "cloudwatch"}


def service_name(signing_name: str) -> str:
    return SERVICE_ALIASES.get(signing_name, signing_name)


class BadRequest(Exception):
    """A control request the emulator cannot act on; answered 400 with its message."""


@dataclass
class Fault:
    service: str
    operation: str  # "*" matches any operation of the service
    status: int
    code: str
    message: str
    count: int  # how many more matching requests fail


class ControlApi:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self._routes: dict[tuple[str, str], Callable[[dict[str, Any]], Any]] = {
            ("GET", "health"): lambda _: {"ok": True},
            ("GET", "calls"): lambda _: {"calls": list(self.calls)},
            ("DELETE", "calls"): lambda _: self.calls.clear() or {"calls": []},
            ("GET", "faults"): lambda _: {"faults": [asdict(f) for f in self.faults]},
            ("POST", "faults"): self._add_fault,
            ("DELETE", "faults"): lambda _: self.faults.clear() or {"faults": []},
            ("GET", "autoscaling/lifecycle-notifications"): lambda _: {
                "notifications": lifecycle.LIFECYCLE.drain_notifications()
            },
            ("GET", "clock"): lambda _: _clock(lifecycle.CLOCK.now()),
            ("POST", "clock"): self._advance_clock,
            ("POST", "ecs/service-events"): self._add_service_event,
            ("POST", "ecs/task-state"): self._set_task_state,
            ("POST", "ecs/service-action"): self._emit_service_action,
            ("GET", "lambda/functions"): lambda _: {
                "functions": [f.describe() for f in lambdas.REGISTRY.functions.values()]
            },
            ("POST", "lambda/functions"): self._register_function,
            ("DELETE", "lambda/functions"): lambda _: lambdas.REGISTRY.reset() or {"functions": []},
            ("GET", "autoscaling/termination-requests"): lambda _: {
                "requests": list(termination.TERMINATION.requests)
            },
            ("DELETE", "autoscaling/termination-requests"): lambda _: termination.TERMINATION.requests.clear()
            or {"requests": []},
            ("GET", "events/deliveries"): lambda _: {"deliveries": list(eventbridge.DELIVERIES)},
            ("DELETE", "events/deliveries"): lambda _: eventbridge.DELIVERIES.clear() or {"deliveries": []},
            ("POST", "reset"): self._reset,
        }

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """Answer one control request with a status and a JSON document."""
        name = path[len(PREFIX) :].strip("/")
        route = self._routes.get((method, name))
        if route is None:
            if any(n == name for _, n in self._routes):
                return 405, {"error": f"{method} is not supported on {path}"}
            return 404, {"error": f"no control endpoint {path}"}
        try:
            return 200, route(_parse(body))
        except BadRequest as exc:
            return 400, {"error": str(exc)}

    def record(self, service: str, operation: str | None, status: int) -> None:
        self.calls.append({"service": service, "operation": operation, "status": status})

    def take_fault(self, service: str, operation: str | None) -> Fault | None:
        """The fault this request should fail with, if any; each use counts down."""
        for fault in self.faults:
            if fault.service == service and fault.operation in ("*", operation):
                fault.count -= 1
                if fault.count == 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _add_fault(self, body: dict[str, Any]) -> dict[str, Any]:
        fault = Fault(
            service=service_name(_field(body, "service", str)),
            operation=_field(body, "operation", str, "*"),
            status=_field(body, "status", int, 400),
            code=_field(body, "code", str),
            message=_field(body, "message", str, ""),
            count=_field(body, "count", int, 1),
        )
        if not 400 <= fault.status <= 599:
            raise BadRequest("'status' must be an HTTP error status (400-599)")
        if fault.count < 1:
            raise BadRequest("'count' must be at least 1")
        self.faults.append(fault)
        return asdict(fault)

    def _advance_clock(self, body: dict[str, Any]) -> dict[str, Any]:
        seconds = _field(body, "advance_seconds", (int, float))
        if seconds < 0:
            raise BadRequest("'advance_seconds' must not be negative: the clock only moves forward")
        now = lifecycle.CLOCK.advance(seconds)
        lifecycle.LIFECYCLE.expire_overdue()
        return _clock(now)

    def _add_service_event(self, body: dict[str, Any]) -> dict[str, Any]:
        event = _moto(
            ecs_gaps.add_service_event,
            _field(body, "cluster", str),
            _field(body, "service", str),
            _field(body, "message", str),
            _field(body, "created_at", (int, float), time.time()),
        )
        return {**event, "createdAt": event["createdAt"].timestamp()}

    def _set_task_state(self, body: dict[str, Any]) -> dict[str, Any]:
        last_status = _field(body, "last_status", str, None)
        desired_status = _field(body, "desired_status", str, None)
        health_status = _field(body, "health_status", str, None)
        if last_status is None and desired_status is None and health_status is None:
            raise BadRequest("give 'last_status', 'desired_status' and/or 'health_status'")
        if last_status not in (None, *ecs_gaps.TASK_STATUSES):
            raise BadRequest(f"'last_status' must be one of {', '.join(ecs_gaps.TASK_STATUSES)}")
        if desired_status not in (None, *ecs_gaps.DESIRED_STATUSES):
            raise BadRequest(f"'desired_status' must be one of {', '.join(ecs_gaps.DESIRED_STATUSES)}")
        if health_status not in (None, *ecs_gaps.HEALTH_STATUSES):
            raise BadRequest(f"'health_status' must be one of {', '.join(ecs_gaps.HEALTH_STATUSES)}")
        task = _moto(
            ecs_gaps.set_task_state,
            _field(body, "cluster", str),
            _field(body, "task", str),
            last_status,
            health_status,
            desired_status,
        )
        return {
            "taskArn": task.task_arn,
            "lastStatus": task.last_status,
            "desiredStatus": task.desired_status,
            "healthStatus": task.health_status,
        }

    def _register_function(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            function = lambdas.REGISTRY.register(
                _field(body, "arn", str),
                _field(body, "url", str),
                _field(body, "timeout_seconds", (int, float), lambdas.DEFAULT_TIMEOUT_SECONDS),
            )
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        return function.describe()

    def _emit_service_action(self, body: dict[str, Any]) -> dict[str, Any]:
        container_instances = _field(body, "container_instances", list, None)
        capacity_providers = _field(body, "capacity_providers", list, None)
        for name, values in (("container_instances", container_instances), ("capacity_providers", capacity_providers)):
            if values is not None and not all(isinstance(v, str) for v in values):
                raise BadRequest(f"'{name}' must be a list of strings")
        try:
            return _moto(
                eventbridge.service_action,
                _field(body, "cluster", str),
                _field(body, "service", str),
                _field(body, "event_name", str),
                _field(body, "reason", str, None),
                _field(body, "event_type", str, None),
                container_instances,
                capacity_providers,
                _field(body, "created_at", (int, float), None),
            )
        except ValueError as exc:
            raise BadRequest(str(exc)) from None

    def _reset(self, _: dict[str, Any]) -> dict[str, Any]:
        """Forget everything: moto's backends, the call log, faults, lifecycle, scaling, termination and
        EventBridge state, registered functions, the clock offset; RunTask's random placement starts over."""
        moto_api_backend.reset()
        lifecycle.LIFECYCLE.reset()
        lifecycle.CLOCK.reset()
        scaling.reset()
        placement.reset()
        termination.TERMINATION.reset()
        eventbridge.reset()
        lambdas.REGISTRY.reset()
        lambdas.OUTBOX.reset()
        self.calls.clear()
        self.faults.clear()
        return {"ok": True}


_REQUIRED = object()


def _field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = _REQUIRED) -> Any:
    value = body.get(name)
    if value is None:
        if default is _REQUIRED:
            raise BadRequest(f"missing field '{name}'")
        return default
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BadRequest(f"field '{name}' has the wrong type: {json.dumps(value)}")
    return value


def _parse(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise BadRequest(f"body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise BadRequest("body must be a JSON object")
    return document


def _moto(operation: Callable[..., Any], *args: Any) -> Any:
    """Run a backend operation, turning moto's not-found errors into a 400 that names them."""
    try:
        return operation(*args)
    except ServiceException as exc:
        raise BadRequest(f"{exc.code}: {exc.message}") from None


def _clock(now: float) -> dict[str, Any]:
    return {"now": lifecycle.iso8601(now), "epoch_seconds": now, "offset_seconds": lifecycle.CLOCK.offset}
