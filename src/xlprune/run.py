"""One job, top to bottom: data -> model -> (ranking -> remove heads) -> fine-tune ->
evaluate -> results.json."""

import logging
import time
from contextlib import contextmanager
from pathlib import Path

from omegaconf import DictConfig

from xlprune import hub
from xlprune.errors import XlpruneError

log = logging.getLogger(__name__)


def plan_fine_tunes(setting: str, source: list[str], targets: list[str]) -> list[tuple]:
    """(training languages, evaluated languages) per fine-tune. Cross-lingual: one model
    trained on the sources, scored on sources and every target. Multi-lingual: per target,
    a model trained on sources + that target, scored on it. Multi-source: several sources,
    scored on held-out targets only (the paper's Table 6)."""
    for key, langs in (("source", source), ("targets", targets)):
        if not langs or not all(isinstance(x, str) and x for x in langs):
            raise XlpruneError(f"{key}={langs}: give a non-empty list of language codes")
    if setting == "cross":
        return [(list(source), list(dict.fromkeys(source + targets)))]
    if setting == "multi":  # a target that is a source is the cross-lingual run's
        plan = [(list(dict.fromkeys(source + [t])), [t]) for t in targets if t not in source]
        if not plan:
            raise XlpruneError(
                f"setting=multi: every target is a source ({targets}); "
                "give a target to train together with the sources"
            )
        return plan
    if setting == "multi_source":
        if len(source) < 2 or set(source) & set(targets):
            raise XlpruneError(
                f"setting=multi_source: give two or more source languages and held-out "
                f"targets not among them (source={source}, targets={targets})"
            )
        return [(list(source), list(targets))]
    raise XlpruneError(f"setting={setting}: unknown; choose cross, multi or multi_source")


@contextmanager
def timed(timing: dict, phase: str):
    start = time.perf_counter()
    yield
    timing[phase] = round(timing.get(phase, 0.0) + time.perf_counter() - start, 3)


def quiet_lightning() -> None:
    """Keep job logs to what matters: Lightning's banners, tips and known-harmless
    warnings (we validate and test with explicit loaders) say nothing about the run."""
    import warnings

    logging.getLogger("pytorch_lightning.utilities.rank_zero").setLevel(logging.WARNING)
    for message in (".*no `val_dataloader`.*", ".*LeafSpec.*", ".*does not have many workers.*"):
        warnings.filterwarnings("ignore", message=message)


def result_key(cfg: DictConfig) -> str:
    """What determines a job's results: its whole config but where it logs and caches."""
    import hashlib
    import json

    from omegaconf import OmegaConf

    data = OmegaConf.to_container(cfg, resolve=True)
    for key in ("logger", "cache_dir", "hub_offline", "resume"):
        data.pop(key, None)
    data.get("trainer", {}).pop("enable_progress_bar", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:24]


