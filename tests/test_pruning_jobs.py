"""Heads in whole jobs: rankings computed once and reused, heads removed before
fine-tuning, the masked curve, saved pruned models, and bad pruning input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.helpers.jobs import FAST, cli, compose, run_job
from xlprune.infra.errors import XlpruneError

PNG = b"\x89PNG\r\n\x1a\n"


def test_count_removes_the_lowest_ranked_heads(tmp_path):
    results = run_job([*FAST, "pruning.count=3"], tmp_path / "job")
    assert results["prune_count"] == 3 and results["num_heads_total"] == 12
    rk = results["ranking"]
    assert rk["method"] == "gradient" and rk["sources"] == ["en"] and rk["computed"] == 1
    stored = json.loads(Path(rk["stored"][0]).read_text())
    assert len(stored["raw"]) == 3 and len(stored["raw"][0]) == 4
    from xlprune.heads import normalise, rank_heads

    lowest = sorted(rank_heads(normalise(torch.tensor(stored["raw"])))[:3])
    assert results["pruned_heads"] == [list(h) for h in lowest]
    heatmap = rk["stored"][0].replace("scores.json", "heatmap.png")
    assert Path(heatmap).read_bytes()[:8] == PNG
    again = run_job([*FAST, "pruning.count=5"], tmp_path / "again")
    assert again["ranking"]["computed"] == 0  # read from the store, no second fine-tune
    assert again["ranking"]["stored"] == rk["stored"]


def test_max_and_random_rankings(tmp_path):
    grad = run_job([*FAST, "pruning.count=2"], tmp_path / "g")
    most = run_job([*FAST, "pruning.count=2", "ranking=max"], tmp_path / "m")
    assert not set(map(tuple, most["pruned_heads"])) & set(map(tuple, grad["pruned_heads"]))
    rand = [
        run_job([*FAST, "pruning.count=4", "ranking=random", f"seed={s}"], tmp_path / f"r{s}")
        for s in (1, 1, 2)
    ]
    assert rand[0]["pruned_heads"] == rand[1]["pruned_heads"] != rand[2]["pruned_heads"]
    assert rand[0]["ranking"]["computed"] == 0


def test_explicit_heads_and_a_fully_removed_layer(tmp_path):
    results = run_job([*FAST, "pruning.heads='0:1,3 2:0,1,2,3'"], tmp_path / "job")
    assert results["pruned_heads"] == [[0, 1], [0, 3], [2, 0], [2, 1], [2, 2], [2, 3]]
    assert results["ranking"] is None


def test_mask_curve_starts_at_the_unmasked_dev_scores(tmp_path):
    results = run_job(
        [
            *FAST,
            "pruning.mode=mask",
            "pruning.max_k=5",
            "targets=[de]",
            # debug=fast validates 2 batches only; the curve scores all of dev
            "trainer.limit_val_batches=1.0",
        ],
        tmp_path / "job",
    )
    curve = results["mask_curve"]
    assert [point["k"] for point in curve] == list(range(6))
    assert [len(point["heads"]) for point in curve] == list(range(6))
    assert curve[0]["metrics"] == results["metrics"]["dev"]
    assert results["ranking"]["method"] == "gradient" and results["prune_count"] == 0


def test_a_mask_job_stores_the_ranking_a_ranking_fine_tune_would_compute(tmp_path):
    """Cross-lingual, one source: the mask job's model is the ranking fine-tune's, so its
    scores are stored as that ranking; a remove job then fine-tunes no ranking, and a ranking
    computed afresh (another cache) gives the same matrix."""
    own = f"cache_dir={tmp_path / 'cache'}"
    mask = run_job([*FAST, own, "pruning.mode=mask", "pruning.max_k=2"], tmp_path / "mask")
    assert mask["ranking"]["computed"] == 1 and len(mask["ranking"]["stored"]) == 1
    stored = json.loads(Path(mask["ranking"]["stored"][0]).read_text())["raw"]
    reuse = run_job([*FAST, own, "pruning.count=2"], tmp_path / "reuse")
    assert reuse["ranking"]["computed"] == 0
    assert reuse["ranking"]["stored"] == mask["ranking"]["stored"]
    fresh = run_job([*FAST, "pruning.count=2", f"cache_dir={tmp_path / 'other'}"], tmp_path / "f")
    assert fresh["ranking"]["computed"] == 1
    again = json.loads(Path(fresh["ranking"]["stored"][0]).read_text())["raw"]
    assert torch.allclose(torch.tensor(again), torch.tensor(stored), rtol=1e-6, atol=0)
    multi = run_job(
        [*FAST, own, "pruning.mode=mask", "setting=multi", "pruning.max_k=2"], tmp_path / "m"
    )
    assert multi["ranking"]["stored"] == []  # trained on source + target: not a ranking


def test_pruned_model_saved_and_loaded_back_to_identical_logits(tmp_path):
    from hydra.utils import instantiate

    from xlprune.infra.store import Store
    from xlprune.job.context import Job
    from xlprune.job.finetune import fine_tune
    from xlprune.job.saving import save_model

    cfg = compose([*FAST, "model=tiny_bert"], tmp_path / "job")
    from xlprune.data.corpus import make_source

    data = make_source(cfg.data)
    splits = {
        s: {g: data.load("ner", g, s) for g in ("en", "de")} for s in ("train", "dev", "test")
    }
    labels = data.labels("ner")
    texts = [" ".join(w) for g in ("en", "de") for w, _ in splits["train"][g]]
    job = Job(cfg, instantiate(cfg.model), labels, texts, Store(cfg.cache_dir), splits)
    tagger, _, dm = fine_tune(job, ["en"], ["de"], remove=[(0, 1), (2, 0), (2, 1), (2, 2), (2, 3)])
    directory = save_model(tagger, dm, tmp_path, ["en"])
    assert (tmp_path / "model-en" / "model.safetensors").is_file()
    spec = instantiate(compose(["model=mbert", f"model.name_or_path={directory}"]).model)
    loaded, tokenizer = spec.build(labels=labels, texts=[], store=None)
    batch = dm.collate(dm.features["test"]["de"][:8])
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    tagger.model.eval()
    with torch.no_grad():
        assert torch.equal(tagger.model(**inputs).logits, loaded(**inputs).logits)
    assert tokenizer("Anna")["input_ids"] == dm.tokenizer("Anna")["input_ids"]


def test_a_sweep_over_k_fine_tunes_the_ranking_once(tmp_path):
    done = cli(
        ["+debug=fast", "logger=none", "pruning.count=0,1,2,3", "-m"],
        cwd=tmp_path,
        env={"XLPRUNE_CACHE": str(tmp_path / "cache")},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = [json.loads(p.read_text()) for p in tmp_path.glob("multirun/*/*/*/results.json")]
    assert sorted(r["prune_count"] for r in results) == [0, 1, 2, 3]
    assert [r["ranking"] for r in results if r["prune_count"] == 0] == [None]
    computed = sum(r["ranking"]["computed"] for r in results if r["ranking"])
    assert computed == 1
    fine_tunes = sum(r["fine_tunes"] for r in results) + computed
    assert fine_tunes == 5  # 4 jobs + 1 ranking fine-tune, not 4 + 3


def test_two_jobs_at_once_compute_the_ranking_once(tmp_path):
    env_args = ["+debug=fast", "logger=none", "pruning.count=2"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "xlprune", *env_args, f"hydra.run.dir={tmp_path / name}"],
            cwd=tmp_path,
            env=dict(os.environ, XLPRUNE_CACHE=str(tmp_path / "cache")),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name in ("a", "b")
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    results = [json.loads((tmp_path / n / "results.json").read_text()) for n in ("a", "b")]
    assert sorted(r["ranking"]["computed"] for r in results) == [0, 1]
    assert results[0]["pruned_heads"] == results[1]["pruned_heads"]


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("pruning.count=-1", "pruning.count=-1"),
        ("pruning.count=13", "from 0 to 12"),
        ("pruning.heads=0:x", "pruning.heads"),
        ("pruning.heads=9:0", "pruning.heads"),
        ("pruning.heads=0-1", "pruning.heads"),
        ("pruning.mode=chop", "pruning.mode=chop"),
        ("ranking.method=best", "ranking.method=best"),
    ],
)
def test_bad_pruning_input(tmp_path, override, needle):
    extra = ["pruning.count=1"] if override.startswith("ranking") else []
    with pytest.raises(XlpruneError, match=needle.replace(".", r"\.")):
        run_job([*FAST, override, *extra], tmp_path / "job")
    assert not (tmp_path / "job" / "results.json").exists()


def write_scores(path, raw, model_type="xlm-roberta"):
    path.write_text(json.dumps({"raw": raw, "model_type": model_type}))
    return path


def test_stored_ranking_of_another_architecture_or_truncated(tmp_path):
    other = write_scores(tmp_path / "other.json", [[0.1] * 12] * 12)
    with pytest.raises(XlpruneError, match=r"other\.json: ranking of a xlm-roberta model"):
        run_job([*FAST, "pruning.count=1", f"ranking.file={other}"], tmp_path / "job")
    bert = write_scores(tmp_path / "bert.json", [[0.1] * 4] * 3, model_type="bert")
    with pytest.raises(XlpruneError, match="same architecture"):
        run_job([*FAST, "pruning.count=1", f"ranking.file={bert}"], tmp_path / "job")
    good = write_scores(tmp_path / "good.json", [[0.5, 0.1, 0.9, 0.3]] * 3)
    cut = tmp_path / "cut.json"
    cut.write_text(good.read_text()[:30])
    with pytest.raises(XlpruneError, match=r"cut\.json: not a complete ranking file"):
        run_job([*FAST, "pruning.count=1", f"ranking.file={cut}"], tmp_path / "job")
    assert not (tmp_path / "job" / "results.json").exists()
    results = run_job([*FAST, "pruning.count=1", f"ranking.file={good}"], tmp_path / "job")
    assert results["pruned_heads"] == [[0, 1]] and results["ranking"]["stored"] == [str(good)]
