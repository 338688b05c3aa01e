"""Word-level scores per language: entity F1 (seqeval, IOB2, strict) or token accuracy.
A word with no prediction (None) counts as a miss, never silently dropped."""


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
        from seqeval.metrics import f1_score, precision_score, recall_score
        from seqeval.scheme import IOB2

        filled = [[p if p is not None else "O" for p in ps] for ps in pred]
        kwargs = {"mode": "strict", "scheme": IOB2, "zero_division": 0}
        return {
            "f1": float(f1_score(gold, filled, **kwargs)),
            "precision": float(precision_score(gold, filled, **kwargs)),
            "recall": float(recall_score(gold, filled, **kwargs)),
        }
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
