"""ECS behaviour the ecs-scaler tests rely on and moto 5.2.1 gets wrong or leaves out.

Each patch below names the gap it closes. In short:

* Counters are derived from tasks, as real ECS reports them. moto keeps hand-maintained
  counters that drift (a cluster's runningTasksCount goes negative after StopTask, a service's
  runningCount never changes after creation). Here they are computed on every read:
  DescribeServices runningCount/pendingCount count the cluster's tasks whose group is
  ``service:<name>`` by lastStatus; a DAEMON service's desiredCount is its cluster's ACTIVE
  container instances; DescribeClusters counts tasks, ACTIVE services and registered
  instances; a container instance's running/pending task counts and remainingResources come
  from the tasks placed on it (those not STOPPED reserve CPU, memory and host ports).
* Tasks keep the lastStatus they are given. moto advances a task one step towards STOPPED
  on every DescribeTasks; here StartTask/RunTask tasks stay RUNNING until StopTask or the
  control API changes them; their containers follow their status and health. Tasks also get
  healthStatus (UNKNOWN until set), createdAt, startedAt and stoppedAt, and launchType EC2 when
  StartTask leaves it empty.
* A task's containers report cpu and memory as strings, as the ECS model types them (moto's
  integers make the Rust SDK reject the whole DescribeTasks answer).
* Task reservations follow ECS: task-level cpu/memory when the task definition has them,
  otherwise the sum of its containers' cpu and memoryReservation (else memory) (``task_size``;
  placement.py adds ports, GPUs and ENIs, registration and StartTask/RunTask).
* UpdateContainerInstancesState answers with the instances' attributes (moto's answer lists each as
  an empty object).
* ListClusters, ListServices, ListContainerInstances and ListTasks paginate (maxResults,
  nextToken; ECS's default page sizes). ListServices is scoped to its cluster exactly and
  leaves deleted services out. ListContainerInstances supports ``status`` and the cluster query
  language (cluster_query.py) in ``filter``. ListTasks filters by serviceName (the task group
  ``service:<name>``) and defaults desiredStatus to RUNNING, so stopped tasks drop out.
* DescribeTasks looks only in the requested cluster and reports unknown tasks as failures.
* StopTask is idempotent.
* CreateService keeps deploymentConfiguration (with ECS's defaults when absent).
* PutAttributes/DeleteAttributes accept a container instance ARN with or without
  targetType, and DeleteAttributes deletes by name as ECS does (moto required the value).

``add_service_event`` and ``set_task_state`` back the control API: ECS has no API for either (a task
that ECS is stopping, desired STOPPED but still DEACTIVATING, is made with the latter).
"""

import base64
import copy
import datetime
import re
import uuid
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.ec2.models import ec2_backends
from moto.ecs.exceptions import ECSException, InvalidParameterException
from moto.ecs.models import (
    Cluster,
    ContainerInstance,
    EC2ContainerServiceBackend,
    Service,
    Task,
    ecs_backends,
)
from moto.ecs.responses import DESCRIBE_TASKS_TAGS, EC2ContainerServiceResponse, format_attributes

import cluster_query

TASK_STATUSES = ("PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED")
HEALTH_STATUSES = ("HEALTHY", "UNHEALTHY", "UNKNOWN")
DESIRED_STATUSES = ("RUNNING", "STOPPED")
MAX_SERVICE_EVENTS = 100  # DescribeServices returns at most the 100 newest events


# --- Derived counters -----------------------------------------------------------------------


def _derived(getter: Any) -> property:
    """A read-only view computed on each read; moto's own bookkeeping writes are ignored."""
    return property(getter, lambda self, value: None)


def _cluster_tasks(backend: EC2ContainerServiceBackend, cluster_name: str) -> list[Task]:
    return list(backend.tasks.get(cluster_name, {}).values())


def _cluster_backend(cluster: Cluster) -> EC2ContainerServiceBackend:
    return ecs_backends[cluster.arn.split(":")[4]][cluster.region_name]


def _count(tasks: list[Task], status: str) -> int:
    return sum(1 for t in tasks if t.last_status == status)


def _service_tasks(service: Service) -> list[Task]:
    return [t for t in _cluster_tasks(service._backend, service.cluster_name) if t.group == f"service:{service.name}"]


def instance_tasks(ci: ContainerInstance) -> list[Task]:
    tasks = _cluster_tasks(ci._backend, ci.cluster_name)
    return [t for t in tasks if t.container_instance_arn == ci.container_instance_arn]


def _active_instances(backend: EC2ContainerServiceBackend, cluster_name: str) -> int:
    return sum(1 for ci in backend.container_instances.get(cluster_name, {}).values() if ci.status == "ACTIVE")


