# virakcloud.everest — developer entry points. Every target installs what it needs (`venv`).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SANDBOX_DIR ?= .sandbox
PYTEST_ARGS ?= -q -n 2 --durations=15
RUFF_PATHS := plugins tests bench
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: help venv test pytest units sandbox-tests integration molecule lint format sanity build changelog \
        sandbox-start sandbox-stop sandbox-status demo bench clean

help:
	@echo "make demo            bootstrap example tenants into a local sandbox (idempotency and check mode shown)"
	@echo "make test            the whole test suite: pytest (units, sandbox, integration), molecule, lint, sanity, build"
	@echo "make units | sandbox-tests | integration | molecule | lint | sanity | build"
	@echo "make format          apply ruff's formatter (make lint checks it)"
	@echo "make sandbox-start | sandbox-stop | sandbox-status   (writes $(SANDBOX_DIR)/env)"
	@echo "make bench           benchmarks against the sandbox (bench/results/latest.json)"

venv: $(STAMP)

$(STAMP): requirements.txt test-requirements.txt
	@if ! $(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then \
	  echo "Python >= 3.11 is needed for ansible-core 2.19 (set PYTHON=/path/to/python3.11)"; exit 1; fi
	@if ! $(PYTHON) -m venv --help >/dev/null 2>&1; then \
	  echo "installing python3-venv"; apt-get update -qq && apt-get install -y -qq python3-venv; fi
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt -r test-requirements.txt
	mkdir -p $(VENV)/collections/ansible_collections/virakcloud
	ln -sfn ../../../.. $(VENV)/collections/ansible_collections/virakcloud/everest
	touch $(STAMP)

# The whole suite, as CI runs it (.ci/run).
test: venv pytest molecule lint sanity build
	@echo "make test: all gates passed"

# One pytest session for units, sandbox fidelity and integration tests (they share one sandbox).
pytest: venv
	$(PY) -m pytest tests/unit tests/sandbox_tests tests/integration $(PYTEST_ARGS)

units: venv
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

sandbox-tests: venv
	$(PY) -m pytest tests/sandbox_tests $(PYTEST_ARGS)

integration: venv
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

molecule: venv
	@if [ -d extensions/molecule ] && ls extensions/molecule/*/molecule.yml >/dev/null 2>&1; then \
	  cd extensions && PATH=$(CURDIR)/$(VENV)/bin:$$PATH ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/$(VENV)/collections \
	    $(CURDIR)/$(VENV)/bin/molecule test --all; \
	else echo "molecule: no scenario yet"; fi

# Python: ruff's formatter and linter (ruff.toml), then ansible-lint for the role, playbooks and metadata.
lint: venv
	$(VENV)/bin/ruff format --check $(RUFF_PATHS)
	$(VENV)/bin/ruff check $(RUFF_PATHS)
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/$(VENV)/collections $(VENV)/bin/ansible-lint

format: venv
	$(VENV)/bin/ruff format $(RUFF_PATHS)

sanity: venv
	PY=$(CURDIR)/$(PY) tests/sanity/run.sh

build: venv
	rm -rf tests/output/build && mkdir -p tests/output/build
	$(VENV)/bin/ansible-galaxy collection build --force --output-path tests/output/build .
	$(VENV)/bin/ansible-galaxy collection install --force -p tests/output/build/install tests/output/build/virakcloud-everest-*.tar.gz
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/tests/output/build/install $(VENV)/bin/ansible-doc -t module -l virakcloud.everest \
	  | tee tests/output/build/modules.txt
	@test -s tests/output/build/modules.txt

changelog: venv
	$(VENV)/bin/antsibull-changelog lint

sandbox-start: venv
	PYTHONPATH=tests/sandbox $(PY) -m everest_sandbox start --dir $(SANDBOX_DIR)
	@echo "source $(SANDBOX_DIR)/env to use it"

sandbox-stop: venv
	PYTHONPATH=tests/sandbox $(PY) -m everest_sandbox stop --dir $(SANDBOX_DIR)

sandbox-status: venv
	PYTHONPATH=tests/sandbox $(PY) -m everest_sandbox status --dir $(SANDBOX_DIR)

demo: venv
	PY=$(CURDIR)/$(PY) SANDBOX_DIR=$(SANDBOX_DIR) bash scripts/demo.sh

bench: venv
	PY=$(CURDIR)/$(PY) bash bench/run.sh

clean:
	rm -rf tests/output .pytest_cache .hypothesis
