"""multilingual-e5-small (model=e5_small) on these CPUs, every figure a ratio from one run:

- trimmed vs untrimmed: an AdamW training step (batch 32 of real English UD sentences, or
  the embedded corpus without ../shared/data) and the peak memory of a process doing
  them; each variant runs in its own child process, the children interleaved.
- framework overhead: xlprune's fit (Lightning Trainer, Tagger, DataModule) against a bare
  PyTorch loop on the same trimmed model and batches, in lockstep (bench_training's).
- the importance pass (gate_importance) on the 12 x 12 model against one plain forward +
  backward over the same batches.
- the tokenizer against the package's engine on every `# text` line of the UD files (ids
  equal, and which lines differ).

    python benchmarks/bench_e5.py [--quick]     (writes benchmarks/results_e5.json)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import HERE, OFFLINE_ENV, SHARED, machine, median, quiet, versions, write_json_atomic

RESULTS = HERE / "results_e5.json"
UD = SHARED / "ud"


def ud_sentences(n: int) -> list[list[str]]:
    from xlprune.data.formats import READERS

    path = UD / "en_ewt-ud-dev.conllu"
    if not path.is_file():
        from xlprune.data.synthetic import generate

        return [w for w, _ in generate("pos", "en", "train", n=n, seed=1)]
    return [words for words, _ in READERS["ud"](path)[:n]]


def step_child(where: str, steps: int, batch: int) -> dict:
    """In a child process: `steps` AdamW steps of the checkpoint at `where`; seconds per step
    after a warm-up step, and the process's peak memory."""
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    sentences = ud_sentences(batch * (steps + 1))
    tokenizer = AutoTokenizer.from_pretrained(str(where))
    model = AutoModelForTokenClassification.from_pretrained(str(where), num_labels=17)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    times = []
    for i in range(steps + 1):
        chunk = sentences[i * batch : (i + 1) * batch]
        enc = tokenizer(
            chunk, is_split_into_words=True, padding=True, truncation=True, return_tensors="pt"
        )
        labels = torch.zeros_like(enc["input_ids"])
        t0 = time.perf_counter()
        model(**enc, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i:  # the first step allocates AdamW's state
            times.append(time.perf_counter() - t0)
    return {
        "step_s": times,
        "median_step_s": median(times),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "embedding_rows": model.config.vocab_size,
    }


def trimmed_vs_full(quick: bool, cache: str) -> dict:
    """The checkpoints are built here first: a child only loads and trains."""
    from xlprune.infra.store import Store
    from xlprune.models.specs import E5Spec

    rounds, steps = (1, 2) if quick else (3, 4)
    spec, store = E5Spec("e5_small"), Store(cache)
    where = {
        "trimmed": spec.trimmed(store, ud_sentences(32 * (steps + 1))),
        "full": spec.checkpoint(store),
    }
    runs: dict[str, list[dict]] = {"trimmed": [], "full": []}
    for r in range(rounds):
        for name in ("trimmed", "full") if r % 2 == 0 else ("full", "trimmed"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(where[name]), "--steps", str(steps)],
                env={**os.environ, **OFFLINE_ENV, "XLPRUNE_CACHE": cache},
                capture_output=True,
                text=True,
                check=True,
            )
            runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    step = {k: median([s for run in v for s in run["step_s"]]) for k, v in runs.items()}
    peak = {k: max(run["peak_rss_mb"] for run in v) for k, v in runs.items()}
    return {
        "config": f"batch 32 of English UD sentences, AdamW, {steps} timed steps x {rounds} "
        "child processes per variant, interleaved; a child loads the checkpoint and trains",
        "embedding_rows": {k: v[0]["embedding_rows"] for k, v in runs.items()},
        "median_step_s": step,
        "peak_rss_mb": peak,
        "speedup": step["full"] / step["trimmed"],
        "memory_ratio": peak["trimmed"] / peak["full"],
        "runs": runs,
    }


