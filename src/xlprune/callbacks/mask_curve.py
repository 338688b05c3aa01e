"""Michel et al.'s post-hoc curve: the fine-tuned model scored on dev with the k
lowest-ranked heads masked, k = 0..max_k, no re-training. One fine-tune, a whole curve."""

import pytorch_lightning as pl
import torch

from xlprune.callbacks.head_importance import HeadImportance, order_heads


class MaskCurve(pl.Callback):
    """After fit, masks heads in `order` (a given ranking's) or, without one, in the order
    of the fine-tuned model's own scores (the trainer's `HeadImportance`, listed before
    this callback; a seeded random order for method=random), and scores the DataModule's
    evaluated languages on dev at each k. `curve`: [{k, heads, metrics: {lang: {...}}}]."""

    def __init__(
        self,
        max_k: int = 12,
        method: str = "gradient",
        normalise: bool = True,
        combine: str = "sum",
        seed: int = 0,
        order=None,
    ):
        self.max_k, self.method, self.normalise, self.combine = max_k, method, normalise, combine
        self.seed = seed
        self.fixed = [tuple(h) for h in order] if order is not None else None
        self.curve: list[dict] = []
        self.order: list = []

    def importance(self, trainer) -> HeadImportance | None:
        return next((cb for cb in trainer.callbacks if isinstance(cb, HeadImportance)), None)

    def order_from(self, trainer, pl_module) -> list:
        if self.fixed is not None:
            return self.fixed
        if self.method == "random":
            from xlprune.heads import random_scores

            matrices = [random_scores(tuple(pl_module.head_gates.shape), self.seed)]
        else:
            found = self.importance(trainer)
            if found is None or not found.raw:
                raise RuntimeError("MaskCurve needs a HeadImportance callback before it")
            matrices = list(found.raw.values())
        return order_heads(self.method, matrices, self.normalise, self.combine)[1]

    def on_fit_end(self, trainer, pl_module) -> None:
        from xlprune.data.metrics import primary

        self.order = self.order_from(trainer, pl_module)
        dm = trainer.datamodule
        gates = pl_module.head_gates
        saved = gates.clone()
        try:
            for k in range(min(self.max_k, len(self.order)) + 1):
                gates.fill_(1.0)
                for layer, head in self.order[:k]:
                    gates[layer, head] = 0.0
                metrics = {
                    lang: pl_module.score_loader(dm.loader("dev", lang), dm.gold("dev", lang))
                    for lang in dm.eval_langs
                }
                self.curve.append(
                    {"k": k, "heads": [list(h) for h in self.order[:k]], "metrics": metrics}
                )
                if trainer.logger:
                    name = primary(pl_module.metric)
                    trainer.logger.log_metrics(
                        {f"mask/{lang}/{name}": m[name] for lang, m in metrics.items()}
                        | {"mask/k": k}
                    )
        finally:
            with torch.no_grad():
                gates.copy_(saved)
