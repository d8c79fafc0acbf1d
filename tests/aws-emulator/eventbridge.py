"""EventBridge rules that target Lambda functions, and the ECS service action events ECS emits.

moto 5.2.1 matches events against rules and delivers them to CloudWatch Logs, SQS, archives and
other buses, but a rule's Lambda target is silently skipped (and a DISABLED rule still delivers,
and a scheduled rule, which has no pattern, matches every event). Here:

* an event matching an ENABLED rule is POSTed to each of the rule's Lambda targets that has an
  endpoint registered (lambdas.py), as EventBridge invokes a function: the event itself, or the
  target's ``Input`` (constant JSON) or ``InputPath`` (a JSONPath into the event) or
  ``InputTransformer`` when it has one. Deliveries happen right after the request that produced
  the event, outside the gateway's lock, before that request is answered; each is logged, with
  the function's answer or failure (a target with no endpoint is logged as such, nothing sent).
  There are no retries or dead-letter queues, and scheduled rules never fire;
* ECS service action events, which only ECS emits, are made by the control API
  (``service_action``): the exact AWS envelope (``detail-type: "ECS Service Action"``,
  ``source: "aws.ecs"``, the service ARN in ``resources``, and ``detail`` with ``eventType``,
  ``eventName``, ``clusterArn``, ``reason``, ``createdAt`` and the optional
  ``containerInstanceArns``/``capacityProviderArns``, no ``version``), put on the default bus.
"""

import datetime
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.events.models import Rule, events_backends

import ecs_gaps
import lambdas
import lifecycle

log = logging.getLogger("aws-emulator")

