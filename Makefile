# vmops.datacenter — developer entry points. Everything runs from the project's own .venv.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAGED := .tmp/test/ansible_collections/vmops/datacenter
TEST_PYTHON := 3.11
LAB_DIR ?= .lab
JOBS ?= 2
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.tmp/collections
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help venv demo test sanity lint docs docs-lint units simulator-tests integration bench lab-start lab-stop changelog ee clean

help:
	@echo "make demo   - set up .venv, start the simulated lab, run every runbook against it, stop the lab"
	@echo "make test   - sanity, ansible-lint (production), unit and integration tests"
	@echo "make bench  - request counts, wall time and peer comparisons (benchmarks/)"

$(VENV)/.installed: requirements-dev.txt requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed
	@$(PY) tests/harness/stage_collection.py link >/dev/null

demo: venv
	@$(PY) tests/harness/demo.py --lab-dir $(LAB_DIR)

sanity: venv
	@$(PY) tests/harness/stage_collection.py get-pip >/dev/null
	@$(PY) tests/harness/stage_collection.py copy >/dev/null
	cd $(STAGED) && $(CURDIR)/$(BIN)/ansible-test sanity --venv --python $(TEST_PYTHON) --color no

lint: venv
	$(BIN)/ansible-lint --profile production --offline roles playbooks
	$(BIN)/ruff check simulators benchmarks tests plugins

# The documentation site (hand-written docs/*.rst, the antsibull-docs reference, release notes) in .tmp/docs/html.
docs: venv
	$(PY) tests/harness/docs.py build

# The site built with warnings as errors, plus the plugin docs' markup and references and the changelog.
docs-lint: venv
	$(PY) tests/harness/docs.py lint

units: venv
	@$(PY) tests/harness/stage_collection.py get-pip >/dev/null
	@$(PY) tests/harness/stage_collection.py copy >/dev/null
	cd $(STAGED) && $(CURDIR)/$(BIN)/ansible-test units --venv --python $(TEST_PYTHON) --color no

simulator-tests: venv
	$(BIN)/pytest -q -n $(JOBS) simulators/tests

integration: venv
	$(BIN)/pytest -q -n $(JOBS) tests/integration

test: sanity lint docs-lint units simulator-tests integration

bench: venv
	$(PY) -m benchmarks

lab-start: venv
	$(PY) -m simulators.lab start --lab-dir $(LAB_DIR)

lab-stop: venv
	$(PY) -m simulators.lab stop --lab-dir $(LAB_DIR)

changelog: venv
	$(BIN)/antsibull-changelog lint

# Collection tarball plus the execution environment's build context (.tmp/ee/context);
# then: podman build -t vmops-datacenter-ee .tmp/ee/context
ee: venv
	rm -rf .tmp/ee && mkdir -p .tmp/ee/dist
	$(BIN)/ansible-galaxy collection build --output-path .tmp/ee/dist
	$(BIN)/ansible-builder create --file execution-environment.yml --context .tmp/ee/context --output-filename Containerfile

clean:
	rm -rf .tmp $(LAB_DIR) tests/output .pytest_cache .ruff_cache
