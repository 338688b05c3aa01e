"""Build a sweep's report folder: results.csv, the tables (Markdown, LaTeX, CSV), pruning
curves, heatmaps, Spearman matrices and index.html tying them together. Each figure is
drawn on its own: one that fails becomes a line on the page, not a missing report."""

import datetime
from dataclasses import dataclass, field
from pathlib import Path

from xlprune.infra import files
from xlprune.report import curves, interactive, page, table
from xlprune.report import score_files as rankings
from xlprune.report.collect import Collection, collect, row_columns, tidy_rows
from xlprune.report.guided import guided_tables
from xlprune.report.header import Header, header
from xlprune.report.paper import all_tables, spearman_table
from xlprune.report.series import Series

FIGURES = "figures"
SECTIONS = {
    "paper": ("Unpruned vs pruned (the paper's Tables 2-4)", ""),
    "ablation": ("Ranking methods (the paper's Table 5)", ""),
    "multi_source": ("Several sources (the paper's Table 6)", ""),
    "spearman": ("Rankings across languages beside the paper's Figure 1", ""),
    "seeds": ("Several seeds: mean and standard deviation", ""),
    "guided": ("Choosing k with fewer fine-tunes (pruning.mode=guided)", ""),
}


@dataclass
class Report:
    out: Path
    index: Path
    done: int
    total: int
    problems: list[str]
    rows: list[dict]
    tables: list[table.Table]
    curve_sets: list[curves.CurveSet] = field(default_factory=list)
    figures: dict[str, list[page.Figure]] = field(default_factory=dict)
    correlations: list[rankings.Correlation] = field(default_factory=list)
    collection: Collection | None = None
    header: Header | None = None


def build_report(dirs: list[str | Path], out: str | Path | None = None) -> Report:
    dirs = [Path(d) for d in dirs]
    out = Path(out) if out is not None else dirs[0] / "report"
    found = collect(dirs, skip=out)
    problems = list(found.problems)
    rows = tidy_rows(found.jobs)
    columns = row_columns(rows)
    files.write_csv(out / "results.csv", columns, [[r.get(c) for c in columns] for r in rows])
    series = Series(rows)
    score_files, missing = rankings.score_files(found.done, series.job_context)
    problems += missing
    correlations = rankings.correlations(score_files)
    tables = all_tables(series) + spearman_table(correlations, series)
    tables += guided_tables([(job.results, job.variant) for job in found.done])
    write_tables(tables, out)
    written: set[Path] = set()
    figures: dict[str, list[page.Figure]] = {"curves": [], "heatmaps": [], "spearman": []}

    def draw(section: str, name: str, caption: str, make) -> None:
        path = out / FIGURES / name
        try:
            make(path)
        except Exception as err:  # one broken figure must not sink the report
            problems.append(f"figure {name} not drawn: {type(err).__name__}: {err}")
            return
        written.add(path)
        figures[section].append(page.Figure(f"{FIGURES}/{name}", caption))

    sets = curves.curve_sets(series)
    for s in sets:
        name = f"curves_{s.context.slug()}.png"
        draw(
            "curves", name, f"{s.context.title()}: pruning curves", lambda p, s=s: curves.plot(s, p)
        )
    taken: set = set()
    for f in score_files:
        name = rankings.heatmap_name(f, taken)
        title = rankings.heatmap_title(f)
        draw("heatmaps", name, title, lambda p, f=f, t=title: heatmap(f, p, t))
    links = []
    for c in correlations:
        csv_name = f"spearman_{c.slug()}.csv"
        written.add(rankings.write_correlation_csv(c, out / csv_name))
        links.append((csv_name, f"Spearman matrix, {c.title()}, CSV"))
        draw(
            "spearman",
            f"spearman_{c.slug()}.png",
            c.title(),
            lambda p, c=c: rankings.correlation_figure(c, p),
        )
    remove_stale(out, written)
    done, total = len(found.done), len(found.jobs)
    about = header(found, dirs)
    summary = about.lines() + [
        f"From {', '.join(str(d.resolve()) for d in dirs)}; built "
        f"{datetime.datetime.now().isoformat(timespec='seconds')}.",
        "Scores 0-1 everywhere (terminal, results.json, this page, W&B); tables: test "
        "scores; k = heads removed.",
    ]
    view = interactive_view(series, sets, problems)
    sections = [
        page.Section(key, title, intro, tables=[t for t in tables if t.group == key])
        for key, (title, intro) in SECTIONS.items()
    ]
    sections += [
        page.Section("curves", "Pruning curves", figures=figures["curves"]),
        page.Section(
            "interactive",
            "Pruning curves, interactive",
            "Hover for values; choose model, task, setting and language; works offline."
            if view
            else "",
            html=view,
        ),
        page.Section("heatmaps", "Head importance", figures=figures["heatmaps"]),
        page.Section(
            "spearman",
            "Rankings across languages (the paper's Figure 1)",
            "Spearman correlation between languages' head rankings (scores normalised per "
            "layer, as ranked)."
            if figures["spearman"]
            else "",
            figures=figures["spearman"],
            links=links,
        ),
        page.Section(
            "files",
            "Files",
            links=[
                ("results.csv", "results.csv: every job, split and language (raw scores)"),
                ("tables.md", "tables.md"),
                ("tables.tex", "tables.tex"),
                ("tables.csv", "tables.csv: every table cell, raw"),
            ],
        ),
    ]
    html = page.render(about.title, summary, problems, sections, about.warnings)
    index = files.write_text(out / "index.html", html)
    return Report(
        out, index, done, total, problems, rows, tables, sets, figures, correlations, found, about
    )


def interactive_view(series: Series, sets: list, problems: list[str]) -> str:
    """The curves as one interactive chart; like a figure, a failure is a line, not a loss."""
    try:
        return interactive.view(series, sets)
    except Exception as err:  # noqa: BLE001
        problems.append(f"interactive view not built: {type(err).__name__}: {err}")
        return ""


def heatmap(f: rankings.ScoreFile, path: Path, title: str) -> Path:
    """A score file's heatmap, its jobs' removed heads numbered."""
    from xlprune.job.heatmap import heatmap as draw

    return draw(f.raw, path, title, f.score, f.removed)


def write_tables(tables: list[table.Table], out: Path) -> None:
    md = "# xlprune tables\n\n" + "\n".join(table.markdown(t) for t in tables)
    if not tables:
        md += "No tables: no complete jobs with scores.\n"
    files.write_text(out / "tables.md", md)
    tex = "% xlprune tables; needs \\usepackage{booktabs}\n\n" + "\n".join(
        table.latex(t) for t in tables
    )
    files.write_text(out / "tables.tex", tex)
    files.write_csv(out / "tables.csv", *table.long_rows(tables))


def remove_stale(out: Path, written: set[Path]) -> None:
    """Figures and matrices of an earlier build that this one did not write again."""
    keep = {p.resolve() for p in written}
    stale = list((out / FIGURES).glob("*.png")) + list(out.glob("spearman_*.csv"))
    for path in stale:
        if path.resolve() not in keep:
            path.unlink(missing_ok=True)
