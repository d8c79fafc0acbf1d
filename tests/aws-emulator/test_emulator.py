"""Tests of the AWS emulator, run the way the Rust harness runs it: as a subprocess.

    .venv/bin/python -m unittest discover -s tests/aws-emulator -v

One emulator serves most tests (each starts from POST /_emulator/reset); the process
contract tests start their own.
"""

import datetime
import gzip
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

import boto3
import botocore.session
import cbor2
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EMULATOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "emulator.py")
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "AKIDEMULATOR", "aws_secret_access_key": "secret"}
NO_RETRIES = Config(retries={"total_max_attempts": 1})
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
CW_PATH = "/service/GraniteServiceVersion20100801/operation/"


class Emulator:
    """An emulator subprocess, started exactly per the command-line contract."""

    def __init__(self, *extra_args: str):
        self.process = subprocess.Popen(
            [sys.executable, EMULATOR, "--port", "0", "--exit-with-stdin", *extra_args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        ready, _, _ = select.select([self.process.stdout], [], [], 30)
        if not ready:
            self.stop()
            raise RuntimeError("the emulator printed no URL within 30 s")
        self.first_line = self.process.stdout.readline().decode()
        self.url = self.first_line.strip()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        code = self.process.wait(timeout=15)
        self.process.stdin.close()
        self.process.stdout.close()
        return code

    def client(self, service: str, **kwargs):
        client = boto3.client(service, endpoint_url=self.url, region_name=REGION, **CREDENTIALS, **kwargs)
        client.meta.events.register("after-call", check_json_types)
        return client

    def control(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}/_emulator/{path}", data=data, method=method)
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    def ok(self, method: str, path: str, body: dict | None = None) -> dict:
        status, document = self.control(method, path, body)
        assert status == 200, (status, document)
        return document

    def signed(self, service: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict, bytes]:
        """A raw SigV4-signed POST, for wire formats no client here speaks by default."""
        request = AWSRequest(method="POST", url=self.url + path, data=body, headers=headers)
        SigV4Auth(Credentials(CREDENTIALS["aws_access_key_id"], CREDENTIALS["aws_secret_access_key"]), service, REGION).add_auth(request)
        raw = urllib.request.Request(request.url, data=body, headers=dict(request.headers), method="POST")
        try:
            with urllib.request.urlopen(raw) as response:
                return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
        except urllib.error.HTTPError as error:
            return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()

    def cbor(self, operation: str, body: dict, gzipped: bool = False) -> tuple[int, dict, bytes]:
        """A CloudWatch call in smithy-rpc-v2-cbor, as the Rust SDK sends it."""
        data = cbor2.dumps(body, datetime_as_timestamp=True)
        headers = {"Content-Type": "application/cbor", "Accept": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}
        if gzipped:
            data, headers["Content-Encoding"] = gzip.compress(data), "gzip"
        return self.signed("monitoring", CW_PATH + operation, data, headers)

    def cloudwatch_speaking(self, protocol: str):
        """A botocore CloudWatch client forced onto one of the protocols CloudWatch supports.

        botocore picks JSON for CloudWatch; the Rust SDK speaks rpc-v2-cbor and the Terraform
        provider (aws-sdk-go-v2 cloudwatch 1.45) the query protocol. botocore implements all
        three, so a copy of its model that lists only one makes it an independent client of each.
        """
        session = botocore.session.get_session()
        loader = session.get_component("data_loader")
        model = loader.load_service_model("cloudwatch", "service-2")
        model["metadata"]["protocols"] = [protocol]
        model["metadata"]["protocol"] = protocol
        with tempfile.TemporaryDirectory() as folder:  # read when the client is created
            os.makedirs(os.path.join(folder, "cloudwatch", "2010-08-01"))
            with open(os.path.join(folder, "cloudwatch", "2010-08-01", "service-2.json"), "w") as out:
                json.dump(model, out)
            loader.search_paths.insert(0, folder)
            return session.create_client(
                "cloudwatch", endpoint_url=self.url, region_name=REGION, config=NO_RETRIES, **CREDENTIALS
            )


def check_json_types(http_response, model, **_) -> None:
    """Fail a call whose JSON answer the Rust SDK would reject.

    botocore forgives, say, a number where the model has a string; the Rust SDK's typed decoder
    rejects the whole answer. Registered on every client these tests make.
    """
    if model.service_model.resolved_protocol != "json" or http_response.status_code >= 300:
        return
    problems = list(_type_problems(model.output_shape, json.loads(http_response.content or b"{}"), model.name))
    if problems:
        raise AssertionError("answer does not match the model's types: " + "; ".join(problems))


_JSON_TYPES = {
    "structure": dict, "map": dict, "list": list, "string": str, "blob": str, "boolean": bool,
    "integer": int, "long": int, "double": (int, float), "float": (int, float), "timestamp": (int, float),
}


def _type_problems(shape, value, path: str):
    if shape is None or value is None:
        return
    if not isinstance(value, _JSON_TYPES[shape.type_name]) or (isinstance(value, bool) and shape.type_name != "boolean"):
        yield f"{path} should be {shape.type_name}, is {value!r}"
    elif shape.type_name == "structure":
        for name, member in shape.members.items():
            yield from _type_problems(member, value.get(name), f"{path}.{name}")
    elif shape.type_name == "list":
        for index, item in enumerate(value):
            yield from _type_problems(shape.member, item, f"{path}[{index}]")
    elif shape.type_name == "map":
        for key, item in value.items():
            yield from _type_problems(shape.value, item, f"{path}.{key}")


class FakeFunction:
    """A local HTTP endpoint standing in for a Lambda function: it records every request and
    answers from a script (a JSON document, or ``(status, body bytes, delay seconds)``, or a
    callable taking the request), falling back to ``default`` once the script runs out."""

    def __init__(self, default=None):
        self.requests: list = []
        self.script: list = []
        self.default = default if default is not None else {"InstanceIDs": []}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(request)
                answer = fake.script.pop(0) if fake.script else fake.default
                if callable(answer):
                    answer = answer(request)
                status, body, delay = answer if isinstance(answer, tuple) else (200, json.dumps(answer).encode(), 0)
                time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the emulator gave up waiting

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/invoke"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


EMU: Emulator


def setUpModule() -> None:
    global EMU
    EMU = Emulator()


def tearDownModule() -> None:
    EMU.stop()


class EmulatorTest(unittest.TestCase):
    def setUp(self) -> None:
        EMU.ok("POST", "reset")

    def assertClientError(self, code: str, message: str | None, call, *args, **kwargs) -> ClientError:
        with self.assertRaises(ClientError) as caught:
            call(*args, **kwargs)
        self.assertEqual(caught.exception.response["Error"]["Code"], code)
        if message is not None:
            self.assertEqual(caught.exception.response["Error"]["Message"], message)
        return caught.exception


# --- The command-line contract ----------------------------------------------------------------


class ProcessContractTest(unittest.TestCase):
    def test_prints_only_its_url_and_exits_0_on_sigterm(self) -> None:
        emulator = Emulator()
        self.assertRegex(emulator.first_line, r"^http://127\.0\.0\.1:\d+\n$")
        self.assertEqual(emulator.control("GET", "health"), (200, {"ok": True}))
        emulator.client("ecs").list_clusters()
        emulator.client("autoscaling").describe_auto_scaling_groups()
        emulator.process.send_signal(signal.SIGTERM)
        self.assertEqual(emulator.process.wait(timeout=15), 0)
        self.assertEqual(emulator.process.stdout.read(), b"")
        emulator.stop()

    def test_exits_0_on_sigint(self) -> None:
        emulator = Emulator()
        emulator.process.send_signal(signal.SIGINT)
        self.assertEqual(emulator.process.wait(timeout=15), 0)
        emulator.stop()

    def test_exits_when_stdin_reaches_eof(self) -> None:
        emulator = Emulator()
        port = int(emulator.url.rsplit(":", 1)[1])
        emulator.process.stdin.close()  # what the kernel does when the parent dies, even by SIGKILL
        self.assertEqual(emulator.process.wait(timeout=15), 0)
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5)
        emulator.stop()


# --- CloudWatch: rpc-v2-cbor bridge and pass-through ------------------------------------------


class CloudWatchTest(EmulatorTest):
    NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    DIMENSIONS = [{"Name": "ClusterName", "Value": "prod"}]

    def put_pending(self, value: float, minutes_ago: int, gzipped: bool = False) -> None:
        datum = {
            "MetricName": "PendingTasks",
            "Dimensions": self.DIMENSIONS,
            "Timestamp": self.NOW - datetime.timedelta(minutes=minutes_ago),
            "Value": value,
            "Unit": "Count",
            "StorageResolution": 1,
        }
        status, headers, body = EMU.cbor("PutMetricData", {"Namespace": "ECS/Scaler", "MetricData": [datum]}, gzipped)
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(headers["smithy-protocol"], "rpc-v2-cbor")

    def get_pending(self, **extra) -> tuple[int, dict, bytes]:
        query = {
            "Id": "pending",
            "MetricStat": {
                "Metric": {"Namespace": "ECS/Scaler", "MetricName": "PendingTasks", "Dimensions": self.DIMENSIONS},
                "Period": 60,
                "Stat": "Maximum",
            },
        }
        body = {
            "MetricDataQueries": [query],
            "StartTime": self.NOW - datetime.timedelta(minutes=10),
            "EndTime": self.NOW + datetime.timedelta(minutes=1),
            "ScanBy": "TimestampDescending",
            **extra,
        }
        return EMU.cbor("GetMetricData", body)

    def test_cbor_put_then_get_metric_data_with_typed_timestamps_and_values(self) -> None:
        self.put_pending(3, minutes_ago=2)
        self.put_pending(5, minutes_ago=1, gzipped=True)  # the SDKs gzip large PutMetricData bodies
        status, headers, raw = self.get_pending()
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/cbor")
        self.assertEqual(headers["smithy-protocol"], "rpc-v2-cbor")
        [result] = cbor2.loads(raw)["MetricDataResults"]
        self.assertEqual(result["Id"], "pending")
        self.assertEqual(result["StatusCode"], "Complete")
        # cbor2 decodes only tag 1 (or tag 0) to datetime, and only CBOR floats to float.
        self.assertEqual(
            result["Timestamps"],
            [self.NOW - datetime.timedelta(minutes=1), self.NOW - datetime.timedelta(minutes=2)],
        )
        self.assertIn(b"\xc1", raw)
        self.assertEqual(result["Values"], [5.0, 3.0])
        self.assertTrue(all(type(v) is float for v in result["Values"]))

    def test_cbor_get_metric_data_paginates_with_next_token(self) -> None:
        for minutes_ago in (3, 2, 1):
            self.put_pending(minutes_ago, minutes_ago)
        values, token, pages = [], None, 0
        while True:
            status, _, raw = self.get_pending(MaxDatapoints=2, **({"NextToken": token} if token else {}))
            self.assertEqual(status, 200)
            page = cbor2.loads(raw)
            values += page["MetricDataResults"][0]["Values"]
            pages += 1
            token = page.get("NextToken")
            if token is None:
                break
            self.assertEqual(page["MetricDataResults"][0]["StatusCode"], "PartialData")
        self.assertEqual((values, pages), ([1.0, 2.0, 3.0], 2))

    def test_cbor_list_metrics_alarms_and_dashboards(self) -> None:
        self.put_pending(1, minutes_ago=1)
        status, _, raw = EMU.cbor("ListMetrics", {"Namespace": "ECS/Scaler"})
        self.assertEqual(status, 200)
        self.assertEqual(
            cbor2.loads(raw)["Metrics"],
            [{"Namespace": "ECS/Scaler", "MetricName": "PendingTasks", "Dimensions": self.DIMENSIONS}],
        )
        alarm = {
            "AlarmName": "pending-high",
            "Namespace": "ECS/Scaler",
            "MetricName": "PendingTasks",
            "Dimensions": self.DIMENSIONS,
            "Statistic": "Maximum",
            "Period": 60,
            "EvaluationPeriods": 2,
            "Threshold": 5,
            "ComparisonOperator": "GreaterThanThreshold",
        }
        self.assertEqual(EMU.cbor("PutMetricAlarm", alarm)[0], 200)
        status, _, raw = EMU.cbor("DescribeAlarms", {"AlarmNames": ["pending-high"]})
        [described] = cbor2.loads(raw)["MetricAlarms"]
        self.assertIsInstance(described["StateUpdatedTimestamp"], datetime.datetime)
        self.assertIs(type(described["Threshold"]), float)
        self.assertIs(type(described["EvaluationPeriods"]), int)
        self.assertIs(described["ActionsEnabled"], True)

        EMU.client("cloudwatch").put_dashboard(DashboardName="scaler", DashboardBody='{"widgets": []}')
        status, _, raw = EMU.cbor("GetDashboard", {"DashboardName": "scaler"})
        self.assertEqual((status, cbor2.loads(raw)["DashboardBody"]), (200, '{"widgets": []}'))
        status, _, raw = EMU.cbor("ListDashboards", {})
        [entry] = cbor2.loads(raw)["DashboardEntries"]
        self.assertEqual(entry["DashboardName"], "scaler")
        self.assertIsInstance(entry["LastModified"], datetime.datetime)

    def test_cbor_errors_keep_status_and_carry_the_query_code(self) -> None:
        status, headers, raw = EMU.cbor("GetDashboard", {"DashboardName": "missing"})
        self.assertEqual(status, 404)
        self.assertEqual(cbor2.loads(raw), {"__type": "ResourceNotFound", "message": "Dashboard does not exist"})
        self.assertEqual(headers["x-amzn-query-error"], "ResourceNotFound;Sender")
        self.assertEqual(headers["content-type"], "application/cbor")

        status, _, raw = EMU.cbor("NoSuchOperation", {})
        self.assertEqual((status, cbor2.loads(raw)["__type"]), (404, "UnknownOperationException"))
        status, _, raw = EMU.signed("monitoring", CW_PATH + "ListMetrics", b"\xff\x00", {"Content-Type": "application/cbor"})
        self.assertEqual((status, cbor2.loads(raw)["__type"]), (400, "SerializationException"))

    def test_botocore_rpc_v2_cbor_client(self) -> None:
        cloudwatch = EMU.cloudwatch_speaking("smithy-rpc-v2-cbor")
        cloudwatch.put_metric_data(
            Namespace="ECS/Scaler",
            MetricData=[{"MetricName": "Free", "Timestamp": self.NOW, "Values": [1, 3], "Counts": [1, 1], "Unit": "Count"}],
        )
        [result] = cloudwatch.get_metric_data(
            MetricDataQueries=[
                {"Id": "f", "MetricStat": {"Metric": {"Namespace": "ECS/Scaler", "MetricName": "Free"}, "Period": 60, "Stat": "Sum"}}
            ],
            StartTime=self.NOW - datetime.timedelta(minutes=1),
            EndTime=self.NOW + datetime.timedelta(minutes=1),
        )["MetricDataResults"]
        self.assertEqual(result["Values"], [4.0])
        self.assertEqual(result["Timestamps"], [self.NOW])
        self.assertClientError("ResourceNotFound", "Dashboard does not exist", cloudwatch.get_dashboard, DashboardName="x")

    def test_json_and_query_protocols_pass_through_to_moto(self) -> None:
        EMU.client("cloudwatch").put_metric_alarm(  # boto3 picks JSON 1.0 for CloudWatch
            AlarmName="json-alarm", Namespace="N", MetricName="M", Statistic="Sum", Period=60,
            EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold",
        )
        query = EMU.cloudwatch_speaking("query")  # as the Terraform AWS provider talks to CloudWatch
        [alarm] = query.describe_alarms(AlarmNames=["json-alarm"])["MetricAlarms"]
        self.assertEqual(alarm["Threshold"], 1.0)
        self.assertClientError("ResourceNotFound", None, query.get_dashboard, DashboardName="x")
        operations = [(c["operation"], c["status"]) for c in EMU.ok("GET", "calls")["calls"]]
        self.assertEqual(operations, [("PutMetricAlarm", 200), ("DescribeAlarms", 200), ("GetDashboard", 404)])


# --- Auto Scaling lifecycle actions -----------------------------------------------------------


class LifecycleTest(EmulatorTest):
    def setUp(self) -> None:
        super().setUp()
        self.ec2, self.asg = EMU.client("ec2"), EMU.client("autoscaling")
        self.ec2.create_launch_template(
            LaunchTemplateName="ecs-node", LaunchTemplateData={"ImageId": "ami-12345678", "InstanceType": "m5.large"}
        )

    def create_group(self, desired: int, hook: bool = True, min_size: int = 0, **hook_args) -> list[str]:
        self.asg.create_auto_scaling_group(
            AutoScalingGroupName="ecs-nodes",
            MinSize=min_size,
            MaxSize=10,
            DesiredCapacity=desired,
            LaunchTemplate={"LaunchTemplateName": "ecs-node"},
            AvailabilityZones=["us-east-1a"],
        )
        if hook:
            self.asg.put_lifecycle_hook(
                **{
                    "AutoScalingGroupName": "ecs-nodes",
                    "LifecycleHookName": "drain",
                    "LifecycleTransition": TERMINATING,
                    "HeartbeatTimeout": 300,
                    "DefaultResult": "CONTINUE",
                    "NotificationMetadata": '{"cluster": "prod"}',
                    "NotificationTargetARN": "arn:aws:lambda:us-east-1:123456789012:function:drain-hook",
                    "RoleARN": "arn:aws:iam::123456789012:role/asg-notify",
                    **hook_args,
                }
            )
        return [i["InstanceId"] for i in self.group()["Instances"]]

    def group(self) -> dict:
        return self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=["ecs-nodes"])["AutoScalingGroups"][0]

    def states(self) -> dict[str, str]:
        return {i["InstanceId"]: i["LifecycleState"] for i in self.group()["Instances"]}

    def ec2_state(self, instance_id: str) -> str:
        return self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"]

    def notifications(self) -> list[dict]:
        return EMU.ok("GET", "autoscaling/lifecycle-notifications")["notifications"]

    def complete(self, **kwargs) -> None:
        self.asg.complete_lifecycle_action(
            AutoScalingGroupName="ecs-nodes", LifecycleHookName="drain", LifecycleActionResult="CONTINUE", **kwargs
        )

    def test_scale_in_waits_for_the_hook_then_terminates(self) -> None:
        first, second, third = self.create_group(desired=3)
        self.asg.set_desired_capacity(AutoScalingGroupName="ecs-nodes", DesiredCapacity=1)

        self.assertEqual(self.group()["DesiredCapacity"], 1)
        self.assertEqual(self.states(), {first: "Terminating:Wait", second: "Terminating:Wait", third: "InService"})
        waiting = {
            i["InstanceId"]: i["LifecycleState"]
            for i in self.asg.describe_auto_scaling_instances(InstanceIds=[first, third])["AutoScalingInstances"]
        }
        self.assertEqual(waiting, {first: "Terminating:Wait", third: "InService"})
        self.assertEqual(self.ec2_state(first), "running")

        notes = self.notifications()
        self.assertEqual([n["EC2InstanceId"] for n in notes], [first, second])
        note = notes[0]
        self.assertRegex(note.pop("Time"), r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertRegex(note.pop("RequestId"), r"^[0-9a-f-]{36}$")
        token = note.pop("LifecycleActionToken")
        self.assertRegex(token, r"^[0-9a-f-]{36}$")
        self.assertEqual(
            note,
            {
                "Origin": "AutoScalingGroup",
                "Destination": "EC2",
                "LifecycleHookName": "drain",
                "AccountId": "123456789012",
                "LifecycleTransition": TERMINATING,
                "AutoScalingGroupName": "ecs-nodes",
                "Service": "AWS Auto Scaling",
                "EC2InstanceId": first,
                "NotificationMetadata": '{"cluster": "prod"}',
            },
        )
        self.assertEqual(self.notifications(), [], "reading the notifications drains them")

        self.asg.record_lifecycle_action_heartbeat(
            AutoScalingGroupName="ecs-nodes", LifecycleHookName="drain", LifecycleActionToken=token
        )
        self.complete(LifecycleActionToken=token)
        self.complete(InstanceId=second)
        self.assertEqual(self.states(), {third: "InService"})
        self.assertEqual((self.ec2_state(first), self.ec2_state(second)), ("terminated", "terminated"))
        self.assertEqual(self.group()["DesiredCapacity"], 1)

    def test_lifecycle_action_validation_matches_aws(self) -> None:
        first, second = self.create_group(desired=2)
        self.asg.terminate_instance_in_auto_scaling_group(InstanceId=first, ShouldDecrementDesiredCapacity=True)
        [note] = self.notifications()
        self.assertClientError(
            "ValidationError", "No active Lifecycle Action found with token 00000000-0000-0000-0000-000000000000",
            self.complete, LifecycleActionToken="00000000-0000-0000-0000-000000000000",
        )
        self.assertClientError(
            "ValidationError", f"No active Lifecycle Action found with instance ID {second}",
            self.complete, InstanceId=second,
        )
        self.assertClientError(
            "ValidationError", f"No active Lifecycle Action found with token {note['LifecycleActionToken']}",
            self.complete, LifecycleActionToken=note["LifecycleActionToken"], InstanceId=second,
        )
        self.assertClientError(
            "ValidationError", f"No active Lifecycle Action found with instance ID {second}",
            self.asg.record_lifecycle_action_heartbeat,
            AutoScalingGroupName="ecs-nodes", LifecycleHookName="drain", InstanceId=second,
        )
        error = self.assertClientError(
            "ValidationError", None, self.asg.complete_lifecycle_action, AutoScalingGroupName="ecs-nodes",
            LifecycleHookName="other", LifecycleActionResult="CONTINUE", InstanceId=first,
        )
        self.assertEqual(error.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertClientError(
            "ValidationError", None, self.asg.complete_lifecycle_action, AutoScalingGroupName="other",
            LifecycleHookName="drain", LifecycleActionResult="CONTINUE", InstanceId=first,
        )
        self.complete(LifecycleActionToken=note["LifecycleActionToken"])
        self.assertClientError(
            "ValidationError", f"No active Lifecycle Action found with token {note['LifecycleActionToken']}",
            self.complete, LifecycleActionToken=note["LifecycleActionToken"],
        )

    def test_query_error_format_on_the_wire(self) -> None:
        self.create_group(desired=1)
        body = "Action=CompleteLifecycleAction&Version=2011-01-01&AutoScalingGroupName=ecs-nodes"
        body += "&LifecycleHookName=drain&LifecycleActionResult=CONTINUE&InstanceId=i-0"
        status, _, raw = EMU.signed("autoscaling", "/", body.encode(), {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 400)
        self.assertRegex(
            raw.decode(),
            r'^<ErrorResponse xmlns="http://autoscaling\.amazonaws\.com/doc/2011-01-01/"><Error><Type>Sender</Type>'
            r"<Code>ValidationError</Code><Message>No active Lifecycle Action found with instance ID i-0</Message>"
            r"</Error><RequestId>[^<]+</RequestId></ErrorResponse>$",
        )

    def test_heartbeat_timeout_applies_the_default_result_on_the_emulator_clock(self) -> None:
        first, second = self.create_group(desired=2, DefaultResult="ABANDON")
        self.asg.set_desired_capacity(AutoScalingGroupName="ecs-nodes", DesiredCapacity=1)
        [note] = self.notifications()
        EMU.ok("POST", "clock", {"advance_seconds": 200})
        self.asg.record_lifecycle_action_heartbeat(
            AutoScalingGroupName="ecs-nodes", LifecycleHookName="drain", InstanceId=first
        )
        EMU.ok("POST", "clock", {"advance_seconds": 200})  # 400 s after parking, 200 s after the heartbeat
        self.assertEqual(self.states(), {first: "Terminating:Wait", second: "InService"})
        clock = EMU.ok("POST", "clock", {"advance_seconds": 101})
        self.assertEqual(clock["offset_seconds"], 501)
        self.assertEqual(self.states(), {second: "InService"})
        self.assertEqual(self.ec2_state(first), "terminated")
        self.assertClientError(
            "ValidationError", f"No active Lifecycle Action found with token {note['LifecycleActionToken']}",
            self.complete, LifecycleActionToken=note["LifecycleActionToken"],
        )

    def test_terminate_instance_in_group_launches_a_replacement_unless_decrementing(self) -> None:
        first, second = self.create_group(desired=2, min_size=1)
        self.asg.terminate_instance_in_auto_scaling_group(InstanceId=first, ShouldDecrementDesiredCapacity=False)
        states = self.states()
        self.assertEqual(self.group()["DesiredCapacity"], 2)
        self.assertEqual(states.pop(first), "Terminating:Wait")
        self.assertEqual(states.pop(second), "InService")
        self.assertEqual(list(states.values()), ["InService"], "one replacement")

        self.asg.terminate_instance_in_auto_scaling_group(InstanceId=second, ShouldDecrementDesiredCapacity=True)
        self.assertEqual(self.group()["DesiredCapacity"], 1)
        self.assertClientError(
            "ValidationError",
            "Currently, desiredSize equals minSize (1). Terminating instance without replacement will violate "
            "group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.",
            self.asg.terminate_instance_in_auto_scaling_group, InstanceId=list(states)[0], ShouldDecrementDesiredCapacity=True,
        )
        self.assertClientError(
            "ValidationError", f"Instance Id not found - No managed instance found for instance ID: {first}",
            self.asg.terminate_instance_in_auto_scaling_group, InstanceId=first, ShouldDecrementDesiredCapacity=False,
        )

    def test_without_a_termination_hook_instances_go_at_once(self) -> None:
        first, second = self.create_group(desired=2, hook=False)
        self.asg.set_desired_capacity(AutoScalingGroupName="ecs-nodes", DesiredCapacity=1)
        self.assertEqual(self.states(), {second: "InService"})
        self.assertEqual((self.ec2_state(first), self.notifications()), ("terminated", []))

    def test_hook_details_are_kept_and_hooks_can_come_with_the_group(self) -> None:
        self.create_group(desired=0)
        [hook] = self.asg.describe_lifecycle_hooks(AutoScalingGroupName="ecs-nodes")["LifecycleHooks"]
        self.assertEqual(hook["NotificationMetadata"], '{"cluster": "prod"}')
        self.assertEqual(hook["NotificationTargetARN"], "arn:aws:lambda:us-east-1:123456789012:function:drain-hook")
        self.assertEqual((hook["HeartbeatTimeout"], hook["GlobalTimeout"]), (300, 30000))

        self.asg.create_auto_scaling_group(  # as Terraform's initial_lifecycle_hook does it
            AutoScalingGroupName="with-hook", MinSize=0, MaxSize=2, DesiredCapacity=1,
            LaunchTemplate={"LaunchTemplateName": "ecs-node"}, AvailabilityZones=["us-east-1a"],
            LifecycleHookSpecificationList=[{"LifecycleHookName": "drain", "LifecycleTransition": TERMINATING, "HeartbeatTimeout": 60}],
        )
        self.asg.update_auto_scaling_group(AutoScalingGroupName="with-hook", MaxSize=0, DesiredCapacity=0)
        [instance] = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=["with-hook"])["AutoScalingGroups"][0]["Instances"]
        self.assertEqual(instance["LifecycleState"], "Terminating:Wait")
        self.assertEqual([n["AutoScalingGroupName"] for n in self.notifications()], ["with-hook"])

    def test_every_termination_hook_must_complete_and_deleting_a_hook_lets_instances_go(self) -> None:
        first, second = self.create_group(desired=2)
        self.asg.put_lifecycle_hook(AutoScalingGroupName="ecs-nodes", LifecycleHookName="audit", LifecycleTransition=TERMINATING)
        self.asg.set_desired_capacity(AutoScalingGroupName="ecs-nodes", DesiredCapacity=0)
        self.assertEqual(sorted((n["EC2InstanceId"], n["LifecycleHookName"]) for n in self.notifications()),
                         sorted([(first, "drain"), (first, "audit"), (second, "drain"), (second, "audit")]))
        self.complete(InstanceId=first)
        self.assertEqual(self.states()[first], "Terminating:Wait", "the audit hook still holds it")
        self.asg.delete_lifecycle_hook(AutoScalingGroupName="ecs-nodes", LifecycleHookName="audit")
        self.assertEqual(self.states(), {second: "Terminating:Wait"})
        self.asg.complete_lifecycle_action(
            AutoScalingGroupName="ecs-nodes", LifecycleHookName="drain", LifecycleActionResult="ABANDON", InstanceId=second
        )
        self.assertEqual(self.states(), {})


# --- Auto Scaling policies: step scaling, ExecutePolicy and warm-up ------------------------------


class ScalingPolicyTest(EmulatorTest):
    STEPS = [  # relative to the breach threshold
        {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 10, "ScalingAdjustment": 2},
        {"MetricIntervalLowerBound": 10, "ScalingAdjustment": 3},
    ]

    def setUp(self) -> None:
        super().setUp()
        self.asg = EMU.client("autoscaling")
        EMU.client("ec2").create_launch_template(
            LaunchTemplateName="ecs-node", LaunchTemplateData={"ImageId": "ami-12345678", "InstanceType": "m5.large"}
        )

    def create_group(self, desired: int, min_size: int = 0, max_size: int = 30, **extra) -> None:
        self.asg.create_auto_scaling_group(
            AutoScalingGroupName="ecs-nodes", MinSize=min_size, MaxSize=max_size, DesiredCapacity=desired,
            LaunchTemplate={"LaunchTemplateName": "ecs-node"}, AvailabilityZones=["us-east-1a", "us-east-1b"], **extra,
        )

    def group(self) -> dict:
        return self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=["ecs-nodes"])["AutoScalingGroups"][0]

    def desired(self) -> int:
        group = self.group()
        self.assertEqual(len([i for i in group["Instances"] if i["LifecycleState"] == "InService"]), group["DesiredCapacity"])
        return group["DesiredCapacity"]

    def put_step_policy(self, name: str = "scale-out", steps=None, **extra) -> str:
        return self.asg.put_scaling_policy(
            AutoScalingGroupName="ecs-nodes", PolicyName=name, PolicyType="StepScaling",
            **{"AdjustmentType": "ChangeInCapacity", "StepAdjustments": steps or self.STEPS, **extra},
        )["PolicyARN"]

    def execute(self, policy: str, metric_value: float, threshold: float = 50.0) -> None:
        self.asg.execute_policy(AutoScalingGroupName="ecs-nodes", PolicyName=policy, MetricValue=metric_value, BreachThreshold=threshold)

    def test_put_step_policy_answers_its_arn_and_describe_returns_what_was_stored(self) -> None:
        self.create_group(desired=1)
        arn = self.put_step_policy(
            AdjustmentType="PercentChangeInCapacity", MinAdjustmentMagnitude=2, EstimatedInstanceWarmup=120,
            MetricAggregationType="Maximum",
        )
        self.assertRegex(arn, r"^arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:[0-9a-f-]+:autoScalingGroupName/ecs-nodes:policyName/scale-out$")
        [policy] = self.asg.describe_policies(AutoScalingGroupName="ecs-nodes")["ScalingPolicies"]
        self.assertEqual(policy["PolicyARN"], arn)
        self.assertEqual(
            {k: policy[k] for k in ("PolicyType", "AdjustmentType", "MinAdjustmentMagnitude", "EstimatedInstanceWarmup", "MetricAggregationType")},
            {"PolicyType": "StepScaling", "AdjustmentType": "PercentChangeInCapacity", "MinAdjustmentMagnitude": 2,
             "EstimatedInstanceWarmup": 120, "MetricAggregationType": "Maximum"},
        )
        self.assertEqual(policy["StepAdjustments"], [
            {"MetricIntervalLowerBound": 0.0, "MetricIntervalUpperBound": 10.0, "ScalingAdjustment": 2},
            {"MetricIntervalLowerBound": 10.0, "ScalingAdjustment": 3},
        ])
        self.put_step_policy("defaults")
        [policy] = self.asg.describe_policies(AutoScalingGroupName="ecs-nodes", PolicyNames=["defaults"])["ScalingPolicies"]
        self.assertEqual(policy["MetricAggregationType"], "Average")
        simple = self.asg.put_scaling_policy(AutoScalingGroupName="ecs-nodes", PolicyName="simple", AdjustmentType="ChangeInCapacity", ScalingAdjustment=1)
        self.assertTrue(simple["PolicyARN"].endswith(":policyName/simple"))

    def test_step_tables_are_validated_as_aws_does(self) -> None:
        self.create_group(desired=0)
        up = lambda lower=None, upper=None, adjustment=1: {  # noqa: E731
            k: v for k, v in {"MetricIntervalLowerBound": lower, "MetricIntervalUpperBound": upper, "ScalingAdjustment": adjustment}.items()
            if v is not None
        }
        cases = {
            "StepAdjustment intervals can not overlap": [up(0, 10), up(5)],
            "StepAdjustment intervals can not have gaps between them": [up(0, 10), up(20)],
            "At most one StepAdjustment may have an unspecified lower bound": [up(None, -10), up(None, 0), up(0)],
            "At most one StepAdjustment may have an unspecified upper bound": [up(0), up(10)],
            "Both lower and upper bounds of a StepAdjustment cannot be left unspecified": [up()],
            "The upper bound of a StepAdjustment must be greater than its lower bound": [up(10, 10), up(10)],
            "There must be a StepAdjustment with an unspecified upper bound (i.e., upper bound is null) "
            "when one StepAdjustment has a positive upper bound": [up(1, 2)],
            "There must be a StepAdjustment with an unspecified lower bound (i.e., lower bound is null) "
            "when one StepAdjustment has a negative lower bound": [up(-10, 0)],
            "There can be at most 20 step adjustments per scaling policy": [up(None, 0)] + [up(n, n + 1) for n in range(19)] + [up(19)],
        }
        for message, steps in cases.items():
            with self.subTest(message):
                self.assertClientError("ValidationError", message, self.put_step_policy, steps=steps)
        self.put_step_policy(steps=[up(None, 0)] + [up(n, n + 1) for n in range(18)] + [up(18)])  # 20 steps
        self.put_step_policy(steps=[up(None, -5, -1)])  # scale-in only: nothing above the threshold
        self.assertClientError(
            "ValidationError", "MinAdjustmentMagnitude is only supported with AdjustmentType PercentChangeInCapacity",
            self.put_step_policy, MinAdjustmentMagnitude=2,
        )
        self.assertClientError("ValidationError", None, self.put_step_policy, AdjustmentType="Everything")
        self.assertClientError("ValidationError", None, self.put_step_policy, AdjustmentType="ExactCapacity", steps=[up(0, None, -1)])

    def test_execute_picks_the_step_by_aws_bound_rules(self) -> None:
        self.create_group(desired=2, DefaultInstanceWarmup=0)  # nothing warms: every step applies
        self.put_step_policy("exact", AdjustmentType="ExactCapacity", steps=[
            {"MetricIntervalUpperBound": -10, "ScalingAdjustment": 1},
            {"MetricIntervalLowerBound": -10, "MetricIntervalUpperBound": 0, "ScalingAdjustment": 2},
            {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 10, "ScalingAdjustment": 3},
            {"MetricIntervalLowerBound": 10, "ScalingAdjustment": 4},
        ])
        # Above the threshold the lower bound is inclusive and the upper exclusive; below, the other way round.
        for metric_value, expected in [(50, 3), (40, 1), (59.99, 3), (60, 4), (49.5, 2), (40.01, 2), (30, 1), (1000, 4)]:
            with self.subTest(metric_value=metric_value):
                self.execute("exact", metric_value)
                self.assertEqual(self.desired(), expected)

    def test_execute_errors(self) -> None:
        self.create_group(desired=1)
        arn = self.put_step_policy()  # covers d >= 0 only
        message = "The metric value 49 does not correspond to a step adjustment of policy scale-out (breach threshold 50)"
        self.assertClientError("ValidationError", message, self.execute, "scale-out", 49)
        self.assertClientError("ValidationError", message, self.execute, arn, 49)
        self.assertClientError(
            "ValidationError", "MetricValue and BreachThreshold are required for policy type StepScaling",
            self.asg.execute_policy, AutoScalingGroupName="ecs-nodes", PolicyName="scale-out",
        )
        self.asg.put_scaling_policy(AutoScalingGroupName="ecs-nodes", PolicyName="simple", AdjustmentType="ChangeInCapacity", ScalingAdjustment=1)
        self.assertClientError(
            "ValidationError", "MetricValue and BreachThreshold are supported only for policy type StepScaling",
            self.execute, "simple", 60,
        )
        self.assertClientError("ValidationError", None, self.asg.execute_policy, PolicyName="missing")
        self.assertEqual(self.desired(), 1)

    def test_warming_instances_count_as_added_capacity(self) -> None:
        self.create_group(desired=2, DefaultInstanceWarmup=600)
        arn = self.put_step_policy(EstimatedInstanceWarmup=120)  # the policy's warm-up wins over the group's
        self.execute(arn, 55)  # +2
        self.assertEqual(self.desired(), 4)
        self.execute(arn, 55)  # the same breach again: its 2 instances are still warming
        self.assertEqual(self.desired(), 4)
        self.execute(arn, 65)  # a higher step: +3 counted from the 2 that are not warming
        self.assertEqual(self.desired(), 5)
        EMU.ok("POST", "clock", {"advance_seconds": 119})
        self.execute(arn, 65)
        self.assertEqual(self.desired(), 5)
        EMU.ok("POST", "clock", {"advance_seconds": 2})  # all warmed up
        self.execute(arn, 55)
        self.assertEqual(self.desired(), 7)

    def test_warmup_falls_back_to_the_group_default_then_its_cooldown(self) -> None:
        self.create_group(desired=1, DefaultInstanceWarmup=60, DefaultCooldown=100)
        self.put_step_policy()
        self.execute("scale-out", 55)
        EMU.ok("POST", "clock", {"advance_seconds": 61})
        self.execute("scale-out", 55)
        self.assertEqual(self.desired(), 5)

        self.asg.update_auto_scaling_group(AutoScalingGroupName="ecs-nodes", DefaultInstanceWarmup=-1)  # off
        self.assertEqual((self.group()["DefaultInstanceWarmup"], self.group()["DefaultCooldown"]), (-1, 100))
        EMU.ok("POST", "clock", {"advance_seconds": 61})
        self.execute("scale-out", 55)
        self.assertEqual(self.desired(), 7)
        EMU.ok("POST", "clock", {"advance_seconds": 99})
        self.execute("scale-out", 55)
        self.assertEqual(self.desired(), 7, "still warming for the 100 s DefaultCooldown")
        EMU.ok("POST", "clock", {"advance_seconds": 2})
        self.execute("scale-out", 55)
        self.assertEqual(self.desired(), 9)

    def test_policy_scale_in_is_blocked_while_instances_warm(self) -> None:
        self.create_group(desired=3, DefaultInstanceWarmup=300)
        self.put_step_policy("out")
        self.put_step_policy("in", steps=[{"MetricIntervalUpperBound": 0, "ScalingAdjustment": -1}])
        self.asg.put_scaling_policy(AutoScalingGroupName="ecs-nodes", PolicyName="simple-in", AdjustmentType="ChangeInCapacity", ScalingAdjustment=-1)
        self.execute("in", 40)  # nothing is warming yet
        self.assertEqual(self.desired(), 2)
        self.execute("out", 55)
        self.assertEqual(self.desired(), 4)
        self.execute("in", 40)
        self.asg.execute_policy(AutoScalingGroupName="ecs-nodes", PolicyName="simple-in")
        self.assertEqual(self.desired(), 4, "no policy scales in while instances warm")
        self.asg.set_desired_capacity(AutoScalingGroupName="ecs-nodes", DesiredCapacity=3)  # a person still can
        self.assertEqual(self.desired(), 3)
        EMU.ok("POST", "clock", {"advance_seconds": 301})
        self.execute("in", 40)
        self.assertEqual(self.desired(), 2)

    def test_capacity_stays_within_min_and_max(self) -> None:
        self.create_group(desired=2, min_size=1, max_size=5, DefaultInstanceWarmup=0)
        self.put_step_policy("out", steps=[{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 10}])
        self.put_step_policy("in", steps=[{"MetricIntervalUpperBound": 0, "ScalingAdjustment": -10}])
        self.execute("out", 60)
        self.assertEqual(self.desired(), 5)
        self.execute("in", 40)
        self.assertEqual(self.desired(), 1)

    def test_percent_change_rounds_as_aws_does(self) -> None:
        self.create_group(desired=4, DefaultInstanceWarmup=0)
        self.put_step_policy("pct", AdjustmentType="PercentChangeInCapacity", MinAdjustmentMagnitude=2, steps=[
            {"MetricIntervalUpperBound": 0, "ScalingAdjustment": -30},
            {"MetricIntervalLowerBound": 0, "ScalingAdjustment": 15},
        ])
        self.execute("pct", 60)  # 15 % of 4 is 0.6: rounded to 1, raised to MinAdjustmentMagnitude 2
        self.assertEqual(self.desired(), 6)
        self.asg.set_desired_capacity(AutoScalingGroupName="ecs-nodes", DesiredCapacity=11)
        self.execute("pct", 60)  # 15 % of 11 is 1.65: rounded down to 1, raised to 2
        self.assertEqual(self.desired(), 13)
        self.asg.set_desired_capacity(AutoScalingGroupName="ecs-nodes", DesiredCapacity=20)
        self.execute("pct", 60)  # 3
        self.assertEqual(self.desired(), 23)
        self.execute("pct", 40)  # -30 % of 23 is -6.9: rounded up to -6
        self.assertEqual(self.desired(), 17)
        self.asg.put_scaling_policy(AutoScalingGroupName="ecs-nodes", PolicyName="simple-pct",
                                    AdjustmentType="PercentChangeInCapacity", ScalingAdjustment=-5)
        self.asg.execute_policy(AutoScalingGroupName="ecs-nodes", PolicyName="simple-pct")  # -0.85: -1
        self.assertEqual(self.desired(), 16)

    def test_simple_policies_honor_the_cooldown_when_asked(self) -> None:
        self.create_group(desired=1)
        self.asg.put_scaling_policy(AutoScalingGroupName="ecs-nodes", PolicyName="simple", AdjustmentType="ChangeInCapacity",
                                    ScalingAdjustment=1, Cooldown=60)
        self.asg.execute_policy(AutoScalingGroupName="ecs-nodes", PolicyName="simple", HonorCooldown=True)
        self.assertClientError(
            "ScalingActivityInProgress", None,
            self.asg.execute_policy, AutoScalingGroupName="ecs-nodes", PolicyName="simple", HonorCooldown=True,
        )
        self.asg.execute_policy(AutoScalingGroupName="ecs-nodes", PolicyName="simple")  # not honouring it
        self.assertEqual(self.desired(), 3)
        EMU.ok("POST", "clock", {"advance_seconds": 61})
        self.asg.execute_policy(AutoScalingGroupName="ecs-nodes", PolicyName="simple", HonorCooldown=True)
        self.assertEqual(self.desired(), 4)

    def test_group_keeps_its_warmup_and_cooldown_and_launches_across_zones(self) -> None:
        self.create_group(desired=5, DefaultInstanceWarmup=60)
        group = self.group()
        self.assertEqual((group["DefaultInstanceWarmup"], group["DefaultCooldown"]), (60, 300))
        zones = sorted(i["AvailabilityZone"] for i in group["Instances"])
        self.assertEqual(zones, ["us-east-1a"] * 3 + ["us-east-1b"] * 2)
        self.asg.update_auto_scaling_group(AutoScalingGroupName="ecs-nodes", DefaultInstanceWarmup=0, DefaultCooldown=30, DesiredCapacity=6)
        group = self.group()
        self.assertEqual((group["DefaultInstanceWarmup"], group["DefaultCooldown"]), (0, 30))
        self.assertEqual(sorted(i["AvailabilityZone"] for i in group["Instances"]), ["us-east-1a"] * 3 + ["us-east-1b"] * 3)


    def test_launches_into_one_subnet_per_zone(self) -> None:
        ec2 = EMU.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = {zone: ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
                   for zone, cidr in [("us-east-1a", "10.0.1.0/24"), ("us-east-1b", "10.0.2.0/24")]}
        self.asg.create_auto_scaling_group(
            AutoScalingGroupName="ecs-nodes", MinSize=0, MaxSize=10, DesiredCapacity=4,
            LaunchTemplate={"LaunchTemplateName": "ecs-node"}, VPCZoneIdentifier=",".join(subnets.values()),
        )
        ids = [i["InstanceId"] for i in self.group()["Instances"]]
        described = [i for r in ec2.describe_instances(InstanceIds=ids)["Reservations"] for i in r["Instances"]]
        placed = sorted((i["Placement"]["AvailabilityZone"], i["SubnetId"]) for i in described)
        self.assertEqual(placed, [("us-east-1a", subnets["us-east-1a"])] * 2 + [("us-east-1b", subnets["us-east-1b"])] * 2)
        self.assertEqual(self.group()["VPCZoneIdentifier"], ",".join(subnets.values()))


# --- Custom termination policy: a Lambda function first in TerminationPolicies -----------------


FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:pick-instances"


class CustomTerminationTest(EmulatorTest):
    def setUp(self) -> None:
        super().setUp()
        self.asg, self.ec2 = EMU.client("autoscaling"), EMU.client("ec2")
        self.ec2.create_launch_template(
            LaunchTemplateName="ecs-node", LaunchTemplateData={"ImageId": "ami-12345678", "InstanceType": "m5.large"}
        )
        self.function = FakeFunction()
        self.addCleanup(self.function.close)

    def register(self, arn: str = FUNCTION_ARN, **extra) -> dict:
        return EMU.ok("POST", "lambda/functions", {"arn": arn, "url": self.function.url, **extra})

    def create_group(self, desired: int, hook: bool = False, policies=None, zones=("us-east-1a", "us-east-1b")) -> list[str]:
        self.asg.create_auto_scaling_group(
            AutoScalingGroupName="ecs-nodes", MinSize=0, MaxSize=10, DesiredCapacity=desired,
            LaunchTemplate={"LaunchTemplateName": "ecs-node"}, AvailabilityZones=list(zones),
            TerminationPolicies=policies if policies is not None else [f"{FUNCTION_ARN}:live", "OldestInstance"],
        )
        if hook:
            self.asg.put_lifecycle_hook(AutoScalingGroupName="ecs-nodes", LifecycleHookName="drain",
                                        LifecycleTransition=TERMINATING, HeartbeatTimeout=300)
        return [i["InstanceId"] for i in self.group()["Instances"]]

    def group(self) -> dict:
        return self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=["ecs-nodes"])["AutoScalingGroups"][0]

    def states(self) -> dict[str, str]:
        return {i["InstanceId"]: i["LifecycleState"] for i in self.group()["Instances"]}

    def zones(self) -> dict[str, str]:
        return {i["InstanceId"]: i["AvailabilityZone"] for i in self.group()["Instances"]}

    def requests(self) -> list[dict]:
        return EMU.ok("GET", "autoscaling/termination-requests")["requests"]

    def set_desired(self, capacity: int) -> None:
        self.asg.set_desired_capacity(AutoScalingGroupName="ecs-nodes", DesiredCapacity=capacity)

    def test_request_has_aws_shape_and_chosen_instances_go_through_the_hook(self) -> None:
        self.register()
        ids = self.create_group(desired=4, hook=True)
        zones = self.zones()
        chosen = next(i for i in ids if zones[i] == "us-east-1b")
        self.function.script.append({"InstanceIDs": [chosen]})
        self.set_desired(3)

        [request] = self.function.requests
        self.assertEqual(list(request), ["AutoScalingGroupARN", "AutoScalingGroupName", "CapacityToTerminate", "Instances", "Cause"])
        self.assertEqual(request["AutoScalingGroupARN"], self.group()["AutoScalingGroupARN"])
        self.assertEqual((request["AutoScalingGroupName"], request["Cause"]), ("ecs-nodes", "SCALE_IN"))
        self.assertEqual(request["CapacityToTerminate"], [{"AvailabilityZone": "us-east-1a", "Capacity": 1, "InstanceMarketOption": "on-demand"}])
        self.assertEqual(request["Instances"], [  # zones balanced (2 and 2): every instance is offered
            {"AvailabilityZone": zones[i], "InstanceId": i, "InstanceType": "m5.large", "InstanceMarketOption": "on-demand"} for i in ids
        ])
        self.assertEqual(self.group()["DesiredCapacity"], 3)
        self.assertEqual(self.states()[chosen], "Terminating:Wait")
        [note] = EMU.ok("GET", "autoscaling/lifecycle-notifications")["notifications"]
        self.assertEqual(note["EC2InstanceId"], chosen)
        [logged] = self.requests()
        self.assertEqual((logged["group"], logged["function"], logged["url"]), ("ecs-nodes", f"{FUNCTION_ARN}:live", self.function.url))
        self.assertEqual((logged["request"], logged["response"], logged["error"]), (request, {"InstanceIDs": [chosen]}, None))
        self.assertEqual(logged["terminated"], [chosen])
        self.assertRegex(logged["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

        # Now us-east-1a has more InService instances: only its instances are offered.
        in_a = [i for i in ids if zones[i] == "us-east-1a"]
        self.function.script.append({"InstanceIDs": in_a[:1]})
        self.set_desired(2)
        request = self.function.requests[1]
        self.assertEqual(request["CapacityToTerminate"], [{"AvailabilityZone": "us-east-1a", "Capacity": 1, "InstanceMarketOption": "on-demand"}])
        self.assertEqual([i["InstanceId"] for i in request["Instances"]], in_a)
        self.assertEqual(sorted(s for s in self.states().values()), ["InService", "InService", "Terminating:Wait", "Terminating:Wait"])

    def test_short_empty_failed_and_late_answers_are_retried_every_10_seconds(self) -> None:
        self.register()
        first, second, third = self.create_group(desired=3, zones=["us-east-1a"])
        self.function.script += [
            {"InstanceIDs": [second]},  # one of the two needed
            {"InstanceIDs": []},
            (500, b'{"errorMessage": "boom"}', 0),
            (200, b"not json", 0),
            (200, b'{"InstanceIDs": []}', 2.5),  # past the 2 s limit
            {"InstanceIDs": ["i-00000000000000000", third, first]},  # more than needed, and a stranger
        ]
        self.set_desired(1)
        self.assertEqual(self.states(), {first: "InService", third: "InService"})
        self.assertEqual(self.group()["DesiredCapacity"], 1)
        self.assertEqual(len(self.function.requests), 1)
        self.assertEqual(self.function.requests[0]["CapacityToTerminate"][0]["Capacity"], 2)

        EMU.ok("POST", "clock", {"advance_seconds": 9})
        self.assertEqual(len(self.function.requests), 1, "not again within 10 s")
        for attempt in range(2, 6):
            EMU.ok("POST", "clock", {"advance_seconds": 10})
            self.assertEqual(len(self.function.requests), attempt)
            self.assertEqual(self.states(), {first: "InService", third: "InService"})
        self.assertEqual(self.function.requests[1]["CapacityToTerminate"][0]["Capacity"], 1)
        EMU.ok("POST", "clock", {"advance_seconds": 10})
        self.assertEqual(self.states(), {third: "InService"}, "the first in the group's order goes")
        self.assertEqual(self.ec2.describe_instances(InstanceIds=[first])["Reservations"][0]["Instances"][0]["State"]["Name"], "terminated")

        EMU.ok("POST", "clock", {"advance_seconds": 60})
        self.assertEqual(len(self.function.requests), 6, "nothing left to ask about")
        log = self.requests()
        self.assertEqual([e["terminated"] for e in log], [[second], [], [], [], [], [first]])
        self.assertEqual([e["error"] for e in log[:5]], [
            None, None, "the function failed: HTTP 500", "the function's answer is not JSON", "the function timed out after 2 s",
        ])
        self.assertEqual(log[5]["response"], {"InstanceIDs": ["i-00000000000000000", third, first]})
        self.assertEqual(EMU.control("DELETE", "autoscaling/termination-requests"), (200, {"requests": []}))
        self.assertEqual(self.requests(), [])

    def test_more_instances_than_needed_take_the_first_in_group_order(self) -> None:
        self.register()
        ids = self.create_group(desired=4)
        self.function.default = {"InstanceIDs": list(reversed(ids))}
        self.set_desired(2)
        self.assertEqual(sorted(self.states()), sorted(ids[2:]))

    def test_without_an_endpoint_nothing_goes_until_one_is_registered(self) -> None:
        first, second = self.create_group(desired=2)
        self.set_desired(1)
        [logged] = self.requests()
        self.assertEqual((logged["url"], logged["response"], logged["terminated"]), (None, None, []))
        self.assertEqual(logged["error"], f"no endpoint is registered for {FUNCTION_ARN}:live")
        self.assertEqual(set(self.states()), {first, second})
        self.register(f"{FUNCTION_ARN}:7")  # any qualifier: matched by function name
        self.function.default = {"InstanceIDs": [second]}
        EMU.ok("POST", "clock", {"advance_seconds": 10})
        self.assertEqual(self.states(), {first: "InService"})

    def test_the_function_may_call_the_emulator_back(self) -> None:
        self.register()
        ids = self.create_group(desired=3)

        def answer(request: dict) -> dict:  # as the real function reads the cluster while it decides
            group = EMU.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[request["AutoScalingGroupName"]])
            return {"InstanceIDs": [group["AutoScalingGroups"][0]["Instances"][-1]["InstanceId"]]}

        self.function.script.append(answer)
        started = time.monotonic()
        self.set_desired(2)
        self.assertLess(time.monotonic() - started, 2)
        self.assertEqual(set(self.states()), set(ids[:2]))

    def test_policy_scale_in_asks_the_function_and_update_can_install_it(self) -> None:
        ids = self.create_group(desired=3, policies=["OldestInstance"])
        self.register()
        self.asg.update_auto_scaling_group(AutoScalingGroupName="ecs-nodes", TerminationPolicies=[FUNCTION_ARN])
        self.assertEqual(self.group()["TerminationPolicies"], [FUNCTION_ARN])
        self.asg.put_scaling_policy(AutoScalingGroupName="ecs-nodes", PolicyName="in", AdjustmentType="ChangeInCapacity", ScalingAdjustment=-1)
        self.function.default = {"InstanceIDs": [ids[1]]}
        self.asg.execute_policy(AutoScalingGroupName="ecs-nodes", PolicyName="in")
        self.assertEqual(self.function.requests[0]["CapacityToTerminate"][0]["Capacity"], 1)
        self.assertEqual(set(self.states()), {ids[0], ids[2]})
        self.asg.update_auto_scaling_group(AutoScalingGroupName="ecs-nodes", MaxSize=1)  # desired follows MaxSize down
        self.assertEqual(len(self.function.requests), 2)

    def test_without_a_function_first_scale_in_is_as_before(self) -> None:
        first, second = self.create_group(desired=2, policies=["OldestInstance"])
        self.register()
        self.set_desired(1)
        self.assertEqual((self.states(), self.function.requests, self.requests()), ({second: "InService"}, [], []))

    def test_termination_policies_are_validated(self) -> None:
        for policies, message in [
            (["OldestInstance", FUNCTION_ARN], "A Lambda function in TerminationPolicies must be the first termination policy"),
            ([FUNCTION_ARN, FUNCTION_ARN + ":2"], "Only one Lambda function can be specified in TerminationPolicies"),
            ([FUNCTION_ARN + ":$LATEST"], "The $LATEST version of a Lambda function cannot be used as a termination policy"),
            (["Youngest"], "Unsupported termination policy: Youngest"),
        ]:
            with self.subTest(policies=policies):
                self.assertClientError("ValidationError", message, self.create_group, desired=0, policies=policies)

    def test_functions_are_registered_listed_and_cleared(self) -> None:
        registered = self.register(timeout_seconds=1)
        self.assertEqual(registered, {"arn": FUNCTION_ARN, "name": "pick-instances", "url": self.function.url, "timeout_seconds": 1})
        self.assertEqual(EMU.ok("GET", "lambda/functions"), {"functions": [registered]})
        status, error = EMU.control("POST", "lambda/functions", {"arn": "pick-instances", "url": self.function.url})
        self.assertEqual((status, error), (400, {"error": "not a Lambda function ARN: pick-instances"}))
        self.assertEqual(EMU.control("POST", "lambda/functions", {"arn": FUNCTION_ARN, "url": "ftp://x"})[0], 400)
        self.assertEqual(EMU.control("DELETE", "lambda/functions"), (200, {"functions": []}))
        self.assertEqual(EMU.ok("GET", "lambda/functions"), {"functions": []})


# --- EventBridge: Lambda targets and ECS service action events --------------------------------


SCALER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:scaler"


class EventBridgeTest(EmulatorTest):
    PLACEMENT_FAILURES = {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Service Action"],
        "detail": {"eventName": ["SERVICE_TASK_PLACEMENT_FAILURE"]},
    }

    def setUp(self) -> None:
        super().setUp()
        self.ecs, self.events = EMU.client("ecs"), EMU.client("events")
        self.ecs.create_cluster(clusterName="prod")
        self.ecs.register_task_definition(family="api", containerDefinitions=[{"name": "api", "image": "x", "memory": 512}])
        self.service_arn = self.ecs.create_service(cluster="prod", serviceName="api", taskDefinition="api", desiredCount=2)["service"]["serviceArn"]
        self.function = FakeFunction(default={"ok": True})
        self.addCleanup(self.function.close)
        EMU.ok("POST", "lambda/functions", {"arn": SCALER_ARN, "url": self.function.url})

    def rule(self, name: str, pattern: dict, targets: list[dict], state: str = "ENABLED") -> None:
        self.events.put_rule(Name=name, EventPattern=json.dumps(pattern), State=state)
        self.events.put_targets(Rule=name, Targets=targets)

    def placement_failure(self, **extra) -> dict:
        return EMU.ok("POST", "ecs/service-action", {
            "cluster": "prod", "service": "api", "event_name": "SERVICE_TASK_PLACEMENT_FAILURE", "reason": "RESOURCE:MEMORY", **extra,
        })

    def deliveries(self) -> list[dict]:
        return EMU.ok("GET", "events/deliveries")["deliveries"]

    def test_service_action_event_has_the_aws_shape_and_reaches_the_function(self) -> None:
        self.rule("placement", self.PLACEMENT_FAILURES, [{"Id": "scaler", "Arn": SCALER_ARN}])
        self.rule("off", self.PLACEMENT_FAILURES, [{"Id": "scaler", "Arn": SCALER_ARN}], state="DISABLED")
        self.rule("steady", {"source": ["aws.ecs"], "detail": {"eventName": ["SERVICE_STEADY_STATE"]}}, [{"Id": "scaler", "Arn": SCALER_ARN}])
        [instance_id] = [i["InstanceId"] for i in EMU.client("ec2").run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"]]
        instance = self.ecs.register_container_instance(cluster="prod", instanceIdentityDocument=json.dumps({"instanceId": instance_id}))
        instance_arn = instance["containerInstance"]["containerInstanceArn"]

        event = self.placement_failure(container_instances=[instance_arn.split("/")[-1]])
        self.assertEqual(list(event), ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"])
        self.assertRegex(event.pop("id"), r"^[0-9a-f-]{36}$")
        self.assertRegex(event.pop("time"), r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertRegex(event["detail"].pop("createdAt"), r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(event, {
            "version": "0",
            "detail-type": "ECS Service Action",
            "source": "aws.ecs",
            "account": "123456789012",
            "region": "us-east-1",
            "resources": [self.service_arn],
            "detail": {
                "eventType": "ERROR",
                "eventName": "SERVICE_TASK_PLACEMENT_FAILURE",
                "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
                "containerInstanceArns": [instance_arn],
                "reason": "RESOURCE:MEMORY",
            },
        })
        [received] = self.function.requests  # only the enabled rule that matches, before the answer
        self.assertEqual(received["detail-type"], "ECS Service Action")
        self.assertEqual(received["detail"]["reason"], "RESOURCE:MEMORY")
        [delivery] = self.deliveries()
        self.assertEqual(delivery["payload"], received)
        self.assertEqual(
            {k: delivery[k] for k in ("rule", "target_id", "function", "url", "event_id", "status", "response", "error")},
            {"rule": "placement", "target_id": "scaler", "function": SCALER_ARN, "url": self.function.url,
             "event_id": received["id"], "status": 200, "response": {"ok": True}, "error": None},
        )
        steady = EMU.ok("POST", "ecs/service-action", {"cluster": "prod", "service": "api", "event_name": "SERVICE_STEADY_STATE"})
        self.assertEqual(steady["detail"]["eventType"], "INFO")
        self.assertNotIn("reason", steady["detail"])
        self.assertEqual([d["rule"] for d in self.deliveries()], ["placement", "steady"])
        self.assertEqual(EMU.control("DELETE", "events/deliveries"), (200, {"deliveries": []}))

    def test_target_input_and_input_path_replace_the_event(self) -> None:
        self.rule("placement", self.PLACEMENT_FAILURES, [
            {"Id": "constant", "Arn": f"{SCALER_ARN}:live", "Input": '{"cluster": "prod"}'},
            {"Id": "detail", "Arn": SCALER_ARN, "InputPath": "$.detail"},
        ])
        event = self.placement_failure()
        self.assertEqual(self.function.requests, [{"cluster": "prod"}, event["detail"]])

    def test_other_targets_still_get_events_and_failures_are_logged(self) -> None:
        queue_url = EMU.client("sqs").create_queue(QueueName="ecs-events")["QueueUrl"]
        self.rule("placement", self.PLACEMENT_FAILURES, [
            {"Id": "queue", "Arn": "arn:aws:sqs:us-east-1:123456789012:ecs-events"},
            {"Id": "unknown", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:nobody"},
            {"Id": "scaler", "Arn": SCALER_ARN},
        ])
        self.function.script.append((502, b"", 0))
        event = self.placement_failure()
        [message] = EMU.client("sqs").receive_message(QueueUrl=queue_url)["Messages"]
        self.assertEqual(json.loads(message["Body"])["detail"], event["detail"])
        unknown, scaler = self.deliveries()
        self.assertEqual((unknown["url"], unknown["status"], unknown["error"]),
                         (None, None, "no endpoint is registered for arn:aws:lambda:us-east-1:123456789012:function:nobody"))
        self.assertEqual((scaler["status"], scaler["error"]), (502, "the function failed: HTTP 502"))

    def test_put_events_reach_lambda_targets(self) -> None:
        self.rule("custom", {"source": ["ecs-scaler.test"]}, [{"Id": "scaler", "Arn": SCALER_ARN}])
        self.events.put_events(Entries=[{"Source": "ecs-scaler.test", "DetailType": "Poke", "Detail": '{"n": 1}'}])
        [received] = self.function.requests
        self.assertEqual((received["source"], received["detail-type"], received["detail"]), ("ecs-scaler.test", "Poke", {"n": 1}))
        self.assertRegex(received["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

    def test_bad_service_action_requests(self) -> None:
        status, error = EMU.control("POST", "ecs/service-action", {"cluster": "prod", "service": "nope", "event_name": "SERVICE_STEADY_STATE"})
        self.assertEqual((status, error), (400, {"error": "ServiceNotFoundException: Service not found."}))
        status, error = EMU.control("POST", "ecs/service-action", {"cluster": "prod", "service": "api", "event_name": "SERVICE_NEW_THING"})
        self.assertEqual(status, 400)
        self.assertIn("give 'event_type'", error["error"])
        event = EMU.ok("POST", "ecs/service-action", {"cluster": "prod", "service": "api", "event_name": "SERVICE_NEW_THING", "event_type": "WARN"})
        self.assertEqual(event["detail"]["eventType"], "WARN")
        status, error = EMU.control("POST", "ecs/service-action", {**{"cluster": "prod", "service": "api"},
                                                                   "event_name": "SERVICE_TASK_PLACEMENT_FAILURE", "container_instances": ["nope"]})
        self.assertEqual((status, error), (400, {"error": "no container instance nope in cluster prod"}))


# --- ECS ---------------------------------------------------------------------------------------


class EcsTest(EmulatorTest):
    def setUp(self) -> None:
        super().setUp()
        self.ecs = EMU.client("ecs")
        self.ecs.create_cluster(clusterName="prod", tags=[{"key": "ecs-scaler:enabled", "value": "true"}])
        reservation = EMU.client("ec2").run_instances(ImageId="ami-12345678", MinCount=2, MaxCount=2, InstanceType="m5.large")
        self.ec2_ids = [i["InstanceId"] for i in reservation["Instances"]]
        self.instances = [
            self.ecs.register_container_instance(
                cluster="prod",
                instanceIdentityDocument=json.dumps({"instanceId": ec2_id}),
                totalResources=[
                    {"name": "CPU", "type": "INTEGER", "integerValue": 2048},
                    {"name": "MEMORY", "type": "INTEGER", "integerValue": 7680},
                ],
            )["containerInstance"]["containerInstanceArn"]
            for ec2_id in self.ec2_ids
        ]
        self.ecs.register_task_definition(
            family="web",
            containerDefinitions=[{"name": "web", "image": "nginx", "cpu": 512, "memoryReservation": 1024, "memory": 2048}],
        )
        self.ecs.create_service(
            cluster="prod", serviceName="web", taskDefinition="web", desiredCount=3,
            deploymentConfiguration={"minimumHealthyPercent": 50, "maximumPercent": 200},
            tags=[{"key": "team", "value": "core"}],
        )
        self.ecs.create_service(cluster="prod", serviceName="agent", taskDefinition="web", schedulingStrategy="DAEMON")

    def start(self, instance: str, service: str = "web") -> str:
        [task] = self.ecs.start_task(
            cluster="prod", taskDefinition="web", containerInstances=[instance],
            group=f"service:{service}", startedBy="ecs-svc/1234567890",
        )["tasks"]
        return task["taskArn"]

    def service(self, name: str = "web") -> dict:
        return self.ecs.describe_services(cluster="prod", services=[name], include=["TAGS"])["services"][0]

    def test_setting_draining_answers_with_the_instances_attributes(self) -> None:
        self.ecs.put_attributes(cluster="prod", attributes=[
            {"name": "ecs-scaler.drain-started", "value": "1795312345", "targetType": "container-instance", "targetId": self.instances[0]},
        ])
        answer = self.ecs.update_container_instances_state(cluster="prod", containerInstances=[self.instances[0]], status="DRAINING")
        [instance] = answer["containerInstances"]
        self.assertEqual(instance["status"], "DRAINING")
        self.assertIn({"name": "ecs-scaler.drain-started", "value": "1795312345"}, instance["attributes"])
        with self.assertRaises(self.ecs.exceptions.InvalidParameterException):
            self.ecs.update_container_instances_state(cluster="prod", containerInstances=[self.instances[0]], status="GONE")

    def test_service_counts_come_from_its_tasks(self) -> None:
        tasks = [self.start(self.instances[0]), self.start(self.instances[1]), self.start(self.instances[1])]
        self.start(self.instances[0], service="other")
        EMU.ok("POST", "ecs/task-state", {"cluster": "prod", "task": tasks[2].split("/")[-1], "last_status": "PENDING"})
        service = self.service()
        self.assertEqual((service["desiredCount"], service["runningCount"], service["pendingCount"]), (3, 2, 1))
        self.assertEqual(service["schedulingStrategy"], "REPLICA")
        self.assertEqual(service["deploymentConfiguration"]["minimumHealthyPercent"], 50)
        self.assertEqual(service["tags"], [{"key": "team", "value": "core"}])
        self.ecs.stop_task(cluster="prod", task=tasks[0])
        self.assertEqual(self.service()["runningCount"], 1)

        daemon = self.service("agent")
        self.assertEqual((daemon["schedulingStrategy"], daemon["desiredCount"]), ("DAEMON", 2))
        self.assertEqual(daemon["deploymentConfiguration"]["minimumHealthyPercent"], 0)
        self.ecs.update_container_instances_state(cluster="prod", containerInstances=self.instances[:1], status="DRAINING")
        self.assertEqual(self.service("agent")["desiredCount"], 1)

    def test_service_events_are_listed_newest_first(self) -> None:
        EMU.ok("POST", "ecs/service-events", {"cluster": "prod", "service": "web", "message": "older", "created_at": 1_800_000_000})
        added = EMU.ok("POST", "ecs/service-events", {"cluster": "prod", "service": "web", "message": "(service web) was unable to place a task."})
        self.assertEqual(set(added), {"id", "createdAt", "message"})
        events = self.service()["events"]
        self.assertEqual([e["message"] for e in events], ["(service web) was unable to place a task.", "older"])
        self.assertEqual(events[1]["createdAt"], datetime.datetime(2027, 1, 15, 8, 0, tzinfo=datetime.timezone.utc))
        status, error = EMU.control("POST", "ecs/service-events", {"cluster": "prod", "service": "nope", "message": "x"})
        self.assertEqual((status, error), (400, {"error": "ServiceNotFoundException: Service not found."}))

    def test_tasks_keep_their_status_and_report_health(self) -> None:
        arn = self.start(self.instances[0])
        for _ in range(3):  # moto alone would walk the task towards STOPPED on every describe
            [task] = self.ecs.describe_tasks(cluster="prod", tasks=[arn])["tasks"]
        self.assertEqual((task["lastStatus"], task["desiredStatus"], task["healthStatus"]), ("RUNNING", "RUNNING", "UNKNOWN"))
        self.assertEqual((task["group"], task["startedBy"], task["containerInstanceArn"]), ("service:web", "ecs-svc/1234567890", self.instances[0]))
        self.assertEqual(task["launchType"], "EC2")
        self.assertIsInstance(task["startedAt"], datetime.datetime)
        self.assertEqual((task["containers"][0]["lastStatus"], task["containers"][0]["cpu"]), ("RUNNING", "512"))

        EMU.ok("POST", "ecs/task-state", {"cluster": "prod", "task": arn, "last_status": "PENDING"})
        [task] = self.ecs.describe_tasks(cluster="prod", tasks=[arn])["tasks"]
        self.assertEqual((task["lastStatus"], task["containers"][0]["lastStatus"]), ("PENDING", "PENDING"))
        self.assertNotIn("startedAt", task)

        # A task ECS is stopping: desired STOPPED at once, still deregistering from its load balancer.
        state = EMU.ok("POST", "ecs/task-state", {"cluster": "prod", "task": arn, "desired_status": "STOPPED", "last_status": "DEACTIVATING"})
        self.assertEqual((state["desiredStatus"], state["lastStatus"]), ("STOPPED", "DEACTIVATING"))
        self.assertNotIn(arn, self.ecs.list_tasks(cluster="prod")["taskArns"])
        self.assertIn(arn, self.ecs.list_tasks(cluster="prod", desiredStatus="STOPPED", containerInstance=self.instances[0])["taskArns"])
        EMU.ok("POST", "ecs/task-state", {"cluster": "prod", "task": arn, "desired_status": "RUNNING", "last_status": "PENDING"})

        state = EMU.ok("POST", "ecs/task-state", {"cluster": "prod", "task": arn, "health_status": "UNHEALTHY"})
        self.assertEqual(state["healthStatus"], "UNHEALTHY")
        described = self.ecs.describe_tasks(cluster="prod", tasks=[arn, "arn:aws:ecs:us-east-1:123456789012:task/prod/missing"])
        self.assertEqual(described["tasks"][0]["healthStatus"], "UNHEALTHY")
        self.assertEqual(described["failures"], [{"arn": "arn:aws:ecs:us-east-1:123456789012:task/prod/missing", "reason": "MISSING"}])

    def test_stopped_tasks_leave_the_default_listing(self) -> None:
        first, second = self.start(self.instances[0]), self.start(self.instances[1])
        self.ecs.stop_task(cluster="prod", task=first, reason="draining")
        self.ecs.stop_task(cluster="prod", task=first)  # idempotent
        [stopped] = self.ecs.describe_tasks(cluster="prod", tasks=[first])["tasks"]
        self.assertEqual((stopped["lastStatus"], stopped["desiredStatus"], stopped["stoppedReason"]), ("STOPPED", "STOPPED", "draining"))
        self.assertEqual(self.ecs.list_tasks(cluster="prod")["taskArns"], [second])
        self.assertEqual(self.ecs.list_tasks(cluster="prod", desiredStatus="STOPPED")["taskArns"], [first])

    def test_list_tasks_filters_and_paginates(self) -> None:
        web_on_first = [self.start(self.instances[0]), self.start(self.instances[0])]
        web_on_second = self.start(self.instances[1])
        other_on_second = self.start(self.instances[1], service="other")
        web = self.ecs.list_tasks(cluster="prod", serviceName="web")["taskArns"]
        self.assertEqual(sorted(web), sorted([*web_on_first, web_on_second]))
        on_second = self.ecs.list_tasks(cluster="prod", containerInstance=self.instances[1].split("/")[-1])["taskArns"]
        self.assertEqual(sorted(on_second), sorted([web_on_second, other_on_second]))
        pages = list(self.ecs.get_paginator("list_tasks").paginate(cluster="prod", PaginationConfig={"PageSize": 3}))
        self.assertEqual([len(p["taskArns"]) for p in pages], [3, 1])

    def test_container_instances(self) -> None:
        first, second = self.instances
        self.start(first)
        by_ec2 = self.ecs.list_container_instances(cluster="prod", filter=f"ec2InstanceId == {self.ec2_ids[1]}")
        self.assertEqual(by_ec2["containerInstanceArns"], [second])
        pages = list(self.ecs.get_paginator("list_container_instances").paginate(cluster="prod", PaginationConfig={"PageSize": 1}))
        self.assertEqual(len(pages), 2)

        self.ecs.put_attributes(cluster="prod", attributes=[
            {"name": "ecs-scaler:draining", "value": "scale-in", "targetType": "container-instance", "targetId": first},
            {"name": "ecs-scaler:note", "value": "x", "targetId": first},
        ])
        self.ecs.delete_attributes(cluster="prod", attributes=[{"name": "ecs-scaler:note", "targetId": first}])
        self.ecs.update_container_instances_state(cluster="prod", containerInstances=[first], status="DRAINING")
        self.assertEqual(self.ecs.list_container_instances(cluster="prod", status="DRAINING")["containerInstanceArns"], [first])
        self.assertEqual(
            self.ecs.list_container_instances(cluster="prod", filter="attribute:ecs-scaler:draining exists")["containerInstanceArns"],
            [first],
        )

        described = self.ecs.describe_container_instances(cluster="prod", containerInstances=[first])["containerInstances"][0]
        self.assertEqual((described["status"], described["ec2InstanceId"], described["runningTasksCount"]), ("DRAINING", self.ec2_ids[0], 1))
        attributes = {a["name"]: a.get("value") for a in described["attributes"]}
        self.assertEqual(attributes["ecs-scaler:draining"], "scale-in")
        self.assertNotIn("ecs-scaler:note", attributes)
        self.assertEqual(attributes["ecs.instance-type"], "m5.large")
        resources = {r["name"]: r.get("integerValue") for r in described["registeredResources"]}
        remaining = {r["name"]: r.get("integerValue") for r in described["remainingResources"]}
        self.assertEqual((resources["CPU"], resources["MEMORY"]), (2048, 7680))
        self.assertEqual((remaining["CPU"], remaining["MEMORY"]), (2048 - 512, 7680 - 1024))

    def test_task_level_sizes_are_what_a_task_reserves(self) -> None:
        self.ecs.register_task_definition(
            family="big", cpu="1 vCPU", memory="2GB", containerDefinitions=[{"name": "big", "image": "x", "memory": 512}]
        )
        self.ecs.start_task(cluster="prod", taskDefinition="big", containerInstances=[self.instances[0]])
        described = self.ecs.describe_container_instances(cluster="prod", containerInstances=self.instances[:1])
        remaining = {r["name"]: r.get("integerValue") for r in described["containerInstances"][0]["remainingResources"]}
        self.assertEqual((remaining["CPU"], remaining["MEMORY"]), (2048 - 1024, 7680 - 2048))

    def test_clusters(self) -> None:
        self.start(self.instances[0])
        [cluster] = self.ecs.describe_clusters(clusters=["prod"], include=["TAGS"])["clusters"]
        self.assertEqual(cluster["tags"], [{"key": "ecs-scaler:enabled", "value": "true"}])
        counts = [cluster[k] for k in ("registeredContainerInstancesCount", "runningTasksCount", "pendingTasksCount", "activeServicesCount")]
        self.assertEqual(counts, [2, 1, 0, 2])
        for name in ("a", "b", "c"):
            self.ecs.create_cluster(clusterName=name)
        pages = list(self.ecs.get_paginator("list_clusters").paginate(PaginationConfig={"PageSize": 3}))
        self.assertEqual([len(p["clusterArns"]) for p in pages], [3, 1])

    def test_cluster_tags_can_be_changed_and_read_back(self) -> None:
        """Native moto, pinned: the scaler tags a cluster to throttle event-driven evaluations."""
        arn = self.ecs.describe_clusters(clusters=["prod"])["clusters"][0]["clusterArn"]
        self.ecs.tag_resource(resourceArn=arn, tags=[{"key": "ecs-scaler:last-evaluation", "value": "1795312345"}])
        self.ecs.tag_resource(resourceArn=arn, tags=[{"key": "ecs-scaler:last-evaluation", "value": "1795312400"}])
        tags = {t["key"]: t["value"] for t in self.ecs.list_tags_for_resource(resourceArn=arn)["tags"]}
        self.assertEqual(tags, {"ecs-scaler:enabled": "true", "ecs-scaler:last-evaluation": "1795312400"})
        self.ecs.untag_resource(resourceArn=arn, tagKeys=["ecs-scaler:enabled"])
        [cluster] = self.ecs.describe_clusters(clusters=["prod"], include=["TAGS"])["clusters"]
        self.assertEqual(cluster["tags"], [{"key": "ecs-scaler:last-evaluation", "value": "1795312400"}])
        self.assertNotIn("tags", self.ecs.describe_clusters(clusters=["prod"])["clusters"][0])

    def test_list_services_pages_by_ten_and_stays_in_its_cluster(self) -> None:
        for n in range(10):
            self.ecs.create_service(cluster="prod", serviceName=f"svc-{n:02}", taskDefinition="web", desiredCount=1)
        self.ecs.create_cluster(clusterName="xprod")
        self.ecs.create_service(cluster="xprod", serviceName="elsewhere", taskDefinition="web", desiredCount=1)
        first = self.ecs.list_services(cluster="prod")
        self.assertEqual(len(first["serviceArns"]), 10)
        rest = self.ecs.list_services(cluster="prod", nextToken=first["nextToken"])
        self.assertEqual((len(rest["serviceArns"]), rest.get("nextToken")), (2, None))


# --- EC2 instance types, launch templates, mixed-instances groups -------------------------------


class Ec2Test(EmulatorTest):
    def test_instance_types_report_aws_values(self) -> None:
        """Native moto data, pinned: the placement model reads vCPUs, memory, ENIs, GPUs and architecture."""
        answer = EMU.client("ec2").describe_instance_types(
            InstanceTypes=["m5.large", "c5.xlarge", "r5.2xlarge", "t3.micro", "g4dn.12xlarge", "m6g.large"]
        )
        facts = {
            t["InstanceType"]: (
                t["VCpuInfo"]["DefaultVCpus"],
                t["MemoryInfo"]["SizeInMiB"],
                t["NetworkInfo"]["MaximumNetworkInterfaces"],
                sum(g["Count"] for g in t.get("GpuInfo", {}).get("Gpus", [])),
                t["ProcessorInfo"]["SupportedArchitectures"],
            )
            for t in answer["InstanceTypes"]
        }
        self.assertEqual(facts, {
            "m5.large": (2, 8192, 3, 0, ["x86_64"]),
            "c5.xlarge": (4, 8192, 4, 0, ["x86_64"]),
            "r5.2xlarge": (8, 65536, 4, 0, ["x86_64"]),
            "t3.micro": (2, 1024, 2, 0, ["x86_64"]),
            "g4dn.12xlarge": (48, 196608, 8, 4, ["x86_64"]),
            "m6g.large": (2, 8192, 3, 0, ["arm64"]),
        })

    def test_launch_template_versions_name_their_instance_type(self) -> None:
        ec2 = EMU.client("ec2")
        ec2.create_launch_template(LaunchTemplateName="ecs-node", LaunchTemplateData={"ImageId": "ami-12345678", "InstanceType": "m5.large"})
        ec2.create_launch_template_version(LaunchTemplateName="ecs-node", LaunchTemplateData={"ImageId": "ami-12345678", "InstanceType": "c5.xlarge"})
        types = {
            version: [v["LaunchTemplateData"]["InstanceType"] for v in ec2.describe_launch_template_versions(
                LaunchTemplateName="ecs-node", Versions=[version])["LaunchTemplateVersions"]]
            for version in ("$Default", "$Latest", "1", "2")
        }
        self.assertEqual(types, {"$Default": ["m5.large"], "$Latest": ["c5.xlarge"], "1": ["m5.large"], "2": ["c5.xlarge"]})

    def test_groups_launch_the_first_override_balanced_across_zones(self) -> None:
        ec2, asg = EMU.client("ec2"), EMU.client("autoscaling")
        ec2.create_launch_template(LaunchTemplateName="ecs-node", LaunchTemplateData={"ImageId": "ami-12345678", "InstanceType": "m5.large"})
        zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
        asg.create_auto_scaling_group(
            AutoScalingGroupName="mixed", MinSize=0, MaxSize=10, DesiredCapacity=4, AvailabilityZones=zones,
            MixedInstancesPolicy={"LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateName": "ecs-node", "Version": "$Default"},
                "Overrides": [{"InstanceType": "r5.large"}, {"InstanceType": "m5.xlarge"}]}},
        )
        asg.create_auto_scaling_group(AutoScalingGroupName="plain", MinSize=0, MaxSize=10, DesiredCapacity=2,
                                      LaunchTemplate={"LaunchTemplateName": "ecs-node", "Version": "$Latest"}, AvailabilityZones=zones[:2])

        def members(group: str) -> list[tuple[str, str]]:
            [described] = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
            ids = [i["InstanceId"] for i in described["Instances"]]
            reported = sorted((i["InstanceType"], i["AvailabilityZone"]) for i in described["Instances"])
            in_ec2 = sorted((i["InstanceType"], i["Placement"]["AvailabilityZone"])
                            for r in ec2.describe_instances(InstanceIds=ids)["Reservations"] for i in r["Instances"])
            self.assertEqual(reported, in_ec2)
            return reported

        self.assertEqual(members("mixed"), [("r5.large", "us-east-1a"), ("r5.large", "us-east-1a"), ("r5.large", "us-east-1b"), ("r5.large", "us-east-1c")])
        self.assertEqual(members("plain"), [("m5.large", "us-east-1a"), ("m5.large", "us-east-1b")])
        asg.set_desired_capacity(AutoScalingGroupName="mixed", DesiredCapacity=6)
        self.assertEqual(members("mixed"), sorted([("r5.large", z) for z in zones] * 2))


# --- ECS placement: what instances register and hold, StartTask, RunTask -----------------------------


class PlacementTest(EmulatorTest):
    RESERVED = ["22", "2375", "2376", "51678", "51679"]

    def setUp(self) -> None:
        super().setUp()
        self.ecs, self.ec2 = EMU.client("ecs"), EMU.client("ec2")
        self.ecs.create_cluster(clusterName="prod")

    def instance(self, instance_type: str = "m5.large", zone: str = "us-east-1a", cpu: int = 2048, memory: int = 7680,
                 gpus: list[str] | None = None, attributes: dict[str, str] | None = None) -> str:
        """An EC2 instance of that type and zone, registered as the agent would; its container instance ARN."""
        [ec2_instance] = self.ec2.run_instances(ImageId="ami-0ecs1234", MinCount=1, MaxCount=1, InstanceType=instance_type,
                                                Placement={"AvailabilityZone": zone})["Instances"]
        resources = [{"name": "CPU", "type": "INTEGER", "integerValue": cpu}, {"name": "MEMORY", "type": "INTEGER", "integerValue": memory}]
        if gpus is not None:
            resources.append({"name": "GPU", "type": "STRINGSET", "stringSetValue": gpus})
        return self.ecs.register_container_instance(
            cluster="prod", instanceIdentityDocument=json.dumps({"instanceId": ec2_instance["InstanceId"]}), totalResources=resources,
            attributes=[{"name": k, "value": v} for k, v in (attributes or {}).items()],
        )["containerInstance"]["containerInstanceArn"]

    def described(self, arn: str) -> dict:
        return self.ecs.describe_container_instances(cluster="prod", containerInstances=[arn])["containerInstances"][0]

    def remaining(self, arn: str) -> dict:
        return {r["name"]: r.get("integerValue") if r["type"] == "INTEGER" else sorted(r.get("stringSetValue", []), key=int if r["name"].startswith("PORTS") else str)
                for r in self.described(arn)["remainingResources"]}

    def definition(self, family: str, network_mode: str = "bridge", ports: list[dict] | None = None, gpus: int = 0,
                   cpu: int = 256, memory: int = 512, **extra) -> str:
        container = {"name": family, "image": "nginx", "cpu": cpu, "memoryReservation": memory, "portMappings": ports or []}
        if gpus:
            container["resourceRequirements"] = [{"type": "GPU", "value": str(gpus)}]
        return self.ecs.register_task_definition(family=family, networkMode=network_mode, containerDefinitions=[container], **extra)[
            "taskDefinition"]["taskDefinitionArn"]

    def start(self, definition: str, instance: str, **kwargs) -> tuple[list[str], list[dict]]:
        answer = self.ecs.start_task(cluster="prod", taskDefinition=definition, containerInstances=[instance], **kwargs)
        return [t["taskArn"] for t in answer["tasks"]], answer["failures"]

    def subnet(self, zone: str = "us-east-1a") -> tuple[str, str]:
        vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = self.ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
        group = self.ec2.create_security_group(GroupName="tasks", Description="tasks", VpcId=vpc)["GroupId"]
        return subnet, group

    # Registration

    def test_registration_reports_what_the_agent_reads_from_instance_metadata(self) -> None:
        arn = self.instance("m6g.large", zone="us-east-1b", attributes={"pool": "blue"})
        described = self.described(arn)
        [ec2_instance] = self.ec2.describe_instances(InstanceIds=[described["ec2InstanceId"]])["Reservations"][0]["Instances"]
        self.assertEqual({a["name"]: a.get("value") for a in described["attributes"]}, {
            "ecs.ami-id": "ami-0ecs1234", "ecs.availability-zone": "us-east-1b", "ecs.instance-type": "m6g.large",
            "ecs.os-type": "linux", "ecs.cpu-architecture": "arm64",
            "ecs.vpc-id": ec2_instance["VpcId"], "ecs.subnet-id": ec2_instance["SubnetId"], "pool": "blue",
        })
        registered = {r["name"]: (r["type"], r.get("integerValue") if r["type"] == "INTEGER" else r["stringSetValue"]) for r in described["registeredResources"]}
        self.assertEqual(registered, {"CPU": ("INTEGER", 2048), "MEMORY": ("INTEGER", 7680), "PORTS": ("STRINGSET", self.RESERVED), "PORTS_UDP": ("STRINGSET", [])})
        self.assertEqual(self.remaining(arn), {"CPU": 2048, "MEMORY": 7680, "PORTS": self.RESERVED, "PORTS_UDP": []})

    def test_registration_without_an_ec2_instance_reads_the_identity_document(self) -> None:
        document = {"instanceId": "i-0123456789abcdef0", "instanceType": "c5.xlarge", "availabilityZone": "us-east-1c", "imageId": "ami-0doc"}
        arn = self.ecs.register_container_instance(cluster="prod", instanceIdentityDocument=json.dumps(document))["containerInstance"]["containerInstanceArn"]
        attributes = {a["name"]: a.get("value") for a in self.described(arn)["attributes"]}
        self.assertEqual(attributes, {"ecs.ami-id": "ami-0doc", "ecs.availability-zone": "us-east-1c", "ecs.instance-type": "c5.xlarge",
                                      "ecs.os-type": "linux", "ecs.cpu-architecture": "x86_64"})
        self.assertClientError(
            "InvalidParameterException",
            "EC2 instance i-0123456789abcdef1 does not exist, and the instance identity document has no instanceType, imageId.",
            self.ecs.register_container_instance, cluster="prod",
            instanceIdentityDocument=json.dumps({"instanceId": "i-0123456789abcdef1", "availabilityZone": "us-east-1a"}),
        )

    def test_trunking_is_the_awsvpc_trunking_account_setting_for_supported_types(self) -> None:
        plain = self.instance("m5.large")
        self.ecs.put_account_setting_default(name="awsvpcTrunking", value="enabled")
        trunked, unsupported = self.instance("m5.large"), self.instance("t3.large")
        self.ecs.put_account_setting(name="awsvpcTrunking", value="disabled")
        after = self.instance("m5.large")
        trunks = {arn: {a["name"]: a.get("value") for a in self.described(arn)["attributes"]}.get("ecs.awsvpc-trunk-id")
                  for arn in (plain, trunked, unsupported, after)}
        self.assertRegex(trunks.pop(trunked), r"^eni-[0-9a-f]{17}$")
        self.assertEqual(set(trunks.values()), {None})
        listed = self.ecs.list_container_instances(cluster="prod", filter="attribute:ecs.awsvpc-trunk-id exists")["containerInstanceArns"]
        self.assertEqual(listed, [trunked])

    # Host ports

    def test_host_ports_are_reserved_per_protocol_and_network_mode(self) -> None:
        arn = self.instance()
        web = self.definition("web", ports=[{"containerPort": 80, "hostPort": 8080}, {"containerPort": 53, "hostPort": 53, "protocol": "udp"}])
        dynamic = self.definition("dynamic", ports=[{"containerPort": 80}, {"containerPort": 81, "hostPort": 0}])
        host = self.definition("host", network_mode="host", ports=[{"containerPort": 9000}])
        tcp53 = self.definition("tcp53", ports=[{"containerPort": 53, "hostPort": 53}])
        [first], failures = self.start(web, arn)
        self.assertEqual(failures, [])
        for _ in range(2):
            self.assertEqual(len(self.start(dynamic, arn)[0]), 1)  # dynamic ports reserve nothing
        self.assertEqual(len(self.start(host, arn)[0]), 1)
        self.assertEqual(len(self.start(tcp53, arn)[0]), 1)  # TCP 53 is free: UDP 53 is another port
        remaining = self.remaining(arn)
        self.assertEqual((remaining["PORTS"], remaining["PORTS_UDP"]), (sorted(self.RESERVED + ["53", "8080", "9000"], key=int), ["53"]))

        self.assertEqual(self.start(web, arn), ([], [{"arn": arn, "reason": "RESOURCE:PORTS"}]))
        udp = self.definition("udp", ports=[{"containerPort": 53, "hostPort": 53, "protocol": "udp"}])
        self.assertEqual(self.start(udp, arn), ([], [{"arn": arn, "reason": "RESOURCE:PORTS_UDP"}]))
        ssh = self.definition("ssh", ports=[{"containerPort": 22, "hostPort": 22}])
        self.assertEqual(self.start(ssh, arn), ([], [{"arn": arn, "reason": "RESOURCE:PORTS"}]))  # the agent's reserved port
        self.ecs.stop_task(cluster="prod", task=first)
        self.assertEqual(len(self.start(udp, arn)[0]), 1)
        [mappings] = [c["portMappings"] for c in self.ecs.describe_task_definition(taskDefinition=host)["taskDefinition"]["containerDefinitions"]]
        self.assertEqual(mappings, [{"containerPort": 9000, "hostPort": 9000, "protocol": "tcp"}])

    # CPU, memory, unknown instances

    def test_tasks_that_do_not_fit_are_not_started_and_say_why(self) -> None:
        arn = self.instance(cpu=1024, memory=2048)
        self.assertEqual(len(self.start(self.definition("half", cpu=512, memory=1024), arn)[0]), 1)
        self.assertEqual(self.start(self.definition("cpu", cpu=1024, memory=256), arn), ([], [{"arn": arn, "reason": "RESOURCE:CPU"}]))
        self.assertEqual(self.start(self.definition("mem", cpu=128, memory=1536), arn), ([], [{"arn": arn, "reason": "RESOURCE:MEMORY"}]))
        missing = "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/00000000-0000-0000-0000-000000000000"
        self.assertEqual(self.start(self.definition("small", cpu=128, memory=128), missing), ([], [{"arn": missing, "reason": "MISSING"}]))
        self.assertEqual(self.remaining(arn)["CPU"], 512)
        self.assertEqual(len(self.ecs.list_tasks(cluster="prod")["taskArns"]), 1)

    # GPUs

    def test_gpus_are_assigned_by_id(self) -> None:
        arn = self.instance("g4dn.12xlarge", gpus=["GPU-a", "GPU-b", "GPU-c", "GPU-d"])
        one, two = self.definition("one", gpus=1), self.definition("two", gpus=2)
        [first], _ = self.start(one, arn)
        [second], _ = self.start(two, arn)
        tasks = self.ecs.describe_tasks(cluster="prod", tasks=[first, second])["tasks"]
        self.assertEqual(sorted(t["containers"][0]["gpuIds"] for t in tasks), [["GPU-a"], ["GPU-b", "GPU-c"]])
        self.assertEqual(self.remaining(arn)["GPU"], ["GPU-d"])
        self.assertEqual(self.start(two, arn), ([], [{"arn": arn, "reason": "RESOURCE:GPU"}]))
        self.ecs.stop_task(cluster="prod", task=second)
        self.assertEqual(self.remaining(arn)["GPU"], ["GPU-b", "GPU-c", "GPU-d"])
        registered = [r for r in self.described(arn)["registeredResources"] if r["name"] == "GPU"]
        self.assertEqual(registered[0]["stringSetValue"], ["GPU-a", "GPU-b", "GPU-c", "GPU-d"])
        plain = self.instance()  # registered no GPU
        self.assertEqual(self.start(one, plain), ([], [{"arn": plain, "reason": "RESOURCE:GPU"}]))

    # ENIs

    def test_awsvpc_tasks_take_an_eni_each_up_to_the_instance_limit(self) -> None:
        subnet, group = self.subnet()
        network = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}}
        arn = self.instance("m5.large")  # 3 network interfaces: the primary one and 2 for tasks
        vpc_task = self.definition("vpc", network_mode="awsvpc", ports=[{"containerPort": 80}])
        [first], _ = self.start(vpc_task, arn, networkConfiguration=network)
        self.start(vpc_task, arn, networkConfiguration=network)
        self.assertEqual(self.start(vpc_task, arn, networkConfiguration=network), ([], [{"arn": arn, "reason": "RESOURCE:ENI"}]))
        self.assertEqual(self.remaining(arn)["PORTS"], self.RESERVED)  # awsvpc reserves no host port

        [task] = self.ecs.describe_tasks(cluster="prod", tasks=[first])["tasks"]
        [attachment] = task["attachments"]
        details = {d["name"]: d["value"] for d in attachment["details"]}
        self.assertEqual((attachment["type"], attachment["status"]), ("ElasticNetworkInterface", "ATTACHED"))
        self.assertEqual(list(details), ["subnetId", "networkInterfaceId", "macAddress", "privateDnsName", "privateIPv4Address"])
        [eni] = self.ec2.describe_network_interfaces(NetworkInterfaceIds=[details["networkInterfaceId"]])["NetworkInterfaces"]
        self.assertEqual((details["subnetId"], details["macAddress"], details["privateIPv4Address"]), (subnet, eni["MacAddress"], eni["PrivateIpAddress"]))
        self.assertTrue(details["privateIPv4Address"].startswith("10.0.1."))
        self.assertEqual(details["privateDnsName"], "ip-" + details["privateIPv4Address"].replace(".", "-") + ".ec2.internal")

        self.ecs.stop_task(cluster="prod", task=first)
        self.assertEqual(self.ecs.describe_tasks(cluster="prod", tasks=[first])["tasks"][0]["attachments"][0]["status"], "DELETED")
        self.assertClientError("InvalidNetworkInterfaceID.NotFound", None, self.ec2.describe_network_interfaces,
                               NetworkInterfaceIds=[details["networkInterfaceId"]])  # ECS deletes the task's ENI
        self.assertEqual(len(self.start(vpc_task, arn, networkConfiguration=network)[0]), 1)

        self.assertClientError("InvalidParameterException", "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
                               self.ecs.start_task, cluster="prod", taskDefinition=vpc_task, containerInstances=[arn])
        self.assertClientError("InvalidParameterException", "Network Configuration is not valid for the given networkMode of this task definition.",
                               self.ecs.start_task, cluster="prod", taskDefinition=self.definition("bridge"), containerInstances=[arn],
                               networkConfiguration=network)

    def test_a_trunk_raises_the_eni_limit_to_the_documented_task_limit(self) -> None:
        subnet, _ = self.subnet()
        network = {"awsvpcConfiguration": {"subnets": [subnet]}}
        self.ecs.put_account_setting(name="awsvpcTrunking", value="enabled")
        arn = self.instance("m5.large", cpu=10240, memory=20480)  # m5.large with a trunk: 10 awsvpc tasks
        vpc_task = self.definition("vpc", network_mode="awsvpc", cpu=128, memory=128)
        placed = [self.start(vpc_task, arn, networkConfiguration=network)[0] for _ in range(10)]
        self.assertEqual([len(p) for p in placed], [1] * 10)
        self.assertEqual(self.start(vpc_task, arn, networkConfiguration=network), ([], [{"arn": arn, "reason": "RESOURCE:ENI"}]))

    def test_an_unknown_instance_type_has_no_eni_limit_and_says_so(self) -> None:
        subnet, _ = self.subnet()
        document = {"instanceId": "i-0123456789abcdef0", "instanceType": "x9.huge", "availabilityZone": "us-east-1a", "imageId": "ami-0doc"}
        arn = self.ecs.register_container_instance(cluster="prod", instanceIdentityDocument=json.dumps(document))["containerInstance"]["containerInstanceArn"]
        self.assertEqual(self.start(self.definition("vpc", network_mode="awsvpc"), arn, networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet]}}),
                         ([], [{"arn": arn, "reason": "RESOURCE:ENI",
                                "detail": "The emulator does not know instance type 'x9.huge', so it knows no ENI limit for it"}]))
        self.assertEqual(len(self.start(self.definition("bridge"), arn)[0]), 1)

    # RunTask

    def test_run_task_honours_member_of_and_distinct_instance(self) -> None:
        blue = [self.instance(attributes={"pool": "blue"}) for _ in range(2)]
        green = self.instance(attributes={"pool": "green"})
        pinned = self.definition("pinned", placementConstraints=[{"type": "memberOf", "expression": "attribute:pool == blue"}])
        answer = self.ecs.run_task(cluster="prod", taskDefinition=pinned, count=2, placementConstraints=[{"type": "distinctInstance"}])
        self.assertEqual((sorted(t["containerInstanceArn"] for t in answer["tasks"]), answer["failures"]), (sorted(blue), []))
        self.assertEqual({t["group"] for t in answer["tasks"]}, {"family:pinned"})

        again = self.ecs.run_task(cluster="prod", taskDefinition=pinned, placementConstraints=[{"type": "distinctInstance"}])
        self.assertEqual(again["tasks"], [])
        self.assertEqual(sorted(again["failures"], key=lambda f: f["arn"]), sorted(
            [{"arn": b, "reason": "DistinctInstance placement constraint unsatisfied"} for b in blue]
            + [{"arn": green, "reason": "MemberOf placement constraint unsatisfied"}], key=lambda f: f["arn"]))
        other_group = self.ecs.run_task(cluster="prod", taskDefinition=pinned, group="batch", placementConstraints=[{"type": "distinctInstance"}])
        self.assertEqual(len(other_group["tasks"]), 1)  # distinctInstance looks at the task's own group

        big = self.definition("big", cpu=2048, memory=512)
        answer = self.ecs.run_task(cluster="prod", taskDefinition=big, count=3,
                                   placementConstraints=[{"type": "memberOf", "expression": "attribute:pool in [green, red]"}])
        self.assertEqual(([t["containerInstanceArn"] for t in answer["tasks"]], answer["failures"]),
                         ([green], [{"arn": b, "reason": "RESOURCE:CPU"} for b in blue] + [{"arn": green, "reason": "RESOURCE:CPU"}]))

    def test_run_task_strategies_and_its_random_default(self) -> None:
        first, second = self.instance(), self.instance()
        filler, small = self.definition("filler", cpu=1024, memory=512), self.definition("small", cpu=128, memory=128)
        self.start(filler, second)
        packed = self.ecs.run_task(cluster="prod", taskDefinition=small, count=2, placementStrategy=[{"type": "binpack", "field": "cpu"}])
        self.assertEqual([t["containerInstanceArn"] for t in packed["tasks"]], [second, second])
        spread = self.ecs.run_task(cluster="prod", taskDefinition=small, count=4, group="spread", placementStrategy=[{"type": "spread", "field": "instanceId"}])
        self.assertEqual([t["containerInstanceArn"] for t in spread["tasks"]], [first, second, first, second])

        def random_picks() -> list[int]:
            EMU.ok("POST", "reset")
            self.ecs.create_cluster(clusterName="prod")
            instances = [self.instance(cpu=4096, memory=8192) for _ in range(4)]
            tasks = self.ecs.run_task(cluster="prod", taskDefinition=self.definition("small", cpu=128, memory=128), count=10)["tasks"]
            return [instances.index(t["containerInstanceArn"]) for t in tasks]

        picks = random_picks()
        self.assertEqual(random_picks(), picks)  # seeded: a run repeats
        self.assertGreater(len(set(picks)), 1)  # and random, not first-fit

    def test_run_task_errors(self) -> None:
        small = self.definition("small")
        self.assertClientError("InvalidParameterException", "No Container Instances were found in your cluster.",
                               self.ecs.run_task, cluster="prod", taskDefinition=small)
        self.instance()
        self.assertClientError("InvalidParameterException", "count must be between 1 and 10.", self.ecs.run_task, cluster="prod", taskDefinition=small, count=11)
        self.assertClientError("InvalidParameterException", None, self.ecs.run_task, cluster="prod", taskDefinition=small,
                               placementStrategy=[{"type": "binpack", "field": "disk"}])
        self.assertClientError("InvalidParameterException", "An expression cannot be specified for a distinctInstance placement constraint.",
                               self.ecs.run_task, cluster="prod", taskDefinition=small,
                               placementConstraints=[{"type": "distinctInstance", "expression": "agentConnected == true"}])

    # The cluster query language

    def test_cluster_query_language(self) -> None:
        a = self.instance("m5.large", zone="us-east-1a", attributes={"stack": "prod"})
        b = self.instance("c5.large", zone="us-east-1b", attributes={"stack": "dev"})
        c = self.instance("m6g.large", zone="us-east-1c")
        ec2_id = self.described(c)["ec2InstanceId"]
        self.start(self.definition("db"), a, group="databases")

        def listed(expression: str) -> set[str]:
            return {({a: "a", b: "b", c: "c"})[arn] for arn in self.ecs.list_container_instances(cluster="prod", filter=expression)["containerInstanceArns"]}

        cases = {
            "attribute:stack != prod": {"b"},  # the attribute must exist
            "not attribute:stack == prod": {"b", "c"},
            "attribute:stack not_exists": {"c"},
            "attribute:stack !exists": {"c"},
            "attribute:ecs.instance-type =~ m.*": {"a", "c"},
            "attribute:ecs.instance-type !~ m.*": {"b"},
            "attribute:ecs.availability-zone not_in [us-east-1a, 'us-east-1b']": {"c"},
            "attribute:ecs.availability-zone !in [us-east-1a]": {"b", "c"},
            f"ec2InstanceId in ['{ec2_id}'] || attribute:stack == dev": {"b", "c"},
            "(attribute:stack == prod or attribute:stack == dev) and attribute:ecs.cpu-architecture == x86_64": {"a", "b"},
            "attribute:stack == prod or attribute:stack == dev and attribute:ecs.instance-type == m5.large": {"a"},  # and binds tighter
            "not(task:group == databases)": {"b", "c"},
            "task:group == databases && agentConnected == true": {"a"},
            "agentConnected equals false": set(),
        }
        self.assertEqual({expression: listed(expression) for expression in cases}, cases)
        errors = {
            "runningTasksCount > 1": "The emulator does not support the cluster query subject runningTasksCount",
            "attribute:stack >= prod": "The emulator does not support the cluster query operator >=",
            "instanceType == m5.large": "Invalid cluster query expression 'instanceType == m5.large': unknown subject 'instanceType' "
                                        "(attribute:<name>, ec2InstanceId, agentConnected or task:group)",
            "(attribute:stack == prod": "Invalid cluster query expression '(attribute:stack == prod': a '(' is not closed",
            "attribute:stack ==": "Invalid cluster query expression 'attribute:stack ==': it ends too early",
        }
        for expression, message in errors.items():
            self.assertClientError("InvalidParameterException", message, self.ecs.list_container_instances, cluster="prod", filter=expression)

    # What task definitions and services keep

    def test_task_definitions_keep_network_ports_gpus_and_constraints(self) -> None:
        arn = self.definition(
            "gpu", network_mode="awsvpc", ports=[{"containerPort": 80}, {"containerPort": 5000, "protocol": "udp"}], gpus=2,
            placementConstraints=[{"type": "memberOf", "expression": "attribute:ecs.instance-type =~ g4dn.*"}], requiresCompatibilities=["EC2"],
        )
        definition = self.ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        [container] = definition["containerDefinitions"]
        self.assertEqual((definition["networkMode"], definition["requiresCompatibilities"]), ("awsvpc", ["EC2"]))
        self.assertEqual(container["portMappings"], [{"containerPort": 80, "hostPort": 80, "protocol": "tcp"},
                                                     {"containerPort": 5000, "hostPort": 5000, "protocol": "udp"}])
        self.assertEqual(container["resourceRequirements"], [{"type": "GPU", "value": "2"}])
        self.assertEqual(definition["placementConstraints"], [{"type": "memberOf", "expression": "attribute:ecs.instance-type =~ g4dn.*"}])
        bridge = self.ecs.describe_task_definition(taskDefinition=self.definition("bridge", ports=[{"containerPort": 80}]))["taskDefinition"]
        self.assertEqual(bridge["containerDefinitions"][0]["portMappings"], [{"containerPort": 80, "protocol": "tcp"}])
        self.assertClientError("InvalidParameterException", "Invalid placement constraint type 'distinctInstance'; valid types are memberOf.",
                               self.definition, "bad", placementConstraints=[{"type": "distinctInstance"}])
        self.assertClientError("InvalidParameterException", None, self.definition, "bad", placementConstraints=[{"type": "memberOf", "expression": "attribute:x =="}])

    def test_services_keep_placement_and_network_configuration(self) -> None:
        subnet, group = self.subnet()
        vpc_task = self.definition("vpc", network_mode="awsvpc")
        constraints = [{"type": "distinctInstance"}, {"type": "memberOf", "expression": "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]"}]
        strategy = [{"type": "spread", "field": "attribute:ecs.availability-zone"}, {"type": "binpack", "field": "memory"}]
        network = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group], "assignPublicIp": "DISABLED"}}
        self.ecs.create_service(cluster="prod", serviceName="api", taskDefinition=vpc_task, desiredCount=2,
                                placementConstraints=constraints, placementStrategy=strategy, networkConfiguration=network)
        self.ecs.create_service(cluster="prod", serviceName="plain", taskDefinition=self.definition("plain"), desiredCount=1)
        api, plain = self.ecs.describe_services(cluster="prod", services=["api", "plain"])["services"]
        self.assertEqual((api["placementConstraints"], api["placementStrategy"], api["networkConfiguration"]), (constraints, strategy, network))
        self.assertEqual((plain["placementConstraints"], plain["placementStrategy"]), ([], []))
        bare = {"awsvpcConfiguration": {"subnets": [subnet]}}  # ECS uses the VPC's default security group
        self.ecs.create_service(cluster="prod", serviceName="bare", taskDefinition=vpc_task, desiredCount=1, networkConfiguration=bare)
        self.assertEqual(self.ecs.describe_services(cluster="prod", services=["bare"])["services"][0]["networkConfiguration"], bare)
        self.ecs.update_service(cluster="prod", service="plain", placementStrategy=[{"type": "spread", "field": "instanceId"}],
                                placementConstraints=[{"type": "distinctInstance"}])
        [plain] = self.ecs.describe_services(cluster="prod", services=["plain"])["services"]
        self.assertEqual((plain["placementConstraints"], plain["placementStrategy"]), ([{"type": "distinctInstance"}], [{"type": "spread", "field": "instanceId"}]))
        self.assertClientError("InvalidParameterException", "Invalid placement strategy type 'pack'; valid types are random, spread, binpack.",
                               self.ecs.create_service, cluster="prod", serviceName="bad", taskDefinition="plain", desiredCount=1,
                               placementStrategy=[{"type": "pack"}])


