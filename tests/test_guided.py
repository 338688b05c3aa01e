"""pruning.mode=guided: one unpruned fine-tune's masked dev curve chooses the k to re-train;
the re-trained models are the full search's own, and the report puts the two side by side."""

from pathlib import Path

import pytest

from tests.helpers.jobs import FAST, compose, run_job
from xlprune.job.selection import curve_means, guided_candidates

SMALL = ["data.sizes.dev=48", "data.sizes.test=48"]
CELL = [*FAST, *SMALL, "model=tiny_bert", "task=pos", "source=[en]", "targets=[es]"]


def test_candidates_are_the_curves_peak_then_its_flat_end():
    masked = {0: 0.80, 1: 0.81, 2: 0.83, 3: 0.79, 4: 0.795, 5: 0.70, 6: 0.60}
    assert guided_candidates(masked, 2, 0.01) == [2, 4]  # peak k=2; k=4 within 0.01 of k=0
    assert guided_candidates(masked, 1, 0.01) == [2]
    assert guided_candidates(masked, 4, 0.01) == [2, 4, 1, 3]  # then the next best masked k
    assert guided_candidates(masked, 2, 0.5) == [2, 6]  # a loose tolerance: the far end
    # the peak is also the flat end: the next best takes the second place
    assert guided_candidates({0: 0.5, 1: 0.4, 2: 0.6}, 2, 0.0) == [2, 1]
    assert guided_candidates({0: 0.5, 1: 0.5, 2: 0.5}, 2, 0.0) == [1, 2]  # ties: fewer heads


def test_curve_means_average_the_targets_each_fine_tune_scored():
    curve = [
        {"k": 0, "metrics": {"en": {"f1": 0.9}, "de": {"f1": 0.6}}},
        {"k": 1, "metrics": {"en": {"f1": 0.8}, "de": {"f1": 0.4}}},
        {"k": 0, "metrics": {"es": {"f1": 0.2}}},  # another fine-tune (multi-lingual)
        {"k": 1, "metrics": {"es": {"f1": 0.6}}},
    ]
    assert curve_means(curve, ["de", "es"], "f1") == pytest.approx({0: 0.4, 1: 0.5})


@pytest.fixture(scope="module")
def guided(tmp_path_factory):
    root = tmp_path_factory.mktemp("guided")
    job = [*CELL, "pruning.mode=guided", "pruning.max_k=4", "guided.candidates=2"]
    job.append("pruning.save=true")  # every trial's model is saved; results name the chosen
    return root, run_job(job, root / "guided")


def test_a_guided_job_spends_three_fine_tunes_and_chooses_on_dev(guided):
    _, r = guided
    g = r["guided"]
    assert r["fine_tunes"] == 3 and g["full_search_fine_tunes"] == 5
    assert r["ranking"]["computed"] == 0  # the unpruned fine-tune was the ranking fine-tune
    assert len(g["candidates"]) == 2 and all(1 <= k <= 4 for k in g["candidates"])
    assert [t["k"] for t in g["trials"]] == [0, *g["candidates"]]
    best = max(g["trials"], key=lambda t: (t["dev"], -t["k"]))
    assert g["dev_selected"]["k"] == best["k"] == r["prune_count"] == len(r["pruned_heads"])
    assert r["metrics"]["test"]["es"]["accuracy"] == pytest.approx(g["dev_selected"]["test"])
    assert sorted(int(k) for k in g["masked_dev"]) == [0, 1, 2, 3, 4]
    assert {p["k"] for p in r["mask_curve"]} == {0, 1, 2, 3, 4}
    (saved,) = r["saved_models"]
    assert saved.endswith(f"model-en-k{r['prune_count']}") and Path(saved, "config.json").is_file()


def test_guided_re_trains_are_the_full_searchs_models_and_the_report_sets_them_side_by_side(
    guided,
):
    from xlprune.report.assemble import build_report

    root, r = guided
    for k in range(5):  # the full search: every k re-trained, as a pruning.count grid
        full = run_job([*CELL, f"pruning.count={k}"], root / f"full{k}")
        trial = next((t for t in r["guided"]["trials"] if t["k"] == k), None)
        if trial is not None:  # the same model: the same test score, to the last digit
            assert full["metrics"]["test"]["es"]["accuracy"] == trial["test"]
    report = build_report([root])
    (table,) = [t for t in report.tables if t.key == "guided"]
    (row,) = table.rows
    cols = dict(zip(table.columns, row, strict=True))
    assert cols["guided fine-tunes"] == 3 and cols["full-search k tried"] == "5 of 5"
    assert cols["guided k"] == r["prune_count"]
    assert cols["guided - full"] == pytest.approx(cols["guided test"] - cols["full-search test"])
    assert "Guided choice of k beside the full search" in report.index.read_text()


def test_the_plan_counts_what_guided_saves():
    from xlprune.sweep.plan import count

    cfgs = [
        compose([*CELL, "pruning.mode=guided", "pruning.max_k=12", f"seed={seed}"])
        for seed in (1, 2)
    ]
    size = count(cfgs)
    assert (size["fine_tunes"], size["guided"], size["guided_full"]) == (6, 6, 26)
    assert size["rankings"] == 0  # cross-lingual from one source: no extra ranking
    multi = count([compose([*CELL, "pruning.mode=guided", "setting=multi"])])
    assert multi["rankings"] == 1  # trained on en + es: the en ranking is its own fine-tune


def test_the_sweeps_end_says_what_guided_saved(guided):
    from xlprune.sweep.summary import fine_tune_count

    _, r = guided
    line = fine_tune_count([r, dict(r)])
    assert line.endswith("guided mode saved 4 fine-tunes against re-training every k"), line
