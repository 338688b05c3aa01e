"""Pruning curves: score (0-1) against heads removed, one panel per target language, every
setting and source in it. Filled markers: re-trained jobs (one fine-tune per k, test score,
k=0 the unpruned model); hollow markers: post-hoc masked curves (one fine-tune, dev score).

Each series has its own colour, marker and line style, and of every LAYERS series in the
legend the later ones are drawn smaller, thinner and on top, so series whose scores
coincide still all show: each one's rim around the next. x stays at the true k."""

from dataclasses import dataclass, field
from pathlib import Path

from xlprune.infra.files import pyplot, save_figure
from xlprune.report.series import Context, Line, Series

# the first LAYERS nest: each one shows around the smaller one drawn on it
MARKERS = ["o", "s", "D", "^", "v", "P", "X", "*", "<", ">", "h", "p"]
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1))]
LAYERS = 4  # series stacked by size: up to this many coinciding series all stay visible
REFERENCE = (0, (1, 3))  # the unpruned score's horizontal line
METRIC_NAMES = {"accuracy": "accuracy", "f1": "entity F1"}


@dataclass
class Curve:
    label: str
    lang: str
    points: list[tuple[int, float]]  # (k, mean over seeds)
    masked: bool
    spread: dict[int, float] = field(default_factory=dict)  # k -> std, where seeds > 1

    @property
    def base(self) -> float | None:
        """The unpruned (k=0) score, the curve's reference."""
        return dict(self.points).get(0)


@dataclass
class CurveSet:
    context: Context
    metric: str
    langs: list[str]
    curves: list[Curve] = field(default_factory=list)
    heads_total: list[int] = field(default_factory=list)  # the model's head count(s)


@dataclass(frozen=True)
class Style:
    colour: tuple
    marker: str
    linestyle: str | tuple
    size: float
    width: float
    zorder: float


def series_label(line: Line) -> str:
    parts = [line.setting, line.source]
    if line.method and line.method != "gradient":
        parts.append(line.method)
    if line.combine:
        parts.append(line.combine)
    parts.append("masked, dev" if line.kind == "masked" else "re-trained, test")
    return " ".join(parts)


def curve_of(series: Series, line: Line) -> Curve | None:
    """A line's curve: re-trained test scores with the unpruned model as k=0, or a masked
    dev curve; with each k's std where several seeds were averaged."""
    spread = {k: std for k, (std, _) in series.spread.get(line, {}).items()}
    if line.kind == "final" and line.split == "test" and line.method:
        points = dict(series.pruned(line))
        spread = {k: s for k, s in spread.items() if k > 0}
        base = series.unpruned(line)
        if base is not None:
            points[0] = base
            base_spread = series.spread.get(series.unpruned_line(line), {}).get(0)
            if base_spread:
                spread[0] = base_spread[0]
    elif line.kind == "masked" and line.split == "dev":
        points = dict(series.score[line])
    else:
        return None
    return Curve(
        series_label(line), line.lang, sorted(points.items()), line.kind == "masked", spread
    )


def curve_sets(series: Series) -> list[CurveSet]:
    sets = []
    for context in series.contexts():
        langs: list[str] = []
        for (ctx, _, _), targets in series.targets.items():
            if ctx == context:
                langs += [t for t in targets if t not in langs]
        found = CurveSet(
            context,
            series.metric.get(context, "score"),
            langs,
            heads_total=sorted(series.heads_total.get(context, ())),
        )
        for line in series.lines(context):
            if line.lang not in langs or line.method == "explicit":
                continue
            if (curve := curve_of(series, line)) is not None:
                found.curves.append(curve)
        if found.curves:
            sets.append(found)
    return sets


