"""The report of a real sweep: built by the sweep's own end-of-run callback, its numbers
traced back to results.json, its figures real PNGs, its page free of dangling links."""

import csv
import json
import re
from pathlib import Path

import pytest

from xlprune.report.assemble import build_report

PNG = b"\x89PNG\r\n\x1a\n"


def results_of(sweep_dir: Path) -> list[dict]:
    return [
        dict(json.loads(p.read_text()), job=p.parent.name)
        for p in sorted(sweep_dir.glob("*/results.json"))
    ]


def main_score(r: dict, split: str, lang: str) -> float:
    return r["metrics"][split][lang]["accuracy" if r["metric"] == "accuracy" else "f1"]


def csv_rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_sweep_ends_with_the_report_path(sweep):
    lines = [line for line in sweep.stdout.splitlines() if line.strip()]
    index = sweep.dir.resolve() / "report" / "index.html"
    assert lines[-1] == str(index)
    assert index.is_file()
    assert "8 job results under" in sweep.stdout  # the short table is still printed


def test_results_csv_holds_every_job_split_and_language(sweep):
    rows = csv_rows(sweep.dir / "report" / "results.csv")
    results = results_of(sweep.dir)
    assert len(results) == 8
    expected = {
        (r["job"], split, lang): main_score(r, split, lang)
        for r in results
        for split, by_lang in r["metrics"].items()
        for lang in by_lang
    }
    got = {(row["job"], row["split"], row["lang"]): float(row["score"]) for row in rows}
    assert got == expected
    assert all(row["kind"] == "final" and row["metric"] == "accuracy" for row in rows)


def test_paper_table_numbers_are_the_results(sweep):
    report = build_report([sweep.dir], sweep.cwd / "again")
    results = results_of(sweep.dir)
    tables = {t.key: t for t in report.tables if t.group == "paper"}
    assert set(tables) == {"paper_tiny_bert_pos_cross", "paper_tiny_bert_pos_multi"}
    for setting in ("cross", "multi"):
        table = tables[f"paper_tiny_bert_pos_{setting}"]
        col = {name: i for i, name in enumerate(table.columns)}
        for source in ("en", "de"):
            (row,) = [r for r in table.rows if r[:2] == [source, "es"]]
            by_k = {
                r["prune_count"]: r
                for r in results
                if r["setting"] == setting and r["source"] == [source]
            }
            assert row[col["unpruned"]] == main_score(by_k[0], "test", "es")
            # one pruned k: the paper's pick and the dev pick are both k=2
            best_k, dev_k = col["best-on-test k (the paper's rule)"], col["dev-selected k"]
            assert row[best_k] == 2 and row[dev_k] == 2
            assert row[col["pruned (best on test)"]] == main_score(by_k[2], "test", "es")
            assert row[col["pruned (dev-selected)"]] == main_score(by_k[2], "test", "es")
            assert row[col["gain (dev-selected)"]] == pytest.approx(
                main_score(by_k[2], "test", "es") - main_score(by_k[0], "test", "es")
            )
        (avg,) = [r for r in table.rows if r[0] == "average"]
        firsts = [r[col["unpruned"]] for r in table.rows if r[0] != "average"]
        assert avg[col["unpruned"]] == pytest.approx(sum(firsts) / len(firsts))
    # the same numbers, 0-1 like results.json, in the Markdown and LaTeX renderings
    text = (sweep.dir / "report" / "tables.md").read_text()
    tex = (sweep.dir / "report" / "tables.tex").read_text()
    for r in results:
        shown = f"{main_score(r, 'test', 'es'):.4f}"
        assert shown in text and shown in tex
    assert "best TEST score (the paper's rule" in text