# --- Control API and fault injection ------------------------------------------------------------


class ControlTest(EmulatorTest):
    def test_call_log_records_aws_calls_in_order(self) -> None:
        ecs, autoscaling = EMU.client("ecs"), EMU.client("autoscaling")
        ecs.list_clusters()
        autoscaling.describe_auto_scaling_groups()
        EMU.cbor("ListMetrics", {})
        with self.assertRaises(ClientError):
            ecs.describe_services(cluster="missing", services=["x"])
        self.assertEqual(
            EMU.ok("GET", "calls")["calls"],
            [
                {"service": "ecs", "operation": "ListClusters", "status": 200},
                {"service": "autoscaling", "operation": "DescribeAutoScalingGroups", "status": 200},
                {"service": "cloudwatch", "operation": "ListMetrics", "status": 200},
                {"service": "ecs", "operation": "DescribeServices", "status": 400},
            ],
        )
        self.assertEqual(EMU.control("DELETE", "calls"), (200, {"calls": []}))
        self.assertEqual(EMU.ok("GET", "calls"), {"calls": []})

    def test_bad_control_requests_say_what_is_wrong(self) -> None:
        self.assertEqual(EMU.control("POST", "faults", {"service": "ecs"}), (400, {"error": "missing field 'code'"}))
        self.assertEqual(
            EMU.control("POST", "clock", {"advance_seconds": "soon"}),
            (400, {"error": 'field \'advance_seconds\' has the wrong type: "soon"'}),
        )
        status, error = EMU.control("POST", "ecs/task-state", {"cluster": "prod", "task": "t", "last_status": "DONE"})
        self.assertEqual(status, 400)
        self.assertIn("'last_status' must be one of", error["error"])
        status, error = EMU.control("POST", "ecs/task-state", {"cluster": "prod", "task": "t", "desired_status": "PENDING"})
        self.assertEqual((status, error["error"]), (400, "'desired_status' must be one of RUNNING, STOPPED"))
        self.assertEqual(EMU.control("GET", "nope")[0], 404)
        self.assertEqual(EMU.control("PUT", "calls")[0], 405)

    def test_ecs_fault_in_json_1_1(self) -> None:
        EMU.ok("POST", "faults", {"service": "ecs", "operation": "ListClusters", "status": 400,
                                  "code": "ThrottlingException", "message": "Rate exceeded", "count": 2})
        ecs = EMU.client("ecs", config=NO_RETRIES)
        for _ in range(2):
            error = self.assertClientError("ThrottlingException", "Rate exceeded", ecs.list_clusters)
            self.assertEqual(error.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"], "ThrottlingException")
        ecs.list_clusters()
        self.assertEqual([c["status"] for c in EMU.ok("GET", "calls")["calls"]], [400, 400, 200])
        self.assertEqual(EMU.ok("GET", "faults"), {"faults": []})

    def test_autoscaling_fault_in_query_xml(self) -> None:
        EMU.ok("POST", "faults", {"service": "autoscaling", "operation": "*", "status": 503, "code": "ServiceUnavailable", "message": "try later"})
        self.assertClientError(
            "ServiceUnavailable", "try later", EMU.client("autoscaling", config=NO_RETRIES).describe_auto_scaling_groups
        )
        EMU.ok("POST", "faults", {"service": "autoscaling", "code": "Throttling", "message": "Rate exceeded"})
        body = b"Action=DescribeAutoScalingGroups&Version=2011-01-01"
        status, _, raw = EMU.signed("autoscaling", "/", body, {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 400)
        self.assertRegex(
            raw.decode(),
            r'^<ErrorResponse xmlns="http://autoscaling\.amazonaws\.com/doc/2011-01-01/"><Error><Type>Sender</Type>'
            r"<Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>[^<]+</RequestId></ErrorResponse>$",
        )

    def test_cloudwatch_fault_in_cbor(self) -> None:
        EMU.ok("POST", "faults", {"service": "monitoring", "operation": "GetMetricData", "status": 500,
                                  "code": "InternalServiceError", "message": "boom"})
        EMU.cbor("ListMetrics", {})  # another operation is not affected
        status, headers, raw = EMU.cbor("GetMetricData", {"MetricDataQueries": []})
        self.assertEqual((status, cbor2.loads(raw)), (500, {"__type": "InternalServiceError", "message": "boom"}))
        self.assertEqual((headers["smithy-protocol"], headers["x-amzn-query-error"]), ("rpc-v2-cbor", "InternalServiceError;Receiver"))
        calls = [(c["service"], c["operation"], c["status"]) for c in EMU.ok("GET", "calls")["calls"]]
        self.assertEqual(calls, [("cloudwatch", "ListMetrics", 200), ("cloudwatch", "GetMetricData", 500)])

    def test_reset_forgets_everything(self) -> None:
        EMU.client("ecs").create_cluster(clusterName="gone")
        EMU.ok("POST", "faults", {"service": "ecs", "code": "X"})
        EMU.ok("POST", "clock", {"advance_seconds": 60})
        EMU.ok("POST", "lambda/functions", {"arn": "arn:aws:lambda:us-east-1:123456789012:function:f", "url": "http://127.0.0.1:9/"})
        EMU.ok("POST", "reset")
        self.assertEqual(EMU.ok("GET", "faults"), {"faults": []})
        self.assertEqual(EMU.ok("GET", "lambda/functions"), {"functions": []})
        self.assertEqual(EMU.ok("GET", "clock")["offset_seconds"], 0)
        self.assertEqual(EMU.client("ecs").list_clusters()["clusterArns"], [])
        self.assertEqual(re.sub(r"\d", "0", EMU.ok("GET", "clock")["now"]), "0000-00-00T00:00:00.000Z")


if __name__ == "__main__":
    unittest.main()