def framework_overhead(quick: bool, cache: str) -> dict:
    """bench_training's lockstep comparison, with the e5_small model."""
    import bench_training

    steps = 4 if quick else 10
    job = bench_training.job_for(steps, 32, cache, model=["model=e5_small"])
    loader = bench_training.datamodule(job).train_dataloader()
    lock = bench_training.lockstep_lightning(job, loader, passes=1 if quick else 2)
    lock["goal"] = ">= 0.95 (bare / xlprune step time)"
    return lock


def importance_pass(quick: bool, cache: str) -> dict:
    from bench_heads import importance_vs_fwd_bwd

    from xlprune.data.datamodule import TaggingDataModule
    from xlprune.infra.store import Store
    from xlprune.models.specs import E5Spec

    sentences = ud_sentences(128)
    spec = E5Spec("e5_small")
    model, tokenizer = spec.build(
        labels=["X", "Y"], texts=[], store=Store(cache), sentences=sentences
    )
    model.eval()
    labelled = [(words, ["X"] * len(words)) for words in sentences]
    dm = TaggingDataModule(tokenizer, {}, {"en": labelled}, {}, ["X", "Y"], eval_batch_size=32)
    dm.setup()
    batches = list(dm.loader("dev", "en"))
    for b in batches:
        b.pop("word_index"), b.pop("example")
    return {
        "config": f"e5_small 12x12 (trimmed), {len(batches)} batches of 32 UD sentences, eval",
        **importance_vs_fwd_bwd(model, batches, 3 if quick else 7, warmup=1),
    }


def tokenizer_agreement(cache: str) -> dict:
    """Token ids of our tokenizer and of the package's own (its e5.c, compiled here)."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    from models.e5_engine import compiled_engine
    from transformers import AutoTokenizer

    from xlprune.infra.store import Store
    from xlprune.models.specs import E5Spec

    lines = [
        line[len("# text = ") :].rstrip("\n")
        for path in sorted(UD.glob("*.conllu"))
        for line in path.open(encoding="utf-8")
        if line.startswith("# text = ")
    ]
    if not lines:
        return {"skipped": f"no UD files under {UD}"}
    engine = compiled_engine(Path(tempfile.mkdtemp()))
    where = E5Spec("e5_small").checkpoint(Store(cache))
    tokenizer = AutoTokenizer.from_pretrained(str(where))
    differ = [t for t in lines if tokenizer(t)["input_ids"] != engine.token_ids(t)]
    return {
        "lines": len(lines),
        "equal": len(lines) - len(differ),
        "share_equal": (len(lines) - len(differ)) / len(lines),
        "goal": ">= 0.995",
        "differing_lines": differ,
    }


def run(quick: bool) -> dict:
    quiet()
    cache = os.environ.get("XLPRUNE_CACHE") or tempfile.mkdtemp(prefix="bench-e5-")
    return {
        "tokenizer": tokenizer_agreement(cache),
        "trimming": trimmed_vs_full(quick, cache),
        "framework": framework_overhead(quick, cache),
        "importance": importance_pass(quick, cache),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--child", help="(internal) train the checkpoint in this directory")
    ap.add_argument("--steps", type=int, default=4)
    args = ap.parse_args(argv)
    if args.child:
        quiet()
        result = step_child(args.child, args.steps, 32)
        print(json.dumps(result))
        return 0
    t0 = time.perf_counter()
    result = run(args.quick)
    for section in result.values():
        section.pop("_model", None)
    payload = {"machine": machine(), "versions": versions(), "quick": args.quick, **result}
    payload["seconds"] = time.perf_counter() - t0
    write_json_atomic(HERE / ("results_e5_quick.json" if args.quick else RESULTS.name), payload)
    print(
        json.dumps({k: v for k, v in payload.items() if k not in ("machine",)}, default=str)[:3000]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
