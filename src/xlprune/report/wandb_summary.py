"""One W&B run per sweep, next to its jobs' runs (same project and group, job type summary,
name `summary`): the report's tables, pruning curves, heatmaps and Spearman matrices.
Offline by default, like the jobs; `wandb sync` uploads it with them. Scores are 0-1
everywhere, as in results.json.

What it logs (keys as the W&B workspace shows them):
- `scores`: the long table, one row per job x split x language (and per masked-curve point):
  SCORE_COLUMNS, `run` being the name of the job's own W&B run.
- `score_vs_k/<model>_<task>[_<data>_<variant>]_<setting>_<source>_<method>[_<combine>]
  [_masked]`: wandb.plot.line_series charts, x = heads removed k, y = score, one line per
  evaluated language (re-trained jobs: test, k=0 the unpruned model; masked: dev); mean
  over seeds.
- `results` (every tidy-row column), `tables/<key>` (the report's tables), `curves/...`
  (wandb.plot.line per target language, one line per setting/source/method, and the
  figures), `heatmaps/...`, `spearman/...`; summary: jobs_complete, jobs, problems."""

import os
from dataclasses import dataclass, field
from pathlib import Path

from xlprune.report.table import raw

WANDB_LOGGER = "WandbLogger"
SCORES = "scores"  # the long table's key
CHARTS = "score_vs_k"  # the line_series charts' prefix
SCORE_COLUMNS = [
    "model",
    "task",
    "setting",
    "source",
    "targets",
    "lang",
    "role",
    "k",
    "split",
    "metric",
    "score",
    "seed",
    "method",
    "combine",
    "kind",
    "mode",
    "data",
    "variant",
    "heads_total",
    "job",
    "run",
]


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
    from xlprune.job.loggers import group_name
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
        return group_name(original)
    return group_name(sweep_dir)


def plain_table(columns: list[str], rows: list[list]):
    import wandb

    data = [
        [v if isinstance(v, str | int | float) or v is None else str(v) for v in r] for r in rows
    ]
    return wandb.Table(columns=list(columns), data=data, allow_mixed_types=True)


def job_run_name(job) -> str:
    """The name make_logger gave the job's W&B run: from results.json (resolved values) and
    the job's saved config (pruning and ranking keys) and overrides."""
    from xlprune.job.loggers import run_identity

    r = job.results or {}
    if (r.get("logger") or {}).get("run_name"):
        return str(r["logger"]["run_name"])
    cfg = dict(job.config or {})
    for key in ("model", "task", "setting", "data"):
        if r.get(key) is not None:
            cfg[key] = {"name": r[key]}
    for key in ("source", "targets", "seed"):
        if key in r:
            cfg[key] = r[key]
    pruning = dict(cfg.get("pruning") or {})
    if "mode" not in pruning:
        found = [m for m in ("search", "guided") if r.get(m)] or [
            "mask" if r.get("mask_curve") else ""
        ]
        pruning["mode"] = found[0]
    if not pruning.get("heads"):
        pruning["count"] = r.get("prune_count") or 0
    cfg["pruning"] = pruning
    if not cfg.get("ranking") and r.get("ranking"):
        cfg["ranking"] = r["ranking"]
    return run_identity(cfg, job.overrides).name()


def score_rows(report) -> list[list]:
    """The long table's rows: every tidy row, SCORE_COLUMNS, with the job's run name."""
    jobs = report.collection.jobs if report.collection is not None else []
    names = {}
    for job in jobs:
        if job.results is not None:
            try:
                names[job.label] = job_run_name(job)
            except Exception:  # noqa: BLE001 - an odd config costs the name, not the table
                names[job.label] = None
    return [
        [names.get(r.get("job")) if c == "run" else r.get(c) for c in SCORE_COLUMNS]
        for r in report.rows
    ]


@dataclass
class Chart:
    """Score against heads removed, one line per language: lines[lang] = [(k, score)]."""

    key: str
    title: str
    lines: dict[str, list[tuple[int, float]]] = field(default_factory=dict)


