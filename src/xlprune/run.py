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
    """Time a phase (into `timing`); a signal inside it names it (xlprune.signals)."""
    from xlprune.signals import phase as named

    start = time.perf_counter()
    with named(phase):
        yield
    timing[phase] = round(timing.get(phase, 0.0) + time.perf_counter() - start, 3)


def quiet_lightning() -> None:
    """Keep job logs to what matters: Lightning's banners, tips and known-harmless
    warnings (we validate and test with explicit loaders) say nothing about the run."""
    import warnings

    logging.getLogger("pytorch_lightning.utilities.rank_zero").setLevel(logging.WARNING)
    # "Received SIGTERM": the job's own line says what a signal stopped (xlprune.signals)
    logging.getLogger("pytorch_lightning.trainer.connectors.signal_connector").setLevel(
        logging.WARNING
    )
    for message in (
        ".*no `val_dataloader`.*",
        ".*LeafSpec.*",
        ".*does not have many workers.*",
        ".*The `srun` command is available.*",  # xlprune's SLURM launcher runs the jobs
    ):
        warnings.filterwarnings("ignore", message=message)


def result_key(cfg: DictConfig, inputs: str = "") -> str:
    """What determines a job's results: its whole config but where it logs and caches, and
    `inputs` (input_fingerprint: the data files and model folder the config points at)."""
    import hashlib
    import json

    from omegaconf import OmegaConf

    data = OmegaConf.to_container(cfg, resolve=True)
    for key in ("logger", "cache_dir", "hub_offline", "resume", "min_free_gb"):
        data.pop(key, None)
    data.get("trainer", {}).pop("enable_progress_bar", None)
    data["inputs"] = inputs
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:24]


def input_fingerprint(cfg: DictConfig, data) -> str:
    """What the config names but does not hold: the bytes of the job's data files and the
    files of a local model folder (names, sizes, modification times), so a finished result
    is not reused after the data was corrected or the model saved again."""
    import hashlib

    sha = hashlib.sha256()
    if hasattr(data, "path") and hasattr(data, "pattern"):  # files on disk (FileSource)
        for lang in dict.fromkeys([*cfg.source, *cfg.targets]):
            for split in ("train", "dev", "test"):
                path = data.path(lang, split) if data.pattern.get(split) else None
                if path is not None and path.is_file():
                    sha.update(f"{lang}/{split}\0".encode() + path.read_bytes())
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

    from xlprune import threads

    launcher = HydraConfig.get().launcher
    return threads.workers_for(launcher.get("n_jobs") if "n_jobs" in launcher else None)


def share_threads(workers: int | None) -> None:
    """torch's threads: the CPUs this job was given (affinity, SLURM_CPUS_PER_TASK, a cgroup
    quota), divided among parallel local workers; logged by xlprune.threads."""
    from xlprune import threads

    threads.apply(workers)


def side_by_side(workers: int | None) -> bool:
    """Jobs whose output interleaves (parallel local workers) or goes to files (a cluster
    launcher): progress bars there are noise, so they are turned off."""
    from hydra.core.hydra_config import HydraConfig

    target = str(HydraConfig.get().launcher.get("_target_", ""))
    return (workers or 1) > 1 or "submitit" in target or "slurm" in target.lower()


