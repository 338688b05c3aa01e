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
