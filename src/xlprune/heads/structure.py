"""Where the attention heads of a supported encoder live.

transformers 5 dropped ``head_mask`` and ``prune_heads``, so gating and removal walk the
modules themselves. This registry is the only place that knows module paths and attribute
names; adding an architecture with the BERT layout is one entry in ``REGISTRY``.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

#: Attribute on each layer's attention output projection holding the ORIGINAL indices of the
#: heads still present. It lives there because that module receives the context the gates
#: multiply, is never replaced by pruning (it is sliced in place), and so the gate hook can
#: read it at call time whatever order pruning and gating happened in.
KEPT_HEADS_ATTR = "xlprune_kept_heads"


@dataclass(frozen=True)
class ArchSpec:
    """Dotted paths (relative to ``model.base_model``) and attribute names of one family."""

    layers: str = "encoder.layer"
    attention: str = "attention.self"  # relative to a layer
    query: str = "query"  # relative to the attention module
    key: str = "key"
    value: str = "value"
    output: str = "attention.output.dense"  # relative to a layer
    num_heads_attr: str = "num_attention_heads"
    head_dim_attr: str = "attention_head_size"
    all_head_attr: str = "all_head_size"


_BERT_LAYOUT = ArchSpec()

#: ``config.model_type`` -> layout. Checked against transformers 5.24 modeling files.
REGISTRY: dict[str, ArchSpec] = {
    "bert": _BERT_LAYOUT,
    "roberta": _BERT_LAYOUT,
    "xlm-roberta": _BERT_LAYOUT,
}


@dataclass
class LayerAttention:
    """Handles to one layer's attention modules (live objects, not copies)."""

    index: int
    layer: nn.Module
    attention: nn.Module
    query: nn.Linear
    key: nn.Linear
    value: nn.Linear
    output: nn.Linear
    num_heads: int  # heads present now
    head_dim: int
    kept_heads: tuple[int, ...]  # original indices of the heads present now
    spec: ArchSpec


def arch_spec(model: nn.Module) -> ArchSpec:
    """The registry entry for ``model``, or a clear error naming the registry."""
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type not in REGISTRY:
        raise NotImplementedError(
            f"model_type {model_type!r} is not supported for head gating/pruning; add an "
            f"ArchSpec for it to xlprune.heads.structure.REGISTRY (known: {sorted(REGISTRY)})"
        )
    return REGISTRY[model_type]


def _get(root: nn.Module, path: str) -> nn.Module:
    return root.get_submodule(path)


def head_grid(model: nn.Module) -> tuple[int, int]:
    """(layers, heads) of the ORIGINAL model, from its config; gates and scores use it."""
    arch_spec(model)
    cfg = model.config
    return int(cfg.num_hidden_layers), int(cfg.num_attention_heads)


def attention_layers(model: nn.Module) -> list[LayerAttention]:
    """One ``LayerAttention`` per encoder layer, reflecting any heads already removed."""
    spec = arch_spec(model)
    base = getattr(model, "base_model", model)
    out = []
    for i, layer in enumerate(_get(base, spec.layers)):
        attn = _get(layer, spec.attention)
        n = int(getattr(attn, spec.num_heads_attr))
        dense = _get(layer, spec.output)
        kept = tuple(getattr(dense, KEPT_HEADS_ATTR, range(n)))
        out.append(
            LayerAttention(
                index=i,
                layer=layer,
                attention=attn,
                query=_get(attn, spec.query),
                key=_get(attn, spec.key),
                value=_get(attn, spec.value),
                output=dense,
                num_heads=n,
                head_dim=int(getattr(attn, spec.head_dim_attr)),
                kept_heads=kept,
                spec=spec,
            )
        )
    return out
