"""The complete example applied to the AWS emulator: what `terraform test` cannot say.

terraform/examples/complete/tests/emulator/emulator.tftest.hcl asserts what the apply creates. This applies the
example with both colours active and checks, with boto3 against the emulator, that
  - each colour's ScaleStatus alarms call that colour's own scaling policies;
  - the EventBridge schedules run the functions every minute (no data source reads them back);
  - a plan after an out-of-band change of blue's desired capacity (what the alarms do) would not undo it;
  - each colour has its shortfall step policy (shortfall-steps.json's table, 300 s warm-up), named by its group's
    ecs-scaler:shortfall-policy tag, and executing it as scale-status does adds the shortfall once while it warms;
  - the serving colour's InstancesSurplus alarm (Minimum >= 2 over the low alarm's window) calls its own surplus
    step policy (surplus-steps.json's table, aggregation Minimum), the other active colour has neither, and
    executing it as the alarm would, with a surplus of s, removes s - 1 instances;
  - both groups list the drain-hook function first in their termination policies, Auto Scaling's service-linked
    role may invoke it, and a scale-in asks it (a stand-in answers: termination_stand_in.py);
  - ECS placement failures of the cluster, and nothing else, reach scale-status through its rule;
  - scale-status runs with CONSOLIDATE, EVENT_MIN_INTERVAL_SECONDS and a reserved concurrency of 1, and both
    functions' policies hold what the new work needs, scoped (ExecutePolicy to the cluster's groups, TagResource to
    the cluster and its ecs-scaler:evaluated-at tag);
  - the drain-hook function, the groups' termination policy, runs with scale-status's thresholds and headroom
    (CPU_MIN, CPU_MAX, MEMORY_MIN, MEMORY_MAX, CONSOLIDATE_HEADROOM) and the same ECS API budget, as deployed;
then runs APPLY_THEN if set (`make demo` tells its story there), destroys, and checks that nothing is left.

scripts/terraform-checks.sh apply starts the emulator and runs this file. By hand, with an emulator running:
    AWS_ENDPOINT_URL=http://127.0.0.1:<port> .venv/bin/python tests/terraform/test_apply.py -v
Environment: AWS_ENDPOINT_URL (without it every test is skipped), TERRAFORM (default: terraform), TF_PLUGIN_DIR
(provider mirror for terraform init; unset: the registry), REGION (default us-east-1), APPLY_THEN.

The provider and the state are pointed at the emulator and a temporary directory by a generated
examples/complete/emulator_override.tf.json, which `terraform output` and `terraform show` (the demo) read too. It
names the pid that wrote it and is removed at the end; one left by a killed run is replaced.
"""

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.parse
import urllib.request
import zipfile

import boto3

from termination_stand_in import TerminationStandIn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "terraform", "examples", "complete")
OVERRIDE = os.path.join(EXAMPLE, "emulator_override.tf.json")
SERVICES = ("autoscaling", "cloudwatch", "ec2", "ecs", "events", "iam", "lambda", "logs", "sns", "sts")
# Green active (max_size > 0) but empty: it gets its policies and alarms without launching instances.
COLOURS = {
    "blue": '{ image_id = "ami-0123456789abcdef0" }',
    "green": '{ image_id = "ami-0fedcba9876543210", min_size = 0, max_size = 2 }',
}
BLUE_GROUP = 'module.ecs_cluster_bg.aws_autoscaling_group.this["blue"]'
SHORTFALL_STEPS = os.path.join(ROOT, "terraform", "modules", "ecs-cluster-blue-green", "shortfall-steps.json")
SURPLUS_STEPS = os.path.join(ROOT, "terraform", "modules", "ecs-cluster-blue-green", "surplus-steps.json")
ACCOUNT = "123456789012"  # moto's


