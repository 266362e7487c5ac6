# The two commands (see README.md):
#   make run [DATA=/path/to/UTKFace] [ARGS="--epochs 8"]   the local TFX pipeline (default: a smoke run)
#   make test                                              the whole test suite
#   make test-fast                                         the tests that need no dataset, no browser, no training
# Both create or reuse .venv from the committed lock file.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
DATA ?=
ARGS ?=
PYTEST_ARGS ?=
# pytest-xdist workers; tests/conftest.py keeps each module, and the modules sharing a slow session
# fixture, on one worker (--dist loadgroup), and hands out the slow groups first. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
XDIST := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder)

.PHONY: run test test-fast venv browser lock clean

$(VENV)/.installed: requirements.lock setup.py
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv || pip install --quiet uv
	@test -x $(PY) || uv venv --seed -p "$$(scripts/find-python.sh)" $(VENV)
	uv pip install --python $(PY) -r requirements.lock
	uv pip install --python $(PY) --no-deps -e .
	@touch $@

venv: $(VENV)/.installed

run: venv
	$(VENV)/bin/fdp run local $(if $(DATA),--data $(DATA)) $(ARGS)

# Chromium + chromedriver for the web page's browser test, installed when missing.
browser:
	scripts/ensure-browser.sh

test: venv browser
	$(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

# A couple of minutes: no dataset (FDP_DATASETS may point nowhere), no browser, no pipeline run
# (markers in pytest.ini).
FAST := not datasets and not browser and not training
test-fast: venv
	$(PY) -m pytest $(XDIST) -m "$(FAST)" $(PYTEST_ARGS)

# Re-resolve requirements.in into the lock file (after editing requirements.in).
lock:
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	uv pip compile requirements.in --python-version 3.10 --python-platform x86_64-manylinux_2_28 -o requirements.lock

clean:
	rm -rf $(VENV) fdp_home
