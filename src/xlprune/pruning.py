"""Which heads a job removes (a count from a ranking, or an explicit set), the post-hoc
masked curve, and saving a pruned fine-tuned model."""

import logging
from pathlib import Path

from xlprune.errors import XlpruneError

log = logging.getLogger(__name__)

MODES = ("remove", "mask", "search", "guided")


def choose_heads(job):
    """(heads to remove before fine-tuning, the Ranking used or None, (layers, heads))."""
    from xlprune.checks import check_prune_count
    from xlprune.heads import parse_heads
    from xlprune.ranking import obtain_ranking

    p = job.cfg.pruning
    grid, model_type = job.spec.grid()
    if p.mode not in MODES:
        raise XlpruneError(f"pruning.mode={p.mode}: choose one of {', '.join(MODES)}")
    check_prune_count(p.count, *grid)
    if p.heads and p.count:
        raise XlpruneError("pruning.count and pruning.heads both given: choose one")
    if p.mode == "search":
        if p.heads or p.count:
            raise XlpruneError(
                "pruning.mode=search tries k = 0..search.max_k itself; leave "
                "pruning.count at 0 and pruning.heads unset"
            )
        return [], obtain_ranking(job, grid, model_type), grid
    if p.mode == "guided":
        if p.heads or p.count:
            raise XlpruneError(
                "pruning.mode=guided chooses k itself; leave pruning.count at 0 and "
                "pruning.heads unset"
            )
        n, max_k = job.cfg.guided.candidates, min(p.max_k, grid[0] * grid[1])
        if not 1 <= n <= max_k:
            bound = f"pruning.max_k ({max_k})" if max_k == p.max_k else f"the model's {max_k} heads"
            raise XlpruneError(f"guided.candidates={n}: give 1 to {bound} values of k to re-train")
        return [], None, grid  # the ranking once the unpruned fine-tune ran (it may be it)
    if p.mode == "mask" and (p.heads or p.count):
        raise XlpruneError(
            "pruning.mode=mask scores k = 0..pruning.max_k masked heads itself; "
            "leave pruning.count at 0 and pruning.heads unset"
        )
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


class CurveRun:
    """The callbacks of a mask-mode fine-tune and, afterwards, its curve."""

    def __init__(self, job, train_langs, eval_langs, order=None):
        self.job, self.train_langs, self.eval_langs = job, train_langs, eval_langs
        self.curve = None
        self.fixed = order  # a given head order (a guided job's ranking), else the model's own

    def callbacks(self, dm):
        from xlprune.callbacks.importance import HeadImportance
        from xlprune.callbacks.mask_curve import MaskCurve
        from xlprune.ranking import SCORE_METHOD, order_heads

        rk, cfg = self.job.cfg.ranking, self.job.cfg
        sources = list(cfg.source)
        grid = self.job.spec.grid()[0]
        method = SCORE_METHOD.get(rk.method, "gradient")
        own = rk.method != "random" and self.fixed is None
        loaders = {s: dm.loader(rk.split, s) for s in sources} if own else {}
        importance = HeadImportance(method, loaders)

        def order_from(raw):
            if self.fixed is not None:
                return [tuple(h) for h in self.fixed]
            if rk.method == "random":
                from xlprune.heads import random_scores

                raw = {"random": random_scores(grid, cfg.seed)}
            return order_heads(rk.method, list(raw.values()), rk.normalise, rk.combine)[1]

        self.curve = MaskCurve(
            importance,
            order_from,
            {g: dm.loader("dev", g) for g in self.eval_langs},
            {g: dm.gold("dev", g) for g in self.eval_langs},
            cfg.pruning.max_k,
        )
        return [importance, self.curve]

    def ranking(self, model_type: str):
        """What the curve's order came from: the fine-tuned model itself. When that model is
        what a ranking fine-tune trains (one source, trained on it alone), its scores are
        stored as that ranking: later jobs, and the report's Spearman, read them."""
        from xlprune.ranking import SCORES, Ranking, ranking_key, write_scores

        if self.fixed is not None:
            return None  # the order was given: it is that ranking's, nothing new to store
        rk, sources = self.job.cfg.ranking, list(self.job.cfg.source)
        options = {
            "split": rk.split,
            "normalise": rk.normalise,
            "combine": rk.combine,
            "from": "the fine-tuned model (mask mode)",
        }
        stored, built = [], 0
        if rk.method != "random" and self.train_langs == sources == [sources[0]]:
            lang = sources[0]
            raw = self.curve.importance.raw[lang]
            entry, built = self.job.store.build_once(
                "rankings",
                ranking_key(self.job, lang),
                lambda d: write_scores(self.job, lang, raw, model_type, d),
            )
            stored = [str(entry / SCORES)]
        return Ranking(rk.method, sources, self.curve.order, [], stored, int(built), options)

    def results(self, train_langs) -> list[dict]:
        return [dict(point, trained_on=list(train_langs)) for point in self.curve.curve]


def mask_callbacks(job, train_langs, eval_langs, curve: bool | None = None, order=None):
    """(callbacks factory, CurveRun) when the fine-tune draws a masked curve (mask mode,
    or `curve`; in the given head `order`, else the fine-tuned model's own), else
    (None, None)."""
    if not (job.cfg.pruning.mode == "mask" if curve is None else curve):
        return None, None
    run = CurveRun(job, train_langs, eval_langs, order)
    return run.callbacks, run


def save_model(tagger, dm, out_dir: Path, train_langs, suffix: str = "") -> str:
    """safetensors weights, config and removed heads (heads.save_pruned), plus the tokenizer,
    sealed with checksums and renamed into place whole: `model.name_or_path=<this dir>`
    loads it back."""
    import os
    import shutil

    from xlprune.checksums import seal
    from xlprune.heads import save_pruned
    from xlprune.heads.prune import CHECKSUMS_FILE

    directory = Path(out_dir) / f"model-{'-'.join(train_langs)}{suffix}"
    tmp = directory.with_name(f".{directory.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        save_pruned(tagger.model, tmp)
        dm.tokenizer.save_pretrained(tmp)
        seal(tmp, CHECKSUMS_FILE)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # never a half-saved model on disk
        raise
    if directory.exists():
        shutil.rmtree(directory)
    os.replace(tmp, directory)
    return str(directory)


def saved_models_damaged(results: dict) -> bool:
    """Whether a finished job's saved models (pruning.save) are gone or no longer match
    their checksums: then its results are not reused, the job runs again."""
    from xlprune.checksums import damage
    from xlprune.heads.prune import CHECKSUMS_FILE

    for directory in results.get("saved_models", []):
        if problem := damage(directory, CHECKSUMS_FILE):
            log.warning("saved model %s: %s; the job runs again", directory, problem)
            return True
    return False
