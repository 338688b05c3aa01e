"""iterative_order: Michel et al. 2019's iterative pruning as a removal order."""

import pytest
import torch

from xlprune.heads import (
    attach_gates,
    attached_gates,
    gate_importance,
    iterative_order,
    normalise,
    prune_heads,
    rank_heads,
)
from xlprune.heads.iterative import importance_passes

from .conftest import HEADS, LAYERS

ALL = [(layer, head) for layer in range(LAYERS) for head in range(HEADS)]


def _batches(batch):
    return [batch(seed=s, batch=3, tokens=7) for s in range(2)]


@pytest.mark.parametrize("granularity", ["sentence", "batch"])
def test_first_round_is_one_shot_lowest(tiny, batch, granularity):
    model, batches = tiny(dtype=torch.float64), _batches(batch)
    res = iterative_order(model, batches, step=0.25, granularity=granularity)
    one_shot = normalise(gate_importance(model, batches, granularity=granularity))
    assert res.rounds[0] == rank_heads(one_shot)[:3]
    raw = iterative_order(
        model, batches, step=0.25, granularity=granularity, normalise_scores=False
    )
    assert raw.rounds[0] == rank_heads(gate_importance(model, batches, granularity=granularity))[:3]


def test_order_is_a_permutation_reproduced_by_ranks(tiny, batch):
    model = tiny(dtype=torch.float64)
    res = iterative_order(model, _batches(batch))
    assert sorted(res.order) == ALL and len(res.order) == len(ALL)
    assert res.ranks.dtype == torch.float64 and res.ranks.shape == (LAYERS, HEADS)
    assert rank_heads(res.ranks) == res.order
    assert [h for r in res.rounds for h in r] == res.order


@pytest.mark.parametrize("normalise_scores", [True, False])
def test_second_pick_recomputed_under_the_first_mask(tiny, batch, normalise_scores):
    model, batches = tiny(dtype=torch.float64), _batches(batch)
    res = iterative_order(model, batches, step=0.01, normalise_scores=normalise_scores)
    assert all(len(r) == 1 for r in res.rounds)
    first = res.order[0]
    mask = torch.ones(LAYERS, HEADS, dtype=torch.float64)
    mask[first] = 0.0
    scores = gate_importance(model, batches, gates=mask, granularity="sentence")
    scores[first] = 0.0
    if normalise_scores:  # per-layer L2 over the remaining heads; min-max keeps the order
        scores = scores / scores.norm(dim=1, keepdim=True)
    rest = [h for h in rank_heads(scores) if h != first]
    assert res.order[1] == rest[0]


def test_rounds_and_passes(tiny, batch):
    model, batches = tiny(dtype=torch.float64), _batches(batch)
    res = iterative_order(model, batches, step=0.01)
    assert len(res.rounds) == 12 and res.passes == 11  # the last head needs no pass
    res = iterative_order(model, batches, step=0.5)
    assert [len(r) for r in res.rounds] == [6, 3, 2, 1] and res.passes == 3
    calls = []

    def source():
        calls.append(1)
        return batches

    res = iterative_order(model, source, step=0.5)
    assert len(calls) == res.passes == 3
    # what the sweep plan counts without running anything
    assert importance_passes(12, 0.01) == 11 and importance_passes(12, 0.5) == 3
    assert importance_passes(12, 0.25) == 7 and importance_passes(1, 0.1) == 0


def test_physically_removed_heads_go_first(tiny, batch):
    model = tiny(dtype=torch.float64)
    gone = [(0, 3), (2, 0), (2, 1)]
    prune_heads(model, gone)
    res = iterative_order(model, _batches(batch), step=0.01)
    assert res.already_removed == gone and res.order[:3] == gone
    assert sorted(res.order) == ALL and rank_heads(res.ranks) == res.order
    assert len(res.rounds) == 9 and res.passes == 8


def test_mode_gates_and_grads_left_alone(tiny, batch):
    model = tiny().train()
    gates = torch.ones(LAYERS, HEADS)
    with attach_gates(model, gates) as handle:
        iterative_order(model, _batches(batch), step=0.5)
        assert handle.gates is gates and torch.equal(gates, torch.ones(LAYERS, HEADS))
    assert attached_gates(model) is None
    assert model.training and all(p.grad is None for p in model.parameters())


def test_bad_arguments(tiny, batch):
    model = tiny()
    for step in (0, 1, -0.1, 1.5):
        with pytest.raises(ValueError, match="step"):
            iterative_order(model, _batches(batch), step=step)
    with pytest.raises(TypeError, match="re-iterable"):
        iterative_order(model, iter(_batches(batch)))
    with pytest.raises(ValueError, match="granularity"):
        iterative_order(model, _batches(batch), granularity="word")
