"""The rankings the field uses, in whole jobs: gradient importance at each granularity,
Michel et al.'s iterative pruning and Held & Yang's Shapley values, stored and reused like
every ranking, recorded in results.json and shown side by side in the report."""

import json
from pathlib import Path

import pytest
import torch

from tests.helpers.jobs import FAST, run_job
from xlprune.heads import rank_heads

COUNT = ["pruning.count=2"]
JOBS = {  # name -> overrides; each job ranks with its own method (one ranking fine-tune)
    "sentence": ["ranking.granularity=sentence", "eval_batch_size=64"],
    "batch": ["ranking.granularity=batch"],
    "batch_1": ["ranking.granularity=batch", "eval_batch_size=1"],
    "token": ["ranking.granularity=token"],
    "iterative": ["ranking=iterative", "ranking.step=0.25"],
    "shapley": ["ranking=shapley", "ranking.samples=60", "ranking.tolerance=0"],
    "max": ["ranking=max"],
}


JOB_OF = {"gradient": "sentence", "gradient:token": "token", "iterative": "iterative"}
JOB_OF |= {"shapley": "shapley"}
ROOT: list[Path] = []  # the folder the module's jobs ran in


@pytest.fixture(scope="module")
def jobs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("rankings")
    ROOT[:] = [root]
    return {name: run_job([*FAST, *COUNT, *extra], root / name) for name, extra in JOBS.items()}


def stored(results: dict) -> dict:
    return json.loads(Path(results["ranking"]["stored"][0]).read_text())


def test_sentence_at_eval_batch_64_equals_batch_at_batch_size_1(jobs):
    """Per-sentence gradients from whole batches are the bertology recipe's batch size 1."""
    sentence = torch.tensor(stored(jobs["sentence"])["raw"], dtype=torch.float64)
    one_by_one = torch.tensor(stored(jobs["batch_1"])["raw"], dtype=torch.float64)
    torch.testing.assert_close(sentence, one_by_one, rtol=1e-6, atol=0)
    per_batch = torch.tensor(stored(jobs["batch"])["raw"], dtype=torch.float64)
    assert not torch.allclose(sentence, per_batch, rtol=1e-3)  # sentences cancel in a batch
    assert (per_batch <= sentence * (1 + 1e-9)).all()  # |sum| <= sum of |.|


def test_granularity_is_recorded_and_part_of_the_store_key(jobs, tmp_path):
    paths = {name: jobs[name]["ranking"]["stored"][0] for name in ("sentence", "batch", "token")}
    assert len(set(paths.values())) == 3
    for name in ("sentence", "batch", "token"):
        assert jobs[name]["ranking"]["granularity"] == name
        assert stored(jobs[name])["granularity"] == name
    again = run_job([*FAST, *COUNT, "ranking.granularity=token"], tmp_path / "again")
    assert again["ranking"]["computed"] == 0 and again["ranking"]["stored"] == [paths["token"]]
    token = torch.tensor(stored(jobs["token"])["raw"])
    sentence = torch.tensor(stored(jobs["sentence"])["raw"])
    assert (token >= sentence * (1 - 1e-6)).all()  # per position: at least the sentence sum


def test_iterative_ranking_is_its_removal_order(jobs):
    results, data = jobs["iterative"], stored(jobs["iterative"])
    rk = results["ranking"]
    assert rk["method"] == "iterative" and rk["step"] == 0.25 and rk["granularity"] == "sentence"
    positions = {(a, b): v for a, row in enumerate(data["raw"]) for b, v in enumerate(row)}
    assert sorted(positions.values()) == list(range(12))  # each head's removal position
    first_two = sorted([a, b] for (a, b), v in positions.items() if v < 2)
    assert results["pruned_heads"] == first_two
    # 12 heads, a quarter of the remaining per round: 3, 2, 2, 1, 1, 1, 1, 1 -> 7 passes
    assert data["details"]["rounds"] == 8 and rk["passes"] == 7


