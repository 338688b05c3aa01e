"""Attention-head gating, importance, ranking and physical removal for BERT-like encoders.

Plain functions over an ``nn.Module`` (no Lightning, Hydra or data files). Head indices are
always those of the original, unpruned model.

- gates: multiplicative per-head gates (per head, per sentence or per position);
- importance: gradient importance ``gate_importance`` at batch, sentence or token
  granularity (``GRANULARITIES``), TextPruner's score, normalisation and ranking;
- iterative: Michel et al. 2019's iterative pruning as a removal order (``iterative_order``);
- shapley: Held & Yang 2022's signed Shapley values by truncated Monte Carlo
  (``shapley_values``, with ``masked_value`` to build the game from a model);
- prune / structure: physical removal, saving and loading, and where heads live.
"""

from xlprune.heads.gates import GateHandle, attach_gates, attached_gates
from xlprune.heads.importance import (
    GRANULARITIES,
    gate_importance,
    normalise,
    random_scores,
    rank_heads,
    sentence_losses,
    textpruner_importance,
)
from xlprune.heads.iterative import IterativeOrder, iterative_order
from xlprune.heads.prune import (
    EmptySelfAttention,
    format_heads,
    load_pruned,
    parse_heads,
    prune_heads,
    pruned_heads,
    save_pruned,
)
from xlprune.heads.shapley import (
    ShapleyResult,
    masked_value,
    minimum_samples,
    negative_loss,
    shapley_values,
    token_accuracy,
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
    "GRANULARITIES",
    "REGISTRY",
    "ArchSpec",
    "EmptySelfAttention",
    "GateHandle",
    "IterativeOrder",
    "LayerAttention",
    "ShapleyResult",
    "arch_spec",
    "attach_gates",
    "attached_gates",
    "attention_layers",
    "format_heads",
    "gate_importance",
    "head_grid",
    "iterative_order",
    "load_pruned",
    "masked_value",
    "minimum_samples",
    "negative_loss",
    "normalise",
    "parse_heads",
    "prune_heads",
    "pruned_heads",
    "random_scores",
    "rank_heads",
    "save_pruned",
    "sentence_losses",
    "shapley_values",
    "textpruner_importance",
    "token_accuracy",
]
