"""The report's figures say what they show: heatmaps of the score the ranking sorts, with
the removed heads numbered as the jobs removed them; pruning curves on one honest 0-1 scale
where every series stays visible. Real matplotlib figures on hand-made results.json."""

import json
import random
from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.colors import to_rgb

from tests.report.test_selection import result, write_jobs
from xlprune.job import heatmap as plots
from xlprune.report import curves
from xlprune.report import score_files as rankings
from xlprune.report.assemble import build_report
from xlprune.report.collect import collect, tidy_rows
from xlprune.report.series import Series

LAYERS, HEADS = 3, 4


def raw_scores(seed: int = 1) -> list[list[float]]:
    """Layers on different scales, so per-layer normalisation changes the order."""
    rng = random.Random(seed)
    return [[rng.random() * 10 ** (layer - 1) for _ in range(HEADS)] for layer in range(LAYERS)]


def score_file(tmp_path, raw, method: str = "gradient") -> str:
    path = tmp_path / "store" / "scores.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"raw": raw, "method": method, "source": "en", "split": "dev"}))
    return str(path)


def pruned(k: int, path: str, order, method: str = "gradient") -> dict:
    """A job that removed the first k heads of `order`, stored as the run writes it
    (pruned_heads sorted by layer and head, as Ranking.lowest gives them)."""
    data = result(k, 0.5, 0.5, pruned_heads=[list(h) for h in sorted(order[:k])])
    data["ranking"] = {"method": method, "sources": ["en"], "stored": [path], "computed": 0}
    return data


def loaded(root):
    jobs = collect([root]).done
    series = Series(tidy_rows(jobs))
    return jobs, series


def marks(ax) -> dict[tuple[int, int], int]:
    """(layer, head) -> the number written in that cell."""
    out = {}
    for text in ax.texts:
        if text.get_gid() == "removed":
            head, layer = text.get_position()
            out[(int(layer), int(head))] = int(text.get_text())
    return out


def colour_bar_label(image) -> str:
    return image.colorbar.ax.get_ylabel()


# heatmaps


def test_normalised_scores_and_order_are_the_rankings():
    torch = pytest.importorskip("torch")
    from xlprune.heads import normalise, rank_heads

    raw = raw_scores()
    raw[1] = [0.0] * HEADS  # a zero layer stays zero, and ties break by (layer, head)
    expected = normalise(torch.tensor(raw, dtype=torch.float64))
    assert np.array(plots.normalised(raw)) == pytest.approx(expected.numpy())
    assert rankings.removal_order(plots.normalised(raw)) == rank_heads(expected)
    assert plots.normalised([[2.0, 2.0], [2.0, 2.0]]) == [[0.0, 0.0], [0.0, 0.0]]


def test_heatmap_shows_the_ranked_score_and_numbers_the_removed_heads(tmp_path):
    raw = raw_scores()
    path = score_file(tmp_path, raw)
    order = rankings.removal_order(plots.normalised(raw))
    jobs = [result(0, 0.5, 0.5), pruned(2, path, order), pruned(3, path, order)]
    jobs.append(pruned(4, path, list(reversed(order)), method="max"))  # another ranking
    report = build_report([write_jobs(tmp_path / "sweep", jobs)], tmp_path / "report")
    assert not report.problems
    (figure,) = report.figures["heatmaps"]
    assert (report.out / figure.path).is_file() and "3 heads removed, in order" in figure.caption

    done, series = loaded(tmp_path / "sweep")
    (f,) = rankings.score_files(done, series.job_context)[0]
    assert f.removed == order[:3]  # the largest k of the gradient jobs, not the max job's 4
    fig = plots.heatmap_figure(f.raw, "t", f.method, f.removed)
    ranked_ax, raw_ax = (ax for ax in fig.axes if ax.images)
    (ranked_image,) = ranked_ax.images
    shown = np.asarray(ranked_image.get_array())
    assert shown == pytest.approx(np.array(plots.normalised(raw)))
    assert np.unravel_index(shown.argmin(), shown.shape) == order[0]  # darkest = first out
    assert shown.min() == 0.0 and shown.max() == 1.0
    assert np.asarray(raw_ax.images[0].get_array()) == pytest.approx(np.array(raw))
    numbered = marks(ranked_ax)
    assert numbered == {head: n for n, head in enumerate(order[:3], 1)}
    for data in jobs[1:3]:  # each job's k: the first k numbers are exactly its heads
        k = data["prune_count"]
        first_k = {head for head, n in numbered.items() if n <= k}
        assert first_k == {tuple(h) for h in data["pruned_heads"]}
    assert not marks(raw_ax)
    assert "normalised per layer" in colour_bar_label(ranked_image)
    assert colour_bar_label(raw_ax.images[0]).startswith("raw |dL/dgate|")
    assert "raw" in raw_ax.get_title()
    for ax in (ranked_ax, raw_ax):
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("head", "layer")
        assert [t.get_text() for t in ax.get_xticklabels()] == [str(h) for h in range(HEADS)]
        assert [t.get_text() for t in ax.get_yticklabels()] == [str(v) for v in range(LAYERS)]


