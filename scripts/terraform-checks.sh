#!/usr/bin/env bash
# Checks for the Terraform under terraform/.
#
#   scripts/terraform-checks.sh fmt       terraform fmt -check over terraform/
#   scripts/terraform-checks.sh validate  init + validate every module and the example
#   scripts/terraform-checks.sh test      terraform test (mock provider, plan level) in every module and the example
#   scripts/terraform-checks.sh checkov   checkov over terraform/, 0 failed checks expected
#   scripts/terraform-checks.sh apply     start the AWS emulator, then against it: the example's emulator test
#                                         (terraform test -test-directory=tests/emulator: apply, assert, destroy)
#                                         and tests/terraform/test_apply.py (alarm wiring of both colours, a plan
#                                         after an out-of-band change, APPLY_THEN, nothing left after destroy)
#   scripts/terraform-checks.sh all       all of the above, in that order
#
# Tools come from the environment, with fallbacks:
#   TERRAFORM         terraform binary (default: terraform on PATH)
#   TF_PLUGIN_DIR     provider mirror passed to `terraform init -plugin-dir` (default: discovered; none = registry)
#   CHECKOV           checkov binary (default: installed from tools/requirements-checkov.txt into .venv-checkov)
#   PYTHON            python with boto3 and moto, for the emulator and test_apply.py (default: .venv/bin/python)
#   AWS_ENDPOINT_URL  an AWS emulator that is already running; without it `apply` starts tests/aws-emulator/emulator.py
#   APPLY_THEN        a command test_apply.py runs after its checks and before destroy, with AWS_ENDPOINT_URL set and
#                     `terraform output` working (how `make demo` runs its story against what Terraform built)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TF_ROOT="$ROOT/terraform"
EXAMPLE_DIR="$TF_ROOT/examples/complete"
MODULE_DIRS=(
  "$TF_ROOT/modules/_lambda"
  "$TF_ROOT/modules/ecs-cluster-blue-green"
  "$TF_ROOT/modules/scale-status"
  "$TF_ROOT/modules/drain-hook"
  "$TF_ROOT/modules/dashboard"
)
EMULATOR="$ROOT/tests/aws-emulator/emulator.py"
APPLY_TEST="$ROOT/tests/terraform/test_apply.py"
TERMINATION_STAND_IN="$ROOT/tests/terraform/termination_stand_in.py"
# The example's drain-hook function (cluster "default"), in the emulator's region and account: both groups ask it
# which instances a scale-in removes, and the emulator, which never runs it, needs an endpoint to ask.
EXAMPLE_DRAIN_HOOK_ARN="arn:aws:lambda:us-east-1:123456789012:function:default-drain-hook"
CHECKOV_REQUIREMENTS="$ROOT/tools/requirements-checkov.txt"
CHECKOV_VENV="$ROOT/.venv-checkov"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"

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

# terraform init -backend=false in $1 (extra init flags follow); output is shown only when it fails.
tf_init() {
  local dir="$1" output
  shift
  resolve_plugin_dir
  local args=(-input=false -no-color -backend=false "$@")
  [[ -n "$PLUGIN_DIR" ]] && args+=("-plugin-dir=$PLUGIN_DIR")
  if ! output="$("$TERRAFORM" -chdir="$dir" init "${args[@]}" 2>&1)"; then
    printf '%s\n' "$output" >&2
    die "terraform init failed in $(rel "$dir")"
  fi
}

step_fmt() {
  log "fmt: terraform fmt -check -recursive $(rel "$TF_ROOT")"
  "$TERRAFORM" fmt -check -recursive -diff "$TF_ROOT" || die "files above are not formatted: run terraform fmt -recursive terraform/"
}

step_validate() {
  local dir
  for dir in "${MODULE_DIRS[@]}" "$EXAMPLE_DIR"; do
    log "validate: $(rel "$dir")"
    tf_init "$dir"
    "$TERRAFORM" -chdir="$dir" validate -no-color || die "terraform validate failed in $(rel "$dir")"
  done
}

step_test() {
  local dir
  for dir in "${MODULE_DIRS[@]}" "$EXAMPLE_DIR"; do
    compgen -G "$dir/tests/*.tftest.hcl" >/dev/null || continue
    log "test: $(rel "$dir")"
    tf_init "$dir"
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
    command -v python3 >/dev/null || die "python3 not found: needed to install checkov (or set CHECKOV)"
    log "checkov: installing $(rel "$CHECKOV_REQUIREMENTS") into $(rel "$CHECKOV_VENV")"
    [[ -x "$CHECKOV_VENV/bin/pip" ]] || python3 -m venv "$CHECKOV_VENV"
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
  "$CHECKOV" --directory "$TF_ROOT" --framework terraform --skip-download --quiet --compact --skip-path '/\.terraform/' ||
    die "checkov found failed checks (above): fix them, or skip inline with #checkov:skip=CKV_...:<reason>"
}

# ---------------------------------------------------------------------------------------------------------------
# apply: the example against the AWS emulator
# ---------------------------------------------------------------------------------------------------------------

EMULATOR_DIR=""
EMULATOR_PID=""
EMULATOR_STDIN=""

