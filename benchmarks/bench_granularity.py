"""Cost of gate importance at sentence and token granularity against the batch pass (CPU),
and of one iterative_order and one shapley_values run.

    python benchmarks/bench_granularity.py [--quick] [--threads N]

The three granularities run over the same batches (8 of 64 sentences, 17-32 tokens padded
to 32), on a tiny BERT and on a randomly initialised 12 x 12 BERT with hidden 384 (the shape
of multilingual-e5-small; vocabulary cut to 1000, which costs nothing in these passes).
Repetitions are interleaved (the order alternates each round); the ratios are of the
minimum times, and the per-round ratios are kept. Prints a table and writes
benchmarks/results_granularity.json atomically, with the load average before and after.

Goal: sentence / batch <= 1.3x.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import BertConfig, BertForTokenClassification

from xlprune.heads import (
    GRANULARITIES,
    gate_importance,
    head_grid,
    iterative_order,
    masked_value,
    negative_loss,
    shapley_values,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_heads import interleaved  # noqa: E402

RESULTS = Path(__file__).with_name("results_granularity.json")
VOCAB, LABELS = 1000, 9


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def make_model(layers, heads, hidden, intermediate, seed=0, std=None):
    """Random BERT token classifier; ``std`` re-draws the 2-D non-embedding weights with that
    standard deviation (larger than the 0.02 init, so that heads visibly matter)."""
    torch.manual_seed(seed)
    cfg = BertConfig(
        vocab_size=VOCAB,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        num_labels=LABELS,
    )
    model = BertForTokenClassification._from_config(cfg, attn_implementation="sdpa")
    if std is not None:
        with torch.no_grad():
            for name, p in model.named_parameters():
                if p.dim() == 2 and "embeddings" not in name:
                    p.normal_(0.0, std)
    return model.eval()


def make_batches(n, size, tokens, seed=0):
    """Padded batches: lengths 17..tokens, labels on ~2/3 of the real tokens (first
    sub-tokens), -100 on padding."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        ids = torch.randint(3, VOCAB, (size, tokens), generator=gen)
        lengths = torch.randint(17, tokens + 1, (size,), generator=gen)
        mask = (torch.arange(tokens)[None, :] < lengths[:, None]).long()
        ids[mask == 0] = 0
        labels = torch.randint(0, LABELS, (size, tokens), generator=gen)
        labels[torch.rand(size, tokens, generator=gen) < 0.33] = -100
        labels[mask == 0] = -100
        out.append({"input_ids": ids, "attention_mask": mask, "labels": labels})
    return out


def bench_granularity(model, batches, reps: int, label: str) -> dict:
    fns = {g: (lambda g=g: gate_importance(model, batches, granularity=g)) for g in GRANULARITIES}

    def forward():
        with torch.no_grad():
            for b in batches:
                model(**b)

    fns["forward_only"] = forward
    times: dict = {}
    interleaved(fns, reps, raw=times)  # every timing, interleaved (bench_heads)
    best = {n: min(ts) for n, ts in times.items()}
    per_round = {
        g: [round(a / b, 4) for a, b in zip(times[g], times["batch"], strict=True)]
        for g in ("sentence", "token")
    }
    return {
        "model": label,
        "grid": list(head_grid(model)),
        "batches": f"{len(batches)} x {tuple(batches[0]['input_ids'].shape)}",
        "reps": reps,
        "raw_s": {n: [round(t, 5) for t in ts] for n, ts in times.items()},
        "min_s": {n: round(t, 5) for n, t in best.items()},
        "sentence_over_batch": round(best["sentence"] / best["batch"], 4),
        "token_over_batch": round(best["token"] / best["batch"], 4),
        "per_round_ratio": per_round,
        "min_per_round_ratio": {g: min(r) for g, r in per_round.items()},
        "goal": "sentence_over_batch <= 1.3",
    }


def bench_iterative(model, batches) -> dict:
    t0 = time.perf_counter()
    res = iterative_order(model, batches, step=0.1, granularity="sentence")
    wall = time.perf_counter() - t0
    return {
        "grid": list(head_grid(model)),
        "step": 0.1,
        "batches": f"{len(batches)} x {tuple(batches[0]['input_ids'].shape)}",
        "rounds": len(res.rounds),
        "importance_passes": res.passes,
        "wall_s": round(wall, 3),
        "s_per_pass": round(wall / max(res.passes, 1), 4),
    }


