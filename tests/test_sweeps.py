"""Sweeps users leave running: a stopped sweep resumes to the same results, and the search
for k stops where it should and chooses on dev."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers.jobs import FAST, cli, run_job
from xlprune.job.selection import select, should_stop

SWEEP = ["+debug=fast", "logger=none", "resume=true", "pruning.count=0,1,2,3", "-m"]


def sweep_results(root) -> dict:
    out = {}
    for path in root.glob("multirun/*/*/*/results.json"):
        data = json.loads(path.read_text())
        out[data["prune_count"]] = data["metrics"]
    return out


def test_a_killed_sweep_resumes_to_the_same_results(tmp_path):
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    for d in (straight, stopped):
        d.mkdir()
    done = cli(SWEEP, cwd=straight, env={"XLPRUNE_CACHE": str(straight / "cache")})
    assert done.returncode == 0, done.stderr[-1500:]
    expected = sweep_results(straight)
    assert sorted(expected) == [0, 1, 2, 3]

    env = dict(os.environ, XLPRUNE_CACHE=str(stopped / "cache"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "xlprune", *SWEEP],
        cwd=stopped,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 240
    while time.time() < deadline and not list(stopped.glob("multirun/*/*/*/results.json")):
        time.sleep(0.1)
    time.sleep(0.5)  # into the next job's fine-tune
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = sweep_results(stopped)
    assert 1 <= len(partial) < 4, "the kill should land mid-sweep"

    time.sleep(1.1)  # a new sweep directory (they are named by the second)
    again = cli(SWEEP, cwd=stopped, env={"XLPRUNE_CACHE": str(stopped / "cache")})
    assert again.returncode == 0, again.stderr[-1500:]
    newest = sorted(stopped.glob("multirun/*/*"))[-1]
    resumed = {
        json.loads(p.read_text())["prune_count"]: json.loads(p.read_text())["metrics"]
        for p in newest.glob("*/results.json")
    }
    assert resumed == expected
    assert f"{len(partial)} jobs resumed from earlier runs" in again.stdout


def test_search_stops_after_patience_trials_without_improvement():
    assert not should_stop([0.5, 0.6, 0.7], patience=2)
    assert not should_stop([0.5, 0.7, 0.6], patience=2)
    assert should_stop([0.5, 0.7, 0.6, 0.65], patience=2)
    assert should_stop([0.7, 0.6], patience=1)
    assert not should_stop([0.7, 0.7, 0.71], patience=2)  # a tie is not an improvement, this is


def test_search_selects_on_dev_and_labels_the_papers_way():
    trials = [
        {"k": 0, "dev": 0.60, "test": 0.50},
        {"k": 1, "dev": 0.65, "test": 0.49},
        {"k": 2, "dev": 0.62, "test": 0.58},
        {"k": 3, "dev": 0.65, "test": 0.40},
    ]
    chosen = select(trials)
    assert chosen["dev_selected"] == {"k": 1, "dev": 0.65, "test": 0.49}  # tie -> fewer heads
    assert chosen["paper_best_test"]["k"] == 2 and "optimistic" in chosen["paper_best_test"]["note"]


def test_search_mode_job(tmp_path):
    results = run_job(
        [
            *FAST,
            "pruning.mode=search",
            "search.max_k=6",
            "search.patience=1",
            "trainer.limit_val_batches=1.0",
            "targets=[de]",
        ],
        tmp_path / "job",
    )
    search = results["search"]
    ks = [t["k"] for t in search["trials"]]
    assert ks == list(range(len(ks))) and 2 <= len(ks) <= 7
    devs = [t["dev"] for t in search["trials"]]
    if len(ks) < 7:  # it stopped early: the last trial did not beat the best before it
        assert max(devs[:-1]) >= devs[-1]
    assert results["prune_count"] == search["dev_selected"]["k"]
    assert results["fine_tunes"] == len(ks) and results["ranking"]["method"] == "gradient"
    best = search["dev_selected"]
    assert results["metrics"]["dev"]["de"]["f1"] == pytest.approx(best["dev"])
