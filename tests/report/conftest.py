"""One real sweep for the whole report suite (run once, through the CLI, as a user runs it),
plus two in-process jobs it lacks: a masked curve and a random-ranking control."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.helpers.jobs import FAST, cli, run_job

# conf/config.yaml wires the progress callback; this keeps the tests explicit about it.
PROGRESS = "hydra.callbacks.progress._target_=xlprune.sweep.progress.SweepProgress"
SMALL = ["data.sizes.dev=48", "data.sizes.test=48"]  # quicker ranking and mask passes
GRID = [
    "model=tiny_bert",
    "task=pos",
    "source=[en],[de]",
    "targets=[es]",
    "setting=cross,multi",
    "pruning.count=0,2",
]


def run_sweep(cwd: Path, *overrides: str) -> SimpleNamespace:
    cwd.mkdir(parents=True, exist_ok=True)
    done = cli([*overrides, "-m"], cwd=cwd, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (sweep_dir,) = cwd.glob("multirun/*/*")
    return SimpleNamespace(dir=sweep_dir, stdout=done.stdout, cwd=cwd)


@pytest.fixture(scope="session")
def sweep(tmp_path_factory, _cache) -> SimpleNamespace:
    """8 jobs: 2 sources x 2 settings x k in {0, 2}; 2 ranking fine-tunes."""
    return run_sweep(tmp_path_factory.mktemp("sweep"), *FAST, *SMALL, *GRID, PROGRESS)


@pytest.fixture(scope="session")
def extra_jobs(tmp_path_factory, sweep) -> Path:
    """A masked curve and a random-ranking control, run in-process (no .hydra/ folder)."""
    root = tmp_path_factory.mktemp("extra")
    common = [*FAST, *SMALL, "model=tiny_bert", "task=pos", "source=[en]", "targets=[es]"]
    run_job([*common, "pruning.mode=mask", "pruning.max_k=2"], root / "mask")
    run_job([*common, "ranking=random", "pruning.count=2"], root / "random")
    return root


@pytest.fixture(scope="session")
def wandb_sweep(tmp_path_factory, sweep) -> SimpleNamespace:
    """2 jobs with the W&B logger (offline); the ranking comes from the first sweep's store."""
    grid = ["model=tiny_bert", "task=pos", "source=[en]", "targets=[es]", "pruning.count=0,2"]
    return run_sweep(tmp_path_factory.mktemp("wandb"), "+debug=fast", "logger=wandb", *SMALL, *grid)