def test_masked_curves_mark_their_heads_and_a_job_that_disagrees_is_a_problem(tmp_path):
    raw = raw_scores(2)
    path = score_file(tmp_path, raw)
    order = rankings.removal_order(plots.normalised(raw))
    mask = result(0, 0.5, 0.5)
    mask["ranking"] = {"method": "gradient", "sources": ["en"], "stored": [path]}
    mask["mask_curve"] = [
        {"k": k, "heads": [list(h) for h in order[:k]], "metrics": {"de": {"f1": 0.5}}}
        for k in range(6)
    ]
    wrong = pruned(2, path, order)
    wrong["pruned_heads"] = [list(order[0]), list(order[5])]
    broken = pruned(1, path, order)
    broken["pruned_heads"] = [[0]]
    write_jobs(tmp_path / "sweep", [mask, wrong, broken])
    done, series = loaded(tmp_path / "sweep")
    (f,), problems = rankings.score_files(done, series.job_context)
    assert f.removed == order[:5]
    assert problems[0].startswith("1: its 2 removed heads are not the lowest 2 of")
    assert problems[1] == "2: unreadable removed heads, left unmarked"
    assert len(problems) == 2


def test_store_heatmap_uses_the_normalised_view_without_marks(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from omegaconf import OmegaConf

    from xlprune.job.ranking import write_scores

    drawn = []
    figure = plots.heatmap_figure
    monkeypatch.setattr(plots, "heatmap_figure", lambda *a: drawn.append(figure(*a)) or drawn[-1])
    cfg = OmegaConf.create(
        {
            "ranking": {"split": "dev", "method": "gradient", "granularity": "sentence"},
            "model": {"name": "m"},
            "task": {"name": "ner"},
            "seed": 1,
        }
    )
    raw = raw_scores(3)
    write_scores(SimpleNamespace(cfg=cfg), "en", torch.tensor(raw), "bert", tmp_path)
    assert (tmp_path / "heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (fig,) = drawn
    ranked_ax = next(ax for ax in fig.axes if ax.images)
    stored = json.loads((tmp_path / "scores.json").read_text())["raw"]
    shown = np.asarray(ranked_ax.images[0].get_array())
    assert shown == pytest.approx(np.array(plots.normalised(stored)))
    assert "normalised per layer" in colour_bar_label(ranked_ax.images[0])
    assert not marks(ranked_ax)


# pruning curves


def curve_jobs(methods, scores: dict[int, float], **extra) -> list[dict]:
    """One unpruned job and, per method, one job per k > 0, all scoring `scores[k]`."""
    jobs = [result(0, scores[0], scores[0], **extra)]
    for method in methods:
        for k, score in scores.items():
            if k:
                data = result(k, score, score, **extra)
                data["ranking"] = {"method": method, "sources": ["en"], "stored": []}
                jobs.append(data)
    return jobs


def curve_figure(tmp_path, jobs):
    _, series = loaded(write_jobs(tmp_path / "sweep", jobs))
    (curve_set,) = curves.curve_sets(series)
    return curve_set, curves.figure(curve_set)


def series_lines(ax):
    return [line for line in ax.get_lines() if line.get_gid() is None]


def panels(fig):
    return [ax for ax in fig.axes if ax.axison]


METHODS = ["gradient", "random", "max", "textpruner"]


def test_four_coinciding_series_all_show(tmp_path):
    curve_set, fig = curve_figure(tmp_path, curve_jobs(METHODS, {0: 0.8, 2: 0.8, 4: 0.8}))
    (ax,) = panels(fig)
    lines = series_lines(ax)
    assert len(lines) == 4 and len({tuple(line.get_ydata()) for line in lines}) == 1
    assert len({(line.get_marker(), line.get_linestyle()) for line in lines}) == 4
    by_order = sorted(lines, key=lambda line: line.get_zorder())
    sizes = [line.get_markersize() for line in by_order]
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == 4  # smaller on top
    # rendered, markers alone (no line to show through): every series' colour is there
    for artist in [*ax.get_lines(), *ax.collections]:
        artist.set_visible(artist in lines)
    for line in lines:
        line.set_linestyle("None")
    for line in lines:  # a rim of at least 5 pixels at each of the 3 points
        assert visible_pixels(fig, ax, line.get_color()) >= 15, line.get_label()


def visible_pixels(fig, ax, colour) -> int:
    """How many pixels inside the panel are (nearly) exactly `colour`."""
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int)
    box, height = ax.get_window_extent(), pixels.shape[0]
    inside = pixels[int(height - box.y1) : int(height - box.y0), int(box.x0) : int(box.x1)]
    return int((np.abs(inside - np.array(to_rgb(colour)) * 255) <= 12).all(axis=-1).sum())


def test_scores_are_drawn_on_one_0_1_scale_with_the_unpruned_reference(tmp_path):
    jobs = curve_jobs(["gradient"], {0: 0.812, 2: 0.825, 4: 0.799}, targets=["de", "fr"])
    for data in jobs:
        for split in ("dev", "test"):
            data["metrics"][split]["fr"] = {"f1": data["metrics"][split]["de"]["f1"] - 0.3}
    curve_set, fig = curve_figure(tmp_path, jobs)
    de, fr = panels(fig)
    assert de.get_ylim() == fr.get_ylim() and de.get_xlim() == fr.get_xlim()
    lo, hi = de.get_ylim()
    assert lo <= 0.0 and 1.0 <= hi < 1.1  # a 1.3-point difference is 1.3% of the height
    (line,) = series_lines(de)
    assert list(line.get_xdata()) == [0, 2, 4]
    assert list(line.get_ydata()) == [0.812, 0.825, 0.799]  # 0-1, not x100
    assert de.get_xlabel() == "heads removed (of 12)"
    assert de.get_ylabel() == "entity F1 (0-1)"
    (reference,) = [line for line in de.get_lines() if line.get_gid() == "unpruned"]
    assert list(reference.get_ydata()) == [0.812, 0.812]
    assert reference.get_color() == line.get_color()
    legend = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().texts]
    assert "unpruned (k=0) score, per series" in legend


