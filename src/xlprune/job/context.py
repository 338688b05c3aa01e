"""What one job's fine-tunes share (`Job`, built by `prepare_job`: the job itself and the
sweep plan's time estimate start from it), the fine-tunes a setting asks for, and the
timing of each phase."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from omegaconf import DictConfig

from xlprune.infra.errors import XlpruneError

if TYPE_CHECKING:
    from xlprune.data.sources import Source
    from xlprune.infra.store import Store
    from xlprune.models.specs import ModelSpec


@dataclass
class Job:
    """What every fine-tune of one job shares."""

    cfg: DictConfig
    spec: ModelSpec
    labels: list[str]
    texts: list[str]  # training text of every language in the job (tiny tokenizers)
    store: Store
    splits: dict  # split -> language -> sentences
    timing: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)  # what loading the data did (Corpus.notes)

    @property
    def sentences(self) -> list[list[str]]:
        """Every sentence the job reads (each split and language), as words."""
        from xlprune.data.corpus import all_words

        return all_words(self.splits)


def prepare_job(cfg: DictConfig, data: Source | None = None, store: Store | None = None) -> Job:
    """The job's model spec, data (every language and split, timed as `data`) and store:
    what its fine-tunes share. The hub's settings are checked before anything reads them."""
    from hydra.utils import instantiate

    from xlprune.config import hf_hub
    from xlprune.data.corpus import languages, load_corpus, make_source
    from xlprune.infra.store import Store

    hf_hub.check_sweep([cfg])  # before the model or data reads the hub's settings
    spec = instantiate(cfg.model)
    data = data if data is not None else make_source(cfg.data)
    langs, source = languages(cfg), list(cfg.source)
    timing: dict = {}
    with timed(timing, "data"):
        corpus = load_corpus(cfg, data, langs, [g for g in cfg.targets if g not in source])
    splits = corpus.splits
    texts = [" ".join(words) for lang in langs for words, _ in splits["train"][lang]]
    store = store if store is not None else Store(cfg.cache_dir)
    return Job(cfg, spec, corpus.labels, texts, store, splits, timing, dict(corpus.notes))


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


def plan_fine_tunes(setting: str, source: list[str], targets: list[str]) -> list[tuple]:
    """(training languages, evaluated languages) per fine-tune. Cross-lingual: one model
    trained on the sources, scored on sources and every target. Multi-lingual: per target,
    a model trained on sources + that target, scored on it. Multi-source: several sources,
    scored on held-out targets only (the paper's Table 6)."""
    for key, langs in (("source", source), ("targets", targets)):
        if not langs or not all(isinstance(x, str) and x for x in langs):
            raise XlpruneError(f"{key}={langs}: give a non-empty list of language codes")
    if setting == "cross":
        return [(list(source), list(dict.fromkeys(source + targets)))]
    if setting == "multi":  # a target that is a source is the cross-lingual run's
        plan = [(list(dict.fromkeys(source + [t])), [t]) for t in targets if t not in source]
        if not plan:
            raise XlpruneError(
                f"setting=multi: every target is a source ({targets}); "
                "give a target to train together with the sources"
            )
        return plan
    if setting == "multi_source":
        if len(source) < 2 or set(source) & set(targets):
            raise XlpruneError(
                f"setting=multi_source: give two or more source languages and held-out "
                f"targets not among them (source={source}, targets={targets})"
            )
        return [(list(source), list(targets))]
    raise XlpruneError(f"setting={setting}: unknown; choose cross, multi or multi_source")


@contextmanager
def timed(timing: dict, phase: str):
    """Time a phase (into `timing`); a signal inside it names it (xlprune.infra.signals)."""
    from xlprune.infra.signals import phase as named

    start = time.perf_counter()
    with named(phase):
        yield
    timing[phase] = round(timing.get(phase, 0.0) + time.perf_counter() - start, 3)
