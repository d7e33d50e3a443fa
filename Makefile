# Every target creates .venv when it is missing and installs what it needs,
# so a fresh machine with only python3 and make can run it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-fast bench campaign lint typecheck clean fuzz

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

# The long simulator campaign (docs/consensus.md): SEEDS per size, resumable from the
# journal, progress on stderr. About 30 CPU-hours at the default size.
SEEDS ?= 34000
campaign: $(VENV)/.installed-base
	$(PY) -m timecoin_core.sim.campaign --sizes 4,7,10 --seeds $(SEEDS) --journal campaign.jsonl

clean:
	rm -rf $(VENV) build dist .mypy_cache .pytest_cache .ruff_cache .hypothesis

# Every wire decoder and a session's receive_data, 1,000,000 inputs each (seeded,
# structure-aware mutator; FUZZ_ARGS="--engine atheris --targets TX" for atheris).
FUZZ_ARGS ?= --iterations 1000000
fuzz: $(VENV)/.installed-dev
	$(PY) benchmarks/fuzz_wire.py $(FUZZ_ARGS)
