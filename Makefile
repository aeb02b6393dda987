# Two entry points for a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LABD := $(VENV)/bin/labd
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: demo test real-parts bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	touch $(BENCH_STAMP)

# The main job on the simulated lab, with embedded defaults: no broker or database needed.
demo: $(STAMP)
	$(LABD) run thermometer-calibration --simulate --answers config/demo-answers.toml --out demo-output --records demo-output/labd.sqlite

# Mosquitto and VictoriaMetrics are the real parts the daemon tests talk to.
real-parts:
	bash tests/install-real-parts.sh

# The suite, then the software-validation report of calc (the lab's validation SOP).
test: $(STAMP) real-parts
	$(PY) -m pytest
	$(LABD) validate --out validation-report

bench: $(BENCH_STAMP)
	$(PY) bench/drivers_roundtrip.py
	$(PY) bench/calc_speed.py
	bash tests/install-real-parts.sh
	$(PY) bench/daemon_throughput.py

clean:
	rm -rf $(VENV) demo-output validation-report .pytest_cache .hypothesis