class Example:
    """terraform in the example, with a private state and data dir, and boto3 clients for the emulator."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.terraform = os.environ.get("TERRAFORM") or "terraform"
        self.workdir = tempfile.mkdtemp(prefix="ecs-scaler-apply.")
        self.applied = self.destroyed = False
        self.outputs = {}
        self.stand_in = TerminationStandIn()
        region = os.environ.get("REGION", "us-east-1")
        self.vars = [f"-var=region={region}"] + [f"-var={colour}={spec}" for colour, spec in COLOURS.items()]
        self.vars += [f"-var={name}_zip={self.package(name)}" for name in ("scale_status", "drain_hook")]
        session = boto3.session.Session("emulator", "emulator", region_name=region)
        self.client = lambda service: session.client(service, endpoint_url=endpoint)

    def package(self, name):
        """The real zip when `make package` built it, otherwise a stand-in (the emulator never runs it)."""
        real = os.path.join(ROOT, "target", "lambda", name.replace("_", "-"), "bootstrap.zip")
        if os.path.isfile(real):
            return real
        stand_in = os.path.join(self.workdir, f"{name}.zip")
        info = zipfile.ZipInfo("bootstrap", date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o755 << 16
        with zipfile.ZipFile(stand_in, "w") as package:
            package.writestr(info, "#!/bin/sh\necho 'stand-in: build the function with make package' >&2\nexit 1\n")
        return stand_in

    def run(self, *args, log, check=True):
        """terraform <args> in the example: (exit code, stdout); both streams also go to <workdir>/<log>.log."""
        no_input = ["-input=false"] if args[0] in ("init", "plan", "apply", "destroy") else []
        command = [self.terraform, f"-chdir={EXAMPLE}", *args, "-no-color", *no_input]
        done = subprocess.run(command, capture_output=True, text=True)
        path = os.path.join(self.workdir, f"{log}.log")
        with open(path, "w") as out:
            out.write(done.stdout + done.stderr)
        if check and done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
            raise AssertionError(f"terraform {args[0]} failed (exit {done.returncode}; log {path}):\n{tail}")
        return done.returncode, done.stdout

    def apply(self):
        claim_override()
        override = {
            "//": f"Generated by tests/terraform/test_apply.py (pid {os.getpid()}), removed when it ends.",
            "terraform": {"backend": {"local": {"path": os.path.join(self.workdir, "terraform.tfstate")}}},
            "provider": {
                "aws": {
                    "access_key": "emulator",
                    "secret_key": "emulator",
                    "skip_credentials_validation": True,
                    "skip_requesting_account_id": True,
                    "skip_metadata_api_check": True,
                    "endpoints": {service: self.endpoint for service in SERVICES},
                }
            },
        }
        with open(OVERRIDE, "w") as out:
            json.dump(override, out, indent=2)
        atexit.register(release_override)
        # A data dir of its own leaves the example's .terraform (validate, test) alone; APPLY_THEN inherits it.
        os.environ["TF_DATA_DIR"] = os.path.join(self.workdir, "terraform-data")
        os.environ["TF_IN_AUTOMATION"] = "1"
        # A real account's settings must not reach the emulator run.
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ.pop(name, None)
        plugin_dir = os.environ.get("TF_PLUGIN_DIR")
        self.run("init", *([f"-plugin-dir={plugin_dir}"] if plugin_dir else []), log="init")
        self.applied = True  # from here on, teardown destroys, whatever the apply got to
        _, log = self.run("apply", "-auto-approve", *self.vars, log="apply")
        summary = next((line for line in log.splitlines() if line.startswith("Apply complete!")), "")
        print(f"\n  examples/complete, both colours active: {summary}", file=sys.stderr)
        _, output = self.run("output", "-json", log="outputs")
        self.outputs = {name: value["value"] for name, value in json.loads(output).items()}
        # Both groups ask the drain-hook function which instances a scale-in removes; the emulator never runs it.
        self.stand_in.register(self.endpoint, self.outputs["drain_hook_function_arn"])

    def destroy(self):
        self.destroyed = True
        # APPLY_THEN (the demo) may have served the function itself, from an endpoint gone by now: the destroy
        # empties the groups, and every scale-in asks the function.
        if "drain_hook_function_arn" in self.outputs:
            self.stand_in.register(self.endpoint, self.outputs["drain_hook_function_arn"])
        self.run("destroy", "-auto-approve", *self.vars, log="destroy")

    def teardown(self):
        kept = False
        if self.applied and not self.destroyed:
            try:
                self.destroy()
            except AssertionError as error:
                print(f"cleanup: {error}", file=sys.stderr)
                kept = True
        release_override()
        self.stand_in.close()
        if kept:
            print(f"apply work files kept in {self.workdir}", file=sys.stderr)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def plan(self, name):
        """terraform plan -detailed-exitcode: (exit code, {address: (actions, changed attributes)}, blue's change)."""
        plan_file = os.path.join(self.workdir, f"{name}.tfplan")
        code, _ = self.run("plan", "-detailed-exitcode", f"-out={plan_file}", *self.vars, log=name, check=False)
        if code == 1:
            raise AssertionError(f"terraform plan failed (log: {self.workdir}/{name}.log)")
        _, shown = self.run("show", "-json", plan_file, log=f"{name}-show")
        changes, blue = {}, None
        for resource in json.loads(shown).get("resource_changes", []):
            change = resource["change"]
            if resource["address"] == BLUE_GROUP:
                blue = change
            if change["actions"] in (["no-op"], ["read"]):
                continue
            before, after = change.get("before") or {}, change.get("after") or {}
            unknown = change.get("after_unknown") or {}
            changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k) or unknown.get(k))
            changes[resource["address"]] = (change["actions"], changed)
        return code, changes, blue


