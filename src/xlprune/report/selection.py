"""Choosing how many heads to remove. The paper keeps the best test score over its trials,
which is optimistic; the honest choice is the k with the best dev score, reported with
its test score. Both look only at pruned trials (k > 0), ties go to the smaller k."""


def best_k(scores: dict[int, float]) -> int | None:
    if not scores:
        return None
    return max(sorted(scores), key=lambda k: scores[k])


def paper_choice(test: dict[int, float]) -> tuple[int | None, float | None]:
    """(k with the best test score, that score): the paper's way."""
    k = best_k({k: v for k, v in test.items() if k > 0})
    return k, (test[k] if k is not None else None)


def dev_choice(dev: dict[int, float], test: dict[int, float]) -> tuple[int | None, float | None]:
    """(k with the best dev score among those with a test score, its test score)."""
    k = best_k({k: v for k, v in dev.items() if k > 0 and k in test})
    return k, (test[k] if k is not None else None)
