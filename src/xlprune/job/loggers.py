"""The job's experiment logger (W&B, CSV or none). Logging is a record of a run, not the
run: when the configured logger fails (no API key, no network while online, a W&B crash)
the job warns once, logs to CSV in its folder instead and goes on.

W&B runs are described when they start (wandb.init), so a job killed mid-training still
has a usable run after `wandb sync`:

- job_type: `finetune` (a job's run), `ranking` (a ranking fine-tune, run by the first job
  that needs that ranking), `summary` (the sweep's summary run, report/wandb_summary.py).
- name: short, `<model>-<task>-<setting>-<sources>-k<count>` (e.g. tiny_bert-ner-cross-en-k2;
  `mask<max_k>` or `search` instead of k<count> in those modes), then what sets the job
  apart when it is not the default: the ranking method (random, max, textpruner, explicit),
  ranking.combine (merge) and ranking.use of several sources, `s<seed>` when the seed was
  overridden. A ranking run: `<model>-<task>-ranking-<source>` (+ score method, seed).
- tags, `key:value` so the W&B filter finds them: model:, task:, setting:, data:, one
  source: and target: per language, mode:, k: (added at the end in search mode), method:,
  seed:; a ranking run has split: instead of setting/target/k/mode.
- group: the sweep folder as configured with '/' -> '_' (multirun_2024-01-01_12-00-00), or
  the run folder of a single job; a job's ranking run shares it.
- notes and config["job"]["overrides"]: the job's whole override string; config: the whole
  job config (secrets masked), plus config["job"] (overrides, folder, number, job type).

At the end (finish_logger): final/<split>/<lang>/<metric> and final/prune_count in history
and summary, the config again, and the removed heads as the table `pruning/removed_heads`
(layer, head, order: 1 = the first the ranking removes, ranking_score). A ranking run logs
its fine-tune as Lightning does, config["ranking_run"] (source, score, split, store_key),
then `ranking/head_scores` (layer, head, score, order) and the `ranking/heatmap` image."""

import logging
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.loggers.logger import Logger

from xlprune.infra.errors import one_line
from xlprune.infra.secrets import redact, redact_text

log = logging.getLogger(__name__)
FALLBACK = "csv_fallback"  # the CSV logger's folder in the job's output directory
FINETUNE, RANKING, SUMMARY = "finetune", "ranking", "summary"  # W&B job types
REMOVED_HEADS = "pruning/removed_heads"  # the job run's table of removed heads
TAG_LIMIT = 64  # W&B's longest tag


class FallbackLogger(Logger):
    """The configured logger until one of its calls fails; then a CSVLogger in the job's
    folder (`fallback`), after one warning. `failure` says what failed (None: nothing did)."""

    def __init__(self, make, out_dir: Path, label: str, fallback: str = FALLBACK):
        super().__init__()
        self.out_dir, self.label, self.fallback = Path(out_dir), label, fallback
        self.failure = None
        try:
            self.inner = make()
            _ = self.inner.experiment  # W&B connects (or fails) here, not mid-training
        except Exception as err:  # noqa: BLE001 - any logging failure is survivable
            self._fall_back(err)

    def _fall_back(self, err: Exception) -> None:
        self.failure = f"{type(err).__name__}: {one_line(redact(str(err)))[:300]}"
        log.warning(
            "%s logging failed (%s); logging to CSV in %s instead, results.json is written "
            "as usual",
            self.label,
            self.failure,
            self.out_dir / self.fallback,
        )
        self.inner = CSVLogger(self.out_dir, name=self.fallback, version="")

    def _call(self, action):
        """`action(logger)` on the current logger; on its first failure, again on the CSV
        fallback (a failure of that one is a real error, raised)."""
        try:
            return action(self.inner)
        except Exception as err:  # noqa: BLE001
            if self.failure is not None:
                raise
            self._fall_back(err)
            return action(self.inner)

    @property
    def name(self):
        return self.inner.name

    @property
    def version(self):
        return self.inner.version

    @property
    def save_dir(self):
        return self.inner.save_dir

    @property
    def experiment(self):
        return self.inner.experiment

    def log_metrics(self, metrics, step=None):
        self._call(lambda logger: logger.log_metrics(metrics, step))

    def log_hyperparams(self, params, *args, **kwargs):
        self._call(lambda logger: logger.log_hyperparams(params, *args, **kwargs))

    def save(self):
        self._call(lambda logger: logger.save())

    def finalize(self, status):
        self._call(lambda logger: logger.finalize(status))

    def update_summary(self, values: dict) -> None:
        """W&B's run summary (what its tables show); nothing for other loggers."""
        self._call(lambda logger: is_wandb(logger) and logger.experiment.summary.update(values))

    def log_wandb(self, values: dict) -> None:
        """W&B objects (tables, images) into the run's history; nothing for other loggers."""
        self._call(lambda logger: is_wandb(logger) and logger.experiment.log(values))

    def add_tags(self, tags: list[str]) -> None:
        """More tags on the W&B run (what is known only at the end); nothing elsewhere."""

        def add(logger):
            if is_wandb(logger):
                run = logger.experiment
                run.tags = tuple(dict.fromkeys([*run.tags, *clean_tags(tags)]))

        self._call(add)

    @property
    def is_wandb(self) -> bool:
        return is_wandb(self.inner)


