"""The job's experiment logger (W&B, CSV or none). Logging is a record of a run, not the
run: when the configured logger fails (no API key, no network while online, a W&B crash)
the job warns once, logs to CSV in its folder instead and goes on."""

import logging
from pathlib import Path

from omegaconf import DictConfig
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.loggers.logger import Logger

from xlprune.errors import one_line
from xlprune.secrets import redact, redact_text

log = logging.getLogger(__name__)
FALLBACK = "csv_fallback"  # the CSV logger's folder in the job's output directory


class FallbackLogger(Logger):
    """The configured logger until one of its calls fails; then a CSVLogger in the job's
    folder, after one warning. `failure` says what failed (None: nothing did)."""

    def __init__(self, make, out_dir: Path, label: str):
        super().__init__()
        self.out_dir, self.label, self.failure = Path(out_dir), label, None
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
            self.out_dir / FALLBACK,
        )
        self.inner = CSVLogger(self.out_dir, name=FALLBACK, version="")

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

    @property
    def is_wandb(self) -> bool:
        return is_wandb(self.inner)


def is_wandb(logger) -> bool:
    return type(logger).__name__ == "WandbLogger"


def make_logger(cfg: DictConfig, out_dir: Path) -> FallbackLogger | None:
    """The configured Lightning logger or None; a W&B run is named after the job and
    grouped by its sweep."""
    if not cfg.get("logger") or "_target_" not in cfg.logger:
        return None
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from hydra.utils import instantiate

    target = str(cfg.logger._target_)
    extra = {}
    if target.endswith("WandbLogger"):
        hc = HydraConfig.get()
        extra = {"name": redact_text(hc.job.override_dirname) or out_dir.name}
        if hc.mode == RunMode.MULTIRUN:
            extra["group"] = str(Path(hc.sweep.dir).as_posix()).replace("/", "_")
    make = lambda: instantiate(cfg.logger, **extra)  # noqa: E731
    if target.endswith("WandbLogger") and not cfg.logger.get("offline", False):
        make = online_wandb(make)
    label = target.rsplit(".", 1)[-1].removesuffix("Logger").replace("Wandb", "W&B")
    return FallbackLogger(make, out_dir, label)


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


def finish_logger(logger: FallbackLogger | None, cfg: DictConfig, results: dict) -> None:
    """The whole config and the final metrics go to the logger, flat and readable."""
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
    return {"used": type(logger.inner).__name__, "asked": logger.label, "failure": logger.failure}
