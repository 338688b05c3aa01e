"""Head rankings for a job: computed once per content key (model, task, source language,
seed, score method, recipe, data fingerprint), stored with their score matrix and a
heatmap, and read by every later job that needs them.

Each source language gets its own ranking fine-tune; several sources are combined: `sum`
adds the normalised matrices (the paper's SD), `merge` pools all matrices and ranks each
head by its best (lowest) position, i.e. its minimum score (MD)."""

import json
from dataclasses import dataclass, field
from pathlib import Path

from xlprune.config.rankings import GRADIENT_BASED, SCORE_METHOD
from xlprune.infra.errors import XlpruneError

SCORES = "scores.json"


@dataclass
class Ranking:
    method: str
    sources: list[str]
    order: list[tuple[int, int]]  # every head, the first removed first
    scores: list[list[float]]  # the combined matrix the order came from
    stored: list[str]  # score files it was built from
    computed: int  # ranking fine-tunes this job ran (0: all read from the store)
    options: dict = field(default_factory=dict)  # split, normalise, combine, method's own
    details: list = field(default_factory=list)  # per stored file: passes, harmful heads...

    def lowest(self, k: int) -> list[tuple[int, int]]:
        return sorted(self.order[:k])

    def record(self) -> dict:
        out = {
            "method": self.method,
            "sources": self.sources,
            "stored": self.stored,
            "computed": self.computed,
            **self.options,
        }
        if any("passes" in d for d in self.details):  # what computing the ranking cost
            out["passes"] = sum(int(d.get("passes", 0)) for d in self.details)
        if self.method == "shapley":  # heads whose value is negative: they hurt the score
            out["harmful"] = [h for d in self.details for h in d.get("harmful", [])]
            out["shapley"] = [{k: v for k, v in d.items() if k != "harmful"} for d in self.details]
        return out


def method_options(cfg) -> dict:
    """The ranking method's own settings: part of its store key, its score file and
    results.json (one home, so the three agree)."""
    rk = cfg.ranking
    score = SCORE_METHOD.get(rk.method)
    out = {"granularity": rk.granularity} if score in GRADIENT_BASED else {}
    if score == "iterative":  # its rounds re-normalise the remaining heads (or not)
        out.update(step=rk.step, normalise=rk.normalise)
    if score == "shapley":
        out.update(samples=rk.samples, tolerance=rk.tolerance, truncation=rk.truncation)
        out["on"] = rk.on
        if rk.on == "target":
            out["targets"] = list(cfg.targets)
    return out


def read_scores(path: Path, grid: tuple[int, int], model_type: str):
    """A stored score matrix, checked: complete, and for this model's head grid; with what
    computing it cost and found (`details`, empty for older files)."""
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
    details = data.get("details")
    return matrix, dict(details) if isinstance(details, dict) else {}


def ranking_key(job, lang: str) -> str:
    from xlprune.data.sources import fingerprint
    from xlprune.infra.store import key

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
        **method_options(cfg),
    }
    if cfg.ranking.get("on") == "target" and "targets" in fields:  # scored on their dev
        fields["target_dev"] = fingerprint([s for g in cfg.targets for s in job.splits["dev"][g]])
    return key(**fields)


def compute_scores(job, lang: str, directory: Path) -> None:
    """The ranking fine-tune: train on `lang`, then score heads over its `ranking.split`
    (callbacks.head_importance). With a W&B job logger it is a W&B run of its own (job
    type ranking, the job's group). Its time counts once, as the job's `ranking` phase."""
    from dataclasses import replace

    from hydra.utils import instantiate

    from xlprune.callbacks.head_importance import order_heads
    from xlprune.infra.faults import reached
    from xlprune.job.finetune import fine_tune
    from xlprune.job.loggers import close_logger, log_ranking_run, make_ranking_logger

    cfg = job.cfg
    split, method = cfg.ranking.split, SCORE_METHOD[cfg.ranking.method]
    importance = instantiate(cfg.callbacks.head_importance, languages=[lang])
    details = {"score": method, "split": split, "store_key": ranking_key(job, lang)}
    logger = make_ranking_logger(cfg, lang, details)
    try:
        own = replace(job, timing={})  # inside the job's `ranking` phase, not its `fit`
        tagger, _, _ = fine_tune(
            own,
            [lang],
            [lang],
            logger=logger or False,
            callbacks=[importance],
            extra_dev=importance.dev_languages,
        )
        reached("ranking")
        raw = importance.raw[lang]
        model_type = tagger.model.config.model_type
        write_scores(job, lang, raw, model_type, directory, importance.details.get(lang))
        if logger is not None:
            _, order = order_heads(cfg.ranking.method, [raw], cfg.ranking.normalise, "sum")
            log_ranking_run(logger, raw.tolist(), order, directory / "heatmap.png")
    finally:
        close_logger(logger)


