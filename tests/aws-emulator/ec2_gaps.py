"""EC2 facts the emulator's ECS placement needs, and the Auto Scaling launch that moto 5.2.1 gets wrong.

* Instance types. moto's DescribeInstanceTypes data is AWS's (vCPUs, memory, maximum network
  interfaces, GPUs, architectures; checked for m5, c5, r5, t3, g4dn and m6g), so nothing is patched
  there; ``instance_type`` reads it for the ECS side: a container instance's
  ``ecs.cpu-architecture`` and its ENI limit for ``awsvpc`` tasks.
* ENI trunking. ``TRUNK_TASK_LIMITS`` is the "Supported Amazon EC2 instance types" table of the ECS
  Developer Guide's "Elastic network interface trunking" page: how many ``awsvpc`` tasks an instance
  of a supported type holds once it has a trunk interface (the families here: a1, m5, m5a, m5d, m6g,
  m6i, m7g, c5, c5a, c5d, c6g, c6i, c7g, r5, r5a, r5d, r6g, r6i, r7g, g5, g5g, p3). ``m5.metal``,
  ``c5.metal``, ``r5.metal``, ``r5.8xlarge`` and the ``t3``, ``g4dn`` families are not supported,
  as the page says.
* Mixed instances policies. moto launched every instance of a group with a MixedInstancesPolicy
  with the launch template's own instance type and ignored ``Overrides``. Auto Scaling launches
  On-Demand capacity from the overrides in priority order (``prioritized``, the default
  OnDemandAllocationStrategy): here the first override's ``InstanceType`` (or the instance type of
  the first override's own ``LaunchTemplateSpecification``). The emulator knows no prices, so
  ``lowest-price`` is treated as ``prioritized`` too. Zones are balanced by scaling.py.
"""

from typing import Any

from moto.autoscaling.models import FakeAutoScalingGroup
from moto.ec2.models.instance_types import INSTANCE_TYPES

def _family(name: str, limits: dict[str, int]) -> dict[str, int]:
    return {f"{name}.{size}": limit for size, limit in limits.items()}


_GRAVITON = {"medium": 4, "large": 10, "xlarge": 20, "2xlarge": 40, "4xlarge": 60, "8xlarge": 60, "12xlarge": 60,
             "16xlarge": 120, "metal": 120}  # fmt: skip
_NITRO_5 = {"large": 10, "xlarge": 20, "2xlarge": 40, "4xlarge": 60, "8xlarge": 60, "12xlarge": 60, "16xlarge": 120,
            "24xlarge": 120}  # fmt: skip
_NITRO_6I = {"large": 10, "xlarge": 20, "2xlarge": 40, "4xlarge": 60, "8xlarge": 90, "12xlarge": 120, "16xlarge": 120,
             "24xlarge": 120, "32xlarge": 120, "metal": 120}  # fmt: skip

# Task limit with ENI trunking, per instance type (ECS Developer Guide, "Elastic network interface trunking").
TRUNK_TASK_LIMITS: dict[str, int] = {
    **_family("a1", {"medium": 10, "large": 10, "xlarge": 20, "2xlarge": 40, "4xlarge": 60}),
    **_family("m5", _NITRO_5),
    **_family("m5a", _NITRO_5),
    **_family("m5d", {**_NITRO_5, "metal": 120}),
    **_family("m6g", _GRAVITON),
    **_family("m6i", _NITRO_6I),
    **_family("m7g", _GRAVITON),
    **_family("c5", {"large": 10, "xlarge": 20, "2xlarge": 40, "4xlarge": 60, "9xlarge": 60, "12xlarge": 60,
                     "18xlarge": 120, "24xlarge": 120}),
    **_family("c5a", _NITRO_5),
    **_family("c5d", {"large": 10, "xlarge": 20, "2xlarge": 40, "4xlarge": 60, "9xlarge": 60, "12xlarge": 60,
                      "18xlarge": 120, "24xlarge": 120}),
    **_family("c6g", _GRAVITON),
    **_family("c6i", _NITRO_6I),
    **_family("c7g", _GRAVITON),
    **_family("r5", {"large": 10, "xlarge": 20, "2xlarge": 40, "4xlarge": 60, "12xlarge": 60, "16xlarge": 120,
                     "24xlarge": 120}),
    **_family("r5a", _NITRO_5),
    **_family("r5d", _NITRO_5),
    **_family("r6g", _GRAVITON),
    **_family("r6i", _NITRO_6I),
    **_family("r7g", _GRAVITON),
    **_family("g5", {"xlarge": 6, "2xlarge": 19, "4xlarge": 40, "8xlarge": 90, "12xlarge": 120, "16xlarge": 120,
                     "24xlarge": 120, "48xlarge": 120}),
    **_family("g5g", {"xlarge": 20, "2xlarge": 40, "4xlarge": 60, "8xlarge": 60, "16xlarge": 120, "metal": 120}),
    **_family("p3", {"2xlarge": 40, "8xlarge": 60, "16xlarge": 120}),
}  # fmt: skip
# "Although other instance types are supported in the same instance family, [these] are not supported."
for _unsupported in ("a1.metal", "c5.metal", "c5a.8xlarge", "c5d.metal", "m5.metal", "r5.metal", "r5.8xlarge", "r5d.metal"):
    TRUNK_TASK_LIMITS.pop(_unsupported, None)


def instance_type(name: str | None) -> dict[str, Any] | None:
    """DescribeInstanceTypes' entry for ``name`` (moto's data), or None for a type it does not know."""
    return INSTANCE_TYPES.get(name) if name else None


def architecture(name: str | None) -> str | None:
    """``x86_64`` or ``arm64``, as the ECS agent reports ``ecs.cpu-architecture`` for the type."""
    info = instance_type(name)
    if info is None:
        return None
    supported = info.get("ProcessorInfo", {}).get("SupportedArchitectures", [])
    for arch in ("x86_64", "arm64"):
        if arch in supported:
            return arch
    return supported[0] if supported else None


def max_network_interfaces(name: str | None) -> int | None:
    info = instance_type(name)
    return None if info is None else int(info["NetworkInfo"]["MaximumNetworkInterfaces"])


def supports_trunking(name: str | None) -> bool:
    return name in TRUNK_TASK_LIMITS


# --- Mixed instances policies -------------------------------------------------------------------

_moto_instance_type = FakeAutoScalingGroup.instance_type


def _group_instance_type(self: FakeAutoScalingGroup) -> str:
    """The instance type a launch uses: the first override's under a MixedInstancesPolicy (moto used the
    launch template's and ignored the overrides)."""
    overrides = ((self.mixed_instances_policy or {}).get("LaunchTemplate") or {}).get("Overrides") or []
    for override in overrides:
        if override.get("InstanceType"):
            return override["InstanceType"]
        spec = override.get("LaunchTemplateSpecification")
        if spec:
            template = (
                self.ec2_backend.get_launch_template(spec["LaunchTemplateId"])
                if spec.get("LaunchTemplateId")
                else self.ec2_backend.get_launch_template_by_name(spec.get("LaunchTemplateName"))
            )
            version = template.get_version(spec.get("Version") or "$Default")
            if version.instance_type:
                return version.instance_type
    return _moto_instance_type.fget(self)


def install() -> None:
    FakeAutoScalingGroup.instance_type = property(_group_instance_type)
