"""Auto Scaling policies as AWS executes them, which moto 5.2.1 cannot.

Gaps closed here (each patch names its own):

* PutScalingPolicy answered ``{"PolicyArn": ...}`` where the model's member is ``PolicyARN``, so
  SDKs saw no ARN at all. StepScaling policies are now validated as AWS validates them (the step
  table may not overlap or leave gaps, at most one open lower and one open upper bound, both
  bounds of one step not open, a positive upper bound needs an open-ended top step and a negative
  lower bound an open-ended bottom step, at most 20 steps; a known AdjustmentType and
  MetricAggregationType; MinAdjustmentMagnitude only with PercentChangeInCapacity).
* ExecutePolicy ignored MetricValue, BreachThreshold and HonorCooldown. On a StepScaling policy it
  crashed (ChangeInCapacity, PercentChangeInCapacity) or silently set desired = MinSize
  (ExactCapacity). Here it picks the step the way AWS documents (``d = MetricValue -
  BreachThreshold``; for d >= 0 the lower bound is inclusive and the upper exclusive, for d < 0
  the other way round; an open bound is infinite) and applies it with AWS's warm-up rules:
  instances a step scale-out launches are warming for the policy's EstimatedInstanceWarmup, else
  the group's DefaultInstanceWarmup, else its DefaultCooldown, on the emulator clock; a scale-out
  counts them as already there (``desired = max(desired, desired - warming + adjustment)``, so the
  same step twice adds once and a bigger step adds the difference); a scale-in by any policy is
  blocked while one warms. Step policies have no cooldown. SimpleScaling policies change capacity
  by their ScalingAdjustment, with AWS's rounding of percentages and MinAdjustmentMagnitude, and
  honour the cooldown when asked to (HonorCooldown). Policy-driven capacity stays within
  [MinSize, MaxSize].
* CreateAutoScalingGroup and UpdateAutoScalingGroup dropped DefaultInstanceWarmup (and
  UpdateAutoScalingGroup DefaultCooldown); both are kept and DescribeAutoScalingGroups returns them.
* moto launched every instance of one scale-out into one randomly chosen Availability Zone (and
  always into the first subnet). Here each new instance goes to the group's zone with the fewest
  InService instances (ties in the group's zone order), as Auto Scaling balances launches, so the
  custom termination policy's per-zone balance (termination.py) has zones to balance.
"""

import math
from collections import Counter
from typing import Any

from moto.autoscaling.exceptions import AutoscalingClientError, ValidationError
from moto.autoscaling.models import FakeAutoScalingGroup, FakeScalingPolicy
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult, EmptyResult

from lifecycle import CLOCK

ADJUSTMENT_TYPES = ("ChangeInCapacity", "ExactCapacity", "PercentChangeInCapacity")
AGGREGATION_TYPES = ("Minimum", "Maximum", "Average")
MAX_STEPS = 20  # Auto Scaling quota: step adjustments per scaling policy


class Warmup:
    """Instances launched by a step scale-out, and when their warm-up ends (on CLOCK)."""

    def __init__(self) -> None:
        self.until: dict[str, float] = {}

    def start(self, instance_ids: list[str], seconds: float) -> None:
        ends = CLOCK.now() + seconds
        for instance_id in instance_ids:
            self.until[instance_id] = ends

    def warming(self, group: FakeAutoScalingGroup) -> list[str]:
        """The group's InService instances still warming up."""
        now = CLOCK.now()
        return [s.instance.id for s in group.active_instances() if self.until.get(s.instance.id, 0) > now]

    def reset(self) -> None:
        self.until.clear()


WARMUP = Warmup()


# --- Step tables ----------------------------------------------------------------------------


def _bounds(step: dict[str, Any]) -> tuple[float, float]:
    lower, upper = step.get("MetricIntervalLowerBound"), step.get("MetricIntervalUpperBound")
    return (-math.inf if lower is None else float(lower), math.inf if upper is None else float(upper))