def test_every_figure_is_a_png(sweep):
    from matplotlib.image import imread
    from PIL import Image

    figures = sorted((sweep.dir / "report" / "figures").glob("*"))
    names = {f.name for f in figures}
    assert "curves_tiny_bert_pos.png" in names
    assert {
        "heatmap_tiny_bert_pos_gradient_en.png",
        "heatmap_tiny_bert_pos_gradient_de.png",
    } <= names
    assert "spearman_tiny_bert_pos_gradient.png" in names
    for path in figures:
        assert path.read_bytes()[:8] == PNG, path
        with Image.open(path) as image:
            image.verify()
        assert imread(path).ndim == 3
    assert not list((sweep.dir / "report").rglob("*.tmp"))  # atomic writes leave nothing


def referenced(index: Path) -> list[str]:
    html = index.read_text()
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    return [r for r in refs if not r.startswith("#")]


def test_page_references_only_files_that_exist(sweep):
    report_dir = sweep.dir / "report"
    refs = referenced(report_dir / "index.html")
    assert refs
    for ref in refs:
        assert not re.match(r"^[a-z]+:", ref), ref  # relative, opens from disk
        assert (report_dir / ref).is_file(), ref
    html = (report_dir / "index.html").read_text()
    assert html.count("<table>") >= 2 and "<img" in html
    figures = {f"figures/{p.name}" for p in (report_dir / "figures").glob("*.png")}
    assert figures <= set(refs)


def test_spearman_matrix_is_symmetric_with_unit_diagonal(sweep):
    (path,) = (sweep.dir / "report").glob("spearman_*.csv")
    with open(path, newline="") as fh:
        header, *rows = list(csv.reader(fh))
    langs = header[1:]
    assert sorted(langs) == ["de", "en"] and [r[0] for r in rows] == langs
    matrix = [[float(v) for v in r[1:]] for r in rows]
    for i in range(len(langs)):
        assert matrix[i][i] == 1.0
        for j in range(len(langs)):
            assert matrix[i][j] == pytest.approx(matrix[j][i])
            assert -1.0 <= matrix[i][j] <= 1.0


def test_spearman_value_from_the_stored_score_files(sweep):
    scipy_stats = pytest.importorskip("scipy.stats")
    stored = {}
    for r in results_of(sweep.dir):
        for p in (r["ranking"] or {}).get("stored", []):
            data = json.loads(Path(p).read_text())
            stored[data["source"]] = data["raw"]
    flat = {
        lang: [v / (sum(x * x for x in row) ** 0.5) for row in raw for v in row]
        for lang, raw in stored.items()
    }
    expected = scipy_stats.spearmanr(flat["en"], flat["de"]).statistic
    (path,) = (sweep.dir / "report").glob("spearman_*.csv")
    rows = {r["lang"]: r for r in csv_rows(path)}
    assert float(rows["en"]["de"]) == pytest.approx(expected)


def test_masked_curve_and_random_control_join_the_report(sweep, extra_jobs, tmp_path):
    report = build_report([sweep.dir, extra_jobs], tmp_path / "report")
    assert report.done == 10 and not report.problems
    masked = [c for s in report.curve_sets for c in s.curves if c.masked]
    assert masked and [k for k, _ in masked[0].points] == [0, 1, 2]
    mask = json.loads((extra_jobs / "mask" / "results.json").read_text())
    point = mask["mask_curve"][2]["metrics"]["es"]["accuracy"]
    assert dict(masked[0].points)[2] == point
    (ablation, gains) = [t for t in report.tables if t.group == "ablation"]
    assert ablation.columns[-2:] == ["gradient", "random"]
    assert gains.columns == ["source", "target", "unpruned", "gradient", "random"]
    rnd = json.loads((extra_jobs / "random" / "results.json").read_text())
    (row,) = [r for r in ablation.rows if r[:3] == ["en", "es", 2]]
    assert row[-1] == main_score(rnd, "test", "es")


def test_cli_writes_the_report_where_asked(sweep, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "elsewhere"
    done = subprocess.run(
        [sys.executable, "-m", "xlprune.report", str(sweep.dir), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == str((out / "index.html").resolve())
    for name in ("index.html", "results.csv", "tables.md", "tables.tex", "tables.csv"):
        assert (out / name).is_file()
