"""Michel et al. 2019, section 4: iterative pruning by gate importance, as a head ranking.

Instead of ranking every head once, importance is re-estimated under the current mask after
each removal step, so a head that only looks unimportant because another head covers for it
is not removed together with that other head.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from xlprune.heads.importance import GRANULARITIES, gate_importance
from xlprune.heads.structure import attention_layers, head_grid

Batches = Iterable[Mapping] | Callable[[], Iterable[Mapping]]


@dataclass
class IterativeOrder:
    """The result of ``iterative_order``.

    ``order``: every head of the grid as (layer, head), first removed first.
    ``ranks``: (layers, heads) float64, each head's position in ``order``, so
    ``rank_heads(ranks) == order``. ``already_removed``: the heads physically removed before
    the call (sorted; they lead ``order``). ``rounds``: the heads removed in each round,
    lowest first. ``passes``: importance passes over ``batches``, one per round except a
    last round with a single head left (nothing to choose): ``passes == len(rounds) - 1``
    unless the last round took several heads.
    """

    order: list[tuple[int, int]]
    ranks: torch.Tensor
    already_removed: list[tuple[int, int]] = field(default_factory=list)
    rounds: list[list[tuple[int, int]]] = field(default_factory=list)
    passes: int = 0


def _batch_source(batches: Batches) -> Callable[[], Iterable[Mapping]]:
    if callable(batches):
        return batches
    if iter(batches) is batches:
        raise TypeError(
            "iterative_order reads the batches once per round: pass a re-iterable (a list, a "
            "DataLoader) or a callable returning a fresh iterable, not an iterator/generator"
        )
    return lambda: batches


def _normalise_remaining(scores: torch.Tensor, remaining: torch.Tensor) -> torch.Tensor:
    """``heads.normalise`` over the remaining heads only: removed heads are left out of each
    layer's L2 norm and of the min-max; they get 0 (and are never picked again anyway)."""
    s = scores.detach().to(torch.float64) * remaining
    norm = s.norm(dim=1, keepdim=True)
    s = s / torch.where(norm > 0, norm, torch.ones_like(norm))
    live = s[remaining.bool()]
    lo, hi = live.min(), live.max()
    if hi <= lo:
        return torch.zeros_like(s)
    return ((s - lo) / (hi - lo)) * remaining


def round_size(remaining: int, step: float) -> int:
    """Heads one round removes: `step` of the remaining ones, at least one."""
    return min(remaining, max(1, round(step * remaining)))


def importance_passes(heads: int, step: float) -> int:
    """Importance passes `iterative_order` makes over `heads` unremoved heads: one per
    round but a last round with a single head left (nothing to choose)."""
    passes = 0
    while heads > 0:
        passes += heads > 1
        heads -= round_size(heads, step)
    return passes


def iterative_order(
    model: nn.Module,
    batches: Batches,
    step: float = 0.1,
    granularity: str = "sentence",
    normalise_scores: bool = True,
) -> IterativeOrder:
    """Michel et al.'s iterative pruning (section 4) run to the end, as a removal order.

    Start with every gate at 1. Each round: importance of every head at the current mask
    (``gate_importance(model, batches, gates=mask, granularity=granularity)``), optionally
    normalised as ``heads.normalise`` does but over the REMAINING heads only (removed heads
    neither enter a layer's L2 norm nor the min-max); then the ``max(1, round(step *
    remaining))`` lowest remaining heads (ties by (layer, head)) have their gate set to 0 and
    are appended to the order, lowest first. Repeat until every head is in the order; a
    round with one head left needs no pass. Heads already physically removed (they score 0)
    come first, in (layer, head) order.

    ``batches``: read once per round, so a re-iterable (list, DataLoader) or a zero-argument
    callable returning a fresh iterable; a one-shot iterator raises TypeError. ``step`` in
    (0, 1) is the fraction of the remaining heads removed per round (Michel et al.: 0.1).
    Attached gates are replaced by the mask during the passes and restored afterwards. The
    caller's train/eval mode is restored; no parameter ``.grad`` is touched.
    """
    if not 0 < step < 1:
        raise ValueError(f"step must be in (0, 1), the fraction removed per round; got {step}")
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
    source = _batch_source(batches)
    n_layers, n_heads = head_grid(model)
    p = next(model.parameters())
    mask = torch.ones(n_layers, n_heads, dtype=p.dtype, device=p.device)
    remaining = torch.ones(n_layers, n_heads, dtype=torch.float64)
    gone = [
        (la.index, h)
        for la in attention_layers(model)
        for h in range(n_heads)
        if h not in la.kept_heads
    ]
    result = IterativeOrder(
        order=[], ranks=torch.zeros(n_layers, n_heads, dtype=torch.float64), already_removed=gone
    )
    for layer, head in gone:
        mask[layer, head] = 0.0
        remaining[layer, head] = 0.0
    result.order.extend(gone)
    while (left := int(remaining.sum().item())) > 0:
        take = round_size(left, step)
        if left == 1:
            scores = torch.zeros_like(remaining)
        else:
            raw = gate_importance(model, source(), gates=mask, granularity=granularity)
            result.passes += 1
            raw = raw.detach().to(torch.float64).cpu()
            scores = _normalise_remaining(raw, remaining) if normalise_scores else raw
        candidates = sorted(
            (float(scores[layer, head]), layer, head)
            for layer in range(n_layers)
            for head in range(n_heads)
            if remaining[layer, head] > 0
        )
        picked = [(layer, head) for _, layer, head in candidates[:take]]
        for layer, head in picked:
            mask[layer, head] = 0.0
            remaining[layer, head] = 0.0
        result.rounds.append(picked)
        result.order.extend(picked)
    for position, (layer, head) in enumerate(result.order):
        result.ranks[layer, head] = float(position)
    return result
