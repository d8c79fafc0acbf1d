"""Custom termination policies: a Lambda function first in a group's TerminationPolicies.

moto 5.2.1 accepts a Lambda ARN in TerminationPolicies, echoes it back, and never calls it:
scale-in removes the first unprotected instances in list order whatever the policies say (and
UpdateAutoScalingGroup ignored TerminationPolicies altogether). Here, when a group's first
termination policy is a Lambda function ARN and its desired capacity drops below its number of
InService instances (SetDesiredCapacity, UpdateAutoScalingGroup, ExecutePolicy), Auto Scaling's
side of the contract (AWS user guide, "Create a custom termination policy with Lambda") is played:

* the instances stay; the group asks the function (lambdas.py: the endpoint a test registered
  for that ARN) with AWS's request: ``AutoScalingGroupARN``, ``AutoScalingGroupName``,
  ``CapacityToTerminate`` (per zone, ``InstanceMarketOption: "on-demand"``), ``Instances`` (the
  InService instances not protected from scale-in that keep the zones balanced: only those of the
  most loaded zones when they are unbalanced, all when balanced) and ``Cause: "SCALE_IN"``, with
  AWS's 2 s limit on the function's run time;
* it terminates the instances the answer's ``InstanceIDs`` names that are InService, unprotected
  members of the group, at most as many as the excess, first ones in the group's order when
  more are named (AWS would choose among them with the next termination policies), through the
  termination lifecycle hooks exactly as a scale-in (Terminating:Wait when the group has one);
* IDs that are not such members are ignored; an answer naming too few, none, a failure, a
  timeout or a function with no registered endpoint terminates what it can, and the rest of the
  excess stays pending: the function is asked again, no more often than every 10 s of emulator
  clock (checked lazily, before and after every request to the emulator), as long as desired
  capacity is below the InService count. There is no fallback to the default policy, as in AWS.

Every request sent, its answer or failure and what it terminated is logged for the control API.
TerminationPolicies are validated as AWS documents them (one Lambda at most, and first; no
``$LATEST`` qualifier), and UpdateAutoScalingGroup now applies them.
"""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.models import AutoScalingBackend, FakeAutoScalingGroup, InstanceState
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult

import lambdas
import lifecycle
from lifecycle import CLOCK, LIFECYCLE

RETRY_SECONDS = 10.0
MAX_RUN_SECONDS = 2.0  # AWS's limit on a custom termination function's run time
NAMED_POLICIES = (
    "Default",
    "AllocationStrategy",
    "ClosestToNextInstanceHour",
    "NewestInstance",
    "OldestInstance",
    "OldestLaunchConfiguration",
    "OldestLaunchTemplate",
)


def custom_function(group: FakeAutoScalingGroup) -> str | None:
    """The Lambda ARN first in the group's TerminationPolicies, if there is one."""
    policies = group.termination_policies or []
    return policies[0] if policies and lambdas.function_name(policies[0]) else None


def validate_policies(policies: list[str]) -> None:
    functions = [p for p in policies if p.startswith("arn:")]
    for policy in policies:
        if policy not in NAMED_POLICIES and lambdas.function_name(policy) is None:
            raise ValidationError(f"Unsupported termination policy: {policy}")
    if len(functions) > 1:
        raise ValidationError("Only one Lambda function can be specified in TerminationPolicies")
    if functions and policies[0] != functions[0]:
        raise ValidationError("A Lambda function in TerminationPolicies must be the first termination policy")
    if functions and functions[0].endswith(":$LATEST"):
        raise ValidationError("The $LATEST version of a Lambda function cannot be used as a termination policy")


def _eligible(group: FakeAutoScalingGroup) -> list[InstanceState]:
    return [s for s in group.active_instances() if not s.protected_from_scale_in]


def _excess(group: FakeAutoScalingGroup) -> int:
    return len(group.active_instances()) - (group.desired_capacity or 0)


