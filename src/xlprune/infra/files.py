"""Report files: CSV and PNG, each written whole or not at all (xlprune.infra.atomic)."""

import csv
import io
from pathlib import Path

from xlprune.infra.atomic import write_bytes, write_text


def write_csv(path: str | Path, header: list[str], rows: list[list]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return write_text(path, buffer.getvalue())


def save_figure(fig, path: str | Path, dpi: int = 100) -> Path:
    """A matplotlib figure as PNG, rendered in memory first; the figure is closed."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return write_bytes(path, buffer.getvalue())


def pyplot():
    """matplotlib's pyplot on the non-interactive backend (no display in sweeps or CI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