def share_threads() -> None:
    """With parallel local workers (hydra/launcher=joblib), divide the cores among them
    instead of letting every worker's torch take them all."""
    import os

    from hydra.core.hydra_config import HydraConfig

    launcher = HydraConfig.get().launcher
    workers = launcher.get("n_jobs") if "n_jobs" in launcher else None
    if workers is None:
        return
    import torch

    cores = os.cpu_count() or 1
    workers = workers if workers > 0 else cores
    torch.set_num_threads(max(1, cores // workers))


def run(cfg: DictConfig) -> dict:
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import instantiate

    from xlprune.results import FILENAME, read_results, versions, write_json_atomic
    from xlprune.store import Store

    quiet_lightning()
    share_threads()
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    store, key = Store(cfg.cache_dir), result_key(cfg)
    finished = read_results(store.path("results", key) / FILENAME)
    if cfg.get("resume", True) and finished is not None:  # a re-run of a stopped sweep
        finished["resumed_from"] = str(store.path("results", key))  # this run trained nothing
        write_json_atomic(out_dir / FILENAME, finished)
        log.info("already done, results copied: %s", out_dir / FILENAME)
        return finished
    source, targets = list(cfg.source), list(cfg.targets)
    plan = plan_fine_tunes(cfg.setting.name, source, targets)
    from xlprune.data.corpus import make_source

    spec, data = instantiate(cfg.model), make_source(cfg.data)
    if spec.needs_hub() or getattr(data, "needs_hub", lambda: False)():
        hub.configure(cfg.hub_offline)

    from xlprune.data.corpus import load_corpus
    from xlprune.data.labels import unseen_in_training
    from xlprune.finetune import Job
    from xlprune.pruning import choose_heads

    langs = list(dict.fromkeys(source + targets))
    train_langs = list(dict.fromkeys(lang for train, _ in plan for lang in train))
    timing: dict = {}
    with timed(timing, "data"):
        corpus = load_corpus(cfg, data, langs, [g for g in targets if g not in source])
    unseen = unseen_in_training(corpus.splits, train_langs)
    splits, labels = corpus.splits, corpus.labels
    texts = [" ".join(words) for lang in langs for words, _ in splits["train"][lang]]
    job = Job(cfg, spec, labels, texts, store, splits, timing)
    remove, ranking, grid = choose_heads(job)
    logger = make_logger(cfg, out_dir)
    try:
        if cfg.pruning.mode == "search":
            remove, metrics, extra = search_k(job, plan, ranking, grid, logger, out_dir)
        else:
            metrics, extra = run_trial(job, plan, remove, logger, out_dir)
            ranking = ranking or extra.pop("curve_ranking", None)
        results = {
            "model": cfg.model.name,
            "task": cfg.task.name,
            "setting": cfg.setting.name,
            "data": cfg.data.name,
            "source": source,
            "targets": targets,
            "seed": cfg.seed,
            "prune_count": len(remove),
            "pruned_heads": [list(h) for h in remove],
            "num_heads_total": grid[0] * grid[1],
            "ranking": ranking.record() if ranking else None,
            "labels": labels,
            "metric": cfg.task.metric,
            "metrics": metrics,
            "fine_tunes": extra.pop("fine_tunes"),
            "data_notes": dict(corpus.notes, unseen_labels=unseen),
            **extra,
            "timing": timing,
            "versions": versions(),
        }
        finish_logger(logger, cfg, results)
        write_json_atomic(out_dir / FILENAME, results)
        store.build_once("results", key, lambda d: write_json_atomic(d / FILENAME, results))
    finally:
        close_logger(logger)
    log.info("results: %s", out_dir / FILENAME)
    return results


def run_trial(job, plan, remove, logger, out_dir: Path) -> tuple[dict, dict]:
    """The job's fine-tunes with `remove` heads gone: (metrics, extras for results.json)."""
    from xlprune.finetune import evaluate, fine_tune
    from xlprune.pruning import mask_callbacks, save_model

    metrics: dict = {"dev": {}, "test": {}}
    extra: dict = {"fine_tunes": len(plan)}
    for train_langs, eval_langs in plan:
        callbacks, curve = mask_callbacks(job, train_langs, eval_langs)
        tagger, trainer, dm = fine_tune(
            job, train_langs, eval_langs, remove, logger or False, callbacks
        )
        for split, by_lang in evaluate(job, tagger, trainer, dm, eval_langs).items():
            metrics[split].update(by_lang)
        if curve is not None:
            extra.setdefault("mask_curve", []).extend(curve.results(train_langs))
            extra["curve_ranking"] = curve.ranking()
        if job.cfg.pruning.save:
            extra.setdefault("saved_models", []).append(
                save_model(tagger, dm, out_dir, train_langs)
            )
    return metrics, extra


def search_k(job, plan, ranking, grid, logger, out_dir: Path):
    """pruning.mode=search: k = 0, 1, ... until dev stops improving (search.patience) or
    search.max_k; the job's metrics are those at the dev-selected k."""
    from xlprune.metrics import primary
    from xlprune.search import mean_score, select, should_stop

    cfg = job.cfg
    name, targets = primary(cfg.task.metric), list(cfg.targets)
    max_k = min(cfg.search.max_k, grid[0] * grid[1])
    trials, runs, dev_scores = [], {}, []
    for k in range(max_k + 1):
        metrics, _ = run_trial(job, plan, ranking.lowest(k), logger, out_dir)
        runs[k] = metrics
        dev_scores.append(mean_score(metrics, "dev", targets, name))
        trials.append(
            {"k": k, "dev": dev_scores[-1], "test": mean_score(metrics, "test", targets, name)}
        )
        log.info("search: k=%d dev %.4f", k, dev_scores[-1])
        if k > 0 and should_stop(dev_scores, cfg.search.patience):
            break
    chosen = select(trials)
    k = chosen["dev_selected"]["k"]
    extra = {
        "fine_tunes": len(plan) * len(trials),
        "search": {
            "patience": cfg.search.patience,
            "max_k": max_k,
            "metric": name,
            "score": "mean over targets",
            "trials": trials,
            **chosen,
        },
    }
    return ranking.lowest(k), runs[k], extra


def make_logger(cfg: DictConfig, out_dir: Path):
    """The configured Lightning logger or None; a W&B run is named after the job and
    grouped by its sweep."""
    if not cfg.get("logger") or "_target_" not in cfg.logger:
        return None
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from hydra.utils import instantiate

    if not cfg.logger._target_.endswith("WandbLogger"):
        return instantiate(cfg.logger)
    hc = HydraConfig.get()
    extra = {"name": hc.job.override_dirname or out_dir.name}
    if hc.mode == RunMode.MULTIRUN:
        extra["group"] = str(Path(hc.sweep.dir).as_posix()).replace("/", "_")
    return instantiate(cfg.logger, **extra)


def finish_logger(logger, cfg: DictConfig, results: dict) -> None:
    """The whole config and the final metrics go to the logger, flat and readable."""
    if logger is None:
        return
    from omegaconf import OmegaConf

    logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    flat = {
        f"final/{split}/{lang}/{name}": value
        for split, by_lang in results["metrics"].items()
        for lang, values in by_lang.items()
        for name, value in values.items()
    }
    flat["final/prune_count"] = results["prune_count"]
    logger.log_metrics(flat)
    if hasattr(logger, "experiment") and hasattr(logger.experiment, "summary"):
        logger.experiment.summary.update(flat)
    logger.save()


def close_logger(logger) -> None:
    if logger is not None and type(logger).__name__ == "WandbLogger":
        import wandb

        wandb.finish()