def start(cfg: DictConfig) -> Path:
    """Before any work: quiet logs, shared threads, no secrets in what the job writes, and
    a config and output folder that can finish. Returns the job's output folder."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from xlprune.checks import check_job
    from xlprune.secrets import redact_logs, remember_config, scrub_argv, scrub_files

    quiet_lightning()
    workers = local_workers()
    share_threads(workers)
    if side_by_side(workers):
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
    check_trainer(cfg)
    return out_dir


def check_trainer(cfg: DictConfig) -> None:
    """The trainer config builds, on this machine, into one process: before data and
    tokenisation, not when the first fine-tune starts."""
    from hydra.utils import instantiate

    from xlprune.errors import one_line

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
    from xlprune.pruning import saved_models_damaged
    from xlprune.results import FILENAME, read_results

    if not cfg.get("resume", True) or (entry := store.entry("results", key)) is None:
        return None
    finished = read_results(entry / FILENAME)
    if finished is None or saved_models_damaged(finished):
        return None  # incomplete, or its saved models are not what it wrote: run again
    return dict(finished, resumed_from=str(entry))  # this run trained nothing


def run(cfg: DictConfig) -> dict:
    from xlprune.signals import phase

    with phase("job"):  # a signal between named phases: "during the job"
        return run_job(cfg)


def run_job(cfg: DictConfig) -> dict:
    from hydra.utils import instantiate

    from xlprune.data.corpus import make_source
    from xlprune.loggers import close_logger, finish_logger, logger_record, make_logger
    from xlprune.results import FILENAME, versions, write_json_atomic
    from xlprune.secrets import redact
    from xlprune.signals import phase
    from xlprune.store import Store

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
    hub.check_sweep([cfg])  # before the model or data reads the hub's settings
    spec = instantiate(cfg.model)

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
        elif cfg.pruning.mode == "guided":
            remove, ranking, metrics, extra = guided_k(job, plan, grid, logger, out_dir)
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
            "vocabulary": getattr(spec, "vocabulary", None),
            "warnings": chance_check(job, plan, metrics),
            **extra,
            "timing": timing,
            "store": {"built": list(store.built), "repaired": list(store.repaired)},
            "versions": versions(),
        }
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
    from xlprune.metrics import primary

    name = primary(results["metric"])
    parts = []
    for split in ("test", "dev"):
        by_lang = results["metrics"].get(split) or {}
        values = " ".join(f"{g} {v[name]:.3f}" for g, v in by_lang.items() if name in v)
        parts.append(f"{split} {values}" if values else f"{split} -")
    return f"{name}, k={results['prune_count']}: " + "; ".join(parts)


def chance_check(job, plan, metrics: dict) -> list[str]:
    """Warnings for the trained-on languages whose dev score is at chance level. Only when
    all of dev is scored: a part of it (trainer.limit_val_batches) leaves words unscored."""
    from xlprune.metrics import chance_score, chance_warnings

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


def run_trial(job, plan, remove, logger, out_dir: Path, curve=None, order=None):
    """The job's fine-tunes with `remove` heads gone: (metrics, extras for results.json).
    `curve`: draw the masked curve (default: in mask mode), in head `order` if given."""
    from xlprune.finetune import evaluate, fine_tune
    from xlprune.pruning import mask_callbacks, save_model

    metrics: dict = {"dev": {}, "test": {}}
    extra: dict = {"fine_tunes": len(plan)}
    for train_langs, eval_langs in plan:
        callbacks, masked = mask_callbacks(job, train_langs, eval_langs, curve, order)
        tagger, trainer, dm = fine_tune(
            job, train_langs, eval_langs, remove, logger or False, callbacks
        )
        for split, by_lang in evaluate(job, tagger, trainer, dm, eval_langs).items():
            metrics[split].update(by_lang)
        if masked is not None:
            extra.setdefault("mask_curve", []).extend(masked.results(train_langs))
            if (own := masked.ranking(tagger.model.config.model_type)) is not None:
                extra["curve_ranking"] = own
        if job.cfg.pruning.save:
            extra.setdefault("saved_models", []).append(
                save_model(tagger, dm, out_dir, train_langs, trial_suffix(job, remove))
            )
    return metrics, extra


def trial_suffix(job, remove) -> str:
    """A saved model's folder names its k when a job trains several (search, guided)."""
    return f"-k{len(remove)}" if job.cfg.pruning.mode in ("search", "guided") else ""


def chosen_models(saved: dict, k: int) -> dict:
    """The saved models (pruning.save) of the chosen k, for results.json."""
    return {"saved_models": saved[k]} if saved.get(k) else {}


def search_k(job, plan, ranking, grid, logger, out_dir: Path):
    """pruning.mode=search: k = 0, 1, ... until dev stops improving (search.patience) or
    search.max_k; the job's metrics are those at the dev-selected k."""
    from xlprune.metrics import primary
    from xlprune.search import mean_score, select, should_stop

    cfg = job.cfg
    name, targets = primary(cfg.task.metric), list(cfg.targets)
    max_k = min(cfg.search.max_k, grid[0] * grid[1])
    trials, runs, dev_scores = [], {}, []
    saved: dict = {}
    for k in range(max_k + 1):
        metrics, trial = run_trial(job, plan, ranking.lowest(k), logger, out_dir)
        runs[k], saved[k] = metrics, trial.get("saved_models")
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
        **chosen_models(saved, k),
    }
    return ranking.lowest(k), runs[k], extra


