"""Placing ECS tasks on EC2 container instances the way ECS does, which moto 5.2.1 does not.

moto's StartTask placed a task on every instance named whatever it needed (overcommitting CPU and
memory, ignoring ports) and answered 500 for an unknown instance; its RunTask filled the first
instances in order, ignored placement constraints and strategies, UDP ports and GPUs, counted no
ENIs, never reported a failure, and answered 500 for a cluster without instances. Neither kept a
StartTask's ``networkConfiguration``. Here, following the ECS API reference and Developer Guide:

* **What a task needs** (``requirements``): CPU and memory as ecs_gaps.py computes them; host ports
  per protocol (``tcp`` unless the mapping says ``udp``): in ``bridge`` mode the ``hostPort`` when it
  is set and not 0 (0 or absent is a dynamic port from the ephemeral range, which ECS does not
  reserve), in ``host`` mode the ``hostPort`` or else the ``containerPort``, in ``awsvpc`` and
  ``none`` mode no host port; the sum of the containers' ``resourceRequirements`` of type GPU; one
  ENI for an ``awsvpc`` task.
* **What an instance has left**: registered CPU/memory less what its tasks that are not STOPPED
  reserve; TCP and UDP ports separately (the agent's reserved ports plus those tasks' ports); the GPU
  ids it registered (``totalResources`` ``GPU``, a STRINGSET) less those assigned to such tasks;
  ENI attachment points: the instance type's maximum network interfaces less the primary one, or
  with a trunk interface (attribute ``ecs.awsvpc-trunk-id``) ECS's documented trunk task limit
  (ec2_gaps.TRUNK_TASK_LIMITS), less its ``awsvpc`` tasks.
* **A task that does not fit** is not started; the answer's ``failures`` names the instance and
  ECS's reason (API failure reasons, ECS Developer Guide): ``AGENT`` (agent disconnected),
  ``RESOURCE:CPU``, ``RESOURCE:MEMORY``, ``RESOURCE:PORTS`` (TCP), ``RESOURCE:PORTS_UDP``,
  ``RESOURCE:GPU``, ``RESOURCE:ENI`` (with a ``detail`` when the instance type is unknown, so no
  limit is known), checked in that order; for RunTask then ``MemberOf placement constraint
  unsatisfied`` and ``DistinctInstance placement constraint unsatisfied``. StartTask reports an
  instance it cannot find as ``MISSING``.
* **StartTask** places on exactly the instances named; placement constraints and strategies do not
  apply (the Developer Guide: they are given to RunTask and CreateService; StartTask is how custom
  schedulers place tasks on specific instances).
* **RunTask** considers the cluster's ACTIVE instances, keeps those with room for the task, then
  those that satisfy every constraint (the task definition's ``memberOf`` and the request's
  ``memberOf``/``distinctInstance``; distinctInstance: no other task of the same task group, not
  STOPPED, on the instance), then applies the request's placement strategies in order (``binpack``
  on ``cpu``/``memory``: least remaining; ``spread`` on ``instanceId``/``host`` or an attribute: fewest
  tasks of the task group; ``random``), by default ``random`` as the Developer Guide says for RunTask.
  The random choice uses a seeded generator (reset with the emulator) so runs repeat; ties left after
  the strategies go to the earliest registered instance. Tasks are placed one at a time (``count``
  1–10), each seeing the previous ones; when one cannot be placed the rest are not either, and
  ``failures`` lists each ACTIVE instance with the reason it refused that task. A cluster without
  ACTIVE instances: ``InvalidParameterException`` "No Container Instances were found in your cluster."
* **GPUs** are assigned by id (the lowest free ids in registration order) and reported as the
  containers' ``gpuIds`` in DescribeTasks.
* **awsvpc** tasks need ``networkConfiguration`` (moto's message); another network mode with one is
  an ``InvalidParameterException``. The ENI goes into the first given subnet in the instance's
  Availability Zone (else the first subnet); the task's ``ElasticNetworkInterface`` attachment is
  ATTACHED until the task stops, then DELETED (ecs_gaps.py deletes the ENI from EC2 then).
* **RegisterContainerInstance** derives ``ecs.instance-type``, ``ecs.availability-zone``, ``ecs.ami-id``
  (and ``ecs.vpc-id``, ``ecs.subnet-id``) from moto's EC2 instance when the identity document names
  one, as the agent reads them from instance metadata, else from the document's ``instanceType``,
  ``availabilityZone`` and ``imageId``; ``ecs.os-type`` linux (windows for a Windows instance) and
  ``ecs.cpu-architecture`` from the instance type (the document's ``architecture`` for a type the
  emulator does not know). With the account setting ``awsvpcTrunking`` enabled (PutAccountSetting or
  PutAccountSettingDefault) an instance of a type that supports trunking registers with a trunk
  interface (``ecs.awsvpc-trunk-id``), as "only new instances launched after opting in" get one.
* **CreateService/UpdateService** keep ``placementConstraints`` and ``placementStrategy`` (ECS
  reports ``[]`` when none were given), validated as ECS validates them, and an ``awsvpcConfiguration``
  without ``securityGroups`` (moto failed with a 500); RegisterTaskDefinition
  accepts only ``memberOf`` constraints and checks their expressions, and reports each port mapping's
  ``protocol`` (``tcp`` when not given) and, in ``host`` and ``awsvpc`` mode, its ``hostPort`` (the
  ``containerPort`` when not given), as ECS does; a container needs ``memory`` or ``memoryReservation``
  (or the task its memory) whatever ``requiresCompatibilities`` says (moto demanded ``memory`` with EC2).
"""

