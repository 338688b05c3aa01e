import torch

from xlprune.heads import (
    attach_gates,
    attention_layers,
    gate_importance,
    normalise,
    prune_heads,
    random_scores,
    rank_heads,
    textpruner_importance,
)


def test_gate_importance_sums_abs_gradients(tiny, batch):
    model = tiny(dtype=torch.float64)
    batches = [batch(seed=s) for s in range(3)]
    expected = torch.zeros(3, 4, dtype=torch.float64)
    for b in batches:
        gates = torch.ones(3, 4, dtype=torch.float64, requires_grad=True)
        with attach_gates(model, gates):
            (g,) = torch.autograd.grad(model(**b).loss, gates)
        expected += g.abs()
    model.train()
    got = gate_importance(model, batches)
    assert model.training  # mode restored
    assert all(p.grad is None for p in model.parameters())  # no parameter update or grads
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)
    assert not got.requires_grad


def test_gate_importance_uses_attached_gates_without_double_gating(tiny, batch):
    model, b = tiny(dtype=torch.float64), batch()
    point = torch.ones(3, 4, dtype=torch.float64)
    point[0, 1] = 0.0
    explicit = gate_importance(model, [b], gates=point)
    with attach_gates(model, point.clone()) as handle:
        via_handle = gate_importance(model, [b])
        assert handle.gates is not None and not handle.gates.requires_grad
    torch.testing.assert_close(explicit, via_handle, rtol=0, atol=0)


def test_gate_importance_under_no_grad_and_inference_mode(tiny, batch):
    model, b = tiny(), batch()
    ref = gate_importance(model, [b])
    with torch.inference_mode():
        inf_batch = batch()
        got = gate_importance(model, [inf_batch])
    torch.testing.assert_close(got, ref)


def test_gate_importance_after_pruning_is_zero_for_removed(tiny, batch):
    model = tiny()
    prune_heads(model, [(0, 1), (2, 0), (2, 1), (2, 2), (2, 3)])
    scores = gate_importance(model, [batch()])
    assert scores[0, 1] == 0 and torch.all(scores[2] == 0)
    assert torch.all(scores[1] > 0)


def test_textpruner_importance_matches_manual(tiny, batch):
    model = tiny(dtype=torch.float64)
    batches = [batch(seed=s) for s in range(2)]
    layers = attention_layers(model)
    expected = torch.zeros(3, 4, dtype=torch.float64)
    for b in batches:
        model.zero_grad()
        model(**b).loss.backward()
        for la in layers:
            wg = (la.output.weight * la.output.weight.grad).reshape(32, 4, 8)
            expected[la.index] += wg.sum(dim=(0, 2)).abs()
    model.zero_grad(set_to_none=True)
    got = textpruner_importance(model, batches)
    torch.testing.assert_close(got, expected.detach(), rtol=1e-10, atol=1e-14)
    assert all(p.grad is None for p in model.parameters())


def test_normalise_hand_made():
    s = torch.tensor([[3.0, 4.0], [0.0, 2.0]])
    # rows / L2: [0.6, 0.8], [0, 1]; min-max over all: min 0, max 1
    torch.testing.assert_close(
        normalise(s), torch.tensor([[0.6, 0.8], [0.0, 1.0]], dtype=torch.float64)
    )
    # without per-layer step: plain min-max
    torch.testing.assert_close(
        normalise(s, per_layer=False), torch.tensor([[0.75, 1.0], [0.0, 0.5]], dtype=torch.float64)
    )
    # zero row guarded, constant guarded
    z = normalise(torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    assert torch.isfinite(z).all()
    torch.testing.assert_close(z, torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64))
    assert torch.equal(normalise(torch.full((2, 3), 5.0)), torch.zeros(2, 3, dtype=torch.float64))


def test_rank_heads_order_and_ties():
    s = torch.tensor([[0.5, 0.1, 0.9], [0.1, 0.7, 0.5]])
    assert rank_heads(s) == [(0, 1), (1, 0), (0, 0), (1, 2), (1, 1), (0, 2)]
    assert rank_heads(s, descending=True) == [(0, 2), (1, 1), (0, 0), (1, 2), (0, 1), (1, 0)]


def test_random_scores_seeded():
    a, b, c = random_scores((3, 4), 42), random_scores((3, 4), 42), random_scores((3, 4), 7)
    assert torch.equal(a, b)
    assert rank_heads(a) == rank_heads(b)
    assert rank_heads(a) != rank_heads(c)
    assert a.shape == (3, 4) and float(a.min()) >= 0 and float(a.max()) < 1
