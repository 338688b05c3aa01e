"""Find a sweep's jobs on disk and flatten their results.json into tidy rows: one row per
(job, final model or masked-curve point, split, language). Everything downstream reads
these rows, so a new setting, method or seed needs no new parsing.

A job that failed, is still running, left a broken file or never started becomes a
problem line instead of an error: a partial sweep still gets a report."""

from dataclasses import dataclass, field
from pathlib import Path

from xlprune.job.results import FAILED, FILENAME, read_failure, read_results

# Overrides that are columns of their own; any other override that differs between jobs
# becomes the job's `variant`, so jobs that differ in it are never mixed in one number.
DIMENSIONS = {
    "model",
    "task",
    "setting",
    "data",
    "source",
    "targets",
    "seed",
    "pruning.count",
    "pruning.heads",
    "pruning.mode",
    "pruning.max_k",
    "ranking",
    "ranking.method",
    "ranking.granularity",  # part of the method's name in the report (gradient:batch)
    "ranking.combine",
    "ranking.file",
    "logger",
    "hydra.sweep.dir",
    "hydra.run.dir",
}
FIXED = [
    "job",
    "num",
    "model",
    "task",
    "setting",
    "data",
    "source",
    "targets",
    "seed",
    "method",
    "combine",
    "variant",
    "mode",
    "kind",
    "k",
    "heads_total",
    "split",
    "lang",
    "role",
    "metric",
    "score",
]


@dataclass
class Job:
    """One job directory: its results (None when missing or unreadable) and its Hydra
    files, which say what results.json does not (logger, ranking.combine, overrides)."""

    path: Path
    label: str
    results: dict | None = None
    config: dict = field(default_factory=dict)
    overrides: list[str] | None = None  # None: not run by Hydra, overrides unknown
    num: int | None = None
    sweep_dir: Path | None = None
    variant: str = ""
    failure: dict | None = None  # failed.json: why the sweep could not finish it


@dataclass
class Collection:
    jobs: list[Job]
    problems: list[str]

    @property
    def done(self) -> list[Job]:
        return [j for j in self.jobs if j.results is not None]


def load_yaml(path: Path):
    from omegaconf import OmegaConf

    try:
        return OmegaConf.load(path)
    except Exception:  # a broken Hydra file only costs the details it held
        return None


def to_plain(node) -> dict | list:
    from omegaconf import OmegaConf

    try:
        return OmegaConf.to_container(node, resolve=False)
    except Exception:
        return {}


def job_dirs(root: Path, skip: Path | None) -> list[Path]:
    """Directories holding a results.json, a failure record or Hydra's .hydra/ folder of
    a job."""
    found = {p.parent for p in root.rglob(FILENAME)} | {p.parent for p in root.rglob(FAILED)}
    found |= {p.parent for p in root.rglob(".hydra") if p.is_dir()}
    if skip is not None:
        found = {d for d in found if skip not in (d, *d.parents)}
    return sorted(found, key=sort_key)


def sort_key(path: Path):
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in path.parts]


def read_job(path: Path, label: str) -> tuple[Job, str | None]:
    job = Job(path=path, label=label)
    hydra = load_yaml(path / ".hydra" / "hydra.yaml") if (path / ".hydra").is_dir() else None
    if hydra is not None and "hydra" in hydra:
        num = hydra.hydra.job.get("num")
        job.num = num if isinstance(num, int) else None
        if str(hydra.hydra.get("mode")) == "RunMode.MULTIRUN" or job.num is not None:
            job.sweep_dir = path.parent
    config = load_yaml(path / ".hydra" / "config.yaml")
    job.config = to_plain(config) if config is not None else {}
    overrides = load_yaml(path / ".hydra" / "overrides.yaml")
    job.overrides = [str(o) for o in to_plain(overrides)] if overrides is not None else None
    result_file = path / FILENAME
    job.results = read_results(result_file)
    what = f"{label}" + (f" ({' '.join(job.overrides)})" if job.overrides else "")
    job.failure = read_failure(path)
    if job.failure is not None:  # what a job's failure says wins over any results.json
        job.results = None
        if job.sweep_dir is None and path.name.isdigit():  # a task cancelled before it ran
            job.num, job.sweep_dir = int(path.name), path.parent
    if job.results is not None:
        return job, None
    if job.failure is not None:
        return job, f"{what}: failed ({job.failure.get('kind', 'error')}): {job.failure['reason']}"
    if not result_file.exists():
        return job, f"{what}: no {FILENAME} (interrupted or still running)"
    return job, f"{what}: {FILENAME} is unreadable or incomplete, left out"


def never_started(sweep_dir: Path, jobs: list[Job], label: str) -> list[str]:
    """Jobs the sweep planned (multirun.yaml) with no directory of their own."""
    from xlprune.report.sweep import planned_jobs

    saved = load_yaml(sweep_dir / "multirun.yaml")
    if saved is None or "hydra" not in saved:
        return []
    plan = planned_jobs(saved.hydra)
    if plan is None:
        return []
    seen = {j.num for j in jobs if j.sweep_dir == sweep_dir}
    return [
        f"{label}/{num}: planned ({' '.join(overrides)}) but never started"
        for num, overrides in enumerate(plan)
        if num not in seen
    ]


