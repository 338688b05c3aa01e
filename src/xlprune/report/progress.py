"""One line per finished job of a sweep: job i of N, how it ended, time so far and a
rough estimate of what is left (mean job time so far x jobs left). N comes from the sweep
itself; when it cannot be known (another sweeper), the line says "job i"."""

import time

from hydra.experimental.callback import Callback

from xlprune.report.sweep import planned_jobs


def clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def results_on_disk(config) -> int:
    """Jobs of the sweep with a results.json: with jobs in other processes (joblib, SLURM)
    each job's callback starts from the launch-time copy, so it counts on disk instead."""
    from pathlib import Path

    from xlprune.results import FILENAME

    if "hydra" not in config:
        return 0
    sweep = Path(str(config.hydra.sweep.dir))
    depth = len(Path(str(config.hydra.sweep.get("subdir") or "x")).parts)
    return sum(1 for _ in sweep.glob("/".join(["*"] * depth + [FILENAME])))


class SweepProgress(Callback):
    """Hydra callback; with the basic launcher every job runs in the sweep's process, so
    one instance sees the whole sweep; elsewhere the jobs' results on disk say how far."""

    def __init__(self) -> None:
        self.started: float | None = None
        self.total: int | None = None
        self.finished = 0
        self.job_started: float | None = None

    def on_multirun_start(self, config, **kwargs) -> None:
        self.started = time.monotonic()
        plan = planned_jobs(config.hydra)
        self.total = len(plan) if plan else None
        self.finished = 0

    def on_job_start(self, config, **kwargs) -> None:
        if "hydra" in config and str(config.hydra.get("mode")) == "RunMode.RUN":
            return  # a single run: nothing to count
        self.job_started = time.monotonic()
        if self.started is None:  # a launcher that runs jobs in other processes
            self.started = self.job_started

    def on_job_end(self, config, job_return=None, **kwargs) -> None:
        if self.started is None:
            return  # not a sweep this instance has seen start
        now = time.monotonic()
        self.finished = max(self.finished + 1, results_on_disk(config))
        num = config.hydra.job.get("num") if "hydra" in config else None
        i = num + 1 if isinstance(num, int) else self.finished
        status = getattr(getattr(job_return, "status", None), "name", "done").lower()
        took = now - (self.job_started or now)
        elapsed = now - self.started
        line = f"[xlprune] job {i}"
        if self.total:
            line += f" of {self.total}"
        line += f" {status} in {clock(took)}; elapsed {clock(elapsed)}"
        if self.total:
            left = elapsed / self.finished * max(self.total - self.finished, 0)
            line += f", about {clock(left)} left"
        print(line, flush=True)
