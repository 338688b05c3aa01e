import pytest
import torch

from xlprune.heads import attach_gates, attached_gates, attention_layers


def _logits(model, b):
    with torch.no_grad():
        return model(**b).logits


def test_all_ones_gates_leave_logits_unchanged(tiny, batch, arch, attn):
    model, b = tiny(arch, attn), batch()
    ref = _logits(model, b)
    with attach_gates(model) as handle:
        assert attached_gates(model) is handle
        gated = _logits(model, b)
    assert attached_gates(model) is None
    assert torch.equal(ref, gated)
    assert torch.equal(ref, _logits(model, b))  # hooks removed


def test_zero_gate_changes_logits_and_edits_are_live(tiny, batch):
    model, b = tiny(), batch()
    gates = torch.ones(3, 4)
    with attach_gates(model, gates):
        ref = _logits(model, b)
        gates[1, 2] = 0.0  # in-place edit is seen by the next forward
        assert not torch.allclose(ref, _logits(model, b))


def test_second_attach_and_bad_shape_raise(tiny):
    model = tiny()
    with pytest.raises(ValueError, match="shape"):
        attach_gates(model, torch.ones(3, 5))
    with attach_gates(model), pytest.raises(RuntimeError, match="already"):
        attach_gates(model)


def test_gate_gradient_matches_finite_differences(tiny, batch, arch, attn):
    model, b = tiny(arch, attn, dtype=torch.float64), batch()
    point = torch.rand(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    gates = point.clone().requires_grad_(True)
    with attach_gates(model, gates) as handle:
        (grad,) = torch.autograd.grad(model(**b).loss, gates)
        eps = 1e-6
        fd = torch.zeros_like(point)
        with torch.no_grad():
            for layer in range(3):
                for head in range(4):
                    losses = []
                    for sign in (1, -1):
                        handle.gates = point.clone()
                        handle.gates[layer, head] += sign * eps
                        losses.append(model(**b).loss)
                    fd[layer, head] = (losses[0] - losses[1]) / (2 * eps)
    rel = (grad - fd).norm() / fd.norm()
    assert rel < 1e-4, rel
    assert (grad - fd).abs().max() <= 1e-4 * fd.abs().max()


def test_gate_gradient_matches_output_projection_formula(tiny, batch, arch, attn):
    """dL/dgate[l,h] = sum over batch, tokens of <dL/d(dense input)_h, context_h>."""
    model, b = tiny(arch, attn, dtype=torch.float64), batch()
    layers = attention_layers(model)
    captured = {}

    def capture(layer):
        def hook(module, args):
            x = args[0]
            x.retain_grad()
            captured[layer] = x

        return hook

    gates = torch.ones(3, 4, dtype=torch.float64, requires_grad=True)
    with attach_gates(model, gates):
        # registered after the gate hook, so it sees the gated input (gates are 1: same values)
        hooks = [la.output.register_forward_pre_hook(capture(la.index)) for la in layers]
        loss = model(**b).loss
        loss.backward()
        for h in hooks:
            h.remove()
    for la in layers:
        x = captured[la.index]
        ctx = x.detach().reshape(*x.shape[:-1], 4, 8)
        dx = x.grad.reshape(*x.shape[:-1], 4, 8)
        expected = (ctx * dx).sum(dim=(0, 1, 3))
        torch.testing.assert_close(gates.grad[la.index], expected, rtol=1e-10, atol=1e-12)
