"""Physical removal of attention heads, and saving / loading pruned models.

transformers 5 removed ``model.prune_heads``; this module slices the projections itself.
Head indices are always ORIGINAL ones, so pruning can be repeated and gates keep working.
The Linear modules are sliced IN PLACE (new Parameters, same module objects), so hooks on
them, the gate hooks included, survive pruning in either order. An optimizer built before
pruning holds the old Parameters and must be rebuilt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from xlprune.heads.structure import KEPT_HEADS_ATTR, LayerAttention, attention_layers, head_grid
from xlprune.infra.checksums import damage, seal

PRUNED_HEADS_FILE = "pruned_heads.json"
WEIGHTS_FILE = "model.safetensors"
CHECKSUMS_FILE = "checksums.json"


class EmptySelfAttention(nn.Module):
    """Stand-in for a self-attention module that has lost every head.

    The v5 attention reshapes with ``view(..., -1, head_dim)``, which fails on 0 elements.
    This returns a (batch, tokens, 0) context, so the 0-column output projection yields its
    bias: exactly what gating all of the layer's heads to 0 gives. It keeps the (0-row)
    query/key/value Linears so the state dict keys stay those of the original model.
    """

    def __init__(self, original: nn.Module, la: LayerAttention):
        super().__init__()
        spec = la.spec
        for name in (spec.query, spec.key, spec.value):
            setattr(self, name, original.get_submodule(name))
        setattr(self, spec.num_heads_attr, 0)
        setattr(self, spec.head_dim_attr, la.head_dim)
        setattr(self, spec.all_head_attr, 0)

    def forward(self, hidden_states: torch.Tensor, *args, **kwargs):
        return hidden_states.new_zeros((*hidden_states.shape[:-1], 0)), None


def _slice_linear(linear: nn.Linear, index: torch.Tensor, dim: int) -> None:
    """Keep ``index`` along ``dim`` of the weight (0: outputs, also the bias; 1: inputs)."""
    with torch.no_grad():
        w = linear.weight
        linear.weight = nn.Parameter(
            w.index_select(dim, index.to(w.device)).clone(), requires_grad=w.requires_grad
        )
        if dim == 0:
            linear.out_features = len(index)
            if linear.bias is not None:
                b = linear.bias
                linear.bias = nn.Parameter(
                    b.index_select(0, index.to(b.device)).clone(), requires_grad=b.requires_grad
                )
        else:
            linear.in_features = len(index)


def _prune_layer(la: LayerAttention, remove: set[int]) -> None:
    keep = [h for h in la.kept_heads if h not in remove]
    if len(keep) == len(la.kept_heads):
        return
    positions = [la.kept_heads.index(h) for h in keep]
    d = la.head_dim
    index = torch.tensor([p * d + j for p in positions for j in range(d)], dtype=torch.long)
    for lin in (la.query, la.key, la.value):
        _slice_linear(lin, index, dim=0)
    _slice_linear(la.output, index, dim=1)
    setattr(la.output, KEPT_HEADS_ATTR, tuple(keep))
    spec = la.spec
    setattr(la.attention, spec.num_heads_attr, len(keep))
    setattr(la.attention, spec.all_head_attr, len(keep) * d)
    if not keep:
        la.layer.set_submodule(spec.attention, EmptySelfAttention(la.attention, la))


def prune_heads(model: nn.Module, heads: Iterable[tuple[int, int]]) -> nn.Module:
    """Remove ``heads`` ((layer, head), original indexing) from ``model`` in place; returns it.

    Heads already removed are ignored, so calls compose. A layer may lose every head.
    """
    n_layers, n_heads = head_grid(model)
    by_layer: dict[int, set[int]] = {}
    for layer, head in heads:
        if not (0 <= layer < n_layers and 0 <= head < n_heads):
            raise ValueError(f"head ({layer}, {head}) is outside the {n_layers}x{n_heads} grid")
        by_layer.setdefault(int(layer), set()).add(int(head))
    layers = attention_layers(model)
    for layer, remove in sorted(by_layer.items()):
        _prune_layer(layers[layer], remove)
    return model


def pruned_heads(model: nn.Module) -> list[tuple[int, int]]:
    """The (layer, head) pairs removed so far, sorted, in original indexing."""
    _, n_heads = head_grid(model)
    return [
        (la.index, h)
        for la in attention_layers(model)
        for h in range(n_heads)
        if h not in la.kept_heads
    ]


_LAYER_SPEC = re.compile(r"^(\d+):(\d+(?:,\d+)*)$")


def parse_heads(text: str, grid: tuple[int, int] | None = None) -> list[tuple[int, int]]:
    """Parse ``"0:1,3 5:2"`` into ``[(0, 1), (0, 3), (5, 2)]`` (whitespace-separated groups).

    Order is kept and duplicates dropped. With ``grid`` = (layers, heads), indices are checked.
    """
    out: list[tuple[int, int]] = []
    for group in text.split():
        m = _LAYER_SPEC.match(group)
        if m is None:
            raise ValueError(
                f"malformed head group {group!r} in {text!r}: expected LAYER:HEAD[,HEAD...] "
                f"with non-negative integers, e.g. '0:1,3 5:2'"
            )
        layer = int(m.group(1))
        for head in (int(h) for h in m.group(2).split(",")):
            if grid is not None and not (layer < grid[0] and head < grid[1]):
                raise ValueError(
                    f"head {layer}:{head} in {text!r} is out of range for a model with "
                    f"{grid[0]} layers x {grid[1]} heads (indices start at 0)"
                )
            if (layer, head) not in out:
                out.append((layer, head))
    return out


def format_heads(heads: Iterable[tuple[int, int]]) -> str:
    """Inverse of ``parse_heads``: ``[(0, 1), (0, 3), (5, 2)]`` -> ``"0:1,3 5:2"``."""
    by_layer: dict[int, list[int]] = {}
    for layer, head in heads:
        by_layer.setdefault(layer, []).append(head)
    return " ".join(f"{k}:{','.join(map(str, v))}" for k, v in sorted(by_layer.items()))


def save_pruned(model: nn.Module, directory: str | Path) -> Path:
    """Write config, safetensors weights and ``pruned_heads.json``, sealed with their
    checksums (``checksums.json``; reseal with ``checksums.seal`` after adding files); no
    pickle.

    A pruned state dict does not fit the shapes its config describes, so plain
    ``from_pretrained`` cannot read it: use ``load_pruned``.
    """
    from safetensors.torch import save_model

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.config.architectures = [type(model).__name__]  # as save_pretrained does
    model.config.save_pretrained(directory)
    save_model(model, str(directory / WEIGHTS_FILE))
    payload = {"format": 1, "pruned_heads": [list(h) for h in pruned_heads(model)]}
    (directory / PRUNED_HEADS_FILE).write_text(json.dumps(payload, indent=1) + "\n")
    seal(directory, CHECKSUMS_FILE)
    return directory


def load_pruned(directory: str | Path, model_class: type | None = None, **kwargs) -> nn.Module:
    """Rebuild the architecture from the config, remove the recorded heads, load the weights.

    ``model_class`` defaults to the first entry of ``config.architectures``; extra keyword
    arguments go to ``model_class._from_config`` (e.g. ``attn_implementation="eager"``).
    The model is returned in eval mode. A directory whose files no longer match their
    checksums (or that has none) is refused (ValueError).
    """
    import transformers
    from safetensors.torch import load_model

    directory = Path(directory)
    if problem := damage(directory, CHECKSUMS_FILE):
        raise ValueError(f"{directory}: {problem}; save the model again")
    config = transformers.AutoConfig.from_pretrained(directory)
    if model_class is None:
        archs = getattr(config, "architectures", None) or []
        if not archs:
            raise ValueError(f"{directory}: config names no architecture; pass model_class")
        model_class = getattr(transformers, archs[0])
    model = model_class._from_config(config, **kwargs)
    heads_file = directory / PRUNED_HEADS_FILE
    heads = json.loads(heads_file.read_text())["pruned_heads"] if heads_file.exists() else []
    prune_heads(model, [tuple(h) for h in heads])
    load_model(model, str(directory / WEIGHTS_FILE), strict=True)
    model.eval()
    return model
