#!/usr/bin/env bash
# Checks for the Terraform under terraform/.
#
#   scripts/terraform-checks.sh fmt       terraform fmt -check over terraform/
#   scripts/terraform-checks.sh validate  init + validate every module and the example
#   scripts/terraform-checks.sh test      terraform test (mock provider, plan-level) in every module and the example
#   scripts/terraform-checks.sh checkov   checkov over terraform/, 0 failed checks expected
#   scripts/terraform-checks.sh apply     apply examples/complete to the AWS emulator, check what it made, destroy
#   scripts/terraform-checks.sh all       all of the above, in that order
#
# Tools come from the environment, with fallbacks:
#   TERRAFORM         terraform binary (default: terraform on PATH)
#   TF_PLUGIN_DIR     provider mirror passed to `terraform init -plugin-dir` (default: discovered; none = registry)
#   CHECKOV           checkov binary (default: installed from tools/requirements-checkov.txt into .venv-checkov)
#   PYTHON            python with boto3 and moto, for the emulator and the apply checks (default: .venv/bin/python)
#   AWS_ENDPOINT_URL  an AWS emulator that is already running; without it `apply` starts tests/aws-emulator/emulator.py
#   REGION            region for the apply (default: us-east-1)
#   APPLY_THEN        a command run after the apply's checks and before destroy, with AWS_ENDPOINT_URL set and
#                     `terraform output` working (how `make demo` runs its story against what Terraform built)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TF_ROOT="$ROOT/terraform"
EXAMPLE_DIR="$TF_ROOT/examples/complete"
MODULE_DIRS=(
  "$TF_ROOT/modules/ecs-cluster-blue-green"
  "$TF_ROOT/modules/scale-status"
  "$TF_ROOT/modules/drain-hook"
  "$TF_ROOT/modules/dashboard"
)
OVERRIDE_FILE="$EXAMPLE_DIR/emulator_override.tf"
EMULATOR="$ROOT/tests/aws-emulator/emulator.py"
CHECKOV_REQUIREMENTS="$ROOT/tools/requirements-checkov.txt"
CHECKOV_VENV="$ROOT/.venv-checkov"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
REGION="${REGION:-us-east-1}"
# The example pins its AMIs (blue.image_id is required); the emulator accepts any well-formed id.
EMULATOR_IMAGE_ID="ami-0123456789abcdef0"

if [[ -t 2 ]]; then
  log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
else
  log() { printf '==> %s\n' "$*" >&2; }
fi
die() {
  printf 'terraform-checks: error: %s\n' "$*" >&2
  exit 1
}
rel() { printf '%s' "${1#"$ROOT"/}"; }

# A TF_CLI_CONFIG_FILE naming a missing file only makes every terraform command print a warning.
if [[ -n "${TF_CLI_CONFIG_FILE:-}" && ! -f "$TF_CLI_CONFIG_FILE" ]]; then
  unset TF_CLI_CONFIG_FILE
fi
export TF_IN_AUTOMATION=1

TERRAFORM="${TERRAFORM:-$(command -v terraform || true)}"
[[ -n "$TERRAFORM" && -x "$TERRAFORM" ]] || die "terraform not found: install Terraform >= 1.7 or set TERRAFORM"

# The folder holding registry.terraform.io/hashicorp/aws/<version>/<os_arch>/terraform-provider-aws_*, for machines
# without registry access. Cheap well-known places first, then the whole filesystem. Only providers for this
# terraform's platform count; of several, the newest 5.x wins (the modules are written against 5.x), then the
# newest of any other version. Skipped: kernel filesystems, .terraform and .git folders, the build output, and the
# apply's own temporary folders, whose provider caches are copies that vanish when it ends.
discover_plugin_dir() {
  local platform hits="" place
  platform="$("$TERRAFORM" version -json 2>/dev/null | sed -n 's/^ *"platform": *"\([a-z0-9_]*\)".*/\1/p' | head -n 1)"
  local pattern="*/registry.terraform.io/hashicorp/aws/*/${platform:-*}/terraform-provider-aws_*"
  local prune=(\( -path /proc -o -path /sys -o -path /dev -o -name .terraform -o -name .git -o -path "$ROOT/target"
    -o -path "${TMPDIR:-/tmp}/ecs-scaler-apply.*" -o -path "/tmp/ecs-scaler-apply.*" \) -prune)
  for place in /opt /usr/local/share /usr/share "${XDG_DATA_HOME:-$HOME/.local/share}/terraform" "$HOME/.terraform.d"; do
    [[ -d "$place" ]] || continue
    hits="$(find "$place" -maxdepth 8 "${prune[@]}" -o -path "$pattern" \( -type f -o -type l \) -print 2>/dev/null || true)"
    [[ -n "$hits" ]] && break
  done
  if [[ -z "$hits" ]]; then
    hits="$(find / "${prune[@]}" -o -path "$pattern" \( -type f -o -type l \) -print 2>/dev/null || true)"
  fi
  [[ -n "$hits" ]] || return 0
  # "<is 5.x> <version> <mirror folder>", best first.
  printf '%s\n' "$hits" |
    awk -F'/registry.terraform.io/hashicorp/aws/' '{ split($2, rest, "/"); printf "%d\t%s\t%s\n", rest[1] ~ /^5\./, rest[1], $1 }' |
    sort -t $'\t' -k1,1nr -k2,2Vr | head -n 1 | cut -f 3
  return 0
}