def guided_k(job, plan, grid, logger, out_dir: Path):
    """pruning.mode=guided: fine-tune unpruned with its masked dev curve (k = 0, and, for a
    one-source cross-lingual job, the ranking fine-tune too), re-train only the
    guided.candidates values of k the curve points at, keep the dev-best of k = 0 and them.
    (heads removed, the ranking, metrics at the chosen k, extras for results.json)."""
    from xlprune.metrics import primary
    from xlprune.ranking import obtain_ranking
    from xlprune.search import curve_means, guided_candidates, mean_score, select

    cfg = job.cfg
    name, targets = primary(cfg.task.metric), list(cfg.targets)
    max_k = min(cfg.pruning.max_k, grid[0] * grid[1])
    model_type = job.spec.grid()[1]
    if ranks_itself(job):  # the unpruned fine-tune is the ranking fine-tune: it stores it
        first, extra = run_trial(job, plan, [], logger, out_dir, curve=True)
        ranking = obtain_ranking(job, grid, model_type)  # what the curve stored
    else:  # the ranking first (stored, a file, random, or its own fine-tune): the curve
        ranking = obtain_ranking(job, grid, model_type)  # masks in its order
        first, extra = run_trial(job, plan, [], logger, out_dir, curve=True, order=ranking.order)
    curve = extra["mask_curve"]
    if [tuple(h) for h in curve[-1]["heads"]] != [
        tuple(h) for h in ranking.lowest(len(curve[-1]["heads"]))
    ]:
        log.warning("guided: the masked curve's head order is not the stored ranking's")
    masked = curve_means(curve, targets, name)
    candidates = guided_candidates(masked, cfg.guided.candidates, cfg.guided.tolerance)
    log.info("guided: masked dev %s; re-train k = %s", _scores(masked), candidates)
    runs, saved = {0: first}, {0: extra.get("saved_models")}
    for k in candidates:
        runs[k], trial = run_trial(job, plan, ranking.lowest(k), logger, out_dir)
        saved[k] = trial.get("saved_models")
    trials = [
        {
            "k": k,
            "dev": mean_score(m, "dev", targets, name),
            "test": mean_score(m, "test", targets, name),
        }
        for k, m in runs.items()
    ]
    chosen = select(trials)
    k = chosen["dev_selected"]["k"]
    log.info("guided: k=%d chosen on dev (%s)", k, _scores({t["k"]: t["dev"] for t in trials}))
    fine_tunes = len(plan) * (1 + len(candidates))
    return (
        ranking.lowest(k),
        ranking,
        runs[k],
        {
            "fine_tunes": fine_tunes,
            "mask_curve": curve,
            "guided": {
                "metric": name,
                "score": "mean over targets",
                "masked_dev": {str(k): v for k, v in masked.items()},
                "candidates": candidates,
                "tolerance": cfg.guided.tolerance,
                "max_k": max_k,
                "trials": trials,
                "full_search_fine_tunes": len(plan) * (max_k + 1),
                **chosen,
            },
            **chosen_models(saved, k),
        },
    )


def ranks_itself(job) -> bool:
    """A one-source cross-lingual job whose ranking is not stored yet: its unpruned
    fine-tune is exactly the ranking fine-tune (trained on the source alone, same recipe
    and seed), so the masked curve's own order is the ranking, stored by the curve."""
    from xlprune.ranking import ranking_key

    cfg, rk = job.cfg, job.cfg.ranking
    if cfg.setting.name != "cross" or len(cfg.source) != 1 or rk.get("use") or rk.get("file"):
        return False
    if rk.method == "random":
        return False
    return job.store.entry("rankings", ranking_key(job, cfg.source[0])) is None


def _scores(by_k: dict) -> str:
    return ", ".join(f"k={k} {v:.3f}" for k, v in by_k.items())