def collect(dirs: list[str | Path], skip: Path | None = None) -> Collection:
    """Every job under `dirs` (sweep folders, single job folders or parents of several)."""
    roots = [Path(d).resolve() for d in dirs]
    skip = skip.resolve() if skip is not None else None
    jobs, problems = [], []
    for root in roots:
        if not root.is_dir():
            problems.append(f"{root}: not a directory, skipped")
            continue
        prefix = root.name if len(roots) > 1 else ""
        found = []
        for path in job_dirs(root, skip):
            rel = path.relative_to(root).as_posix()
            label = "/".join(p for p in (prefix, "" if rel == "." else rel) if p) or root.name
            job, problem = read_job(path, label)
            found.append(job)
            if problem:
                problems.append(problem)
        for sweep_dir in sorted({j.sweep_dir for j in found if j.sweep_dir is not None}):
            rel = sweep_dir.relative_to(root).as_posix() if sweep_dir != root else ""
            label = "/".join(p for p in (prefix, rel) if p) or root.name
            problems.extend(never_started(sweep_dir, found, label))
        jobs.extend(found)
    if not any(j.results for j in jobs):
        problems.append(f"no complete {FILENAME} under {', '.join(map(str, roots))}")
    mark_variants(jobs)
    return Collection(jobs, problems)


def mark_variants(jobs: list[Job]) -> None:
    """A job's variant: its overrides outside DIMENSIONS that not every job shares. Jobs
    whose overrides are unknown (run without Hydra) count as sharing everything."""

    def own(job):
        return {o for o in job.overrides or () if o.split("=", 1)[0].lstrip("+~") not in DIMENSIONS}

    sets = [own(j) for j in jobs if j.results is not None and j.overrides is not None]
    common = set.intersection(*sets) if sets else set()
    for job in jobs:
        job.variant = " ".join(sorted(own(job) - common))


def main_metric(metric: str | None, values: dict) -> str:
    from xlprune.data.metrics import primary

    name = primary(metric or "")
    if name in values:
        return name
    if metric in values:
        return metric
    return next(iter(values), name)


def ranking_fields(job: Job) -> tuple[str, str]:
    """(method, combine) of a job's pruned model: '' for an unpruned one, 'explicit' for a
    hand-given head set; combine only when several sources were merged."""
    r = job.results
    ranking = r.get("ranking") or {}
    from xlprune.report.score_files import method_label

    method = method_label(ranking) if ranking.get("method") else ""
    method = method or ("explicit" if r.get("prune_count") else "")
    sources = ranking.get("sources") or r.get("source") or []
    combine = ranking.get("combine") or (job.config.get("ranking") or {}).get("combine") or ""
    return method, str(combine) if len(sources) > 1 and method else ""


def tidy_rows(jobs: list[Job]) -> list[dict]:
    """The final model's scores (k = heads removed before fine-tuning; an unpruned model
    counts as k=0 whatever ranking it carries; kind "guided" for a guided job's choice)
    and each masked-curve point (dev only)."""
    rows: list[dict] = []
    for job in jobs:
        r = job.results
        if r is None:
            continue
        method, combine = ranking_fields(job)
        k = int(r.get("prune_count") or 0)
        base = job_fields(job)
        final = dict(base, method=method if k else "", combine=combine if k else "")
        # a guided job's model is one its full search also trains: its own kind, so the
        # curves and tables over re-trained models do not count it twice
        kind = "guided" if r.get("guided") else "final"
        for split, by_lang in (r.get("metrics") or {}).items():
            rows += lang_rows(r, final, kind, k, split, by_lang)
        masked = dict(base, method=method, combine=combine)
        curve_kind = "guided-masked" if r.get("guided") else "masked"  # apart from mask jobs'
        for point in r.get("mask_curve") or []:
            rows += lang_rows(
                r, masked, curve_kind, int(point.get("k", 0)), "dev", point.get("metrics")
            )
    return rows


def job_fields(job: Job) -> dict:
    r = job.results
    pruning = job.config.get("pruning") or {}
    mode = pruning.get("mode") or ("mask" if r.get("mask_curve") else "remove")
    return {
        "job": job.label,
        "num": job.num,
        "model": str(r.get("model")),
        "task": str(r.get("task")),
        "setting": str(r.get("setting")),
        "data": str(r.get("data", "")),
        "source": "+".join(map(str, r.get("source") or [])),
        "targets": "+".join(map(str, r.get("targets") or [])),
        "seed": r.get("seed"),
        "variant": job.variant,
        "mode": str(mode),
        "heads_total": r.get("num_heads_total"),
    }


def lang_rows(r: dict, fields: dict, kind: str, k: int, split: str, by_lang) -> list[dict]:
    rows = []
    targets, source = r.get("targets") or [], r.get("source") or []
    for lang, values in (by_lang or {}).items() if isinstance(by_lang, dict) else ():
        if not isinstance(values, dict) or not values:
            continue
        name = main_metric(r.get("metric"), values)
        role = "target" if lang in targets else "source" if lang in source else "other"
        rows.append(
            dict(
                fields,
                kind=kind,
                k=k,
                split=split,
                lang=lang,
                role=role,
                metric=name,
                score=values.get(name),
                **{f"m_{key}": v for key, v in values.items()},
            )
        )
    return rows


def row_columns(rows: list[dict]) -> list[str]:
    extra = sorted({key for row in rows for key in row if key.startswith("m_")})
    return FIXED + extra
