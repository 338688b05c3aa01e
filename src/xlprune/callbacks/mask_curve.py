"""Michel et al.'s post-hoc curve: the fine-tuned model scored on dev with the k
lowest-ranked heads masked, k = 0..max_k, no re-training. One fine-tune, a whole curve."""

import pytorch_lightning as pl
import torch


class MaskCurve(pl.Callback):
    """Runs after `HeadImportance` (list it later); `order_from(raw)` turns its score
    matrices into a head order. `curve`: [{k, heads, metrics: {lang: {...}}}]."""

    def __init__(self, importance, order_from, loaders: dict, gold: dict, max_k: int):
        self.importance, self.order_from = importance, order_from
        self.loaders, self.gold, self.max_k = loaders, gold, max_k
        self.curve: list[dict] = []
        self.order: list = []

    def on_fit_end(self, trainer, pl_module) -> None:
        from xlprune.metrics import primary

        self.order = self.order_from(self.importance.raw)
        gates = pl_module.head_gates
        saved = gates.clone()
        try:
            for k in range(min(self.max_k, len(self.order)) + 1):
                gates.fill_(1.0)
                for layer, head in self.order[:k]:
                    gates[layer, head] = 0.0
                metrics = {
                    lang: pl_module.score_loader(loader, self.gold[lang])
                    for lang, loader in self.loaders.items()
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
