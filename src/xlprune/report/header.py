"""What a report's first lines say: which sweep this is (the command that started it, its
experiment and grid, read from each sweep's multirun.yaml) and how many of its planned jobs
are done, failed, unfinished or never started, so the counts agree with the plan."""

from dataclasses import dataclass, field
from pathlib import Path

from xlprune.report.collect import Collection, load_yaml


@dataclass
class Counts:
    done: int = 0
    failed: int = 0  # a failure record (failed.json): bad input, a crash, cancelled, lost
    unfinished: int = 0  # a folder without either: killed or still running
    never_started: int = 0
    planned: int = 0

    def line(self) -> str:
        return (
            f"{self.planned} jobs planned: {self.done} done, {self.failed} failed, "
            f"{self.unfinished} unfinished, {self.never_started} never started."
        )


@dataclass
class Header:
    title: str
    sweeps: list[dict] = field(default_factory=list)  # sweep.describe() of each, with "dir"
    counts: Counts = field(default_factory=Counts)
    warnings: list[str] = field(default_factory=list)  # the jobs' own (chance level)

    def lines(self) -> list[str]:
        out = []
        for s in self.sweeps:
            grid = " ".join(f"{k}={v}" for k, v in s["grid"].items()) or "none"
            experiment = s["experiment"] or "none"
            out += [f"Command: {s['command']}", f"Experiment: {experiment}; grid: {grid}."]
        return out + [self.counts.line()]


def header(found: Collection, dirs: list[Path]) -> Header:
    from xlprune.infra.secrets import redact_text
    from xlprune.report.sweep import describe

    sweeps, counts = [], Counts()
    by_sweep: dict = {}
    for job in found.jobs:
        by_sweep.setdefault(job.sweep_dir, []).append(job)
    for sweep_dir, jobs in by_sweep.items():
        done = sum(j.results is not None for j in jobs)
        failed = sum(j.results is None and j.failure is not None for j in jobs)
        counts.done += done
        counts.failed += failed
        counts.unfinished += len(jobs) - done - failed
        saved = load_yaml(sweep_dir / "multirun.yaml") if sweep_dir is not None else None
        planned = len(jobs)
        if saved is not None and "hydra" in saved:
            about = describe(saved.hydra)
            about["command"] = redact_text(about["command"])
            sweeps.append(dict(about, dir=str(sweep_dir)))
            seen = {j.num for j in jobs}
            if about["planned"] is not None:
                planned = max(about["planned"], len(seen))
                counts.never_started += about["planned"] - len(seen & set(range(about["planned"])))
        counts.planned += planned
    experiments = sorted({s["experiment"] for s in sweeps if s["experiment"]})
    name = ", ".join(f"+experiment={e}" for e in experiments) or ", ".join(
        d.resolve().name for d in dirs
    )
    stamps = ", ".join(Path(s["dir"]).parent.name + "/" + Path(s["dir"]).name for s in sweeps)
    title = f"xlprune report: {name}" + (f" (sweep {stamps})" if experiments and stamps else "")
    warnings = [
        f"{job.label}: {line}" for job in found.done for line in job.results.get("warnings") or []
    ]
    return Header(title, sweeps, counts, warnings)
