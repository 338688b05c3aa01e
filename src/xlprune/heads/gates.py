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


class GateHandle:
    """Live link between a model and a gate tensor of shape (layers, heads).

    ``gates`` is read at every forward, so it may be swapped (``handle.gates = t``) or
    edited in place; it always uses the ORIGINAL head indexing, also after pruning.
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
            g = self.gates[layer]
            kept = getattr(module, KEPT_HEADS_ATTR, None)
            if kept is not None and len(kept) != g.shape[0]:
                if not kept:  # every head removed: nothing left to gate
                    return None
                g = g[torch.tensor(kept, device=g.device)]
            x = args[0]
            n = g.shape[0]
            shape = x.shape
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
    """Gate every head of ``model`` by ``gates`` (default: ones, i.e. a no-op).

    One gate set per model: a second set would multiply with the first and silently change
    what a gate gradient means, so that raises. The caller owns ``gates`` (e.g. a buffer of a
    LightningModule, possibly with ``requires_grad``); it must be on the model's device.
    """
    if attached_gates(model) is not None:
        raise RuntimeError("gates are already attached to this model; remove() them first")
    grid = head_grid(model)
    if gates is None:
        p = next(model.parameters())
        gates = torch.ones(grid, dtype=p.dtype, device=p.device)
    if tuple(gates.shape) != grid:
        raise ValueError(f"gates must have shape {grid} (layers, heads), got {tuple(gates.shape)}")
    return GateHandle(model, gates)


def attached_gates(model: nn.Module) -> GateHandle | None:
    """The handle currently gating ``model``, if any."""
    return getattr(model, _HANDLE_ATTR, None)
