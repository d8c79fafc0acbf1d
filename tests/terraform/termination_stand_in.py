"""A stand-in for the drain-hook function in its role as the groups' custom termination policy.

The example lists the drain-hook function first in both groups' TerminationPolicies, and the emulator, like AWS,
asks that function which instances a scale-in removes and terminates none until it answers (no fallback to the
default policy). The emulator never runs the real function: a test registers an HTTP endpoint for it
(tests/aws-emulator/README.md, "Lambda functions"). Without one, nothing could scale in, and `terraform destroy`,
which empties each group before deleting it, would wait for ever.

This serves Auto Scaling's own suggestion: for each zone of CapacityToTerminate, that many of the offered Instances
in that zone, in order. As a module, `TerminationStandIn` (used by test_apply.py); as a script, it serves while a
command runs (scripts/terraform-checks.sh apply wraps the example's emulator test with it):

    python tests/terraform/termination_stand_in.py --endpoint http://127.0.0.1:<port> \\
        --function arn:aws:lambda:us-east-1:123456789012:function:default-drain-hook -- terraform test ...
"""

import argparse
import json
import subprocess
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def choose(request):
    """Auto Scaling's suggestion: per zone in CapacityToTerminate, that many of the offered instances there."""
    chosen = []
    for want in request.get("CapacityToTerminate") or []:
        offered = [i["InstanceId"] for i in request.get("Instances") or [] if i.get("AvailabilityZone") == want.get("AvailabilityZone")]
        chosen += [i for i in offered if i not in chosen][: int(want.get("Capacity") or 0)]
    return {"InstanceIDs": chosen}


class TerminationStandIn:
    """An HTTP endpoint answering custom termination requests; `requests` holds what it was sent."""

    def __init__(self):
        self.requests = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = json.loads(body or b"{}")
                stand_in.requests.append(request)
                answer = json.dumps(choose(request)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def register(self, endpoint, function_arn):
        """Tell the emulator to send the function's invocations here (it matches functions by name)."""
        body = json.dumps({"arn": function_arn, "url": self.url, "timeout_seconds": 2}).encode()
        control = urllib.request.Request(
            f"{endpoint.rstrip('/')}/_emulator/lambda/functions",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(control, timeout=10).read()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="the emulator's URL")
    parser.add_argument("--function", required=True, action="append", help="function ARN to stand in for (repeatable)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- the command to run meanwhile")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("name the command to run after --")
    stand_in = TerminationStandIn()
    try:
        for function in args.function:
            stand_in.register(args.endpoint, function)
        return subprocess.run(command).returncode
    finally:
        stand_in.close()


if __name__ == "__main__":
    sys.exit(main())
