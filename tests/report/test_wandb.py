"""A sweep logged to W&B gets one more run in its group: the report's tables, curves and
heatmaps, offline, in files `wandb sync` uploads; its job runs are named, typed and tagged.
Everything is read back from the real run files."""

import json
import shutil
import subprocess
import sys

import pytest

from tests.helpers.wandb_records import charts, config, records, run_files, run_info, table
from tests.helpers.wandb_records import summary as wandb_summary


def run_record(path):
    for record in records(path):
        if record.WhichOneof("record_type") == "run":
            return record.run
    raise AssertionError(f"no run record in {path}")


def job_results(sweep_dir) -> dict:
    """results.json of each job, by its W&B run's name."""
    out = {}
    for path in sweep_dir.glob("*/results.json"):
        r = json.loads(path.read_text())
        out[f"tiny_bert-pos-cross-en-k{r['prune_count']}"] = r
    return out


def test_summary_run_joins_the_sweep_group(wandb_sweep):
    (summary_file,) = wandb_sweep.dir.glob("wandb/offline-run-*/run-*.wandb")
    job_files = run_files(wandb_sweep.dir, "finetune")
    assert len(job_files) == 2
    run = run_record(summary_file)
    assert run.display_name == "summary" and run.job_type == "summary"
    assert run.project == "xlprune"
    assert {run_record(f).run_group for f in job_files} == {run.run_group}
    assert run.run_group.startswith("multirun_")
    assert {"summary", "model:tiny_bert", "task:pos", "setting:cross", "source:en"} <= set(run.tags)
    lines = [line for line in wandb_sweep.stdout.splitlines() if line.strip()]
    assert lines[-1].endswith("report/index.html")
    assert any(line.startswith("W&B summary run: ") for line in lines)


def test_summary_run_logs_tables_curves_and_heatmaps(wandb_sweep):
    (summary_file,) = wandb_sweep.dir.glob("wandb/offline-run-*/run-*.wandb")
    logged = wandb_summary(summary_file)
    keys = {key.split("/_type")[0] for key in logged if key.endswith("/_type")}
    assert "tables/paper_tiny_bert_pos_cross" in keys
    assert "results" in keys
    assert "heatmaps/heatmap_tiny_bert_pos_gradient_en" in keys
    assert "curves/curves_tiny_bert_pos" in keys  # the figure
    assert "curves/tiny_bert_pos_es_table" in keys  # the line plot's data
    assert logged["heatmaps/heatmap_tiny_bert_pos_gradient_en/_type"] == "image-file"
    assert logged["jobs_complete"] == 2
    # the logged table holds the report's numbers
    run_dir = summary_file.parent
    (table_file,) = run_dir.glob("files/media/table/tables/paper_tiny_bert_pos_cross*.table.json")
    table = json.loads(table_file.read_text())
    k0 = json.loads(next(wandb_sweep.dir.glob("0/results.json")).read_text())
    row = dict(zip(table["columns"], table["data"][0], strict=True))
    assert row["unpruned"] == k0["metrics"]["test"]["es"]["accuracy"]


def test_job_runs_are_named_typed_and_tagged_from_their_start(wandb_sweep):
    runs = {run_info(f)["name"]: f for f in run_files(wandb_sweep.dir, "finetune")}
    assert set(runs) == {"tiny_bert-pos-cross-en-k0", "tiny_bert-pos-cross-en-k2"}
    for name, path in runs.items():
        info = run_info(path)
        assert info["finished"]
        expected = {"model:tiny_bert", "task:pos", "setting:cross", "source:en", "target:es"}
        assert expected | {f"k:{name[-1]}"} <= set(info["tags"])
        assert f"pruning.count={name[-1]}" in info["notes"]
        cfg = config(path)
        assert cfg["job"]["type"] == "finetune" and cfg["pruning"]["count"] == int(name[-1])
        assert f"pruning.count={name[-1]}" in cfg["job"]["overrides"]
    removed = table(runs["tiny_bert-pos-cross-en-k2"], "pruning/removed_heads")["rows"]
    k2 = job_results(wandb_sweep.dir)["tiny_bert-pos-cross-en-k2"]
    assert sorted([r["layer"], r["head"]] for r in removed) == sorted(k2["pruned_heads"])
    assert [r["order"] for r in removed] == [1, 2]
    assert "pruning/removed_heads/_type" not in wandb_summary(runs["tiny_bert-pos-cross-en-k0"])


