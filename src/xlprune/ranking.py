"""Head rankings for a job: computed once per content key (model, task, source language,
seed, score method, recipe, data fingerprint), stored with their score matrix and a
heatmap, and read by every later job that needs them.

Each source language gets its own ranking fine-tune; several sources are combined: `sum`
adds the normalised matrices (the paper's SD), `merge` pools all matrices and ranks each
head by its best (lowest) position, i.e. its minimum score (MD)."""

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from xlprune.errors import XlpruneError

SCORES = "scores.json"
SCORE_METHOD = {"gradient": "gradient", "max": "gradient", "textpruner": "textpruner"}
METHODS = (*SCORE_METHOD, "random")


@dataclass
class Ranking:
    method: str
    sources: list[str]
    order: list[tuple[int, int]]  # every head, the first removed first
    scores: list[list[float]]  # the combined matrix the order came from
    stored: list[str]  # score files it was built from
    computed: int  # ranking fine-tunes this job ran (0: all read from the store)
    options: dict = field(default_factory=dict)  # split, normalise, combine

    def lowest(self, k: int) -> list[tuple[int, int]]:
        return sorted(self.order[:k])

    def record(self) -> dict:
        return {
            "method": self.method,
            "sources": self.sources,
            "stored": self.stored,
            "computed": self.computed,
            **self.options,
        }


def order_heads(method: str, matrices: list, normalise: bool, combine: str):
    """Score matrices (one per source) -> (combined matrix, head order)."""
    import torch

    from xlprune.heads import normalise as norm
    from xlprune.heads import rank_heads

    mats = [norm(m) if normalise else m.double() for m in matrices]
    if combine == "sum":
        combined = torch.stack(mats).sum(0)
    elif combine == "merge":
        combined = torch.stack(mats).min(0).values
    else:
        raise XlpruneError(f"ranking.combine={combine}: choose sum or merge")
    return combined, rank_heads(combined, descending=(method == "max"))


def read_scores(path: Path, grid: tuple[int, int], model_type: str):
    """A stored score matrix, checked: complete, and for this model's head grid."""
    import torch

    try:
        data = json.loads(Path(path).read_text())
        matrix = torch.tensor(data["raw"], dtype=torch.float64)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise XlpruneError(
            f"{path}: not a complete ranking file ({err}); point ranking.file at a "
            "complete scores.json"
        ) from None
    if tuple(matrix.shape) != tuple(grid) or data.get("model_type") != model_type:
        raise XlpruneError(
            f"{path}: ranking of a {data.get('model_type')} model with {tuple(matrix.shape)} "
            f"(layers, heads), but this {model_type} model has {tuple(grid)}; use a ranking "
            "of the same architecture"
        )
    return matrix


def ranking_key(job, lang: str) -> str:
    from xlprune.data.sources import fingerprint

    cfg = job.cfg
    split = cfg.ranking.split
    fields = {
        "model": job.spec.identity(job.texts),
        "task": cfg.task.name,
        "source": lang,
        "seed": cfg.seed,
        "score": SCORE_METHOD[cfg.ranking.method],
        "split": split,
        "labels": job.labels,
        "optim": dict(cfg.optim),
        "epochs": cfg.trainer.max_epochs,
        "batch": [cfg.batch_size, cfg.eval_batch_size, cfg.max_length],
        "data": fingerprint(job.splits["train"][lang] + job.splits[split][lang]),
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:20]


def compute_scores(job, lang: str, directory: Path) -> None:
    """The ranking fine-tune: train on `lang`, then score heads over its `ranking.split`.
    With a W&B job logger it is a W&B run of its own (job type ranking, the job's group)."""
    from xlprune.callbacks.importance import HeadImportance
    from xlprune.faults import reached
    from xlprune.finetune import fine_tune
    from xlprune.loggers import close_logger, log_ranking_run, make_ranking_logger

    cfg = job.cfg
    split, method = cfg.ranking.split, SCORE_METHOD[cfg.ranking.method]
    importance = None

    def callbacks(dm):
        nonlocal importance
        importance = HeadImportance(method, {lang: dm.loader(split, lang)})
        return [importance]

    details = {"score": method, "split": split, "store_key": ranking_key(job, lang)}
    logger = make_ranking_logger(cfg, lang, details)
    try:
        tagger, _, _ = fine_tune(job, [lang], [lang], logger=logger or False, callbacks=callbacks)
        reached("ranking")
        raw = importance.raw[lang]
        write_scores(job, lang, raw, tagger.model.config.model_type, directory)
        if logger is not None:
            _, order = order_heads(cfg.ranking.method, [raw], cfg.ranking.normalise, "sum")
            log_ranking_run(logger, raw.tolist(), order, directory / "heatmap.png")
    finally:
        close_logger(logger)


def write_scores(job, lang: str, raw, model_type: str, directory: Path) -> None:
    """A ranking entry's files: the raw score matrix with what it came from, and its heatmap."""
    from xlprune.report.plots import heatmap

    cfg = job.cfg
    split, method = cfg.ranking.split, SCORE_METHOD[cfg.ranking.method]
    (directory / SCORES).write_text(
        json.dumps(
            {
                "raw": raw.tolist(),
                "model_type": model_type,
                "method": method,
                "source": lang,
                "split": split,
                "model": job.cfg.model.name,
                "task": cfg.task.name,
                "seed": cfg.seed,
            }
        )
    )
    heatmap(
        raw.tolist(),
        directory / "heatmap.png",
        f"{cfg.model.name} {cfg.task.name} {lang}: {method} importance ({split})",
        method,
    )


def obtain_ranking(job, grid: tuple[int, int], model_type: str) -> Ranking:
    """The job's ranking: from `ranking.file`, seeded random, or the store (computing what
    is missing, once, under a lock)."""
    from xlprune.heads import random_scores
    from xlprune.run import timed
    from xlprune.store import stored_file_damage

    rk = job.cfg.ranking
    if rk.method not in METHODS:
        raise XlpruneError(f"ranking.method={rk.method}: choose one of {', '.join(METHODS)}")
    sources = list(job.cfg.source)
    if rk.get("use"):  # one source's own ranking (the paper's EC, one source at a time)
        if rk.use not in sources:
            raise XlpruneError(f"ranking.use={rk.use}: not one of the sources {sources}")
        sources = [rk.use]
    if rk.method == "random":
        matrices, stored, computed = [random_scores(grid, job.cfg.seed)], [], 0
    elif rk.file:
        path = Path(rk.file).expanduser()
        if not path.is_file():
            raise XlpruneError(
                f"ranking.file={rk.file}: no such file; give the path of a scores.json "
                "(a ranking's `stored` path in results.json)"
            )
        if problem := stored_file_damage(path):
            raise XlpruneError(
                f"ranking.file={path}: {problem}; run the job without ranking.file to rebuild "
                "the stored ranking"
            )
        matrices, stored, computed = [read_scores(path, grid, model_type)], [str(path)], 0
    else:
        matrices, stored, computed = [], [], 0
        for lang in sources:
            key = ranking_key(job, lang)
            with timed(job.timing, "ranking"):
                entry, built = job.store.build_once(
                    "rankings", key, lambda d, lang=lang: compute_scores(job, lang, d)
                )
            computed += built
            matrices.append(read_scores(entry / SCORES, grid, model_type))
            stored.append(str(entry / SCORES))
    combined, order = order_heads(rk.method, matrices, rk.normalise, rk.combine)
    options = {"split": rk.split, "normalise": rk.normalise, "combine": rk.combine}
    return Ranking(rk.method, sources, order, combined.tolist(), stored, computed, options)