def claim_override():
    """Refuse an override that a live run wrote; replace one that a killed run left behind."""
    try:
        with open(OVERRIDE) as override:
            writer = json.load(override)["//"].split("(pid ")[1].split(")")[0]
    except (OSError, ValueError, KeyError, IndexError):
        return
    try:
        with open(f"/proc/{writer}/cmdline", "rb") as cmdline:
            alive = int(writer) != os.getpid() and b"test_apply" in cmdline.read()
    except (OSError, ValueError):
        alive = False
    if alive:
        raise RuntimeError(f"{OVERRIDE} belongs to a running apply (pid {writer}): wait for it to finish")
    print(f"  replacing {os.path.relpath(OVERRIDE, ROOT)}, left by an interrupted run", file=sys.stderr)


def release_override():
    try:
        with open(OVERRIDE) as override:
            ours = f"(pid {os.getpid()})" in override.read()
        if ours:
            os.remove(OVERRIDE)
    except OSError:
        pass


example = None


def setUpModule():
    global example
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        raise unittest.SkipTest("AWS_ENDPOINT_URL is not set: scripts/terraform-checks.sh apply starts the emulator")
    example = Example(endpoint)
    try:
        example.apply()
    except BaseException:
        example.teardown()
        raise


def tearDownModule():
    if example is not None:
        example.teardown()


def instances(autoscaling, group):
    return autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0]