def _desired_count(service: Service) -> int:
    if getattr(service, "scheduling_strategy", None) == "DAEMON":
        return _active_instances(service._backend, service.cluster_name)
    return service.__dict__.get("_desired_count", 0)


def _set_desired_count(service: Service, value: int) -> None:
    service.__dict__["_desired_count"] = value


def _remaining_resources(ci: ContainerInstance) -> list[dict[str, Any]]:
    """Registered resources less what the instance's tasks that are not STOPPED reserve (placement.py says
    what a task reserves)."""
    live = [t for t in instance_tasks(ci) if t.last_status != "STOPPED"]
    reserved = [t.resource_requirements or {} for t in live]
    remaining = copy.deepcopy(ci.registered_resources)
    for resource in remaining:
        name = resource["name"]
        if name in ("CPU", "MEMORY"):
            resource["integerValue"] = resource.get("integerValue", 0) - sum(r.get(name, 0) for r in reserved)
        elif name in ("PORTS", "PORTS_UDP"):  # ECS lists the ports in use here: the agent's and the tasks'
            in_use = [str(port) for r in reserved for port in r.get(name, [])]
            resource["stringSetValue"] = resource.get("stringSetValue", []) + in_use
        elif name == "GPU":  # the GPU ids not assigned to a task
            assigned = {gpu for t in live for gpu in getattr(t, "gpu_ids", ())}
            resource["stringSetValue"] = [gpu for gpu in resource.get("stringSetValue", []) if gpu not in assigned]
    return remaining


def task_size(value: str) -> int:
    """A task-level cpu or memory in CPU units or MiB: "512", or "0.5 vCPU" / "2 GB" (x 1024)."""
    match = re.fullmatch(r"\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>vCPU|GB)?\s*", str(value), re.IGNORECASE)
    if match is None:
        raise InvalidParameterException(f"The emulator cannot read the task size {value!r}.")
    return int(float(match["number"]) * (1024 if match["unit"] else 1))


# --- Tasks ----------------------------------------------------------------------------------

_moto_task_init = Task.__init__


def _task_init(self: Task, *args: Any, **kwargs: Any) -> None:
    _moto_task_init(self, *args, **kwargs)
    self.created_at = self.started_at = utcnow()  # moto places tasks straight into RUNNING
    self.launch_type = self.launch_type or "EC2"  # StartTask only places on EC2 container instances
    for container in self.containers:
        # ECS types a task's container cpu and memory as strings; moto copies the task
        # definition's integers, which the Rust SDK's typed decoder rejects (DescribeTasks fails).
        container.cpu = None if container.cpu is None else str(container.cpu)
        container.memory = None if container.memory is None else str(container.memory)
        container.last_status, container.health_status = self._status, self.health_status


def _set_last_status(task: Task, status: str) -> None:
    task._status = status
    for container in task.containers:
        container.last_status = status
    if status in ("PROVISIONING", "PENDING", "ACTIVATING"):
        task.started_at = None  # not started yet
    elif status == "RUNNING" and task.started_at is None:
        task.started_at = utcnow()
    if status == "STOPPED":
        task.desired_status = "STOPPED"
        task.stopped_at = task.stopped_at or utcnow()
        for attachment in task.attachments:  # the task's ENI is detached and deleted with it
            if attachment["status"] != "DELETED":
                attachment["status"] = "DELETED"
                _delete_eni(task, attachment)


def _delete_eni(task: Task, attachment: dict[str, Any]) -> None:
    eni = next((d["value"] for d in attachment.get("details", []) if d["name"] == "networkInterfaceId"), None)
    ec2 = ec2_backends[task._backend.account_id][task._backend.region_name]
    if eni in ec2.enis:
        ec2.delete_network_interface(eni)


def _find_task(backend: EC2ContainerServiceBackend, cluster_ref: str, task_ref: str) -> Task:
    cluster = backend._get_cluster(cluster_ref)
    for arn, task in backend.tasks.get(cluster.name, {}).items():
        if arn.split("/")[-1] == task_ref.split("/")[-1]:
            return task
    raise InvalidParameterException("The referenced task was not found.")


def _stop_task(self: EC2ContainerServiceBackend, cluster_str: str, task_str: str, reason: str | None) -> Task:
    task = _find_task(self, cluster_str, task_str)
    if task.desired_status != "STOPPED":
        task.stopped_reason = reason or "Task stopped by user"
        task.last_status = "STOPPED"
    return task


# --- Container instance attributes ----------------------------------------------------------


def _attribute_targets(
    backend: EC2ContainerServiceBackend, cluster_name: str, target_id: str | None, target_type: str | None
) -> list[ContainerInstance]:
    instances = backend.container_instances.get(cluster_name, {})
    if target_id is None:
        return list(instances.values())
    instance = instances.get(target_id.split("/")[-1]) if target_type in (None, "container-instance") else None
    if instance is None:
        raise ECSException("TargetNotFoundException", f"Could not find {target_id}")
    return [instance]


