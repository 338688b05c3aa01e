"""Data-side figures: padding waste of xlprune's batching, what length-grouped evaluation
batches would buy, and tokenisation speed against `datasets.Dataset.map`.

Padding: share of padded positions over one pass, with xlprune's batching (dynamic per-batch
padding, data in order: TaggingDataModule + Collator) vs fixed-length padding to max_length;
length-grouped batches (sorted by length) are listed as the floor.

Eval throughput: Tagger.score_loader over one language's eval split, the DataModule's
in-order loader vs the same features sorted by length, batched, and scored (every
prediction lands by its `example` and `word_index`, so the original order comes back with
no extra work; the predictions are compared).

Tokenisation: xlprune's `encode` vs a `datasets` pipeline (Dataset.from_dict + batched map
with the usual first-sub-token alignment, plus the same word_index column) with the same
tokenizer; outputs are compared sentence by sentence.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from common import SHARED, median, quiet, run_rounds

PANX = SHARED / "panx"
UD = SHARED / "ud"
VOCAB = 3000  # the tiny models' tokenizer size (conf/model/tiny_*.yaml)


def read(fmt: str, path: Path):
    from xlprune.data.formats import READERS

    return READERS[fmt](path)


def synthetic(task: str, lang: str, split: str, n: int | None = None):
    from xlprune.data import synthetic as syn

    return syn.generate(task, lang, split, n=n, seed=0)


def label_vocab(*sets) -> list[str]:
    return sorted({label for sents in sets for _, labels in sents for label in labels})


def tokenizer_for(family: str, sentences) -> object:
    from xlprune.models.tokenizers import train_tokenizer

    return train_tokenizer(family, [" ".join(w) for w, _ in sentences], VOCAB)


# ----------------------------------------------------------------------------------------
# padding
# ----------------------------------------------------------------------------------------


def padding_shares(features: list[dict], batch: int, max_length: int) -> dict:
    lengths = [len(f["input_ids"]) for f in features]
    real = sum(lengths)

    def share(seq):
        padded = sum(
            max(seq[i : i + batch]) * len(seq[i : i + batch]) for i in range(0, len(seq), batch)
        )
        return 1 - real / padded

    return {
        "sequences": len(lengths),
        "real_tokens": real,
        "mean_len": real / len(lengths),
        "max_len": max(lengths),
        "dynamic_in_order": share(lengths),
        "fixed_max_length": 1 - real / (max_length * len(lengths)),
        "length_grouped": share(sorted(lengths)),
    }


def datamodule_features(tokenizer, train, labels, max_length=128, batch=32) -> list[dict]:
    """Features exactly as a job's train loader sees them (and check its batches' widths)."""
    from xlprune.data.datamodule import TaggingDataModule

    dm = TaggingDataModule(
        tokenizer, {"x": train}, {}, {}, labels, batch_size=batch, max_length=max_length
    )
    dm.setup()
    feats = dm.features["train"]["x"]
    widths = [b["input_ids"].shape[1] for b in dm.train_dataloader()]
    expect = [
        max(len(f["input_ids"]) for f in feats[i : i + batch]) for i in range(0, len(feats), batch)
    ]
    assert widths == expect, "the DataModule's batches are not padded as assumed"
    return feats


def bench_padding(quick: bool) -> dict:
    out = {}
    corpora = {}
    for task in ("ner", "pos", "sf"):
        sents = [s for lang in ("en", "de", "es") for s in synthetic(task, lang, "train")]
        corpora[f"synthetic {task} en+de+es train"] = ("bert", sents)
    if (PANX / "train-en.tsv").is_file():
        corpora["panx train-en"] = ("bert", read("xtreme", PANX / "train-en.tsv"))
    if (UD / "en_ewt-ud-dev.conllu").is_file():
        corpora["ud en_ewt dev"] = ("bert", read("ud", UD / "en_ewt-ud-dev.conllu"))
    for name, (family, sents) in corpora.items():
        if quick:
            sents = sents[:3000]
        tok = tokenizer_for(family, sents)
        feats = datamodule_features(tok, sents, label_vocab(sents))
        out[name] = {
            "tokenizer": f"{family} vocab {VOCAB} trained on the corpus",
            "train_batch_32": padding_shares(feats, 32, 128),
            "eval_batch_64": padding_shares(feats, 64, 128),
        }
    return out


# ----------------------------------------------------------------------------------------
# eval throughput
# ----------------------------------------------------------------------------------------


def grouped_loader(features: list[dict], batch: int, collate):
    from torch.utils.data import DataLoader

    order = sorted(range(len(features)), key=lambda i: len(features[i]["input_ids"]))
    return DataLoader([features[i] for i in order], batch_size=batch, collate_fn=collate)


def predictions(tagger, loader, gold) -> list[list]:
    import torch

    sink = [[None] * len(g) for g in gold]
    tagger.eval()
    with torch.no_grad():
        for b in loader:
            tagger._predict_into(b, sink)
    return sink


def bench_eval(quick: bool) -> dict:
    import torch
    from transformers import BertConfig, BertForTokenClassification

    from xlprune.data.datamodule import TaggingDataModule
    from xlprune.models.tagger import Tagger

    sets = {"synthetic ner en dev (n=1000)": ("ner", synthetic("ner", "en", "dev", 1000))}
    if (PANX / "dev-en.tsv").is_file():
        sets["panx dev-en (first 3000)"] = ("ner", read("xtreme", PANX / "dev-en.tsv")[:3000])
    if (UD / "en_ewt-ud-dev.conllu").is_file():
        sets["ud en_ewt dev"] = ("pos", read("ud", UD / "en_ewt-ud-dev.conllu"))
    rounds = 2 if quick else 3
    out = {}
    for name, (task, sents) in sets.items():
        if quick:
            sents = sents[:500]
        labels = label_vocab(sents)
        tok = tokenizer_for("bert", sents)
        torch.manual_seed(0)
        config = BertConfig(
            vocab_size=len(tok),
            hidden_size=128,
            num_hidden_layers=4,
            num_attention_heads=4,
            intermediate_size=512,
            num_labels=len(labels),
            max_position_embeddings=256,
            pad_token_id=tok.pad_token_id,
        )
        model = BertForTokenClassification._from_config(config, attn_implementation="sdpa")
        metric = "entity_f1" if task == "ner" else "accuracy"
        tagger = Tagger(model, labels, metric)
        dm = TaggingDataModule(tok, {}, {"x": sents}, {}, labels, eval_batch_size=64, eval_langs=[])
        dm.setup()
        gold = dm.gold("dev", "x")
        in_order = dm.loader("dev", "x")
        grouped = grouped_loader(dm.features["dev"]["x"], 64, dm.collate)
        same = predictions(tagger, in_order, gold) == predictions(tagger, grouped, gold)

        def timer(loader, tagger=tagger, gold=gold):
            def run():
                t0 = time.perf_counter()
                tagger.score_loader(loader, gold)
                seconds = time.perf_counter() - t0
                return {"seconds": seconds, "sentences_per_s": len(gold) / seconds}

            return run

        raw = run_rounds(
            {"in_order": timer(in_order), "grouped": timer(grouped)}, rounds, warmup=timer(grouped)
        )
        ratios = [
            g["sentences_per_s"] / o["sentences_per_s"]
            for g, o in zip(raw["grouped"], raw["in_order"], strict=True)
        ]
        feats = dm.features["dev"]["x"]
        out[name] = {
            "sentences": len(gold),
            "metric": metric,
            "same_predictions": same,
            "padding_in_order": padding_shares(feats, 64, 128)["dynamic_in_order"],
            "padding_grouped": padding_shares(feats, 64, 128)["length_grouped"],
            "in_order_sentences_per_s": median(r["sentences_per_s"] for r in raw["in_order"]),
            "grouped_sentences_per_s": median(r["sentences_per_s"] for r in raw["grouped"]),
            "ratio_grouped_vs_in_order": median(ratios),
            "per_round_ratio": ratios,
            "raw_s": {k: [round(r["seconds"], 4) for r in v] for k, v in raw.items()},
        }
    return {
        "config": f"BERT 4L 4H hidden128 inter512 (random init), bert tokenizer vocab {VOCAB}, "
        f"eval batch 64, max_length 128, Tagger.score_loader, {rounds} rounds",
        "sets": out,
    }


# ----------------------------------------------------------------------------------------
# tokenisation
# ----------------------------------------------------------------------------------------


def hf_encode(tokenizer, sentences, label2id: dict, max_length: int):
    """The usual `datasets` recipe: batched map, first sub-token of each word labelled."""
    from datasets import Dataset

    ds = Dataset.from_dict(
        {
            "tokens": [w for w, _ in sentences],
            "tags": [[label2id[x] for x in labels] for _, labels in sentences],
        }
    )

    def align(batch):
        enc = tokenizer(
            batch["tokens"], is_split_into_words=True, truncation=True, max_length=max_length
        )
        all_labels, all_index = [], []
        for i, tags in enumerate(batch["tags"]):
            labels, index, previous = [], [], None
            for word in enc.word_ids(i):
                first = word is not None and word != previous
                labels.append(tags[word] if first else -100)
                index.append(word if first else -1)
                previous = word
            all_labels.append(labels)
            all_index.append(index)
        return {"input_ids": enc["input_ids"], "labels": all_labels, "word_index": all_index}

    return ds.map(
        align,
        batched=True,
        remove_columns=ds.column_names,
        keep_in_memory=True,
        load_from_cache_file=False,
    )


def bench_tokenise(quick: bool) -> dict:
    import datasets

    from xlprune.data.datamodule import encode

    datasets.disable_progress_bars()
    datasets.disable_caching()
    files = {
        "panx train-en": ("xtreme", PANX / "train-en.tsv"),
        "ud en_ewt dev": ("ud", UD / "en_ewt-ud-dev.conllu"),
        "ud de_gsd dev": ("ud", UD / "de_gsd-ud-dev.conllu"),
    }
    sets = {name: read(fmt, path) for name, (fmt, path) in files.items() if path.is_file()}
    if not sets:
        sets = {"synthetic ner en train (n=5000)": synthetic("ner", "en", "train", 5000)}
    rounds = 2 if quick else 5
    out = {}
    for family in ("bert", "xlmr"):
        for name, sents in sets.items():
            if quick:
                sents = sents[:2000]
            labels = label_vocab(sents)
            label2id = {x: i for i, x in enumerate(labels)}
            tok = tokenizer_for(family, sents)
            ours = encode(tok, sents, label2id, 128)
            theirs = hf_encode(tok, sents, label2id, 128)
            windowed = Counter(f["example"] for f in ours)
            cols = {k: theirs[k] for k in ("input_ids", "labels", "word_index")}
            single = [f for f in ours if windowed[f["example"]] == 1]
            agree = sum(all(f[k] == cols[k][f["example"]] for k in cols) for f in single)
            within = len(single)

            def xl(sents=sents, label2id=label2id, tok=tok):
                seconds = time.perf_counter()
                encode(tok, sents, label2id, 128)
                seconds = time.perf_counter() - seconds
                return {"seconds": seconds, "sentences_per_s": len(sents) / seconds}

            def hf(sents=sents, label2id=label2id, tok=tok):
                seconds = time.perf_counter()
                hf_encode(tok, sents, label2id, 128)
                seconds = time.perf_counter() - seconds
                return {"seconds": seconds, "sentences_per_s": len(sents) / seconds}

            raw = run_rounds({"xlprune_encode": xl, "datasets_map": hf}, rounds)
            ratios = [
                a["sentences_per_s"] / b["sentences_per_s"]
                for a, b in zip(raw["xlprune_encode"], raw["datasets_map"], strict=True)
            ]
            out[f"{name} ({family})"] = {
                "sentences": len(sents),
                "words": sum(len(w) for w, _ in sents),
                "xlprune_sentences_per_s": median(
                    r["sentences_per_s"] for r in raw["xlprune_encode"]
                ),
                "datasets_sentences_per_s": median(
                    r["sentences_per_s"] for r in raw["datasets_map"]
                ),
                "ratio_xlprune_vs_datasets": median(ratios),
                "per_round_ratio": ratios,
                "identical_features": f"{agree} of {within} sentences within max_length",
                "raw_s": {k: [round(r["seconds"], 4) for r in v] for k, v in raw.items()},
            }
    return {
        "config": f"tokenizers trained by xlprune.models.tokenizers.train_tokenizer on each "
        f"file's text (vocab {VOCAB}), max_length 128, {rounds} rounds; datasets map batched "
        "(batch 1000), in memory, cache off; datasets truncates where xlprune windows",
        "sets": out,
    }


def run(quick: bool) -> dict:
    quiet()
    return {
        "padding": bench_padding(quick),
        "eval": bench_eval(quick),
        "tokenise": bench_tokenise(quick),
    }
