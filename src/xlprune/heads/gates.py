"""Per-head multiplicative gates, the replacement for the removed ``head_mask``.

A forward pre-hook on each layer's attention output projection reshapes its input (the
concatenated per-head context) to (batch, tokens, heads, head_dim) and multiplies it by the
layer's gates. Acting on the context rather than on attention probabilities makes it
independent of the attention backend (sdpa, eager, ...), and d loss / d gate is exactly the
head-importance signal of Michel et al. 2019 / Ma et al. 2021.
"""

from __future__ import annotations

import torch
from torch import nn

from xlprune.heads.structure import KEPT_HEADS_ATTR, attention_layers, head_grid

_HANDLE_ATTR = "_xlprune_gate_handle"


def _check_leading(gate_dims: torch.Size, input_dims: torch.Size, layer: int) -> None:
    """Batch (and token) dimensions of per-sentence / per-token gates must match the input's."""
    if tuple(gate_dims) != tuple(input_dims[: len(gate_dims)]):
        raise ValueError(
            f"layer {layer}: gates with leading dimensions {tuple(gate_dims)} do not match "
            f"the attention context's (batch, tokens) = {tuple(input_dims)}"
        )


class GateHandle:
    """Live link between a model and a gate tensor in ORIGINAL head indexing.

    ``gates`` is read at every forward, so it may be swapped (``handle.gates = t``) or
    edited in place; it always uses the ORIGINAL head indexing, also after pruning. Its shape
    is one of

    - (layers, heads): one gate per head, shared by every sentence and position (the usual);
    - (batch, layers, heads): one gate per sentence of the next forward's batch;
    - (batch, tokens, layers, heads): one gate per sentence and position: ``g[b, t, l, h]``
      scales head h's context vector at position t of sentence b only.

    The leading dimensions must equal the next input's (batch, tokens); a mismatch raises.
    Usable as a context manager that removes the hooks on exit.
    """

    def __init__(self, model: nn.Module, gates: torch.Tensor):
        self.model = model
        self.gates = gates
        self._hooks = [
            la.output.register_forward_pre_hook(self._make_hook(la.index))
            for la in attention_layers(model)
        ]
        setattr(model, _HANDLE_ATTR, self)

    def _make_hook(self, layer: int):
        def hook(module: nn.Module, args: tuple) -> tuple | None:
            g = self.gates[..., layer, :]  # (heads,), (batch, heads) or (batch, tokens, heads)
            kept = getattr(module, KEPT_HEADS_ATTR, None)
            if kept is not None and len(kept) != g.shape[-1]:
                if not kept:  # every head removed: nothing left to gate
                    return None
                g = g[..., torch.tensor(kept, device=g.device)]
            x = args[0]
            n = g.shape[-1]
            shape = x.shape
            if g.dim() > 1:
                _check_leading(g.shape[:-1], shape[:-1], layer)
                if g.dim() == 2:  # per sentence: broadcast over tokens
                    g = g.unsqueeze(1)
            y = x.reshape(*shape[:-1], n, shape[-1] // n) * g.to(x.dtype).unsqueeze(-1)
            return (y.reshape(shape), *args[1:])

        return hook

    def remove(self) -> None:
        """Detach the hooks; idempotent."""
        for h in self._hooks:
            h.remove()
        self._hooks = []
        if getattr(self.model, _HANDLE_ATTR, None) is self:
            delattr(self.model, _HANDLE_ATTR)

    def __enter__(self) -> GateHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def attach_gates(model: nn.Module, gates: torch.Tensor | None = None) -> GateHandle:
    """Gate every head of ``model`` by ``gates`` (default: ones of shape (layers, heads)).

    ``gates`` may also be per sentence (batch, layers, heads) or per position (batch, tokens,
    layers, heads), see ``GateHandle``. One gate set per model: a second set would multiply
    with the first and silently change what a gate gradient means, so that raises. The caller
    owns ``gates`` (e.g. a buffer of a LightningModule, possibly with ``requires_grad``); it
    must be on the model's device.
    """
    if attached_gates(model) is not None:
        raise RuntimeError("gates are already attached to this model; remove() them first")
    grid = head_grid(model)
    if gates is None:
        p = next(model.parameters())
        gates = torch.ones(grid, dtype=p.dtype, device=p.device)
    if not (2 <= gates.dim() <= 4 and tuple(gates.shape[-2:]) == grid):
        raise ValueError(
            f"gates must have shape {grid} (layers, heads), optionally with leading (batch,) or "
            f"(batch, tokens) dimensions; got {tuple(gates.shape)}"
        )
    return GateHandle(model, gates)


def attached_gates(model: nn.Module) -> GateHandle | None:
    """The handle currently gating ``model``, if any."""
    return getattr(model, _HANDLE_ATTR, None)
