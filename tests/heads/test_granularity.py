"""gate_importance(granularity=...): sentence and token gradients from one backward per batch."""

import copy

import pytest
import torch

from xlprune.heads import (
    GRANULARITIES,
    attach_gates,
    attached_gates,
    attention_layers,
    gate_importance,
    prune_heads,
    sentence_losses,
)

from .conftest import HEADS, LAYERS


def _padded_batches(batch, n=2, size=4, tokens=9):
    """Batches with uneven padding (and one sentence without any label) so masks matter."""
    out = []
    for s in range(n):
        b = batch(seed=s, batch=size, tokens=tokens)
        b["attention_mask"][1, -4:] = 0
        b["attention_mask"][size - 1, -1:] = 0
        b["labels"][b["attention_mask"] == 0] = -100
        b["labels"][1, 1::2] = -100  # some unlabelled sub-tokens
        out.append(b)
    out[0]["labels"][2] = -100  # a sentence with no labelled token contributes nothing
    return out


def _one_sentence_batches(batches):
    """Each sentence alone (unlabelled sentences dropped: their batch loss is 0/0)."""
    return [
        {k: v[i : i + 1] for k, v in b.items()}
        for b in batches
        for i in range(b["labels"].shape[0])
        if (b["labels"][i] != -100).any()
    ]


def _assert_rel(got, ref, rel=1e-6):
    err = ((got - ref).abs().max() / ref.abs().max()).item()
    assert err < rel, err


def test_sentence_equals_batch_of_single_sentences(tiny, batch, arch, attn):
    model = tiny(arch, attn, dtype=torch.float64)
    batches = _padded_batches(batch)
    got = gate_importance(model, batches, granularity="sentence")
    ref = gate_importance(model, _one_sentence_batches(batches))
    _assert_rel(got, ref)
    assert got.shape == (LAYERS, HEADS) and not got.requires_grad


def test_sentence_after_pruning_and_at_a_mask(tiny, batch, arch, attn):
    model = tiny(arch, attn, dtype=torch.float64)
    prune_heads(model, [(0, 1), (1, 0), (1, 1), (1, 2), (1, 3), (2, 2)])
    batches = _padded_batches(batch)
    point = torch.ones(LAYERS, HEADS, dtype=torch.float64)
    point[0, 2] = 0.0
    point[2, 0] = 0.5
    got = gate_importance(model, batches, gates=point, granularity="sentence")
    ref = gate_importance(model, _one_sentence_batches(batches), gates=point)
    _assert_rel(got, ref)
    assert torch.all(got[1] == 0) and got[0, 1] == 0 and got[2, 2] == 0
    # attached gates are the default point, and are left as they were
    with attach_gates(model, point.clone()) as handle:
        via_handle = gate_importance(model, batches, granularity="sentence")
        assert handle.gates.shape == (LAYERS, HEADS) and torch.equal(handle.gates, point)
    torch.testing.assert_close(via_handle, got, rtol=0, atol=0)
    assert attached_gates(model) is None


def _token_reference(model, batches):
    """For each sentence alone and each position alone: ones except a probe at position t."""
    total = torch.zeros(LAYERS, HEADS, dtype=torch.float64)
    with attach_gates(model) as handle:
        for b in batches:
            for i in range(b["labels"].shape[0]):
                one = {k: v[i : i + 1] for k, v in b.items()}
                if not (one["labels"] != -100).any():
                    continue
                for t in range(one["input_ids"].shape[1]):
                    if one["attention_mask"][0, t] == 0:
                        continue
                    probe = torch.ones(LAYERS, HEADS, dtype=torch.float64, requires_grad=True)
                    gates = torch.ones(1, one["input_ids"].shape[1], LAYERS, HEADS).double()
                    gates = torch.cat([gates[:, :t], probe[None, None], gates[:, t + 1 :]], 1)
                    handle.gates = gates
                    loss = model(**one).loss
                    (g,) = torch.autograd.grad(loss, probe)
                    total += g.abs()
    return total


def _token_formula(model, batches):
    """Independent of per-token gates: sum_t |<dL_b/dctx[b,t,h], ctx[b,t,h]>|, from the
    output projection's input captured at (layers, heads) gates of ones."""
    total = torch.zeros(LAYERS, HEADS, dtype=torch.float64)
    captured = {}

    def capture(layer):
        def hook(module, args):
            args[0].retain_grad()
            captured[layer] = args[0]

        return hook

    layers = attention_layers(model)
    hooks = [la.output.register_forward_pre_hook(capture(la.index)) for la in layers]
    try:
        for b in batches:
            for i in range(b["labels"].shape[0]):
                one = {k: v[i : i + 1] for k, v in b.items()}
                if not (one["labels"] != -100).any():
                    continue
                model(**one).loss.backward()
                keep = one["attention_mask"][0].bool()
                for la in layers:
                    x = captured[la.index]
                    ctx = x.detach().reshape(*x.shape[:-1], HEADS, -1)[0, keep]
                    dx = x.grad.reshape(*x.shape[:-1], HEADS, -1)[0, keep]
                    total[la.index] += (ctx * dx).sum(-1).abs().sum(0)
    finally:
        for h in hooks:
            h.remove()
        model.zero_grad(set_to_none=True)
    return total


