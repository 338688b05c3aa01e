"""Sweeps off this machine: how fast a hub need fails with no network, and what a sweep on
the local SLURM cluster (tests/slurm/up.sh) costs and how fast it ends after a cancel.

    python benchmarks/bench_cluster.py [--rounds N]

- offline: the real command with HF_HUB_OFFLINE, HF_DATASETS_OFFLINE and
  TRANSFORMERS_OFFLINE unset and HF_ENDPOINT on a port nobody serves (no network, made
  deterministic): one job `model=xlmr data=panx_hub`, and the 78-job `+experiment=xlmr_ner
  -m`; beside them `--help`, the command's own start-up, as the floor.
- slurm (when a cluster is up): a sweep of 3 tiny jobs through `hydra/launcher=slurm` vs
  the same through `hydra/launcher=side_by_side` (ratio within a round), and the time from
  `scancel` of a running job to the sweep's exit (its failure line and report written).

Writes benchmarks/results_cluster.json (every raw value) and prints a table."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import HERE, ROOT, median, versions, write_json_atomic

RESULTS = HERE / "results_cluster.json"
NO_NETWORK = {"HF_ENDPOINT": "http://127.0.0.1:9", "WANDB_SILENT": "true"}
TINY = ["+debug=fast", "logger=none", "resume=false", "pruning.count=0,1,2"]


def command(args: list[str], cwd: Path, env: dict, drop=()) -> tuple[float, int, str]:
    full = {k: v for k, v in os.environ.items() if k not in drop}
    full.update(env)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "xlprune", *args], cwd=cwd, env=full, capture_output=True, text=True
    )
    last = (done.stderr.strip().splitlines() or [""])[-1]
    return time.perf_counter() - start, done.returncode, last


def offline(rounds: int, tmp: Path) -> dict:
    drop = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
    env = dict(NO_NETWORK, HF_HOME=str(tmp / "hf"), XLPRUNE_CACHE=str(tmp / "cache"))
    cases = {
        "help (start-up floor)": ["--help"],
        "one job, model=xlmr data=panx_hub": ["model=xlmr", "data=panx_hub", "+debug=fast"],
        "+experiment=xlmr_ner -m (78 jobs)": ["+experiment=xlmr_ner", "-m"],
    }
    raw: dict[str, list] = {name: [] for name in cases}
    for r in range(rounds):
        for name in cases if r % 2 == 0 else reversed(cases):
            raw[name].append(command(cases[name], tmp, env, drop))
    return {
        name: {
            "median_s": round(median([t for t, _, _ in runs]), 2),
            "exit": runs[0][1],
            "line": runs[0][2][:300],
            "raw_s": [round(t, 2) for t, _, _ in runs],
        }
        for name, runs in raw.items()
    }


def cluster_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    done = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return done.returncode == 0 and any(s in done.stdout for s in ("idle", "mixed"))


def slurm(rounds: int, tmp: Path) -> dict:
    env = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "WANDB_SILENT": "true"}
    env["XLPRUNE_CACHE"] = str(tmp / "cache")
    launchers = {
        "slurm": [
            "hydra/launcher=slurm",
            "hydra.launcher.cpus_per_task=1",
            "hydra.launcher.poll_s=1",
        ],
        "side_by_side": ["hydra/launcher=side_by_side"],
    }
    raw: dict[str, list] = {name: [] for name in launchers}
    for r in range(rounds):
        for name in launchers if r % 2 == 0 else reversed(launchers):
            took, code, _ = command([*TINY, *launchers[name], "-m"], tmp, env)
            assert code == 0, f"{name} sweep failed"
            raw[name].append(took)
    ratios = [s / b for s, b in zip(raw["slurm"], raw["side_by_side"], strict=True)]
    cancel = []
    for r in range(rounds):
        sweep_dir = tmp / f"cancel{r}"
        args = [*TINY[:3], "trainer.max_epochs=2000", f"hydra.sweep.dir={sweep_dir}"]
        args += [*launchers["slurm"], "-m"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "xlprune", *args],
            cwd=tmp,
            env=dict(os.environ, **env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while not (sweep_dir / "0" / ".hydra").is_dir():
            time.sleep(0.1)
        time.sleep(2)
        queued = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True)
        subprocess.run(["scancel", *queued.stdout.split()], check=True)
        start = time.perf_counter()
        proc.wait()
        cancel.append(time.perf_counter() - start)
        assert proc.returncode == 1 and (sweep_dir / "report" / "index.html").is_file()
    return {
        "sweep_s": {name: [round(t, 2) for t in runs] for name, runs in raw.items()},
        "slurm_over_side_by_side": round(median(ratios), 2),
        "cancel_to_exit_s": {
            "median": round(median(cancel), 2),
            "raw": [round(t, 2) for t in cancel],
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    load = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="xlprune-bench-cluster-") as tmp:
        result = {"offline": offline(args.rounds, Path(tmp))}
        result["slurm"] = slurm(args.rounds, Path(tmp)) if cluster_up() else "no cluster up"
    result.update(
        versions=versions(),
        loadavg_start=load,
        loadavg_end=[round(x, 2) for x in os.getloadavg()],
        cwd=str(ROOT),
    )
    write_json_atomic(RESULTS, result)
    print(f"{'offline: no network, no HF variables':<42} {'median s':>9}  exit")
    for name, r in result["offline"].items():
        print(f"{name:<42} {r['median_s']:>9.2f}  {r['exit']}")
    if isinstance(result["slurm"], dict):
        s = result["slurm"]
        print(f"3-job sweep, slurm / side_by_side: {s['slurm_over_side_by_side']}x")
        print(f"scancel to the sweep's exit: {s['cancel_to_exit_s']['median']} s")
    print(f"written: {RESULTS}")


if __name__ == "__main__":
    main()
