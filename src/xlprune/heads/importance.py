"""Head importance scores, their normalisation and the ranking built from them.

Scores are (layers, heads) tensors in ORIGINAL head indexing; heads already removed score 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import contextmanager

import torch
from torch import nn

from xlprune.heads.gates import GateHandle, attach_gates, attached_gates
from xlprune.heads.structure import attention_layers, head_grid


def on_device(batch: Mapping, device: torch.device) -> dict:
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


#: Values of ``gate_importance(granularity=...)``: how finely |d loss / d gate| is taken
#: before the absolute values are summed.
GRANULARITIES = ("sentence", "batch", "token")


def _base_gates(model: nn.Module, gates: torch.Tensor | None, device) -> torch.Tensor:
    """The point the gradient is taken at: ``gates``, else the attached gates, else ones."""
    if gates is None:
        handle = attached_gates(model)
        gates = handle.gates if handle is not None else None
    if gates is None:
        return torch.ones(head_grid(model), dtype=next(model.parameters()).dtype, device=device)
    return gates.detach()


def sentence_losses(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Each sentence's mean token cross-entropy over its labelled tokens (labels != -100).

    ``logits`` (batch, tokens, classes) with ``labels`` (batch, tokens), or (batch, classes)
    with (batch,) for sentence classification. A sentence without a labelled token gets 0 (and
    so contributes no gradient), where the model's batch-mean loss would be 0/0.
    """
    if logits.dim() == labels.dim():  # (batch, classes) and (batch,) cannot be equal-rank
        raise ValueError(
            f"logits {tuple(logits.shape)} and labels {tuple(labels.shape)}: expected logits "
            f"with one more dimension (classes) than labels"
        )
    b = labels.shape[0]
    ce = nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]),
        labels.reshape(-1).to(logits.device),
        reduction="none",
        ignore_index=-100,
    ).reshape(b, -1)
    count = (labels.reshape(b, -1) != -100).sum(dim=1).to(ce.device)
    return ce.sum(dim=1) / count.clamp(min=1).to(ce.dtype)


def gate_importance(
    model: nn.Module,
    batches: Iterable[Mapping],
    gates: torch.Tensor | None = None,
    granularity: str = "batch",
) -> torch.Tensor:
    """Head importance: a sum of |d loss / d gate[l, h]| (Ma et al. 2021, Michel et al. 2019).

    ``granularity`` says at what level the gradient is taken before its absolute value is
    summed (one backward per batch in every case):

    - ``"batch"`` (this function's default): I[l, h] = sum over batches of
      |d loss / d g[l, h]|, with loss = ``model(**batch).loss``, the batch-mean token loss;
      sentences' gradients of opposite sign cancel, so it depends on the batching.
    - ``"sentence"`` (the Hugging Face bertology recipe the paper follows, and the job's
      default, conf/ranking/gradient.yaml): I[l, h] = sum over sentences s of |d L_s / d g[l, h]|, with L_s
      sentence s's own mean token cross-entropy over its labelled tokens (labels != -100;
      a sentence with none contributes nothing). This is what ``"batch"`` gives with
      one-sentence batches, whatever the batch size. Computed with per-sentence gates
      (batch, layers, heads) and one backward of sum_s L_s: sentences do not interact in an
      encoder, so d(sum L) / d g[s] = d L_s / d g[s].
    - ``"token"``: I[l, h] = sum over sentences b and non-padded positions t
      (attention_mask != 0) of |d L_b / d g[b, t, l, h]|, where g[b, t, l, h] scales only
      head h's context vector at position t of sentence b (its output at that position, the
      input of the attention output projection) and L_b is as above. d L_b / d g[b, t, l, h]
      = <d L_b / d ctx[b, t, h], ctx[b, t, h]>, the per-token term of Michel et al.'s
      expansion. Summing them over t before |.| gives ``"sentence"``, so ``"token"`` >=
      ``"sentence"`` head by head (triangle inequality). Every non-padded position counts,
      labelled or not: an unlabelled sub-token's context still reaches labelled tokens
      through later layers.

    Gradients are taken at ``gates`` (default: the attached gates, else all ones), shape
    (layers, heads): the per-sentence / per-token probes hold those values, so a mask is
    respected and the gradient is the one at the current mask. Only the gates are
    differentiated (``torch.autograd.grad``): no parameter ``.grad`` is touched and weight
    gradients are never computed. Eval mode during the passes; the caller's mode is restored.
    Each batch is a mapping of model inputs including ``labels``. ``"sentence"`` and
    ``"token"`` compute the loss from ``logits`` themselves (cross-entropy, the loss of the
    supported token classifiers). Heads already removed score 0.
    """
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
    if granularity == "batch":
        return _batch_importance(model, batches, gates)
    with _grad_pass(model) as device:
        base = _base_gates(model, gates, device)
        if base.dim() != 2:
            raise ValueError(
                f"granularity={granularity!r} takes the gradient at (layers, heads) gates; "
                f"got gates of shape {tuple(base.shape)}"
            )
        total = torch.zeros_like(base)
        with _probe_gates(model, base):  # restores (or removes) the gates on exit
            handle = attached_gates(model)
            for batch in batches:
                total += _fine_pass(handle, model, on_device(batch, device), base, granularity)
    return total


def _fine_pass(
    handle: GateHandle, model: nn.Module, inputs: dict, base: torch.Tensor, granularity: str
) -> torch.Tensor:
    """Sum over the batch (and positions) of |d L_s / d probe| for one batch, as (L, H)."""
    labels = inputs.pop("labels")
    mask = inputs.get("attention_mask")
    b = labels.shape[0]
    if granularity == "sentence":
        lead: tuple[int, ...] = (b,)
    else:
        ids = inputs.get("input_ids", inputs.get("inputs_embeds"))
        lead = (b, ids.shape[1])
    probe = base.expand(*lead, *base.shape).clone().requires_grad_(True)
    handle.gates = probe
    logits = model(**inputs).logits
    loss = sentence_losses(logits, labels).sum()
    (grad,) = torch.autograd.grad(loss, probe, allow_unused=True)
    if grad is None:  # every head removed: nothing depends on the gates
        return torch.zeros_like(base)
    grad = grad.abs()
    if granularity == "token" and mask is not None:
        grad = grad * (mask != 0).to(grad.dtype)[:, :, None, None]
    return grad.sum(dim=tuple(range(len(lead))))


def _batch_importance(
    model: nn.Module, batches: Iterable[Mapping], gates: torch.Tensor | None
) -> torch.Tensor:
    """``granularity="batch"``: the loss of ``model(**batch)``, one (layers, heads) probe."""
    with _grad_pass(model) as device:
        # a clone made here is never an inference tensor
        probe = _base_gates(model, gates, device).clone().requires_grad_(True)
        total = torch.zeros_like(probe, requires_grad=False)
        with _probe_gates(model, probe):
            for batch in batches:
                loss = model(**on_device(batch, device)).loss
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
            loss = model(**on_device(batch, device)).loss
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
