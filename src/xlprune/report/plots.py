"""Figures written next to results: PNG, matplotlib's non-interactive backend."""

from pathlib import Path

from xlprune.report.files import pyplot, save_figure


def heatmap_figure(scores, title: str):
    """Layers x heads, one cell per head, brighter (yellow) = more important."""
    plt = pyplot()
    values = [[float(v) for v in row] for row in scores]
    layers, heads = len(values), len(values[0])
    # wide enough for the title on small grids (tiny models), in proportion on large ones
    fig, ax = plt.subplots(figsize=(max(4.5, 1.2 + 0.45 * heads), max(2.5, 1.0 + 0.4 * layers)))
    image = ax.imshow(values, cmap="viridis", aspect="auto")
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_xticks(range(heads))
    ax.set_yticks(range(layers))
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def heatmap(scores, path: str | Path, title: str) -> Path:
    return save_figure(heatmap_figure(scores, title), path)
