"""Scores equal hand-computed values."""

import pytest

from xlprune.data.metrics import score

GOLD = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "O"]]


def test_entity_f1_by_hand():
    # Predicted: PER right, LOC missed, ORG right, one spurious LOC -> tp=2, fp=1, fn=1.
    pred = [["B-PER", "I-PER", "O", "O"], ["B-LOC", "B-ORG", "O"]]
    values = score("entity_f1", GOLD, pred)
    assert values["precision"] == pytest.approx(2 / 3)
    assert values["recall"] == pytest.approx(2 / 3)
    assert values["f1"] == pytest.approx(2 / 3)


def test_strict_iob2_rejects_a_span_that_starts_with_i():
    pred = [["I-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "O"]]
    values = score("entity_f1", GOLD, pred)
    assert values["precision"] == pytest.approx(1.0)  # the I- span is not an entity at all
    assert values["recall"] == pytest.approx(2 / 3)


def test_missing_predictions_count_as_misses():
    pred = [["B-PER", "I-PER", "O", None], ["O", "B-ORG", "O"]]
    assert score("entity_f1", GOLD, pred)["recall"] == pytest.approx(2 / 3)
    gold = [["NOUN", "VERB", "DET"], ["PROPN"]]
    assert score("accuracy", gold, [["NOUN", "VERB", None], ["NOUN"]])["accuracy"] == 0.5


def test_accuracy_by_hand():
    gold = [["NOUN", "VERB"], ["DET", "NOUN", "PUNCT"]]
    pred = [["NOUN", "NOUN"], ["DET", "NOUN", "PUNCT"]]
    assert score("accuracy", gold, pred)["accuracy"] == pytest.approx(4 / 5)


def test_misaligned_input_is_an_error():
    with pytest.raises(ValueError):
        score("accuracy", [["NOUN"]], [["NOUN", "VERB"]])


def seqeval_scores(gold, pred) -> dict[str, float]:
    from seqeval.metrics import f1_score, precision_score, recall_score
    from seqeval.scheme import IOB2

    kwargs = {"mode": "strict", "scheme": IOB2, "zero_division": 0}
    return {
        "f1": float(f1_score(gold, pred, **kwargs)),
        "precision": float(precision_score(gold, pred, **kwargs)),
        "recall": float(recall_score(gold, pred, **kwargs)),
    }


def test_entity_scores_equal_seqeval_strict_on_random_tags():
    """The one-pass scorer gives seqeval's strict IOB2 numbers exactly, on sequences with
    every oddity: I- without B-, type changes inside a span, B after B, empty sentences."""
    import random

    tags = ["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
    rng = random.Random(7)
    for trial in range(300):
        lengths = [rng.randint(0, 12) for _ in range(rng.randint(1, 6))]
        gold = [[rng.choice(tags) for _ in range(n)] for n in lengths]
        pred = [[rng.choice(tags) for _ in range(n)] for n in lengths]
        if trial % 10 == 0:
            pred = [list(g) for g in gold]  # perfect predictions too
        assert score("entity_f1", gold, pred) == seqeval_scores(gold, pred), (gold, pred)


def test_entity_scoring_is_linear_in_a_sentence_length():
    """A 200k-token 'sentence' (a file with no blank lines) scores in well under a second
    per 100k tokens; seqeval's strict mode took 38 s for 80k. Ratio within one run: twice
    the tokens cost about twice the time; 10x for 4x the tokens would already be beyond
    linear (quadratic: 16x)."""
    import time

    def seconds(n: int) -> float:
        sentence = (["B-PER", "I-PER", "O", "B-LOC", "O"] * (n // 5))[:n]
        start = time.perf_counter()
        score("entity_f1", [sentence], [sentence[1:] + ["O"]])
        return time.perf_counter() - start

    small, large = min(seconds(50_000) for _ in range(3)), min(seconds(200_000) for _ in range(3))
    assert large < 10 * small, (small, large)  # 4x the tokens: linear ~4x, quadratic ~16x