# Resolved once per run (not in a command substitution, so the result sticks): empty means the registry.
PLUGIN_DIR=""
PLUGIN_DIR_RESOLVED=0
resolve_plugin_dir() {
  ((PLUGIN_DIR_RESOLVED)) && return 0
  PLUGIN_DIR="${TF_PLUGIN_DIR:-$(discover_plugin_dir)}"
  PLUGIN_DIR_RESOLVED=1
  if [[ -n "$PLUGIN_DIR" ]]; then
    log "provider mirror: $PLUGIN_DIR"
  else
    log "no local provider mirror found: terraform init uses the registry"
  fi
}

# terraform init in $1 (extra init flags follow); output is shown only when it fails.
tf_init() {
  local dir="$1" output
  shift
  resolve_plugin_dir
  local args=(-input=false -no-color "$@")
  [[ -n "$PLUGIN_DIR" ]] && args+=("-plugin-dir=$PLUGIN_DIR")
  if ! output="$("$TERRAFORM" -chdir="$dir" init "${args[@]}" 2>&1)"; then
    printf '%s\n' "$output" >&2
    die "terraform init failed in $(rel "$dir")"
  fi
}

# The apply writes the override with its pid; one whose writer is gone is left from a killed run.
clear_stale_override() {
  [[ -f "$OVERRIDE_FILE" ]] || return 0
  local writer
  writer="$(sed -n 's/^# pid \([0-9]*\)$/\1/p' "$OVERRIDE_FILE" | head -n 1)"
  if [[ -n "$writer" ]] && grep -qs terraform-checks "/proc/$writer/cmdline"; then
    die "$(rel "$OVERRIDE_FILE") belongs to a running apply (pid $writer): wait for it to finish"
  fi
  log "removing $(rel "$OVERRIDE_FILE") left by an interrupted apply"
  rm -f "$OVERRIDE_FILE"
}

step_fmt() {
  log "fmt: terraform fmt -check -recursive $(rel "$TF_ROOT")"
  if ! "$TERRAFORM" fmt -check -recursive -diff "$TF_ROOT"; then
    die "files above are not formatted: run terraform fmt -recursive terraform/"
  fi
}

step_validate() {
  local dir
  for dir in "${MODULE_DIRS[@]}" "$EXAMPLE_DIR"; do
    log "validate: $(rel "$dir")"
    [[ "$dir" == "$EXAMPLE_DIR" ]] && clear_stale_override
    tf_init "$dir" -backend=false
    "$TERRAFORM" -chdir="$dir" validate -no-color || die "terraform validate failed in $(rel "$dir")"
  done
}

step_test() {
  local dir
  for dir in "${MODULE_DIRS[@]}" "$EXAMPLE_DIR"; do
    log "test: $(rel "$dir")"
    [[ "$dir" == "$EXAMPLE_DIR" ]] && clear_stale_override
    tf_init "$dir" -backend=false
    "$TERRAFORM" -chdir="$dir" test -no-color || die "terraform test failed in $(rel "$dir")"
  done
}