def test_token_equals_per_position_loop(tiny, batch, arch):
    model = tiny(arch, "eager", dtype=torch.float64)
    batches = _padded_batches(batch, n=1, size=3, tokens=6)
    got = gate_importance(model, batches, granularity="token")
    _assert_rel(got, _token_reference(model, batches))
    _assert_rel(got, _token_formula(model, batches))
    sentence = gate_importance(model, batches, granularity="sentence")
    assert torch.all(got >= sentence - 1e-12)  # triangle inequality


def test_token_after_pruning_sdpa(tiny, batch):
    model = tiny("xlmr", "sdpa", dtype=torch.float64)
    prune_heads(model, [(0, 0), (2, 1), (2, 3)])
    batches = _padded_batches(batch, n=1, size=3, tokens=6)
    got = gate_importance(model, batches, granularity="token")
    _assert_rel(got, _token_reference(model, batches))
    assert got[0, 0] == 0 and got[2, 1] == 0 and got[2, 3] == 0


def test_batch_granularity_unchanged(tiny, batch):
    model = tiny(dtype=torch.float64)
    batches = _padded_batches(batch)
    expected = torch.zeros(LAYERS, HEADS, dtype=torch.float64)
    for b in batches:
        gates = torch.ones(LAYERS, HEADS, dtype=torch.float64, requires_grad=True)
        with attach_gates(model, gates):
            (g,) = torch.autograd.grad(model(**b).loss, gates)
        expected += g.abs()
    assert torch.equal(gate_importance(model, batches, granularity="batch"), expected)
    assert torch.equal(gate_importance(model, batches), expected)


@pytest.mark.parametrize("granularity", GRANULARITIES)
def test_no_parameter_grads_and_mode_restored(tiny, batch, granularity):
    model = tiny().train()
    scores = gate_importance(model, _padded_batches(batch), granularity=granularity)
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    assert torch.isfinite(scores).all() and torch.all(scores > 0)
    model.eval()
    with torch.inference_mode():  # inference-mode batches and caller
        again = gate_importance(model, _padded_batches(batch), granularity=granularity)
    assert not model.training
    torch.testing.assert_close(again, scores)


def test_last_batch_smaller_and_all_heads_pruned(tiny, batch):
    model = tiny(dtype=torch.float64)
    batches = [batch(seed=0, batch=4), batch(seed=1, batch=1)]
    got = gate_importance(model, batches, granularity="sentence")
    _assert_rel(got, gate_importance(model, _one_sentence_batches(batches)))
    gone = prune_heads(copy.deepcopy(model), [(la, h) for la in range(LAYERS) for h in range(4)])
    for granularity in GRANULARITIES:
        assert torch.all(gate_importance(gone, batches, granularity=granularity) == 0)


def test_bad_granularity_raises(tiny, batch):
    with pytest.raises(ValueError, match=r"sentence.*batch.*token"):
        gate_importance(tiny(), [batch()], granularity="word")
    assert GRANULARITIES == ("sentence", "batch", "token")


def test_per_sentence_gates_shape_checked(tiny, batch):
    model, b = tiny(), batch(batch=3)
    with (
        attach_gates(model, torch.ones(2, LAYERS, HEADS)),
        pytest.raises(ValueError, match="batch"),
    ):
        model(**b)
    with pytest.raises(ValueError, match="shape"):
        attach_gates(model, torch.ones(1, 1, 1, LAYERS, HEADS))


def test_per_sentence_gates_act_per_sentence(tiny, batch, arch, attn):
    """Zeroing sentence 1's gate of a head == masking that head for sentence 1 only."""
    model, b = tiny(arch, attn), batch(batch=3)
    gates = torch.ones(3, LAYERS, HEADS)
    gates[1, 0, 2] = 0.0
    mask = torch.ones(LAYERS, HEADS)
    mask[0, 2] = 0.0
    with torch.no_grad():
        with attach_gates(model, gates):
            per_sentence = model(**b).logits
        with attach_gates(model, mask):
            masked = model(**b).logits
        plain = model(**b).logits
    torch.testing.assert_close(per_sentence[1], masked[1], rtol=0, atol=1e-6)
    torch.testing.assert_close(per_sentence[[0, 2]], plain[[0, 2]], rtol=0, atol=1e-6)


def test_sentence_losses_matches_model_loss(tiny, batch):
    model, b = tiny(dtype=torch.float64), batch(batch=1)
    with torch.no_grad():
        out = model(**b)
        torch.testing.assert_close(sentence_losses(out.logits, b["labels"])[0], out.loss)
        labels = torch.full_like(b["labels"], -100)
        assert sentence_losses(out.logits, labels).tolist() == [0.0]
