"""One job, top to bottom: data -> model -> (ranking -> remove heads) -> fine-tune ->
evaluate -> results.json."""

import logging
from pathlib import Path

from omegaconf import DictConfig

from xlprune.infra.errors import XlpruneError

log = logging.getLogger(__name__)


def quiet_lightning() -> None:
    """Keep job logs to what matters: Lightning's banners, tips and known-harmless
    warnings (we validate and test with explicit loaders) say nothing about the run."""
    import warnings

    logging.getLogger("pytorch_lightning.utilities.rank_zero").setLevel(logging.WARNING)
    # "Received SIGTERM": the job's own line says what a signal stopped (xlprune.infra.signals)
    logging.getLogger("pytorch_lightning.trainer.connectors.signal_connector").setLevel(
        logging.WARNING
    )
    for message in (
        ".*no `val_dataloader`.*",
        ".*LeafSpec.*",
        ".*does not have many workers.*",
        ".*The `srun` command is available.*",  # xlprune's SLURM launcher runs the jobs
        ".*Total length of `list` across ranks is zero.*",  # fit without dev (no logger)
    ):
        warnings.filterwarnings("ignore", message=message)


def result_key(cfg: DictConfig, inputs: str = "") -> str:
    """What determines a job's results: its whole config but where it logs and caches, and
    `inputs` (input_fingerprint: the data files and model folder the config points at)."""
    from omegaconf import OmegaConf

    from xlprune.infra.store import key as store_key
    from xlprune.job.ranking import method_options

    # left out before resolving: the logger's folder is Hydra's runtime one, unknown to
    # the sweep plan, which looks the same key up before any job runs; the callbacks are
    # derived from the keys below (config.checks.check_callbacks)
    ignored = ("logger", "cache_dir", "hub_offline", "resume", "min_free_gb", "hydra")
    kept = OmegaConf.masked_copy(cfg, [k for k in cfg if k not in (*ignored, "callbacks")])
    data = OmegaConf.to_container(kept, resolve=True)
    data.get("trainer", {}).pop("enable_progress_bar", None)
    # of the ranking, what its method uses: a sweep over ranking.granularity does not
    # re-train the shapley or random jobs, whose results it does not change
    rk = data.pop("ranking", None) or {}
    used = ("method", "split", "normalise", "combine", "use", "file")
    data["ranking"] = {k: rk.get(k) for k in used} | method_options(cfg)
    data["inputs"] = inputs
    return store_key(**data)


def input_fingerprint(cfg: DictConfig, data) -> str:
    """What the config names but does not hold: the bytes of the job's data files and the
    files of a local model folder (names, sizes, modification times), so a finished result
    is not reused after the data was corrected or the model saved again."""
    import hashlib

    from xlprune.data.corpus import languages
    from xlprune.infra.checksums import file_digest

    sha = hashlib.sha256()
    if hasattr(data, "path") and hasattr(data, "pattern"):  # files on disk (FileSource)
        for lang in languages(cfg):
            for split in ("train", "dev", "test"):
                path = data.path(lang, split) if data.pattern.get(split) else None
                if path is not None and path.is_file():
                    sha.update(f"{lang}/{split}:{file_digest(path)}\0".encode())
    folder = Path(str(cfg.model.get("name_or_path") or "")).expanduser()
    if cfg.model.get("name_or_path") and folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            stat = path.stat()
            sha.update(f"{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}\0".encode())
    return sha.hexdigest()


def local_workers() -> int | None:
    """How many jobs the launcher runs side by side on this machine (hydra/launcher=joblib),
    or None for one after another."""
    from hydra.core.hydra_config import HydraConfig

    from xlprune.infra import threads

    launcher = HydraConfig.get().launcher
    return threads.workers_for(launcher.get("n_jobs") if "n_jobs" in launcher else None)


def share_threads(workers: int | None) -> None:
    """torch's threads: the CPUs this job was given (affinity, SLURM_CPUS_PER_TASK, a cgroup
    quota), divided among parallel local workers; logged by xlprune.infra.threads."""
    from xlprune.infra import threads

    threads.apply(workers)


def side_by_side(workers: int | None) -> bool:
    """Jobs whose output interleaves (parallel local workers) or goes to files (a cluster
    launcher): progress bars there are noise, so they are turned off."""
    from hydra.core.hydra_config import HydraConfig

    target = str(HydraConfig.get().launcher.get("_target_", ""))
    return (workers or 1) > 1 or "submitit" in target or "slurm" in target.lower()