import copy
import json
import random
import uuid
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.ec2.exceptions import InvalidInstanceIdError
from moto.ec2.models import ec2_backends
from moto.ecs.exceptions import EcsClientException, InvalidParameterException
from moto.ecs.models import Cluster, ContainerInstance, EC2ContainerServiceBackend, Service, Task, TaskDefinition
from moto.ecs.responses import EC2ContainerServiceResponse

import cluster_query
import ec2_gaps

DEFAULT_RESERVED_PORTS = ["22", "2375", "2376", "51678", "51679"]  # the agent's ECS_RESERVED_PORTS default
MAX_CONSTRAINTS, MAX_STRATEGIES, MAX_RUN_TASK_COUNT = 10, 5, 10
TRUNK_SETTING = "awsvpcTrunking"

RNG = random.Random(0)


def reset() -> None:
    RNG.seed(0)


# --- What a task needs ----------------------------------------------------------------------------


def requirements(task_definition: TaskDefinition) -> dict[str, Any]:
    """CPU, MEMORY, PORTS (TCP), PORTS_UDP, GPU and ENI a task of this definition reserves on an instance."""
    from ecs_gaps import task_size  # ecs_gaps imports this module

    containers = task_definition.container_definitions
    mode = task_definition.network_mode or "bridge"
    tcp: list[int] = []
    udp: list[int] = []
    for container in containers:
        for mapping in container.get("portMappings") or []:
            port = _host_port(mode, mapping)
            if port:
                (udp if str(mapping.get("protocol") or "tcp").lower() == "udp" else tcp).append(port)
    gpus = sum(
        int(r.get("value") or 0)
        for c in containers
        for r in c.get("resourceRequirements") or []
        if r.get("type") == "GPU"
    )
    cpu = sum(int(c.get("cpu") or 0) for c in containers)
    memory = sum(int(c.get("memoryReservation") or c.get("memory") or 0) for c in containers)
    return {
        "CPU": task_size(task_definition.cpu) if task_definition.cpu else cpu,
        "MEMORY": task_size(task_definition.memory) if task_definition.memory else memory,
        "PORTS": tcp,
        "PORTS_UDP": udp,
        "GPU": gpus,
        "ENI": 1 if mode == "awsvpc" else 0,
    }


def _host_port(mode: str, mapping: dict[str, Any]) -> int | None:
    if mode == "bridge":
        return int(mapping.get("hostPort") or 0) or None
    if mode == "host":
        return int(mapping.get("hostPort") or mapping.get("containerPort") or 0) or None
    return None  # awsvpc (the task's own ENI) and none


# --- What an instance has left --------------------------------------------------------------------


def _live_tasks(ci: ContainerInstance) -> list[Task]:
    from ecs_gaps import instance_tasks

    return [t for t in instance_tasks(ci) if t.last_status != "STOPPED"]


def _registered(ci: ContainerInstance, name: str) -> dict[str, Any] | None:
    return next((r for r in ci.registered_resources if r["name"] == name), None)


def free_gpus(ci: ContainerInstance) -> list[str]:
    registered = _registered(ci, "GPU")
    ids = list((registered or {}).get("stringSetValue") or [])
    assigned = {gpu for t in _live_tasks(ci) for gpu in getattr(t, "gpu_ids", ())}
    return [gpu for gpu in ids if gpu not in assigned]


