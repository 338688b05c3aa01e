"""Before a sweep starts: its size (jobs, fine-tunes, ranking fine-tunes) and a time
estimate from a short calibration (a few real training steps of the first job's model).
What it measured (time per fine-tune, the longest job, peak memory) is kept in the sweep's
folder as .xlprune/plan.json: a cluster launcher sizes its jobs from it."""

import time
from dataclasses import dataclass
from pathlib import Path

from hydra.experimental.callback import Callback

from xlprune.report.sweep import planned_jobs
from xlprune.sweep.progress import clock

PLAN_FILE = ".xlprune/plan.json"


def job_configs(config, jobs: list[list[str]]):
    from hydra import compose

    for overrides in jobs:
        yield compose(config_name=config.hydra.job.config_name, overrides=list(overrides))


def count(cfgs) -> dict:
    """Jobs, those already done (their results stored: a rerun copies them), and what the
    others run: fine-tunes and distinct rankings (at most: some may already be stored)."""
    import json

    from xlprune.config.rankings import SCORE_METHOD
    from xlprune.job.context import plan_fine_tunes
    from xlprune.job.ranking import method_options
    from xlprune.job.run import stored_result

    jobs = fine_tunes = guided = guided_full = done = 0
    longest = (0, 0)  # (fine-tunes, ranking fine-tunes) of the job that runs the most
    rankings, steps = set(), []
    for cfg in cfgs:
        jobs += 1
        if stored_result(cfg) is not None:  # a rerun copies it: no fine-tune, no ranking
            done += 1
            continue
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
        longest = max(longest, (per_job * trials, ranks), key=sum)
        if needs and not rk.get("file"):
            method = SCORE_METHOD.get(rk.method, rk.method)
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
                        json.dumps(method_options(cfg), sort_keys=True),
                    )
                )
        steps.append(cfg)
    return {
        "jobs": jobs,
        "done": done,
        "fine_tunes": fine_tunes,
        "rankings": len(rankings),
        "longest_job_fine_tunes": longest[0],
        "longest_job_rankings": longest[1],
        "guided": guided,
        "guided_full": guided_full,
        "first": steps[:3],  # calibration candidates: the first job may be one that fails
    }


@dataclass
class Estimate:
    fine_tune_s: float  # one of the job's fine-tunes, evaluation (and masked curve) included
    ranking_s: float  # one ranking fine-tune: a fine-tune and its scoring passes


def estimate(cfg, workers: int | None = None, steps: int = 3) -> Estimate:
    """The first job's fine-tunes, estimated from the job's own set-up (prepare_job, its
    model, DataModule, Tagger and configured Trainer, on this machine's CPU when the
    config asks for a GPU that is not here): `steps` real training steps after one warm-up
    with the threads one job will get, scaled to its epochs and batches, plus building the
    model and tokenising; an evaluation batch counts a third of a training step (forward
    only) at the eval batch size. Fault points stay off: they are meant for the jobs."""
    import torch

    from xlprune.infra import faults, threads

    saved = torch.get_num_threads()
    torch.set_num_threads(threads.job_threads(workers))
    try:
        with faults.suppressed():
            return _estimate(cfg, steps)
    finally:
        torch.set_num_threads(saved)


def _estimate(cfg, steps: int) -> Estimate:
    import torch

    from xlprune.callbacks.step_times import StepTimes
    from xlprune.config.rankings import SCORE_METHOD
    from xlprune.heads import head_grid
    from xlprune.heads.iterative import importance_passes
    from xlprune.job.context import build_model, plan_fine_tunes, prepare_job
    from xlprune.job.finetune import make_datamodule, make_tagger, make_trainer
    from xlprune.job.loggers import wants_logger
    from xlprune.job.run import quiet_lightning

    quiet_lightning()  # as in a job: its banners say nothing about the sweep
    job = prepare_job(cfg)
    plan = plan_fine_tunes(cfg.setting.name, list(cfg.source), list(cfg.targets))
    train_langs, eval_langs = plan[0]
    start = time.perf_counter()
    model, tokenizer = build_model(job)
    rk, score = cfg.ranking, SCORE_METHOD.get(cfg.ranking.method)
    targeted = score == "shapley" and rk.get("on") == "target"
    valued = list(cfg.targets) if targeted else list(cfg.source[:1])
    dm = make_datamodule(
        job, tokenizer, train_langs, eval_langs, dev_in_fit=False, extra_dev=valued
    )
    dm.setup()
    setup_s = time.perf_counter() - start
    timer = StepTimes()
    here = {}
    if (
        cfg.trainer.get("accelerator") not in (None, "cpu", "auto")
        and not torch.cuda.is_available()
    ):
        here = {"accelerator": "cpu", "devices": 1, "precision": "32-true"}
    trainer = make_trainer(
        job, callbacks=[timer], max_steps=steps + 1, enable_progress_bar=False, **here
    )
    trainer.fit(make_tagger(job, model), datamodule=dm)
    per_step = timer.mean(skip=1)
    batches = limited(cfg.trainer.get("limit_train_batches"), len(dm.train_dataloader()))
    train_s = per_step * cfg.trainer.max_epochs * batches
    eval_batch_s = per_step * cfg.eval_batch_size / cfg.batch_size / 3

    def batches_of(split: str, langs, limit) -> int:  # Lightning limits each loader
        return sum(limited(limit, len(dm.loader(split, g))) for g in langs)

    dev = batches_of("dev", eval_langs, cfg.trainer.get("limit_val_batches"))
    test = batches_of("test", eval_langs, cfg.trainer.get("limit_test_batches"))
    passes = cfg.trainer.max_epochs if wants_logger(cfg) else 1
    curve = cfg.pruning.max_k + 1 if cfg.pruning.mode in ("mask", "guided") else 0
    fine_tune_s = setup_s + train_s + eval_batch_s * (dev * (passes + curve) + test)
    # a ranking fine-tune trains on one source and scores heads over all of its
    # ranking.split (a Shapley game over the targets: their dev)
    split = "dev" if targeted else str(rk.get("split") or "dev")
    scored = batches_of(split, valued, None)
    layers, heads = head_grid(model)
    rounds = importance_passes(layers * heads, float(rk.get("step") or 0.1))
    # a gradient pass is a forward and a backward: about three forward passes
    scoring = {"gradient": 3, "textpruner": 3, "iterative": 3 * rounds}
    scoring["shapley"] = int(rk.get("samples") or 0)  # coalitions, each a pass per language
    ranking_s = fine_tune_s + eval_batch_s * scored * scoring.get(score, 0)
    return Estimate(fine_tune_s, ranking_s)