def is_wandb(logger) -> bool:
    return type(logger).__name__ == "WandbLogger"


def wants_wandb(cfg: DictConfig) -> bool:
    logger = cfg.get("logger")
    return bool(logger) and str(logger.get("_target_", "")).endswith("WandbLogger")


@dataclass
class RunIdentity:
    """What a W&B run is about: its short name and its tags (see the module docstring)."""

    model: str
    task: str
    setting: str = ""
    data: str = ""
    sources: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    seed: object = None
    k: int | None = None  # heads removed (None: not known at the start: search, guided)
    mode: str = "remove"
    max_k: object = None
    method: str = ""  # '' for an unpruned model; explicit for pruning.heads
    combine: str = ""
    use: str = ""
    seed_swept: bool = False  # the seed was overridden: it is part of the name
    extra: list[str] = field(default_factory=list)  # other overrides, so names stay apart

    def name(self) -> str:
        kpart = {"mask": f"mask{self.max_k}", "search": "search", "guided": "guided"}
        kpart = kpart.get(self.mode, f"k{self.k}")
        parts = [self.model, self.task, self.setting, "+".join(self.sources), kpart]
        if self.method not in ("", "gradient"):
            parts.append(self.method)
        if self.method and self.use:
            parts.append(f"use-{self.use}")
        elif self.method and len(self.sources) > 1 and self.combine not in ("", "sum"):
            parts.append(self.combine)
        return self._join(parts)

    def tags(self) -> list[str]:
        tags = [f"model:{self.model}", f"task:{self.task}", f"setting:{self.setting}"]
        tags += [f"data:{self.data}"] if self.data else []
        tags += [f"source:{s}" for s in self.sources] + [f"target:{t}" for t in self.targets]
        tags += [f"mode:{self.mode}"] + ([f"k:{self.k}"] if self.k is not None else [])
        tags += [f"method:{self.method}"] if self.method else []
        return clean_tags([*tags, f"seed:{self.seed}"])

    def ranking_name(self, lang: str, score: str) -> str:
        """The run of the ranking fine-tune on `lang` (score method `score`)."""
        parts = [self.model, self.task, "ranking", lang]
        return self._join(parts + ([score] if score != "gradient" else []))

    def ranking_tags(self, lang: str, score: str, split: str) -> list[str]:
        tags = [f"model:{self.model}", f"task:{self.task}", f"data:{self.data}"]
        tags += [f"source:{lang}", f"method:{score}", f"split:{split}", f"seed:{self.seed}"]
        return clean_tags(tags)

    def _join(self, parts: list) -> str:
        parts = [*parts, f"s{self.seed}"] if self.seed_swept else parts
        parts = [*parts, *self.extra]
        return redact_text("-".join(str(p) for p in parts if p not in ("", None)))


