"""The page's header and numbers: the sweep's command, experiment and grid, job counts that
agree with the plan, the jobs' warnings, and the paper's own numbers beside ours."""

import shutil
from dataclasses import replace

import pytest

from tests.report.test_selection import result, write_jobs
from xlprune.report import paper_numbers
from xlprune.report.assemble import build_report
from xlprune.report.paper import spearman_table
from xlprune.report.score_files import Correlation
from xlprune.report.series import Context, Series


def test_header_names_the_sweep_and_counts_agree_with_its_plan(sweep, tmp_path):
    copy = tmp_path / "sweep"
    shutil.copytree(sweep.dir, copy, ignore=shutil.ignore_patterns("report"))
    (copy / "3" / "results.json").unlink()  # failed or killed
    shutil.rmtree(copy / "6")  # never started
    shutil.rmtree(copy / "7")
    report = build_report([copy], tmp_path / "report")
    counts = report.header.counts
    assert (counts.planned, counts.done, counts.unfinished, counts.never_started) == (8, 5, 1, 2)
    html = report.index.read_text()
    assert "8 jobs planned: 5 done, 0 failed, 1 unfinished, 2 never started." in html
    (about,) = report.header.sweeps
    # as given, shell-quoted, Hydra's own overrides included: it runs the same sweep again
    command = about["command"]
    assert command.startswith("python -m xlprune hydra.callbacks.progress._target_=")
    assert " +debug=fast logger=none " in command and command.endswith(" -m")
    assert " 'source=[en],[de]' " in command and " setting=cross,multi " in command
    assert about["grid"] == {
        "source": "[en],[de]",
        "setting": "cross,multi",
        "pruning.count": "0,2",
    }
    assert "grid: source=[en],[de] setting=cross,multi pruning.count=0,2." in html
    assert "Scores 0-1 everywhere" in html and "x100" not in html


def test_job_warnings_are_on_the_page(tmp_path):
    line = "dev en f1 0.000 is at chance level (majority label: 0.000) ..."
    jobs = [result(0, 0.0, 0.0, warnings=[line]), result(2, 0.1, 0.2)]
    report = build_report([write_jobs(tmp_path / "runs", jobs)], tmp_path / "report")
    assert report.header.warnings == [f"0: {line}"]
    html = report.index.read_text()
    assert "did not learn (1 warning)" in html and "0: dev en f1 0.000 is at chance level" in html


def test_paper_numbers_stand_beside_ours_where_the_paper_has_the_cell(tmp_path):
    scores = {0: (0.5, 0.6), 2: (0.6, 0.7)}
    other = [result(k, d, t, model="xlmr", data="synthetic") for k, (d, t) in scores.items()]
    report = build_report([write_jobs(tmp_path / "other", other)], tmp_path / "other_report")
    (table,) = [t for t in report.tables if t.group == "paper"]
    assert not [c for c in table.columns if c.startswith("Ma et al.")]  # not the paper's data
    jobs = [result(k, d, t, model="xlmr", data="xtreme") for k, (d, t) in scores.items()]
    report = build_report([write_jobs(tmp_path / "runs", jobs)], tmp_path / "report")
    (table,) = [t for t in report.tables if t.group == "paper"]
    row = dict(zip(table.columns, table.rows[0], strict=True))
    theirs = [
        paper_numbers.table_value(3, "xlmr", "ner", "cross", "en", "de", c)
        for c in ("unpruned", "pruned")
    ]
    assert None not in theirs
    assert [row["Ma et al. unpruned"], row["Ma et al. pruned"]] == pytest.approx(theirs)
    assert row["unpruned"] == 0.6 and row["pruned (best on test)"] == 0.7
    assert any("Table 3" in n and "2108.08375" in n for n in table.notes)
    assert f"{theirs[0]:.4f}" in (tmp_path / "report" / "tables.md").read_text()


def test_multi_source_rows_carry_table_6(tmp_path):
    def job(k, combine):
        extra = {"model": "mbert", "setting": "multi_source", "source": ["de", "ar", "he", "zh"]}
        extra["data"] = "xtreme"
        data = result(k, 0.5, 0.55 + k / 100, targets=["en"], **extra)
        data["metrics"] = {s: {"en": {"f1": 0.55 + k / 100}} for s in ("dev", "test")}
        if k:
            data["ranking"] = {"method": "gradient", "sources": extra["source"], "combine": combine}
        return data

    report = build_report(
        [write_jobs(tmp_path / "runs", [job(0, ""), job(2, "sum")])], tmp_path / "report"
    )
    (table,) = [t for t in report.tables if t.group == "multi_source"]
    row = dict(zip(table.columns, table.rows[0], strict=True))
    (paper_row,) = paper_numbers.rows(6, model="mbert", task="ner", target="en")
    assert row["Ma et al. SD"] == paper_row["sd"] and row["Ma et al. EC"] == paper_row["ec"]


def test_spearman_beside_figure_1():
    series = Series([])
    series.data_names[Context("mbert", "pos", "", "")] = {"ud"}
    ours = Correlation(
        Context("mbert", "pos", "", ""), "gradient", ["en", "de"], [[1, 0.5], [0.5, 1]]
    )
    (table,) = spearman_table([ours], series)
    (row,) = table.rows
    assert row[2:] == ["en", "de", 0.5, paper_numbers.spearman("pos", "mbert", "en", "de")]
    assert row[-1] is not None
    other = Correlation(
        Context("tiny_bert", "pos", "", ""), "gradient", ["en", "de"], [[1, 0.5], [0.5, 1]]
    )
    assert spearman_table([other], series) == []
    assert spearman_table([replace(ours, method="max")], series) == []
