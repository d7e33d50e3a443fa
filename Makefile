# Every target creates .venv when it is missing and installs what it needs,
# so a fresh machine with only python3 and make can run it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-fast bench lint typecheck clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed-base: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[nacl,net]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[nacl,net,dev]'
	touch $@ $(VENV)/.installed-base

demo: $(VENV)/.installed-base
	$(PY) examples/demo.py

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .

typecheck: $(VENV)/.installed-dev
	$(PY) -m mypy

test: $(VENV)/.installed-dev
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest -q

# The quick lane: skips tests marked slow (the 200-seed simulator run, the SIGKILL
# crash test, ...) and runs hypothesis with few examples. `make test` keeps everything.
test-fast: $(VENV)/.installed-dev
	HYPOTHESIS_PROFILE=dev $(PY) -m pytest -q -m "not slow"

bench: $(VENV)/.installed-dev
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) build dist .mypy_cache .pytest_cache .ruff_cache .hypothesis