def build_request(group: FakeAutoScalingGroup) -> dict[str, Any]:
    """AWS's request for the instances to terminate, balancing Availability Zones first.

    One instance at a time is taken from the zone that has the most InService instances (ties:
    the group's zone order); ``Instances`` lists the eligible instances of every zone that was
    a candidate for one of them, so unbalanced zones are offered alone and balanced ones together.
    """
    eligible = _eligible(group)
    count = min(_excess(group), len(eligible))
    zones = list(dict.fromkeys(group.availability_zones))
    zones += sorted({s.instance.availability_zone for s in group.active_instances()} - set(zones))
    loaded = Counter(s.instance.availability_zone for s in group.active_instances())
    left = Counter(s.instance.availability_zone for s in eligible)
    capacity: Counter = Counter()
    candidates: set[str] = set()
    for _ in range(count):
        open_zones = [z for z in zones if left[z] > 0]
        top = max(loaded[z] for z in open_zones)
        tied = [z for z in open_zones if loaded[z] == top]
        candidates.update(tied)
        capacity[tied[0]] += 1
        loaded[tied[0]] -= 1
        left[tied[0]] -= 1
    return {
        "AutoScalingGroupARN": group.arn,
        "AutoScalingGroupName": group.name,
        "CapacityToTerminate": [
            {"AvailabilityZone": z, "Capacity": capacity[z], "InstanceMarketOption": "on-demand"}
            for z in zones
            if capacity[z]
        ],
        "Instances": [
            {
                "AvailabilityZone": s.instance.availability_zone,
                "InstanceId": s.instance.id,
                "InstanceType": s.instance_type,
                "InstanceMarketOption": "on-demand",
            }
            for s in eligible
            if s.instance.availability_zone in candidates
        ],
        "Cause": "SCALE_IN",
    }


def terminate(group: FakeAutoScalingGroup, states: list[InstanceState]) -> None:
    """Terminate chosen instances as a scale-in does: Terminating:Wait if the group has a termination hook."""
    if not states:
        return
    hooks = lifecycle._termination_hooks(group)
    for state in states:
        group.instance_states.remove(state)
        if hooks:
            LIFECYCLE.park(group, state, hooks)
    if not hooks:
        group.autoscaling_backend.ec2_backend.terminate_instances([s.instance.id for s in states])
    group.autoscaling_backend.update_attached_elbs(group.name)
    group.autoscaling_backend.update_attached_target_groups(group.name)


@dataclass(eq=False)
class Pending:
    """A group whose desired capacity is below its InService count, waiting on its function."""

    group: FakeAutoScalingGroup
    next_attempt: float
    in_flight: bool = False


@dataclass(eq=False)
class Invocation:
    """One request to a group's termination function (a lambdas.Job)."""

    termination: "Termination"
    pending: Pending
    function_arn: str
    function: lambdas.Function | None
    request: dict[str, Any]
    started: float  # on CLOCK
    log: dict[str, Any] = field(default_factory=dict)

    def run(self) -> lambdas.Outcome:
        if self.function is None:
            return lambdas.Outcome(False, error=f"no endpoint is registered for {self.function_arn}")
        return lambdas.invoke(self.function, self.request, min(MAX_RUN_SECONDS, self.function.timeout_seconds))

    def apply(self, outcome: lambdas.Outcome) -> None:
        self.termination.apply(self, outcome)


class Termination:
    def __init__(self) -> None:
        self.pending: dict[int, Pending] = {}  # by id() of the group
        self.requests: list[dict[str, Any]] = []

    def reset(self) -> None:
        self.pending.clear()
        self.requests.clear()

    def scale_in(self, group: FakeAutoScalingGroup, lowered: bool) -> None:
        """A scale-in for the group's function to decide. A new one (desired capacity lowered) asks it at
        once; otherwise the retry schedule stands."""
        pending = self.pending.setdefault(id(group), Pending(group, CLOCK.now()))
        if lowered:
            pending.next_attempt = min(pending.next_attempt, CLOCK.now())

    def due(self) -> list[lambdas.Job]:
        """The invocations to make now; groups with nothing left to terminate drop out."""
        now = CLOCK.now()
        jobs: list[lambdas.Job] = []
        for key, pending in list(self.pending.items()):
            group = pending.group
            if group.autoscaling_backend.autoscaling_groups.get(group.name) is not group or _excess(group) <= 0:
                del self.pending[key]
                continue
            if pending.in_flight or now < pending.next_attempt or not _eligible(group):
                continue
            function_arn = custom_function(group)
            if function_arn is None:  # the policies changed: the group's own policies apply now
                del self.pending[key]
                group.set_desired_capacity(group.desired_capacity)
                continue
            pending.in_flight = True
            function = lambdas.REGISTRY.lookup(function_arn)
            jobs.append(Invocation(self, pending, function_arn, function, build_request(group), now))
        return jobs

    def apply(self, invocation: Invocation, outcome: lambdas.Outcome) -> None:
        pending, group = invocation.pending, invocation.pending.group
        pending.in_flight = False
        if self.pending.get(id(group)) is not pending:  # reset, or the group is gone
            return
        entry: dict[str, Any] = {
            "time": lifecycle.iso8601(invocation.started),
            "group": group.name,
            "function": invocation.function_arn,
            "url": invocation.function.url if invocation.function else None,
            "request": invocation.request,
            "response": outcome.answer if outcome.ok else None,
            "error": outcome.error,
            "seconds": outcome.seconds,
            "terminated": [],
        }
        named = _instance_ids(outcome.answer) if outcome.ok else None
        if outcome.ok and named is None:
            entry["error"] = 'the answer has no "InstanceIDs" list of instance IDs'
        if named:
            count = max(_excess(group), 0)
            chosen = [s for s in _eligible(group) if s.instance.id in named][:count]
            terminate(group, chosen)
            entry["terminated"] = [s.instance.id for s in chosen]
        self.requests.append(entry)
        if _excess(group) > 0:
            pending.next_attempt = invocation.started + RETRY_SECONDS
        else:
            del self.pending[id(group)]