def validate_steps(steps: list[dict[str, Any]]) -> None:
    """The step table rules of the StepAdjustment API reference, as ValidationErrors."""
    if not steps:
        raise ValidationError("StepAdjustments must be specified for policy type StepScaling")
    if len(steps) > MAX_STEPS:
        raise ValidationError(f"There can be at most {MAX_STEPS} step adjustments per scaling policy")
    for step in steps:
        if step.get("ScalingAdjustment") is None:
            raise ValidationError("ScalingAdjustment must be specified for each StepAdjustment")
        lower, upper = _bounds(step)
        if lower == -math.inf and upper == math.inf:
            raise ValidationError("Both lower and upper bounds of a StepAdjustment cannot be left unspecified")
        if lower >= upper:
            raise ValidationError("The upper bound of a StepAdjustment must be greater than its lower bound")
    lowers = [_bounds(s)[0] for s in steps]
    uppers = [_bounds(s)[1] for s in steps]
    if lowers.count(-math.inf) > 1:
        raise ValidationError("At most one StepAdjustment may have an unspecified lower bound")
    if uppers.count(math.inf) > 1:
        raise ValidationError("At most one StepAdjustment may have an unspecified upper bound")
    if any(-math.inf < lower < 0 for lower in lowers) and -math.inf not in lowers:
        raise ValidationError(
            "There must be a StepAdjustment with an unspecified lower bound (i.e., lower bound is null) "
            "when one StepAdjustment has a negative lower bound"
        )
    if any(0 < upper < math.inf for upper in uppers) and math.inf not in uppers:
        raise ValidationError(
            "There must be a StepAdjustment with an unspecified upper bound (i.e., upper bound is null) "
            "when one StepAdjustment has a positive upper bound"
        )
    ordered = sorted(_bounds(s) for s in steps)
    for (_, upper), (lower, _) in zip(ordered, ordered[1:]):
        if upper > lower:
            raise ValidationError("StepAdjustment intervals can not overlap")
        if upper < lower:
            raise ValidationError("StepAdjustment intervals can not have gaps between them")


def select_step(steps: list[dict[str, Any]], metric_value: float, breach_threshold: float) -> dict[str, Any] | None:
    """The step for ``metric_value``: bounds are relative to the threshold, and which one is inclusive
    depends on the side of the threshold the metric is on."""
    d = metric_value - breach_threshold
    for step in steps:
        lower, upper = _bounds(step)
        if (lower <= d < upper) if d >= 0 else (lower < d <= upper):
            return step
    return None


def percent_adjustment(capacity: int, percent: int, min_magnitude: int | None) -> int:
    """PercentChangeInCapacity as Auto Scaling rounds it: toward zero, but never below 1 in size
    (and never below MinAdjustmentMagnitude when that is set)."""
    raw = capacity * percent / 100
    if raw >= 1 or raw <= -1:
        change = math.trunc(raw)
    elif raw > 0:
        change = 1
    elif raw < 0:
        change = -1
    else:
        change = 0
    if min_magnitude and percent and abs(change) < min_magnitude:
        change = min_magnitude if percent > 0 else -min_magnitude
    return change


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


# --- Policies -------------------------------------------------------------------------------


def _validate_policy(params: dict[str, Any], backend: Any) -> None:
    group_name = params.get("AutoScalingGroupName")
    if group_name not in backend.autoscaling_groups:
        raise ValidationError(f"AutoScalingGroup name not found - AutoScalingGroup {group_name} not found")
    policy_type = params.get("PolicyType") or "SimpleScaling"
    adjustment_type = params.get("AdjustmentType")
    if policy_type in ("SimpleScaling", "StepScaling"):
        if adjustment_type not in ADJUSTMENT_TYPES:
            raise ValidationError(
                f"AdjustmentType must be one of {', '.join(ADJUSTMENT_TYPES)} for policy type {policy_type}"
            )
        if params.get("MinAdjustmentMagnitude") is not None and adjustment_type != "PercentChangeInCapacity":
            raise ValidationError("MinAdjustmentMagnitude is only supported with AdjustmentType PercentChangeInCapacity")
    if policy_type == "SimpleScaling" and params.get("ScalingAdjustment") is None:
        raise ValidationError("ScalingAdjustment must be specified for policy type SimpleScaling")
    if policy_type == "StepScaling":
        steps = params.get("StepAdjustments") or []
        validate_steps(steps)
        if adjustment_type == "ExactCapacity" and any(int(s["ScalingAdjustment"]) < 0 for s in steps):
            raise ValidationError("ScalingAdjustment must not be negative for AdjustmentType ExactCapacity")
        aggregation = params.get("MetricAggregationType")
        if aggregation is not None and aggregation not in AGGREGATION_TYPES:
            raise ValidationError(f"MetricAggregationType must be one of {', '.join(AGGREGATION_TYPES)}")


_put_scaling_policy = AutoScalingResponse.put_scaling_policy


def _response_put_scaling_policy(self: AutoScalingResponse) -> ActionResult:
    """Validate as AWS does, and answer with ``PolicyARN`` (moto wrote ``PolicyArn``, which SDKs drop)."""
    params = self._get_params()
    _validate_policy(params, self.autoscaling_backend)
    _put_scaling_policy(self)
    policy = self.autoscaling_backend.policies[params["PolicyName"]]
    if policy.policy_type == "StepScaling" and policy.metric_aggregation_type is None:
        policy.metric_aggregation_type = "Average"  # what AWS reports when none is given
    return ActionResult({"PolicyARN": policy.arn, "Alarms": []})


