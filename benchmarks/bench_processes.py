"""Whole-process figures: start-up time of the CLI, fine-tunes a sweep runs against a naive
grid, and peak memory (max RSS) of jobs.

Every process runs in a fresh temporary directory with a fresh XLPRUNE_CACHE, offline, so
nothing of the repository or the user's cache is touched or reused.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from itertools import product
from pathlib import Path

from common import OFFLINE_ENV, median, python

COMPOSE = """
from hydra import compose, initialize_config_dir
from xlprune.config.paths import config_dir
with initialize_config_dir(str(config_dir()), version_base="1.3"):
    cfg = compose("config", overrides=["model=tiny_bert", "task=pos"])
assert cfg.model.name == "tiny_bert"
"""
FLOOR = "import torch, transformers, pytorch_lightning, xlprune.job.finetune, xlprune.models.tagger"


# A small launcher between this (large) process and each measured one: a child forked from a
# big process inherits its peak RSS on Linux, so ru_maxrss is read from the launcher's
# RUSAGE_CHILDREN, where only the measured process (and what it waited for) counts.
LAUNCHER = """
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
rc = subprocess.call(sys.argv[2:])
seconds = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
open(sys.argv[1], "w").write(json.dumps({"rc": rc, "seconds": seconds, "max_rss_kb": rss}))
"""


def child(argv: list[str], cwd: Path, extra_env: dict | None = None) -> dict:
    """Run one process; its wall time, exit code, max RSS and, on failure, its output."""
    env = dict(os.environ, **OFFLINE_ENV, XLPRUNE_CACHE=str(cwd / "cache"), **(extra_env or {}))
    stamp = time.monotonic_ns()
    out, report = cwd / f"out-{stamp}.txt", cwd / f"rusage-{stamp}.json"
    with out.open("w") as fh:
        subprocess.run(
            [python(), "-c", LAUNCHER, str(report), *argv],
            cwd=cwd,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            check=False,
        )
    res = json.loads(report.read_text())
    text = out.read_text(errors="replace")
    return {
        "seconds": res["seconds"],
        "rc": res["rc"],
        "max_rss_mb": res["max_rss_kb"] / 1024,  # KiB on Linux
        "tail": text[-1500:] if res["rc"] else "",
    }


# ----------------------------------------------------------------------------------------
# start-up
# ----------------------------------------------------------------------------------------


def bench_startup(quick: bool) -> dict:
    cmds = {
        "python -c pass (floor)": [python(), "-c", "pass"],
        "python -m xlprune --help": [python(), "-m", "xlprune", "--help"],
        "python -m xlprune --cfg job": [python(), "-m", "xlprune", "--cfg", "job"],
        "compose API (python -c)": [python(), "-c", COMPOSE],
    }
    reps = 3 if quick else 7
    raw: dict[str, list[float]] = {k: [] for k in cmds}
    with tempfile.TemporaryDirectory(prefix="xlprune-bench-") as tmp:
        for argv in cmds.values():  # warm the page cache
            child(argv, Path(tmp))
        for r in range(reps):
            for name in cmds if r % 2 == 0 else reversed(list(cmds)):
                res = child(cmds[name], Path(tmp))
                if res["rc"] != 0:
                    raise RuntimeError(f"{name} failed: {res['tail']}")
                raw[name].append(round(res["seconds"], 4))
    floor = median(raw["python -c pass (floor)"])
    rows = {
        name: {
            "median_s": median(ts),
            "over_floor_s": median(ts) - floor,
            "ratio_to_goal_2s": median(ts) / 2.0,
            "goal_met": median(ts) <= 2.0 if "floor" not in name else None,
        }
        for name, ts in raw.items()
    }
    return {"runs": reps, "rows": rows, "raw_s": raw, "goal": "<= 2 s each"}


# ----------------------------------------------------------------------------------------
# sweep efficiency
# ----------------------------------------------------------------------------------------


def xlprune_count(jobs: list[dict]) -> dict:
    """Fine-tunes xlprune runs for a grid: run.plan_fine_tunes per job, plus one ranking
    fine-tune per (model, task, source language) among jobs that remove heads (stored and
    shared by every other job; the store's key also holds seed, recipe and data, equal here).
    """
    from xlprune.job.context import plan_fine_tunes

    runs = sum(len(plan_fine_tunes(j["setting"], j["source"], j["targets"])) for j in jobs)
    rankings = {(j["model"], j["task"], lang) for j in jobs if j["k"] > 0 for lang in j["source"]}
    return {
        "jobs": len(jobs),
        "fine_tunes": runs,
        "ranking_fine_tunes": len(rankings),
        "total": runs + len(rankings),
    }


def naive_count(jobs: list[dict]) -> dict:
    """A naive grid: cross-lingual, one fine-tune per (source, target) pair instead of one per
    source; multi-lingual as xlprune plans it (one per target); every job with k > 0
    fine-tunes its own ranking model."""
    from xlprune.job.context import plan_fine_tunes

    runs = sum(
        len(j["source"]) * len(j["targets"])
        if j["setting"] == "cross"
        else len(plan_fine_tunes(j["setting"], j["source"], j["targets"]))
        for j in jobs
    )
    rankings = sum(len(j["source"]) for j in jobs if j["k"] > 0)
    return {
        "jobs": len(jobs),
        "fine_tunes": runs,
        "ranking_fine_tunes": rankings,
        "total": runs + rankings,
    }


def demo_grid() -> list[dict]:
    """conf/experiment/demo.yaml's sweep."""
    return [
        {"model": m, "task": t, "source": s, "targets": ["es"], "setting": st, "k": k}
        for m, t, s, st, k in product(
            ("tiny_bert", "tiny_xlmr"),
            ("ner", "pos"),
            (["en"], ["de"]),
            ("cross", "multi"),
            (0, 2, 4),
        )
    ]


def paper_grid() -> list[dict]:
    """The paper's protocol: mBERT and XLM-R; NER and POS with sources en, zh, ar and 9
    targets, SF with source en and 9 targets; cross and multi; k = 0..12."""
    paper = ["en", "zh", "ar", "he", "ja", "fa", "de", "nl", "ur"]
    multiatis = ["en", "es", "pt", "de", "fr", "zh", "ja", "hi", "tr"]
    tasks = {
        "ner": (["en", "zh", "ar"], paper),
        "pos": (["en", "zh", "ar"], paper),
        "sf": (["en"], multiatis),
    }
    return [
        {"model": m, "task": t, "source": [s], "targets": targets, "setting": st, "k": k}
        for m in ("mbert", "xlmr")
        for t, (sources, targets) in tasks.items()
        for s in sources
        for st in ("cross", "multi")
        for k in range(13)
    ]


def bench_sweep(quick: bool) -> dict:
    """The real demo sweep (+debug=fast): count what its jobs report."""
    argv = [python(), "-m", "xlprune", "+experiment=demo", "+debug=fast", "logger=none", "-m"]
    with tempfile.TemporaryDirectory(prefix="xlprune-bench-") as tmp:
        res = child(argv, Path(tmp))
        if res["rc"] != 0:
            raise RuntimeError(f"demo sweep failed: {res['tail']}")
        found = sorted(p for p in Path(tmp).rglob("results.json") if "cache" not in p.parts)
        records = [json.loads(p.read_text()) for p in found]
    fine_tunes = sum(r["fine_tunes"] for r in records)
    rankings = sum((r.get("ranking") or {}).get("computed", 0) for r in records)
    jobs = [
        {
            "model": r["model"],
            "task": r["task"],
            "source": r["source"],
            "targets": r["targets"],
            "setting": r["setting"],
            "k": r["prune_count"],
        }
        for r in records
    ]
    measured_total = fine_tunes + rankings
    demo_naive = naive_count(jobs)
    predicted = xlprune_count(demo_grid())
    paper_x, paper_n = xlprune_count(paper_grid()), naive_count(paper_grid())
    return {
        "demo_measured": {
            "command": " ".join(argv[1:]),
            "seconds": res["seconds"],
            "jobs": len(records),
            "fine_tunes": fine_tunes,
            "ranking_fine_tunes": rankings,
            "total": measured_total,
        },
        "demo_analytic_xlprune": predicted,
        "demo_analytic_matches_measured": predicted["total"] == measured_total
        and predicted["jobs"] == len(records),
        "demo_naive": demo_naive,
        "demo_ratio_xlprune_vs_naive": measured_total / demo_naive["total"],
        "paper_xlprune": paper_x,
        "paper_naive": paper_n,
        "paper_ratio_xlprune_vs_naive": paper_x["total"] / paper_n["total"],
    }


# ----------------------------------------------------------------------------------------
# peak memory
# ----------------------------------------------------------------------------------------

FULL_DEMO_JOB = [
    "model=tiny_xlmr",
    "task=ner",
    "optim.lr=2e-3",
    "trainer.max_epochs=4",
    "batch_size=16",
    "targets=[es]",
    "logger=none",
    "trainer.enable_progress_bar=false",
]


def bench_memory(quick: bool) -> dict:
    cases = {
        "import floor (torch, transformers, lightning, xlprune)": [python(), "-c", FLOOR],
        "job +debug=fast": [python(), "-m", "xlprune", "+debug=fast", "logger=none"],
    }
    if not quick:
        cases["full demo job"] = [python(), "-m", "xlprune", *FULL_DEMO_JOB]
    out = {}
    for name, argv in cases.items():
        with tempfile.TemporaryDirectory(prefix="xlprune-bench-") as tmp:
            res = child(argv, Path(tmp))
            if res["rc"] != 0:
                raise RuntimeError(f"{name} failed: {res['tail']}")
            found = list(Path(tmp).glob("outputs/*/*/results.json"))
            timing = json.loads(found[0].read_text()).get("timing") if found else None
        out[name] = {
            "argv": " ".join(argv[1:]),
            "max_rss_mb": res["max_rss_mb"],
            "seconds": res["seconds"],
            "timing": timing,
        }
    floor = out[next(iter(cases))]["max_rss_mb"]
    for row in out.values():
        row["ratio_to_import_floor"] = row["max_rss_mb"] / floor
    return {
        "method": "ru_maxrss of each process (RUSAGE_CHILDREN of a small launcher)",
        "rows": out,
    }


def run(quick: bool) -> dict:
    return {
        "startup": bench_startup(quick),
        "sweep": bench_sweep(quick),
        "memory": bench_memory(quick),
    }
