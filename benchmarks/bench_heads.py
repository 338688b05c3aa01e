"""Cost of head gating, of the importance pass, and speed gained by removing heads (CPU).

    python benchmarks/bench_heads.py [--quick]

Every ratio compares variants measured in the same run with interleaved repetitions (the
order alternates each round) and takes medians, so machine drift affects both sides alike.
Prints a table and writes benchmarks/results_heads.json atomically.

Goals: (a) gates add <= 5% to a training step; (b) gate importance costs <= 1.2x a plain
forward+backward; (c) removing heads achieves >= 90% of the speedup its FLOP count predicts.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from transformers import BertConfig, BertForTokenClassification

from xlprune.heads import attach_gates, gate_importance, prune_heads

RESULTS = Path(__file__).with_name("results_heads.json")


def interleaved(
    fns: dict[str, Callable[[], None]], reps: int, warmup: int = 1, raw: dict | None = None
) -> dict:
    """Median seconds per call of each function, rounds interleaved, order alternating.

    ``raw``, if given, receives every timing, so noise on a shared machine stays visible.
    """
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(reps):
        for name in names if r % 2 == 0 else reversed(names):
            t0 = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - t0)
    if raw is not None:
        raw.update({n: [round(t, 5) for t in ts] for n, ts in times.items()})
    return {n: statistics.median(ts) for n, ts in times.items()}


def small_bert(layers=4, heads=4, hidden=128, intermediate=512, vocab=1000, seed=0):
    torch.manual_seed(seed)
    cfg = BertConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        num_labels=9,
    )
    return BertForTokenClassification._from_config(cfg, attn_implementation="sdpa")


def make_batch(batch, seq, vocab, seed):
    gen = torch.Generator().manual_seed(seed)
    return {
        "input_ids": torch.randint(0, vocab, (batch, seq), generator=gen),
        "attention_mask": torch.ones(batch, seq, dtype=torch.long),
        "labels": torch.randint(0, 9, (batch, seq), generator=gen),
    }


def bench_gate_overhead(reps: int) -> dict:
    """(a) fwd + bwd + AdamW step, all-ones gates attached vs none (same model, same batch)."""
    model = small_bert().train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    b = make_batch(32, 64, 1000, 0)
    gates = torch.ones(4, 4)

    def step():
        loss = model(**b).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    def gated():
        with attach_gates(model, gates):
            step()

    raw: dict = {}
    t = interleaved({"plain": step, "gated": gated}, reps, warmup=3, raw=raw)
    return {
        "raw_s": raw,
        "config": "BERT 4L 4H hidden128 inter512, seq64 batch32, sdpa, train mode",
        "plain_step_s": t["plain"],
        "gated_step_s": t["gated"],
        "overhead": t["gated"] / t["plain"] - 1.0,
        "goal": "<= 0.05",
    }


def bench_importance(reps: int, n_batches: int) -> dict:
    """(b) gate_importance over batches vs plain forward + backward (param grads) over them."""
    model = small_bert().eval()
    batches = [make_batch(32, 64, 1000, s) for s in range(n_batches)]
    return {
        "config": f"BERT 4L 4H hidden128, {n_batches} batches of 32x64, eval mode",
        **importance_vs_fwd_bwd(model, batches, reps, warmup=2),
    }


def importance_vs_fwd_bwd(model, batches: list, reps: int, warmup: int) -> dict:
    """gate_importance over `batches` against one plain forward + backward over them."""

    def plain():
        for b in batches:
            model(**b).loss.backward()
        model.zero_grad(set_to_none=True)

    def importance():
        gate_importance(model, batches)

    raw: dict = {}
    t = interleaved({"fwd_bwd": plain, "gate_importance": importance}, reps, warmup, raw=raw)
    return {
        "raw_s": raw,
        "fwd_bwd_s": t["fwd_bwd"],
        "gate_importance_s": t["gate_importance"],
        "ratio": t["gate_importance"] / t["fwd_bwd"],
        "goal": "<= 1.2",
    }


def forward_flops(layers, heads_per_layer, head_dim, hidden, inter, batch, seq) -> float:
    """Matmul FLOPs (2 per multiply-add) of attention projections, scores, values and FFN."""
    tokens = batch * seq
    total = 0.0
    for h in heads_per_layer:
        a = h * head_dim
        total += 2 * tokens * hidden * a * 4  # query, key, value, output projection
        total += 2 * batch * seq * seq * a * 2  # scores q.k and probs.v
        total += 2 * tokens * hidden * inter * 2  # feed-forward in and out
    return total


def bench_removal(reps: int, fractions=(0.25, 0.5, 0.75)) -> dict:
    """(c) forward throughput of a bert-base-shaped model with heads removed evenly."""
    layers, heads, hidden, inter, batch, seq = 12, 12, 768, 3072, 8, 128
    base = small_bert(layers, heads, hidden, inter, vocab=30522).eval()
    b = make_batch(batch, seq, 30522, 0)
    b.pop("labels")
    variants = {"full": base}
    kept = {"full": [heads] * layers}
    for f in fractions:
        k = round(heads * f)
        # evenly spread over layers and over head positions
        step = heads / k
        remove = [(layer, int(i * step)) for layer in range(layers) for i in range(k)]
        name = f"{int(f * 100)}%"
        variants[name] = prune_heads(copy.deepcopy(base), remove)
        kept[name] = [heads - k] * layers

    def runner(m):
        def run():
            with torch.inference_mode():
                m(**b)

        return run

    raw: dict = {}
    t = interleaved({n: runner(m) for n, m in variants.items()}, reps, warmup=1, raw=raw)
    hd = hidden // heads
    f_full = forward_flops(layers, kept["full"], hd, hidden, inter, batch, seq)
    rows = []
    for name in variants:
        flops = forward_flops(layers, kept[name], hd, hidden, inter, batch, seq)
        achieved = t["full"] / t[name]
        predicted = f_full / flops
        rows.append(
            {
                "removed": name,
                "heads_left": sum(kept[name]),
                "forward_s": t[name],
                "tokens_per_s": batch * seq / t[name],
                "gflops": flops / 1e9,
                "speedup": achieved,
                "predicted_speedup": predicted,
                "achieved_over_predicted": achieved / predicted,
            }
        )
    return {
        "config": f"BERT {layers}L {heads}H hidden{hidden} inter{inter}, seq{seq} batch{batch}, "
        "sdpa, inference_mode, random init",
        "rows": rows,
        "raw_s": raw,
        "goal": "achieved_over_predicted >= 0.9",
    }


def write_atomic(path: Path, payload: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(payload, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (smoke run)")
    args = ap.parse_args(argv)
    reps = 5 if args.quick else 21
    t0 = time.perf_counter()
    gate = bench_gate_overhead(reps)
    imp = bench_importance(reps if args.quick else 11, n_batches=4)
    rem = bench_removal(3 if args.quick else 7)
    payload = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "quick": args.quick,
        "seconds": time.perf_counter() - t0,
        "gate_overhead": gate,
        "importance": imp,
        "removal": rem,
    }
    write_atomic(RESULTS, payload)

    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, {torch.get_num_threads()} threads")
    print(
        f"(a) train step: plain {gate['plain_step_s'] * 1e3:.1f} ms, gated "
        f"{gate['gated_step_s'] * 1e3:.1f} ms, overhead {gate['overhead'] * 100:+.1f}% (goal <= 5%)"
    )
    print(
        f"(b) 4 batches: fwd+bwd {imp['fwd_bwd_s'] * 1e3:.1f} ms, gate_importance "
        f"{imp['gate_importance_s'] * 1e3:.1f} ms, ratio {imp['ratio']:.2f}x (goal <= 1.2x)"
    )
    print("(c) bert-base forward, seq 128 batch 8:")
    print(
        f"    {'removed':>7} {'heads':>5} {'ms':>8} {'speedup':>8} {'FLOP pred':>9} {'ach/pred':>8}"
    )
    for r in rem["rows"]:
        print(
            f"    {r['removed']:>7} {r['heads_left']:>5} {r['forward_s'] * 1e3:>8.0f} "
            f"{r['speedup']:>8.3f} {r['predicted_speedup']:>9.3f} "
            f"{r['achieved_over_predicted']:>8.3f}"
        )
    print(f"wrote {RESULTS} ({payload['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
