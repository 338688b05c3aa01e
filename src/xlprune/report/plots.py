"""Figures written next to results: PNG, matplotlib's non-interactive backend."""

from pathlib import Path


def heatmap(scores, path: str | Path, title: str) -> Path:
    """Layers x heads, one cell per head, darker = more important."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = [[float(v) for v in row] for row in scores]
    layers, heads = len(values), len(values[0])
    fig, ax = plt.subplots(figsize=(1.2 + 0.45 * heads, 1.0 + 0.4 * layers))
    image = ax.imshow(values, cmap="viridis", aspect="auto")
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_xticks(range(heads))
    ax.set_yticks(range(layers))
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
