"""Label alignment: each word's label on its first sub-token, -100 on the rest and on
special tokens; words map back for scoring; padding is per batch."""

import pytest

from tests.helpers.tiny import tiny_model
from xlprune.data.datamodule import IGNORE, Collator, encode
from xlprune.models.tokenizers import train_tokenizer

TEXT = ["Anna flies to Berlin", "the quick brown fox", "Paris is big"] * 20


@pytest.fixture(scope="module", params=["bert", "xlmr"])
def tokenizer(request):
    return train_tokenizer(request.param, TEXT, vocab_size=60)


def test_first_subtoken_carries_the_label(tokenizer):
    sentences = [(["Berlinflies", "flies"], ["B-PER", "O"]), (["to", "Berlin"], ["O", "B-LOC"])]
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


def test_long_sentences_become_windows_covering_every_word(tokenizer):
    words = [f"Berlin{i % 7}" for i in range(40)]
    labels = ["B-LOC", "O"] * 20
    feats = encode(
        tokenizer, [(words, labels), (["Anna"], ["B-PER"])], {"B-LOC": 0, "O": 1, "B-PER": 2}, 12
    )
    windows = [f for f in feats if f["example"] == 0]
    assert len(windows) > 1 and all(len(f["input_ids"]) <= 12 for f in windows)
    indices = [w for f in windows for w in f["word_index"] if w >= 0]
    assert sorted(indices) == list(range(40))  # every word once, in some window
    for f in windows:  # each labelled position carries its own word's label
        for tag, w in zip(f["labels"], f["word_index"], strict=True):
            assert (tag == IGNORE) == (w < 0) and (w < 0 or tag == [0, 1][w % 2])
    assert [f["example"] for f in feats].count(1) == 1


def test_windows_are_whole_words():
    from xlprune.data.datamodule import windows

    # word sub-token counts 3, 1, 4, 2, 5 with a budget of 5
    word_ids = [None, 0, 0, 0, 1, 2, 2, 2, 2, 3, 3, 4, 4, 4, 4, 4, None]
    assert windows(word_ids, 5, 5) == [(0, 2), (2, 3), (3, 4), (4, 5)]
    assert windows([None, 0, 0, 0, 0, 0, 0, 0, None], 1, 3) == [(0, 1)]  # one long word


def test_every_word_of_a_long_sentence_gets_a_prediction(tokenizer):

    from xlprune.models.tagger import Tagger

    family = "bert" if tokenizer.cls_token == "[CLS]" else "xlmr"
    model = tiny_model(family, len(tokenizer), 1, 2, 16, 2, 40, tokenizer.pad_token_id, 16)
    tagger = Tagger(model, ["B-LOC", "O"], "accuracy")
    sentences = [(["Berlin", "is", "big"] * 15, ["B-LOC", "O", "O"] * 15)]
    feats = encode(tokenizer, sentences, {"B-LOC": 0, "O": 1}, max_length=10)
    sink = [[None] * 45]
    tagger.eval()
    tagger._predict_into(Collator(tokenizer.pad_token_id)(feats), sink)
    assert None not in sink[0]


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
