"""Auto Scaling termination lifecycle hooks, which moto stores but never acts on.

moto 5.2.1 keeps lifecycle hooks as plain records: scale-in terminates instances at once,
nothing ever waits in ``Terminating:Wait``, and CompleteLifecycleAction and
RecordLifecycleActionHeartbeat are not implemented. ecs-scaler's drain hook lives in exactly
that gap, so this module patches moto's autoscaling models in-process to behave as AWS does:

* When a group has an ``autoscaling:EC2_INSTANCE_TERMINATING`` hook, an instance leaving by
  scale-in or by TerminateInstanceInAutoScalingGroup is moved out of moto's
  ``instance_states`` (so it no longer counts toward desired capacity: moto launches a
  replacement only when ShouldDecrementDesiredCapacity is false, as AWS does) and parked in
  ``Terminating:Wait`` with one action (and one fresh token) per hook. Parked instances are
  still listed by DescribeAutoScalingGroups and DescribeAutoScalingInstances, and their EC2
  instances keep running.
* For each action, the notification AWS would publish to the hook's NotificationTargetARN is
  queued for the control API instead (moto could not invoke a Lambda without Docker).
* CompleteLifecycleAction (CONTINUE or ABANDON: for termination both terminate) and
  RecordLifecycleActionHeartbeat validate the way AWS does.
* Heartbeat timeouts apply the hook's DefaultResult. They are checked lazily, on every request
  to the emulator, against ``CLOCK``: real time plus an offset the control API can advance,
  so tests never sleep.
"""

import datetime
import time
import uuid
from dataclasses import dataclass

from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.models import (
    AutoScalingBackend,
    FakeAutoScalingGroup,
    InstanceState,
    LifecycleHook,
    TerminateInstanceActivity,
)
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import EmptyResult

TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
# AWS caps the time an instance can wait at 100 heartbeat timeouts or 48 hours, whichever is less.
MAX_WAIT_SECONDS = 48 * 3600


class Clock:
    """The emulator's clock: real time plus an offset that tests advance instead of sleeping."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> float:
        self.offset += seconds
        return self.now()

    def reset(self) -> None:
        self.offset = 0.0


CLOCK = Clock()


@dataclass(eq=False)
class Action:
    """One instance waiting on one termination hook."""

    group: FakeAutoScalingGroup
    hook: LifecycleHook
    state: InstanceState
    token: str
    deadline: float  # when the heartbeat runs out, on CLOCK
    last_deadline: float  # when the wait runs out however many heartbeats arrive


class Lifecycle:
    """The lifecycle actions in progress and the notifications not yet collected."""

    def __init__(self) -> None:
        self.actions: list[Action] = []
        self.notifications: list[dict[str, str]] = []

    def reset(self) -> None:
        self.actions.clear()
        self.notifications.clear()

    def park(self, group: FakeAutoScalingGroup, state: InstanceState, hooks: list[LifecycleHook]) -> None:
        """Put an instance that has left ``group.instance_states`` into Terminating:Wait."""
        state.lifecycle_state = "Terminating:Wait"
        now = CLOCK.now()
        for hook in hooks:
            token = str(uuid.uuid4())
            last = now + hook.global_timeout
            self.actions.append(Action(group, hook, state, token, min(now + hook.heartbeat_timeout, last), last))
            self.notifications.append(_notification(group, hook, state.instance.id, token, now))

    def waiting(self, group: FakeAutoScalingGroup) -> list[InstanceState]:
        """The group's instances in Terminating:Wait."""
        states = [a.state for a in self.actions if a.group is group]
        return list(dict.fromkeys(states))

    def find(self, group: FakeAutoScalingGroup, hook_name: str, token: str | None, instance_id: str | None) -> Action:
        """The action a CompleteLifecycleAction or RecordLifecycleActionHeartbeat addresses."""
        for action in self.actions:
            if action.group is group and action.hook.name == hook_name:
                same_instance = instance_id is None or action.state.instance.id == instance_id
                if same_instance and ((action.token == token) if token else instance_id is not None):
                    return action
        if token:
            raise ValidationError(f"No active Lifecycle Action found with token {token}")
        raise ValidationError(f"No active Lifecycle Action found with instance ID {instance_id}")

    def heartbeat(self, action: Action) -> None:
        action.deadline = min(CLOCK.now() + action.hook.heartbeat_timeout, action.last_deadline)

    def complete(self, action: Action, result: str) -> None:
        """End an action; once an instance has no action left, it is terminated and leaves its group.

        ABANDON ends the instance's other actions too, as in AWS. The instance leaves at once:
        AWS's brief Terminating:Proceed state is not modelled.
        """
        state = action.state
        ended = [a for a in self.actions if a.state is state] if result == "ABANDON" else [action]
        self.actions = [a for a in self.actions if a not in ended]
        if not any(a.state is state for a in self.actions):
            action.group.autoscaling_backend.ec2_backend.terminate_instances([state.instance.id])

    def expire_overdue(self) -> None:
        """Apply what AWS would have done by now: timeouts, deleted hooks, instances terminated via EC2."""
        now = CLOCK.now()
        for action in list(self.actions):
            if action not in self.actions:  # ended along with another action of its instance
                continue
            backend = action.group.autoscaling_backend
            if action.state.instance.state == "terminated":
                self.actions.remove(action)
            elif f"{action.group.name}_{action.hook.name}" not in backend.lifecycle_hooks:
                self.complete(action, "CONTINUE")  # DeleteLifecycleHook lets waiting instances proceed
            elif now >= action.deadline:
                self.complete(action, action.hook.default_result)

    def drain_notifications(self) -> list[dict[str, str]]:
        drained, self.notifications = self.notifications, []
        return drained


