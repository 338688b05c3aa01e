"""One W&B run per sweep, next to its jobs' runs (same project and group): the report's
tables, pruning curves as line plots, heatmaps and Spearman matrices. Offline by default,
like the jobs; `wandb sync` uploads it with them."""

import os
from pathlib import Path

from xlprune.report.table import raw

WANDB_LOGGER = "WandbLogger"


def wandb_settings(jobs) -> dict | None:
    """The W&B logger config of the first job that used one, or None when none did."""
    for job in jobs:
        logger = job.config.get("logger") or {}
        if str(logger.get("_target_", "")).endswith(WANDB_LOGGER):
            return logger
    for job in jobs:
        if (job.path / "wandb").is_dir():
            return {}
    return None


def sweep_group(sweep_dir: Path, jobs) -> str:
    """The group run.py's make_logger gave the jobs: the sweep dir as configured (relative
    to where the sweep was started unless given absolute), '/' replaced by '_'. Read from
    a job's saved Hydra config, so it holds after the folder was copied or moved."""
    from xlprune.report.collect import load_yaml, to_plain

    sweep_dir = Path(sweep_dir).resolve()
    for job in jobs:
        if job.sweep_dir is None or job.sweep_dir.resolve() != sweep_dir:
            continue
        saved = load_yaml(job.path / ".hydra" / "hydra.yaml")
        hydra = (to_plain(saved) if saved is not None else {}).get("hydra") or {}
        sweep, runtime = hydra.get("sweep") or {}, hydra.get("runtime") or {}
        template, cwd, out = (
            str(sweep.get("dir", "")),
            runtime.get("cwd"),
            runtime.get("output_dir"),
        )
        if not (template and cwd and out):
            continue
        depth = len(Path(str(sweep.get("subdir", "x"))).parts)
        original = Path(out).parents[depth - 1]
        if not template.startswith("/"):
            original = Path(os.path.relpath(original, cwd))
        return original.as_posix().replace("/", "_")
    return sweep_dir.as_posix().replace("/", "_")


def plain_table(columns: list[str], rows: list[list]):
    import wandb

    data = [
        [v if isinstance(v, str | int | float) or v is None else str(v) for v in r] for r in rows
    ]
    return wandb.Table(columns=list(columns), data=data, allow_mixed_types=True)


def payload(report) -> dict:
    """Everything the summary run logs, keyed as it appears in the W&B workspace."""
    import wandb

    from xlprune.report.collect import row_columns

    out: dict = {}
    columns = row_columns(report.rows)
    out["results"] = plain_table(columns, [[r.get(c) for c in columns] for r in report.rows])
    for t in report.tables:
        rows = [[raw(c) if i >= t.labels else str(c) for i, c in enumerate(r)] for r in t.rows]
        out[f"tables/{t.key}"] = plain_table(t.columns, rows)
    for s in report.curve_sets:
        for lang in s.langs:
            points = [
                [k, 100 * v, c.label] for c in s.curves if c.lang == lang for k, v in c.points
            ]
            if not points:
                continue
            table = plain_table(["k", "score", "series"], points)
            title = f"{s.context.title()}, target {lang}: {s.metric} x100 vs heads removed"
            out[f"curves/{s.context.slug()}_{lang}"] = wandb.plot.line(
                table, "k", "score", stroke="series", title=title
            )
    for section, figures in report.figures.items():
        for f in figures:
            out[f"{section}/{Path(f.path).stem}"] = wandb.Image(
                str(report.out / f.path), caption=f.caption
            )
    for c in report.correlations:
        rows = [[a, *row] for a, row in zip(c.langs, c.matrix, strict=True)]
        out[f"spearman/{c.slug()}"] = plain_table(["lang", *c.langs], rows)
    return out


def log_summary(report, sweep_dir: str | Path, group: str | None = None) -> Path | None:
    """Log the summary run when the sweep's jobs used W&B; its run folder, else None."""
    jobs = report.collection.jobs
    settings = wandb_settings(jobs)
    if settings is None:
        return None
    import wandb

    from xlprune.loggers import wandb_unreachable
    from xlprune.secrets import scrub_argv

    scrub_argv()  # W&B records the command line; the launcher has long parsed it
    sweep_dir = Path(sweep_dir)
    offline = settings.get("offline", True) is not False
    if not offline and (problem := wandb_unreachable()):
        print(f"[xlprune] {problem}: the summary run is logged offline", flush=True)
        offline = True  # `wandb sync` uploads it later
    run = wandb.init(
        project=settings.get("project") or "xlprune",
        entity=settings.get("entity"),
        group=group or sweep_group(sweep_dir, jobs),
        name="summary",
        job_type="summary",
        dir=str(sweep_dir),
        mode="offline" if offline else "online",
        config={"sweep_dir": str(sweep_dir.resolve()), "jobs": report.total},
    )
    try:
        run.log(payload(report))
        run.summary.update(
            {"jobs_complete": report.done, "jobs": report.total, "problems": len(report.problems)}
        )
        run_dir = Path(run.dir).parent
    finally:
        wandb.finish()
    return run_dir
