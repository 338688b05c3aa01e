"""Framework overhead: xlprune's training throughput (a real Lightning Trainer, built from the
job's trainer config, fitting the Tagger over the TaggingDataModule's train loader, i.e.
`finetune.fine_tune`) against a bare PyTorch loop over the same model, from the same initial
weights, over the same batches, with the same AdamW parameter groups and linear schedule.

Three measurements:

- whole runs, interleaved rounds: tokens/s of each (real, non-pad sub-tokens). "step" counts
  from the first batch's start to the last batch's end, "fit" the whole call (Trainer
  set-up, first fetch, tear-down). Both end on identical weights (checked).
- lockstep: one xlprune fit with the bare loop stepping alongside it, batch by batch (the
  bare step runs in a callback, before or after xlprune's step, alternately): per-batch
  pairs a fraction of a second apart, so a shared machine's drift cancels out.
- the same lockstep with the proposed src fixes patched in here (`proposed_fixes`).
- deterministic cost: the bare loop in lockstep three ways, deterministic algorithms off,
  on (what `trainer.deterministic: true` sets), and on with
  `torch.utils.deterministic.fill_uninitialized_memory` off (the proposed fix).

The xlprune side carries everything a job's fit does, the Tagger's head-gate hooks included
(bench_heads measures the gates alone). `run_threads` times the demo's model with 1 and 2
torch threads.
"""

from __future__ import annotations

import tempfile
import time
from contextlib import contextmanager, nullcontext

from common import compose, make_job, median, quiet, run_rounds

MODEL = [
    "model=tiny_bert",
    "model.hidden_size=128",
    "model.num_layers=4",
    "model.num_heads=4",
    "model.intermediate_size=512",
]


def job_for(steps: int, batch: int, cache: str, model: list[str] = MODEL, extra: tuple = ()):
    cfg = compose(
        [
            *model,
            "task=ner",
            "source=[en]",
            "targets=[en]",
            f"batch_size={batch}",
            f"data.sizes.train={steps * batch}",
            "trainer.max_epochs=1",
            "trainer.enable_progress_bar=false",
            "logger=none",
            f"cache_dir={cache}",
            *extra,
        ]
    )
    return make_job(cfg, ["en"])


def datamodule(job):
    from xlprune.data.datamodule import TaggingDataModule
    from xlprune.job.finetune import build_model

    cfg = job.cfg
    _, tokenizer = build_model(job)
    dm = TaggingDataModule(
        tokenizer,
        {"en": job.splits["train"]["en"]},
        {"en": job.splits["dev"]["en"]},
        {"en": job.splits["test"]["en"]},
        job.labels,
        batch_size=cfg.batch_size,
        eval_batch_size=cfg.eval_batch_size,
        max_length=cfg.max_length,
        shuffle=cfg.get("shuffle", False),
        store=job.store,
    )
    dm.setup()
    return dm


class Bare:
    """The bare loop's state: the job's initial model (build_model: same seed, same
    weights), AdamW with the Tagger's parameter groups, the same linear schedule."""

    def __init__(self, job, total_steps: int):
        import torch
        from transformers import get_linear_schedule_with_warmup

        from xlprune.job.finetune import build_model

        optim = job.cfg.optim
        self.model, _ = build_model(job)
        self.model.train()
        decay, no_decay = [], []
        for name, param in self.model.named_parameters():
            (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(param)
        self.opt = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": optim.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=optim.lr,
        )
        warmup = int(optim.warmup_ratio * total_steps)
        self.sched = get_linear_schedule_with_warmup(self.opt, warmup, total_steps)

    def step(self, batch) -> None:
        loss = self.model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            labels=batch["labels"],
        ).loss
        loss.backward()
        self.opt.step()
        self.sched.step()
        self.opt.zero_grad(set_to_none=True)


def deterministic(on: bool, fill: bool = True) -> None:
    import torch
    import torch.utils.deterministic as tud

    torch.use_deterministic_algorithms(on)
    tud.fill_uninitialized_memory = fill


def measurement(starts, ends, cpu, tokens, fit_s, model) -> dict:
    steps = [e - s for s, e in zip(starts, ends, strict=True)]
    return {
        "steps": len(steps),
        "tokens": tokens,
        "step_window_s": ends[-1] - starts[0],
        "step_window_cpu_s": cpu[-1] - cpu[0],
        "fit_s": fit_s,
        "step_tokens_per_s": tokens / (ends[-1] - starts[0]),
        "step_tokens_per_cpu_s": tokens / (cpu[-1] - cpu[0]),
        "fit_tokens_per_s": tokens / fit_s,
        "median_step_ms": median(steps) * 1e3,
        "per_step_s": [round(s, 5) for s in steps],
        "_model": model,
    }


