"""pruning.mode=guided against the full search, measured: on every cell of the demo grid
(tiny_bert / tiny_xlmr x NER / POS x source en / de x cross / multi, target es, the demo's
recipe) with seeds 1, 2, 3, and on the real-model cell POS en -> de of docs/real-model.md.

    python benchmarks/bench_guided.py [--max-k 6] [--seeds 1,2,3]

Full search: every k = 0..max_k re-trained (a pruning.count grid), k chosen on dev (mean over
targets, k = 0 included, ties to fewer heads: xlprune.job.selection.select). Guided: pruning.mode=
guided with guided.candidates=2. Per (cell, seed): fine-tunes spent, the chosen k against
the full search's (exact, within one step), and the test-score loss. Per cell: whether the
guided test score (mean over seeds) is within the full search's seed-to-seed spread (the
standard deviation over seeds of its dev-selected test score). The tiny models have 12
heads; max_k 6 (half of them) keeps the full search at 7 fine-tunes per cell and seed.
The e5 cell needs `bash benchmarks/real_model.sh retrained` and `... guided` (one seed).

The sweeps resume (their results are stored), so a stopped run goes on. Writes
benchmarks/results_guided.json with every cell and prints a table."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from common import HERE, ROOT, versions, write_json_atomic

RESULTS = HERE / "results_guided.json"
OUT = ROOT / "multirun" / "bench-guided"
REAL = ROOT / "multirun" / "real-model"
ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "WANDB_SILENT": "true"}


def sweep(name: str, overrides: list[str]) -> None:
    args = ["+experiment=demo", "logger=none", *overrides]
    args += [f"hydra.sweep.dir={OUT / name}", "-m"]
    done = subprocess.run(
        [sys.executable, "-m", "xlprune", *args], cwd=ROOT, env={**os.environ, **ENV}
    )
    if done.returncode != 0:
        raise SystemExit(f"the {name} sweep failed ({done.returncode})")


def results(*dirs: Path) -> list[dict]:
    found = []
    for d in dirs:
        for path in sorted(d.glob("*/results.json")):
            found.append(json.loads(path.read_text()))
    return found


def compare(found: list[dict]) -> list[dict]:
    """One record per guided job: its choice beside the full search of its cell and seed."""
    from xlprune.job.selection import select
    from xlprune.report.guided import cell, full_searches, method

    full = full_searches([(r, "") for r in found])  # one recipe: no variants
    rows = []
    for r in found:
        if not r.get("guided"):
            continue
        g = r["guided"]
        trials = full.get((cell(r, ""), method(r)), {})
        searched = select(list(trials.values()))["dev_selected"] if len(trials) > 1 else None
        chosen = g["dev_selected"]
        rows.append(
            {
                "cell": "/".join(map(str, cell(r)[:5])),
                "seed": r["seed"],
                "guided_k": chosen["k"],
                "guided_test": chosen["test"],
                "candidates": g["candidates"],
                "guided_fine_tunes": r["fine_tunes"],
                "full_k": searched["k"] if searched else None,
                "full_test": searched["test"] if searched else None,
                "full_k_tried": sorted(trials),
                "full_fine_tunes": len(trials),
                "exact": searched is not None and chosen["k"] == searched["k"],
                "within_one_step": searched is not None
                and within_step(chosen["k"], searched["k"], sorted(trials)),
                "loss": (searched["test"] - chosen["test"]) if searched else None,
            }
        )
    return rows


def within_step(a: int, b: int, tried: list[int]) -> bool:
    """k equal, or neighbours on the full search's grid of k (its steps)."""
    if a == b:
        return True
    grid = sorted(set(tried) | {a})
    return abs(grid.index(a) - grid.index(b)) <= 1 if b in grid else False


def per_cell(rows: list[dict]) -> list[dict]:
    cells = {}
    for row in rows:
        cells.setdefault(row["cell"], []).append(row)
    out = []
    for name, runs in sorted(cells.items()):
        full = [r["full_test"] for r in runs if r["full_test"] is not None]
        guided = [r["guided_test"] for r in runs]
        spread = statistics.stdev(full) if len(full) > 1 else None
        gap = statistics.mean(full) - statistics.mean(guided) if full else None
        out.append(
            {
                "cell": name,
                "seeds": len(runs),
                "guided_test_mean": statistics.mean(guided),
                "full_test_mean": statistics.mean(full) if full else None,
                "full_seed_std": spread,
                "loss_mean": gap,
                "within_spread": None if spread is None else abs(gap) <= spread,
            }
        )
    return out


def summary(rows: list[dict], cells: list[dict]) -> dict:
    judged = [c for c in cells if c["within_spread"] is not None]
    return {
        "jobs": len(rows),
        "fine_tunes_per_cell_guided": statistics.mean(r["guided_fine_tunes"] for r in rows),
        "fine_tunes_per_cell_full": statistics.mean(r["full_fine_tunes"] for r in rows),
        "exact_k": sum(r["exact"] for r in rows) / len(rows),
        "k_within_one_step": sum(r["within_one_step"] for r in rows) / len(rows),
        "mean_test_loss": statistics.mean(r["loss"] for r in rows if r["loss"] is not None),
        "cells_within_seed_spread": (
            f"{sum(c['within_spread'] for c in judged)} of {len(judged)}" if judged else None
        ),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-k", type=int, default=6)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--no-run", action="store_true", help="only read what the sweeps wrote")
    args = parser.parse_args(argv)
    load = [round(x, 2) for x in os.getloadavg()]
    seeds = f"seed={args.seeds}"
    if not args.no_run:
        sweep("full", ["resume=true", f"pruning.count=range(0,{args.max_k + 1})", seeds])
        guided = ["pruning.count=0", "pruning.mode=guided", f"pruning.max_k={args.max_k}"]
        sweep("guided", ["resume=false", *guided, seeds])  # always this code's guided jobs
    tiny = compare(results(OUT / "full", OUT / "guided"))
    real = compare(results(REAL / "retrained-pos", REAL / "guided-pos"))
    cells = per_cell(tiny)
    out = {
        "tiny": {"summary": summary(tiny, cells), "cells": cells, "jobs": tiny},
        "e5_small POS en->de": real or "not run: bash benchmarks/real_model.sh retrained guided",
        "max_k": args.max_k,
        "seeds": args.seeds,
        "versions": versions(),
        "loadavg_start": load,
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
    }
    write_json_atomic(RESULTS, out)
    print(f"{'cell':<44} {'guided':>7} {'full':>7} {'std':>6}  within")
    for c in cells:
        std = f"{c['full_seed_std']:.4f}" if c["full_seed_std"] is not None else "-"
        print(
            f"{c['cell']:<44} {c['guided_test_mean']:7.4f} {c['full_test_mean'] or 0:7.4f} {std:>6}  {c['within_spread']}"
        )
    print(json.dumps(out["tiny"]["summary"], indent=1))
    for r in real:
        print(
            f"e5 {r['cell']}: guided k={r['guided_k']} test {r['guided_test']:.4f} "
            f"({r['guided_fine_tunes']} fine-tunes); full k={r['full_k']} test {r['full_test']:.4f} "
            f"(k tried {r['full_k_tried']})"
        )
    print(f"written: {RESULTS}")


if __name__ == "__main__":
    main()