# checkov lives in its own venv: its pinned boto3/botocore must not meet the emulator's moto.
ensure_checkov() {
  if [[ -n "${CHECKOV:-}" ]]; then
    [[ -x "$CHECKOV" ]] || die "CHECKOV=$CHECKOV is not executable"
    return
  fi
  local stamp="$CHECKOV_VENV/.requirements.sha256" want
  want="$(sha256sum "$CHECKOV_REQUIREMENTS" | cut -d' ' -f1)"
  if [[ ! -x "$CHECKOV_VENV/bin/checkov" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    local python3_bin
    python3_bin="$(command -v python3 || true)"
    [[ -n "$python3_bin" ]] || die "python3 not found: needed to install checkov (or set CHECKOV)"
    log "checkov: installing $(rel "$CHECKOV_REQUIREMENTS") into $(rel "$CHECKOV_VENV")"
    [[ -x "$CHECKOV_VENV/bin/pip" ]] || "$python3_bin" -m venv "$CHECKOV_VENV"
    "$CHECKOV_VENV/bin/pip" install --quiet --disable-pip-version-check -r "$CHECKOV_REQUIREMENTS" ||
      die "could not install checkov into $(rel "$CHECKOV_VENV")"
    printf '%s\n' "$want" >"$stamp"
  fi
  CHECKOV="$CHECKOV_VENV/bin/checkov"
}

step_checkov() {
  ensure_checkov
  log "checkov $("$CHECKOV" --version): $(rel "$TF_ROOT") (skips are inline, each with its reason)"
  # --skip-download: no calls to the vendor's platform; the checks ship with the package. --quiet prints the
  # failed checks and the counts.
  if ! "$CHECKOV" --directory "$TF_ROOT" --framework terraform --skip-download --quiet --compact \
    --skip-path '/\.terraform/'; then
    die "checkov found failed checks (above): fix them, or skip inline with #checkov:skip=CKV_...:<reason>"
  fi
}

# ---------------------------------------------------------------------------------------------------------------
# apply: the example against the AWS emulator
# ---------------------------------------------------------------------------------------------------------------

APPLY_WORKDIR=""
EMULATOR_PID=""
EMULATOR_STDIN_FD=""
APPLY_STARTED=0
DESTROYED=0

stop_emulator() {
  [[ -n "$EMULATOR_PID" ]] || return 0
  # Closing its stdin asks the emulator to exit; SIGTERM if it has not after a few seconds.
  if [[ -n "$EMULATOR_STDIN_FD" ]]; then
    exec {EMULATOR_STDIN_FD}>&-
    EMULATOR_STDIN_FD=""
  fi
  for _ in $(seq 1 50); do
    kill -0 "$EMULATOR_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$EMULATOR_PID" 2>/dev/null; then
    kill -TERM "$EMULATOR_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$EMULATOR_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$EMULATOR_PID" 2>/dev/null && kill -KILL "$EMULATOR_PID" 2>/dev/null
  fi
  wait "$EMULATOR_PID" 2>/dev/null || true
  log "apply: emulator stopped"
  EMULATOR_PID=""
}

apply_cleanup() {
  local status=$?
  set +e
  if ((APPLY_STARTED && !DESTROYED)) && [[ -n "$EMULATOR_PID" || -n "${AWS_ENDPOINT_URL:-}" ]]; then
    log "apply: cleaning up after failure: terraform destroy"
    "$TERRAFORM" -chdir="$EXAMPLE_DIR" destroy -auto-approve -input=false -no-color "${APPLY_VARS[@]}" >"$APPLY_WORKDIR/destroy.log" 2>&1 ||
      printf 'terraform destroy failed too; see %s\n' "$APPLY_WORKDIR/destroy.log" >&2
  fi
  rm -f "$OVERRIDE_FILE"
  stop_emulator
  if ((status != 0)) && [[ -s "$APPLY_WORKDIR/emulator.log" ]]; then
    printf '\n--- last lines of the emulator log ---\n' >&2
    tail -n 30 "$APPLY_WORKDIR/emulator.log" >&2
  fi
  if ((status == 0)); then
    rm -rf "$APPLY_WORKDIR"
  else
    printf 'apply work files kept in %s\n' "$APPLY_WORKDIR" >&2
  fi
  exit "$status"
}

wait_for_endpoint() {
  "$PYTHON" - "$1" <<'PY' || die "the emulator at $1 does not answer"
import sys, time, urllib.error, urllib.request
url = sys.argv[1]
deadline = time.monotonic() + 60
while True:
    try:
        urllib.request.urlopen(url, timeout=2)
        break
    except urllib.error.HTTPError:
        break  # any HTTP answer means it is serving
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(1)
        time.sleep(0.2)
PY
}

start_emulator() {
  local fifo="$APPLY_WORKDIR/emulator.stdin" out="$APPLY_WORKDIR/emulator.out"
  mkfifo "$fifo"
  # Held open read-write by this shell (and closed in the child), so the emulator's stdin stays open until
  # stop_emulator closes it, or this shell dies.
  exec {EMULATOR_STDIN_FD}<>"$fifo"
  # moto loads AWS managed IAM policies only when asked; the example attaches two of them.
  export MOTO_IAM_LOAD_MANAGED_POLICIES=true
  if [[ -f "$EMULATOR" ]]; then
    log "apply: starting $(rel "$EMULATOR")"
    "$PYTHON" "$EMULATOR" --port 0 --exit-with-stdin <"$fifo" >"$out" 2>"$APPLY_WORKDIR/emulator.log" {EMULATOR_STDIN_FD}>&- &
    EMULATOR_PID=$!
    for _ in $(seq 1 600); do
      [[ "$(wc -l <"$out")" -ge 1 ]] && break
      kill -0 "$EMULATOR_PID" 2>/dev/null || die "the emulator exited before printing its URL"
      sleep 0.1
    done
    ENDPOINT="$(head -n 1 "$out" | tr -d '[:space:]')"
    [[ "$ENDPOINT" == http* ]] || die "the emulator printed no URL within 60 s (got: '$ENDPOINT')"
  else
    local moto_server port
    moto_server="$(dirname "$PYTHON")/moto_server"
    [[ -x "$moto_server" ]] || die "neither $(rel "$EMULATOR") nor $moto_server exists: run make, or set AWS_ENDPOINT_URL"
    port="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    log "apply: $(rel "$EMULATOR") not found, starting plain moto_server on port $port"
    "$moto_server" -H 127.0.0.1 -p "$port" <"$fifo" >"$out" 2>"$APPLY_WORKDIR/emulator.log" {EMULATOR_STDIN_FD}>&- &
    EMULATOR_PID=$!
    ENDPOINT="http://127.0.0.1:$port"
  fi
  wait_for_endpoint "$ENDPOINT"
  log "apply: emulator (pid $EMULATOR_PID) at $ENDPOINT"
}

write_override() {
  local endpoint="$1" service
  {
    printf '%s\n' "# Generated by scripts/terraform-checks.sh apply; removed when it ends. Points the example at the AWS emulator."
    printf '# pid %s\n' "$BASHPID"
    printf '%s\n' 'terraform {' '  backend "local" {' "    path = \"$APPLY_WORKDIR/terraform.tfstate\"" '  }' '}' ''
    printf '%s\n' 'provider "aws" {' \
      '  access_key                  = "emulator"' \
      '  secret_key                  = "emulator"' \
      '  skip_credentials_validation = true' \
      '  skip_requesting_account_id  = true' \
      '  skip_metadata_api_check     = true' \
      '' '  endpoints {'
    for service in autoscaling cloudwatch ec2 ecs events iam lambda logs sns sts; do
      printf '    %-11s = "%s"\n' "$service" "$endpoint"
    done
    printf '%s\n' '  }' '}'
  } >"$OVERRIDE_FILE"
}

# The real Lambda packages when `make build` made them; otherwise tiny stand-ins (the emulator never runs them).
lambda_zip() {
  local name="$1" real="$ROOT/target/lambda/$1/bootstrap.zip"
  if [[ -f "$real" ]]; then
    printf '%s' "$real"
    return
  fi
  local stand_in="$APPLY_WORKDIR/lambda/$name/bootstrap.zip"
  mkdir -p "$(dirname "$stand_in")"
  "$PYTHON" - "$stand_in" <<'PY'
import sys, zipfile
info = zipfile.ZipInfo("bootstrap", date_time=(2020, 1, 1, 0, 0, 0))
info.external_attr = 0o755 << 16
with zipfile.ZipFile(sys.argv[1], "w") as package:
    package.writestr(info, "#!/bin/sh\necho 'placeholder: build the real function with make build' >&2\nexit 1\n")
PY
  printf '%s' "$stand_in"
}

# `make demo` (APPLY_THEN) tells a story: there a check's line-by-line output goes to a file, and only how many
# checks passed is shown, unless one fails.
quietly_for_the_demo() {
  if [[ -z "${APPLY_THEN:-}" ]]; then
    "$@"
    return
  fi
  local details="$APPLY_WORKDIR/$1.log"
  if ! "$@" >"$details" 2>&1; then
    cat "$details" >&2
    return 1
  fi
  printf '  %s checks passed\n' "$(grep -c '^  ok' "$details")" >&2
}

check_created_resources() {
  local outputs="$APPLY_WORKDIR/outputs.json"
  "$TERRAFORM" -chdir="$EXAMPLE_DIR" output -json -no-color >"$outputs"
  "$PYTHON" - "$ENDPOINT" "$REGION" "$outputs" <<'PY'
import json
import sys

import boto3

endpoint, region, outputs_path = sys.argv[1:4]
outputs = {name: value["value"] for name, value in json.load(open(outputs_path)).items()}
session = boto3.session.Session(aws_access_key_id="emulator", aws_secret_access_key="emulator", region_name=region)
client = lambda service: session.client(service, endpoint_url=endpoint)
failures = []
# What the example asks for (its defaults, and the issue's alarm shapes).
HEARTBEAT_TIMEOUT = 300
LOG_RETENTION_DAYS = 30
ALARM_SHAPES = {
    "high": {"ComparisonOperator": "GreaterThanThreshold", "Threshold": 1.0, "Statistic": "Maximum", "Period": 60, "EvaluationPeriods": 4},
    "low": {"ComparisonOperator": "LessThanThreshold", "Threshold": 1.0, "Statistic": "Maximum", "Period": 60, "EvaluationPeriods": 10},
}


def check(condition, what):
    print(f"  {'ok  ' if condition else 'FAIL'} {what}")
    if not condition:
        failures.append(what)


cluster = outputs["cluster_name"]
groups = outputs["autoscaling_group_names"]
autoscaling = client("autoscaling")
found = {g["AutoScalingGroupName"]: g for g in autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=list(groups.values()))["AutoScalingGroups"]}
for colour, name in sorted(groups.items()):
    group = found.get(name)
    check(group is not None, f"ASG {name} exists")
    if group is None:
        continue
    tags = {t["Key"]: t["Value"] for t in group.get("Tags", [])}
    check(tags.get("ecs-scaler:cluster") == cluster and tags.get("ecs-scaler:colour") == colour, f"ASG {name} is tagged ecs-scaler:cluster={cluster}, ecs-scaler:colour={colour}")
    check(any(m["Metric"] == "GroupInServiceInstances" for m in group.get("EnabledMetrics", [])), f"ASG {name} reports GroupInServiceInstances")
    hooks = autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=name)["LifecycleHooks"]
    check(any(h["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING" and h["DefaultResult"] == "CONTINUE" for h in hooks), f"ASG {name} has the termination lifecycle hook")
    hook = next((h for h in hooks if h["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"), {})
    check(hook.get("HeartbeatTimeout") == HEARTBEAT_TIMEOUT, f"ASG {name}: the hook's heartbeat timeout is {HEARTBEAT_TIMEOUT} s (got {hook.get('HeartbeatTimeout')})")
    metadata = hook.get("NotificationMetadata")
    check(metadata is not None and json.loads(metadata) == {"cluster": cluster}, f"ASG {name}: the hook's NotificationMetadata names the cluster (got {metadata!r})")
blue = found.get(groups.get("blue"), {})
check(blue.get("DesiredCapacity") == 2 and len(blue.get("Instances", [])) == 2, "blue runs its 2 instances; green is idle")

alarms = {a["AlarmName"]: a for a in client("cloudwatch").describe_alarms()["MetricAlarms"]}
for colour in outputs["active_colours"]:
    for level in ("high", "low"):
        name = f"{cluster}_ScaleStatus_{level}_{colour}"
        alarm = alarms.get(name)
        check(alarm is not None and alarm["MetricName"] == "ScaleStatus" and len(alarm["AlarmActions"]) == 1, f"alarm {name} drives a scaling policy")
        if alarm is None:
            continue
        want = ALARM_SHAPES[level]
        got = {key: alarm.get(key) for key in want}
        check(got == want, f"alarm {name}: {want['ComparisonOperator']} {want['Threshold']:g}, {want['Statistic']}, {want['Period']} s x {want['EvaluationPeriods']} (got {got})")
        dimensions = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
        check(alarm.get("Namespace") == "Curalate/AutoScaling" and dimensions == {"ClusterName": cluster}, f"alarm {name} reads Curalate/AutoScaling ScaleStatus for ClusterName={cluster}")
check(not any(name.endswith("_green") for name in alarms), "the idle colour has no ScaleStatus alarms")
for function in (outputs["scale_status_function_name"], outputs["drain_hook_function_name"]):
    check(f"{function}-errors" in alarms, f"alarm {function}-errors exists")

lambda_client = client("lambda")
logs = client("logs")
for function in (outputs["scale_status_function_name"], outputs["drain_hook_function_name"]):
    config = lambda_client.get_function_configuration(FunctionName=function)
    check(config["Runtime"] == "provided.al2023" and config["Handler"] == "bootstrap", f"Lambda {function} exists (provided.al2023, bootstrap)")
    log_group = f"/aws/lambda/{function}"
    found_groups = [g for g in logs.describe_log_groups(logGroupNamePrefix=log_group)["logGroups"] if g["logGroupName"] == log_group]
    retention = found_groups[0].get("retentionInDays") if found_groups else None
    check(retention == LOG_RETENTION_DAYS, f"log group {log_group} keeps logs {LOG_RETENTION_DAYS} days (got {retention})")

events = client("events")
rules = {r["Name"]: r for r in events.list_rules()["Rules"]}
for rule, function in ((f"{outputs['scale_status_function_name']}-tick", outputs["scale_status_function_name"]),
                       (f"{outputs['drain_hook_function_name']}-reconcile", outputs["drain_hook_function_name"])):
    targets = events.list_targets_by_rule(Rule=rule)["Targets"] if rule in rules else []
    check(rules.get(rule, {}).get("ScheduleExpression") == "rate(1 minute)" and any(t["Arn"].endswith(f":function:{function}") for t in targets), f"EventBridge rule {rule} runs {function} every minute")
tick = events.list_targets_by_rule(Rule=f"{outputs['scale_status_function_name']}-tick")["Targets"]
check(json.loads(tick[0].get("Input", "null")) == json.loads(outputs["scale_status_schedule_input"]), "the scale-status schedule carries the cluster thresholds")

sns = client("sns")
topic = outputs["drain_hook_topic_arn"]
attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
check(attributes.get("KmsMasterKeyId") == "alias/aws/sns", f"SNS topic {topic.split(':')[-1]} exists, encrypted")
subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
check(any(s["Protocol"] == "lambda" and s["Endpoint"].endswith(f":function:{outputs['drain_hook_function_name']}") for s in subscriptions), "the drain Lambda is subscribed to the topic")

dashboard = client("cloudwatch").get_dashboard(DashboardName=outputs["dashboard_name"])
widgets = json.loads(dashboard["DashboardBody"])["widgets"]
check(any(w.get("properties", {}).get("title") == "ScaleStatus" for w in widgets), f"dashboard {outputs['dashboard_name']} exists with the ScaleStatus graph")

if failures:
    sys.exit(f"{len(failures)} check(s) failed")
PY
}

# boto3 against the emulator, for the small steps below; the script comes on stdin.
emulator_python() {
  "$PYTHON" - "$ENDPOINT" "$REGION" "$APPLY_WORKDIR/outputs.json" "$@"
}

# `terraform plan` of the applied example into $1.tfplan and $1.json; prints the plan's -detailed-exitcode.
plan_to_json() {
  local name="$1" rc=0
  "$TERRAFORM" -chdir="$EXAMPLE_DIR" plan -input=false -no-color -detailed-exitcode -out="$APPLY_WORKDIR/$name.tfplan" \
    "${APPLY_VARS[@]}" >"$APPLY_WORKDIR/$name.log" 2>&1 || rc=$?
  if ((rc == 1)); then
    tail -n 40 "$APPLY_WORKDIR/$name.log" >&2
    die "terraform plan failed (full log: $APPLY_WORKDIR/$name.log)"
  fi
  "$TERRAFORM" -chdir="$EXAMPLE_DIR" show -json -no-color "$APPLY_WORKDIR/$name.tfplan" >"$APPLY_WORKDIR/$name.json"
  printf '%s' "$rc"
}

# A terraform apply must not undo what the autoscaler did: move blue's desired capacity out of band, and the plan
# must not change it back. Against the real AWS a plan right after the apply is empty (exit 0); against moto it
# is not, because of the read-backs terraform/README.md lists. So the plan after the change is compared with
# one taken before it: the same exit code and the same changes, and blue's desired_capacity left as it is now.
check_keeps_desired_capacity() {
  local before_rc after_rc
  before_rc="$(plan_to_json plan-before)"
  emulator_python set 3 <<'PY' || die "could not change blue's desired capacity in the emulator"
import json, sys, boto3
endpoint, region, outputs_path, _, capacity = sys.argv[1:6]
group = json.load(open(outputs_path))["autoscaling_group_names"]["value"]["blue"]
autoscaling = boto3.client("autoscaling", endpoint_url=endpoint, region_name=region, aws_access_key_id="emulator", aws_secret_access_key="emulator")
autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=int(capacity), HonorCooldown=False)
now = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0]["DesiredCapacity"]
print(f"  {group}: desired capacity set to {now} out of band (as a scale-up alarm would)")
sys.exit(now != int(capacity))
PY
  after_rc="$(plan_to_json plan-after)"
  emulator_python "$before_rc" "$after_rc" <<'PY' || die "terraform plan would undo the autoscaler's desired capacity"
import json, sys
_, _, outputs_path, before_rc, after_rc = sys.argv[1:6]
workdir = outputs_path.rsplit("/", 1)[0]
blue = 'module.ecs_cluster_bg.aws_autoscaling_group.this["blue"]'


def changes(name):
    plan = json.load(open(f"{workdir}/{name}.json"))
    result = {}
    for rc in plan.get("resource_changes", []):
        change = rc["change"]
        if change["actions"] in (["no-op"], ["read"]):
            continue
        before, after, unknown = change.get("before") or {}, change.get("after") or {}, change.get("after_unknown") or {}
        result[rc["address"]] = (change["actions"], sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k) or unknown.get(k)))
    group = next(rc for rc in plan["resource_changes"] if rc["address"] == blue)["change"]
    return result, group