class AppliedExample(unittest.TestCase):
    def test_each_colours_alarms_call_that_colours_policies(self):
        cluster, groups = example.outputs["cluster_name"], example.outputs["autoscaling_group_names"]
        self.assertEqual(example.outputs["active_colours"], ["blue", "green"])
        autoscaling, cloudwatch = example.client("autoscaling"), example.client("cloudwatch")
        policies = {
            policy["PolicyName"]: policy["PolicyARN"]
            for group in groups.values()
            for policy in autoscaling.describe_policies(AutoScalingGroupName=group)["ScalingPolicies"]
        }
        alarms = cloudwatch.describe_alarms(AlarmNamePrefix=f"{cluster}_ScaleStatus_")["MetricAlarms"]
        actions = {alarm["AlarmName"]: alarm["AlarmActions"] for alarm in alarms}
        called = set()
        for colour in ("blue", "green"):
            for level, direction in (("high", "up"), ("low", "down")):
                alarm, policy = f"{cluster}_ScaleStatus_{level}_{colour}", f"{cluster}-{colour}-scale-{direction}"
                with self.subTest(alarm=alarm):
                    self.assertIn(policy, policies, f"{groups[colour]} has no policy {policy}")
                    self.assertEqual(actions.get(alarm), [policies[policy]], f"{alarm} must call {policy}")
                    called.add(policies[policy])
        self.assertEqual(len(called), 4, "the four alarms call four different policies")

    def test_the_schedules_run_the_functions_every_minute(self):
        # EventBridge rules and targets have no data source, so the emulator terraform test cannot read them back.
        events, outputs = example.client("events"), example.outputs
        for rule, function in (
            (f"{outputs['scale_status_function_name']}-tick", outputs["scale_status_function_name"]),
            (f"{outputs['drain_hook_function_name']}-reconcile", outputs["drain_hook_function_name"]),
        ):
            with self.subTest(rule=rule):
                self.assertEqual(events.describe_rule(Name=rule)["ScheduleExpression"], "rate(1 minute)")
                targets = [target["Arn"] for target in events.list_targets_by_rule(Rule=rule)["Targets"]]
                self.assertEqual([arn.split(":")[-1] for arn in targets], [function])

    def test_a_plan_leaves_an_out_of_band_desired_capacity_alone(self):
        # Against AWS a plan right after the apply is empty (exit 0); against moto it is not (terraform/README.md,
        # emulator notes). So the plan after the change is compared with one taken before it.
        before_code, before, _ = example.plan("plan-before")
        group, autoscaling = example.outputs["autoscaling_group_names"]["blue"], example.client("autoscaling")
        autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=3, HonorCooldown=False)
        self.addCleanup(restore_desired_capacity, autoscaling, group, 2)
        self.assertEqual(instances(autoscaling, group)["DesiredCapacity"], 3)
        after_code, after, blue = example.plan("plan-after")
        kept = ((blue["before"] or {}).get("desired_capacity"), (blue["after"] or {}).get("desired_capacity"))
        self.assertEqual(kept, (3, 3), "the plan leaves blue's desired capacity at 3")
        touching = [address for address, (_, changed) in after.items() if "desired_capacity" in changed]
        self.assertEqual(touching, [], "no planned change touches desired_capacity")
        self.assertEqual(after_code, before_code, "plan -detailed-exitcode as before the change")
        self.assertEqual(after, before, "the out-of-band change adds nothing to the plan")

    def test_each_colour_has_its_shortfall_step_policy(self):
        cluster, groups = example.outputs["cluster_name"], example.outputs["autoscaling_group_names"]
        autoscaling = example.client("autoscaling")
        with open(SHORTFALL_STEPS) as table:
            steps = [step_adjustment(step) for step in json.load(table)]
        for colour, group in groups.items():
            name = f"{cluster}-shortfall-{colour}"
            with self.subTest(group=group):
                [policy] = autoscaling.describe_policies(AutoScalingGroupName=group, PolicyNames=[name])["ScalingPolicies"]
                shape = {key: policy.get(key) for key in ("PolicyType", "AdjustmentType", "MetricAggregationType", "EstimatedInstanceWarmup")}
                self.assertEqual(shape, {"PolicyType": "StepScaling", "AdjustmentType": "ChangeInCapacity", "MetricAggregationType": "Maximum", "EstimatedInstanceWarmup": 300})
                self.assertEqual(sorted(policy["StepAdjustments"], key=lambda s: s["MetricIntervalLowerBound"]), steps)
                tags = {tag["Key"]: tag for tag in instances(autoscaling, group)["Tags"]}
                self.assertEqual(tags["ecs-scaler:shortfall-policy"]["Value"], name)
                self.assertFalse(tags["ecs-scaler:shortfall-policy"]["PropagateAtLaunch"], "the tag is the group's, not the instances'")
                self.assertEqual(tags["ecs-scaler:cluster"]["Value"], cluster)

    def test_executing_the_shortfall_policy_adds_the_shortfall_once_while_it_warms(self):
        # As scale-status does it: MetricValue = the instances the waiting tasks need, BreachThreshold = 0. Green is
        # active and empty (max 2), so it can grow without touching blue.
        cluster, group = example.outputs["cluster_name"], example.outputs["autoscaling_group_names"]["green"]
        autoscaling, policy = example.client("autoscaling"), f"{cluster}-shortfall-green"
        self.addCleanup(restore_desired_capacity, autoscaling, group, 0)
        desired = []
        for shortfall in (1, 1, 2):
            autoscaling.execute_policy(AutoScalingGroupName=group, PolicyName=policy, MetricValue=shortfall, BreachThreshold=0)
            desired.append(instances(autoscaling, group)["DesiredCapacity"])
        self.assertEqual(desired, [1, 1, 2], "the same shortfall again adds nothing while it warms; a larger one the difference")

    def test_the_serving_colours_surplus_alarm_calls_its_surplus_policy_and_the_other_colour_has_none(self):
        cluster, groups = example.outputs["cluster_name"], example.outputs["autoscaling_group_names"]
        autoscaling, cloudwatch = example.client("autoscaling"), example.client("cloudwatch")
        with open(SURPLUS_STEPS) as table:
            steps = [step_adjustment(step) for step in json.load(table)]
        alarms = {alarm["AlarmName"]: alarm for alarm in cloudwatch.describe_alarms(AlarmNamePrefix=f"{cluster}_InstancesSurplus_")["MetricAlarms"]}
        # Blue serves (min_size 2 against green's 0): a batch removal mid-swap would take green's new instances.
        self.assertEqual(sorted(alarms), [f"{cluster}_InstancesSurplus_blue"])
        self.assertEqual(autoscaling.describe_policies(AutoScalingGroupName=groups["green"], PolicyNames=[f"{cluster}-surplus-green"])["ScalingPolicies"], [])
        name, alarm = f"{cluster}-surplus-blue", alarms[f"{cluster}_InstancesSurplus_blue"]
        [policy] = autoscaling.describe_policies(AutoScalingGroupName=groups["blue"], PolicyNames=[name])["ScalingPolicies"]
        shape = {key: policy.get(key) for key in ("PolicyType", "AdjustmentType", "MetricAggregationType")}
        self.assertEqual(shape, {"PolicyType": "StepScaling", "AdjustmentType": "ChangeInCapacity", "MetricAggregationType": "Minimum"})
        self.assertEqual(sorted(policy["StepAdjustments"], key=lambda s: s["MetricIntervalLowerBound"]), steps)
        self.assertEqual(alarm["AlarmActions"], [policy["PolicyARN"]], f"{alarm['AlarmName']} must call {name}")
        condition = {key: alarm.get(key) for key in ("Namespace", "MetricName", "Dimensions", "Statistic", "Period", "EvaluationPeriods", "DatapointsToAlarm", "ComparisonOperator", "Threshold", "TreatMissingData")}
        self.assertEqual(condition, {
            "Namespace": "Curalate/AutoScaling",
            "MetricName": "InstancesSurplus",
            "Dimensions": [{"Name": "ClusterName", "Value": cluster}],
            "Statistic": "Minimum",
            "Period": 60,
            "EvaluationPeriods": 10,
            "DatapointsToAlarm": 10,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Threshold": 2.0,
            "TreatMissingData": "notBreaching",
        })

    def test_executing_the_surplus_policy_removes_all_but_one_of_the_surplus(self):
        # As the alarm does it: the breach threshold 2, the metric value the surplus. Blue (2 instances, max 6) goes
        # to 4 first, then a surplus of 2 removes 1 (the ScaleStatus low alarm would remove the other).
        cluster, group = example.outputs["cluster_name"], example.outputs["autoscaling_group_names"]["blue"]
        autoscaling, policy = example.client("autoscaling"), f"{cluster}-surplus-blue"
        self.addCleanup(restore_desired_capacity, autoscaling, group, 2)
        autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=4, HonorCooldown=False)
        autoscaling.execute_policy(AutoScalingGroupName=group, PolicyName=policy, MetricValue=2, BreachThreshold=2)
        self.assertEqual(instances(autoscaling, group)["DesiredCapacity"], 3, "a surplus of 2 removes 1")

    def test_a_scale_in_asks_the_drain_hook_function(self):
        outputs, autoscaling, lam = example.outputs, example.client("autoscaling"), example.client("lambda")
        function, role = outputs["drain_hook_function_arn"], f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
        for colour, group in outputs["autoscaling_group_names"].items():
            with self.subTest(group=group):
                self.assertEqual(instances(autoscaling, group)["TerminationPolicies"], [function, "OldestLaunchTemplate", "Default"])
        statements = {s["Sid"]: s for s in json.loads(lam.get_policy(FunctionName=outputs["drain_hook_function_name"])["Policy"])["Statement"]}
        allowed = statements.get("AllowInvokeByAutoScaling") or {}
        # AWS writes the role as {"AWS": <arn>}; moto keeps the bare ARN.
        principal = allowed.get("Principal")
        principal = principal.get("AWS") if isinstance(principal, dict) else principal
        self.assertEqual((allowed.get("Action"), principal), ("lambda:InvokeFunction", role))
        # Blue's third instance, then back to two: the group asks the function, and terminates what it names.
        group = outputs["autoscaling_group_names"]["blue"]
        autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=3, HonorCooldown=False)
        asked = len(example.stand_in.requests)
        restore_desired_capacity(autoscaling, group, 2)
        [request] = example.stand_in.requests[asked:]
        self.assertEqual((request["AutoScalingGroupName"], request["Cause"]), (group, "SCALE_IN"))
        self.assertEqual(sum(zone["Capacity"] for zone in request["CapacityToTerminate"]), 1)

    def test_placement_failures_of_the_cluster_reach_scale_status(self):
        outputs, events, ecs, lam = example.outputs, example.client("events"), example.client("ecs"), example.client("lambda")
        cluster, function = outputs["cluster_name"], outputs["scale_status_function_arn"]
        [cluster_arn] = [c["clusterArn"] for c in ecs.describe_clusters(clusters=[cluster])["clusters"]]
        rule = events.describe_rule(Name=f"{outputs['scale_status_function_name']}-placement")
        self.assertEqual(json.loads(rule["EventPattern"]), {
            "source": ["aws.ecs"],
            "detail-type": ["ECS Service Action"],
            "detail": {"eventName": ["SERVICE_TASK_PLACEMENT_FAILURE"], "clusterArn": [cluster_arn]},
        })
        self.assertEqual([t["Arn"] for t in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]], [function])
        statements = {s["Sid"]: s for s in json.loads(lam.get_policy(FunctionName=outputs["scale_status_function_name"])["Policy"])["Statement"]}
        allowed = statements.get("AllowScaleStatusPlacementFailures") or {}
        self.assertEqual(allowed.get("Principal"), {"Service": "events.amazonaws.com"})
        self.assertEqual(allowed.get("Condition"), {"ArnLike": {"AWS:SourceArn": rule["Arn"]}})
        # End to end through the emulator's EventBridge: a placement failure is delivered to scale-status (no endpoint
        # is registered, so nothing runs), a steady-state event of the same service is not.
        ecs.register_task_definition(family="apply-test", containerDefinitions=[{"name": "web", "image": "nginx", "cpu": 256, "memory": 512}])
        ecs.create_service(cluster=cluster, serviceName="apply-test", taskDefinition="apply-test", desiredCount=0)
        self.addCleanup(ecs.deregister_task_definition, taskDefinition="apply-test:1")
        self.addCleanup(ecs.delete_service, cluster=cluster, service="apply-test", force=True)
        control(f"events/deliveries", method="DELETE")
        for name in ("SERVICE_STEADY_STATE", "SERVICE_TASK_PLACEMENT_FAILURE"):
            control("ecs/service-action", {"cluster": cluster, "service": "apply-test", "event_name": name, "reason": "RESOURCE:MEMORY"})
        deliveries = control("events/deliveries")["deliveries"]
        ours = [(d["rule"], d["function"], d["payload"]["detail"]["eventName"]) for d in deliveries if d["rule"] == rule["Name"]]
        self.assertEqual(ours, [(rule["Name"], function, "SERVICE_TASK_PLACEMENT_FAILURE")])

    def test_scale_status_runs_one_at_a_time_with_the_new_settings(self):
        outputs, lam = example.outputs, example.client("lambda")
        name = outputs["scale_status_function_name"]
        environment = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        self.assertEqual((environment.get("CONSOLIDATE"), environment.get("EVENT_MIN_INTERVAL_SECONDS")), ("true", "60"))
        self.assertEqual(lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions"), 1)

    def test_the_drain_hook_judges_a_scale_in_by_scale_status_s_thresholds(self):
        # The termination policy takes an instance only if both reservations stay below max less the headroom
        # without it: the limits scale-status judged its 0 by, so both functions must be deployed with the same.
        outputs, lam = example.outputs, example.client("lambda")
        environment = {
            function: lam.get_function_configuration(FunctionName=outputs[f"{function}_function_name"])["Environment"]["Variables"]
            for function in ("scale_status", "drain_hook")
        }
        shared = ("CPU_MIN", "CPU_MAX", "MEMORY_MIN", "MEMORY_MAX", "CONSOLIDATE_HEADROOM", "ECS_API_SHARE", "ECS_API_MAX_WAIT_MS")
        scale_status = {key: environment["scale_status"].get(key) for key in shared}
        drain_hook = {key: environment["drain_hook"].get(key) for key in shared}
        # The example's values: thresholds 40/75, headroom 5, the API budget's defaults.
        self.assertEqual(scale_status, {
            "CPU_MIN": "40", "CPU_MAX": "75", "MEMORY_MIN": "40", "MEMORY_MAX": "75", "CONSOLIDATE_HEADROOM": "5",
            "ECS_API_SHARE": "0.1", "ECS_API_MAX_WAIT_MS": "2000",
        })
        self.assertEqual(drain_hook, scale_status, "the drain hook must judge by scale-status's limits")
        self.assertEqual(environment["scale_status"].get("RESYNC_SECONDS"), "600")
        # No per-cluster thresholds in the schedule's input, which scale-status alone would see.
        self.assertEqual(json.loads(outputs["scale_status_schedule_input"]), {
            "clusters": [{"name": outputs["cluster_name"]}],
            "namespace": "Curalate/AutoScaling",
        })

    def test_the_functions_policies_scope_the_new_actions(self):
        outputs, iam = example.outputs, example.client("iam")
        cluster = outputs["cluster_name"]
        cluster_arn = f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/{cluster}"
        scale_status = policy_statements(iam, f"{outputs['scale_status_function_name']}-lambda", "publish-scale-status")
        drain_hook = policy_statements(iam, f"{outputs['drain_hook_function_name']}-lambda", "drain-ecs-container-instances")
        self.assertEqual(scale_status["ExecuteShortfallPolicies"], {
            "Action": ["autoscaling:ExecutePolicy"],
            "Resource": [f"arn:aws:autoscaling:us-east-1:{ACCOUNT}:autoScalingGroup:*:autoScalingGroupName/*"],
            "Condition": {"StringEquals": {"autoscaling:ResourceTag/ecs-scaler:cluster": cluster}},
        })
        self.assertEqual(scale_status["TagEvaluatedClusters"], {
            "Action": ["ecs:TagResource"],
            "Resource": [cluster_arn],
            "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": "ecs-scaler:evaluated-at"}},
        })
        self.assertEqual(scale_status["FindShortfallPolicies"]["Action"], ["autoscaling:DescribeAutoScalingGroups"])
        self.assertIn("ecs:ListTasks", scale_status["ListWithinManagedClusters"]["Action"])
        self.assertEqual(scale_status["ListWithinManagedClusters"]["Condition"], {"ArnLike": {"ecs:cluster": cluster_arn}})
        self.assertEqual(scale_status["DescribeTasks"]["Resource"], [f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/{cluster}/*"])
        self.assertEqual(drain_hook["ReadTaskSizes"], {"Action": ["ecs:DescribeTaskDefinition"], "Resource": ["*"]})
        # Sizing fresh instances reads EC2's launch templates and instance types; nothing else of EC2.
        self.assertEqual(scale_status["SizeFreshInstances"], {
            "Action": ["ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplateVersions"],
            "Resource": ["*"],
        })
        self.assertEqual(drain_hook["InstanceTypesOfAwsvpcMoves"], {"Action": ["ec2:DescribeInstanceTypes"], "Resource": ["*"]})
        self.assertFalse(any(a.startswith("ec2:") and not a.startswith("ec2:Describe")
                             for statement in [*scale_status.values(), *drain_hook.values()]
                             for a in statement["Action"]))

    def test_apply_then(self):
        command = os.environ.get("APPLY_THEN")
        if not command:
            self.skipTest("APPLY_THEN is not set")
        env = dict(os.environ, AWS_ENDPOINT_URL=example.endpoint, TERRAFORM=example.terraform)
        sys.stdout.flush()
        status = subprocess.run(["bash", "-c", command], env=env).returncode
        self.assertEqual(status, 0, f"APPLY_THEN failed: {command}")


def step_adjustment(step):
    """A row of shortfall-steps.json or surplus-steps.json as DescribePolicies answers it (a missing bound is left out)."""
    answer = {"MetricIntervalLowerBound": float(step["lower"]), "ScalingAdjustment": step["adjustment"]}
    if step["upper"] is not None:
        answer["MetricIntervalUpperBound"] = float(step["upper"])
    return answer


def policy_statements(iam, role, policy):
    """An inline policy's statements by Sid, each with Action (sorted: the order means nothing to IAM, and the
    provider's policy document does not keep the configuration's) and Resource as lists, and its Condition if any."""
    document = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
    document = json.loads(urllib.parse.unquote(document)) if isinstance(document, str) else document
    as_list = lambda value: value if isinstance(value, list) else [value]
    statements = {}
    for statement in document["Statement"]:
        entry = {"Action": sorted(as_list(statement["Action"])), "Resource": as_list(statement["Resource"])}
        if "Condition" in statement:
            entry["Condition"] = statement["Condition"]
        statements[statement["Sid"]] = entry
    return statements


def control(path, body=None, method=None):
    """The emulator's control API (tests/aws-emulator/README.md): JSON in and out."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{example.endpoint}/_emulator/{path}", data=data, method=method or ("POST" if data else "GET"))
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read() or b"{}")


def restore_desired_capacity(autoscaling, group, capacity):
    """Back to the applied size. The scale-in asks the drain-hook function (the stand-in answers) which instances go;
    they wait behind the drain hook: release them, as the Lambda would, and drop the lifecycle notifications they
    queued (the project's emulator only), so APPLY_THEN starts clean."""
    autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=capacity, HonorCooldown=False)
    hooks = autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=group)["LifecycleHooks"]
    for instance in instances(autoscaling, group)["Instances"]:
        if instance["LifecycleState"] == "Terminating:Wait":
            for hook in hooks:
                autoscaling.complete_lifecycle_action(
                    AutoScalingGroupName=group,
                    LifecycleHookName=hook["LifecycleHookName"],
                    InstanceId=instance["InstanceId"],
                    LifecycleActionResult="CONTINUE",
                )
    try:
        urllib.request.urlopen(f"{example.endpoint}/_emulator/autoscaling/lifecycle-notifications", timeout=10).read()
    except OSError:
        pass
    states = [instance["LifecycleState"] for instance in instances(autoscaling, group)["Instances"]]
    assert states == ["InService"] * capacity, f"{group}: expected {capacity} instances InService, got {states}"


class Destroyed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        example.destroy()

    def test_nothing_is_left(self):
        outputs, client = example.outputs, example.client
        cluster, groups = outputs["cluster_name"], list(outputs["autoscaling_group_names"].values())
        functions = [outputs["scale_status_function_name"], outputs["drain_hook_function_name"]]
        ours = lambda name: name.startswith((f"{cluster}_ScaleStatus_", f"{cluster}_InstancesSurplus_")) or any(name.startswith(f) for f in functions)
        cloudwatch = client("cloudwatch")
        log_groups = client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
        topics = [topic["TopicArn"] for topic in client("sns").list_topics()["Topics"]]
        dashboards = [entry["DashboardName"] for entry in cloudwatch.list_dashboards()["DashboardEntries"]]
        # A deleted cluster stays describable as INACTIVE for a while, in AWS as in moto.
        clusters = client("ecs").describe_clusters(clusters=[cluster])["clusters"]
        left = {
            "groups": client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=groups)["AutoScalingGroups"],
            "functions": [f for f in client("lambda").list_functions()["Functions"] if f["FunctionName"] in functions],
            "alarms": [a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"] if ours(a["AlarmName"])],
            "log groups": [g["logGroupName"] for g in log_groups if g["logGroupName"].split("/")[-1] in functions],
            "topics": [arn for arn in topics if arn == outputs["drain_hook_topic_arn"]],
            "rules": [rule["Name"] for rule in client("events").list_rules()["Rules"] if ours(rule["Name"])],
            "dashboards": [name for name in dashboards if name == outputs["dashboard_name"]],
            "clusters": [c["clusterName"] for c in clusters if c["status"] != "INACTIVE"],
        }
        left = {kind: found for kind, found in left.items() if found}
        self.assertEqual(left, {}, "terraform destroy left these behind")


def load_tests(loader, tests, pattern):
    """Apply, check, hand over to APPLY_THEN, destroy: in that order, not unittest's alphabetical one."""
    applied = [
        "test_each_colours_alarms_call_that_colours_policies",
        "test_the_schedules_run_the_functions_every_minute",
        "test_a_plan_leaves_an_out_of_band_desired_capacity_alone",
        "test_each_colour_has_its_shortfall_step_policy",
        "test_executing_the_shortfall_policy_adds_the_shortfall_once_while_it_warms",
        "test_the_serving_colours_surplus_alarm_calls_its_surplus_policy_and_the_other_colour_has_none",
        "test_executing_the_surplus_policy_removes_all_but_one_of_the_surplus",
        "test_a_scale_in_asks_the_drain_hook_function",
        "test_placement_failures_of_the_cluster_reach_scale_status",
        "test_scale_status_runs_one_at_a_time_with_the_new_settings",
        "test_the_drain_hook_judges_a_scale_in_by_scale_status_s_thresholds",
        "test_the_functions_policies_scope_the_new_actions",
        "test_apply_then",
    ]
    return unittest.TestSuite([*(AppliedExample(name) for name in applied), Destroyed("test_nothing_is_left")])


if __name__ == "__main__":
    unittest.main()
