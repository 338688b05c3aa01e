"""Choosing how many heads to remove, honestly: the paper's "few trials" as a search over
k = 0, 1, 2, ... that stops when the dev score has not improved for `patience` trials (or at
`max_k`), selects k on dev and reports the test score there. The paper's way, the best test
score over the trials, is kept beside it and labelled as such.

The guided mode spends fewer fine-tunes: one unpruned model's masked dev curve (k heads
masked, no re-training) says which k are worth re-training (`guided_candidates`)."""


def should_stop(dev_scores: list[float], patience: int) -> bool:
    """True when the last `patience` trials brought no dev improvement over the best."""
    best = max(range(len(dev_scores)), key=lambda i: (dev_scores[i], -i))
    return len(dev_scores) - 1 - best >= patience


def select(trials: list[dict]) -> dict:
    """Trials: [{k, dev, test, ...}] -> the dev-selected k (ties: fewer heads removed) and,
    labelled, the paper's best-test k."""
    by_dev = max(trials, key=lambda t: (t["dev"], -t["k"]))
    by_test = max(trials, key=lambda t: (t["test"], -t["k"]))
    return {
        "dev_selected": {"k": by_dev["k"], "dev": by_dev["dev"], "test": by_dev["test"]},
        "paper_best_test": {
            "k": by_test["k"],
            "test": by_test["test"],
            "note": "best test score over the trials (the paper's way; "
            "optimistic: k is chosen on the test set)",
        },
    }


def mean_score(metrics: dict, split: str, langs: list[str], name: str) -> float:
    """The selection score: the main metric averaged over the evaluated target languages."""
    values = [metrics[split][g][name] for g in langs if g in metrics[split]]
    return sum(values) / len(values) if values else 0.0


def curve_means(curve: list[dict], langs: list[str], name: str) -> dict[int, float]:
    """A masked curve (one point per fine-tune and k) -> k: its main metric averaged over
    the target languages scored at that k (each fine-tune scores its own targets)."""
    values: dict[int, list[float]] = {}
    for point in curve:
        for lang, metrics in point["metrics"].items():
            if lang in langs and name in metrics:
                values.setdefault(int(point["k"]), []).append(metrics[name])
    return {k: sum(v) / len(v) for k, v in sorted(values.items())}


def guided_candidates(masked: dict[int, float], n: int, tolerance: float) -> list[int]:
    """The k (> 0) to re-train, from the masked dev curve: its peak (the best masked score,
    ties to fewer heads), then its flat end (the largest k whose masked score is within
    `tolerance` of the unpruned one, where removing heads stops costing little), then the
    next best masked scores, until `n` are chosen. In the order they were chosen."""
    ks = [k for k in sorted(masked) if k > 0]
    chosen: list[int] = []

    def add(k) -> None:
        if k is not None and k not in chosen and len(chosen) < n:
            chosen.append(k)

    ranked = sorted(ks, key=lambda k: (-masked[k], k))
    add(ranked[0] if ranked else None)
    flat = [k for k in ks if masked[k] >= masked.get(0, float("-inf")) - tolerance]
    add(max(flat) if flat else None)
    for k in ranked:
        add(k)
    return chosen