failures = []


def check(condition, what):
    print(f"  {'ok  ' if condition else 'FAIL'} {what}")
    if not condition:
        failures.append(what)


before, _ = changes("plan-before")
after, group = changes("plan-after")
kept = (group["before"] or {}).get("desired_capacity") == 3 and (group["after"] or {}).get("desired_capacity") == 3
check(kept, f"the plan leaves blue's desired capacity at 3 (before {group['before'].get('desired_capacity')}, after {group['after'].get('desired_capacity')})")
check(not any("desired_capacity" in attributes for _, attributes in after.values()), "no planned change touches desired_capacity")
check(after_rc == before_rc, f"plan -detailed-exitcode is {after_rc}, as before the change ({before_rc}: {'no changes' if before_rc == '0' else 'only the emulator read-back drift'})")
differ = sorted(address for address in set(before) | set(after) if before.get(address) != after.get(address))
check(not differ, "the out-of-band change adds nothing to the plan" + (f" (differs at {differ})" if differ else ""))
sys.exit(1 if failures else 0)
PY
  emulator_python restore 2 <<'PY' || die "could not restore blue's desired capacity in the emulator"
import json, sys, time, urllib.request, boto3
endpoint, region, outputs_path, _, capacity = sys.argv[1:6]
group = json.load(open(outputs_path))["autoscaling_group_names"]["value"]["blue"]
autoscaling = boto3.client("autoscaling", endpoint_url=endpoint, region_name=region, aws_access_key_id="emulator", aws_secret_access_key="emulator")
autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=int(capacity), HonorCooldown=False)
# The instance scaled in waits in Terminating:Wait behind the drain hook: release it, as the drain Lambda would.
hooks = autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=group)["LifecycleHooks"]
for instance in autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0]["Instances"]:
    if instance["LifecycleState"] == "Terminating:Wait":
        for hook in hooks:
            autoscaling.complete_lifecycle_action(AutoScalingGroupName=group, LifecycleHookName=hook["LifecycleHookName"], InstanceId=instance["InstanceId"], LifecycleActionResult="CONTINUE")
