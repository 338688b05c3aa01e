"""shapley_values: permutation sampling with cache, truncation, budget and tolerance."""

import itertools
import math
from collections import Counter

import pytest
import torch

from xlprune.heads import (
    attach_gates,
    attached_gates,
    attention_layers,
    masked_value,
    negative_loss,
    prune_heads,
    rank_heads,
    shapley_values,
    token_accuracy,
)

from .conftest import HEADS, LABELS, LAYERS, VOCAB, make_model


def exact_shapley(players, v):
    """By enumerating every coalition: phi_i = sum_S |S|!(n-|S|-1)!/n! (v(S+i) - v(S))."""
    n = len(players)
    out = {}
    for i in players:
        others = [p for p in players if p != i]
        total = 0.0
        for k in range(n):
            weight = math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
            for s in itertools.combinations(others, k):
                s = frozenset(s)
                total += weight * (v(s | {i}) - v(s))
        out[i] = total
    return out


class Counting:
    """A value function that counts how often each coalition is evaluated."""

    def __init__(self, fn):
        self.fn, self.calls = fn, Counter()

    def __call__(self, active):
        self.calls[active] += 1
        return self.fn(active)


WEIGHTS = {(0, 0): 0.5, (0, 1): -0.2, (1, 0): 0.1, (1, 1): 0.0, (2, 3): 0.3}
PLAYERS = list(WEIGHTS)


def additive(s):
    return sum(WEIGHTS[h] for h in s)


def pairwise(s):  # an interaction pair on top of the weights
    return additive(s) + (0.4 if {(0, 0), (0, 1)} <= s else 0.0)


def higher_order(s):  # a three-way term and a saturation: sampling is needed
    v = pairwise(s) - (0.6 if {(1, 0), (1, 1), (2, 3)} <= s else 0.0)
    return v + 0.05 * len(s) ** 2


@pytest.mark.parametrize("antithetic", [True, False])
def test_additive_is_exact_and_stops_by_tolerance(antithetic):
    value = Counting(additive)
    res = shapley_values(PLAYERS, value, samples=1000, tolerance=1e-9, antithetic=antithetic)
    for h, w in WEIGHTS.items():
        assert res.values[h] == pytest.approx(w, abs=1e-12)
        assert res.stderr[h] == pytest.approx(0.0, abs=1e-12)
    assert res.converged and res.permutations == (4 if antithetic else 2)
    assert value.calls[frozenset(PLAYERS)] == 1 and value.calls[frozenset()] == 1
    assert max(value.calls.values()) == 1 and res.evaluations == len(value.calls)
    assert res.full_value == pytest.approx(sum(WEIGHTS.values())) and res.empty_value == 0


def test_antithetic_pair_gets_pairwise_interactions_exactly():
    exact = exact_shapley(PLAYERS, pairwise)
    assert exact[(0, 0)] == pytest.approx(0.7) and exact[(0, 1)] == pytest.approx(0.0)
    res = shapley_values(PLAYERS, pairwise, samples=100, tolerance=1e-9)
    assert res.converged and res.permutations == 4
    for h in PLAYERS:
        assert res.values[h] == pytest.approx(exact[h], abs=1e-12)


@pytest.mark.parametrize("antithetic", [True, False])
def test_converges_to_exact_values(antithetic):
    exact = exact_shapley(PLAYERS, higher_order)
    value = Counting(higher_order)
    res = shapley_values(
        PLAYERS, value, samples=100, seed=3, antithetic=antithetic, max_permutations=3000
    )
    assert res.permutations == 3000 and not res.converged
    assert res.evaluations == len(value.calls) <= 2 ** len(PLAYERS)  # the cache saturates
    assert max(value.calls.values()) == 1
    for h in PLAYERS:
        assert abs(res.values[h] - exact[h]) < max(4 * res.stderr[h], 1e-9), h
        assert abs(res.values[h] - exact[h]) < 0.02
    # efficiency: the values add up to v(full) - v(empty) (no truncation)
    total = sum(res.values.values())
    assert total == pytest.approx(higher_order(frozenset(PLAYERS)) - higher_order(frozenset()))


