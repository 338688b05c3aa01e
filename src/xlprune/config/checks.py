"""Checks made before any work: the config's values and classes, and room to write. A
sweep that cannot finish should stop at its first second, not after hours."""

import re
import shutil
import tempfile
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from xlprune.config.rankings import COMBINE, GRANULARITIES, METHODS, TARGETED
from xlprune.infra.errors import XlpruneError

# What a config may name in `_target_`: these classes, and the loggers and callbacks
# Lightning exports, nothing else, so no config string can make a job call a loader or any
# other function. A new data source or model spec is added here.
ALLOWED_TARGETS = frozenset(
    {
        "xlprune.data.sources.SyntheticSource",
        "xlprune.data.sources.FileSource",
        "xlprune.data.hub_datasets.HubSource",
        "xlprune.models.specs.PretrainedSpec",
        "xlprune.models.specs.TinySpec",
        "xlprune.models.specs.E5Spec",
        "xlprune.callbacks.head_importance.HeadImportance",
        "xlprune.callbacks.mask_curve.MaskCurve",
        "xlprune.sweep.plan.SweepPlan",
        "xlprune.sweep.progress.SweepProgress",
        "xlprune.sweep.summary.SweepSummary",
        "pytorch_lightning.Trainer",
        "lightning.pytorch.Trainer",
    }
)
LIGHTNING_EXPORTS = re.compile(
    r"(pytorch_lightning|lightning\.pytorch)\.(loggers|callbacks)\.[A-Z]\w*"
)

WHOLE = {  # key: smallest allowed value
    "seed": 0,
    "pruning.count": 0,  # its upper bound depends on the model: checked by the job
    "batch_size": 1,
    "eval_batch_size": 1,
    "max_length": 8,
    "trainer.max_epochs": 1,
    "pruning.max_k": 0,
    "search.patience": 1,
    "search.max_k": 0,
    "guided.candidates": 1,
    "data.subset": 0,
    "data.max_train": 1,
    "data.split_seed": 0,
    "trainer.log_every_n_steps": 1,
    "ranking.samples": 1,  # below the model's heads + 1: checked by the job
}
RANGES = {  # key: (low, high, high included); low is always excluded but for 0.0 bounds
    "data.dev_fraction": (0.0, 1.0, False),
    "data.train_fraction": (0.0, 1.0, True),
    "optim.warmup_ratio": (None, 1.0, False),
    "optim.weight_decay": (None, None, False),
    "guided.tolerance": (None, 1.0, True),
    "ranking.step": (0.0, 1.0, False),
    "ranking.tolerance": (None, None, False),
    "ranking.truncation": (None, None, False),
}
POSITIVE = ("optim.lr", "min_free_gb")
CHOICES = {  # key: the values it may take
    "task.metric": ("accuracy", "entity_f1"),
    "task.scheme": ("iob2", "upos"),
    "ranking.split": ("dev", "train"),  # never test: ranking on it would leak test data
    "ranking.method": METHODS,
    "ranking.granularity": GRANULARITIES,
    "ranking.on": ("source", "target"),
    "ranking.combine": COMBINE,
    "hub_offline": ("auto", True, False),
    "pruning.mode": ("remove", "mask", "search", "guided"),
}
LANGUAGE_LISTS = ("source", "targets")


def allowed_target(target: str) -> bool:
    return target in ALLOWED_TARGETS or LIGHTNING_EXPORTS.fullmatch(target) is not None