LIFECYCLE = Lifecycle()


def _notification(
    group: FakeAutoScalingGroup, hook: LifecycleHook, instance_id: str, token: str, now: float
) -> dict[str, str]:
    """The message AWS publishes to a hook's notification target when an instance starts waiting."""
    message = {
        "Origin": "AutoScalingGroup",
        "LifecycleHookName": hook.name,
        "Destination": "EC2",
        "AccountId": group.account_id,
        "RequestId": str(uuid.uuid4()),
        "LifecycleTransition": TERMINATING,
        "AutoScalingGroupName": group.name,
        "Service": "AWS Auto Scaling",
        "Time": iso8601(now),
        "EC2InstanceId": instance_id,
        "LifecycleActionToken": token,
    }
    if getattr(hook, "notification_metadata", None):
        message["NotificationMetadata"] = hook.notification_metadata
    return message


def iso8601(epoch_seconds: float) -> str:
    """``2026-11-22T10:00:00.123Z``, the form AWS uses in lifecycle notifications."""
    moment = datetime.datetime.fromtimestamp(epoch_seconds, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _termination_hooks(group: FakeAutoScalingGroup) -> list[LifecycleHook]:
    return [
        hook
        for hook in group.autoscaling_backend.lifecycle_hooks.values()
        if hook.auto_scaling_group_name == group.name and hook.lifecycle_transition == TERMINATING
    ]


# --- Patches on moto's models -------------------------------------------------------------

_set_desired_capacity = FakeAutoScalingGroup.set_desired_capacity
_terminate_instance = AutoScalingBackend.terminate_instance
_describe_auto_scaling_instances = AutoScalingBackend.describe_auto_scaling_instances
_delete_auto_scaling_group = AutoScalingBackend.delete_auto_scaling_group
_create_auto_scaling_group = AutoScalingResponse.create_auto_scaling_group
_put_lifecycle_hook = AutoScalingResponse.put_lifecycle_hook


def _group_set_desired_capacity(self: FakeAutoScalingGroup, new_capacity: int | None) -> None:
    """Scale-in parks the surplus InService instances (oldest first, as moto picks) before moto runs."""
    hooks = _termination_hooks(self)
    if hooks:
        target = (self.min_size if new_capacity is None else new_capacity) or 0
        active = self.active_instances()
        for state in [s for s in active if not s.protected_from_scale_in][: max(len(active) - target, 0)]:
            self.instance_states.remove(state)
            LIFECYCLE.park(self, state, hooks)
    _set_desired_capacity(self, new_capacity)


def _backend_terminate_instance(
    self: AutoScalingBackend, instance_id: str, should_decrement: bool
) -> TerminateInstanceActivity:
    """TerminateInstanceInAutoScalingGroup, with AWS's validation and hooks honoured."""
    state = next(
        (s for g in self.autoscaling_groups.values() for s in g.instance_states if s.instance.id == instance_id),
        None,
    )
    if state is None:
        raise ValidationError(f"Instance Id not found - No managed instance found for instance ID: {instance_id}")
    group = state.auto_scaling_group
    if should_decrement and group.desired_capacity <= group.min_size:
        raise ValidationError(
            f"Currently, desiredSize equals minSize ({group.min_size}). Terminating instance without replacement "
            "will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false "
            "or lower group's min size."
        )
    hooks = _termination_hooks(group)
    if not hooks:
        return _terminate_instance(self, instance_id, should_decrement)
    original_size = group.desired_capacity
    group.instance_states.remove(state)
    LIFECYCLE.park(group, state, hooks)
    if should_decrement:
        group.desired_capacity -= 1
    group.set_desired_capacity(group.desired_capacity)  # launches the replacement if not decremented
    return TerminateInstanceActivity(state.instance, original_size)


def _backend_describe_auto_scaling_instances(self: AutoScalingBackend, instance_ids: list[str]) -> list[InstanceState]:
    waiting = [
        s
        for group in self.autoscaling_groups.values()
        for s in LIFECYCLE.waiting(group)
        if not instance_ids or s.instance.id in instance_ids
    ]
    return _describe_auto_scaling_instances(self, instance_ids) + waiting


def _backend_delete_auto_scaling_group(self: AutoScalingBackend, group_name: str) -> None:
    """Deleting a group deletes its hooks (as in AWS) and ends its waits, so nothing parks again."""
    group = self.autoscaling_groups.get(group_name)
    for hook in _termination_hooks(group) if group else []:
        self.delete_lifecycle_hook(group_name, hook.name)
    for action in [a for a in LIFECYCLE.actions if a.group is group]:
        if action in LIFECYCLE.actions:
            LIFECYCLE.complete(action, "ABANDON")
    _delete_auto_scaling_group(self, group_name)


def _store_hook_details(backend: AutoScalingBackend, group_name: str, spec: dict) -> None:
    """Keep what moto's LifecycleHook drops (and so DescribeLifecycleHooks can return it)."""
    hook = backend.lifecycle_hooks[f"{group_name}_{spec['LifecycleHookName']}"]
    hook.notification_metadata = spec.get("NotificationMetadata")
    hook.notification_target_arn = spec.get("NotificationTargetARN")
    hook.role_arn = spec.get("RoleARN")
    hook.global_timeout = min(100 * hook.heartbeat_timeout, MAX_WAIT_SECONDS)


def _response_put_lifecycle_hook(self: AutoScalingResponse) -> EmptyResult:
    result = _put_lifecycle_hook(self)
    _store_hook_details(self.autoscaling_backend, self._get_param("AutoScalingGroupName"), self._get_params())
    return result


def _response_create_auto_scaling_group(self: AutoScalingResponse) -> EmptyResult:
    """CreateAutoScalingGroup's LifecycleHookSpecificationList (Terraform's initial_lifecycle_hook)."""
    result = _create_auto_scaling_group(self)
    group_name = self._get_param("AutoScalingGroupName")
    for spec in self._get_param("LifecycleHookSpecificationList", []):
        self.autoscaling_backend.create_lifecycle_hook(
            name=spec["LifecycleHookName"],
            as_name=group_name,
            transition=spec["LifecycleTransition"],
            timeout=spec.get("HeartbeatTimeout"),
            result=spec.get("DefaultResult"),
        )
        _store_hook_details(self.autoscaling_backend, group_name, spec)
    return result


def _addressed_action(response: AutoScalingResponse) -> Action:
    """Validate a lifecycle-action request the way AWS does and find its action."""
    group_name = response._get_param("AutoScalingGroupName")
    hook_name = response._get_param("LifecycleHookName")
    backend = response.autoscaling_backend
    group = backend.autoscaling_groups.get(group_name)
    if group is None:
        raise ValidationError(f"AutoScalingGroup name not found - AutoScalingGroup {group_name} not found")
    if f"{group_name}_{hook_name}" not in backend.lifecycle_hooks:
        raise ValidationError(f"No Lifecycle Hook found with name {hook_name} for group {group_name}")
    token = response._get_param("LifecycleActionToken")
    instance_id = response._get_param("InstanceId")
    if not token and not instance_id:
        raise ValidationError("Either LifecycleActionToken or InstanceId must be specified")
    return LIFECYCLE.find(group, hook_name, token, instance_id)


def _response_complete_lifecycle_action(self: AutoScalingResponse) -> EmptyResult:
    result = self._get_param("LifecycleActionResult")
    if result not in ("CONTINUE", "ABANDON"):
        raise ValidationError(f"Invalid value for LifecycleActionResult: {result}. Valid values: CONTINUE, ABANDON")
    LIFECYCLE.complete(_addressed_action(self), result)
    return EmptyResult()


def _response_record_lifecycle_action_heartbeat(self: AutoScalingResponse) -> EmptyResult:
    LIFECYCLE.heartbeat(_addressed_action(self))
    return EmptyResult()


def install() -> None:
    """Patch moto's autoscaling models and responses."""
    FakeAutoScalingGroup.set_desired_capacity = _group_set_desired_capacity
    # What DescribeAutoScalingGroups serializes as Instances; moto's own logic uses instance_states.
    FakeAutoScalingGroup.instances = property(lambda group: group.instance_states + LIFECYCLE.waiting(group))
    AutoScalingBackend.terminate_instance = _backend_terminate_instance
    AutoScalingBackend.describe_auto_scaling_instances = _backend_describe_auto_scaling_instances
    AutoScalingBackend.delete_auto_scaling_group = _backend_delete_auto_scaling_group
    AutoScalingResponse.put_lifecycle_hook = _response_put_lifecycle_hook
    AutoScalingResponse.create_auto_scaling_group = _response_create_auto_scaling_group
    AutoScalingResponse.complete_lifecycle_action = _response_complete_lifecycle_action
    AutoScalingResponse.record_lifecycle_action_heartbeat = _response_record_lifecycle_action_heartbeat
