"""Head importance scores, their normalisation and the ranking built from them.

Scores are (layers, heads) tensors in ORIGINAL head indexing; heads already removed score 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import contextmanager

import torch
from torch import nn

from xlprune.heads.gates import attach_gates, attached_gates
from xlprune.heads.structure import attention_layers, head_grid


def _prepare(batch: Mapping, device: torch.device) -> dict:
    """Move tensors to the model's device; clone inference tensors so autograd may save them."""
    out = {}
    for k, v in batch.items():
        if isinstance(v, torch.Tensor):
            v = v.to(device)
            if v.is_inference():
                v = v.clone()
        out[k] = v
    return out


@contextmanager
def _grad_pass(model: nn.Module):
    """Eval mode (no dropout noise in the scores) with autograd on, whatever the caller's mode."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(False), torch.enable_grad():
            yield next(model.parameters()).device
    finally:
        model.train(was_training)


@contextmanager
def _probe_gates(model: nn.Module, probe: torch.Tensor):
    """Route the model's gating through ``probe``, reusing an attached handle if there is one."""
    handle = attached_gates(model)
    if handle is None:
        with attach_gates(model, probe):
            yield
        return
    saved = handle.gates
    handle.gates = probe
    try:
        yield
    finally:
        handle.gates = saved


def gate_importance(
    model: nn.Module, batches: Iterable[Mapping], gates: torch.Tensor | None = None
) -> torch.Tensor:
    """I[l, h] = sum over batches of |d loss / d gate[l, h]| (Ma et al. 2021, Michel et al. 2019).

    Gradients are taken at ``gates`` (default: the attached gates, else all ones) with
    ``torch.autograd.grad`` on the gates only: no parameter ``.grad`` is touched and weight
    gradients are never computed, so this is cheaper than a training backward. Each batch is a
    mapping of model inputs including ``labels``; ``model(**batch).loss`` is differentiated.
    """
    if gates is None:
        handle = attached_gates(model)
        gates = handle.gates if handle is not None else None
    with _grad_pass(model) as device:
        if gates is None:
            probe = torch.ones(
                head_grid(model), dtype=next(model.parameters()).dtype, device=device
            )
        else:
            probe = gates.detach().clone()  # a clone made here is never an inference tensor
        probe.requires_grad_(True)
        total = torch.zeros_like(probe, requires_grad=False)
        with _probe_gates(model, probe):
            for batch in batches:
                loss = model(**_prepare(batch, device)).loss
                (grad,) = torch.autograd.grad(loss, probe, allow_unused=True)
                if grad is not None:
                    total += grad.abs()
    return total


def textpruner_importance(model: nn.Module, batches: Iterable[Mapping]) -> torch.Tensor:
    """TextPruner's score: |sum of W * dL/dW| over each head's columns of the output projection.

    Summed over batches; only the output-projection weight gradients are computed.
    """
    layers = attention_layers(model)
    live = [la for la in layers if la.num_heads > 0]
    p = next(model.parameters())
    scores = torch.zeros(head_grid(model), dtype=p.dtype, device=p.device)
    with _grad_pass(model) as device:
        weights = [la.output.weight for la in live]
        for batch in batches:
            loss = model(**_prepare(batch, device)).loss
            grads = torch.autograd.grad(loss, weights, allow_unused=True)
            for la, w, g in zip(live, weights, grads, strict=True):
                if g is None:
                    continue
                per_head = (w.detach() * g).reshape(w.shape[0], la.num_heads, la.head_dim)
                idx = torch.tensor(la.kept_heads, device=scores.device)
                scores[la.index, idx] += per_head.sum(dim=(0, 2)).abs()
    return scores


def normalise(scores: torch.Tensor, per_layer: bool = True) -> torch.Tensor:
    """Divide each layer's row by its L2 norm, then min-max all heads to [0, 1] (the paper).

    A zero row stays zero; constant scores map to all zeros (no head is preferred).
    """
    s = scores.detach().to(torch.float64)
    if per_layer:
        norm = s.norm(dim=1, keepdim=True)
        s = s / torch.where(norm > 0, norm, torch.ones_like(norm))
    lo, hi = s.min(), s.max()
    if hi <= lo:
        return torch.zeros_like(s)
    return (s - lo) / (hi - lo)


def rank_heads(scores: torch.Tensor, descending: bool = False) -> list[tuple[int, int]]:
    """All heads as (layer, head), least important first (``descending``: most important first).

    The ranking is global over layers. Ties are broken by (layer, head) ascending in both
    directions, so a ranking is a pure function of the scores. ``descending=True`` is the
    paper's "max" control (remove the most important heads first); random scores give the
    "random" control.
    """
    rows = scores.detach().cpu().tolist()
    sign = -1.0 if descending else 1.0
    heads = [
        (sign * v, layer, head) for layer, row in enumerate(rows) for head, v in enumerate(row)
    ]
    return [(layer, head) for _, layer, head in sorted(heads)]


def random_scores(shape: tuple[int, int], seed: int) -> torch.Tensor:
    """Uniform scores from a private generator: the same seed gives the same ranking anywhere."""
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=gen, dtype=torch.float64)