def bench_shapley(model, batches, samples: int) -> dict:
    grid = head_grid(model)
    players = [(a, b) for a in range(grid[0]) for b in range(grid[1])]
    value = masked_value(model, negative_loss(batches))
    t0 = time.perf_counter()
    res = shapley_values(players, value, samples=samples, seed=0, truncation=0.0)
    wall = time.perf_counter() - t0
    cut_t0 = time.perf_counter()
    spread = abs(res.full_value - res.empty_value)
    cut = shapley_values(players, value, samples=samples, seed=0, truncation=0.25 * spread)
    cut_wall = time.perf_counter() - cut_t0
    return {
        "grid": list(grid),
        "value": "minus the mean dev loss (masked_value + negative_loss)",
        "batches": f"{len(batches)} x {tuple(batches[0]['input_ids'].shape)}",
        "budget_samples": samples,
        "no_truncation": {
            "dev_passes": res.evaluations,
            "permutations": res.permutations,
            "wall_s": round(wall, 3),
            "s_per_dev_pass": round(wall / res.evaluations, 5),
        },
        "truncation_quarter_spread": {
            "truncation": round(0.25 * spread, 5),
            "dev_passes": cut.evaluations,
            "permutations": cut.permutations,
            "truncated_marginals": cut.truncated,
            "wall_s": round(cut_wall, 3),
        },
    }


def write_atomic(path: Path, payload: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(payload, fh, indent=2)
        fh.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 batches and 3 reps (smoke run)")
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads (default: torch's); 1 is far less sensitive to other "
        "processes on a small shared machine",
    )
    args = ap.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    load_start = uptime()
    t0 = time.perf_counter()
    n_batches = 2 if args.quick else 8
    batches = make_batches(n_batches, 64, 32)
    tiny = make_model(4, 4, 128, 512)
    e5_shape = make_model(12, 12, 384, 1536)
    rows = [
        bench_granularity(tiny, batches, 3 if args.quick else 7, "tiny BERT 4L 4H h128"),
        bench_granularity(e5_shape, batches, 3, "BERT 12L 12H h384 (e5-small shape)"),
    ]
    dev = make_batches(2, 32, 32, seed=1)
    lively = make_model(4, 4, 128, 512, std=0.1)  # heads matter: a less flat game
    iterative = bench_iterative(lively, dev)
    shapley = bench_shapley(lively, dev, samples=120)
    payload = {
        "uptime_start": load_start,
        "uptime_end": uptime(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "quick": args.quick,
        "seconds": round(time.perf_counter() - t0, 1),
        "granularity": rows,
        "iterative_order": iterative,
        "shapley_values": shapley,
    }
    write_atomic(RESULTS, payload)

    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, {torch.get_num_threads()} threads")
    print(f"load at start: {load_start}")
    print(
        f"{'model':<38} {'batch s':>8} {'sent s':>8} {'token s':>8} {'fwd s':>7} "
        f"{'sent/b':>7} {'tok/b':>7}"
    )
    for r in rows:
        m = r["min_s"]
        print(
            f"{r['model']:<38} {m['batch']:>8.3f} {m['sentence']:>8.3f} {m['token']:>8.3f} "
            f"{m['forward_only']:>7.3f} {r['sentence_over_batch']:>7.3f} "
            f"{r['token_over_batch']:>7.3f}"
        )
    print("(min of interleaved repetitions; goal sentence/batch <= 1.3)")
    it = iterative
    print(
        f"iterative_order, tiny {it['grid']}, step 0.1, dev {it['batches']}: {it['rounds']} "
        f"rounds, {it['importance_passes']} passes, {it['wall_s']:.2f} s"
    )
    sh, cut = shapley["no_truncation"], shapley["truncation_quarter_spread"]
    print(
        f"shapley_values, tiny, budget {shapley['budget_samples']}: {sh['dev_passes']} dev passes, "
        f"{sh['permutations']} permutations, {sh['wall_s']:.2f} s; with truncation "
        f"{cut['truncation']}: {cut['dev_passes']} passes, {cut['permutations']} permutations, "
        f"{cut['wall_s']:.2f} s"
    )
    print(f"load at end: {payload['uptime_end']}")
    print(f"wrote {RESULTS} ({payload['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
