"""Helpers shared by the benchmark suite (benchmarks/suite.py): machine and version records,
an xlprune config composed like the CLI composes it, a synthetic job, interleaved repetitions
that keep every raw value, and atomic writes."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = Path(os.environ.get("XLPRUNE_BENCH_DATA", "/work/shared/data"))
# What the Makefile sets for jobs: no hub is reachable, so nothing waits on retries.
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "WANDB_SILENT": "true"}


def write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)  # mkstemp's 0600 would outlive the rename
    os.replace(tmp, path)


def write_json_atomic(path: Path, payload: dict) -> None:
    write_text_atomic(path, json.dumps(payload, indent=2) + "\n")


def machine() -> dict:
    import torch

    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in (
        "torch",
        "transformers",
        "pytorch_lightning",
        "tokenizers",
        "datasets",
        "hydra-core",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def run_rounds(
    fns: dict[str, Callable[[], dict]],
    rounds: int,
    warmup: Callable[[], object] | None = None,
    budget_s: float | None = None,
) -> dict[str, list[dict]]:
    """Call every function once per round, the order reversed every other round, so drift on
    a shared machine hits all variants alike. Each call returns a dict of measurements; all
    are kept (raw values go into results.json). With `budget_s`, no round starts once that
    many seconds have passed (two rounds at least)."""
    if warmup is not None:
        warmup()
    names = list(fns)
    out: dict[str, list[dict]] = {n: [] for n in names}
    t0 = time.perf_counter()
    for r in range(rounds):
        if budget_s is not None and r >= 2 and time.perf_counter() - t0 > budget_s:
            break
        for name in names if r % 2 == 0 else reversed(names):
            out[name].append(fns[name]())
    return out


def median(values) -> float:
    return statistics.median(list(values))


def timed_call(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def compose(overrides: list[str]):
    """The job config exactly as `python -m xlprune <overrides>` would compose it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from xlprune.config.paths import config_dir

    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        return hydra_compose("config", overrides=overrides)


def make_job(cfg, langs: list[str]):
    """A finetune.Job as run.run builds it (data loaded through the configured source)."""
    from hydra.utils import instantiate

    from xlprune.data.corpus import load_corpus, make_source
    from xlprune.infra.store import Store
    from xlprune.job.context import Job

    spec, data = instantiate(cfg.model), make_source(cfg.data)
    corpus = load_corpus(cfg, data, langs, [])
    texts = [" ".join(words) for lang in langs for words, _ in corpus.splits["train"][lang]]
    return Job(cfg, spec, corpus.labels, texts, Store(cfg.cache_dir), corpus.splits, {})


def quiet() -> None:
    """Lightning's banners and known-harmless warnings off, as in a job."""
    import logging
    import warnings

    from xlprune.job.run import quiet_lightning

    quiet_lightning()
    for name in ("pytorch_lightning", "lightning.fabric", "xlprune"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*num_workers.*")
    warnings.filterwarnings("ignore", message=".*deterministic.*")


def python() -> str:
    return sys.executable
