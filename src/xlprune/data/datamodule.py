"""Sentences -> batches: tokenise pre-split words, put each word's label on its first
sub-token (-100 elsewhere), pad each batch only to its own longest sequence."""

import logging

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from xlprune.data.formats.common import Sentence

IGNORE = -100
log = logging.getLogger(__name__)


def windows(word_ids: list, n_words: int, budget: int) -> list[tuple[int, int]]:
    """Consecutive runs of whole words, each within `budget` sub-tokens (a single word longer
    than that gets a window of its own and keeps its first sub-tokens)."""
    counts = [0] * n_words
    for word_id in word_ids:
        if word_id is not None:
            counts[word_id] += 1
    spans, start, used = [], 0, 0
    for index, count in enumerate(counts):
        if used and used + count > budget:
            spans.append((start, index))
            start, used = index, 0
        used += count
    spans.append((start, n_words))
    return spans


def _feature(word_ids, input_ids, labels, offset, label2id) -> tuple[dict, int]:
    tags, word_index, previous, scored = [], [], None, 0
    for word_id in word_ids:
        first = word_id is not None and word_id != previous
        tags.append(label2id[labels[word_id]] if first else IGNORE)
        word_index.append(offset + word_id if first else -1)
        scored += first
        previous = word_id
    return {"input_ids": input_ids, "labels": tags, "word_index": word_index}, scored


def encode(tokenizer, sentences: list[Sentence], label2id: dict, max_length: int) -> list[dict]:
    """Features for each sentence: each word's label on its first sub-token, `word_index`
    marking which word (-1 elsewhere) so predictions map back to words. A sentence longer
    than `max_length` is cut into windows of whole words; every window keeps the sentence's
    `example` number and global word indices, so predictions are stitched back and every
    word is scored, never silently truncated."""
    budget = max_length - tokenizer.num_special_tokens_to_add(pair=False)
    enc = tokenizer([w for w, _ in sentences], is_split_into_words=True)
    features, long_pieces, lost = [], [], 0
    for i, (words, labels) in enumerate(sentences):
        word_ids = enc.word_ids(i)
        if len(word_ids) <= max_length:
            feat, scored = _feature(word_ids, enc["input_ids"][i], labels, 0, label2id)
            features.append(dict(feat, example=i))
            lost += len(words) - scored
            continue
        for start, end in windows(word_ids, len(words), budget):
            long_pieces.append((i, start, words[start:end], labels[start:end]))
    if long_pieces:
        enc = tokenizer(
            [p[2] for p in long_pieces],
            is_split_into_words=True,
            truncation=True,
            max_length=max_length,
        )
        for j, (example, start, words, labels) in enumerate(long_pieces):
            feat, scored = _feature(enc.word_ids(j), enc["input_ids"][j], labels, start, label2id)
            features.append(dict(feat, example=example))
            lost += len(words) - scored
        log.info(
            "%d windows of at most %d sub-tokens for %d long sentences",
            len(long_pieces),
            max_length,
            len({p[0] for p in long_pieces}),
        )
    if lost:
        log.warning(
            "%d words have no sub-token (the tokenizer drops them); they score as misses", lost
        )
    return features


def tokenizer_id(tokenizer) -> str:
    """A content hash of a fast tokenizer (vocabulary, normaliser, special tokens)."""
    import hashlib

    return hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode()).hexdigest()[:16]


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
    evaluation loader per evaluated language for dev and for test: dataloader i scores
    `eval_langs[i]`. `dev` may hold more languages than are evaluated (importance passes
    over source dev data)."""

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
        store=None,
        dev_in_fit: bool = True,
    ):
        super().__init__()
        self.dev_in_fit = dev_in_fit  # False: fit trains only; dev is scored when asked
        self.store, self._tokenizer_id = store, None
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
            self.features[split] = {lang: self._encode(sents) for lang, sents in by_lang.items()}

    def _encode(self, sentences: list[Sentence]) -> list[dict]:
        """Features, from the store when this tokenizer, text, labels and max length were
        encoded before (a sweep tokenises each file once)."""
        if self.store is None:
            return encode(self.tokenizer, sentences, self.label2id, self.max_length)
        import json

        from xlprune.data.sources import fingerprint
        from xlprune.infra.faults import reached
        from xlprune.infra.store import key as store_key

        if self._tokenizer_id is None:
            self._tokenizer_id = tokenizer_id(self.tokenizer)
        key = store_key(
            tokenizer=self._tokenizer_id,
            data=fingerprint(sentences),
            max_length=self.max_length,
            labels=self.labels,
        )

        def build(directory):
            feats = encode(self.tokenizer, sentences, self.label2id, self.max_length)
            reached("tokenise")
            (directory / "features.json").write_text(json.dumps(feats))

        entry, _ = self.store.build_once("features", key, build)
        return json.loads((entry / "features.json").read_text())

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
        """Evaluation batches of similar lengths (far less padding, 1.6-3x faster here);
        predictions land by example and word, so the order does not matter. Importance
        passes keep `loader`'s order: their per-batch gradient sums depend on batching."""
        loaders = []
        for lang in self.eval_langs:
            feats = sorted(self.features[split][lang], key=lambda f: len(f["input_ids"]))
            loaders.append(
                DataLoader(
                    feats,
                    batch_size=self.eval_batch_size,
                    collate_fn=self.collate,
                    # its own generator: a dev pass between epochs must not draw from the
                    # global RNG, or training after it (dropout) would depend on validating
                    generator=torch.Generator(),
                )
            )
        return loaders

    def val_dataloader(self) -> list[DataLoader]:
        fitting = self.trainer is not None and self.trainer.state.fn == "fit"
        return [] if fitting and not self.dev_in_fit else self._eval_loaders("dev")

    def test_dataloader(self) -> list[DataLoader]:
        return self._eval_loaders("test")