def clean_tags(tags) -> list[str]:
    """Tags W&B takes: no secret values, at most 64 characters, each once."""
    return list(dict.fromkeys(redact_text(str(t))[:TAG_LIMIT] for t in tags if str(t)))


# swept keys the name already says (paper_cell: its source and task are in it)
NAMED = {
    *("model", "task", "setting", "data", "source", "targets", "seed", "paper_cell"),
    *("pruning.count", "pruning.heads", "pruning.mode", "pruning.max_k"),
    *("ranking", "ranking.method", "ranking.combine", "ranking.use"),
}


def run_identity(cfg, overrides=(), swept=()) -> RunIdentity:
    """A job's identity from its config (a DictConfig or the plain dict of a saved
    .hydra/config.yaml) and its overrides (`seed=...` among them puts the seed in the name);
    `swept`: the keys its experiment sweeps, whose values join the name when it does not
    say them already (scarce's data.train_fraction), so a sweep's names stay apart."""
    from xlprune.heads.prune import parse_heads

    def name_of(key: str) -> str:
        node = cfg.get(key)
        return str(node.get("name", "") if hasattr(node, "get") else node or "")

    pruning, ranking = cfg.get("pruning") or {}, cfg.get("ranking") or {}
    mode, heads = str(pruning.get("mode") or "remove"), pruning.get("heads")
    try:
        k = len(parse_heads(str(heads))) if heads else int(pruning.get("count") or 0)
    except (TypeError, ValueError):
        k = None
    k = None if mode in ("search", "guided") else k  # chosen by the job
    pruned = bool(k) or mode in ("mask", "search", "guided")
    method = ("explicit" if heads else str(ranking.get("method") or "")) if pruned else ""
    given = {str(o).split("=", 1)[0].lstrip("+~"): str(o) for o in overrides or () if "=" in str(o)}
    named = {str(k).lstrip("+~") for k in swept} - NAMED
    extra = [f"{k.rsplit('.', 1)[-1]}={given[k].split('=', 1)[1]}" for k in given if k in named]
    return RunIdentity(
        model=name_of("model"),
        task=name_of("task"),
        setting=name_of("setting"),
        data=name_of("data"),
        sources=[str(s) for s in cfg.get("source") or []],
        targets=[str(t) for t in cfg.get("targets") or []],
        seed=cfg.get("seed"),
        k=k,
        mode=mode,
        max_k=pruning.get("max_k"),
        method=method,
        combine=str(ranking.get("combine") or "") if method else "",
        use=str(ranking.get("use") or "") if method else "",
        seed_swept="seed" in given,
        extra=extra,
    )


def wandb_group() -> str:
    """The W&B group of this process's job: its sweep folder as configured ('/' -> '_'), or
    the run folder of a single job. Its ranking runs and the sweep's summary share it."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hc = HydraConfig.get()
    folder = hc.sweep.dir if hc.mode == RunMode.MULTIRUN else hc.run.dir
    return redact_text(group_name(folder))


def group_name(folder) -> str:
    """The one rule for a W&B group: the folder as configured, '/' -> '_'."""
    return Path(str(folder)).as_posix().replace("/", "_")


def wandb_run_args(cfg: DictConfig, out_dir: Path, job_type: str, name: str, tags, extra=None):
    """wandb.init's arguments beyond the logger config: name, job type, tags, group, notes
    and the whole (masked) config, so the run is described from its first record. What
    the user set in logger.* (name, group, job_type, notes) wins; their tags are kept."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    hc = HydraConfig.get()
    overrides = [redact_text(str(o)) for o in hc.overrides.task]
    config = redact(OmegaConf.to_container(cfg, resolve=True))
    config["job"] = {
        "type": job_type,
        "overrides": overrides,
        "override_dirname": redact_text(str(hc.job.get("override_dirname") or "")),
        "dir": str(out_dir),
        "num": hc.job.get("num"),
    }
    config.update(redact(extra or {}))
    args = {
        "name": name,
        "job_type": job_type,
        "group": wandb_group(),
        "notes": "overrides: " + (" ".join(overrides) or "(none)"),
        "tags": clean_tags(tags),
        "config": config,
    }
    given = cfg.logger
    for key in ("name", "job_type", "group", "notes"):
        if given.get(key):
            del args[key]
    if given.get("tags"):
        args["tags"] = clean_tags([*given.tags, *args["tags"]])
    return args


