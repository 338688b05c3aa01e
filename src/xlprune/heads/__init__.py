"""Attention-head gating, importance, ranking and physical removal for BERT-like encoders.

Plain functions over an ``nn.Module`` (no Lightning, Hydra or data files). Head indices are
always those of the original, unpruned model.
"""

from xlprune.heads.gates import GateHandle, attach_gates, attached_gates
from xlprune.heads.importance import (
    gate_importance,
    normalise,
    random_scores,
    rank_heads,
    textpruner_importance,
)
from xlprune.heads.prune import (
    EmptySelfAttention,
    format_heads,
    load_pruned,
    parse_heads,
    prune_heads,
    pruned_heads,
    save_pruned,
)
from xlprune.heads.structure import (
    REGISTRY,
    ArchSpec,
    LayerAttention,
    arch_spec,
    attention_layers,
    head_grid,
)

__all__ = [
    "REGISTRY",
    "ArchSpec",
    "EmptySelfAttention",
    "GateHandle",
    "LayerAttention",
    "arch_spec",
    "attach_gates",
    "attached_gates",
    "attention_layers",
    "format_heads",
    "gate_importance",
    "head_grid",
    "load_pruned",
    "normalise",
    "parse_heads",
    "prune_heads",
    "pruned_heads",
    "random_scores",
    "rank_heads",
    "save_pruned",
    "textpruner_importance",
]
