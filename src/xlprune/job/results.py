"""results.json: what one job measured. Written atomically (temp file, then rename), so a
file that exists is complete; readers can trust `status`."""

import json
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from xlprune.infra.atomic import write_text

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


@dataclass
class JobResult(Mapping):
    """What one job measured, as results.json holds it: the fields every result has, typed,
    and the rest (ranking, curves, search, notes...) in `extra`. The job writes one, a
    rerun and the sweep read it back, the report reads it key by key (it is a Mapping)."""

    model: str
    task: str
    setting: str
    source: list[str]
    targets: list[str]
    seed: int
    prune_count: int
    pruned_heads: list[list[int]]
    metrics: dict  # split -> language -> metric -> value (0-1)
    timing: dict  # phase -> seconds, each phase counted once
    versions: dict
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, data) -> "JobResult | None":
        """A result from results.json's object, or None when it is not a complete one."""
        if not isinstance(data, dict) or not all(key in data for key in REQUIRED):
            return None
        rest = {k: v for k, v in data.items() if k not in REQUIRED}
        return cls(**{k: data[k] for k in REQUIRED}, extra=rest)

    def to_json(self) -> dict:
        return {**{k: getattr(self, k) for k in REQUIRED}, **self.extra}

    def __getitem__(self, key: str):
        if key in REQUIRED:
            return getattr(self, key)
        return self.extra[key]

    def __iter__(self):
        yield from REQUIRED
        yield from self.extra

    def __len__(self) -> int:
        return len(REQUIRED) + len(self.extra)


def write_json_atomic(path: str | Path, data) -> Path:
    """`data` (a dict, or a JobResult) as JSON, written whole or not at all."""
    if isinstance(data, JobResult):
        data = data.to_json()
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


def read_results(path: str | Path) -> JobResult | None:
    """A job's results, or None when the file is missing or not a complete result."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return JobResult.from_json(data)


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
