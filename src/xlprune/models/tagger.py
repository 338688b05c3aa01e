"""The LightningModule around a token-classification model: loss, AdamW with a linear
schedule, word-level metrics per evaluated language, and the (layers x heads) gate buffer
that the heads/ code applies to each head's output."""

import pytorch_lightning as pl
import torch

from xlprune.metrics import primary, score


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
        super().__init__()
        # from_pretrained returns eval mode and Lightning keeps each module's mode: without
        # this, a loaded checkpoint would fine-tune with dropout off.
        self.model = model.train()
        self.labels = list(labels)
        self.metric = metric
        self.lr, self.weight_decay, self.warmup_ratio = lr, weight_decay, warmup_ratio
        cfg = model.config
        self.register_buffer(
            "head_gates", torch.ones(cfg.num_hidden_layers, cfg.num_attention_heads)
        )
        self.eval_split: str = "dev"
        self.eval_langs: list[str] = []
        self.gold: dict[str, list[list[str]]] = {}
        self.scores: dict[str, dict[str, dict[str, float]]] = {}
        self._preds: dict[int, list] = {}

    def forward(self, batch: dict):
        return self.model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            labels=batch.get("labels"),
        )

    def training_step(self, batch, batch_idx):
        loss = self(batch).loss
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["input_ids"].shape[0])
        return loss

    def prepare_eval(self, split: str, langs: list[str], gold: dict) -> None:
        """Say what the next validate/test pass scores: dataloader i is language langs[i]."""
        self.eval_split, self.eval_langs, self.gold = split, list(langs), gold

    def on_validation_epoch_start(self) -> None:
        self._preds = {
            i: [[None] * len(g) for g in self.gold[lang]] for i, lang in enumerate(self.eval_langs)
        }

    on_test_epoch_start = on_validation_epoch_start

    def validation_step(self, batch, batch_idx, dataloader_idx: int = 0):
        logits = self.model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        ).logits
        best = logits.argmax(-1).cpu()
        sink = self._preds[dataloader_idx]
        for row, example in enumerate(batch["example"].tolist()):
            positions = batch["word_index"][row]
            for pos in torch.nonzero(positions >= 0).flatten().tolist():
                sink[example][int(positions[pos])] = self.labels[int(best[row, pos])]

    test_step = validation_step

    def on_validation_epoch_end(self) -> None:
        split = self.eval_split
        self.scores[split] = {}
        for i, lang in enumerate(self.eval_langs):
            values = score(self.metric, self.gold[lang], self._preds[i])
            self.scores[split][lang] = values
            self.log(
                f"{split}/{lang}/{primary(self.metric)}",
                values[primary(self.metric)],
                add_dataloader_idx=False,
            )

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
        schedule = get_linear_schedule_with_warmup(optimizer, int(self.warmup_ratio * total), total)
        return [optimizer], [{"scheduler": schedule, "interval": "step"}]