def eni_limit(ci: ContainerInstance) -> tuple[int | None, str | None]:
    """How many awsvpc tasks the instance holds, or None and why not known."""
    instance_type = ci.attributes.get("ecs.instance-type")
    if "ecs.awsvpc-trunk-id" in ci.attributes and ec2_gaps.supports_trunking(instance_type):
        return ec2_gaps.TRUNK_TASK_LIMITS[instance_type], None
    interfaces = ec2_gaps.max_network_interfaces(instance_type)
    if interfaces is None:
        return None, f"The emulator does not know instance type {instance_type!r}, so it knows no ENI limit for it"
    return interfaces - 1, None  # the primary network interface counts against the limit


def _remaining(ci: ContainerInstance, name: str) -> int:
    registered = _registered(ci, name) or {}
    return int(registered.get("integerValue") or 0) - sum(int((t.resource_requirements or {}).get(name, 0)) for t in _live_tasks(ci))


def _ports_in_use(ci: ContainerInstance, name: str) -> set[str]:
    reserved = set((_registered(ci, name) or {}).get("stringSetValue") or [])
    return reserved | {str(p) for t in _live_tasks(ci) for p in (t.resource_requirements or {}).get(name, [])}


def fit_failure(ci: ContainerInstance, need: dict[str, Any]) -> tuple[str, str | None] | None:
    """ECS's reason why a task needing ``need`` cannot go on ``ci`` now, or None when it fits."""
    if not ci.agent_connected:
        return "AGENT", None
    for name in ("CPU", "MEMORY"):
        if need[name] > _remaining(ci, name):
            return f"RESOURCE:{name}", None
    for name in ("PORTS", "PORTS_UDP"):
        if {str(p) for p in need[name]} & _ports_in_use(ci, name):
            return f"RESOURCE:{name}", None
    if need["GPU"] > len(free_gpus(ci)):
        return "RESOURCE:GPU", None
    if need["ENI"]:
        limit, unknown = eni_limit(ci)
        if limit is None:
            return "RESOURCE:ENI", unknown
        if sum((t.resource_requirements or {}).get("ENI", 0) for t in _live_tasks(ci)) + need["ENI"] > limit:
            return "RESOURCE:ENI", None
    return None


def _failure(arn: str, why: tuple[str, str | None]) -> dict[str, str]:
    reason, detail = why
    return {"arn": arn, "reason": reason, **({"detail": detail} if detail else {})}


# --- Placing ------------------------------------------------------------------------------------------


def _check_network(task_definition: TaskDefinition, network_configuration: dict[str, Any] | None) -> None:
    if task_definition.network_mode == "awsvpc":
        if not network_configuration or not (network_configuration.get("awsvpcConfiguration") or {}).get("subnets"):
            raise InvalidParameterException("Network Configuration must be provided when networkMode 'awsvpc' is specified.")
    elif network_configuration:
        raise InvalidParameterException("Network Configuration is not valid for the given networkMode of this task definition.")


def _network_for(backend: EC2ContainerServiceBackend, ci: ContainerInstance, network: dict[str, Any]) -> dict[str, Any]:
    """The task's network configuration with a subnet in the instance's zone first (moto uses the first)."""
    network = copy.deepcopy(network)
    vpc = network["awsvpcConfiguration"]
    vpc.setdefault("securityGroups", [])
    zone = ci.attributes.get("ecs.availability-zone")
    ec2 = ec2_backends[backend.account_id][backend.region_name]
    subnets = list(vpc["subnets"])
    try:
        zones = {s.id: s.availability_zone for s in ec2.describe_subnets(subnet_ids=subnets)}
    except Exception:  # unknown subnets: moto's ENI creation says which
        zones = {}
    vpc["subnets"] = sorted(subnets, key=lambda s: zones.get(s) != zone)
    return network