REGION = "us-east-1"
ENABLED_STATES = ("ENABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
SERVICE_ACTION_TYPES = {
    **dict.fromkeys(
        (
            "SERVICE_STEADY_STATE",
            "TASKSET_STEADY_STATE",
            "CAPACITY_PROVIDER_STEADY_STATE",
            "SERVICE_DESIRED_COUNT_UPDATED",
            "TASKS_STOPPED",
            "SERVICE_DEPLOYMENT_IN_PROGRESS",
            "SERVICE_DEPLOYMENT_COMPLETED",
        ),
        "INFO",
    ),
    **dict.fromkeys(
        ("SERVICE_TASK_START_IMPAIRED", "SERVICE_DISCOVERY_INSTANCE_UNHEALTHY", "VPC_LATTICE_TARGET_UNHEALTHY"), "WARN"
    ),
    **dict.fromkeys(
        (
            "SERVICE_DAEMON_PLACEMENT_CONSTRAINT_VIOLATED",
            "ECS_OPERATION_THROTTLED",
            "SERVICE_DISCOVERY_OPERATION_THROTTLED",
            "SERVICE_TASK_PLACEMENT_FAILURE",
            "SERVICE_TASK_CONFIGURATION_FAILURE",
        ),
        "ERROR",
    ),
}
EVENT_FIELDS = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")


def aws_event(message: dict[str, Any]) -> dict[str, Any]:
    """An event as EventBridge hands it to targets, from moto's internal message (epoch ``time``,
    an ``ingestion-time`` of its own)."""
    event = {k: message[k] for k in EVENT_FIELDS if k in message}
    moment = event.get("time")
    if isinstance(moment, (int, float)):
        moment = datetime.datetime.fromtimestamp(moment, datetime.timezone.utc)
    if isinstance(moment, datetime.datetime):
        event["time"] = moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def _payload(target: dict[str, Any], message: dict[str, Any]) -> bytes:
    """What EventBridge sends a target: the event, or the target's Input, InputPath or InputTransformer."""
    event = aws_event(message)
    if target.get("Input") is not None:
        return target["Input"].encode()
    if target.get("InputPath"):
        from jsonpath_ng.ext import parse  # moto's own dependency

        found = parse(target["InputPath"]).find(event)
        return json.dumps(found[0].value if found else None).encode()
    if target.get("InputTransformer"):
        from moto.events.utils import EventTemplateParser

        transformer = target["InputTransformer"]
        try:
            transformed = EventTemplateParser.parse(
                transformer.get("InputTemplate"), transformer.get("InputPathsMap", {}), {**message, **event}
            )
        except ValueError:
            return transformer.get("InputTemplate", "").encode()
        return json.dumps(transformed).encode()
    return json.dumps(event).encode()


@dataclass(eq=False)
class Delivery:
    """One event on its way to one Lambda target (a lambdas.Job)."""

    rule: Rule
    target: dict[str, Any]
    function: lambdas.Function | None
    payload: bytes
    event_id: str | None
    generation: int = 0  # RESETS when planned: a delivery planned before a reset is not logged after it

    def run(self) -> lambdas.Outcome:
        if self.function is None:
            return lambdas.Outcome(False, error=f"no endpoint is registered for {self.target['Arn']}")
        return lambdas.invoke(self.function, self.payload, self.function.timeout_seconds)

    def apply(self, outcome: lambdas.Outcome) -> None:
        if self.generation != RESETS:
            return
        try:
            payload: Any = json.loads(self.payload)
        except ValueError:
            payload = self.payload.decode(errors="replace")
        DELIVERIES.append(
            {
                "rule": self.rule.name,
                "rule_arn": self.rule.arn,
                "target_id": self.target["Id"],
                "function": self.target["Arn"],
                "url": self.function.url if self.function else None,
                "event_id": self.event_id,
                "payload": payload,
                "status": outcome.status,
                "response": outcome.answer if outcome.ok else None,
                "error": outcome.error,
            }
        )


DELIVERIES: list[dict[str, Any]] = []
RESETS = 0

_send_to_targets = Rule.send_to_targets


def _rule_send_to_targets(self: Rule, original_event: dict[str, Any], transform_input: bool = True) -> None:
    """moto's delivery, plus Lambda targets; disabled and scheduled-only rules match nothing."""
    if self.state not in ENABLED_STATES:
        return
    if not self.event_pattern.get_pattern() and self.scheduled_expression:
        return
    if not self.event_pattern.matches_event(original_event):
        return
    targets = self.targets
    functions = [t for t in targets if t["Arn"].split(":")[2:3] == ["lambda"]]
    others = [t for t in targets if t not in functions]
    if others:
        self.targets = others
        try:
            _send_to_targets(self, original_event, transform_input)
        finally:
            self.targets = targets
    for target in functions:
        function = lambdas.REGISTRY.lookup(target["Arn"])
        payload = _payload(target, original_event)
        lambdas.OUTBOX.put(Delivery(self, target, function, payload, original_event.get("id"), RESETS))


def put(message: dict[str, Any], bus_name: str = "default") -> None:
    """Put an event (moto's internal form) on a bus of the default account, as an AWS service does."""
    bus = events_backends[DEFAULT_ACCOUNT_ID][REGION].describe_event_bus(bus_name)
    for rule in list(bus.rules.values()):
        try:
            rule.send_to_targets(dict(message))
        except Exception:  # a broken target (say, a queue that is gone) fails its delivery, not the event
            log.warning("rule %s could not deliver event %s", rule.name, message.get("id"), exc_info=True)


def service_action(
    cluster: str,
    service: str,
    event_name: str,
    reason: str | None,
    event_type: str | None,
    container_instances: list[str] | None,
    capacity_providers: list[str] | None,
    created_at: float | None,
) -> dict[str, Any]:
    """Emit the "ECS Service Action" event ECS would for ``service``; answers the event as delivered."""
    backend = ecs_gaps._backend()
    found = backend._get_service(cluster, service)
    cluster_obj = backend._get_cluster(cluster)
    event_type = event_type or SERVICE_ACTION_TYPES.get(event_name)
    if event_type is None:
        raise ValueError(
            f"unknown event_name {event_name}: give 'event_type' (INFO, WARN or ERROR) for event names the emulator does not know"
        )
    if event_type not in ("INFO", "WARN", "ERROR"):
        raise ValueError("'event_type' must be one of INFO, WARN, ERROR")
    now = lifecycle.CLOCK.now()
    detail: dict[str, Any] = {"eventType": event_type, "eventName": event_name, "clusterArn": cluster_obj.arn}
    if container_instances:
        registered = backend.container_instances.get(cluster_obj.name, {})
        arns = []
        for ref in container_instances:
            instance = registered.get(ref.split("/")[-1])
            if instance is None:
                raise ValueError(f"no container instance {ref} in cluster {cluster_obj.name}")
            arns.append(instance.container_instance_arn)
        detail["containerInstanceArns"] = arns
    if capacity_providers:
        detail["capacityProviderArns"] = capacity_providers
    if reason is not None:
        detail["reason"] = reason
    detail["createdAt"] = lifecycle.iso8601(now if created_at is None else created_at)
    message = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "ECS Service Action",
        "source": "aws.ecs",
        "account": DEFAULT_ACCOUNT_ID,
        "time": now,
        "region": REGION,
        "resources": [found.arn],
        "detail": detail,
        "ingestion-time": now,
    }
    put(message)
    return aws_event(message)


def reset() -> None:
    global RESETS
    RESETS += 1
    DELIVERIES.clear()


def install() -> None:
    """Patch moto's EventBridge rules."""
    Rule.send_to_targets = _rule_send_to_targets
