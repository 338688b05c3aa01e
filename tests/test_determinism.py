"""The same config and seed give the same numbers on CPU: in two processes with different
hash seeds and nothing shared (each its own cache, so its own tokenizer, features and
ranking fine-tune), the head scores, the heads removed and every metric are identical."""

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers.jobs import cli

TOKENIZER = (
    "import sys; from xlprune.models.tokenizers import train_tokenizer;"
    "from xlprune.data.synthetic import generate;"
    "text = [' '.join(w) for g in ('en', 'de', 'zh') for w, _ in generate('ner', g, 'train')];"
    "sys.stdout.write(train_tokenizer(sys.argv[1], text, 3000).backend_tokenizer.to_str())"
)


def test_tokenizers_learned_in_two_processes_are_identical():
    for family in ("bert", "xlmr"):
        made = [
            subprocess.run(
                [sys.executable, "-c", TOKENIZER, family],
                capture_output=True,
                text=True,
                env={"PYTHONHASHSEED": seed, "PATH": ""},
                check=True,
            ).stdout
            for seed in ("1", "2")
        ]
        assert made[0] == made[1] and json.loads(made[0])["model"]["vocab"]


def test_same_config_and_seed_twice_give_identical_rankings_and_metrics(tmp_path):
    args = ["+debug=fast", "logger=none", "pruning.count=3", "targets=[de,zh]", "hydra.run.dir=out"]
    runs = []
    for name, hash_seed in (("a", "1"), ("b", "2")):
        (tmp_path / name).mkdir()
        env = {"XLPRUNE_CACHE": str(tmp_path / name / "cache"), "PYTHONHASHSEED": hash_seed}
        done = cli(args, cwd=tmp_path / name, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
        results = json.loads((tmp_path / name / "out" / "results.json").read_text())
        assert results["ranking"]["computed"] == 1  # each ranked the heads itself
        scores = json.loads(Path(results["ranking"]["stored"][0]).read_text())["raw"]
        runs.append((scores, results["pruned_heads"], results["metrics"]))
    assert runs[0] == runs[1]
    scores, _, metrics = runs[0]
    assert len({round(s, 12) for row in scores for s in row}) > 1  # not a constant matrix
    assert set(metrics["test"]) == {"en", "de", "zh"}


def test_validating_every_epoch_leaves_training_as_it_was(tmp_path):
    """With a logger, dev is scored after each epoch (and the last pass is the job's dev
    score); without one, once at the end. The model trained must be the same either way."""
    from tests.helpers.jobs import FAST, run_job

    common = [*FAST[:1], "task=pos", "trainer.max_epochs=3", "trainer.limit_val_batches=1.0"]
    logged = run_job([*common, "logger=csv"], tmp_path / "csv")
    plain = run_job([*common, "logger=none"], tmp_path / "none")
    assert logged["metrics"] == plain["metrics"]
    import csv

    with open(tmp_path / "csv" / "csv" / "version_0" / "metrics.csv") as f:
        epochs = [row["epoch"] for row in csv.DictReader(f) if row["dev/en/accuracy"]]
    assert epochs == ["0", "1", "2"]  # the learning curve the logger got
