"""The LightningModule around a token-classification model: loss, AdamW with a linear
schedule, word-level metrics per evaluated language, and the (layers x heads) gate buffer
applied to each head's output (xlprune.heads.gates)."""

import pytorch_lightning as pl
import torch
from torchmetrics.classification import MulticlassAccuracy

from xlprune.data.datamodule import IGNORE
from xlprune.data.metrics import primary, score
from xlprune.infra.faults import reached


class Tagger(pl.LightningModule):
    def __init__(
        self,
        model,
        labels: list[str],
        metric: str,
        lr: float = 5e-5,
        weight_decay: float = 0.0,
        warmup_ratio: float = 0.0,
    ):
        from xlprune.heads import attach_gates, head_grid

        super().__init__()
        # from_pretrained returns eval mode and Lightning keeps each module's mode: without
        # this, a loaded checkpoint would fine-tune with dropout off.
        self.model = model.train()
        self.labels = list(labels)
        self.metric = metric
        self.lr, self.weight_decay, self.warmup_ratio = lr, weight_decay, warmup_ratio
        self.register_buffer("head_gates", torch.ones(head_grid(model)))
        self._gates = attach_gates(model, self.head_gates)
        # sub-token accuracy of the training batches (a learning signal in the logs; the
        # job's scores are word-level, xlprune.data.metrics)
        self.train_accuracy = MulticlassAccuracy(
            num_classes=len(self.labels), ignore_index=IGNORE, average="micro"
        )
        self.eval_split: str = "dev"
        self.eval_langs: list[str] = []
        self.gold: dict[str, list[list[str]]] = {}
        self.scores: dict[str, dict[str, dict[str, float]]] = {}
        self.scored_at: dict[str, int] = {}  # split -> the global step its scores are of
        self._preds: dict[int, list] = {}

    def forward(self, batch: dict):
        self._gates.gates = self.head_gates  # the buffer is replaced when the module moves
        return self.model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            labels=batch.get("labels"),
        )

    def training_step(self, batch, batch_idx):
        reached("fit")
        out = self(batch)
        size = batch["input_ids"].shape[0]
        self.train_accuracy(out.logits.detach().argmax(-1), batch["labels"])
        self.log("train/loss", out.loss, prog_bar=True, batch_size=size)
        self.log("train/token_accuracy", self.train_accuracy, batch_size=size)
        return out.loss

    def _predict_into(self, batch, sink: list[list]) -> None:
        """Each word's predicted label (from its first sub-token) into sink[example][word]."""
        best = self({**batch, "labels": None}).logits.argmax(-1).cpu()
        for row, example in enumerate(batch["example"].tolist()):
            positions = batch["word_index"][row]
            for pos in torch.nonzero(positions >= 0).flatten().tolist():
                sink[example][int(positions[pos])] = self.labels[int(best[row, pos])]

    @torch.no_grad()
    def score_loader(self, loader, gold: list[list[str]]) -> dict[str, float]:
        """Scores of one language's loader, outside Lightning's loops (post-hoc sweeps)."""
        was_training = self.training
        self.eval()
        sink = [[None] * len(g) for g in gold]
        for batch in loader:
            self._predict_into({k: v.to(self.device) for k, v in batch.items()}, sink)
        self.train(was_training)
        return score(self.metric, gold, sink)

    def on_validation_epoch_start(self) -> None:
        """What this pass scores comes from the trainer's DataModule: dataloader i is its
        evaluated language i, of the split the trainer is running (test or dev)."""
        dm = self.trainer.datamodule
        self.eval_split = "test" if self.trainer.testing else "dev"
        self.eval_langs = list(dm.eval_langs)
        self.gold = {lang: dm.gold(self.eval_split, lang) for lang in self.eval_langs}
        self._preds = {
            i: [[None] * len(g) for g in self.gold[lang]] for i, lang in enumerate(self.eval_langs)
        }

    on_test_epoch_start = on_validation_epoch_start

    def validation_step(self, batch, batch_idx, dataloader_idx: int = 0):
        self._predict_into(batch, self._preds[dataloader_idx])

    test_step = validation_step

    def on_validation_epoch_end(self) -> None:
        split = self.eval_split
        self.scores[split] = {}
        name = primary(self.metric)
        for i, lang in enumerate(self.eval_langs):
            values = score(self.metric, self.gold[lang], self._preds[i])
            self.scores[split][lang] = values
            self.log(f"{split}/{lang}/{name}", values[name], add_dataloader_idx=False)
        if not self.trainer.sanity_checking:  # a sanity pass scores only part of dev
            self.scored_at[split] = self.global_step

    on_test_epoch_end = on_validation_epoch_end

    def configure_optimizers(self):
        from transformers import get_linear_schedule_with_warmup

        decay, no_decay = [], []
        for name, param in self.model.named_parameters():
            (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(param)
        optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": self.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=self.lr,
        )
        total = self.trainer.estimated_stepping_batches
        warmup = int(self.warmup_ratio * total)
        schedule = get_linear_schedule_with_warmup(optimizer, warmup, total)
        return [optimizer], [{"scheduler": schedule, "interval": "step"}]