def logger_label(target: str) -> str:
    return target.rsplit(".", 1)[-1].removesuffix("Logger").replace("Wandb", "W&B")


def wants_logger(cfg: DictConfig) -> bool:
    """Whether the job logs its fine-tunes (then dev is scored after every epoch)."""
    return bool(cfg.get("logger")) and "_target_" in cfg.logger


def make_logger(cfg: DictConfig, out_dir: Path) -> FallbackLogger | None:
    """The configured Lightning logger or None. A W&B run starts described: short name,
    job type finetune, tags, the sweep's group, the whole config (see the module docstring)."""
    if not wants_logger(cfg):
        return None
    from hydra.utils import instantiate

    target = str(cfg.logger._target_)
    if not wants_wandb(cfg):
        return FallbackLogger(lambda: instantiate(cfg.logger), out_dir, logger_label(target))
    from hydra.core.hydra_config import HydraConfig

    hc = HydraConfig.get()
    identity = run_identity(cfg, hc.overrides.task, (hc.sweeper.get("params") or {}).keys())
    args = wandb_run_args(cfg, out_dir, FINETUNE, identity.name(), identity.tags())
    return wandb_logger(cfg, out_dir, args, logger_label(target), FALLBACK)


def make_ranking_logger(cfg: DictConfig, lang: str, details: dict) -> FallbackLogger | None:
    """The logger of a ranking fine-tune on `lang`: a W&B run of job type ranking in the
    job's group, when the job logs to W&B (else None: other loggers keep one job, one log).
    `details`: what config["ranking_run"] says (source, score method, split, store_key)."""
    if not wants_wandb(cfg):
        return None
    from hydra.core.hydra_config import HydraConfig

    hc = HydraConfig.get()
    out_dir = Path(hc.runtime.output_dir)
    identity = run_identity(cfg, hc.overrides.task)
    score, split = str(details.get("score", "")), str(details.get("split", ""))
    args = wandb_run_args(
        cfg,
        out_dir,
        RANKING,
        identity.ranking_name(lang, score),
        identity.ranking_tags(lang, score, split),
        {"ranking_run": dict(details, source=lang)},
    )
    label = f"W&B (ranking fine-tune on {lang})"
    return wandb_logger(cfg, out_dir, args, label, f"{FALLBACK}_ranking_{lang}")


def wandb_logger(cfg: DictConfig, out_dir: Path, args: dict, label: str, fallback: str):
    from hydra.utils import instantiate

    def make():
        logger = instantiate(cfg.logger, _partial_=True)(**args)
        # Lightning passes anonymous=None, which W&B warns about even when silent
        getattr(logger, "_wandb_init", {}).pop("anonymous", None)
        return logger

    if not cfg.logger.get("offline", False):
        make = online_wandb(make)
    return FallbackLogger(make, out_dir, label, fallback)


def wandb_unreachable(timeout: float = 5.0) -> str | None:
    """Why the W&B server cannot be reached, or None when it answers (or W&B is not
    online anyway). Without a network W&B itself retries for minutes before giving up."""
    import os
    import socket
    from urllib.parse import urlparse

    if os.environ.get("WANDB_MODE", "online") in ("offline", "disabled", "dryrun"):
        return None
    url = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai"))
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=timeout).close()
    except OSError as err:
        return f"W&B server {url.geturl()} not reachable ({err})"
    return None


