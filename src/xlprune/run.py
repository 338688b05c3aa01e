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
    if setting == "multi":
        return [(list(dict.fromkeys(source + [t])), [t]) for t in targets]
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


def run(cfg: DictConfig) -> dict:
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import instantiate

    quiet_lightning()
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    source, targets = list(cfg.source), list(cfg.targets)
    plan = plan_fine_tunes(cfg.setting.name, source, targets)
    from xlprune.data.corpus import make_source

    spec, data = instantiate(cfg.model), make_source(cfg.data)
    if spec.needs_hub() or getattr(data, "needs_hub", lambda: False)():
        hub.configure(cfg.hub_offline)

    from xlprune.data.corpus import load_corpus
    from xlprune.data.labels import unseen_in_training
    from xlprune.finetune import Job, evaluate, fine_tune
    from xlprune.pruning import choose_heads, mask_callbacks, save_model
    from xlprune.results import FILENAME, versions, write_json_atomic
    from xlprune.store import Store

    langs = list(dict.fromkeys(source + targets))
    train_langs = list(dict.fromkeys(lang for train, _ in plan for lang in train))
    timing: dict = {}
    with timed(timing, "data"):
        corpus = load_corpus(cfg, data, langs, [g for g in targets if g not in source])
    unseen = unseen_in_training(corpus.splits, train_langs)
    splits, labels = corpus.splits, corpus.labels
    texts = [" ".join(words) for lang in langs for words, _ in splits["train"][lang]]
    job = Job(cfg, spec, labels, texts, Store(cfg.cache_dir), splits, timing)
    remove, ranking, grid = choose_heads(job)
    logger = make_logger(cfg, out_dir)
    metrics: dict = {"dev": {}, "test": {}}
    extra: dict = {}
    try:
        for train_langs, eval_langs in plan:
            callbacks, curve = mask_callbacks(job, train_langs, eval_langs)
            tagger, trainer, dm = fine_tune(
                job, train_langs, eval_langs, remove, logger or False, callbacks
            )
            for split, by_lang in evaluate(job, tagger, trainer, dm, eval_langs).items():
                metrics[split].update(by_lang)
            if curve is not None:
                extra.setdefault("mask_curve", []).extend(curve.results(train_langs))
                ranking = ranking or curve.ranking()
            if cfg.pruning.save:
                extra.setdefault("saved_models", []).append(
                    save_model(tagger, dm, out_dir, train_langs)
                )
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
            "fine_tunes": len(plan),
            "data_notes": dict(corpus.notes, unseen_labels=unseen),
            **extra,
            "timing": timing,
            "versions": versions(),
        }
        finish_logger(logger, cfg, results)
        write_json_atomic(out_dir / FILENAME, results)
    finally:
        close_logger(logger)
    log.info("results: %s", out_dir / FILENAME)
    return results


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
