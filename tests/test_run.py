"""Whole jobs, in-process, on the embedded corpus with a fast-dev setting."""

import json

import pytest

from tests.helpers.jobs import FAST, run_job
from tests.helpers.wandb_records import config as wandb_config
from tests.helpers.wandb_records import summary as wandb_summary
from xlprune.job.results import REQUIRED


@pytest.mark.parametrize(
    ("model", "task"), [("tiny_bert", "ner"), ("tiny_xlmr", "pos"), ("tiny_xlmr", "sf")]
)
def test_cross_job_writes_results(tmp_path, model, task):
    out = tmp_path / "job"
    results = run_job(
        [*FAST, f"model={model}", f"task={task}", "source=[en]", "targets=[de,zh]"], out
    )
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk == results
    assert set(REQUIRED) <= set(on_disk)
    assert on_disk["source"] == ["en"] and on_disk["targets"] == ["de", "zh"]
    assert on_disk["pruned_heads"] == [] and on_disk["prune_count"] == 0
    assert on_disk["fine_tunes"] == 1  # one fine-tune scores every target
    name = "accuracy" if task == "pos" else "f1"
    for split in ("dev", "test"):
        assert set(on_disk["metrics"][split]) == {"en", "de", "zh"}
        assert all(0.0 <= v[name] <= 1.0 for v in on_disk["metrics"][split].values())
    assert {"fit", "dev", "test"} <= set(on_disk["timing"])
    assert {"python", "torch", "transformers", "xlprune"} <= set(on_disk["versions"])
    assert not list(out.glob(".results.json.*"))  # no temp file left behind


def test_multi_setting_trains_one_model_per_target(tmp_path):
    results = run_job([*FAST, "setting=multi", "source=[en]", "targets=[de,es]"], tmp_path / "job")
    assert results["fine_tunes"] == 2
    assert set(results["metrics"]["test"]) == {"de", "es"}


def test_training_learns_on_the_embedded_corpus(tmp_path):
    """Not a smoke test: a few epochs on the synthetic corpus beat chance clearly."""
    results = run_job(
        [
            "logger=none",
            "task=pos",
            "trainer.max_epochs=3",
            "optim.lr=3e-3",
            "trainer.enable_progress_bar=false",
            "source=[en]",
            "targets=[de]",
        ],
        tmp_path / "job",
    )
    assert results["metrics"]["test"]["en"]["accuracy"] > 0.5


def test_same_seed_same_metrics(tmp_path):
    args = [*FAST, "model=tiny_bert", "source=[en]", "targets=[de]"]
    first = run_job(args, tmp_path / "a")["metrics"]
    assert run_job(args, tmp_path / "b")["metrics"] == first


def test_wandb_offline_run_holds_config_and_final_metrics(tmp_path):
    out = tmp_path / "job"
    results = run_job(["+debug=fast", "logger=wandb", "source=[en]", "targets=[de]"], out)
    runs = list(out.glob("wandb/offline-run-*/run-*.wandb"))
    assert len(runs) == 1
    logged = wandb_summary(runs[0])
    for split in ("dev", "test"):
        for lang, values in results["metrics"][split].items():
            for name, value in values.items():
                assert logged[f"final/{split}/{lang}/{name}"] == pytest.approx(value)
    config = wandb_config(runs[0])
    assert config["model"]["name"] == "tiny_xlmr" and config["source"] == ["en"]


def test_csv_logger(tmp_path):
    out = tmp_path / "job"
    run_job(["+debug=fast", "logger=csv", "source=[en]", "targets=[de]"], out)
    metrics_files = list(out.glob("csv/**/metrics.csv"))
    assert metrics_files and "final/test/de/f1" in metrics_files[0].read_text()
