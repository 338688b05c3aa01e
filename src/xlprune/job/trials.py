"""A job's fine-tunes: one trial with a given set of heads removed, and the two ways of
choosing k that run several (pruning.mode=search, guided)."""

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def curve_callbacks(job, order=None) -> list:
    """A masked curve's callbacks (conf/callbacks/): the model's own head scores, unless a
    head `order` is given or the ranking is random, then the curve itself."""
    from hydra.utils import instantiate

    cfg = job.cfg
    own = order is None and cfg.ranking.method != "random"
    languages = list(cfg.source) if own else []
    importance = instantiate(cfg.callbacks.head_importance, languages=languages)
    curve = instantiate(cfg.callbacks.mask_curve, order=order)
    return [importance, curve]


def run_trial(job, plan, remove, logger, out_dir: Path, curve=None, order=None):
    """The job's fine-tunes with `remove` heads gone: (metrics, extras for results.json).
    `curve`: draw the masked curve (default: in mask mode), in head `order` if given."""
    from xlprune.job.finetune import evaluate, fine_tune
    from xlprune.job.ranking import curve_ranking
    from xlprune.job.saving import save_model

    metrics: dict = {"dev": {}, "test": {}}
    extra: dict = {"fine_tunes": len(plan)}
    draw = job.cfg.pruning.mode == "mask" if curve is None else curve
    for train_langs, eval_langs in plan:
        callbacks = curve_callbacks(job, order) if draw else []
        extra_dev = callbacks[0].dev_languages if draw else ()
        tagger, trainer, dm = fine_tune(
            job, train_langs, eval_langs, remove, logger or False, callbacks, extra_dev
        )
        for split, by_lang in evaluate(job, tagger, trainer, dm, eval_langs).items():
            metrics[split].update(by_lang)
        if draw:
            importance, masked = callbacks
            points = [dict(p, trained_on=list(train_langs)) for p in masked.curve]
            extra.setdefault("mask_curve", []).extend(points)
            model_type = tagger.model.config.model_type
            own = curve_ranking(job, masked, importance, train_langs, model_type)
            if own is not None:
                extra["curve_ranking"] = own
        if job.cfg.pruning.save:
            extra.setdefault("saved_models", []).append(
                save_model(tagger, dm, out_dir, train_langs, trial_suffix(job, remove))
            )
    return metrics, extra


def trial_suffix(job, remove) -> str:
    """A saved model's folder names its k when a job trains several (search, guided)."""
    return f"-k{len(remove)}" if job.cfg.pruning.mode in ("search", "guided") else ""


def chosen_models(saved: dict, k: int) -> dict:
    """The saved models (pruning.save) of the chosen k, for results.json."""
    return {"saved_models": saved[k]} if saved.get(k) else {}


def search_k(job, plan, ranking, grid, logger, out_dir: Path):
    """pruning.mode=search: k = 0, 1, ... until dev stops improving (search.patience) or
    search.max_k; the job's metrics are those at the dev-selected k."""
    from xlprune.data.metrics import primary
    from xlprune.job.selection import mean_score, select, should_stop

    cfg = job.cfg
    name, targets = primary(cfg.task.metric), list(cfg.targets)
    max_k = min(cfg.search.max_k, grid[0] * grid[1])
    trials, runs, dev_scores = [], {}, []
    saved: dict = {}
    for k in range(max_k + 1):
        metrics, trial = run_trial(job, plan, ranking.lowest(k), logger, out_dir)
        runs[k], saved[k] = metrics, trial.get("saved_models")
        dev_scores.append(mean_score(metrics, "dev", targets, name))
        trials.append(
            {"k": k, "dev": dev_scores[-1], "test": mean_score(metrics, "test", targets, name)}
        )
        log.info("search: k=%d dev %.4f", k, dev_scores[-1])
        if k > 0 and should_stop(dev_scores, cfg.search.patience):
            break
    chosen = select(trials)
    k = chosen["dev_selected"]["k"]
    extra = {
        "fine_tunes": len(plan) * len(trials),
        "search": {
            "patience": cfg.search.patience,
            "max_k": max_k,
            "metric": name,
            "score": "mean over targets",
            "trials": trials,
            **chosen,
        },
        **chosen_models(saved, k),
    }
    return ranking.lowest(k), runs[k], extra


