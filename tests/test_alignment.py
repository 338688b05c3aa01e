"""Label alignment: each word's label on its first sub-token, -100 on the rest and on
special tokens; words map back for scoring; padding is per batch."""

import pytest

from xlprune.data.datamodule import IGNORE, Collator, encode
from xlprune.models.tokenizers import train_tokenizer

TEXT = ["Anna flies to Berlin", "the quick brown fox", "Paris is big"] * 20


@pytest.fixture(scope="module", params=["bert", "xlmr"])
def tokenizer(request):
    return train_tokenizer(request.param, TEXT, vocab_size=60)


def test_first_subtoken_carries_the_label(tokenizer):
    sentences = [(["Annabergstadt", "flies"], ["B-PER", "O"]), (["to", "Berlin"], ["O", "B-LOC"])]
    label2id = {"B-LOC": 0, "B-PER": 1, "O": 2}
    feats = encode(tokenizer, sentences, label2id, max_length=64)
    for feat, (words, labels) in zip(feats, sentences, strict=True):
        enc = tokenizer([words], is_split_into_words=True)
        word_ids = enc.word_ids(0)
        assert len(feat["labels"]) == len(word_ids)
        seen = set()
        for label, wid, windex in zip(feat["labels"], word_ids, feat["word_index"], strict=True):
            if wid is None or wid in seen:
                assert label == IGNORE and windex == -1
            else:
                assert label == label2id[labels[wid]] and windex == wid
                seen.add(wid)
        assert seen == set(range(len(words)))
    # The long unseen word splits into several sub-tokens, only the first labelled.
    assert feats[0]["labels"].count(IGNORE) > 2


def test_truncation_is_counted_not_hidden(tokenizer, caplog):
    words = ["Berlin"] * 40
    feats = encode(tokenizer, [(words, ["B-LOC"] * 40)], {"B-LOC": 0}, max_length=10)
    kept = sum(1 for w in feats[0]["word_index"] if w >= 0)
    assert kept < 40
    assert "no sub-token within max_length" in caplog.text


def test_dynamic_padding():
    items = [
        {
            "input_ids": [5, 6, 7],
            "labels": [-100, 1, -100],
            "word_index": [-1, 0, -1],
            "example": 0,
        },
        {"input_ids": [5, 7], "labels": [-100, -100], "word_index": [-1, -1], "example": 1},
    ]
    batch = Collator(pad_token_id=0)(items)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [5, 7, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["labels"][1].tolist() == [-100, -100, -100]
    assert batch["word_index"][1].tolist() == [-1, -1, -1]