def test_budget_is_respected_and_seeded():
    players = [(layer, head) for layer in range(3) for head in range(4)]

    def v(s):
        return math.sqrt(len(s)) + 0.1 * sum(layer * head for layer, head in s)

    value = Counting(v)
    res = shapley_values(players, value, samples=60, seed=1)
    assert res.evaluations == len(value.calls) <= 60 and not res.converged
    # 13 for the first walk, then 11 per walk (its reverse too): two antithetic pairs fit
    # (46 evaluations), a third does not and is abandoned once the budget is spent
    assert res.permutations == 4 and res.evaluations == 60
    again = shapley_values(players, v, samples=60, seed=1)
    assert again.values == res.values and again.permutations == res.permutations
    assert shapley_values(players, v, samples=60, seed=2).values != res.values
    assert all(math.isfinite(x) for x in res.stderr.values())
    one = shapley_values(players, v, samples=24, seed=1)  # exactly one pair
    assert one.permutations == 2 and one.evaluations == 24
    assert math.isnan(one.stderr[(0, 0)])  # a single unit: no standard error yet
    plain = shapley_values(players, v, samples=60, antithetic=False)
    assert plain.permutations == 5 and plain.evaluations <= 60  # 13 + 4 * 11 = 57


def test_truncation_skips_the_dead_tail():
    players = [(0, h) for h in range(8)]

    def v(s):  # head (0, 0) carries everything; without it the model is at chance
        return 1.0 + 0.001 * len(s) if (0, 0) in s else 0.0

    exact = exact_shapley(players, v)
    full = shapley_values(players, v, samples=400, seed=0, max_permutations=20)
    cut = shapley_values(players, v, samples=400, seed=0, max_permutations=20, truncation=0.01)
    assert cut.truncated > 0 and full.truncated == 0
    assert cut.evaluations < full.evaluations
    assert cut.values[(0, 0)] == pytest.approx(exact[(0, 0)], abs=0.01)
    assert cut.removal_order()[-1] == (0, 0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="cannot complete one"):
        shapley_values(PLAYERS, additive, samples=len(PLAYERS))
    with pytest.raises(ValueError, match="antithetic pair"):  # a pair needs 2n, not n + 1
        shapley_values(PLAYERS, additive, samples=2 * len(PLAYERS) - 1)
    paired = shapley_values(PLAYERS, additive, samples=2 * len(PLAYERS))
    assert paired.permutations == 2 and any(v != 0 for v in paired.values.values())
    one_walk = shapley_values(PLAYERS, additive, samples=len(PLAYERS) + 1, antithetic=False)
    assert one_walk.permutations == 1
    with pytest.raises(ValueError, match="duplicates"):
        shapley_values([(0, 0), (0, 0)], additive, samples=10)
    with pytest.raises(ValueError, match=">= 0"):
        shapley_values(PLAYERS, additive, samples=100, truncation=-1)
    with pytest.raises(ValueError, match="at least one"):
        shapley_values([], additive, samples=100)


def test_result_matrix_and_orders():
    res = shapley_values(PLAYERS, additive, samples=100, tolerance=1e-9)
    m = res.matrix((3, 4))
    assert m.dtype == torch.float64 and m.shape == (3, 4)
    assert m[0, 0] == pytest.approx(0.5) and m[2, 0] == 0.0  # not a candidate: fill
    assert res.removal_order()[0] == (0, 1) and res.harmful() == [(0, 1)]
    assert rank_heads(res.matrix((3, 4), fill=-1e9))[:7] == [
        (0, 2), (0, 3), (1, 2), (1, 3), (2, 0), (2, 1), (2, 2)
    ]  # fmt: skip


# --- on a real (tiny) model -------------------------------------------------------------------

PLANTED = (1, 2)


