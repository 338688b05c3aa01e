"""Guided cells (pruning.mode=guided) beside full-search cells: for the same model, task,
setting, languages, data and seed, the k the guided job chose on dev and its test score,
against the k a full search picks on dev (every k re-trained: a pruning.count grid of the
same ranking method, or a pruning.mode=search job) and its test score, with the fine-tunes
each spent. Both choose among k = 0 and the pruned k by the mean dev score over targets,
ties to fewer heads (xlprune.job.selection.select)."""

from xlprune.job.selection import mean_score, select
from xlprune.report.table import Delta, Heads, Score, Table


def cell(r: dict, variant: str = "") -> tuple:
    """What makes two jobs the same cell: model, task, setting, languages, data, seed and
    the overrides they do not share (the report's variant: another lr, epochs, ...)."""
    return (
        r["model"],
        r["task"],
        r["setting"],
        "+".join(r["source"]),
        "+".join(r["targets"]),
        r.get("data", ""),
        r.get("seed"),
        variant,
    )


def method(r: dict) -> str:
    return str((r.get("ranking") or {}).get("method") or "")


def full_searches(jobs: list[tuple[dict, str]]) -> dict[tuple, dict]:
    """(cell, ranking method) -> {k: {k, dev, test}} from re-trained jobs ((results,
    variant) pairs); an unpruned job counts for every method of its cell."""
    from xlprune.data.metrics import primary

    trials: dict[tuple, dict] = {}
    unpruned: dict[tuple, dict] = {}
    for r, variant in jobs:
        if r.get("guided") or r.get("mask_curve"):
            continue
        if r.get("search"):
            for t in r["search"]["trials"]:
                trials.setdefault((cell(r, variant), method(r)), {})[t["k"]] = t
            continue
        name, targets, k = primary(r["metric"]), list(r["targets"]), int(r["prune_count"])
        point = {
            "k": k,
            "dev": mean_score(r["metrics"], "dev", targets, name),
            "test": mean_score(r["metrics"], "test", targets, name),
        }
        if k == 0:
            unpruned[cell(r, variant)] = point
        elif not (r.get("ranking") or {}).get("method"):
            continue  # an explicit head set: no search
        else:
            trials.setdefault((cell(r, variant), method(r)), {})[k] = point
    for (where, _), by_k in trials.items():
        if where in unpruned:
            by_k.setdefault(0, unpruned[where])
    return trials


def guided_tables(jobs: list[tuple[dict, str]]) -> list[Table]:
    """The table, from (results, variant) pairs of the report's jobs."""
    guided = [(r, v) for r, v in jobs if r.get("guided")]
    if not guided:
        return []
    full = full_searches(jobs)
    rows = []
    for r, variant in sorted(guided, key=lambda pair: cell(*pair)):
        g = r["guided"]
        chosen = g["dev_selected"]
        trials = full.get((cell(r, variant), method(r)), {})
        searched = select(list(trials.values()))["dev_selected"] if len(trials) > 1 else None
        rows.append(
            [
                *cell(r)[:5],
                r.get("seed"),
                Heads(chosen["k"]),
                Score(chosen["test"]),
                ", ".join(map(str, g["candidates"])),
                r.get("fine_tunes"),
                Heads(searched["k"]) if searched else None,
                Score(searched["test"]) if searched else None,
                f"{len(trials)} of {g.get('max_k', len(trials) - 1) + 1}" if trials else None,
                Delta(chosen["test"] - searched["test"]) if searched else None,
            ]
        )
    return [
        Table(
            key="guided",
            title="Guided choice of k beside the full search",
            columns=[
                "model",
                "task",
                "setting",
                "source",
                "targets",
                "seed",
                "guided k",
                "guided test",
                "re-trained k",
                "guided fine-tunes",
                "full-search k",
                "full-search test",
                "full-search k tried",
                "guided - full",
            ],
            rows=rows,
            notes=[
                "test: the main metric averaged over the targets, at the k chosen on dev "
                "(k = 0 included; ties to fewer heads).",
                "guided: one unpruned fine-tune's masked dev curve picks the re-trained k; "
                "full search: every k re-trained (a pruning.count grid of the same ranking "
                "method, or pruning.mode=search), where the report has one.",
            ],
            group="guided",
            labels=6,
        )
    ]