def _put_attribute(
    self: EC2ContainerServiceBackend,
    cluster_name: str,
    name: str,
    value: str | None = None,
    target_id: str | None = None,
    target_type: str | None = None,
) -> None:
    for instance in _attribute_targets(self, cluster_name, target_id, target_type):
        instance.attributes[name] = value


def _delete_attribute(
    self: EC2ContainerServiceBackend,
    cluster_name: str,
    name: str,
    value: str | None = None,
    target_id: str | None = None,
    target_type: str | None = None,
) -> None:
    for instance in _attribute_targets(self, cluster_name, target_id, target_type):
        if name in instance.attributes and value in (None, instance.attributes[name]):
            del instance.attributes[name]


# --- Responses ------------------------------------------------------------------------------


def _page(response: EC2ContainerServiceResponse, items: list[str], default_size: int) -> tuple[list[str], str | None]:
    """One page of ``items`` per the request's maxResults/nextToken; the token is an opaque offset."""
    size = response._get_int_param("maxResults") or default_size
    if not 1 <= size <= 100:
        raise InvalidParameterException("maxResults must be between 1 and 100.")
    token = response._get_param("nextToken")
    try:
        start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
    except ValueError:
        raise InvalidParameterException("Invalid nextToken.") from None
    end = start + size
    next_token = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
    return items[start:end], next_token


def _response_list_clusters(self: EC2ContainerServiceResponse) -> ActionResult:
    arns, token = _page(self, sorted(self.ecs_backend.list_clusters()), 100)
    return ActionResult({"clusterArns": arns, "nextToken": token})


def _response_list_services(self: EC2ContainerServiceResponse) -> ActionResult:
    cluster = self.ecs_backend._get_cluster(self._get_param("cluster", "default"))
    strategy, launch_type = self._get_param("schedulingStrategy"), self._get_param("launchType")
    arns = sorted(
        s.arn
        for s in self.ecs_backend.services.values()
        if s.cluster_name == cluster.name
        and s.status != "INACTIVE"
        and strategy in (None, s.scheduling_strategy)
        and launch_type in (None, s.launch_type)
    )
    page, token = _page(self, arns, 10)
    return ActionResult({"serviceArns": page, "nextToken": token})


def _response_list_container_instances(self: EC2ContainerServiceResponse) -> ActionResult:
    cluster = self.ecs_backend._get_cluster(self._get_param("cluster", "default"))
    status, expression = self._get_param("status"), self._get_param("filter")
    arns = sorted(
        ci.container_instance_arn
        for ci in self.ecs_backend.container_instances.get(cluster.name, {}).values()
        if status in (None, ci.status) and (not expression or _matches(expression, ci))
    )
    page, token = _page(self, arns, 100)
    return ActionResult({"containerInstanceArns": page, "nextToken": token})


def _response_list_tasks(self: EC2ContainerServiceResponse) -> ActionResult:
    cluster = self.ecs_backend._get_cluster(self._get_param("cluster", "default"))
    instance, family = self._get_param("containerInstance"), self._get_param("family")
    started_by, service = self._get_param("startedBy"), self._get_param("serviceName")
    desired, launch_type = self._get_param("desiredStatus") or "RUNNING", self._get_param("launchType")
    arns = sorted(
        t.task_arn
        for t in _cluster_tasks(self.ecs_backend, cluster.name)
        if t.desired_status == desired
        and (not instance or (t.container_instance_arn or "").split("/")[-1] == instance.split("/")[-1])
        and (not family or t.task_definition_arn.split("/")[-1].rsplit(":", 1)[0] == family)
        and started_by in (None, t.started_by)
        and (not service or t.group == f"service:{service.split('/')[-1]}")
        and launch_type in (None, t.launch_type)
    )
    page, token = _page(self, arns, 100)
    return ActionResult({"taskArns": page, "nextToken": token})


def _response_describe_tasks(self: EC2ContainerServiceResponse) -> ActionResult:
    cluster = self._get_param("cluster", "default")
    refs = self._get_param("tasks", [])
    if not refs:
        raise InvalidParameterException("Tasks cannot be empty.")
    tasks, failures = [], []
    for ref in refs:
        try:
            tasks.append(_find_task(self.ecs_backend, cluster, ref))
        except InvalidParameterException:
            failures.append({"arn": ref, "reason": "MISSING"})
    if "TAGS" in self._get_param("include", []):
        self._include_in_response(DESCRIBE_TASKS_TAGS)
    else:
        self._exclude_from_response(DESCRIBE_TASKS_TAGS)
    return ActionResult({"tasks": tasks, "failures": failures})