# Started with --exit-with-stdin, its stdin a fifo this shell holds open: it stops when stop_emulator closes it,
# or when this shell dies, however it dies.
start_emulator() {
  EMULATOR_DIR="$(mktemp -d "${TMPDIR:-/tmp}/ecs-scaler-emulator.XXXXXX")"
  mkfifo "$EMULATOR_DIR/stdin"
  exec {EMULATOR_STDIN}<>"$EMULATOR_DIR/stdin"
  log "apply: starting $(rel "$EMULATOR")"
  # moto loads AWS managed IAM policies only when asked; the example attaches two of them.
  MOTO_IAM_LOAD_MANAGED_POLICIES=true "$PYTHON" "$EMULATOR" --port 0 --exit-with-stdin <"$EMULATOR_DIR/stdin" \
    >"$EMULATOR_DIR/url" 2>"$EMULATOR_DIR/log" {EMULATOR_STDIN}>&- &
  EMULATOR_PID=$!
  # It prints its URL once it accepts connections.
  for _ in $(seq 1 600); do
    [[ -s "$EMULATOR_DIR/url" ]] && break
    kill -0 "$EMULATOR_PID" 2>/dev/null || die "the emulator exited before printing its URL"
    sleep 0.1
  done
  ENDPOINT="$(head -n 1 "$EMULATOR_DIR/url" | tr -d '[:space:]')"
  [[ "$ENDPOINT" == http* ]] || die "the emulator printed no URL within 60 s"
  log "apply: emulator (pid $EMULATOR_PID) at $ENDPOINT"
}

stop_emulator() {
  local status=$?
  if [[ -n "$EMULATOR_PID" ]]; then
    exec {EMULATOR_STDIN}>&-
    for signal in 0 TERM KILL; do
      [[ "$signal" == 0 ]] || kill -"$signal" "$EMULATOR_PID" 2>/dev/null || true
      for _ in $(seq 1 50); do
        kill -0 "$EMULATOR_PID" 2>/dev/null || break 2
        sleep 0.1
      done
    done
    wait "$EMULATOR_PID" 2>/dev/null || true
    log "apply: emulator stopped"
    if ((status != 0)) && [[ -s "$EMULATOR_DIR/log" ]]; then
      printf '\n--- last lines of the emulator log ---\n' >&2
      tail -n 30 "$EMULATOR_DIR/log" >&2
    fi
  fi
  [[ -n "$EMULATOR_DIR" ]] && rm -rf "$EMULATOR_DIR"
  exit "$status"
}

# `make demo` (APPLY_THEN) tells a story: there the emulator test's output goes to a file, shown only if it fails.
quietly_for_the_demo() {
  if [[ -z "${APPLY_THEN:-}" ]]; then
    "$@"
    return
  fi
  local output
  if ! output="$("$@" 2>&1)"; then
    printf '%s\n' "$output" >&2
    return 1
  fi
  printf '%s\n' "$output" | grep -E '^(Success|Failure)!' >&2 || true
}

step_apply() {
  [[ -x "$PYTHON" ]] || die "python not found at $PYTHON: run make venv (it creates .venv with boto3 and moto), or set PYTHON"
  "$PYTHON" -c 'import boto3' 2>/dev/null || die "$PYTHON has no boto3"
  trap stop_emulator EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  if [[ -n "${AWS_ENDPOINT_URL:-}" ]]; then
    ENDPOINT="$AWS_ENDPOINT_URL"
    log "apply: using the emulator at AWS_ENDPOINT_URL=$ENDPOINT (it needs MOTO_IAM_LOAD_MANAGED_POLICIES=true)"
  else
    start_emulator
  fi
  # Credentials and settings of a real account must not leak into the emulator run.
  unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY

  log "apply: terraform test -test-directory=tests/emulator in $(rel "$EXAMPLE_DIR")"
  tf_init "$EXAMPLE_DIR" -test-directory=tests/emulator
  # The quotes belong to the value: a variable the configuration does not declare is read as an expression.
  # The groups' custom termination policy is the drain-hook function; a stand-in answers for it with Auto Scaling's
  # own suggestion while the test runs, or the destroy could never empty the groups.
  quietly_for_the_demo "$PYTHON" "$TERMINATION_STAND_IN" --endpoint "$ENDPOINT" --function "$EXAMPLE_DRAIN_HOOK_ARN" -- \
    "$TERRAFORM" -chdir="$EXAMPLE_DIR" test -no-color -test-directory=tests/emulator \
    -var "endpoint=\"$ENDPOINT\"" || die "the example's emulator test failed"

  # An emulator of our own starts the Python test from scratch (no lifecycle notifications left over).
  if [[ -n "$EMULATOR_PID" ]]; then
    "$PYTHON" -c 'import sys, urllib.request as u; u.urlopen(u.Request(sys.argv[1] + "/_emulator/reset", method="POST"), timeout=10)' "$ENDPOINT"
  fi

  log "apply: $(rel "$APPLY_TEST")"
  local verbosity=-v
  [[ -n "${APPLY_THEN:-}" ]] && verbosity=-q
  AWS_ENDPOINT_URL="$ENDPOINT" TERRAFORM="$TERRAFORM" TF_PLUGIN_DIR="$PLUGIN_DIR" "$PYTHON" "$APPLY_TEST" "$verbosity" ||
    die "$(rel "$APPLY_TEST") failed"
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
  # A subshell, so its EXIT trap (stop the emulator) fires when the step ends, whatever happens.
  apply) (step_apply) ;;
  all)
    step_fmt
    step_validate
    step_test
    step_checkov
    (step_apply)
    ;;
  *) usage ;;
  esac
  log "$1: passed"
}

main "$@"
