"""results.json: what one job measured. Written atomically (temp file, then rename), so a
file that exists is complete; readers can trust `status`."""

import json
import platform
from pathlib import Path

from xlprune.atomic import write_text

FILENAME = "results.json"
REQUIRED = (
    "model",
    "task",
    "setting",
    "source",
    "targets",
    "seed",
    "prune_count",
    "pruned_heads",
    "metrics",
    "timing",
    "versions",
)


def write_json_atomic(path: str | Path, data: dict) -> Path:
    return write_text(path, json.dumps(data, indent=2, ensure_ascii=False))


def versions() -> dict[str, str]:
    import pytorch_lightning
    import torch
    import transformers

    import xlprune

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "pytorch_lightning": pytorch_lightning.__version__,
        "xlprune": xlprune.__version__,
    }


def read_results(path: str | Path) -> dict | None:
    """A job's results, or None when the file is missing or not a complete result."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if all(key in data for key in REQUIRED) else None


FAILED = "failed.json"


def write_failure(out_dir: str | Path, reason: str, kind: str) -> Path:
    """A job of a sweep that could not finish says why, beside where its results.json would
    be, so the sweep goes on and its end (and the report) can name it. `kind`: bad input,
    crash, cancelled or lost."""
    import time

    return write_json_atomic(
        Path(out_dir) / FAILED,
        {"reason": reason, "kind": kind, "at": time.strftime("%Y-%m-%dT%H:%M:%S")},
    )


def read_failure(job_dir: str | Path) -> dict | None:
    """The failure record of a job folder, or None (no record, or one that is unreadable)."""
    try:
        data = json.loads((Path(job_dir) / FAILED).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and "reason" in data else None