def test_a_single_point_series_is_drawn_with_a_marker(tmp_path):
    lone = result(2, 0.6, 0.6)  # no unpruned job: one point, k=2
    lone["ranking"] = {"method": "gradient", "sources": ["en"], "stored": []}
    other = result(2, 0.4, 0.4, setting="multi")
    _, fig = curve_figure(tmp_path, [lone, other])
    (ax,) = panels(fig)
    lines = series_lines(ax)
    assert len(lines) == 2
    for line in lines:
        assert len(line.get_xdata()) == 1 and line.get_marker() not in ("", "None", None)
        assert line.get_markersize() >= 3
    assert not [line for line in ax.get_lines() if line.get_gid() == "unpruned"]


def test_seeds_give_the_mean_line_and_a_std_band(tmp_path):
    jobs = []
    for seed, shift in ((1, -0.02), (2, 0.0), (3, 0.02)):
        scores = {k: v + shift for k, v in {0: 0.7, 2: 0.72, 4: 0.6}.items()}
        jobs += curve_jobs(["gradient"], scores, seed=seed)
    curve_set, fig = curve_figure(tmp_path, jobs)
    (ax,) = panels(fig)
    (line,) = series_lines(ax)
    assert list(line.get_ydata()) == pytest.approx([0.7, 0.72, 0.6])
    (band,) = [c for c in ax.collections if c.get_gid() == "band"]
    corners = band.get_paths()[0].vertices
    assert corners[:, 1].min() == pytest.approx(0.58) and corners[:, 1].max() == pytest.approx(0.74)
    assert sorted({round(x, 6) for x in corners[:, 0]}) == [0, 2, 4]
    legend = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().texts]
    assert "mean ± std over seeds" in legend


def test_the_report_draws_the_curves(tmp_path):
    jobs = curve_jobs(METHODS, {0: 0.8, 2: 0.8, 4: 0.8})
    report = build_report([write_jobs(tmp_path / "sweep", jobs)], tmp_path / "report")
    (figure,) = report.figures["curves"]
    assert (report.out / figure.path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not report.problems


def test_real_sweep_heatmaps_number_the_heads_its_jobs_removed(sweep):
    """Rankings the real runs built with torch: the report's order gives the same heads."""
    done, series = loaded(sweep.dir)
    files, problems = rankings.score_files(done, series.job_context)
    assert len(files) == 2 and not problems
    by_path = {f.path: f for f in files}
    checked = 0
    for job in done:
        if job.results["prune_count"]:
            (path,) = job.results["ranking"]["stored"]
            heads = {tuple(h) for h in job.results["pruned_heads"]}
            assert heads == set(by_path[path].removed) and len(heads) == 2
            checked += 1
    assert checked == 4
