"""Secrets never leave the process: the values of credential variables in the environment
(WANDB_API_KEY, HF_TOKEN, ..., any *_TOKEN / *_KEY / *_SECRET / *PASSWORD) and of config keys
named like them are replaced by `***` in everything a job writes: results.json, the saved
Hydra configs, the W&B config and log messages."""

import logging
import os
import re
import sys
from pathlib import Path

# a name that is (or ends in _) token, key, api_key, secret, password: HF_TOKEN, WANDB_API_KEY,
# hub.token; not TOKENIZERS_PARALLELISM or max_tokens
ENV_NAME = re.compile(r"(^|_)(token|api_?key|key|secret|passw(or)?d)$", re.IGNORECASE)
SECRET_NAME = re.compile(r"^key$|(^|_)(token|api_?key|secret|passw(or)?d)$", re.IGNORECASE)
MASK = "***"
MIN_LENGTH = 6  # shorter values are not masked: they would blank ordinary words
_given: set[str] = set()  # secret values seen on the command line


def remember_command_line(argv: list[str]) -> None:
    """Values of `key=value` overrides whose key looks like a secret (`+hub.token=...`)."""
    for arg in argv:
        key, sep, value = arg.partition("=")
        if sep and SECRET_NAME.search(key.split(".")[-1]):
            for one in [value, *re.split(r"[,\[\]()'\" ]+", value)]:  # a sweep's values too
                if len(one) >= MIN_LENGTH:
                    _given.add(one)


def remember_config(tree, name: str = "") -> None:
    """Values of secret-named keys in a config tree (a job's own process may not have seen
    the command line: joblib and SLURM workers)."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            remember_config(value, str(key))
    elif isinstance(tree, list):
        for value in tree:
            remember_config(value, name)
    elif isinstance(tree, str) and SECRET_NAME.search(name) and len(tree) >= MIN_LENGTH:
        _given.add(tree)  # an interpolation (${oc.env:...}) is masked by its env value too


def secret_values() -> list[str]:
    found = {v for k, v in os.environ.items() if ENV_NAME.search(k) and len(v) >= MIN_LENGTH}
    return sorted(found | _given, key=len, reverse=True)


def redact_text(text: str) -> str:
    for value in secret_values():
        text = text.replace(value, MASK)
    return text


def redact(obj):
    """A copy of a config/result tree with secret-named keys and secret values masked."""
    if isinstance(obj, dict):
        return {
            k: (MASK if isinstance(k, str) and SECRET_NAME.search(k) and v else redact(v))
            for k, v in obj.items()
        }
    if isinstance(obj, list | tuple):
        return type(obj)(redact(v) for v in obj)
    if isinstance(obj, str):
        return redact_text(obj)
    return obj


def scrub_files(directory: str | Path, sweep_dir: str | Path | None = None) -> None:
    """Mask secret values in the files Hydra saved for the job (.hydra/*.yaml) and, given
    `sweep_dir` (by the sweep's first job only: one writer), the sweep's multirun.yaml."""
    from xlprune.infra.atomic import write_text

    paths = list(Path(directory).glob(".hydra/*.yaml"))
    if sweep_dir is not None:
        paths += list(Path(sweep_dir).glob("multirun.yaml"))
    for path in paths:
        text = path.read_text()
        if (clean := redact_text(text)) != text:
            write_text(path, clean)


def scrub_argv() -> None:
    """The process's argv without secret values (W&B copies it into its run metadata);
    call once Hydra has read the overrides."""
    sys.argv[:] = [redact_text(a) for a in sys.argv]


def redact_logs() -> None:
    """From here on, log records carry no secret values, whatever handlers Hydra sets."""
    if getattr(logging.getLogRecordFactory(), "xlprune_redacts", False):
        return
    make = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        record = make(*args, **kwargs)
        message = record.getMessage()
        if (clean := redact_text(message)) != message:
            record.msg, record.args = clean, ()
        return record

    factory.xlprune_redacts = True
    logging.setLogRecordFactory(factory)
