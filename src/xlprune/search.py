"""Choosing how many heads to remove, honestly: the paper's "few trials" as a search over
k = 0, 1, 2, ... that stops when the dev score has not improved for `patience` trials (or at
`max_k`), selects k on dev and reports the test score there. The paper's way, the best test
score over the trials, is kept beside it and labelled as such."""


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
