"""Shapley values of attention heads (Held & Yang 2022, "Shapley Head Pruning").

The game: the players are candidate heads, ``value(S)`` scores the model with only the heads
of S on (higher is better, e.g. dev F1 or minus the dev loss). A head's Shapley value is its
mean marginal contribution v(S + h) - v(S) over all orders; it is signed, and heads with a
negative value are those whose removal is expected to help (interference). Estimated by
truncated Monte Carlo permutation sampling (Ghorbani & Zou 2019, as Held & Yang do).

``shapley_values`` is a pure function of ``value``; ``masked_value`` builds ``value`` from a
model with the gates of ``xlprune.heads.gates``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from xlprune.heads.gates import attach_gates, attached_gates
from xlprune.heads.importance import on_device
from xlprune.heads.structure import head_grid

Head = tuple[int, int]
ValueFn = Callable[[frozenset], float]

#: Normal quantile of the two-sided 95% confidence bound used by the stopping rule.
Z95 = 1.96


@dataclass
class ShapleyResult:
    """What ``shapley_values`` estimated and what it cost.

    ``values``: head -> mean marginal contribution (signed; higher = more useful).
    ``stderr``: head -> standard error of that mean over the sampling units (a permutation,
    or an antithetic pair); nan while fewer than two units are done. ``permutations``: walks
    completed and averaged. ``evaluations``: distinct ``value()`` calls (dev passes), the
    full and the empty coalition included. ``truncated``: marginals set to 0 by truncation
    without an evaluation. ``converged``: True when the tolerance stopped the sampling,
    False when the budget (or ``max_permutations``) did.
    """

    values: dict[Head, float]
    stderr: dict[Head, float]
    permutations: int
    evaluations: int
    truncated: int
    converged: bool
    full_value: float
    empty_value: float

    def matrix(self, grid: tuple[int, int], fill: float = 0.0) -> torch.Tensor:
        """(layers, heads) float64 matrix of the values; heads that were not candidates
        (e.g. already physically removed) get ``fill``.

        The default 0.0 is their exact Shapley value in the game of the full grid: a head
        that is absent changes no coalition's value (a null player). ``rank_heads`` of the
        matrix is then a removal order (most harmful first) in which absent heads sit among
        the heads of ~zero value; pass ``fill=-1e9`` (finite, so JSON-safe) to put them
        first instead, as ``iterative_order`` does.
        """
        out = torch.full(grid, float(fill), dtype=torch.float64)
        for (layer, head), v in self.values.items():
            out[layer, head] = v
        return out

    def removal_order(self) -> list[Head]:
        """Candidates sorted by value ascending (most harmful first), ties by (layer, head)."""
        return [h for _, h in sorted((v, h) for h, v in self.values.items())]

    def harmful(self) -> list[Head]:
        """Candidates with a negative estimated value, most harmful first (Held & Yang's
        pruning set)."""
        return [h for h in self.removal_order() if self.values[h] < 0]


class _Budget(Exception):
    """Raised inside a walk when the next evaluation would exceed ``samples``."""


def minimum_samples(heads: int, antithetic: bool = True) -> int:
    """Evaluations one sampling unit needs: a walk is the full coalition and one per
    removal (heads + 1); its reverse shares the full and the empty one (heads - 1 more)."""
    return 2 * heads if antithetic and heads > 1 else heads + 1


def shapley_values(
    heads: Sequence[Hashable],
    value: ValueFn,
    samples: int,
    seed: int = 0,
    tolerance: float = 0.0,
    truncation: float = 0.0,
    antithetic: bool = True,
    max_permutations: int | None = None,
) -> ShapleyResult:
    """Truncated Monte Carlo Shapley values of ``heads`` under ``value`` (Held & Yang 2022).

    ``heads``: the players, e.g. the (layer, head) pairs still in the model. ``value(active)``
    gets a ``frozenset`` of the heads that are ON and returns a float, higher is better.

    Each sampled permutation is a walk DOWN from the full coalition: its heads are switched
    off one by one in permutation order, and head h's marginal is v(S) - v(S - {h}) with S
    the coalition just before h goes. Downward because truncation then cuts the walk's tail,
    the nearly dead models whose marginals carry least information, while every marginal
    near the full model, the regime pruning acts in, is evaluated exactly. With
    ``antithetic`` each permutation is followed by its reverse (the pair is one sampling
    unit): a pair gets pairwise interactions exactly right, which cuts the variance.

    Caching: every coalition is evaluated at most once (a dict coalition -> value), so the
    full and the empty set and any repeated coalition cost one dev pass in all.
    Truncation (TMC): when a walk's current value is within ``truncation`` of v(empty)
    (|v(S) - v(empty)| <= truncation), its remaining marginals are taken as 0 without
    evaluation; 0 disables it. It is absolute, in the units of ``value`` (e.g. 0.01 for an
    accuracy in [0, 1]).

    Stopping: when ``samples`` distinct evaluations (dev passes) are spent, a walk (with
    ``antithetic``, its pair) that would need one more is abandoned and not counted (so
    ``evaluations <= samples`` always; its evaluations stay in the count);
    earlier, once at least two units are done and every head's 95% bound ``1.96 * stderr`` is
    below ``tolerance`` (0 disables); and after ``max_permutations`` walks (default:
    ``samples``, a guard for walks that cost nothing once everything is cached or truncated).
    ``samples`` must be at least what one unit needs (``minimum_samples``: ``len(heads) +
    1`` for one untruncated walk, ``2 * len(heads)`` for an antithetic pair): else ValueError,
    so a budget never ends with no unit done and all values 0.
    Seeded: the same arguments give the same result.
    """
    players = list(heads)
    n = len(players)
    if n == 0:
        raise ValueError("shapley_values needs at least one head")
    if len(set(players)) != n:
        raise ValueError("heads contains duplicates")
    least = minimum_samples(n, antithetic)
    if samples < least:
        what = "one antithetic pair of permutations" if antithetic else "one permutation"
        raise ValueError(
            f"samples={samples} value() evaluations cannot complete {what} of {n} heads: "
            f"that needs {least}"
        )
    if tolerance < 0 or truncation < 0:
        raise ValueError("tolerance and truncation must be >= 0 (0 disables them)")
    cap = samples if max_permutations is None else max_permutations
    if cap < 1:
        raise ValueError("max_permutations must be >= 1")

    cache: dict[frozenset, float] = {}

    def v(coalition: frozenset) -> float:
        if coalition not in cache:
            if len(cache) >= samples:
                raise _Budget
            cache[coalition] = float(value(coalition))
        return cache[coalition]

    full = frozenset(players)
    v_full = v(full)
    v_empty = v(frozenset())
    rng = random.Random(seed)
    # Welford accumulators over sampling units, per player index
    count = 0
    mean = [0.0] * n
    m2 = [0.0] * n
    walks = 0
    truncated = 0
    converged = False
    index = {h: i for i, h in enumerate(players)}

    def walk(order: list) -> tuple[list[float], int]:
        marginals = [0.0] * n
        cut = 0
        coalition = set(full)
        current = v_full
        for h in order:
            if truncation > 0 and abs(current - v_empty) <= truncation:
                cut += 1
                continue
            coalition.discard(h)
            nxt = v(frozenset(coalition))
            marginals[index[h]] = current - nxt
            current = nxt
        return marginals, cut

    while walks < cap:
        order = rng.sample(players, n)
        orders = [order, order[::-1]] if antithetic else [order]
        try:
            done = [walk(o) for o in orders]
        except _Budget:
            break
        unit = [sum(m[i] for m, _ in done) / len(done) for i in range(n)]
        walks += len(done)
        truncated += sum(c for _, c in done)
        count += 1
        for i, x in enumerate(unit):
            delta = x - mean[i]
            mean[i] += delta / count
            m2[i] += delta * (x - mean[i])
        if tolerance > 0 and count >= 2:
            worst = max(math.sqrt(m2[i] / (count - 1) / count) for i in range(n))
            if Z95 * worst < tolerance:
                converged = True
                break

    def se(i: int) -> float:
        return math.sqrt(m2[i] / (count - 1) / count) if count >= 2 else math.nan

    return ShapleyResult(
        values={h: mean[i] for i, h in enumerate(players)},
        stderr={h: se(i) for i, h in enumerate(players)},
        permutations=walks,
        evaluations=len(cache),
        truncated=truncated,
        converged=converged,
        full_value=v_full,
        empty_value=v_empty,
    )


def masked_value(
    model: nn.Module,
    score: Callable[[nn.Module], float],
    heads: Iterable[Head] | None = None,
) -> ValueFn:
    """``value(active)`` for ``shapley_values``: ``score(model)`` with only ``active`` on.

    Each call sets the gates to 1 on ``active``, 0 on the other candidate ``heads`` and 1 on
    every head that is not a candidate (default candidates: the whole grid, so exactly
    ``active`` is on), then calls ``score(model)`` in eval mode under ``torch.no_grad`` and
    returns it as a float. ``score`` runs the dev pass (e.g. ``negative_loss(batches)``,
    ``token_accuracy(batches)``, or a task metric). Attached gates are reused and restored
    after each call (their values are replaced, not multiplied), else gates are attached for
    the call and removed; the model's mode is restored.
    """
    grid = head_grid(model)
    candidates = (
        {(int(a), int(b)) for a, b in heads}
        if heads is not None
        else {(a, b) for a in range(grid[0]) for b in range(grid[1])}
    )

    def value(active: frozenset) -> float:
        p = next(model.parameters())
        mask = torch.ones(grid, dtype=p.dtype, device=p.device)
        for layer, head in candidates - set(active):
            mask[layer, head] = 0.0
        was_training = model.training
        handle = attached_gates(model)
        model.eval()
        try:
            if handle is None:
                with attach_gates(model, mask), torch.no_grad():
                    return float(score(model))
            # written into the attached tensor, not swapped for another: its owner (a
            # LightningModule's gate buffer) may point the handle at it again each forward
            with torch.no_grad():
                saved = handle.gates.clone()
                handle.gates.copy_(mask)
                try:
                    return float(score(model))
                finally:
                    handle.gates.copy_(saved)
        finally:
            model.train(was_training)

    return value


def negative_loss(batches: Iterable[Mapping]) -> Callable[[nn.Module], float]:
    """A ``score`` for ``masked_value``: minus the mean over ``batches`` of ``model(**b).loss``
    (so higher is better). ``batches`` is read at every call: pass a list or DataLoader."""

    def score(model: nn.Module) -> float:
        device = next(model.parameters()).device
        losses = [float(model(**on_device(b, device)).loss) for b in batches]
        return -sum(losses) / len(losses)

    return score


def token_accuracy(batches: Iterable[Mapping]) -> Callable[[nn.Module], float]:
    """A ``score`` for ``masked_value``: argmax accuracy over the labelled tokens
    (labels != -100) of ``batches``, pooled over all of them."""

    def score(model: nn.Module) -> float:
        device = next(model.parameters()).device
        right = total = 0
        for b in batches:
            inputs = on_device(b, device)
            labels = inputs.pop("labels")
            pred = model(**inputs).logits.argmax(-1)
            keep = labels != -100
            right += int((pred[keep] == labels[keep]).sum())
            total += int(keep.sum())
        return right / max(total, 1)

    return score