def _fixed_batch(seed=0, batch=8, tokens=10):
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, VOCAB, (batch, tokens), generator=gen)
    mask = torch.ones(batch, tokens, dtype=torch.long)
    mask[0, -3:] = 0
    labels = (ids % LABELS).roll(1, dims=1)  # the previous token's class: context matters
    labels[:, 0] = ids[:, 0] % LABELS
    labels[mask == 0] = -100
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _trained_with_planted_head():
    """A tiny tagger fitted to one batch, then one head turned adversarial."""
    model, b = make_model("bert", "eager", seed=0), _fixed_batch()
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    torch.manual_seed(0)
    for _ in range(100):
        loss = model(**b).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    assert token_accuracy([b])(model) > 0.9  # it fits the batch before the plant
    layer, head = PLANTED
    la = attention_layers(model)[layer]
    with torch.no_grad():
        cols = slice(head * la.head_dim, (head + 1) * la.head_dim)
        la.output.weight[:, cols] *= -8.0
    return model, b


def test_planted_harmful_head_is_found():
    model, b = _trained_with_planted_head()
    value = masked_value(model, negative_loss([b]))
    players = [(layer, head) for layer in range(LAYERS) for head in range(HEADS)]
    on = frozenset(players)
    assert value(on - {PLANTED}) > value(on)  # the plant: switching the head off helps
    res = shapley_values(players, value, samples=150, seed=0, truncation=0.1)
    assert res.removal_order()[0] == PLANTED
    assert res.values[PLANTED] < 0 and res.harmful()[0] == PLANTED
    assert res.evaluations <= 150 and res.permutations >= 10
    assert rank_heads(res.matrix((LAYERS, HEADS)))[0] == PLANTED


def test_masked_value_gates_and_restores(tiny, batch):
    model, b = tiny().train(), batch()
    value = masked_value(model, token_accuracy([b]))
    everyone = frozenset((layer, head) for layer in range(LAYERS) for head in range(HEADS))
    with torch.no_grad():
        plain = model.eval()(**b).logits
    model.train()
    acc = value(everyone)
    keep = b["labels"] != -100
    assert acc == pytest.approx((plain.argmax(-1)[keep] == b["labels"][keep]).float().mean())
    assert model.training and attached_gates(model) is None
    # only layer 0 on == every other head masked by hand
    layer0 = frozenset(h for h in everyone if h[0] == 0)
    mask = torch.ones(LAYERS, HEADS)
    mask[1:] = 0.0
    with attach_gates(model, mask), torch.no_grad():
        ref = -model.eval()(**b).loss.item()
    model.train()
    assert masked_value(model, negative_loss([b]))(layer0) == pytest.approx(ref)
    # candidates only: non-candidates stay on; attached gates are reused and restored
    gates = torch.ones(LAYERS, HEADS)
    with attach_gates(model, gates) as handle:
        sub = masked_value(model, negative_loss([b]), heads=[(1, 0), (2, 0)])
        got = sub(frozenset({(2, 0)}))
        assert handle.gates is gates and torch.equal(gates, torch.ones(LAYERS, HEADS))
    mask = torch.ones(LAYERS, HEADS)
    mask[1, 0] = 0.0
    with attach_gates(model, mask), torch.no_grad():
        assert got == pytest.approx(-model.eval()(**b).loss.item())


def test_masked_value_on_a_pruned_model(tiny, batch):
    model, b = tiny(), batch()
    prune_heads(model, [(0, 0), (2, 3)])
    players = [(layer, head) for layer in range(LAYERS) for head in range(HEADS)]
    players = [h for h in players if h not in {(0, 0), (2, 3)}]
    value = masked_value(model, negative_loss([b]))
    res = shapley_values(players, value, samples=60)
    assert res.evaluations <= 60 and set(res.values) == set(players)
    m = res.matrix((LAYERS, HEADS))
    assert m[0, 0] == 0.0 and m[2, 3] == 0.0
    # the game is the pruned model's: every remaining head against none of them, and the
    # values add up to the difference (efficiency), whatever permutations were drawn
    with torch.no_grad():
        full = -model.eval()(**b).loss.item()
    assert res.full_value == pytest.approx(full) and value(frozenset(players)) == pytest.approx(
        full
    )
    assert res.empty_value == pytest.approx(value(frozenset()))
    assert res.full_value != pytest.approx(res.empty_value)
    assert m.sum().item() == pytest.approx(res.full_value - res.empty_value, abs=1e-9)