def _eni_attachment(backend: EC2ContainerServiceBackend, ci: ContainerInstance, network: dict[str, Any]) -> dict[str, Any]:
    """The task's own ENI, in a subnet of the instance's zone, as DescribeTasks' ElasticNetworkInterface attachment."""
    vpc = _network_for(backend, ci, network)["awsvpcConfiguration"]
    attachment_id = str(uuid.uuid4())
    ec2 = ec2_backends[backend.account_id][backend.region_name]
    eni = ec2.create_network_interface(
        subnet=vpc["subnets"][0],
        private_ip_address=None,  # moto picks one in the subnet
        group_ids=vpc["securityGroups"],
        description=f"arn:aws:ecs:{backend.region_name}:{backend.account_id}:attachment/{attachment_id}",
    )
    eni.status = "in-use"
    domain = "ec2.internal" if backend.region_name == "us-east-1" else f"{backend.region_name}.compute.internal"
    dns = getattr(eni, "private_dns_name", None) or f"ip-{eni.private_ip_address.replace('.', '-')}.{domain}"
    return {
        "id": attachment_id,
        "type": "ElasticNetworkInterface",
        "status": "ATTACHED",
        "details": [
            {"name": "subnetId", "value": vpc["subnets"][0]},
            {"name": "networkInterfaceId", "value": eni.id},
            {"name": "macAddress", "value": eni.mac_address},
            {"name": "privateDnsName", "value": dns},
            {"name": "privateIPv4Address", "value": eni.private_ip_address},
        ],
    }


def _place(
    backend: EC2ContainerServiceBackend,
    cluster: Cluster,
    task_definition: TaskDefinition,
    ci: ContainerInstance,
    need: dict[str, Any],
    request: dict[str, Any],
) -> Task:
    gpus = free_gpus(ci)[: need["GPU"]]
    # moto's own awsvpc branch crashes (its ENI has no private_dns_name unless the VPC has DNS hostnames)
    # and picks an address outside the subnet: the task is built as bridge and given its ENI below.
    definition = copy.copy(task_definition)
    definition.network_mode = "bridge" if task_definition.network_mode == "awsvpc" else task_definition.network_mode
    task = Task(
        cluster,
        definition,
        ci.container_instance_arn,
        need,
        backend=backend,
        group=request["group"],
        overrides=request.get("overrides") or {},
        started_by=request.get("started_by") or "",
        tags=request.get("tags") or [],
        launch_type=request.get("launch_type") or "EC2",
    )
    if task_definition.network_mode == "awsvpc":
        task.attachments.append(_eni_attachment(backend, ci, request["network_configuration"]))
    task.gpu_ids = gpus
    if gpus:
        for container in task.containers:
            container.gpu_ids = gpus
    backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
    return task


def start_task(
    self: EC2ContainerServiceBackend,
    cluster_str: str,
    task_definition_str: str,
    container_instances: list[str],
    overrides: dict[str, Any] | None,
    started_by: str | None,
    tags: list[dict[str, str]] | None = None,
    group: str | None = None,
    network_configuration: dict[str, Any] | None = None,
) -> tuple[list[Task], list[dict[str, str]]]:
    cluster = self._get_cluster(cluster_str)
    task_definition = self.describe_task_definition(task_definition_str)
    if not container_instances:
        raise EcsClientException("Container Instances cannot be empty.")
    if len(container_instances) > 10:
        raise InvalidParameterException("containerInstances can have at most 10 items.")
    _check_network(task_definition, network_configuration)
    need = requirements(task_definition)
    request = {
        "group": group or f"family:{task_definition.family}",
        "overrides": overrides,
        "started_by": started_by,
        "tags": tags,
        "network_configuration": network_configuration,
    }
    tasks, failures = [], []
    registered = self.container_instances.get(cluster.name, {})
    for ref in container_instances:
        ci = registered.get(ref.split("/")[-1])
        if ci is None:
            failures.append({"arn": ref, "reason": "MISSING"})
            continue
        why = fit_failure(ci, need)
        if why is not None:
            failures.append(_failure(ci.container_instance_arn, why))
            continue
        tasks.append(_place(self, cluster, task_definition, ci, need, request))
    return tasks, failures


_moto_run_task = EC2ContainerServiceBackend.run_task


