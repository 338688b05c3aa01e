"""At the end of a sweep: where the results are, a short table of them, the sweep's report
(and its W&B summary run when the jobs logged to W&B), and index.html's path last. Light
on imports: Hydra imports this module in the sweep process; the report loads on use."""

import logging
from pathlib import Path

from hydra.experimental.callback import Callback

from xlprune.job.results import FILENAME, read_failure, read_results

log = logging.getLogger(__name__)

# The jobs the last sweep of this process could not finish (one line each): the command
# exits non-zero when there are any (xlprune.__main__.cli reads it after Hydra returns).
unfinished_jobs: list[str] = []


def collect(sweep_dir: str | Path) -> list[dict]:
    rows = []
    for path in sorted(Path(sweep_dir).rglob(FILENAME)):
        data = read_results(path)
        if data is not None:
            rows.append(dict(data, path=str(path)))
    return sorted(
        rows, key=lambda r: (r["model"], r["task"], r["source"], r["setting"], r["prune_count"])
    )


def table(rows: list[dict]) -> str:
    """One line per job: test score per target language (the task's main metric)."""
    header = f"{'model':<10} {'task':<4} {'setting':<7} {'source':<7} {'k':>3}  test scores"
    lines = [header, "-" * len(header)]
    for r in rows:
        name = "accuracy" if r.get("metric") == "accuracy" else "f1"
        scores = "  ".join(
            f"{lang}={v[name]:.3f}"
            for lang, v in r["metrics"]["test"].items()
            if lang in r["targets"] and name in v
        )
        lines.append(
            f"{r['model']:<10} {r['task']:<4} {r['setting']:<7} "
            f"{','.join(r['source']):<7} {r['prune_count']:>3}  {scores}"
        )
    return "\n".join(lines)


def warnings(rows: list[dict]) -> list[str]:
    """The jobs' own warnings (a model at chance level), one line each, with the job."""
    return [
        f"warning: {Path(r['path']).parent.name}: {line}"
        for r in rows
        for line in r.get("warnings") or []
    ]


def not_finished(sweep_dir: Path, planned: list[list[str]] | None) -> list[str]:
    """The sweep's jobs without a result, one line each with why: a failure record's
    reason, a folder with neither (killed, or crashed past its handler), or no folder (never
    started). Run after the sweep, so nothing is still running."""
    lines = []
    dirs = {p.name: p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()}
    nums = range(len(planned)) if planned is not None else sorted(map(int, dirs))
    for num in nums:
        job_dir = dirs.get(str(num))
        what = f"job {num}" + (f" ({' '.join(planned[num])})" if planned else "")
        if job_dir is None:
            lines.append(f"{what}: never started")
        elif read_results(job_dir / FILENAME) is None or read_failure(job_dir):
            failure = read_failure(job_dir)
            reason = (
                f"{failure.get('kind', 'failed')}: {failure['reason']}"
                if failure
                else f"no {FILENAME} and no failure record (killed, or out of memory); its "
                f"log: {job_dir}"
            )
            lines.append(f"{what}: {reason}")
    return lines


def fine_tune_count(rows: list[dict]) -> str:
    """What the sweep trained: the jobs' own fine-tunes and the ranking fine-tunes, not
    counting jobs resumed from earlier runs."""
    ran = [r for r in rows if "resumed_from" not in r]
    jobs = sum(r.get("fine_tunes", 0) for r in ran)
    rankings = sum((r.get("ranking") or {}).get("computed", 0) for r in ran)
    resumed = len(rows) - len(ran)
    guided = [r for r in ran if r.get("guided")]
    saved = sum(r["guided"]["full_search_fine_tunes"] - r.get("fine_tunes", 0) for r in guided)
    return (
        f"fine-tunes run: {jobs + rankings} ({jobs} by the jobs, {rankings} to rank heads)"
        + (f"; {resumed} jobs resumed from earlier runs" if resumed else "")
        + (f"; guided mode saved {saved} fine-tunes against re-training every k" if guided else "")
    )


def warn(what: str, err: BaseException) -> None:
    print(f"xlprune: warning: {what}: {type(err).__name__}: {err}".splitlines()[0], flush=True)


class SweepSummary(Callback):
    def on_multirun_end(self, config, **kwargs) -> None:
        from xlprune.report.sweep import planned_jobs

        sweep_dir = Path(config.hydra.sweep.dir).resolve()
        rows = collect(sweep_dir)
        print(f"\n{len(rows)} job results under {sweep_dir}\n{table(rows)}", flush=True)
        print(fine_tune_count(rows), flush=True)
        for line in warnings(rows):
            print(line, flush=True)
        unfinished_jobs[:] = not_finished(sweep_dir, planned_jobs(config.hydra))
        if unfinished_jobs:
            print(f"{len(unfinished_jobs)} job(s) did not finish:", flush=True)
            for line in unfinished_jobs:
                print(f"  {line}", flush=True)
        try:
            from xlprune.report.assemble import build_report

            report = build_report([sweep_dir])
        except Exception as err:  # the results above stay; the report is a bonus
            warn("no report built", err)
            return
        if report.problems:
            print(f"{len(report.problems)} problem(s), listed in the report", flush=True)
        try:
            from xlprune.job.loggers import group_name
            from xlprune.report.wandb_summary import log_summary

            group = group_name(config.hydra.sweep.dir)
            run_dir = log_summary(report, sweep_dir, group=group)
            if run_dir is not None:
                print(f"W&B summary run: {run_dir}", flush=True)
        except Exception as err:
            warn("no W&B summary run", err)
        print(report.index, flush=True)
