"""Sentences -> batches: tokenise pre-split words, put each word's label on its first
sub-token (-100 elsewhere), pad each batch only to its own longest sequence."""

import logging

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from xlprune.data.formats.common import Sentence

IGNORE = -100
log = logging.getLogger(__name__)


def encode(tokenizer, sentences: list[Sentence], label2id: dict, max_length: int) -> list[dict]:
    """Features for each sentence. `word_index` marks, per sub-token, the word whose label
    it carries (-1 elsewhere), so predictions map back to words for scoring."""
    words = [w for w, _ in sentences]
    enc = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
    features, lost = [], 0
    for i, (sent_words, sent_labels) in enumerate(sentences):
        labels, word_index, previous = [], [], None
        for word_id in enc.word_ids(i):
            first = word_id is not None and word_id != previous
            labels.append(label2id[sent_labels[word_id]] if first else IGNORE)
            word_index.append(word_id if first else -1)
            previous = word_id
        lost += len(sent_words) - sum(1 for w in word_index if w >= 0)
        features.append(
            {"input_ids": enc["input_ids"][i], "labels": labels, "word_index": word_index}
        )
    if lost:
        log.warning("%d words have no sub-token within max_length; they score as misses", lost)
    return features


class Collator:
    """Dynamic padding: a batch is as long as its longest sequence."""

    def __init__(self, pad_token_id: int):
        self.pad = pad_token_id

    def __call__(self, items: list[dict]) -> dict:
        width = max(len(item["input_ids"]) for item in items)

        def padded(key, fill):
            return torch.tensor([it[key] + [fill] * (width - len(it[key])) for it in items])

        input_ids = padded("input_ids", self.pad)
        mask = torch.tensor(
            [[1] * len(it["input_ids"]) + [0] * (width - len(it["input_ids"])) for it in items]
        )
        return {
            "input_ids": input_ids,
            "attention_mask": mask,
            "labels": padded("labels", IGNORE),
            "word_index": padded("word_index", -1),
            "example": torch.tensor([it["example"] for it in items]),
        }


class TaggingDataModule(pl.LightningDataModule):
    """Training sentences of every training language, concatenated in order, and one
    evaluation loader per evaluated language for dev and for test. `dev` may hold more
    languages than are evaluated (importance passes over source dev data)."""

    def __init__(
        self,
        tokenizer,
        train: dict,
        dev: dict,
        test: dict,
        labels: list[str],
        batch_size: int = 32,
        eval_batch_size: int = 64,
        max_length: int = 128,
        shuffle: bool = False,
        eval_langs: list[str] | None = None,
    ):
        super().__init__()
        self.eval_langs = list(eval_langs if eval_langs is not None else test)
        self.tokenizer = tokenizer
        self.raw = {"train": train, "dev": dev, "test": test}
        self.labels = list(labels)
        self.label2id = {label: i for i, label in enumerate(self.labels)}
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.max_length, self.shuffle = max_length, shuffle
        self.features: dict = {}
        self.collate = Collator(tokenizer.pad_token_id)

    def setup(self, stage: str | None = None) -> None:
        if self.features:
            return
        for split, by_lang in self.raw.items():
            self.features[split] = {}
            for lang, sentences in by_lang.items():
                feats = encode(self.tokenizer, sentences, self.label2id, self.max_length)
                for number, feat in enumerate(feats):
                    feat["example"] = number
                self.features[split][lang] = feats

    def gold(self, split: str, lang: str) -> list[list[str]]:
        return [labels for _, labels in self.raw[split][lang]]

    def train_dataloader(self) -> DataLoader:
        items = [f for lang in self.raw["train"] for f in self.features["train"][lang]]
        return DataLoader(
            items, batch_size=self.batch_size, shuffle=self.shuffle, collate_fn=self.collate
        )

    def loader(self, split: str, lang: str) -> DataLoader:
        """One language's split in order, in evaluation-sized batches (importance passes)."""
        return DataLoader(
            self.features[split][lang], batch_size=self.eval_batch_size, collate_fn=self.collate
        )

    def _eval_loaders(self, split: str) -> list[DataLoader]:
        return [self.loader(split, lang) for lang in self.eval_langs]

    def val_dataloader(self) -> list[DataLoader]:
        return self._eval_loaders("dev")

    def test_dataloader(self) -> list[DataLoader]:
        return self._eval_loaders("test")