def limited(limit, batches: int) -> int:
    """Batches a loop runs under Lightning's limit_*_batches (a count or a fraction)."""
    import math

    if limit is None:
        return batches
    if isinstance(limit, float):
        return max(1, math.floor(batches * limit)) if limit > 0 else 0
    return min(int(limit), batches)


def calibrate(cfgs: list, workers: int | None = None) -> Estimate:
    """The estimate from the first of `cfgs` that can be built; the first one's error when
    none can."""
    first = None
    for cfg in cfgs:
        try:
            return estimate(cfg, workers)
        except Exception as err:
            first = first or err
    raise first or ValueError("no jobs")


def side_by_side(config, jobs: int) -> int:
    """How many jobs run at once on this machine (hydra/launcher=joblib's n_jobs)."""
    from xlprune.infra.threads import workers_for

    launcher = config.hydra.get("launcher") or {}
    workers = workers_for(launcher.get("n_jobs")) if "n_jobs" in launcher else None
    return max(1, min(workers or 1, jobs))


def peak_memory_mb() -> float:
    """This process's peak resident memory so far (the calibration built and trained the
    first job's model in it, so this bounds what one job needs, roughly)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def write_plan(config, plan: dict) -> None:
    from xlprune.job.results import write_json_atomic

    write_json_atomic(Path(str(config.hydra.sweep.dir)) / PLAN_FILE, plan)


def read_plan(sweep_dir) -> dict | None:
    import json

    try:
        return json.loads((Path(str(sweep_dir)) / PLAN_FILE).read_text())
    except (OSError, ValueError):
        return None


def reason(err: BaseException) -> str:
    from xlprune.infra.errors import one_line

    return one_line(f"{type(err).__name__}: {err}", 200)


class SweepPlan(Callback):
    def on_multirun_start(self, config, **kwargs) -> None:
        jobs = planned_jobs(config.hydra)
        if not jobs:
            print("[xlprune] sweep size unknown (not Hydra's basic sweeper)", flush=True)
            return
        try:
            cfgs = list(job_configs(config, jobs))
        except Exception as err:  # the sweep itself reports bad configs, job by job
            print(f"[xlprune] sweep of {len(jobs)} jobs ({reason(err)})", flush=True)
            return
        from xlprune.config import hf_hub as hub
        from xlprune.infra.errors import XlpruneError, fail

        try:
            hub.check_sweep(cfgs)  # every job's models and datasets, before any job starts
        except XlpruneError as err:  # from a callback Hydra would print a traceback
            fail(str(err))
        try:
            size = count(cfgs)
        except Exception as err:
            print(f"[xlprune] sweep of {len(jobs)} jobs ({reason(err)})", flush=True)
            return
        line = (
            f"[xlprune] sweep: {size['jobs']} jobs, {size['fine_tunes']} fine-tunes and at "
            f"most {size['rankings']} ranking fine-tunes"
        )
        if size["done"]:
            line += f" ({size['done']} jobs already done: their stored results are copied)"
        if size["guided"]:
            line += (
                f" (guided jobs: {size['guided']} fine-tunes instead of {size['guided_full']} "
                "re-training every k)"
            )
        plan = {k: v for k, v in size.items() if k != "first"}
        if not size["fine_tunes"]:
            line += "; nothing left to train"
        else:
            try:
                side = side_by_side(config, size["jobs"] - size["done"])
                found = calibrate(size["first"], side if side > 1 else None)
                per = found.fine_tune_s
                total = (per * size["fine_tunes"] + found.ranking_s * size["rankings"]) / side
                at_once = f", {side} at a time" if side > 1 else ""
                line += (
                    f"; about {clock(total)} on this machine ({per:.1f} s per fine-tune{at_once})"
                )
                plan.update(
                    seconds_per_fine_tune=round(per, 3),
                    seconds_per_ranking=round(found.ranking_s, 3),
                    estimate_s=round(total, 1),
                    longest_job_s=round(
                        per * size["longest_job_fine_tunes"]
                        + found.ranking_s * size["longest_job_rankings"],
                        1,
                    ),
                    peak_memory_mb=round(peak_memory_mb()),
                )
            except Exception as err:
                line += f"; no time estimate ({reason(err)})"
        print(line, flush=True)
        try:
            write_plan(config, plan)
        except OSError as err:  # the sweep's own checks say more about its folder
            print(f"[xlprune] plan not kept: {reason(err)}", flush=True)