def online_wandb(make):
    """`make`, once the W&B server answers (a quick connection test first)."""

    def checked():
        if problem := wandb_unreachable():
            raise ConnectionError(problem)
        return make()

    return checked


def finish_logger(
    logger: FallbackLogger | None, cfg: DictConfig, results: dict, ranking=None
) -> None:
    """The whole config and the final metrics go to the logger, flat and readable; to W&B
    also the removed heads (`ranking`: the job's ranking.Ranking, for their order and
    scores; without it they are read from the ranking's stored files) and the tag k:."""
    if logger is None:
        return
    from omegaconf import OmegaConf

    logger.log_hyperparams(redact(OmegaConf.to_container(cfg, resolve=True)))
    flat = {
        f"final/{split}/{lang}/{name}": value
        for split, by_lang in results["metrics"].items()
        for lang, values in by_lang.items()
        for name, value in values.items()
    }
    flat["final/prune_count"] = results["prune_count"]
    logger.log_metrics(flat)
    logger.update_summary(flat)
    if logger.is_wandb:
        rows = removed_rows(results, ranking)
        if rows:
            logger.log_wandb({REMOVED_HEADS: wandb_table(REMOVED_COLUMNS, rows)})
        logger.add_tags([f"k:{results['prune_count']}"])
    logger.save()


REMOVED_COLUMNS = ["layer", "head", "order", "ranking_score"]


def removed_rows(results: dict, ranking=None) -> list[list]:
    """[layer, head, order, ranking_score] per removed head, the first removed first: order
    1 is the lowest-ranked head. The order and scores come from `ranking` (the job's
    ranking.Ranking); hand-given heads (pruning.heads) keep the order given, no score."""
    heads = [tuple(h) for h in results.get("pruned_heads") or []]
    if ranking is None:
        return [[h[0], h[1], i + 1, None] for i, h in enumerate(heads)]
    position = {tuple(h): i + 1 for i, h in enumerate(ranking.order)}
    rows = [[h[0], h[1], position.get(h), float(ranking.scores[h[0]][h[1]])] for h in heads]
    return sorted(rows, key=lambda r: (r[2] is None, r[2] or 0, r[0], r[1]))


def wandb_table(columns: list[str], rows: list[list]):
    import wandb

    return wandb.Table(columns=list(columns), data=rows, allow_mixed_types=True)


def log_ranking_run(logger: FallbackLogger | None, raw, order, heatmap: Path | None) -> None:
    """A ranking run's result: every head's score with its place in this source's order
    (`ranking/head_scores`: layer, head, score, order; 1 = removed first) and the heatmap
    (`ranking/heatmap`)."""
    if logger is None or not logger.is_wandb:
        return
    import wandb

    position = {tuple(h): i + 1 for i, h in enumerate(order)}
    rows = [
        [layer, head, float(value), position.get((layer, head))]
        for layer, row in enumerate(raw)
        for head, value in enumerate(row)
    ]
    values = {"ranking/head_scores": wandb_table(["layer", "head", "score", "order"], rows)}
    if heatmap is not None and Path(heatmap).is_file():
        values["ranking/heatmap"] = wandb.Image(str(heatmap))
    logger.log_wandb(values)
    logger.save()


def close_logger(logger: FallbackLogger | None) -> None:
    if logger is not None and logger.is_wandb:
        import wandb

        try:
            wandb.finish()
        except Exception as err:  # noqa: BLE001
            log.warning("W&B did not close cleanly (%s); results.json is unaffected", err)


def logger_record(logger: FallbackLogger | None) -> dict | None:
    """What results.json says about logging: which logger was used, and any failure."""
    if logger is None:
        return None
    record = {"used": type(logger.inner).__name__, "asked": logger.label}
    if logger.is_wandb:  # the run's name, as the sweep's summary run refers to it
        record["run_name"] = logger.inner._wandb_init.get("name")
    return dict(record, failure=logger.failure)
