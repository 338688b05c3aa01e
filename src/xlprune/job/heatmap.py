"""Head-importance heatmaps (PNG, matplotlib's non-interactive backend): in a ranking's store
entry, its W&B run and the sweep report.

A head-importance heatmap shows first the score its ranking sorts (each layer over its L2
norm, then min-max to 0-1, as heads.normalise), so the darkest cell is the first head
removed, and the removed heads are numbered in removal order; the raw score sits beside it
for reference only."""

from pathlib import Path

from xlprune.config.rankings import ORDERED
from xlprune.infra.files import pyplot, save_figure


def per_layer(raw: list[list[float]]) -> list[list[float]]:
    """Each layer's scores over that layer's L2 norm (a zero layer stays zero)."""
    out = []
    for row in raw:
        norm = sum(v * v for v in row) ** 0.5 or 1.0
        out.append([v / norm for v in row])
    return out


def normalised(raw: list[list[float]]) -> list[list[float]]:
    """heads.normalise without torch: per layer, then min-max over all heads to 0-1
    (all zeros when every head scores the same). What a ranking sorts, lowest first."""
    scaled = per_layer(raw)
    flat = [v for row in scaled for v in row]
    lo, hi = min(flat), max(flat)
    if hi <= lo:
        return [[0.0] * len(row) for row in scaled]
    return [[(v - lo) / (hi - lo) for v in row] for row in scaled]


RANKED_LABEL = "importance, normalised per layer\n(0-1, what the ranking sorts)"
ORDERED_LABEL = "place in the ranking, 0-1\n(what the ranking sorts)"
RAW_LABEL = {
    "gradient": "raw |dL/dgate|\n(summed at the ranking's granularity)",
    "textpruner": "raw |sum W dL/dW|\n(per head)",
    "iterative": "removal position\n(0 = masked first)",
    "shapley": "Shapley value for the dev score\n(signed: below 0 hurts)",
}


def min_max(raw: list[list[float]]) -> list[list[float]]:
    flat = [v for row in raw for v in row]
    lo, hi = min(flat), max(flat)
    if hi <= lo:
        return [[0.0] * len(row) for row in raw]
    return [[(v - lo) / (hi - lo) for v in row] for row in raw]


def ranked_values(raw: list[list[float]], method: str) -> list[list[float]]:
    """What a ranking of `method` sorts, scaled to 0-1: per-layer normalised scores, or
    the matrix itself for iterative positions and Shapley values."""
    return min_max(raw) if method in ORDERED else normalised(raw)


def heatmap_figure(raw, title: str, method: str = "gradient", removed=()):
    """Two panels, layers x heads: the ranked (normalised) score with `removed` numbered
    1, 2, ... in the order they go, and the raw score. Dark = low in both."""
    plt = pyplot()
    raw = [[float(v) for v in row] for row in raw]
    layers, heads = len(raw), len(raw[0])
    # wide enough for the titles on small grids (tiny models), in proportion on large ones
    width = max(4.0, 2.0 + 0.42 * heads)
    fig, (ranked_ax, raw_ax) = plt.subplots(
        1, 2, figsize=(2 * width, max(3.0, 1.6 + 0.4 * layers)), layout="constrained"
    )
    ranked = ranked_values(raw, method)
    # ranking=max removes the most important heads first: the brightest cells
    first = "brightest" if method == "max" else "darkest"
    panel = f"as ranked: {first} removed first"
    label = ORDERED_LABEL if method in ORDERED else RANKED_LABEL
    head_grid(ranked_ax, ranked, label, panel, vmin=0.0, vmax=1.0)
    number_removed(ranked_ax, ranked, removed)
    raw_label = RAW_LABEL.get(method, f"raw {method} score")
    head_grid(raw_ax, raw, raw_label, "raw (not what is ranked)")
    fig.suptitle(title, fontsize=9)
    return fig


def head_grid(ax, values, label: str, title: str, vmin=None, vmax=None):
    """One layers x heads panel with every index on its axes and a labelled colour bar."""
    image = ax.imshow(values, cmap="viridis", aspect="auto", vmin=vmin, vmax=vmax)
    layers, heads = len(values), len(values[0])
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_xticks(range(heads))
    ax.set_yticks(range(layers))
    ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=8)
    bar = ax.figure.colorbar(image, ax=ax, fraction=0.046)
    bar.set_label(label, fontsize=8)
    return image


def number_removed(ax, values, removed) -> None:
    """Each removed head's place in the removal order, written in its cell."""
    for n, (layer, head) in enumerate(removed, 1):
        ax.text(
            head,
            layer,
            str(n),
            ha="center",
            va="center",
            fontsize=7,
            fontweight="bold",
            color="white" if values[layer][head] < 0.5 else "black",
            gid="removed",
        )


def heatmap(raw, path: str | Path, title: str, method: str = "gradient", removed=()) -> Path:
    return save_figure(heatmap_figure(raw, title, method, removed), path)
