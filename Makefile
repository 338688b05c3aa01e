# Two commands set everything up on a fresh clone: `make demo` and `make test`.
# Both create (or reuse) .venv inside the clone: torch first, at the pinned CPU build that
# these machines carry, then everything else under constraints.txt so nothing replaces it.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TORCH := torch==2.13.0
# No model or dataset hub is reachable on the demo's embedded data: never wait on retries.
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 WANDB_SILENT=true

.PHONY: setup demo test lint format bench bench-guided clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check $(TORCH)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev,e5]'
	touch $(STAMP)

demo: $(STAMP)
	$(OFFLINE) $(PY) -m xlprune +experiment=demo -m

# Two test processes (pytest-xdist), each file's tests in one of them (module fixtures are
# built once): half the suite waits on subprocesses, SLURM polls and timeouts, not the CPU.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(OFFLINE) $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/ruff check src tests benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

# The whole suite (benchmarks/suite.py, ~10 min on 2 cores): results.json, results.md and
# the table; bench_heads.py runs inside it. `make bench BENCH_ARGS=--quick` for a smoke run.
BENCH_ARGS ?=
bench: $(STAMP)
	$(OFFLINE) $(PY) benchmarks/suite.py $(BENCH_ARGS)

# pruning.mode=guided against the full search on the demo's 16 cells x 3 seeds (~35 min here;
# the e5 cell needs `bash benchmarks/real_model.sh retrained guided` first)
bench-guided: $(STAMP)
	$(OFFLINE) $(PY) benchmarks/bench_guided.py

clean:
	rm -rf $(VENV) outputs multirun/*/ .pytest_cache