_create_service = EC2ContainerServiceResponse.create_service


def _response_create_service(self: EC2ContainerServiceResponse) -> ActionResult:
    result = _create_service(self)
    service = result.result["service"]
    defaults = (
        {"maximumPercent": 100, "minimumHealthyPercent": 0}
        if service.scheduling_strategy == "DAEMON"
        else {"maximumPercent": 200, "minimumHealthyPercent": 100}
    )
    defaults["deploymentCircuitBreaker"] = {"enable": False, "rollback": False}
    service.deployment_configuration = {**defaults, **(self._get_param("deploymentConfiguration") or {})}
    return result


# --- The cluster query language ------------------------------------------------------------------


def _matches(expression: str, ci: ContainerInstance) -> bool:
    """Whether ``ci`` satisfies a ListContainerInstances filter (cluster_query.py has the language)."""
    return cluster_query.matches(expression, ci, instance_tasks)


# --- Control API ----------------------------------------------------------------------------


def _backend() -> EC2ContainerServiceBackend:
    """The backend the tests' clients reach: moto's default account, in us-east-1."""
    return ecs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]


def add_service_event(cluster: str, service: str, message: str, created_at: float) -> dict[str, Any]:
    """Record a service event, newest first as DescribeServices lists them."""
    target = _backend()._get_service(cluster, service)
    event = {
        "id": str(uuid.uuid4()),
        "createdAt": datetime.datetime.fromtimestamp(created_at, datetime.timezone.utc),
        "message": message,
    }
    target.events.insert(0, event)
    del target.events[MAX_SERVICE_EVENTS:]
    return event


def set_task_state(
    cluster: str, task: str, last_status: str | None, health_status: str | None, desired_status: str | None = None
) -> Task:
    """Set what ECS would: desiredStatus STOPPED with lastStatus DEACTIVATING is a task ECS is stopping whose
    load balancer is still draining it. A lastStatus of STOPPED also makes it desired STOPPED."""
    found = _find_task(_backend(), cluster, task)
    if desired_status is not None:
        found.desired_status = desired_status
    if last_status is not None:
        found.last_status = last_status
    if health_status is not None:
        found.health_status = health_status
        for container in found.containers:
            container.health_status = health_status
    return found


def install() -> None:
    """Patch moto's ECS models and responses."""
    Cluster.registered_container_instances_count = _derived(
        lambda c: len(_cluster_backend(c).container_instances.get(c.name, {}))
    )
    Cluster.running_tasks_count = _derived(lambda c: _count(_cluster_tasks(_cluster_backend(c), c.name), "RUNNING"))
    Cluster.pending_tasks_count = _derived(lambda c: _count(_cluster_tasks(_cluster_backend(c), c.name), "PENDING"))
    Cluster.active_services_count = _derived(
        lambda c: sum(1 for s in _cluster_backend(c).services.values() if s.cluster_name == c.name and s.status == "ACTIVE")
    )
    Service.running_count = _derived(lambda s: _count(_service_tasks(s), "RUNNING"))
    Service.pending_count = _derived(lambda s: _count(_service_tasks(s), "PENDING"))
    Service.desired_count = property(_desired_count, _set_desired_count)
    ContainerInstance.running_tasks_count = _derived(lambda ci: _count(instance_tasks(ci), "RUNNING"))
    ContainerInstance.pending_tasks_count = _derived(lambda ci: _count(instance_tasks(ci), "PENDING"))
    ContainerInstance.remaining_resources = _derived(_remaining_resources)

    Task.__init__ = _task_init
    Task.last_status = property(lambda task: task._status, _set_last_status)
    Task.health_status = "UNKNOWN"
    Task.started_at = Task.stopped_at = None
    EC2ContainerServiceBackend.stop_task = _stop_task
    EC2ContainerServiceBackend._put_attribute = _put_attribute
    EC2ContainerServiceBackend._delete_attribute = _delete_attribute

    EC2ContainerServiceResponse.list_clusters = _response_list_clusters
    EC2ContainerServiceResponse.list_services = _response_list_services
    EC2ContainerServiceResponse.list_container_instances = _response_list_container_instances
    EC2ContainerServiceResponse.list_tasks = _response_list_tasks
    EC2ContainerServiceResponse.describe_tasks = _response_describe_tasks
    EC2ContainerServiceResponse.create_service = _response_create_service
    # moto formats the attributes (kept as a dict) for Describe and Register only; UpdateContainerInstancesState
    # answered with an empty object per attribute.
    EC2ContainerServiceResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER = {
        **EC2ContainerServiceResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER,
        "UpdateContainerInstancesStateResponse.containerInstances.ContainerInstance.attributes": format_attributes,
    }
