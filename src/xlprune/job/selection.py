"""Which heads a job removes and how many: a count from a ranking or an explicit set, and
the choice of k. The paper's "few trials" are a search over k = 0, 1, 2, ... that stops when
the dev score has not improved for `patience` trials (or at `max_k`); k is selected on dev
and the test score there reported. The paper's way, the best test score over the trials,
is kept beside it and labelled as such. The guided mode spends fewer fine-tunes: one
unpruned model's masked dev curve (k heads masked, no re-training) says which k are worth
re-training (`guided_candidates`). The report's tables use the same rule on pruned trials
only (k > 0: the paper's "best pruned" cell)."""

import logging

from xlprune.infra.errors import XlpruneError

log = logging.getLogger(__name__)


def choose_heads(job):
    """(heads to remove before fine-tuning, the Ranking used or None, (layers, heads)).
    The mode, count and heads were checked with the config (config.checks.check_pruning);
    here what needs the model's size."""
    from xlprune.config.checks import check_prune_count
    from xlprune.heads import parse_heads
    from xlprune.job.ranking import check_method, obtain_ranking

    p = job.cfg.pruning
    grid, model_type = job.spec.grid()
    check_prune_count(p.count, *grid)
    check_method(job.cfg, grid)
    if p.mode == "search":
        return [], obtain_ranking(job, grid, model_type), grid
    if p.mode == "guided":
        n, max_k = job.cfg.guided.candidates, min(p.max_k, grid[0] * grid[1])
        if not 1 <= n <= max_k:
            bound = f"pruning.max_k ({max_k})" if max_k == p.max_k else f"the model's {max_k} heads"
            raise XlpruneError(f"guided.candidates={n}: give 1 to {bound} values of k to re-train")
        return [], None, grid  # the ranking once the unpruned fine-tune ran (it may be it)
    if p.heads:
        try:
            return parse_heads(str(p.heads), grid), None, grid
        except ValueError as err:
            raise XlpruneError(f"pruning.heads={p.heads!r}: {err}") from None
    if p.count == 0:
        return [], None, grid
    log.info(
        "rank: %s scores of %d heads, the %d lowest removed",
        job.cfg.ranking.method,
        grid[0] * grid[1],
        p.count,
    )
    ranking = obtain_ranking(job, grid, model_type)
    return ranking.lowest(p.count), ranking, grid


def should_stop(dev_scores: list[float], patience: int) -> bool:
    """True when the last `patience` trials brought no dev improvement over the best."""
    best = max(range(len(dev_scores)), key=lambda i: (dev_scores[i], -i))
    return len(dev_scores) - 1 - best >= patience


def select(trials: list[dict]) -> dict:
    """Trials: [{k, dev, test, ...}] -> the dev-selected k (ties: fewer heads removed) and,
    labelled, the paper's best-test k."""
    by_k = {t["k"]: t for t in trials}
    by_dev = by_k[best_k({k: t["dev"] for k, t in by_k.items()})]
    by_test = by_k[best_k({k: t["test"] for k, t in by_k.items()})]
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


def best_k(scores: dict[int, float], pruned_only: bool = False) -> int | None:
    """The k with the best score, ties to fewer heads removed; `pruned_only`: k > 0."""
    ks = [k for k in sorted(scores) if k > 0 or not pruned_only]
    return max(ks, key=lambda k: (scores[k], -k)) if ks else None


def paper_choice(test: dict[int, float]) -> tuple[int | None, float | None]:
    """(pruned k with the best test score, that score): the paper's way."""
    k = best_k(test, pruned_only=True)
    return k, (test[k] if k is not None else None)


def dev_choice(dev: dict[int, float], test: dict[int, float]) -> tuple[int | None, float | None]:
    """(pruned k with the best dev score among those with a test score, its test score)."""
    k = best_k({k: v for k, v in dev.items() if k in test}, pruned_only=True)
    return k, (test[k] if k is not None else None)