def _find_policy(backend: Any, name_or_arn: str, group_name: str | None) -> FakeScalingPolicy:
    name = name_or_arn.rsplit(":policyName/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn
    policy = backend.policies.get(name)
    if policy is None or (group_name and policy.auto_scaling_group_name != group_name):
        raise ValidationError(f"No scaling policy found for the policy name or ARN: {name_or_arn}")
    return policy


def _warmup_seconds(policy: FakeScalingPolicy, group: FakeAutoScalingGroup) -> int:
    """EstimatedInstanceWarmup, else the group's DefaultInstanceWarmup (unless -1, off), else DefaultCooldown."""
    if policy.estimated_instance_warmup is not None:
        return int(policy.estimated_instance_warmup)
    default = getattr(group, "default_instance_warmup", None)
    if default is not None and default >= 0:
        return default
    return group.default_cooldown


def _clamp(group: FakeAutoScalingGroup, capacity: int) -> int:
    return max(group.min_size or 0, min(capacity, group.max_size if group.max_size is not None else capacity))


def _scale(group: FakeAutoScalingGroup, target: int, warmup: int | None) -> None:
    """Set the group's desired capacity; instances launched by it start warming if ``warmup`` is given."""
    before = {s.instance.id for s in group.instance_states}
    group.autoscaling_backend.set_desired_capacity(group.name, target)
    launched = [s.instance.id for s in group.instance_states if s.instance.id not in before]
    if warmup is not None and launched:
        WARMUP.start(launched, warmup)


def execute_step_policy(policy: FakeScalingPolicy, group: FakeAutoScalingGroup, metric_value: float, threshold: float) -> None:
    step = select_step(policy.step_adjustments, metric_value, threshold)
    if step is None:
        raise ValidationError(
            f"The metric value {metric_value:g} does not correspond to a step adjustment of policy {policy.name} "
            f"(breach threshold {threshold:g})"
        )
    adjustment = int(step["ScalingAdjustment"])
    desired = group.desired_capacity or 0
    warming = len(WARMUP.warming(group))
    if policy.adjustment_type == "ExactCapacity":
        target = adjustment
    elif adjustment > 0:
        # Instances still warming count as capacity already added by this kind of breach.
        capacity = desired - warming
        change = adjustment
        if policy.adjustment_type == "PercentChangeInCapacity":
            change = percent_adjustment(capacity, adjustment, _int_or_none(policy.min_adjustment_magnitude))
        target = max(desired, capacity + change)
    else:
        change = adjustment
        if policy.adjustment_type == "PercentChangeInCapacity":
            change = percent_adjustment(desired, adjustment, _int_or_none(policy.min_adjustment_magnitude))
        target = desired + change
    target = _clamp(group, target)
    if target > desired:
        _scale(group, target, _warmup_seconds(policy, group))
    elif target < desired and not warming:  # policy scale-in waits for every warm-up to end
        _scale(group, target, None)


def execute_simple_policy(policy: FakeScalingPolicy, group: FakeAutoScalingGroup, honor_cooldown: bool) -> None:
    now = CLOCK.now()
    if honor_cooldown and now < getattr(group, "cooldown_until", 0):
        raise AutoscalingClientError(
            "ScalingActivityInProgress",
            f"Scaling activity for group {group.name} is in its cooldown period; HonorCooldown was requested",
        )
    desired = group.desired_capacity or 0
    adjustment = int(policy.scaling_adjustment)
    if policy.adjustment_type == "ExactCapacity":
        target = adjustment
    elif policy.adjustment_type == "PercentChangeInCapacity":
        target = desired + percent_adjustment(desired, adjustment, _int_or_none(policy.min_adjustment_magnitude))
    else:
        target = desired + adjustment
    target = _clamp(group, target)
    if target == desired or (target < desired and WARMUP.warming(group)):
        return
    _scale(group, target, None)
    group.cooldown_until = now + (policy.cooldown if policy.cooldown is not None else group.default_cooldown)


def _response_execute_policy(self: AutoScalingResponse) -> EmptyResult:
    backend = self.autoscaling_backend
    policy = _find_policy(backend, self._get_param("PolicyName"), self._get_param("AutoScalingGroupName"))
    group = backend.autoscaling_groups.get(policy.auto_scaling_group_name)
    if group is None:
        raise ValidationError(f"AutoScalingGroup name not found - AutoScalingGroup {policy.auto_scaling_group_name} not found")
    metric_value, threshold = self._get_param("MetricValue"), self._get_param("BreachThreshold")
    if policy.policy_type == "StepScaling":
        if metric_value is None or threshold is None:
            raise ValidationError("MetricValue and BreachThreshold are required for policy type StepScaling")
        execute_step_policy(policy, group, float(metric_value), float(threshold))
    elif policy.policy_type == "SimpleScaling":
        if metric_value is not None or threshold is not None:
            raise ValidationError("MetricValue and BreachThreshold are supported only for policy type StepScaling")
        execute_simple_policy(policy, group, bool(self._get_bool_param("HonorCooldown", False)))
    else:
        raise ValidationError(f"ExecutePolicy is not supported for policy type {policy.policy_type}")
    return EmptyResult()


# --- Group settings ---------------------------------------------------------------------------

_create_auto_scaling_group = AutoScalingResponse.create_auto_scaling_group
_update_auto_scaling_group = AutoScalingResponse.update_auto_scaling_group


def _store_group_settings(response: AutoScalingResponse, group: FakeAutoScalingGroup, updating: bool) -> None:
    warmup = response._get_int_param("DefaultInstanceWarmup")
    if warmup is not None:
        if not (warmup == -1 or 0 <= warmup <= 3600):
            raise ValidationError("DefaultInstanceWarmup must be between 0 and 3600 seconds, or -1 to turn it off")
        group.default_instance_warmup = warmup
    cooldown = response._get_int_param("DefaultCooldown")
    if updating and cooldown is not None:
        group.default_cooldown = cooldown


def _response_create_auto_scaling_group(self: AutoScalingResponse) -> ActionResult:
    """Keep DefaultInstanceWarmup (moto dropped it)."""
    result = _create_auto_scaling_group(self)
    group = self.autoscaling_backend.autoscaling_groups[self._get_param("AutoScalingGroupName")]
    _store_group_settings(self, group, updating=False)
    return result


def _response_update_auto_scaling_group(self: AutoScalingResponse) -> ActionResult:
    """Keep DefaultInstanceWarmup and DefaultCooldown (moto ignored both on update)."""
    group = self.autoscaling_backend.autoscaling_groups.get(self._get_param("AutoScalingGroupName"))
    if group is not None:
        _store_group_settings(self, group, updating=True)
    return _update_auto_scaling_group(self)


# --- Balanced launches --------------------------------------------------------------------------

_replace_instances = FakeAutoScalingGroup.replace_autoscaling_group_instances


def _zone_subnets(group: FakeAutoScalingGroup) -> dict[str, str]:
    """The group's first subnet in each zone, when it launches into subnets."""
    if not group.vpc_zone_identifier:
        return {}
    subnets: dict[str, str] = {}
    ids = group.vpc_zone_identifier.split(",")
    for subnet in group.ec2_backend.describe_subnets(subnet_ids=ids):
        subnets.setdefault(subnet.availability_zone, subnet.id)
    return subnets


def _group_replace_instances(self: FakeAutoScalingGroup, count_needed: int, propagated_tags: dict[str, str]) -> None:
    """Launch each instance into the zone with the fewest InService instances (ties in zone order)."""
    zones = list(dict.fromkeys(self.availability_zones))
    if len(zones) < 2:
        return _replace_instances(self, count_needed, propagated_tags)
    counts = Counter(s.instance.availability_zone for s in self.active_instances())
    plan: Counter = Counter()
    for _ in range(count_needed):
        zone = min(zones, key=lambda z: (counts[z] + plan[z], zones.index(z)))
        plan[zone] += 1
    subnets = _zone_subnets(self)
    saved = self.availability_zones, self.vpc_zone_identifier
    try:
        for zone in zones:
            if plan[zone]:
                self.availability_zones = [zone]  # moto picks the placement at random among these
                if subnets:
                    self.vpc_zone_identifier = subnets.get(zone, saved[1])  # and launches into the first subnet
                _replace_instances(self, plan[zone], dict(propagated_tags))
    finally:
        self.availability_zones, self.vpc_zone_identifier = saved


def reset() -> None:
    WARMUP.reset()


def install() -> None:
    """Patch moto's autoscaling responses and models (after lifecycle.install)."""
    global _create_auto_scaling_group, _update_auto_scaling_group
    _create_auto_scaling_group = AutoScalingResponse.create_auto_scaling_group
    _update_auto_scaling_group = AutoScalingResponse.update_auto_scaling_group
    AutoScalingResponse.create_auto_scaling_group = _response_create_auto_scaling_group
    AutoScalingResponse.update_auto_scaling_group = _response_update_auto_scaling_group
    AutoScalingResponse.put_scaling_policy = _response_put_scaling_policy
    AutoScalingResponse.execute_policy = _response_execute_policy
    FakeAutoScalingGroup.replace_autoscaling_group_instances = _group_replace_instances
    FakeAutoScalingGroup.default_instance_warmup = None