def styles(labels: list[str]) -> dict[str, Style]:
    """One style per series. (marker, line style) pairs differ for the first
    len(MARKERS) * len(LINESTYLES) series; size, width and drawing order step over LAYERS."""
    plt = pyplot()
    palette = plt.cm.tab10 if len(labels) <= 10 else plt.cm.tab20
    out = {}
    for i, label in enumerate(labels):
        layer = i % LAYERS
        out[label] = Style(
            colour=palette(i % palette.N),
            marker=MARKERS[i % len(MARKERS)],
            linestyle=LINESTYLES[(i + i // len(MARKERS)) % len(LINESTYLES)],
            size=11.0 - 2.5 * layer,
            width=2.6 - 0.55 * layer,
            zorder=3.0 + layer,
        )
    return out


def score_limits(curve_set: CurveSet) -> tuple[float, float]:
    """The same y range for every panel: the whole 0-1 scale (wider only if a score or band
    leaves it). A gap on the page is then the same score gap in every panel and figure, so a
    1-point change looks like 1 point of 100, not a cliff; the tables give exact numbers."""
    values = [0.0, 1.0]
    for c in curve_set.curves:
        for k, y in c.points:
            std = c.spread.get(k, 0.0)
            values += [y - std, y + std]
    lo, hi = min(values), max(values)
    pad = 0.02 * (hi - lo)
    return lo - pad, hi + pad


def k_limits(curve_set: CurveSet) -> tuple[float, float]:
    """The same k range for every panel, a little room either side for the markers."""
    ks = [k for c in curve_set.curves for k, _ in c.points]
    pad = max(0.5, 0.03 * (max(ks) - min(ks)))
    return min(ks) - pad, max(ks) + pad


def k_label(curve_set: CurveSet) -> str:
    total = "/".join(map(str, curve_set.heads_total))
    return f"heads removed (of {total})" if total else "heads removed"


def score_label(curve_set: CurveSet) -> str:
    name = METRIC_NAMES.get(curve_set.metric, curve_set.metric.replace("_", " "))
    return f"{name} (0-1)"


def draw_curve(ax, curve: Curve, style: Style) -> bool:
    """The curve (mean over seeds), its mean ± std band and its unpruned reference line;
    whether a band was drawn."""
    xs, ys = zip(*curve.points, strict=True)
    ax.plot(
        xs,
        ys,
        color=style.colour,
        marker=style.marker,
        linestyle=style.linestyle,
        markersize=style.size,
        linewidth=style.width,
        markerfacecolor="none" if curve.masked else style.colour,
        markeredgewidth=1.3,
        zorder=style.zorder,
        label=curve.label,
    )
    if curve.base is not None:
        ax.axhline(
            curve.base,
            color=style.colour,
            linestyle=REFERENCE,
            linewidth=1.0,
            alpha=0.8,
            zorder=2,
            gid="unpruned",
            label=f"_unpruned: {curve.label}",
        )
    return draw_band(ax, curve, style)


def draw_band(ax, curve: Curve, style: Style) -> bool:
    """mean ± std over seeds, over the k that have it (a short box where only one k has it);
    whether there was any."""
    ks = [k for k, _ in curve.points if k in curve.spread]
    if not ks:
        return False
    mean = dict(curve.points)
    lo = [mean[k] - curve.spread[k] for k in ks]
    hi = [mean[k] + curve.spread[k] for k in ks]
    if len(ks) == 1:
        ks, lo, hi = [ks[0] - 0.2, ks[0] + 0.2], lo * 2, hi * 2
    ax.fill_between(ks, lo, hi, color=style.colour, alpha=0.15, linewidth=0, zorder=1, gid="band")
    return True


def legend_handles(plt, labels: list[str], looks: dict[str, Style], masked: set, banded: bool):
    """Every series as drawn, then what the reference line and the band mean."""
    from matplotlib.patches import Patch

    handles = [
        plt.Line2D(
            [],
            [],
            color=looks[label].colour,
            marker=looks[label].marker,
            linestyle=looks[label].linestyle,
            markersize=6,
            linewidth=1.4,
            markerfacecolor="none" if label in masked else looks[label].colour,
        )
        for label in labels
    ]
    handles.append(plt.Line2D([], [], color="grey", linestyle=REFERENCE, linewidth=1.0))
    texts = [*labels, "unpruned (k=0) score, per series"]
    if banded:
        handles.append(Patch(color="grey", alpha=0.3, linewidth=0))
        texts.append("mean ± std over seeds")
    return handles, texts


def figure(curve_set: CurveSet):
    """Panels left, one legend column right, tall enough for every series; all panels share
    the k and score ranges."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator, MultipleLocator

    langs = [g for g in curve_set.langs if any(c.lang == g for c in curve_set.curves)]
    labels = sorted({c.label for c in curve_set.curves})
    looks = styles(labels)
    cols = min(3, len(langs))
    rows = -(-len(langs) // cols)
    height = max(3.2 * rows + 0.6, 0.24 * (len(labels) + 2) + 0.8)
    fig, axes = plt.subplots(
        rows,
        cols + 1,
        figsize=(4.2 * cols + 3.6, height),
        squeeze=False,
        gridspec_kw={"width_ratios": [1.0] * cols + [0.9]},
    )
    panels = [ax for r in range(rows) for ax in axes[r, :cols]]
    ylim, xlim = score_limits(curve_set), k_limits(curve_set)
    banded = False
    for ax, lang in zip(panels, langs, strict=False):
        for curve in (c for c in curve_set.curves if c.lang == lang):
            banded |= draw_curve(ax, curve, looks[curve.label])
        ax.set_title(f"target {lang}", fontsize=10)
        ax.set_xlabel(k_label(curve_set))
        ax.set_ylabel(score_label(curve_set))
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if ylim[1] - ylim[0] < 1.5:  # a 0-1 scale: gridlines every 0.1, finer every 0.05
            ax.yaxis.set_major_locator(MultipleLocator(0.1))
            ax.yaxis.set_minor_locator(MultipleLocator(0.05))
        ax.grid(alpha=0.3)
        ax.grid(alpha=0.12, which="minor", axis="y")
    for ax in panels[len(langs) :] + list(axes[:, cols]):
        ax.axis("off")
    masked = {c.label for c in curve_set.curves if c.masked}
    handles, texts = legend_handles(plt, labels, looks, masked, banded)
    axes[0, cols].legend(handles, texts, loc="upper left", fontsize=7, frameon=False)
    fig.suptitle(f"{curve_set.context.title()}: pruning curves", fontsize=11)
    fig.tight_layout()
    return fig


def plot(curve_set: CurveSet, path: Path) -> Path:
    return save_figure(figure(curve_set), path)