def _instance_ids(answer: Any) -> list[str] | None:
    """The answer's ``InstanceIDs`` (absent or null: no instances), or None if the answer is malformed."""
    if not isinstance(answer, dict):
        return None
    ids = answer.get("InstanceIDs")
    if ids is None:
        return []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return None
    return ids


TERMINATION = Termination()


# --- Patches ----------------------------------------------------------------------------------

_set_desired_capacity = FakeAutoScalingGroup.set_desired_capacity
_delete_auto_scaling_group = AutoScalingBackend.delete_auto_scaling_group
_create_auto_scaling_group = AutoScalingResponse.create_auto_scaling_group
_update_auto_scaling_group = AutoScalingResponse.update_auto_scaling_group


def _group_set_desired_capacity(self: FakeAutoScalingGroup, new_capacity: int | None) -> None:
    """A scale-in of a group with a custom termination function keeps its instances until the function names them."""
    target = (self.min_size if new_capacity is None else new_capacity) or 0
    if getattr(self, "deleting", False) or custom_function(self) is None or target >= len(self.active_instances()):
        return _set_desired_capacity(self, new_capacity)
    lowered = target < (self.desired_capacity or 0)
    self.desired_capacity = target
    TERMINATION.scale_in(self, lowered)
    if self.name in self.autoscaling_backend.autoscaling_groups:
        self.autoscaling_backend.update_attached_elbs(self.name)
        self.autoscaling_backend.update_attached_target_groups(self.name)


def _backend_delete_auto_scaling_group(self: AutoScalingBackend, group_name: str) -> None:
    """Deleting a group terminates its instances without asking its function."""
    group = self.autoscaling_groups.get(group_name)
    if group is not None:
        group.deleting = True
        TERMINATION.pending.pop(id(group), None)
    _delete_auto_scaling_group(self, group_name)


def _response_create_auto_scaling_group(self: AutoScalingResponse) -> ActionResult:
    validate_policies(self._get_param("TerminationPolicies", []))
    return _create_auto_scaling_group(self)


def _response_update_auto_scaling_group(self: AutoScalingResponse) -> ActionResult:
    """UpdateAutoScalingGroup's TerminationPolicies (moto ignored them), applied before any resize."""
    policies = self._get_param("TerminationPolicies")
    group = self.autoscaling_backend.autoscaling_groups.get(self._get_param("AutoScalingGroupName"))
    if policies and group is not None:
        validate_policies(policies)
        group.termination_policies = policies
    return _update_auto_scaling_group(self)


def install() -> None:
    """Patch moto's autoscaling models and responses (after lifecycle.install and scaling.install)."""
    global _set_desired_capacity, _delete_auto_scaling_group, _create_auto_scaling_group, _update_auto_scaling_group
    _set_desired_capacity = FakeAutoScalingGroup.set_desired_capacity
    _delete_auto_scaling_group = AutoScalingBackend.delete_auto_scaling_group
    _create_auto_scaling_group = AutoScalingResponse.create_auto_scaling_group
    _update_auto_scaling_group = AutoScalingResponse.update_auto_scaling_group
    FakeAutoScalingGroup.set_desired_capacity = _group_set_desired_capacity
    AutoScalingBackend.delete_auto_scaling_group = _backend_delete_auto_scaling_group
    AutoScalingResponse.create_auto_scaling_group = _response_create_auto_scaling_group
    AutoScalingResponse.update_auto_scaling_group = _response_update_auto_scaling_group
    lambdas.OUTBOX.sources.append(TERMINATION.due)
