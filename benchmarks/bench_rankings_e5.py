"""The ranking methods on multilingual-e5-small (12 x 12 heads), CPU:

- gate importance at sentence and token granularity against the batch pass, over the same
  batches (64 sentences each, the default eval batch), interleaved, ratios of minimum times
  (goal: sentence / batch <= 1.3x);
- one iterative ranking (Michel et al., step 0.1): its importance passes and wall time;
- Shapley values (Held & Yang): dev passes and wall time of a budget of one antithetic
  pair of permutations (2 x 145 passes), and the time of one dev pass.

The model is the bundled e5_small (trimmed to the benchmark's sentences) with a freshly
initialised tagging head and gold UPOS labels of UD English dev (../shared/data when it
is there, else the embedded corpus): costs, not scores.

    python benchmarks/bench_rankings_e5.py [--quick]   (writes results_rankings_e5.json)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
RESULTS = HERE / "results_rankings_e5.json"


def ud_pos(n: int) -> list[tuple[list[str], list[str]]]:
    from bench_e5 import UD

    from xlprune.data.formats import READERS

    path = UD / "en_ewt-ud-dev.conllu"
    if path.is_file():
        return READERS["ud"](path)[:n]
    from xlprune.data.synthetic import generate

    return generate("pos", "en", "train", n=n, seed=1)


def setup(n: int, cache: str):
    import torch

    from xlprune.data.datamodule import TaggingDataModule
    from xlprune.data.formats.common import UPOS
    from xlprune.infra.store import Store
    from xlprune.models.specs import E5Spec

    sentences = ud_pos(n)
    labels = sorted(UPOS)
    torch.manual_seed(0)
    model, tokenizer = E5Spec("e5_small").build(
        labels=labels, texts=[], store=Store(cache), sentences=[w for w, _ in sentences]
    )
    model.eval()
    dm = TaggingDataModule(tokenizer, {}, {"en": sentences}, {}, labels, eval_batch_size=64)
    dm.setup()
    batches = [
        {k: b[k] for k in ("input_ids", "attention_mask", "labels")} for b in dm.loader("dev", "en")
    ]
    return model, batches


def granularity_ratios(model, batches, reps: int) -> dict:
    from xlprune.heads import gate_importance

    times = {g: [] for g in ("batch", "sentence", "token")}
    gate_importance(model, batches[:1], granularity="sentence")  # warm-up
    for r in range(reps):
        order = list(times) if r % 2 == 0 else list(reversed(times))
        for g in order:
            start = time.perf_counter()
            gate_importance(model, batches, granularity=g)
            times[g].append(time.perf_counter() - start)
    best = {g: min(v) for g, v in times.items()}
    return {
        "seconds_min": {g: round(v, 3) for g, v in best.items()},
        "sentence_over_batch": round(best["sentence"] / best["batch"], 3),
        "token_over_batch": round(best["token"] / best["batch"], 3),
        "goal": "sentence / batch <= 1.3",
        "repetitions": reps,
    }


def iterative_cost(model, batches) -> dict:
    from xlprune.heads import iterative_order

    start = time.perf_counter()
    found = iterative_order(model, batches, step=0.1, granularity="sentence")
    return {
        "step": 0.1,
        "rounds": len(found.rounds),
        "importance_passes": found.passes,
        "seconds": round(time.perf_counter() - start, 1),
    }


def shapley_cost(model, batches, permutations: int) -> dict:
    from xlprune.heads import head_grid, masked_value, shapley_values, token_accuracy

    layers, heads = head_grid(model)
    players = [(a, b) for a in range(layers) for b in range(heads)]
    value = masked_value(model, token_accuracy(batches), players)
    start = time.perf_counter()
    value(frozenset(players))
    one_pass = time.perf_counter() - start
    budget = permutations * (len(players) + 1)
    start = time.perf_counter()
    found = shapley_values(players, value, budget, seed=0)
    took = time.perf_counter() - start
    return {
        "heads": len(players),
        "budget_dev_passes": budget,
        "permutations": found.permutations,
        "dev_passes": found.evaluations,
        "seconds": round(took, 1),
        "seconds_per_dev_pass": round(took / max(1, found.evaluations), 3),
        "one_dev_pass_seconds": round(one_pass, 3),
        "dev_sentences": sum(int(b["input_ids"].shape[0]) for b in batches),
        "negative_values": len(found.harmful()),
    }


def main(argv=None) -> int:
    import torch

    from xlprune.job.results import write_json_atomic

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cache = os.environ.get("XLPRUNE_CACHE") or tempfile.mkdtemp(prefix="bench-rank-e5-")
    load_before = os.getloadavg()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    model, batches = setup(128 if args.quick else 256, cache)
    out = {
        "model": "e5_small (multilingual-e5-small, 12 x 12, trimmed), UD en dev, batches of 64",
        "threads": torch.get_num_threads(),
        "load_before": [round(x, 2) for x in load_before],
        "granularity": granularity_ratios(model, batches, 2 if args.quick else 4),
        "iterative": iterative_cost(model, batches[:1] if args.quick else batches[:2]),
        "shapley": shapley_cost(model, batches[:1], 1 if args.quick else 2),
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(out)
    name = "results_rankings_e5_quick.json" if args.quick else RESULTS.name
    write_json_atomic(HERE / name, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