def check_targets(node, where: str = "") -> None:
    """Every `_target_` in the config names a class of an allowed package."""
    if isinstance(node, dict):
        target = node.get("_target_")
        if target is not None and not allowed_target(str(target)):
            key = f"{where}._target_" if where else "_target_"
            raise XlpruneError(
                f"{key}={target}: not a class xlprune builds; a config may name xlprune's "
                "data sources, model specs and sweep callbacks, the Lightning Trainer, and "
                "Lightning's loggers and callbacks (xlprune.config.checks.ALLOWED_TARGETS)"
            )
        for key, value in node.items():
            check_targets(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            check_targets(value, f"{where}[{i}]")


def check_callbacks(cfg: DictConfig) -> None:
    """conf/callbacks/ takes every setting from ranking.*, pruning.*, source, targets and
    seed, which the ranking's store key and results.json read: a value set on a callback
    itself would be computed but stored under the settings it contradicts."""
    node = cfg.get("callbacks")
    if node is None:
        return
    for name, options in OmegaConf.to_container(node, resolve=False).items():
        for key, value in (options or {}).items():
            derived = isinstance(value, str) and value.startswith("${") and value.endswith("}")
            if key != "_target_" and not derived:
                raise XlpruneError(
                    f"callbacks.{name}.{key}={value}: the callbacks follow the ranking's and "
                    "pruning's keys; set ranking.* or pruning.* (e.g. ranking.granularity) "
                    "instead"
                )


def check_pruning(cfg: DictConfig) -> None:
    """What to remove, said once: a count or heads (not both), neither when the mode picks
    k itself, and a ranking.use among the sources. Checked before a sweep launches (and
    before a job imports torch); what needs the model's size waits for the job."""
    p = cfg.get("pruning")
    if p is None:
        return
    heads, count, mode = p.get("heads"), p.get("count"), p.get("mode")
    if heads and count:
        raise XlpruneError("pruning.count and pruning.heads both given: choose one")
    if (heads or count) and mode in ("search", "guided", "mask"):
        raise XlpruneError(
            {
                "search": "pruning.mode=search tries k = 0..search.max_k itself; leave "
                "pruning.count at 0 and pruning.heads unset",
                "guided": "pruning.mode=guided chooses k itself; leave pruning.count at 0 and "
                "pruning.heads unset",
                "mask": "pruning.mode=mask scores k = 0..pruning.max_k masked heads itself; "
                "leave pruning.count at 0 and pruning.heads unset",
            }[mode]
        )
    use, sources = OmegaConf.select(cfg, "ranking.use"), cfg.get("source")
    if use and OmegaConf.is_list(sources) and use not in sources:
        raise XlpruneError(f"ranking.use={use}: not one of the sources {list(sources)}")


def check_values(cfg: DictConfig) -> None:
    """Numbers where numbers belong, in range; named by key, with what to give instead."""
    check_callbacks(cfg)
    for key, least in WHOLE.items():
        value = OmegaConf.select(cfg, key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise XlpruneError(f"{key}={value}: give a whole number, at least {least}")
    layers = OmegaConf.select(cfg, "model.num_layers")
    heads = OmegaConf.select(cfg, "model.num_heads")
    if isinstance(layers, int) and isinstance(heads, int):  # a tiny model: known before built
        check_prune_count(OmegaConf.select(cfg, "pruning.count"), layers, heads)
    for key, allowed in CHOICES.items():
        value = OmegaConf.select(cfg, key)
        if value is not None and value not in allowed:
            shown = ", ".join(str(v).lower() for v in allowed)
            raise XlpruneError(f"{key}={value}: choose one of {shown}")
    check_pruning(cfg)
    for key in LANGUAGE_LISTS:
        value = OmegaConf.select(cfg, key)
        if value is not None and not OmegaConf.is_list(value) and not isinstance(value, list):
            raise XlpruneError(f"{key}={value}: give a list of language codes, {key}=[{value}]")
    for key, (low, high, closed) in RANGES.items():
        value = OmegaConf.select(cfg, key)
        if value is None:
            continue
        number = not isinstance(value, bool) and isinstance(value, int | float)
        inside = number and (
            (value > low if low is not None else value >= 0)
            and (high is None or value < high or (closed and value == high))
        )
        if not inside:
            upper = "" if high is None else f" and {'at most' if closed else 'below'} {high}"
            lower = f"above {low}" if low is not None else "at least 0"
            raise XlpruneError(f"{key}={value}: give a number {lower}{upper}")
    method, on = OmegaConf.select(cfg, "ranking.method"), OmegaConf.select(cfg, "ranking.on")
    if on == "target" and method not in TARGETED:
        raise XlpruneError(
            f"ranking.on=target: ranking.method={method} has no target-language form; "
            f"use {' or '.join(f'ranking={m}' for m in TARGETED)}, or ranking.on=source"
        )
    if on == "target" and OmegaConf.select(cfg, "ranking.split") == "train":
        raise XlpruneError(
            "ranking.on=target with ranking.split=train: the targets are valued on their dev "
            "(their training data is not the job's); use ranking.split=dev, or ranking.on=source"
        )
    for key in POSITIVE:
        value = OmegaConf.select(cfg, key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise XlpruneError(f"{key}={value}: give a number above 0")


def check_prune_count(count, layers: int, heads: int) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= layers * heads:
        raise XlpruneError(
            f"pruning.count={count}: give a whole number from 0 to {layers * heads} "
            f"(this model has {layers} layers x {heads} heads)"
        )


def check_writable(path: str | Path, key: str) -> Path:
    """A file can be written where the directory is or would be made (its nearest
    existing ancestor); nothing is created."""
    path = Path(path).expanduser().absolute()
    near = next(p for p in (path, *path.parents) if p.exists())
    try:
        if not near.is_dir():
            raise NotADirectoryError(20, f"{near} is a file")
        with tempfile.TemporaryFile(dir=near):
            pass
    except OSError as err:
        raise XlpruneError(
            f"{key}={path}: not writable ({err.strerror or err}); give a directory you can write to"
        ) from None
    return near


def check_space(path: str | Path, key: str, min_free_gb: float, shown=None) -> None:
    free = shutil.disk_usage(path).free / 2**30
    if free < min_free_gb:
        raise XlpruneError(
            f"{key}={shown or path}: only {free:.2f} GB free, below min_free_gb={min_free_gb}; free "
            "some space, write elsewhere, or lower min_free_gb"
        )


def check_room(out_dir: str | Path, out_key: str, cfg: DictConfig) -> None:
    """The output and cache directories are writable and have `min_free_gb` free."""
    for path, key in ((out_dir, out_key), (cfg.cache_dir, "cache_dir")):
        check_space(check_writable(path, key), key, cfg.get("min_free_gb", 1.0), path)
    cache = Path(str(cfg.cache_dir)).expanduser()
    if cache.is_dir():  # the store writes into its kinds' folders, not the root
        for kind in sorted(p for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".")):
            try:
                with tempfile.TemporaryFile(dir=kind):
                    pass
            except OSError as err:
                raise XlpruneError(
                    f"cache_dir={cache}: its folder {kind.name}/ is not writable "
                    f"({err.strerror or err}); make it writable (chmod -R u+w {kind}) or give "
                    "another cache_dir"
                ) from None


def check_job(cfg: DictConfig, out_dir: str | Path, out_key: str = "hydra.run.dir") -> None:
    """Everything above, for one job's config."""
    once_each(cfg)
    check_targets(OmegaConf.to_container(cfg, resolve=False))
    check_values(cfg)
    check_room(out_dir, out_key, cfg)


def once_each(cfg: DictConfig) -> None:
    """A language given twice in `source` or `targets` is scored once, with a warning (it
    would otherwise be trained or reported twice)."""
    import logging

    for key in ("source", "targets"):
        langs = list(cfg.get(key) or [])
        unique = list(dict.fromkeys(langs))
        if len(unique) < len(langs):
            twice = sorted({g for g in langs if langs.count(g) > 1})
            logging.getLogger(__name__).warning(
                "%s=%s: %s given more than once; each is used once: %s", key, langs, twice, unique
            )
            cfg[key] = unique
