import copy
import json

import pytest
import torch

from xlprune.heads import (
    EmptySelfAttention,
    attach_gates,
    attached_gates,
    attention_layers,
    format_heads,
    load_pruned,
    parse_heads,
    prune_heads,
    pruned_heads,
    save_pruned,
)

# layer 1 loses every head; layers 0 and 2 lose some
REMOVE = [(0, 1), (0, 3), (1, 0), (1, 1), (1, 2), (1, 3), (2, 2)]


def _logits(model, b):
    with torch.no_grad():
        return model(**b).logits


def _masked_logits(model, b, heads):
    gates = torch.ones(3, 4)
    for layer, head in heads:
        gates[layer, head] = 0.0
    with attach_gates(model, gates):
        return _logits(model, b)


def test_removal_equals_masking(tiny, batch, arch, attn):
    model, b = tiny(arch, attn), batch()
    masked = _masked_logits(model, b, REMOVE)
    pruned = prune_heads(copy.deepcopy(model), REMOVE)
    torch.testing.assert_close(_logits(pruned, b), masked, rtol=0, atol=1e-5)
    layers = attention_layers(pruned)
    assert [la.kept_heads for la in layers] == [(0, 2), (), (0, 1, 3)]
    assert [la.num_heads for la in layers] == [2, 0, 3]
    assert isinstance(layers[1].attention, EmptySelfAttention)
    assert layers[0].query.weight.shape == (16, 32) and layers[0].output.weight.shape == (32, 16)
    assert layers[0].attention.all_head_size == 16
    assert pruned_heads(pruned) == sorted(REMOVE)


def test_removal_in_two_calls(tiny, batch, arch, attn):
    model, b = tiny(arch, attn), batch()
    masked = _masked_logits(model, b, REMOVE)
    pruned = copy.deepcopy(model)
    prune_heads(pruned, REMOVE[:3] + [(2, 2)])
    prune_heads(pruned, REMOVE[2:] + [(0, 1)])  # overlaps the first call: ignored
    torch.testing.assert_close(_logits(pruned, b), masked, rtol=0, atol=1e-5)
    assert pruned_heads(pruned) == sorted(REMOVE)


def test_gates_after_pruning(tiny, batch, attn):
    """Masking a remaining head of a pruned model == removing it too."""
    model, b = tiny("bert", attn), batch()
    prune_heads(model, REMOVE)
    gates = torch.ones(3, 4)
    with attach_gates(model, gates):
        assert torch.equal(_logits(model, b), _logits_nogates(model, b))
        gates[2, 3] = 0.0
        gates[1, 0] = 0.5  # a removed head's gate is irrelevant
        masked = _logits(model, b)
    further = prune_heads(copy.deepcopy(model), [(2, 3)])
    torch.testing.assert_close(_logits(further, b), masked, rtol=0, atol=1e-5)


def _logits_nogates(model, b):
    handle = attached_gates(model)
    saved = handle.gates
    handle.gates = torch.ones(3, 4)
    try:
        return _logits(model, b)
    finally:
        handle.gates = saved


def test_gates_attached_before_pruning_survive(tiny, batch):
    model, b = tiny(), batch()
    gates = torch.ones(3, 4)
    with attach_gates(model, gates):
        prune_heads(model, REMOVE)
        gates[0, 2] = 0.0
        masked = _logits(model, b)
    assert not torch.allclose(masked, _logits(model, b))
    further = prune_heads(copy.deepcopy(model), [(0, 2)])
    torch.testing.assert_close(_logits(further, b), masked, rtol=0, atol=1e-5)


def test_pruned_model_trains(tiny, batch):
    model = prune_heads(tiny(), REMOVE).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for s in range(2):
        loss = model(**batch(seed=s)).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    assert torch.isfinite(loss)


def test_save_load_roundtrip(tiny, batch, arch, attn, tmp_path):
    model, b = tiny(arch, attn), batch()
    prune_heads(model, REMOVE)
    out = save_pruned(model, tmp_path / "m")
    assert json.loads((out / "pruned_heads.json").read_text())["pruned_heads"] == [
        list(h) for h in sorted(REMOVE)
    ]
    assert not list(out.glob("*.bin")) and not list(out.glob("*.pt"))
    loaded = load_pruned(out, attn_implementation=attn)
    assert type(loaded) is type(model)
    assert loaded.config._attn_implementation == attn
    assert torch.equal(_logits(loaded, b), _logits(model, b))


def test_parse_heads():
    assert parse_heads("0:1,3 5:2") == [(0, 1), (0, 3), (5, 2)]
    assert parse_heads("  0:1,1\n0:1  ") == [(0, 1)]
    assert parse_heads("") == []
    assert parse_heads("11:11", grid=(12, 12)) == [(11, 11)]
    assert format_heads(parse_heads("0:1,3 5:2")) == "0:1,3 5:2"


@pytest.mark.parametrize("bad", ["0", "0:", ":1", "a:1", "0:1,", "0:-1", "0:1;2", "0,1:2"])
def test_parse_heads_malformed(bad):
    with pytest.raises(ValueError, match="malformed head group"):
        parse_heads(bad)


def test_parse_heads_out_of_range():
    with pytest.raises(ValueError, match=r"12:0 .*12 layers x 12 heads"):
        parse_heads("12:0", grid=(12, 12))
    with pytest.raises(ValueError, match="out of range"):
        parse_heads("0:12", grid=(12, 12))


def test_prune_heads_out_of_range(tiny):
    with pytest.raises(ValueError, match="outside"):
        prune_heads(tiny(), [(0, 4)])