def run_task(
    self: EC2ContainerServiceBackend,
    cluster_str: str,
    task_definition_str: str,
    count: int,
    overrides: dict[str, Any] | None,
    started_by: str | None,
    tags: list[dict[str, str]] | None,
    launch_type: str | None,
    networking_configuration: dict[str, Any] | None = None,
    group: str | None = None,
    platform_version: str | None = None,
    placement_constraints: list[dict[str, Any]] | None = None,
    placement_strategy: list[dict[str, Any]] | None = None,
) -> tuple[list[Task], list[dict[str, str]]]:
    if launch_type == "FARGATE":
        tasks = _moto_run_task(
            self, cluster_str, task_definition_str, count, overrides, started_by, tags, launch_type,
            networking_configuration, group, platform_version,
        )  # fmt: skip
        return tasks, []
    if launch_type not in (None, "", "EC2", "EXTERNAL"):
        raise InvalidParameterException("launch type should be one of [EC2,FARGATE,EXTERNAL]")
    cluster = self._get_cluster(cluster_str)
    task_definition = self.describe_task_definition(task_definition_str)
    if not 1 <= count <= MAX_RUN_TASK_COUNT:
        raise InvalidParameterException(f"count must be between 1 and {MAX_RUN_TASK_COUNT}.")
    constraints = validate_constraints(placement_constraints or [], allow_distinct=True)
    strategies = validate_strategies(placement_strategy or []) or [{"type": "random"}]
    _check_network(task_definition, networking_configuration)
    member_of = [cluster_query.parse(c["expression"]) for c in [*task_definition.placement_constraints, *constraints] if c["type"] == "memberOf"]
    distinct = any(c["type"] == "distinctInstance" for c in constraints)
    instances = [ci for ci in self.container_instances.get(cluster.name, {}).values() if ci.status == "ACTIVE"]
    if not instances:
        raise InvalidParameterException("No Container Instances were found in your cluster.")
    group = group or f"family:{task_definition.family}"
    need = requirements(task_definition)
    request = {
        "group": group,
        "overrides": overrides,
        "started_by": started_by,
        "tags": tags,
        "launch_type": launch_type,
        "network_configuration": networking_configuration,
    }
    tasks: list[Task] = []
    for _ in range(count):
        candidates, failures = [], []
        for ci in instances:
            why = fit_failure(ci, need) or _constraint_failure(ci, member_of, distinct, group)
            if why is None:
                candidates.append(ci)
            else:
                failures.append(_failure(ci.container_instance_arn, why))
        if not candidates:
            return tasks, failures
        chosen = _choose(candidates, strategies, group, instances)
        tasks.append(_place(self, cluster, task_definition, chosen, need, request))
    return tasks, []


def _constraint_failure(
    ci: ContainerInstance, member_of: list[cluster_query.Expression], distinct: bool, group: str
) -> tuple[str, str | None] | None:
    from ecs_gaps import instance_tasks

    if any(not expression.matches(ci, instance_tasks) for expression in member_of):
        return "MemberOf placement constraint unsatisfied", None
    if distinct and any(t.group == group for t in _live_tasks(ci)):
        return "DistinctInstance placement constraint unsatisfied", None
    return None


def _choose(
    candidates: list[ContainerInstance], strategies: list[dict[str, Any]], group: str, instances: list[ContainerInstance]
) -> ContainerInstance:
    """Narrow the candidates strategy by strategy; the earliest registered of those left wins."""
    pool = list(candidates)
    for strategy in strategies:
        if len(pool) == 1:
            break
        kind, field = strategy["type"], (strategy.get("field") or "")
        if kind == "random":
            pool = [RNG.choice(pool)]
        elif kind == "binpack":
            name = field.upper()
            least = min(_remaining(ci, name) for ci in pool)
            pool = [ci for ci in pool if _remaining(ci, name) == least]
        else:  # spread
            def in_group(ci: ContainerInstance) -> int:
                return sum(1 for t in _live_tasks(ci) if t.group == group)

            if field.lower() in ("instanceid", "host"):
                fewest = min(in_group(ci) for ci in pool)
                pool = [ci for ci in pool if in_group(ci) == fewest]
            else:
                attribute = field[len("attribute:") :]
                per_value: dict[Any, int] = {}
                for ci in instances:
                    value = ci.attributes.get(attribute)
                    per_value[value] = per_value.get(value, 0) + in_group(ci)
                fewest = min(per_value[ci.attributes.get(attribute)] for ci in pool)
                pool = [ci for ci in pool if per_value[ci.attributes.get(attribute)] == fewest]
    return pool[0]


# --- Validation -------------------------------------------------------------------------------------


def validate_constraints(constraints: list[dict[str, Any]], allow_distinct: bool) -> list[dict[str, Any]]:
    """Placement constraints as ECS checks them: at most 10, distinctInstance (without an expression) where
    allowed, memberOf with a valid cluster query expression."""
    if len(constraints) > MAX_CONSTRAINTS:
        raise InvalidParameterException(f"A maximum of {MAX_CONSTRAINTS} placement constraints is supported.")
    kept = []
    for constraint in constraints:
        kind, expression = constraint.get("type"), constraint.get("expression")
        if kind == "memberOf":
            if not expression:
                raise InvalidParameterException("A memberOf placement constraint needs an expression.")
            cluster_query.parse(expression)
            kept.append({"type": kind, "expression": expression})
        elif kind == "distinctInstance" and allow_distinct:
            if expression:
                raise InvalidParameterException("An expression cannot be specified for a distinctInstance placement constraint.")
            kept.append({"type": kind})
        else:
            allowed = "distinctInstance, memberOf" if allow_distinct else "memberOf"
            raise InvalidParameterException(f"Invalid placement constraint type {kind!r}; valid types are {allowed}.")
    return kept