def start(cfg: DictConfig) -> Path:
    """Before any work: quiet logs, no secrets in what the job writes, and a config and
    output folder that can finish. Returns the job's output folder. Nothing heavy is
    imported yet: bad data or languages fail in about a second (ready_to_train follows)."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from xlprune.config.checks import check_job
    from xlprune.infra.secrets import redact_logs, remember_config, scrub_argv, scrub_files

    quiet_lightning()
    if side_by_side(local_workers()):
        cfg.trainer.enable_progress_bar = False
    hc = HydraConfig.get()
    out_dir = Path(hc.runtime.output_dir)
    remember_config(OmegaConf.to_container(cfg, resolve=False))
    redact_logs()
    scrub_argv()
    multirun = getattr(hc.mode, "name", None) == "MULTIRUN"
    first = multirun and str(hc.job.get("num", "")) == "0"
    scrub_files(out_dir, hc.sweep.dir if first else None)
    check_job(cfg, out_dir, "hydra.sweep.dir" if multirun else "hydra.run.dir")
    return out_dir


def ready_to_train(cfg: DictConfig) -> None:
    """Once the data has been read and checked, before any model is built: torch's
    threads shared with the other jobs here, and a trainer config that builds."""
    share_threads(local_workers())
    check_trainer(cfg)


def check_trainer(cfg: DictConfig) -> None:
    """The trainer config builds, on this machine, into one process: before tokenisation
    and the first fine-tune (a ranking's included), not when that fine-tune starts."""
    from hydra.utils import instantiate

    from xlprune.infra.errors import one_line

    try:
        trainer = instantiate(cfg.trainer, logger=False, enable_progress_bar=False)
    except Exception as err:  # Lightning's own checks (devices, precision, unknown keys)
        cause = err.__cause__ or err
        raise XlpruneError(
            f"trainer: {one_line(cause)[:300]}; check the trainer.* keys and the trainer= choice"
        ) from None
    if trainer.world_size > 1:
        raise XlpruneError(
            f"trainer: {trainer.world_size} processes (trainer.devices={cfg.trainer.devices}); "
            "xlprune scores a job in one process (evaluation is not gathered across devices), "
            "so use trainer.devices=1 and run jobs side by side (hydra/launcher=joblib, slurm)"
        )


def finished_result(cfg: DictConfig, store, key: str) -> dict | None:
    """A sound stored result of this very config (a re-run of a stopped sweep), or None."""
    from xlprune.job.results import FILENAME, read_results
    from xlprune.job.saving import saved_models_damaged

    if not cfg.get("resume", True) or (entry := store.entry("results", key)) is None:
        return None
    finished = read_results(entry / FILENAME)
    if finished is None or saved_models_damaged(finished):
        return None  # incomplete, or its saved models are not what it wrote: run again
    return dict(finished.to_json(), resumed_from=str(entry))  # this run trained nothing


def stored_result(cfg: DictConfig) -> dict | None:
    """The sound stored result of this job's config, when a sweep (or a rerun) already
    has it; None also for a config the job itself would refuse."""
    from xlprune.data.corpus import make_source
    from xlprune.infra.store import Store

    store = Store(cfg.cache_dir)
    if not cfg.get("resume", True) or not (store.root / "results").is_dir():
        return None  # nothing stored yet (a first run): no key worth computing
    try:
        key = result_key(cfg, input_fingerprint(cfg, make_source(cfg.data)))
        return finished_result(cfg, store, key)
    except Exception:  # noqa: BLE001 - the job reports a bad config itself, in one line
        return None


def run(cfg: DictConfig) -> dict:
    from xlprune.infra.signals import phase

    with phase("job"):  # a signal between named phases: "during the job"
        return run_job(cfg)


def run_job(cfg: DictConfig) -> dict:
    from xlprune.data.corpus import make_source
    from xlprune.data.labels import unseen_in_training
    from xlprune.infra.secrets import redact
    from xlprune.infra.signals import phase
    from xlprune.infra.store import Store
    from xlprune.job.context import plan_fine_tunes, prepare_job
    from xlprune.job.results import FILENAME, JobResult, versions, write_json_atomic
    from xlprune.job.selection import choose_heads
    from xlprune.job.trials import guided_k, run_trial, search_k

    out_dir = start(cfg)
    data = make_source(cfg.data)
    store, key = Store(cfg.cache_dir), result_key(cfg, input_fingerprint(cfg, data))
    if (finished := finished_result(cfg, store, key)) is not None:
        write_json_atomic(out_dir / FILENAME, finished)
        log.info("already done, results copied: %s", out_dir / FILENAME)
        log.info("scores: %s", score_line(finished))
        return finished
    source, targets = list(cfg.source), list(cfg.targets)
    plan = plan_fine_tunes(cfg.setting.name, source, targets)
    job = prepare_job(cfg, data, store)  # its store: what checking the result found too
    ready_to_train(cfg)
    store, timing, spec, labels = job.store, job.timing, job.spec, job.labels
    train_langs = list(dict.fromkeys(lang for train, _ in plan for lang in train))
    unseen = unseen_in_training(job.splits, train_langs)
    remove, ranking, grid = choose_heads(job)
    from xlprune.job.loggers import close_logger, finish_logger, logger_record, make_logger

    logger = make_logger(cfg, out_dir)
    try:
        if cfg.pruning.mode == "search":
            remove, metrics, extra = search_k(job, plan, ranking, grid, logger, out_dir)
        elif cfg.pruning.mode == "guided":
            remove, ranking, metrics, extra = guided_k(job, plan, grid, logger, out_dir)
        else:
            metrics, extra = run_trial(job, plan, remove, logger, out_dir)
            ranking = ranking or extra.pop("curve_ranking", None)
        result = JobResult(
            model=cfg.model.name,
            task=cfg.task.name,
            setting=cfg.setting.name,
            source=source,
            targets=targets,
            seed=cfg.seed,
            prune_count=len(remove),
            pruned_heads=[list(h) for h in remove],
            metrics=metrics,
            timing=timing,
            versions=versions(),
            extra={
                "data": cfg.data.name,
                "num_heads_total": grid[0] * grid[1],
                "ranking": ranking.record() if ranking else None,
                "labels": labels,
                "metric": cfg.task.metric,
                "fine_tunes": extra.pop("fine_tunes"),
                "data_notes": dict(job.notes, unseen_labels=unseen),
                "vocabulary": getattr(spec, "vocabulary", None),
                "warnings": chance_check(job, plan, metrics) + ranking_warnings(ranking),
                **extra,
                "store": {"built": list(store.built), "repaired": list(store.repaired)},
            },
        )
        results = result.to_json()
        with phase("results"):
            finish_logger(logger, cfg, results, ranking=ranking)
            results = redact(dict(results, logger=logger_record(logger)))
            try:
                write_json_atomic(out_dir / FILENAME, results)
                store.build_once("results", key, lambda d: write_json_atomic(d / FILENAME, results))
            except BaseException:  # an interrupted or failed write leaves no results.json
                (out_dir / FILENAME).unlink(missing_ok=True)  # (a rerun copies the stored one)
                raise
    finally:
        close_logger(logger)
    log.info("scores: %s", score_line(results))
    log.info("results: %s", out_dir / FILENAME)
    return results


def score_line(results: dict) -> str:
    """The job's scores in one line, 0-1 like every file: 'test en 0.912 de 0.845; dev ...'."""
    from xlprune.data.metrics import primary

    name = primary(results["metric"])
    parts = []
    for split in ("test", "dev"):
        by_lang = results["metrics"].get(split) or {}
        values = " ".join(f"{g} {v[name]:.3f}" for g, v in by_lang.items() if name in v)
        parts.append(f"{split} {values}" if values else f"{split} -")
    return f"{name}, k={results['prune_count']}: " + "; ".join(parts)


def ranking_warnings(ranking) -> list[str]:
    """What computing the ranking found wrong with it (a Shapley game without signal)."""
    return [d["warning"] for d in (ranking.details if ranking else []) if d.get("warning")]


def chance_check(job, plan, metrics: dict) -> list[str]:
    """Warnings for the trained-on languages whose dev score is at chance level. Only when
    all of dev is scored: a part of it (trainer.limit_val_batches) leaves words unscored."""
    from xlprune.data.metrics import chance_score, chance_warnings

    limit = job.cfg.trainer.get("limit_val_batches")
    if not (limit is None or (isinstance(limit, float) and limit == 1.0)):
        log.info("no chance-level check: trainer.limit_val_batches=%s scores part of dev", limit)
        return []
    splits, baselines = job.splits, {}
    for train_langs, eval_langs in plan:
        seen = [labels for lang in train_langs for _, labels in splits["train"][lang]]
        for lang in (g for g in eval_langs if g in train_langs):
            gold = [labels for _, labels in splits["dev"][lang]]
            baselines[lang] = chance_score(job.cfg.task.metric, seen, gold)
    found = chance_warnings(job.cfg.task.metric, metrics.get("dev", {}), baselines)
    for line in found:
        log.warning(line)
    return found
