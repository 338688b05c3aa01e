"""A sweep with holes (jobs that failed, broken files, jobs never started, score files
gone) still gets a report, and the report says what is missing."""

import json
import shutil
import subprocess
import sys

from xlprune.report.assemble import build_report


def damaged_copy(sweep, tmp_path):
    copy = tmp_path / "sweep"
    shutil.copytree(sweep.dir, copy, ignore=shutil.ignore_patterns("report"))
    (copy / "1" / "results.json").unlink()  # failed or still running
    (copy / "6" / "results.json").unlink()
    (copy / "3" / "results.json").write_text('{"model": "tiny_bert", "task"')  # cut short
    shutil.rmtree(copy / "7")  # never started
    data = json.loads((copy / "5" / "results.json").read_text())
    data["ranking"]["stored"] = [str(tmp_path / "gone" / "scores.json")]
    (copy / "5" / "results.json").write_text(json.dumps(data))
    return copy


def test_partial_sweep_report_names_what_is_missing(sweep, tmp_path):
    copy = damaged_copy(sweep, tmp_path)
    report = build_report([copy])
    assert (report.done, report.total) == (4, 7)
    problems = "\n".join(report.problems)
    for job in ("1", "6"):
        assert f"{job} (" in problems and "no results.json" in problems
    assert "3 (" in problems and "unreadable or incomplete" in problems
    (never,) = [p for p in report.problems if "never started" in p]
    assert never.startswith("sweep/7: planned (") and "setting=multi" in never
    assert "gone/scores.json is gone or unreadable" in problems
    page = report.index.read_text()
    assert "Missing or left out (5)" in page
    assert "never started" in page
    # what is there is still reported
    assert any(t.group == "paper" for t in report.tables)
    assert (copy / "report" / "results.csv").is_file()


def test_cli_on_a_partial_sweep_exits_cleanly(sweep, tmp_path):
    copy = damaged_copy(sweep, tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "xlprune.report", str(copy)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("missing: ") == 5
    assert done.stdout.strip().splitlines()[-1].endswith("index.html")


def test_empty_folder_gives_a_report_that_says_so(tmp_path):
    report = build_report([tmp_path])
    assert report.done == 0 and report.tables == []
    assert any("no complete results.json" in p for p in report.problems)
    assert report.index.is_file()


def test_cli_rejects_a_missing_folder(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "xlprune.report", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "not a folder" in done.stderr
