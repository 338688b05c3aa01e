"""Pruning curves: score against heads removed, one panel per target language, every
setting and source in it. Solid: re-trained jobs (one fine-tune per k, test score, k=0 the
unpruned model); dashed: post-hoc masked curves (one fine-tune, dev score)."""

from dataclasses import dataclass, field
from pathlib import Path

from xlprune.report.files import pyplot, save_figure
from xlprune.report.series import Context, Line, Series


@dataclass
class Curve:
    label: str
    lang: str
    points: list[tuple[int, float]]
    masked: bool


@dataclass
class CurveSet:
    context: Context
    metric: str
    langs: list[str]
    curves: list[Curve] = field(default_factory=list)


def series_label(line: Line) -> str:
    parts = [line.setting, line.source]
    if line.method and line.method != "gradient":
        parts.append(line.method)
    if line.combine:
        parts.append(line.combine)
    parts.append("masked, dev" if line.kind == "masked" else "re-trained, test")
    return " ".join(parts)


def curve_sets(series: Series) -> list[CurveSet]:
    sets = []
    for context in series.contexts():
        langs: list[str] = []
        for (ctx, _, _), targets in series.targets.items():
            if ctx == context:
                langs += [t for t in targets if t not in langs]
        found = CurveSet(context, series.metric.get(context, "score"), langs)
        for line in series.lines(context):
            if line.lang not in langs or line.method == "explicit":
                continue
            if line.kind == "final" and line.split == "test" and line.method:
                points = dict(series.pruned(line))
                base = series.unpruned(line)
                if base is not None:
                    points[0] = base
            elif line.kind == "masked" and line.split == "dev":
                points = dict(series.score[line])
            else:
                continue
            found.curves.append(
                Curve(series_label(line), line.lang, sorted(points.items()), line.kind == "masked")
            )
        if found.curves:
            sets.append(found)
    return sets


def plot(curve_set: CurveSet, path: Path) -> Path:
    """Panels left, one legend column right, tall enough for every series."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    langs = [g for g in curve_set.langs if any(c.lang == g for c in curve_set.curves)]
    labels = sorted({c.label for c in curve_set.curves})
    cols = min(3, len(langs))
    rows = -(-len(langs) // cols)
    height = max(3.0 * rows + 0.6, 0.22 * len(labels) + 0.8)
    fig, axes = plt.subplots(
        rows,
        cols + 1,
        figsize=(4.0 * cols + 3.4, height),
        squeeze=False,
        gridspec_kw={"width_ratios": [1.0] * cols + [0.85]},
    )
    palette = plt.cm.tab10 if len(labels) <= 10 else plt.cm.tab20
    colours = {label: palette(i % palette.N) for i, label in enumerate(labels)}
    panels = [ax for r in range(rows) for ax in axes[r, :cols]]
    for ax, lang in zip(panels, langs, strict=False):
        for curve in (c for c in curve_set.curves if c.lang == lang):
            xs, ys = zip(*curve.points, strict=True)
            ax.plot(
                xs,
                [100 * y for y in ys],
                linestyle="--" if curve.masked else "-",
                marker="o",
                markersize=3,
                color=colours[curve.label],
            )
        ax.set_title(f"target {lang}", fontsize=10)
        ax.set_xlabel("heads removed (k)")
        ax.set_ylabel(f"{curve_set.metric} x100")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    for ax in panels[len(langs) :] + list(axes[:, cols]):
        ax.axis("off")
    handles = [
        plt.Line2D([], [], color=colours[label], linestyle="--" if "masked" in label else "-")
        for label in labels
    ]
    axes[0, cols].legend(handles, labels, loc="upper left", fontsize=7, frameon=False)
    fig.suptitle(f"{curve_set.context.title()}: pruning curves", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)
