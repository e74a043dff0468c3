# Two targets a new user needs on a fresh machine that has only python3:
#   make run    set up .venv, install labellake, check the home and run the demo batch
#   make test   set up .venv with the test and benchmark dependencies, lint with ruff, run pytest
# and for the inner loop, `make test-fast` (no browser, moto-server or slow tests).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Tests never reach a real cloud endpoint: dummy credentials, no instance metadata.
TEST_ENV := AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing \
	AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null \
	AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PROFILE= HF_HUB_OFFLINE=1 \
	AWS_ENDPOINT_URL=http://127.0.0.1:9

.PHONY: run test test-fast lint install install-dev labelstudio clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

# The Label Studio server the labelstudio tests and benchmark run against, in its own
# virtualenv: it pins older numpy and pyarrow than labellake needs.
LABEL_STUDIO_VERSION := 1.23.2
LS_VENV ?= .venv-labelstudio

$(LS_VENV)/.installed-$(LABEL_STUDIO_VERSION):
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LS_VENV)/bin/python -m pip install --quiet 'label-studio==$(LABEL_STUDIO_VERSION)'
	touch $@

labelstudio: $(LS_VENV)/.installed-$(LABEL_STUDIO_VERSION)

install-dev: $(VENV)/.installed-dev

# The main job on the embedded default: check the home, make sure it holds a finished
# demo batch (sample clips, 4 jobs over 2 levels, simulated workforce), then serve the
# portal (http://127.0.0.1:8501) and the API until Ctrl-C.
run: install
	$(BIN)/labellake doctor
	$(BIN)/labellake demo --if-empty --history 3
	$(BIN)/labellake up

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint labelstudio
	$(TEST_ENV) $(BIN)/python -m pytest

# The inner loop: everything but the browser, moto-server and slow tests.
test-fast: install-dev
	$(TEST_ENV) $(BIN)/python -m pytest -m "not browser and not aws and not slow and not labelstudio"

clean:
	rm -rf $(VENV) $(LS_VENV) .pytest_cache .ruff_cache .hypothesis