# And forget the lifecycle notification it queued (the project's emulator only; plain moto has none).
try:
    urllib.request.urlopen(f"{endpoint}/_emulator/autoscaling/lifecycle-notifications", timeout=10).read()
except OSError:
    pass
now = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0]
states = sorted(i["LifecycleState"] for i in now["Instances"])
print(f"  {group}: desired capacity restored to {now['DesiredCapacity']}, instances {states}")
sys.exit(not (now["DesiredCapacity"] == int(capacity) and states == ["InService"] * int(capacity)))
PY
}

# After destroy: nothing the example made is left in the emulator.
check_destroyed() {
  emulator_python <<'PY'
import json, sys, boto3
endpoint, region, outputs_path = sys.argv[1:4]
outputs = {name: value["value"] for name, value in json.load(open(outputs_path)).items()}
session = boto3.session.Session(aws_access_key_id="emulator", aws_secret_access_key="emulator", region_name=region)
client = lambda service: session.client(service, endpoint_url=endpoint)
failures = []


def check(condition, what):
    print(f"  {'ok  ' if condition else 'FAIL'} {what}")
    if not condition:
        failures.append(what)


groups = list(outputs["autoscaling_group_names"].values())
left = client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=groups)["AutoScalingGroups"]
check(not left, f"the ASGs {', '.join(groups)} are gone" + (f" (left: {[g['AutoScalingGroupName'] for g in left]})" if left else ""))
functions = [outputs["scale_status_function_name"], outputs["drain_hook_function_name"]]
remaining = [f["FunctionName"] for f in client("lambda").list_functions()["Functions"] if f["FunctionName"] in functions]
check(not remaining, "the Lambda functions are gone" + (f" (left: {remaining})" if remaining else ""))
ours = lambda name: name.startswith(f"{outputs['cluster_name']}_ScaleStatus_") or any(name.startswith(f) for f in functions)
alarms = [a["AlarmName"] for a in client("cloudwatch").describe_alarms()["MetricAlarms"] if ours(a["AlarmName"])]
check(not alarms, "the ScaleStatus and Errors alarms are gone" + (f" (left: {alarms})" if alarms else ""))
log_groups = [g["logGroupName"] for g in client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"] if g["logGroupName"].removeprefix("/aws/lambda/") in functions]
check(not log_groups, "the log groups are gone" + (f" (left: {log_groups})" if log_groups else ""))
topics = [t["TopicArn"] for t in client("sns").list_topics()["Topics"] if t["TopicArn"] == outputs["drain_hook_topic_arn"]]
check(not topics, "the SNS topic is gone")
rules = [r["Name"] for r in client("events").list_rules()["Rules"] if ours(r["Name"])]
check(not rules, "the EventBridge rules are gone" + (f" (left: {rules})" if rules else ""))
dashboards = [d["DashboardName"] for d in client("cloudwatch").list_dashboards()["DashboardEntries"]]
check(outputs["dashboard_name"] not in dashboards, "the dashboard is gone")
if failures:
    sys.exit(f"{len(failures)} check(s) failed")
PY
}

