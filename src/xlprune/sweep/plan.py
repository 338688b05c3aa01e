"""Before a sweep starts: its size (jobs, fine-tunes, ranking fine-tunes) and a time
estimate from a short calibration (a few real training steps of the first job's model).
What it measured (time per fine-tune, the longest job, peak memory) is kept in the sweep's
folder as .xlprune/plan.json: a cluster launcher sizes its jobs from it."""

import time
from pathlib import Path

from hydra.experimental.callback import Callback

from xlprune.report.sweep import planned_jobs

PLAN_FILE = ".xlprune/plan.json"


def job_configs(config, jobs: list[list[str]]):
    from hydra import compose

    for overrides in jobs:
        yield compose(config_name=config.hydra.job.config_name, overrides=list(overrides))


def count(cfgs) -> dict:
    """Jobs, fine-tunes they run, and distinct rankings they need (at most: some may
    already be stored)."""
    from xlprune.run import plan_fine_tunes

    jobs = fine_tunes = longest = guided = guided_full = 0
    rankings, steps = set(), []
    for cfg in cfgs:
        jobs += 1
        per_job = len(plan_fine_tunes(cfg.setting.name, list(cfg.source), list(cfg.targets)))
        p, rk = cfg.pruning, cfg.ranking
        trials = {"search": cfg.search.max_k + 1, "guided": 1 + cfg.guided.candidates}
        trials = trials.get(p.mode, 1)
        fine_tunes += per_job * trials
        if p.mode == "guided":  # against re-training every k = 0..max_k, as search would
            heads = cfg.model.get("num_layers", 0) * cfg.model.get("num_heads", 0)
            guided += per_job * trials
            guided_full += per_job * (min(p.max_k, heads or p.max_k) + 1)
        needs = (p.count or p.mode in ("search", "guided")) and not p.heads
        needs = needs and rk.method != "random"
        if p.mode == "guided" and cfg.setting.name == "cross" and len(cfg.source) == 1:
            needs = False  # its unpruned fine-tune is the ranking fine-tune
        # a job may also run the ranking fine-tunes it needs (one per source language)
        ranks = len([rk.use] if rk.get("use") else cfg.source) if needs else 0
        longest = max(longest, per_job * trials + ranks)
        if needs and not rk.get("file"):
            method = "textpruner" if rk.method == "textpruner" else "gradient"
            for lang in [rk.use] if rk.get("use") else cfg.source:
                rankings.add(
                    (
                        cfg.model.name,
                        str(cfg.model.get("name_or_path")),
                        cfg.task.name,
                        cfg.data.name,
                        lang,
                        cfg.seed,
                        method,
                        rk.split,
                    )
                )
        steps.append(cfg)
    return {
        "jobs": jobs,
        "fine_tunes": fine_tunes,
        "rankings": len(rankings),
        "longest_job_fine_tunes": longest,
        "guided": guided,
        "guided_full": guided_full,
        "first": steps[:3],  # calibration candidates: the first job may be one that fails
    }


def seconds_per_fine_tune(cfg, steps: int = 3) -> float:
    """Time `steps` optimizer steps of the first job's model on its own training batches,
    scaled to its epochs and training-set size (evaluation adds roughly a tenth)."""
    import math

    import torch
    from hydra.utils import instantiate

    from xlprune import hub
    from xlprune.data.corpus import all_words, load_corpus, make_source
    from xlprune.data.datamodule import TaggingDataModule
    from xlprune.store import Store

    hub.check_sweep([cfg])  # before the model or data reads the hub's settings
    spec, data = instantiate(cfg.model), make_source(cfg.data)
    langs = list(dict.fromkeys([*cfg.source, *cfg.targets]))
    corpus = load_corpus(cfg, data, langs, [])
    texts = [" ".join(w) for g in langs for w, _ in corpus.splits["train"][g]]
    model, tokenizer = spec.build(
        labels=corpus.labels,
        texts=texts,
        store=Store(cfg.cache_dir),
        sentences=all_words(corpus.splits),
    )
    train = {g: corpus.splits["train"][g] for g in cfg.source}
    dm = TaggingDataModule(
        tokenizer, train, {}, {}, corpus.labels, cfg.batch_size, max_length=cfg.max_length
    )
    dm.setup()
    loader = dm.train_dataloader()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr)
    model.train()
    batches = [b for _, b in zip(range(steps + 1), loader, strict=False)]
    start = None
    for i, batch in enumerate(batches):
        if i == 1:
            start = time.perf_counter()  # the first step warms up
        loss = model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            labels=batch["labels"],
        ).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    per_step = (time.perf_counter() - start) / max(1, len(batches) - 1)
    return 1.1 * per_step * cfg.trainer.max_epochs * math.ceil(len(loader.dataset) / cfg.batch_size)


def clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def calibrate(cfgs: list) -> float:
    """Seconds per fine-tune, from the first of `cfgs` that can be built; the first
    one's error when none can."""
    first = None
    for cfg in cfgs:
        try:
            return seconds_per_fine_tune(cfg)
        except Exception as err:
            first = first or err
    raise first or ValueError("no jobs")


def peak_memory_mb() -> float:
    """This process's peak resident memory so far (the calibration built and trained the
    first job's model in it, so this bounds what one job needs, roughly)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def write_plan(config, plan: dict) -> None:
    from xlprune.results import write_json_atomic

    write_json_atomic(Path(str(config.hydra.sweep.dir)) / PLAN_FILE, plan)


def read_plan(sweep_dir) -> dict | None:
    import json

    try:
        return json.loads((Path(str(sweep_dir)) / PLAN_FILE).read_text())
    except (OSError, ValueError):
        return None


def reason(err: BaseException) -> str:
    from xlprune.errors import one_line

    return one_line(f"{type(err).__name__}: {err}", 200)


class SweepPlan(Callback):
    def on_multirun_start(self, config, **kwargs) -> None:
        jobs = planned_jobs(config.hydra)
        if not jobs:
            print("[xlprune] sweep size unknown (not Hydra's basic sweeper)", flush=True)
            return
        try:
            cfgs = list(job_configs(config, jobs))
            size = count(cfgs)
        except Exception as err:  # the sweep itself reports bad configs, job by job
            print(f"[xlprune] sweep of {len(jobs)} jobs ({reason(err)})", flush=True)
            return
        from xlprune import hub
        from xlprune.errors import XlpruneError, fail

        try:
            hub.check_sweep(cfgs)  # every job's models and datasets, before any job starts
        except XlpruneError as err:  # from a callback Hydra would print a traceback
            fail(str(err))
        line = (
            f"[xlprune] sweep: {size['jobs']} jobs, {size['fine_tunes']} fine-tunes and at "
            f"most {size['rankings']} ranking fine-tunes"
        )
        if size["guided"]:
            line += (
                f" (guided jobs: {size['guided']} fine-tunes instead of {size['guided_full']} "
                "re-training every k)"
            )
        plan = {k: v for k, v in size.items() if k != "first"}
        try:
            per = calibrate(size["first"])
            total = per * (size["fine_tunes"] + size["rankings"])
            line += f"; about {clock(total)} on this machine ({per:.1f} s per fine-tune)"
            plan.update(
                seconds_per_fine_tune=round(per, 3),
                longest_job_s=round(per * size["longest_job_fine_tunes"], 1),
                peak_memory_mb=round(peak_memory_mb()),
            )
        except Exception as err:
            line += f"; no time estimate ({reason(err)})"
        print(line, flush=True)
        try:
            write_plan(config, plan)
        except OSError as err:  # the sweep's own checks say more about its folder
            print(f"[xlprune] plan not kept: {reason(err)}", flush=True)