def score_charts(rows: list[dict]) -> list[Chart]:
    """One chart per model x task (x data, variant) x setting x source x ranking method
    (x combine) x kind: re-trained jobs' test scores with the unpruned model at k=0, or a
    masked curve's dev scores; averaged over seeds like the report's curves."""
    from xlprune.report.series import Series, slugify

    series = Series(rows)
    charts: dict = {}
    for context in series.contexts():
        metric = series.metric.get(context, "score")
        for line in series.lines(context):
            if line.method in ("", "explicit"):
                continue  # unpruned models are k=0 of their method's lines
            masked = line.kind == "masked"
            if line.kind == "final" and line.split == "test":
                points = dict(series.pruned(line))
                if (base := series.unpruned(line)) is not None:
                    points[0] = base
            elif masked and line.split == "dev":
                points = dict(series.score[line])
            else:
                continue
            group = (context, line.setting, line.source, line.method, line.combine, line.kind)
            if group not in charts:
                parts = [line.setting, line.source, line.method, line.combine]
                key = "_".join([context.slug(), *(slugify(p) for p in parts if p)])
                how = f"{line.method} {line.combine}".strip()
                what = "dev, masked" if masked else "test, re-trained"
                title = (
                    f"{context.title()}, {line.setting}, source {line.source}: {metric} "
                    f"({what}) vs heads removed ({how})"
                )
                charts[group] = Chart(f"{CHARTS}/{key}" + ("_masked" if masked else ""), title)
            charts[group].lines[line.lang] = sorted(points.items())
    return list(charts.values())


def line_series(chart: Chart):
    import wandb

    langs = list(chart.lines)
    return wandb.plot.line_series(
        xs=[[k for k, _ in chart.lines[g]] for g in langs],
        ys=[[v for _, v in chart.lines[g]] for g in langs],
        keys=langs,
        title=chart.title,
        xname="heads removed (k)",
    )


def payload(report) -> dict:
    """Everything the summary run logs, keyed as it appears in the W&B workspace."""
    import wandb

    from xlprune.report.collect import row_columns

    out: dict = {}
    columns = row_columns(report.rows)
    out["results"] = plain_table(columns, [[r.get(c) for c in columns] for r in report.rows])
    out[SCORES] = plain_table(SCORE_COLUMNS, score_rows(report))
    for chart in score_charts(report.rows):
        out[chart.key] = line_series(chart)
    for t in report.tables:
        rows = [[raw(c) if i >= t.labels else str(c) for i, c in enumerate(r)] for r in t.rows]
        out[f"tables/{t.key}"] = plain_table(t.columns, rows)
    for s in report.curve_sets:
        for lang in s.langs:
            points = [[k, v, c.label] for c in s.curves if c.lang == lang for k, v in c.points]
            if not points:
                continue
            table = plain_table(["k", "score", "series"], points)
            title = f"{s.context.title()}, target {lang}: {s.metric} (0-1) vs heads removed"
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
        first = "lang" if c.between == "languages" else "method"
        out[f"spearman/{c.slug()}"] = plain_table([first, *c.langs], rows)
    return out


def summary_tags(rows: list[dict]) -> list[str]:
    """`summary` and the sweep's models, tasks, settings and sources, as the job runs'
    tags spell them (model:tiny_bert, ...)."""
    from xlprune.job.loggers import clean_tags

    tags = ["summary"]
    for column in ("model", "task", "setting", "data"):
        tags += [f"{column}:{v}" for v in dict.fromkeys(r.get(column) for r in rows) if v]
    sources = (s for r in rows for s in str(r.get("source") or "").split("+") if s)
    return clean_tags(tags + [f"source:{s}" for s in dict.fromkeys(sources)])


def log_summary(report, sweep_dir: str | Path, group: str | None = None) -> Path | None:
    """Log the summary run when the sweep's jobs used W&B; its run folder, else None."""
    jobs = report.collection.jobs
    settings = wandb_settings(jobs)
    if settings is None:
        return None
    import wandb

    from xlprune.infra.secrets import scrub_argv
    from xlprune.job.loggers import SUMMARY, wandb_unreachable

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
        job_type=SUMMARY,
        tags=summary_tags(report.rows),
        notes=f"the report of {report.total} jobs under {sweep_dir.resolve()}",
        dir=str(sweep_dir),
        mode="offline" if offline else "online",
        config={
            "sweep_dir": str(sweep_dir.resolve()),
            "jobs": report.total,
            "jobs_complete": report.done,
            "scale": "0-1",
        },
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