def write_scores(job, lang: str, raw, model_type: str, directory: Path, details=None) -> None:
    """A ranking entry's files: the raw score matrix with what it came from and what it
    cost (`details`), and its heatmap."""
    from xlprune.job.heatmap import heatmap

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
                **method_options(cfg),
                "details": details or {},
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
    from xlprune.callbacks.head_importance import order_heads
    from xlprune.heads import random_scores
    from xlprune.infra.store import stored_file_damage
    from xlprune.job.context import timed

    rk = job.cfg.ranking
    sources = list(job.cfg.source)
    if rk.get("use"):  # one source's own ranking (the paper's EC; config.checks: a source)
        sources = [rk.use]
    if rk.method == "random":
        matrices, stored, computed, details = [random_scores(grid, job.cfg.seed)], [], 0, []
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
        matrix, found = read_scores(path, grid, model_type)
        matrices, stored, computed, details = [matrix], [str(path)], 0, [found]
    else:
        matrices, stored, computed, details = [], [], 0, []
        for lang in sources:
            key = ranking_key(job, lang)
            with timed(job.timing, "ranking"):
                entry, built = job.store.build_once(
                    "rankings", key, lambda d, lang=lang: compute_scores(job, lang, d)
                )
            computed += built
            matrix, found = read_scores(entry / SCORES, grid, model_type)
            matrices.append(matrix)
            details.append(found)
            stored.append(str(entry / SCORES))
    combined, order = order_heads(rk.method, matrices, rk.normalise, rk.combine)
    options = {"split": rk.split, "normalise": rk.normalise, "combine": rk.combine}
    options.update(method_options(job.cfg))
    return Ranking(rk.method, sources, order, combined.tolist(), stored, computed, options, details)


def check_method(cfg, grid: tuple[int, int]) -> None:
    """What only the model's size can tell: a Shapley budget that cannot finish one
    permutation of its heads."""
    from xlprune.heads import minimum_samples

    rk, heads = cfg.ranking, grid[0] * grid[1]
    least = minimum_samples(heads)
    if rk.method == "shapley" and int(rk.samples) < least:
        raise XlpruneError(
            f"ranking.samples={rk.samples}: one antithetic pair of permutations of this "
            f"model's {heads} heads needs {least} dev passes; give ranking.samples={least} "
            "or more"
        )


def curve_ranking(job, curve, importance, train_langs, model_type: str) -> Ranking | None:
    """What a masked curve's order came from: the fine-tuned model itself (None when the
    order was given: it is that ranking's). When that model is what a ranking fine-tune
    trains (one source, trained on it alone), its scores are stored as that ranking:
    later jobs, and the report's Spearman, read them."""
    if curve.fixed is not None:
        return None
    rk, sources = job.cfg.ranking, list(job.cfg.source)
    options = {
        "split": rk.split,
        "normalise": rk.normalise,
        "combine": rk.combine,
        "from": "the fine-tuned model (mask mode)",
        **method_options(job.cfg),
    }
    stored, built = [], 0
    if rk.method != "random" and list(train_langs) == sources == [sources[0]]:
        lang = sources[0]
        raw = importance.raw[lang]
        entry, built = job.store.build_once(
            "rankings",
            ranking_key(job, lang),
            lambda d: write_scores(job, lang, raw, model_type, d, importance.details.get(lang)),
        )
        stored = [str(entry / SCORES)]
    details = [importance.details[g] for g in sources if g in importance.details]
    return Ranking(rk.method, sources, curve.order, [], stored, int(built), options, details)