def test_summary_long_table_has_a_row_per_job_split_and_language(wandb_sweep):
    from xlprune.report.wandb_summary import SCORE_COLUMNS

    (summary_file,) = run_files(wandb_sweep.dir, "summary")
    scores = table(summary_file, "scores")
    assert scores["columns"] == SCORE_COLUMNS
    results = job_results(wandb_sweep.dir)
    expected = {
        (name, split, lang): values["accuracy"]
        for name, r in results.items()
        for split, by_lang in r["metrics"].items()
        for lang, values in by_lang.items()
    }
    assert len(scores["rows"]) == len(expected) == 2 * 2 * 2  # jobs x splits x languages
    for row in scores["rows"]:
        assert row["score"] == expected[(row["run"], row["split"], row["lang"])]
        assert 0 <= row["score"] <= 1  # one scale everywhere: 0-1
        assert row["k"] == results[row["run"]]["prune_count"]
        assert (row["model"], row["task"], row["setting"]) == ("tiny_bert", "pos", "cross")
        assert (row["source"], row["seed"], row["kind"]) == ("en", 42, "final")
        assert row["method"] == ("gradient" if row["k"] else "")
        assert row["role"] == ("source" if row["lang"] == "en" else "target")
    # every run named in the table is a job run of the sweep
    job_names = {run_info(f)["name"] for f in run_files(wandb_sweep.dir, "finetune")}
    assert {row["run"] for row in scores["rows"]} == job_names


def test_summary_line_series_has_one_line_per_language(wandb_sweep):
    (summary_file,) = run_files(wandb_sweep.dir, "summary")
    found = charts(summary_file)
    key = "score_vs_k/tiny_bert_pos_cross_en_gradient"
    assert {k for k in found if k.startswith("score_vs_k/")} == {key}
    chart = found[key]
    assert chart["spec"] == "wandb/lineseries/v0" and chart["xname"] == "heads removed (k)"
    assert "tiny_bert pos, cross, source en: accuracy (test" in chart["title"]
    lines: dict = {}
    for row in chart["table"]["rows"]:
        lines.setdefault(row["lineKey"], {})[row["step"]] = row["lineVal"]
    results = job_results(wandb_sweep.dir)
    assert set(lines) == {"en", "es"}  # one line per evaluated language
    for lang, points in lines.items():
        assert points == {
            k: pytest.approx(
                results[f"tiny_bert-pos-cross-en-k{k}"]["metrics"]["test"][lang]["accuracy"]
            )
            for k in (0, 2)
        }


def test_summary_curve_tables_are_on_the_0_1_scale(wandb_sweep):
    (summary_file,) = run_files(wandb_sweep.dir, "summary")
    rows = table(summary_file, "curves/tiny_bert_pos_es_table")["rows"]
    results = job_results(wandb_sweep.dir)
    assert {row["k"] for row in rows} == {0, 2}
    for row in rows:
        name = f"tiny_bert-pos-cross-en-k{row['k']}"
        assert row["score"] == pytest.approx(results[name]["metrics"]["test"]["es"]["accuracy"])


def test_cli_summary_run_of_a_moved_sweep_keeps_the_group(wandb_sweep, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(wandb_sweep.dir, moved, ignore=shutil.ignore_patterns("report"))
    shutil.rmtree(moved / "wandb")  # the callback's summary run
    done = subprocess.run(
        [sys.executable, "-m", "xlprune.report", str(moved), "--wandb"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    (summary_file,) = run_files(moved / "wandb")
    (job_file, *_) = run_files(moved, "finetune")
    assert run_record(summary_file).run_group == run_record(job_file).run_group


def test_no_summary_run_without_wandb_jobs(sweep, tmp_path):
    from xlprune.report.assemble import build_report
    from xlprune.report.wandb_summary import log_summary

    report = build_report([sweep.dir], tmp_path / "report")
    assert log_summary(report, sweep.dir) is None
    assert not (sweep.dir / "wandb").exists()