def validate_strategies(strategies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(strategies) > MAX_STRATEGIES:
        raise InvalidParameterException(f"A maximum of {MAX_STRATEGIES} placement strategies is supported.")
    kept = []
    for strategy in strategies:
        kind, field = strategy.get("type"), strategy.get("field")
        if kind == "random":
            if field:
                raise InvalidParameterException("A field cannot be specified for the random placement strategy.")
            kept.append({"type": kind})
        elif kind == "binpack":
            if str(field).lower() not in ("cpu", "memory"):
                raise InvalidParameterException(f"Invalid field {field!r} for the binpack placement strategy; valid fields are cpu, memory.")
            kept.append({"type": kind, "field": field})
        elif kind == "spread":
            if not field or not (str(field).lower() in ("instanceid", "host") or (field.startswith("attribute:") and len(field) > 10)):
                raise InvalidParameterException(f"Invalid field {field!r} for the spread placement strategy; use instanceId, host or attribute:<name>.")
            kept.append({"type": kind, "field": field})
        else:
            raise InvalidParameterException(f"Invalid placement strategy type {kind!r}; valid types are random, spread, binpack.")
    return kept


# --- Registration -------------------------------------------------------------------------------------


def _container_instance_init(
    self: ContainerInstance,
    ec2_instance_id: str,
    account_id: str,
    region_name: str,
    cluster_name: str,
    backend: EC2ContainerServiceBackend,
    identity: dict[str, Any] | None = None,
) -> None:
    """moto's ContainerInstance, without requiring the EC2 instance to exist, and with the agent's attributes."""
    self.ec2_instance_id = ec2_instance_id
    self.agent_connected = True
    self.status = "ACTIVE"
    self.registered_resources = [
        {"doubleValue": 0.0, "integerValue": 4096, "longValue": 0, "name": "CPU", "type": "INTEGER"},
        {"doubleValue": 0.0, "integerValue": 7482, "longValue": 0, "name": "MEMORY", "type": "INTEGER"},
        {"doubleValue": 0.0, "integerValue": 0, "longValue": 0, "name": "PORTS", "stringSetValue": list(DEFAULT_RESERVED_PORTS), "type": "STRINGSET"},
        {"doubleValue": 0.0, "integerValue": 0, "longValue": 0, "name": "PORTS_UDP", "stringSetValue": [], "type": "STRINGSET"},
    ]  # fmt: skip
    self.version_info = {"agentVersion": "1.0.0", "agentHash": "4023248", "dockerVersion": "DockerVersion: 1.5.0"}
    self.attributes = instance_attributes(backend, ec2_instance_id, identity or {})
    self.registered_at = utcnow()
    self.region_name = region_name
    self.id = str(uuid.uuid4())
    self.cluster_name = cluster_name
    self._account_id = account_id
    self._backend = backend


def instance_attributes(backend: EC2ContainerServiceBackend, ec2_instance_id: str, identity: dict[str, Any]) -> dict[str, str | None]:
    """What the agent registers from instance metadata (moto's EC2 instance, else the identity document)."""
    ec2 = ec2_backends[backend.account_id][backend.region_name]
    try:
        instance = ec2.get_instance(ec2_instance_id)
    except InvalidInstanceIdError:
        instance = None
    if instance is not None:
        instance_type, zone, ami = instance.instance_type, instance.availability_zone, instance.image_id
        os_type = "windows" if instance.platform == "windows" else "linux"
        vpc, subnet = getattr(instance, "vpc_id", None), getattr(instance, "subnet_id", None)
    else:
        missing = [k for k in ("instanceType", "availabilityZone", "imageId") if not identity.get(k)]
        if missing:
            raise InvalidParameterException(
                f"EC2 instance {ec2_instance_id} does not exist, and the instance identity document has no {', '.join(missing)}."
            )
        instance_type, zone, ami = identity["instanceType"], identity["availabilityZone"], identity["imageId"]
        os_type, vpc, subnet = "linux", None, None
    attributes: dict[str, str | None] = {
        "ecs.ami-id": ami,
        "ecs.availability-zone": zone,
        "ecs.instance-type": instance_type,
        "ecs.os-type": os_type,
    }
    arch = ec2_gaps.architecture(instance_type) or identity.get("architecture")
    if arch:
        attributes["ecs.cpu-architecture"] = arch
    if vpc:
        attributes["ecs.vpc-id"] = vpc
    if subnet:
        attributes["ecs.subnet-id"] = subnet
    setting = backend.account_settings.get(TRUNK_SETTING)
    if setting is not None and setting.value == "enabled" and ec2_gaps.supports_trunking(instance_type):
        attributes["ecs.awsvpc-trunk-id"] = "eni-" + uuid.uuid4().hex[:17]
    return attributes


def register_container_instance(
    backend: EC2ContainerServiceBackend,
    cluster_str: str,
    identity: dict[str, Any],
    total_resources: list[dict[str, Any]],
    attributes: list[dict[str, Any]],
) -> ContainerInstance:
    cluster = backend._get_cluster(cluster_str)
    instance_id = identity.get("instanceId")
    if not instance_id:
        raise InvalidParameterException("The instance identity document has no instanceId.")
    ci = ContainerInstance(instance_id, backend.account_id, backend.region_name, cluster.name, backend=backend, identity=identity)
    if total_resources:
        merged = {r["name"]: r for r in ci.registered_resources}
        merged.update({r["name"]: r for r in total_resources})
        ci.registered_resources = list(merged.values())
    for attribute in attributes:
        ci.attributes[attribute["name"]] = attribute.get("value")
    backend.container_instances.setdefault(cluster.name, {})[ci.id] = ci
    return ci


# --- Responses ------------------------------------------------------------------------------------------


def _response_register_container_instance(self: EC2ContainerServiceResponse) -> ActionResult:
    try:
        identity = json.loads(self._get_param("instanceIdentityDocument") or "{}")
    except ValueError:
        raise InvalidParameterException("The instance identity document is not valid JSON.") from None
    ci = register_container_instance(
        self.ecs_backend,
        self._get_param("cluster", "default"),
        identity if isinstance(identity, dict) else {},
        self._get_param("totalResources") or [],
        self._get_param("attributes") or [],
    )
    return ActionResult({"containerInstance": ci})


def _response_start_task(self: EC2ContainerServiceResponse) -> ActionResult:
    tasks, failures = start_task(
        self.ecs_backend,
        self._get_param("cluster", "default"),
        self._get_param("taskDefinition"),
        self._get_param("containerInstances") or [],
        self._get_param("overrides"),
        self._get_param("startedBy"),
        self._get_param("tags"),
        self._get_param("group"),
        self._get_param("networkConfiguration"),
    )
    return ActionResult({"tasks": tasks, "failures": failures})


def _response_run_task(self: EC2ContainerServiceResponse) -> ActionResult:
    tasks, failures = run_task(
        self.ecs_backend,
        self._get_param("cluster", "default"),
        self._get_param("taskDefinition"),
        self._get_int_param("count", 1),
        self._get_param("overrides"),
        self._get_param("startedBy"),
        self._get_param("tags"),
        self._get_param("launchType"),
        self._get_param("networkConfiguration"),
        self._get_param("group"),
        self._get_param("platformVersion"),
        self._get_param("placementConstraints"),
        self._get_param("placementStrategy"),
    )
    return ActionResult({"tasks": tasks, "failures": failures})


_register_task_definition = EC2ContainerServiceResponse.register_task_definition
_create_service = EC2ContainerServiceResponse.create_service
_update_service = EC2ContainerServiceResponse.update_service


def _validate_container_defs(memory: str | None, container_definitions: list[dict[str, Any]], requires_compatibilities: list[str] | None) -> None:
    """moto required a container-level ``memory`` (hard limit) whenever requiresCompatibilities named EC2; ECS
    takes ``memory`` or ``memoryReservation`` (or the task-level memory), whatever the compatibilities."""
    from moto.ecs.exceptions import TaskDefinitionMemoryError, TaskDefinitionMissingPropertyError

    for container in container_definitions:
        if "name" not in container and "Name" not in container:
            raise TaskDefinitionMissingPropertyError("name")
        if "image" not in container and "Image" not in container:
            raise TaskDefinitionMissingPropertyError("image")
        if not memory and not any(k in container for k in ("memory", "Memory", "memoryReservation", "MemoryReservation")):
            raise TaskDefinitionMemoryError(container["name"])


def _response_register_task_definition(self: EC2ContainerServiceResponse) -> ActionResult:
    validate_constraints(self._get_param("placementConstraints") or [], allow_distinct=False)
    for container in self._get_param("containerDefinitions") or []:
        for requirement in container.get("resourceRequirements") or []:
            if requirement.get("type") == "GPU" and not str(requirement.get("value", "")).isdigit():
                raise InvalidParameterException(f"The GPU resource requirement of container {container.get('name')} must be a whole number.")
        for mapping in container.get("portMappings") or []:
            if str(mapping.get("protocol") or "tcp") not in ("tcp", "udp"):
                raise InvalidParameterException(f"Invalid protocol {mapping.get('protocol')!r} in a port mapping; valid protocols are tcp, udp.")
    result = _register_task_definition(self)
    task_definition = result.result["taskDefinition"]
    for container in task_definition.container_definitions:
        for mapping in container.get("portMappings") or []:
            mapping.setdefault("protocol", "tcp")
            if task_definition.network_mode in ("host", "awsvpc") and mapping.get("containerPort") and not mapping.get("hostPort"):
                mapping["hostPort"] = mapping["containerPort"]
    return result


def _response_create_service(self: EC2ContainerServiceResponse) -> ActionResult:
    constraints = validate_constraints(self._get_param("placementConstraints") or [], allow_distinct=True)
    strategies = validate_strategies(self._get_param("placementStrategy") or [])
    result = _create_service(self)
    service = result.result["service"]
    service.placement_constraints, service.placement_strategy = constraints, strategies
    return result


def _response_update_service(self: EC2ContainerServiceResponse) -> ActionResult:
    constraints, strategies = self._get_param("placementConstraints"), self._get_param("placementStrategy")
    if constraints is not None:
        constraints = validate_constraints(constraints, allow_distinct=True)
    if strategies is not None:
        strategies = validate_strategies(strategies)
    result = _update_service(self)
    service = result.result["service"]
    if constraints is not None:
        service.placement_constraints = constraints
    if strategies is not None:
        service.placement_strategy = strategies
    return result


_validate_network = Service._validate_network


def _service_validate_network(self: Service, network: dict[str, Any]) -> dict[str, Any]:
    """moto required ``securityGroups`` (KeyError, a 500); ECS uses the VPC's default group when none is given."""
    vpc = network.get("awsvpcConfiguration") or {}
    if "securityGroups" not in vpc:
        _validate_network(self, {"awsvpcConfiguration": {**vpc, "securityGroups": []}})
        return network
    return _validate_network(self, network)


def _response_put_account_setting_default(self: EC2ContainerServiceResponse) -> ActionResult:
    """PutAccountSettingDefault (moto has only PutAccountSetting; one account, one principal here)."""
    self.ecs_backend.list_account_settings(self._get_param("name"))  # validates the name
    setting = self.ecs_backend.put_account_setting(self._get_param("name"), self._get_param("value"))
    return ActionResult({"setting": setting})


def install() -> None:
    """Patch moto's ECS models and responses (after ecs_gaps.install)."""
    global _register_task_definition, _create_service, _update_service
    _register_task_definition = EC2ContainerServiceResponse.register_task_definition
    _create_service = EC2ContainerServiceResponse.create_service
    _update_service = EC2ContainerServiceResponse.update_service
    ContainerInstance.__init__ = _container_instance_init
    Task.gpu_ids = ()
    Service.placement_constraints = Service.placement_strategy = ()
    Service._validate_network = _service_validate_network
    EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(requirements)
    EC2ContainerServiceBackend._validate_container_defs = staticmethod(_validate_container_defs)
    EC2ContainerServiceBackend.start_task = start_task
    EC2ContainerServiceBackend.run_task = run_task
    EC2ContainerServiceResponse.register_container_instance = _response_register_container_instance
    EC2ContainerServiceResponse.start_task = _response_start_task
    EC2ContainerServiceResponse.run_task = _response_run_task
    EC2ContainerServiceResponse.register_task_definition = _response_register_task_definition
    EC2ContainerServiceResponse.create_service = _response_create_service
    EC2ContainerServiceResponse.update_service = _response_update_service
    EC2ContainerServiceResponse.put_account_setting_default = _response_put_account_setting_default
