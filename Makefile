# Two entry points for a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LABD := $(VENV)/bin/labd
STAMP := $(VENV)/.installed
PIP := $(PY) -m pip --disable-pip-version-check --quiet

.PHONY: demo test real-parts typecheck bench lock clean

# The exact versions of requirements.lock, then labd itself (editable: the tests import the installed package).
$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements.lock
	$(PIP) install --no-deps -e .
	touch $(STAMP)

# The main job on the simulated lab, with embedded defaults: no broker or database needed.
demo: $(STAMP)
	$(LABD) run thermometer-calibration --simulate --answers config/demo-answers.toml --out demo-output --records demo-output/labd.sqlite \
	  --param customer="PT Contoh Sejahtera" --param customer_address="Jl. Pahlawan No. 10, Samarinda" \
	  --param work_order=WO-2026-0417 --param received=$$(date +%F) --param uut_manufacturer="Contoh Instruments" \
	  --param uut_model="PT100-4W" --param uut_condition="good, no visible damage"

# Mosquitto, VictoriaMetrics, Chromium and the rest that the tests talk to.
real-parts:
	bash tests/install-real-parts.sh

# The suite, then the software-validation report of calc (the lab's validation SOP).
test: $(STAMP) real-parts
	$(PY) -m pytest
	$(LABD) validate --out validation-report

typecheck: $(STAMP)
	rm -rf build/typecheck && mkdir -p build/typecheck/labd
	for f in labd/*.py labd/py.typed; do ln -s ../../../$$f build/typecheck/labd/; done
	for d in daemon drivers procedures calc simulators config; do ln -s ../../../$$d build/typecheck/labd/$$d; done
	cd build/typecheck && ../../$(PY) -m mypy --config-file ../../pyproject.toml -p labd

bench: $(STAMP) real-parts
	$(PY) bench/drivers_roundtrip.py
	$(PY) bench/calc_speed.py
	$(PY) bench/daemon_throughput.py

# A new lock from the ranges in pyproject.toml, made in a fresh environment. Test and validate before committing.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --disable-pip-version-check '.[test,bench]'
	{ head -2 requirements.lock; .lock-venv/bin/pip freeze --exclude-editable | grep -v '^labd' | sort -f; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .lock-venv

clean:
	rm -rf $(VENV) demo-output validation-report .pytest_cache .hypothesis .mypy_cache