def lightning_variant(job, lockstep=None):
    """`fine_tune` as a job runs it, its steps clocked by a callback. `lockstep(batch, idx)`,
    if given, runs around each step (outside the clock): the lockstep comparison."""
    import pytorch_lightning as pl

    from xlprune.job.finetune import fine_tune

    class StepClock(pl.Callback):
        def __init__(self):
            self.starts, self.ends, self.cpu, self.tokens = [], [], [], 0

        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            if lockstep is not None and batch_idx % 2 == 0:
                lockstep(batch)
            self.starts.append(time.perf_counter())
            self.cpu.append(time.process_time())
            self.tokens += int(batch["attention_mask"].sum())

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            self.ends.append(time.perf_counter())
            self.cpu.append(time.process_time())
            if lockstep is not None and batch_idx % 2 == 1:
                lockstep(batch)

    def run() -> dict:
        clock = StepClock()
        before = job.timing.get("fit", 0.0)
        tagger, _, _ = fine_tune(job, ["en"], ["en"], callbacks=[clock])
        fit_s = job.timing["fit"] - before
        return measurement(clock.starts, clock.ends, clock.cpu, clock.tokens, fit_s, tagger.model)

    return run


def bare_variant(job, loader):
    def run() -> dict:
        deterministic(False)  # a Trainer before us has set it
        bare = Bare(job, len(loader))  # builds the model: outside the clock, as in fine_tune
        t0 = time.perf_counter()
        starts, ends, cpu, tokens = [], [], [], 0
        for batch in loader:
            starts.append(time.perf_counter())
            cpu.append(time.process_time())
            tokens += int(batch["attention_mask"].sum())
            bare.step(batch)
            ends.append(time.perf_counter())
            cpu.append(time.process_time())
        fit_s = time.perf_counter() - t0
        return measurement(starts, ends, cpu, tokens, fit_s, bare.model)

    return run


@contextmanager
def proposed_fixes():
    """The two src changes proposed, applied here only: keep deterministic algorithms but
    skip torch's filling of uninitialised memory, and log the training loss only on steps
    where something reads it (a progress bar, or a logger's every-n-steps write)."""
    import torch.utils.deterministic as tud

    from xlprune.models.tagger import Tagger

    original = Tagger.training_step

    def training_step(self, batch, batch_idx):
        loss = self(batch).loss
        trainer = self.trainer
        due = (trainer.global_step + 1) % trainer.log_every_n_steps == 0
        if trainer.progress_bar_callback is not None or (trainer.loggers and due):
            self.log("train/loss", loss, prog_bar=True, batch_size=batch["input_ids"].shape[0])
        return loss

    Tagger.training_step = training_step
    tud.fill_uninitialized_memory = False
    try:
        yield
    finally:
        Tagger.training_step = original
        tud.fill_uninitialized_memory = True


def lockstep_lightning(job, loader, passes: int, patched: bool = False) -> dict:
    """xlprune's fit with a bare loop stepping alongside on the same batches; `patched`:
    with proposed_fixes()."""
    import torch

    times: dict[str, list[float]] = {"bare": [], "xlprune": []}
    for _ in range(passes):
        bare = Bare(job, len(loader))

        def side_step(batch, bare=bare):
            was = torch.are_deterministic_algorithms_enabled()
            deterministic(False)
            t0 = time.perf_counter()
            bare.step(batch)
            times["bare"].append(time.perf_counter() - t0)
            deterministic(was, fill=not patched)

        with proposed_fixes() if patched else nullcontext():
            r = lightning_variant(job, lockstep=side_step)()
        times["xlprune"] += r["per_step_s"]
    deterministic(False)
    pairs = [b / x for b, x in zip(times["bare"], times["xlprune"], strict=True)]
    return {
        "pairs": len(pairs),
        "ratio_median_per_batch": median(pairs),
        "ratio_of_sums": sum(times["bare"]) / sum(times["xlprune"]),
        "median_step_ms": {k: median(v) * 1e3 for k, v in times.items()},
        "raw_step_s": {k: [round(t, 5) for t in v] for k, v in times.items()},
    }


def lockstep_deterministic(job, loader, passes: int) -> dict:
    """Bare loops in lockstep: deterministic algorithms off / on / on without memory fill."""
    modes = {"off": (False, True), "on": (True, True), "on_no_fill": (True, False)}
    times: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(passes):
        models = {m: Bare(job, len(loader)) for m in modes}
        for i, batch in enumerate(loader):
            names = list(modes)
            names = names[i % 3 :] + names[: i % 3]  # rotate who goes first
            for m in names:
                deterministic(*modes[m])
                t0 = time.perf_counter()
                models[m].step(batch)
                times[m].append(time.perf_counter() - t0)
    deterministic(False)

    def ratio(m):  # throughput relative to deterministic off
        return median(o / t for o, t in zip(times["off"], times[m], strict=True))

    return {
        "pairs": len(times["off"]),
        "throughput_vs_off": {m: ratio(m) for m in modes},
        "ratio_of_sums_vs_off": {m: sum(times["off"]) / sum(times[m]) for m in modes},
        "median_step_ms": {m: median(v) * 1e3 for m, v in times.items()},
        "raw_step_s": {m: [round(t, 5) for t in v] for m, v in times.items()},
    }


def paired_ratio(results: dict, a: str, b: str, key: str) -> list[float]:
    return [x[key] / y[key] for x, y in zip(results[a], results[b], strict=True)]


