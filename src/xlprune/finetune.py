"""One fine-tune: a fresh pre-trained model, optionally with heads removed, trained on some
languages; and its evaluation on others. Shared by a job's runs and by ranking runs."""

import logging
from dataclasses import dataclass, field

from omegaconf import DictConfig

from xlprune.errors import XlpruneError

log = logging.getLogger(__name__)


@dataclass
class Job:
    """What every fine-tune of one job shares."""

    cfg: DictConfig
    spec: object  # models.build.PretrainedSpec | TinySpec
    labels: list[str]
    texts: list[str]  # training text of every language in the job (tiny tokenizers)
    store: object  # store.Store
    splits: dict  # split -> language -> sentences
    timing: dict = field(default_factory=dict)

    @property
    def sentences(self) -> list[list[str]]:
        """Every sentence the job reads (each split and language), as words."""
        from xlprune.data.corpus import all_words

        return all_words(self.splits)


def build_model(job: Job, remove=()):
    """The pre-trained model under the job's seed, with `remove` heads physically removed."""
    import pytorch_lightning as pl

    from xlprune.heads import prune_heads

    pl.seed_everything(job.cfg.seed, workers=True, verbose=False)
    model, tokenizer = job.spec.build(
        labels=job.labels, texts=job.texts, store=job.store, sentences=job.sentences
    )
    if remove:
        try:
            prune_heads(model, remove)
        except NotImplementedError as err:
            raise XlpruneError(str(err)) from None
    return model, tokenizer


def fine_tune(job: Job, train_langs, eval_langs, remove=(), logger=False, callbacks=None):
    """Train a fresh model on `train_langs`; `callbacks(datamodule)` gives the Lightning
    callbacks (they may need the data). Returns (tagger, trainer, datamodule)."""
    from hydra.utils import instantiate

    from xlprune.data.datamodule import TaggingDataModule
    from xlprune.models.tagger import Tagger
    from xlprune.run import timed

    cfg, splits = job.cfg, job.splits
    dev_langs = list(dict.fromkeys([*eval_langs, *cfg.source]))
    with timed(job.timing, "model"):
        model, tokenizer = build_model(job, remove)
    dm = TaggingDataModule(
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
    )
    sizes = ", ".join(f"{g} {len(splits['train'][g])}" for g in train_langs)
    log.info("tokenise: train %s sentences; dev and test %s", sizes, ", ".join(eval_langs))
    with timed(job.timing, "tokenise"):
        dm.setup()
    try:
        tagger = Tagger(model, job.labels, cfg.task.metric, **cfg.optim)
    except NotImplementedError as err:  # an architecture the heads registry lacks
        raise XlpruneError(str(err)) from None
    from xlprune.faults import callbacks as fault_points
    from xlprune.signals import no_requeue, trainer_call

    own = callbacks(dm) if callbacks else []
    trainer = instantiate(cfg.trainer, logger=logger, callbacks=[*own, *fault_points()])
    no_requeue(trainer)  # a signal stops the job; xlprune resumes from its store
    import torch.utils.deterministic

    # deterministic mode also fills every new tensor; results do not depend on it (~1 %)
    torch.utils.deterministic.fill_uninitialized_memory = False
    # with a logger, dev is scored after every epoch (its learning curve); the last of these
    # is the job's dev score, so evaluate() does not score the same model twice
    val = dm.val_dataloader() if logger else None
    if val:
        tagger.prepare_eval("dev", eval_langs, {g: dm.gold("dev", g) for g in eval_langs})
    gone = f", {len(remove)} heads removed" if remove else ""
    epochs = cfg.trainer.max_epochs
    plural = "s" if epochs != 1 else ""
    log.info("fine-tune: %s epoch%s on %s%s", epochs, plural, "+".join(train_langs), gone)
    with timed(job.timing, "fit"):
        trainer_call(
            trainer,
            trainer.fit,
            tagger,
            train_dataloaders=dm.train_dataloader(),
            val_dataloaders=val,
        )
    return tagger, trainer, dm


def evaluate(job: Job, tagger, trainer, dm, eval_langs) -> dict:
    """Dev and test scores of a fine-tuned model, per evaluated language."""
    from xlprune.run import timed
    from xlprune.signals import trainer_call

    metrics = {}
    log.info("evaluate: dev and test on %s", ", ".join(eval_langs))
    for split, loaders in (("dev", dm.val_dataloader), ("test", dm.test_dataloader)):
        if split == "dev" and fit_scored_dev(tagger, trainer, eval_langs):
            metrics[split] = tagger.scores[split]  # scored (and timed) inside fit
            job.timing.setdefault("dev", 0.0)
            continue
        tagger.prepare_eval(split, eval_langs, {g: dm.gold(split, g) for g in eval_langs})
        run_eval = trainer.validate if split == "dev" else trainer.test
        with timed(job.timing, split):
            trainer_call(trainer, run_eval, tagger, dataloaders=loaders(), verbose=False)
        metrics[split] = tagger.scores[split]
    return metrics


def fit_scored_dev(tagger, trainer, eval_langs) -> bool:
    """Whether fit's last validation scored dev on these languages with the final weights."""
    scores = tagger.scores.get("dev") or {}
    return tagger.scored_at.get("dev") == trainer.global_step and list(scores) == list(eval_langs)
