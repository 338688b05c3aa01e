"""A job's W&B runs read back from the real offline run files: described from their first
record (a killed job's run keeps config, tags, name and job type), the removed heads as a
table, and the ranking fine-tune as a run of its own in the job's group."""

import json
import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers.jobs import run_job
from tests.helpers.wandb_records import config, history, run_files, run_info, summary, table

ROOT = Path(__file__).resolve().parents[1]

KILLED = textwrap.dedent(
    """
    import os, signal, sys, time
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from tests.helpers.jobs import compose
    from xlprune.job.loggers import make_logger

    out = Path({out!r})
    cfg = compose({overrides!r}, out)
    logger = make_logger(cfg, out)
    assert logger.is_wandb, logger.failure
    logger.log_metrics({{"train/loss": 1.5}}, step=0)
    time.sleep(3)  # what a job does next: train; then it is killed, W&B never finished
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_a_killed_jobs_run_has_its_config_tags_name_and_job_type(tmp_path):
    out = tmp_path / "job"
    token = "hf_" + secrets.token_hex(16)
    overrides = [
        "+debug=fast",
        "logger=wandb",
        "model=tiny_bert",
        "task=ner",
        "setting=cross",
        "source=[en]",
        "targets=[de,es]",
        "pruning.count=2",
        "seed=7",
        "+hub.token=${oc.env:HF_TOKEN}",
    ]
    script = KILLED.format(root=str(ROOT), out=str(out), overrides=overrides)
    # wandb writes its run file every 15 s (and at the end): a job killed after that has
    # its first records on disk; the test waits 3 s, not 15
    env = dict(os.environ, WANDB__TRANSACTION_LOG_FLUSH_INTERVAL="0.5", HF_TOKEN=token)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=180, env=env
    )
    assert done.returncode == -9, done.stderr[-2000:]  # killed, not finished
    (run_file,) = run_files(out, wait=0)
    info = run_info(run_file)
    assert not info["finished"]
    assert info["name"] == "tiny_bert-ner-cross-en-k2-s7"
    assert info["job_type"] == "finetune"
    assert {"model:tiny_bert", "task:ner", "setting:cross", "source:en"} <= set(info["tags"])
    assert {"target:de", "target:es", "k:2", "method:gradient", "seed:7"} <= set(info["tags"])
    assert "pruning.count=2" in info["notes"]
    cfg = config(run_file)
    assert cfg["model"]["name"] == "tiny_bert" and cfg["task"]["name"] == "ner"
    assert cfg["pruning"]["count"] == 2 and cfg["targets"] == ["de", "es"]
    assert cfg["job"]["type"] == "finetune" and "pruning.count=2" in cfg["job"]["overrides"]
    assert cfg["hub"]["token"] == "***"
    assert [row["train/loss"] for row in history(run_file)] == [1.5]
    assert not [p for p in out.rglob("*") if p.is_file() and token.encode() in p.read_bytes()]


@pytest.fixture(scope="module")
def ranked_job(tmp_path_factory):
    """One W&B job that computes its ranking (an empty store) and removes 2 heads."""
    root = tmp_path_factory.mktemp("ranked")
    overrides = [
        "+debug=fast",
        "logger=wandb",
        "model=tiny_bert",
        "task=pos",
        "source=[en]",
        "targets=[es]",
        "pruning.count=2",
        "data.sizes.dev=48",
        "data.sizes.test=48",
        "trainer.log_every_n_steps=1",
        f"cache_dir={root / 'cache'}",
    ]
    results = run_job(overrides, root / "job")
    return root / "job", results


def test_job_run_and_ranking_run_share_the_group(ranked_job):
    out, results = ranked_job
    (job_file,) = run_files(out, "finetune")
    (ranking_file,) = run_files(out, "ranking")
    assert len(run_files(out)) == 2
    job, ranking = run_info(job_file), run_info(ranking_file)
    assert job["finished"] and ranking["finished"]
    assert job["name"] == "tiny_bert-pos-cross-en-k2"
    assert ranking["name"] == "tiny_bert-pos-ranking-en"
    assert job["group"] and job["group"] == ranking["group"]
    assert {"model:tiny_bert", "task:pos", "source:en", "method:gradient"} <= set(ranking["tags"])
    assert "split:dev" in ranking["tags"]
    details = config(ranking_file)["ranking_run"]
    assert details["source"] == "en" and details["score"] == "gradient"
    assert details["split"] == "dev" and len(details["store_key"]) == 20
    assert config(ranking_file)["job"]["type"] == "ranking"
    # the ranking fine-tune's training is logged in its own run
    assert any("train/loss" in row for row in history(ranking_file))
    assert summary(ranking_file)["ranking/heatmap/_type"] == "image-file"
    # the job's own run still holds the final metrics
    assert summary(job_file)["final/test/es/accuracy"] == pytest.approx(
        results["metrics"]["test"]["es"]["accuracy"]
    )


def test_removed_heads_table_follows_the_ranking(ranked_job):
    out, results = ranked_job
    (job_file,) = run_files(out, "finetune")
    (ranking_file,) = run_files(out, "ranking")
    removed = table(job_file, "pruning/removed_heads")
    assert removed["columns"] == ["layer", "head", "order", "ranking_score"]
    rows = removed["rows"]
    assert sorted([r["layer"], r["head"]] for r in rows) == sorted(results["pruned_heads"])
    assert [r["order"] for r in rows] == [1, 2]
    assert "k:2" in run_info(job_file)["tags"]
    # one source: the job removed the ranking run's first two heads, in that order
    scores = table(ranking_file, "ranking/head_scores")["rows"]
    assert len(scores) == results["num_heads_total"]
    assert sorted(r["order"] for r in scores) == list(range(1, len(scores) + 1))
    first = sorted((r for r in scores if r["order"] <= 2), key=lambda r: r["order"])
    assert [(r["layer"], r["head"]) for r in first] == [(r["layer"], r["head"]) for r in rows]
    stored = json.loads(Path(results["ranking"]["stored"][0]).read_text())["raw"]
    assert [r["score"] for r in scores] == pytest.approx([v for row in stored for v in row])


def test_hand_given_heads_keep_their_order(tmp_path):
    from xlprune.job.loggers import removed_rows

    given = {"pruned_heads": [[2, 1], [0, 3]], "ranking": None}
    assert removed_rows(given) == [[2, 1, 1, None], [0, 3, 2, None]]


def test_names_keep_a_sweeps_other_keys_apart():
    """scarce sweeps data.train_fraction: its jobs' names must differ by it."""
    from xlprune.job.loggers import run_identity

    cfg = {"model": {"name": "mbert"}, "task": {"name": "ner"}, "setting": {"name": "cross"}}
    cfg |= {"source": ["en"], "pruning": {"count": 2}, "ranking": {"method": "gradient"}}
    swept = ["data.train_fraction", "+paper_cell", "pruning.count"]
    names = {
        run_identity(cfg, [f"data.train_fraction={f}", "pruning.count=2"], swept).name()
        for f in (0.1, 0.5)
    }
    assert names == {
        "mbert-ner-cross-en-k2-train_fraction=0.1",
        "mbert-ner-cross-en-k2-train_fraction=0.5",
    }
    # a key that is not swept (a fixed override) stays out of the name
    assert run_identity(cfg, ["data.sizes.dev=48"], swept).name() == "mbert-ner-cross-en-k2"