step_apply() {
  [[ -x "$PYTHON" ]] || die "python not found at $PYTHON: run make (it creates .venv with boto3 and moto), or set PYTHON"
  "$PYTHON" -c 'import boto3' 2>/dev/null || die "$PYTHON has no boto3"
  clear_stale_override

  APPLY_WORKDIR="$(mktemp -d "${TMPDIR:-/tmp}/ecs-scaler-apply.XXXXXX")"
  APPLY_VARS=()
  trap apply_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  if [[ -n "${AWS_ENDPOINT_URL:-}" ]]; then
    ENDPOINT="$AWS_ENDPOINT_URL"
    log "apply: using the emulator at AWS_ENDPOINT_URL=$ENDPOINT"
    wait_for_endpoint "$ENDPOINT"
  else
    start_emulator
  fi

  # Credentials and settings of a real account must not leak into the emulator run.
  unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
  write_override "$ENDPOINT"
  # A private data dir, so this init does not disturb the validate/test init of the example.
  export TF_DATA_DIR="$APPLY_WORKDIR/terraform-data"
  tf_init "$EXAMPLE_DIR"

  local scale_status_zip drain_hook_zip
  scale_status_zip="$(lambda_zip scale-status)"
  drain_hook_zip="$(lambda_zip drain-hook)"
  log "apply: Lambda packages: $(rel "$scale_status_zip"), $(rel "$drain_hook_zip")"
  APPLY_VARS=(-var "region=$REGION" -var "scale_status_zip=$scale_status_zip" -var "drain_hook_zip=$drain_hook_zip"
    -var "blue={ image_id = \"$EMULATOR_IMAGE_ID\" }")

  log "apply: terraform apply $(rel "$EXAMPLE_DIR")"
  APPLY_STARTED=1
  if ! "$TERRAFORM" -chdir="$EXAMPLE_DIR" apply -auto-approve -input=false -no-color "${APPLY_VARS[@]}" >"$APPLY_WORKDIR/apply.log" 2>&1; then
    tail -n 60 "$APPLY_WORKDIR/apply.log" >&2
    die "terraform apply failed (full log: $APPLY_WORKDIR/apply.log)"
  fi
  grep -E '^Apply complete' "$APPLY_WORKDIR/apply.log" >&2 || true

  if [[ -z "${APPLY_THEN:-}" ]]; then
    log "apply: resources created (terraform state list, data sources left out)"
    "$TERRAFORM" -chdir="$EXAMPLE_DIR" state list | grep -Ev '(^|\.)data\.' | sed 's/^/  /'
  fi

  log "apply: checking them in the emulator"
  quietly_for_the_demo check_created_resources || die "the emulator does not hold what the example should have created"

  log "apply: a plan after the autoscaler moved blue's desired capacity must not move it back"
  quietly_for_the_demo check_keeps_desired_capacity || die "a plan would undo the autoscaler's desired capacity"

  if [[ -n "${APPLY_THEN:-}" ]]; then
    log "apply: running APPLY_THEN against the applied example"
    AWS_ENDPOINT_URL="$ENDPOINT" TERRAFORM="$TERRAFORM" bash -c "$APPLY_THEN" || die "APPLY_THEN failed: $APPLY_THEN"
  fi

  log "apply: terraform destroy"
  if ! "$TERRAFORM" -chdir="$EXAMPLE_DIR" destroy -auto-approve -input=false -no-color "${APPLY_VARS[@]}" >"$APPLY_WORKDIR/destroy.log" 2>&1; then
    DESTROYED=1 # do not retry in the trap
    tail -n 40 "$APPLY_WORKDIR/destroy.log" >&2
    die "terraform destroy failed (full log: $APPLY_WORKDIR/destroy.log)"
  fi
  DESTROYED=1
  grep -E '^Destroy complete' "$APPLY_WORKDIR/destroy.log" >&2 || true

  log "apply: checking that the emulator holds none of it any more"
  check_destroyed || die "terraform destroy left resources in the emulator"
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

main() {
  [[ $# -eq 1 ]] || usage
  case "$1" in
  fmt) step_fmt ;;
  validate) step_validate ;;
  test) step_test ;;
  checkov) step_checkov ;;
  # A subshell, so its EXIT trap (destroy, stop the emulator) fires when the step ends, whatever happens.
  apply) (step_apply) ;;
  all)
    step_fmt
    step_validate
    step_test
    step_checkov
    (step_apply)
    ;;
  -h | --help | help) usage ;;
  *) usage ;;
  esac
  log "$1: passed"
}

main "$@"
