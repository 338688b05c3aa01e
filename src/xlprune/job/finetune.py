"""One fine-tune: a fresh pre-trained model, optionally with heads removed, trained on some
languages; and its evaluation on others. Shared by a job's runs, its ranking runs and the
sweep plan's calibration. Lightning carries the data: fit, validate and test get the
DataModule, and callbacks read it from the trainer."""

import logging

from xlprune.infra.errors import XlpruneError
from xlprune.job.context import Job, build_model, timed

log = logging.getLogger(__name__)


def make_datamodule(job: Job, tokenizer, train_langs, eval_langs, dev_in_fit: bool, extra_dev=()):
    """Training data of `train_langs`; dev of the evaluated languages, the sources (a
    ranking scores source dev) and `extra_dev` (what a callback reads besides); test of
    the evaluated ones. `dev_in_fit`: score dev after every epoch of fit (a logged
    learning curve), else only when asked."""
    from xlprune.data.datamodule import TaggingDataModule

    cfg, splits = job.cfg, job.splits
    dev_langs = list(dict.fromkeys([*eval_langs, *cfg.source, *extra_dev]))
    return TaggingDataModule(
        tokenizer,
        {lang: splits["train"][lang] for lang in train_langs},
        {lang: splits["dev"][lang] for lang in dev_langs},
        {lang: splits["test"][lang] for lang in eval_langs},
        job.labels,
        batch_size=cfg.batch_size,
        eval_batch_size=cfg.eval_batch_size,
        max_length=cfg.max_length,
        shuffle=cfg.get("shuffle", False),
        eval_langs=eval_langs,
        store=job.store,
        dev_in_fit=dev_in_fit,
    )


def make_tagger(job: Job, model):
    from xlprune.models.tagger import Tagger

    try:
        return Tagger(model, job.labels, job.cfg.task.metric, **job.cfg.optim)
    except NotImplementedError as err:  # an architecture the heads registry lacks
        raise XlpruneError(str(err)) from None


def make_trainer(job: Job, logger=False, callbacks=(), **overrides):
    """The configured Lightning Trainer with the job's callbacks and the fault points."""
    import torch.utils.deterministic
    from hydra.utils import instantiate

    from xlprune.infra.faults import callbacks as fault_points
    from xlprune.infra.signals import no_requeue

    trainer = instantiate(
        job.cfg.trainer, logger=logger, callbacks=[*callbacks, *fault_points()], **overrides
    )
    no_requeue(trainer)  # a signal stops the job; xlprune resumes from its store
    # deterministic mode also fills every new tensor; results do not depend on it (~1 %)
    torch.utils.deterministic.fill_uninitialized_memory = False
    return trainer


def fine_tune(
    job: Job, train_langs, eval_langs, remove=(), logger=False, callbacks=(), extra_dev=()
):
    """Train a fresh model on `train_langs` with `callbacks` (Lightning callbacks, built
    from conf/callbacks/), whose data holds the dev of `extra_dev` too. Returns (tagger,
    trainer, datamodule)."""
    from xlprune.infra.signals import trainer_call

    with timed(job.timing, "model"):
        model, tokenizer = build_model(job, remove)
    # with a logger, dev is scored after every epoch (its learning curve); the last of these
    # is the job's dev score, so evaluate() does not score the same model twice
    dm = make_datamodule(
        job, tokenizer, train_langs, eval_langs, dev_in_fit=bool(logger), extra_dev=extra_dev
    )
    sizes = ", ".join(f"{g} {len(job.splits['train'][g])}" for g in train_langs)
    log.info("tokenise: train %s sentences; dev and test %s", sizes, ", ".join(eval_langs))
    with timed(job.timing, "tokenise"):
        dm.setup()
    tagger = make_tagger(job, model)
    trainer = make_trainer(job, logger, callbacks)
    gone = f", {len(remove)} heads removed" if remove else ""
    epochs = job.cfg.trainer.max_epochs
    plural = "s" if epochs != 1 else ""
    log.info("fine-tune: %s epoch%s on %s%s", epochs, plural, "+".join(train_langs), gone)
    with timed(job.timing, "fit"):
        trainer_call(trainer, trainer.fit, tagger, datamodule=dm)
    return tagger, trainer, dm


def evaluate(job: Job, tagger, trainer, dm, eval_langs) -> dict:
    """Dev and test scores of a fine-tuned model, per evaluated language."""
    from xlprune.infra.signals import trainer_call

    metrics = {}
    log.info("evaluate: dev and test on %s", ", ".join(eval_langs))
    for split, run_eval in (("dev", trainer.validate), ("test", trainer.test)):
        if split == "dev" and fit_scored_dev(tagger, trainer, eval_langs):
            metrics[split] = tagger.scores[split]  # scored (and timed) inside fit
            job.timing.setdefault("dev", 0.0)
            continue
        with timed(job.timing, split):
            trainer_call(trainer, run_eval, tagger, datamodule=dm, verbose=False)
        metrics[split] = tagger.scores[split]
    return metrics


def fit_scored_dev(tagger, trainer, eval_langs) -> bool:
    """Whether fit's last validation scored dev on these languages with the final weights."""
    scores = tagger.scores.get("dev") or {}
    return tagger.scored_at.get("dev") == trainer.global_step and list(scores) == list(eval_langs)
