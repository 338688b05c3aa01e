"""Where a sweep stands, one line per finished job: `job i of N done in 0:01:02; 3 done, 2
running, 3 pending, 0 failed; elapsed 0:04:10, about 0:05:30 left`. The counts come from
the sweep's folder (results.json, failed.json, a started job's .hydra/), so they are right
whichever process prints them: the sweep's own (basic launcher, the SLURM launcher's
watch), or a joblib worker that only sees its own job. N comes from the sweep itself; when
it cannot be known (another sweeper), the line says "job i"."""

import time
from dataclasses import dataclass
from pathlib import Path

from hydra.experimental.callback import Callback

from xlprune.report.sweep import planned_jobs


def clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


@dataclass
class Standing:
    done: int = 0
    failed: int = 0
    running: int = 0
    total: int | None = None

    @property
    def finished(self) -> int:
        return self.done + self.failed

    @property
    def pending(self) -> int:
        return max((self.total or 0) - self.finished - self.running, 0)

    def counts(self) -> str:
        parts = [f"{self.done} done", f"{self.running} running"]
        if self.total is not None:
            parts.append(f"{self.pending} pending")
        return ", ".join([*parts, f"{self.failed} failed"])


def job_dirs(sweep_dir: Path, subdir: str | None) -> list[Path]:
    depth = len(Path(str(subdir or "x")).parts)
    return [p for p in sweep_dir.glob("/".join(["*"] * depth)) if p.is_dir()]


def job_state(job_dir: Path) -> str:
    """done (a complete results.json), failed (a failure record), running (started: Hydra
    wrote its .hydra/ folder) or pending."""
    from xlprune.job.results import FAILED, FILENAME, read_results

    if (job_dir / FAILED).is_file():
        return "failed"
    if (job_dir / FILENAME).is_file() and read_results(job_dir / FILENAME) is not None:
        return "done"
    return "running" if (job_dir / ".hydra").is_dir() else "pending"


def standing(sweep_dir: Path, subdir: str | None, total: int | None) -> Standing:
    out = Standing(total=total)
    for job_dir in job_dirs(sweep_dir, subdir):
        state = job_state(job_dir)
        if state != "pending":
            setattr(out, state, getattr(out, state) + 1)
    return out


def sweep_started(sweep_dir: Path) -> float | None:
    """When the sweep was launched, as a time.time(): Hydra writes multirun.yaml then."""
    try:
        return (sweep_dir / "multirun.yaml").stat().st_mtime
    except OSError:
        return None


def progress_line(
    num: int | None, state: str, took: float | None, now: Standing, elapsed: float
) -> str:
    """The line for one finished job (num counts from 0; None: not known)."""
    line = "[xlprune] job" + (f" {num + 1}" if num is not None else "")
    if now.total:
        line += f" of {now.total}"
    line += f" {state}" + (f" in {clock(took)}" if took is not None else "")
    line += f"; {now.counts()}; elapsed {clock(elapsed)}"
    if now.total and now.finished:
        left = elapsed / now.finished * max(now.total - now.finished, 0)
        line += f", about {clock(left)} left"
    return line


class SweepProgress(Callback):
    """Hydra callback: a line when each job ends. With the basic launcher every job runs in
    the sweep's process; elsewhere (joblib) in a worker, with the counts read from disk."""

    def __init__(self) -> None:
        self.total: int | None = None
        self.job_started: float | None = None

    def on_multirun_start(self, config, **kwargs) -> None:
        plan = planned_jobs(config.hydra)
        self.total = len(plan) if plan else None

    def on_job_start(self, config, **kwargs) -> None:
        if "hydra" in config and str(config.hydra.get("mode")) == "RunMode.RUN":
            return  # a single run: nothing to count
        self.job_started = time.time()

    def on_job_end(self, config, job_return=None, **kwargs) -> None:
        if self.job_started is None or "hydra" not in config:
            return  # not a job of a sweep
        from xlprune.job.results import FAILED

        hc = config.hydra
        if self.total is None:  # a worker process: the sweep's plan from its config
            plan = planned_jobs(hc)
            self.total = len(plan) if plan else None
        sweep_dir = Path(str(hc.sweep.dir))
        out_dir = Path(str(hc.runtime.output_dir)) if hc.get("runtime") else None
        status = getattr(getattr(job_return, "status", None), "name", "COMPLETED")
        failed = status == "FAILED" or (out_dir is not None and (out_dir / FAILED).is_file())
        now = time.time()
        num = hc.job.get("num")
        line = progress_line(
            num if isinstance(num, int) else None,
            "failed" if failed else "done",
            now - self.job_started,
            standing(sweep_dir, hc.sweep.get("subdir"), self.total),
            now - (sweep_started(sweep_dir) or self.job_started),
        )
        print(line, flush=True)
