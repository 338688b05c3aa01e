"""Scores equal hand-computed values."""

import pytest

from xlprune.metrics import score

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
