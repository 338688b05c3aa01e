"""Checks made before any work: the config's values and classes, and room to write. A
sweep that cannot finish should stop at its first second, not after hours."""

import shutil
import tempfile
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from xlprune.errors import XlpruneError

# Classes a config may name in `_target_`: the project's and Lightning's, nothing else,
# so no config string can make a job run arbitrary code.
ALLOWED_TARGETS = ("xlprune.", "pytorch_lightning.", "lightning.", "hydra_plugins.")

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
}
POSITIVE = ("optim.lr", "min_free_gb")
CHOICES = {  # key: the values it may take
    "task.metric": ("accuracy", "entity_f1"),
    "task.scheme": ("iob2", "upos"),
    "ranking.split": ("dev", "train"),  # never test: ranking on it would leak test data
    "hub_offline": ("auto", True, False),
}
LANGUAGE_LISTS = ("source", "targets")


def check_targets(node, where: str = "") -> None:
    """Every `_target_` in the config names a class of an allowed package."""
    if isinstance(node, dict):
        target = node.get("_target_")
        if target is not None and not str(target).startswith(ALLOWED_TARGETS):
            key = f"{where}._target_" if where else "_target_"
            raise XlpruneError(
                f"{key}={target}: not a class xlprune builds; a config may name only "
                f"classes under {', '.join(p.rstrip('.') for p in ALLOWED_TARGETS)}"
            )
        for key, value in node.items():
            check_targets(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            check_targets(value, f"{where}[{i}]")


def check_values(cfg: DictConfig) -> None:
    """Numbers where numbers belong, in range; named by key, with what to give instead."""
    for key, least in WHOLE.items():
        value = OmegaConf.select(cfg, key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise XlpruneError(f"{key}={value}: give a whole number, at least {least}")
    for key, allowed in CHOICES.items():
        value = OmegaConf.select(cfg, key)
        if value is not None and value not in allowed:
            shown = ", ".join(str(v).lower() for v in allowed)
            raise XlpruneError(f"{key}={value}: choose one of {shown}")
    for key in LANGUAGE_LISTS:
        value = OmegaConf.select(cfg, key)
        if value is not None and not OmegaConf.is_list(value) and not isinstance(value, list):
            raise XlpruneError(f"{key}={value}: give a list of language codes, {key}=[{value}]")
    fraction = OmegaConf.select(cfg, "data.dev_fraction")
    if fraction is not None and (
        isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction < 1
    ):
        raise XlpruneError(f"data.dev_fraction={fraction}: give a fraction between 0 and 1")
    for key in POSITIVE:
        value = OmegaConf.select(cfg, key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise XlpruneError(f"{key}={value}: give a number above 0")


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


def check_job(cfg: DictConfig, out_dir: str | Path, out_key: str = "hydra.run.dir") -> None:
    """Everything above, for one job's config."""
    check_targets(OmegaConf.to_container(cfg, resolve=False))
    check_values(cfg)
    check_room(out_dir, out_key, cfg)