def test_shapley_ranking_removes_the_lowest_values_and_lists_harmful_heads(jobs):
    results, data = jobs["shapley"], stored(jobs["shapley"])
    rk, raw = results["ranking"], torch.tensor(data["raw"], dtype=torch.float64)
    assert rk["method"] == "shapley" and rk["on"] == "source" and rk["samples"] == 60
    assert 24 <= rk["passes"] <= 60  # at least one antithetic pair (2 x 12 heads)
    assert rk["shapley"][0]["value_of"] == ["en"]
    lowest = sorted(rank_heads(raw)[:2])  # signed values, not normalised per layer
    assert results["pruned_heads"] == [list(h) for h in lowest]
    negative = sorted(
        (a, b) for a, row in enumerate(raw.tolist()) for b, v in enumerate(row) if v < 0
    )
    assert sorted((a, b) for a, b, _ in rk["harmful"]) == negative
    # the FAST recipe barely learns (F1 near 0): the job says so instead of trusting them
    info = rk["shapley"][0]
    noisy = info["full_value"] <= info["empty_value"]
    assert ("warning" in info) == noisy and (info.get("warning") in results["warnings"]) == noisy
    # efficiency: the values add up to v(all heads) - v(no head)
    full, empty = rk["shapley"][0]["full_value"], rk["shapley"][0]["empty_value"]
    assert raw.sum().item() == pytest.approx(full - empty, abs=1e-9)


def test_shapley_for_the_target_is_its_own_ranking(jobs, tmp_path):
    on_target = run_job(
        [*FAST, *COUNT, *JOBS["shapley"], "ranking.on=target", "targets=[de]"], tmp_path / "t"
    )
    rk = on_target["ranking"]
    assert rk["on"] == "target" and rk["targets"] == ["de"]
    assert rk["shapley"][0]["value_of"] == ["de"]
    assert rk["stored"] != jobs["shapley"]["ranking"]["stored"]


def test_report_shows_every_method_side_by_side(jobs):
    from xlprune.report.assemble import build_report

    report = build_report([ROOT[0]], ROOT[0] / "report")
    ablation = [t for t in report.tables if t.key.startswith("ablation_")]
    assert ablation, [t.key for t in report.tables]
    for method in ("gradient", "gradient:batch", "gradient:token", "iterative", "shapley", "max"):
        assert method in ablation[0].columns
    between_methods = [c for c in report.correlations if c.between == "methods"]
    assert [c.method for c in between_methods] == ["en"]
    names = set(between_methods[0].langs)
    assert {"gradient", "gradient:batch", "gradient:token", "iterative", "shapley"} <= names
    # the report's Spearman agrees with scipy's on the stored matrices (gradient scores
    # per layer by their L2 norm; iterative positions and Shapley values as stored)
    from scipy.stats import spearmanr

    def flat(name):
        raw = torch.tensor(stored(jobs[name])["raw"], dtype=torch.float64)
        if name not in ("iterative", "shapley"):
            raw = raw / raw.norm(dim=1, keepdim=True)
        return raw.flatten().tolist()

    langs, matrix = between_methods[0].langs, between_methods[0].matrix
    pairs = (("gradient", "gradient:token"), ("gradient", "iterative"), ("shapley", "gradient"))
    for a, b in pairs:
        expected = spearmanr(flat(JOB_OF[a]), flat(JOB_OF[b])).statistic
        assert matrix[langs.index(a)][langs.index(b)] == pytest.approx(expected, abs=1e-9)
        assert matrix[langs.index(b)][langs.index(a)] == pytest.approx(expected, abs=1e-9)


def test_a_targets_game_in_a_masked_curve_is_played_once_for_all_sources(tmp_path):
    """Mask mode trains one model on every source: its targets' game is the same for each,
    computed once and its passes counted once."""
    done = run_job(
        [
            *FAST,
            *JOBS["shapley"],
            "ranking.on=target",
            "pruning.mode=mask",
            "pruning.max_k=2",
            "source=[en,de]",
            "targets=[fr]",
        ],
        tmp_path,
    )
    details = done["ranking"]["shapley"]
    assert [d["value_of"] for d in details] == [["fr"], ["fr"]]
    assert details[1]["same_as"] == "en" and details[1]["passes"] == 0
    assert done["ranking"]["passes"] == details[0]["passes"] == details[0]["coalitions"] > 0
