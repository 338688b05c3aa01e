"""Choosing k, tables and their renderings, on hand-made results.json files whose numbers
are known: the dev-selected k must come from dev, never from test."""

import json

import pytest

from xlprune.job.selection import dev_choice, paper_choice
from xlprune.report.assemble import build_report
from xlprune.report.score_files import spearman
from xlprune.report.table import Delta, Score, Table, latex, markdown

# k -> (dev, test): dev is best at k=1, test at k=3
CURVE = {0: (0.50, 0.40), 1: (0.70, 0.45), 2: (0.60, 0.47), 3: (0.55, 0.52)}


def result(k: int, dev: float, test: float, **extra) -> dict:
    data = {
        "model": "m",
        "task": "ner",
        "setting": "cross",
        "data": "hand",
        "source": ["en"],
        "targets": ["de"],
        "seed": 42,
        "prune_count": k,
        "pruned_heads": [[0, h] for h in range(k)],
        "num_heads_total": 12,
        "ranking": {"method": "gradient", "sources": ["en"], "stored": [], "computed": 0}
        if k
        else None,
        "metric": "entity_f1",
        "metrics": {
            "dev": {"en": {"f1": 0.9}, "de": {"f1": dev}},
            "test": {"en": {"f1": 0.9}, "de": {"f1": test}},
        },
        "timing": {},
        "versions": {},
    }
    data.update(extra)
    return data


def write_jobs(root, results: list[dict]):
    for i, data in enumerate(results):
        (root / str(i)).mkdir(parents=True)
        (root / str(i) / "results.json").write_text(json.dumps(data))
    return root


def test_choices_on_dev_and_on_test_differ():
    dev = {k: d for k, (d, _) in CURVE.items()}
    test = {k: t for k, (_, t) in CURVE.items()}
    assert paper_choice(test) == (3, 0.52)
    assert dev_choice(dev, test) == (1, 0.45)
    assert dev_choice({1: 0.5, 2: 0.5}, {1: 0.1, 2: 0.2}) == (1, 0.1)  # ties: fewer heads
    assert dev_choice({0: 0.9}, {0: 0.1}) == (None, None)  # k=0 is the baseline, not a pick


def test_table_reports_the_dev_selected_k_and_its_test_score(tmp_path):
    write_jobs(tmp_path / "runs", [result(k, d, t) for k, (d, t) in CURVE.items()])
    report = build_report([tmp_path / "runs"], tmp_path / "report")
    (table,) = report.tables
    row = dict(zip(table.columns, table.rows[0], strict=True))
    assert row["unpruned"] == 0.40
    assert (row["best-on-test k (the paper's rule)"], row["pruned (best on test)"]) == (3, 0.52)
    assert (row["dev-selected k"], row["pruned (dev-selected)"]) == (1, 0.45)
    assert row["gain (dev-selected)"] == pytest.approx(0.05)
    assert row["gain (best on test)"] == pytest.approx(0.12)
    assert not [c for c in table.columns if c.startswith("Ma et al.")]  # no such paper cell
    md = (tmp_path / "report" / "tables.md").read_text()
    assert "| en | de | 0.4000 | 3 | 0.5200 | +0.1200 | 1 | 0.4500 | +0.0500 |" in md


def test_seeds_are_averaged_and_said(tmp_path):
    runs = [result(0, 0.5, 0.4), result(0, 0.5, 0.6, seed=7), result(1, 0.6, 0.5)]
    write_jobs(tmp_path / "runs", runs)
    tables = build_report([tmp_path / "runs"], tmp_path / "report").tables
    (table,) = [t for t in tables if t.group == "paper"]
    assert [t.group for t in tables if t.group != "paper"] == ["seeds"]  # k=0 ran twice
    assert table.rows[0][2] == pytest.approx(0.5)
    assert any("mean over seeds 42, 7" in n for n in table.notes)


def test_unknown_setting_method_and_metric_do_not_break_the_report(tmp_path):
    runs = [
        result(0, 0.5, 0.4, setting="zero_shot_plus", metric="bleu"),
        result(2, 0.6, 0.5, setting="zero_shot_plus", metric="bleu"),
    ]
    runs[1]["ranking"]["method"] = "shapley"
    write_jobs(tmp_path / "runs", runs)
    report = build_report([tmp_path / "runs"], tmp_path / "report")
    keys = {t.key for t in report.tables}
    assert "paper_m_ner_zero_shot_plus" in keys and "ablation_m_ner_zero_shot_plus" in keys
    assert report.index.is_file()


def test_multi_source_table_compares_ways_of_combining(tmp_path):
    def ms(k, test, combine):
        data = result(k, test, test, source=["en", "es"], targets=["de"])
        if k:
            data["ranking"] = {"method": "gradient", "sources": ["en", "es"], "combine": combine}
        return data

    write_jobs(tmp_path / "runs", [ms(0, 0.3, ""), ms(2, 0.4, "sum"), ms(2, 0.35, "merge")])
    report = build_report([tmp_path / "runs"], tmp_path / "report")
    (table,) = [t for t in report.tables if t.group == "multi_source"]
    row = dict(zip(table.columns, table.rows[0], strict=True))
    assert row["sources"] == "en+es" and row["unpruned"] == 0.3
    assert row["gradient/SD (best on test)"] == 0.4 and row["gradient/MD (best on test)"] == 0.35
    assert not [t for t in report.tables if t.group == "paper"]


def test_renderings_escape_and_format():
    table = Table("t_1", "a_b & c", ["source", "target", "score", "gain"])
    table.rows = [["en_x", "de|y", Score(0.12345), Delta(-0.01)], ["en", "fr", None, None]]
    table.notes = ["50% done"]
    tex = latex(table)
    assert r"a\_b \& c" in tex and r"en\_x" in tex and r"50\% done" in tex
    assert "0.1235 & -0.0100" in tex
    md = markdown(table)
    assert "de\\|y" in md and "| en | fr | - | - |" in md


def test_spearman_handles_ties_and_reversal():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 2, 3], [1, 2, 2, 3]) == pytest.approx(5 / 6)  # average ranks
