"""A sweep logged to W&B gets one more run in its group: the report's tables, curves and
heatmaps, offline, in files `wandb sync` uploads."""

import json
import shutil
import subprocess
import sys

from wandb_records import records
from wandb_records import summary as wandb_summary


def run_record(path):
    for record in records(path):
        if record.WhichOneof("record_type") == "run":
            return record.run
    raise AssertionError(f"no run record in {path}")


def test_summary_run_joins_the_sweep_group(wandb_sweep):
    (summary_file,) = wandb_sweep.dir.glob("wandb/offline-run-*/run-*.wandb")
    job_files = sorted(wandb_sweep.dir.glob("*/wandb/offline-run-*/run-*.wandb"))
    assert len(job_files) == 2
    run = run_record(summary_file)
    assert run.display_name == "summary" and run.job_type == "summary"
    assert run.project == "xlprune"
    assert {run_record(f).run_group for f in job_files} == {run.run_group}
    assert run.run_group.startswith("multirun_")
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
    (summary_file,) = moved.glob("wandb/offline-run-*/run-*.wandb")
    (job_file, *_) = moved.glob("*/wandb/offline-run-*/run-*.wandb")
    assert run_record(summary_file).run_group == run_record(job_file).run_group


def test_no_summary_run_without_wandb_jobs(sweep, tmp_path):
    from xlprune.report.build import build_report
    from xlprune.report.wandb_summary import log_summary

    report = build_report([sweep.dir], tmp_path / "report")
    assert log_summary(report, sweep.dir) is None
    assert not (sweep.dir / "wandb").exists()