def run(quick: bool) -> dict:
    import torch

    from xlprune.job.finetune import build_model

    quiet()
    steps, batch = (30, 32) if quick else (100, 32)
    rounds, passes = (2, 1) if quick else (5, 2)
    with tempfile.TemporaryDirectory(prefix="xlprune-bench-") as cache:
        job = job_for(steps, batch, cache)
        warm_job = job_for(8, batch, cache)
        loader = datamodule(job).train_dataloader()
        init_a, init_b = build_model(job)[0].state_dict(), build_model(job)[0].state_dict()
        same_init = all(torch.equal(init_a[k], init_b[k]) for k in init_a)
        variants = {"bare": bare_variant(job, loader), "xlprune": lightning_variant(job)}
        warm = [
            bare_variant(warm_job, datamodule(warm_job).train_dataloader()),
            lightning_variant(warm_job),
        ]
        results = run_rounds(variants, rounds, warmup=lambda: [f() for f in warm])
        lock = lockstep_lightning(job, loader, passes)
        lock_fixed = lockstep_lightning(job, loader, passes, patched=True)
        det = lockstep_deterministic(job, loader, passes)
    # Same computation? Final weights of the last round (dropout follows the seeded RNG).
    final = {n: rs[-1]["_model"].state_dict() for n, rs in results.items()}
    diff = max(float((final["xlprune"][k] - final["bare"][k]).abs().max()) for k in final["bare"])
    for rs in results.values():
        for r in rs:
            r.pop("_model")
    step = paired_ratio(results, "xlprune", "bare", "step_tokens_per_s")
    cpu = paired_ratio(results, "xlprune", "bare", "step_tokens_per_cpu_s")
    fit = paired_ratio(results, "xlprune", "bare", "fit_tokens_per_s")
    vocab = len(init_a["bert.embeddings.word_embeddings.weight"])
    summary = {
        n: {k: median(r[k] for r in rs) for k in rs[0] if k != "per_step_s"}
        for n, rs in results.items()
    }
    return {
        "config": (
            f"BERT 4L 4H hidden128 inter512 (tiny_bert resized, vocab {vocab}), synthetic en "
            f"NER, batch {batch}, {summary['bare']['steps']:.0f} steps, 1 epoch, AdamW lr "
            f"{job.cfg.optim.lr} + linear schedule, conf/trainer/default.yaml (deterministic "
            f"{job.cfg.trainer.deterministic}, progress bar off, logger none); whole runs: "
            f"{rounds} interleaved rounds after a warm-up; lockstep: {passes} passes"
        ),
        "same_initial_weights": same_init,
        "final_weights_max_abs_diff_xlprune_vs_bare": diff,
        "median": summary,
        "ratio_step_throughput": median(step),
        "ratio_step_throughput_cpu_time": median(cpu),
        "ratio_fit_throughput": median(fit),
        "per_round_ratio_step": step,
        "per_round_ratio_step_cpu_time": cpu,
        "per_round_ratio_fit": fit,
        "lockstep": lock,
        "lockstep_with_proposed_fixes": lock_fixed,
        "deterministic_cost": det,
        "raw": results,
        "goal": "xlprune / bare step throughput >= 0.95",
    }


def run_threads(quick: bool) -> dict:
    """Training steps of the demo's model (tiny_bert: 3 layers, hidden 64, batch 16) with 1
    and with 2 torch threads, interleaved in short rounds: on a 2-core machine shared with
    other work, OpenMP's barriers with 2 threads can stall when a core is taken."""
    import torch

    quiet()
    before = torch.get_num_threads()
    rounds, steps = (4, 10) if quick else (8, 20)
    with tempfile.TemporaryDirectory(prefix="xlprune-bench-") as cache:
        job = job_for(steps, 16, cache, model=["model=tiny_bert"], extra=("optim.lr=2e-3",))
        loader = datamodule(job).train_dataloader()

        def with_threads(n):
            fn = bare_variant(job, loader)

            def run():
                torch.set_num_threads(n)
                r = fn()
                r.pop("_model")
                return r

            return run

        raw = run_rounds(
            {"1": with_threads(1), "2": with_threads(2)},
            rounds,
            warmup=with_threads(1),
            budget_s=30 if quick else 60,
        )
    torch.set_num_threads(before)
    steps_ms = {n: [s * 1e3 for r in rs for s in r["per_step_s"]] for n, rs in raw.items()}
    ratios = paired_ratio(raw, "2", "1", "step_tokens_per_s")
    return {
        "config": f"tiny_bert (the demo's model), synthetic en NER, batch 16, {steps} steps "
        f"per round, {len(raw['1'])} rounds (at most {rounds}; none started after 60 s), "
        "bare loop",
        "median_step_ms": {n: median(v) for n, v in steps_ms.items()},
        "max_step_ms": {n: max(v) for n, v in steps_ms.items()},
        "ratio_2_vs_1_threads": median(ratios),
        "per_round_ratio": ratios,
        "raw_step_ms": {n: [round(x, 2) for x in v] for n, v in steps_ms.items()},
    }
