"""results.json: what one job measured. Written atomically (temp file, then rename), so a
file that exists is complete; readers can trust `status`."""

import json
import os
import platform
import tempfile
from pathlib import Path

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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, ensure_ascii=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
