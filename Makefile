# ecs-scaler: every target works from a clean clone; tools install into project-local virtualenvs.
#   make demo    the whole system against a local AWS emulator
#   make test    everything CI runs
.DEFAULT_GOAL := help
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON_BOOTSTRAP ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
LAMBDAS := scale-status drain-hook
ZIPS := $(foreach f,$(LAMBDAS),target/lambda/$(f)/bootstrap.zip)
# cargo-lambda and zig live in the venv; tests find the emulator's python there.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ECS_SCALER_PYTHON := $(CURDIR)/$(PY)
export CARGO_TERM_COLOR ?= never

.PHONY: help venv build package check-glibc lint fmt test test-rust test-packaged test-emulator test-terraform bench simulate simulate-tight sweep demo clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

venv: $(VENV)/.installed ## install the Python tools (emulator, cargo-lambda, zig) into .venv

$(VENV)/.installed: tools/requirements.txt
	$(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r tools/requirements.txt
	touch $@

build: package ## alias of package

package: venv ## build the Lambda zips with cargo lambda (target/lambda/<fn>/bootstrap.zip)
	cargo lambda build --release --output-format zip $(foreach f,$(LAMBDAS),--bin $(f))

check-glibc: ## fail unless the zips run on provided.al2023 (glibc <= 2.34)
	scripts/check-glibc.sh $(ZIPS)

fmt: ## format Rust and Terraform
	cargo fmt --all
	terraform fmt -recursive terraform

lint: ## rustfmt, clippy (warnings are errors), terraform fmt
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	scripts/terraform-checks.sh fmt

test-rust: venv ## unit, SDK-mock and emulator end-to-end tests
	cargo test --workspace

test-packaged: venv package ## the Lambda zips' bootstraps under a Runtime API against the emulator (fails without zips)
	ECS_SCALER_PACKAGED=1 cargo test -p ecs-scaler-local --test packaged

test-emulator: venv ## the emulator's own tests
	$(PY) -m unittest discover -s tests/aws-emulator

test-terraform: venv package ## terraform validate, test, checkov, and apply/destroy against the emulator
	scripts/terraform-checks.sh validate
	scripts/terraform-checks.sh test
	scripts/terraform-checks.sh checkov
	scripts/terraform-checks.sh apply

test: lint package check-glibc test-rust test-packaged test-emulator test-terraform ## everything CI runs

bench: venv package ## cold start, memory, zip size, AWS calls per tick; simulator speed; ECS calls per bucket at 1-300 clusters
	cargo run --quiet -p ecs-scaler-local --bin bench
	cargo run --quiet --release -p ecs-scaler-sim --example bench
	cargo run --quiet --release -p ecs-scaler-local --bin api-budget

simulate: ## every built-in scenario under every policy: table, CSV/JSON and plots in sim-out/
	cargo run --quiet -p ecs-scaler-cli -- simulate --scenario all

sweep: ## ecs-scaler's trade-offs per built-in scenario: consolidate-after, headroom, surplus, disruption budget, memory
	cargo run --quiet --release -p ecs-scaler-sim --example consolidate_sweep

simulate-tight: ## ecs-scaler with max thresholds 95 (the headroom the capacity provider does not keep) on every built-in scenario
	cargo run --quiet -p ecs-scaler-cli -- simulate --scenario all --policy ecs-scaler --cpu 60,95 --memory 60,95 --no-plots --out sim-out/tight

demo: venv package ## the whole system, locally, against the AWS emulator
	cargo build --quiet -p ecs-scaler-local --bin demo
	APPLY_THEN=target/debug/demo scripts/terraform-checks.sh apply

clean: ## remove build output and virtualenvs
	cargo clean
	rm -rf $(VENV) .venv-checkov
