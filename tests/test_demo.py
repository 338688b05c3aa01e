"""The demo learns: each of its model x task cells, run as `make demo` runs it, scores its
source language's dev set well above chance; a job that learns nothing says so."""

import pytest

from tests.helpers.jobs import run_job

# the aims the demo is held to (entity F1 / token accuracy, 0-1, in-language dev)
AIMS = {"ner": 0.5, "pos": 0.9}


@pytest.mark.parametrize("model", ["tiny_bert", "tiny_xlmr"])
@pytest.mark.parametrize("task", ["ner", "pos"])
def test_demo_job_learns_its_source_language(tmp_path, model, task):
    results = run_job(
        # in this process, one job: the basic launcher (joblib would take one core of two)
        ["+experiment=demo", "hydra/launcher=basic", "logger=none", f"model={model}"]
        + [f"task={task}", "source=[en]"],
        tmp_path / "job",
    )
    name = "f1" if task == "ner" else "accuracy"
    dev = results["metrics"]["dev"]["en"][name]
    assert dev >= AIMS[task], f"{model} {task}: dev en {name} {dev:.3f} < {AIMS[task]}"
    assert results["warnings"] == []


def test_a_job_that_learns_nothing_is_warned_about(fast_job, caplog):
    full_dev = "trainer.limit_val_batches=1.0"
    results = fast_job("task=pos", "optim.lr=1e-12", "targets=[de]", full_dev)
    (warning,) = results["warnings"]
    assert warning.startswith("dev en accuracy ") and "chance level" in warning
    assert "majority label" in warning
    assert any("chance level" in r.getMessage() for r in caplog.records)


def test_no_chance_check_on_part_of_dev(fast_job):
    # +debug=fast scores 2 dev batches: the rest of dev counts as missed, not as unlearned
    assert fast_job("task=pos", "optim.lr=1e-12")["warnings"] == []