def guided_k(job, plan, grid, logger, out_dir: Path):
    """pruning.mode=guided: fine-tune unpruned with its masked dev curve (k = 0, and, for a
    one-source cross-lingual job, the ranking fine-tune too), re-train only the
    guided.candidates values of k the curve points at, keep the dev-best of k = 0 and them.
    (heads removed, the ranking, metrics at the chosen k, extras for results.json)."""
    from xlprune.data.metrics import primary
    from xlprune.job.ranking import obtain_ranking
    from xlprune.job.selection import curve_means, guided_candidates, mean_score, select

    cfg = job.cfg
    name, targets = primary(cfg.task.metric), list(cfg.targets)
    max_k = min(cfg.pruning.max_k, grid[0] * grid[1])
    model_type = job.spec.grid()[1]
    if ranks_itself(job):  # the unpruned fine-tune is the ranking fine-tune: it stores it
        first, extra = run_trial(job, plan, [], logger, out_dir, curve=True)
        ranking = obtain_ranking(job, grid, model_type)  # what the curve stored
    else:  # the ranking first (stored, a file, random, or its own fine-tune): the curve
        ranking = obtain_ranking(job, grid, model_type)  # masks in its order
        first, extra = run_trial(job, plan, [], logger, out_dir, curve=True, order=ranking.order)
    curve = extra["mask_curve"]
    if [tuple(h) for h in curve[-1]["heads"]] != [
        tuple(h) for h in ranking.lowest(len(curve[-1]["heads"]))
    ]:
        log.warning("guided: the masked curve's head order is not the stored ranking's")
    masked = curve_means(curve, targets, name)
    candidates = guided_candidates(masked, cfg.guided.candidates, cfg.guided.tolerance)
    log.info("guided: masked dev %s; re-train k = %s", _scores(masked), candidates)
    runs, saved = {0: first}, {0: extra.get("saved_models")}
    for k in candidates:
        runs[k], trial = run_trial(job, plan, ranking.lowest(k), logger, out_dir)
        saved[k] = trial.get("saved_models")
    trials = [
        {
            "k": k,
            "dev": mean_score(m, "dev", targets, name),
            "test": mean_score(m, "test", targets, name),
        }
        for k, m in runs.items()
    ]
    chosen = select(trials)
    k = chosen["dev_selected"]["k"]
    log.info("guided: k=%d chosen on dev (%s)", k, _scores({t["k"]: t["dev"] for t in trials}))
    fine_tunes = len(plan) * (1 + len(candidates))
    return (
        ranking.lowest(k),
        ranking,
        runs[k],
        {
            "fine_tunes": fine_tunes,
            "mask_curve": curve,
            "guided": {
                "metric": name,
                "score": "mean over targets",
                "masked_dev": {str(k): v for k, v in masked.items()},
                "candidates": candidates,
                "tolerance": cfg.guided.tolerance,
                "max_k": max_k,
                "trials": trials,
                "full_search_fine_tunes": len(plan) * (max_k + 1),
                **chosen,
            },
            **chosen_models(saved, k),
        },
    )


def ranks_itself(job) -> bool:
    """A one-source cross-lingual job whose ranking is not stored yet: its unpruned
    fine-tune is exactly the ranking fine-tune (trained on the source alone, same recipe
    and seed), so the masked curve's own order is the ranking, stored by the curve."""
    from xlprune.job.ranking import ranking_key

    cfg, rk = job.cfg, job.cfg.ranking
    if cfg.setting.name != "cross" or len(cfg.source) != 1 or rk.get("use") or rk.get("file"):
        return False
    if rk.method == "random":
        return False
    return job.store.entry("rankings", ranking_key(job, cfg.source[0])) is None


def _scores(by_k: dict) -> str:
    return ", ".join(f"k={k} {v:.3f}" for k, v in by_k.items())
