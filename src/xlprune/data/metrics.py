"""Word-level scores per language: entity F1 (IOB2, strict, as seqeval scores it) or token
accuracy. A word with no prediction (None) counts as a miss, never silently dropped.

Entity F1 is computed here in one pass over the tokens: seqeval's strict mode copies the
rest of a sentence for every entity it finds, quadratic in a sentence's length (a 80k-token
"sentence" from a file without blank lines took 38 s). tests/test_metrics.py checks these
scores against seqeval's on random tag sequences."""


def entities(sentences: list[list[str]]) -> set[tuple[int, int, int, str]]:
    """(sentence, start, end, type) of every entity under strict IOB2: a B-X and the I-X
    that follow it; an I-X that does not continue a B-X or I-X of its type is no entity."""
    found = set()
    for s, labels in enumerate(sentences):
        i, n = 0, len(labels)
        while i < n:
            if not labels[i].startswith("B-"):
                i += 1
                continue
            kind, j = labels[i][2:], i + 1
            inside = "I-" + kind
            while j < n and labels[j] == inside:
                j += 1
            found.add((s, i, j, kind))
            i = j
    return found


def entity_scores(gold: list[list[str]], pred: list[list[str]]) -> dict[str, float]:
    """Micro precision, recall and F1 over entities, 0 where a denominator is 0 (seqeval's
    zero_division=0), with seqeval's arithmetic so the floats are the same."""
    truth, guess = entities(gold), entities(pred)
    hits = len(truth & guess)
    precision = hits / len(guess) if guess else 0.0
    recall = hits / len(truth) if truth else 0.0
    total = precision + recall
    f1 = 2 * precision * recall / total if total else 0.0
    return {"f1": f1, "precision": precision, "recall": recall}


def score(metric: str, gold: list[list[str]], pred: list[list[str | None]]) -> dict[str, float]:
    if len(gold) != len(pred) or any(len(g) != len(p) for g, p in zip(gold, pred, strict=True)):
        raise ValueError("gold and predicted sentences must align word for word")
    if metric == "accuracy":
        total = sum(len(g) for g in gold)
        right = sum(
            g == p for gs, ps in zip(gold, pred, strict=True) for g, p in zip(gs, ps, strict=True)
        )
        return {"accuracy": right / total if total else 0.0}
    if metric == "entity_f1":
        return entity_scores(gold, [[p if p is not None else "O" for p in ps] for ps in pred])
    raise ValueError(f"task.metric={metric}: unknown; choose accuracy or entity_f1")


def primary(metric: str) -> str:
    """The one number a table shows for a metric."""
    return "accuracy" if metric == "accuracy" else "f1"


CHANCE_MARGIN = 0.05  # a score this close to the majority-label baseline learned nothing


def chance_score(metric: str, train_labels: list[list[str]], gold: list[list[str]]) -> float:
    """What predicting the most frequent training label for every word scores on `gold`:
    token accuracy of that label, or entity F1 0 (the majority label is O, no entities)."""
    from collections import Counter

    if metric != "accuracy":
        return 0.0
    counts = Counter(label for labels in train_labels for label in labels)
    if not counts:
        return 0.0
    majority = counts.most_common(1)[0][0]
    return score(metric, gold, [[majority] * len(g) for g in gold])["accuracy"]


def chance_warnings(metric: str, dev: dict, baselines: dict[str, float]) -> list[str]:
    """One line per trained-on language whose dev score is at chance level: a model that
    did not learn, whose pruning curve would mean nothing."""
    name = primary(metric)
    out = []
    for lang, base in baselines.items():
        value = (dev.get(lang) or {}).get(name)
        if value is not None and value <= base + CHANCE_MARGIN:
            out.append(
                f"dev {lang} {name} {value:.3f} is at chance level (majority label: {base:.3f}) "
                f"in a language the model was trained on: it did not learn; check optim.lr, "
                "trainer.max_epochs, batch_size and the data"
            )
    return out
