"""Head importance after fine-tuning (the paper's steps 2-3) and the rankings the field
uses beside it, computed on the fine-tuned model with no parameter update, over data read
from the trainer's DataModule; and the one rule that turns score matrices into a head
order.

- gradient (and max, its reverse): sum |dL/dgate| at `granularity` sentence (the bertology
  recipe), batch or token (Michel et al.'s per-token decomposition);
- textpruner: |sum W dL/dW| over each head's output-projection columns;
- iterative: Michel et al. 2019 section 4, the removal order of masking `step` of the
  remaining heads per round and re-scoring under the mask; stored as positions;
- shapley: Held & Yang 2022, signed Shapley values of each head for the dev score of the
  source (on=source, over its `split`) or of the job's targets (on=target, their dev),
  truncated Monte Carlo with a budget of `samples` coalitions, each valued by one pass over
  every language valued; lowest (most harmful) first."""

import logging

import pytorch_lightning as pl

from xlprune.config.rankings import COMBINE, METHODS, ORDERED, SCORE_METHOD

MODEL_INPUTS = ("input_ids", "attention_mask", "labels")
log = logging.getLogger(__name__)


def model_batches(loader):
    """The loader's batches as model inputs (our collate adds bookkeeping keys)."""
    for batch in loader:
        yield {key: batch[key] for key in MODEL_INPUTS}


def order_heads(method: str, matrices: list, normalise: bool, combine: str):
    """Score matrices (one per source) -> (combined matrix, head order, first removed
    first). `sum` adds the (normalised) matrices (the paper's SD); `merge` ranks each head
    by its best position, i.e. its minimum score (MD); `max` removes the highest first.
    Iterative positions and Shapley values are ranked as they are."""
    import torch

    from xlprune.heads import normalise as norm
    from xlprune.heads import rank_heads

    if combine not in COMBINE:
        raise ValueError(f"combine={combine}: choose one of {', '.join(COMBINE)}")
    scale = normalise and SCORE_METHOD.get(method) not in ORDERED
    mats = [norm(m) if scale else m.double() for m in matrices]
    stacked = torch.stack(mats)
    combined = stacked.sum(0) if combine == "sum" else stacked.min(0).values
    return combined, rank_heads(combined, descending=(method == "max"))


class HeadImportance(pl.Callback):
    """At the end of fit, `raw[lang]` = the (layers x heads) matrix of `method` over that
    language's `split` (trainer.datamodule.loader), and `details[lang]` what it cost and
    found (dev passes, rounds, Shapley's harmful heads). Random computes nothing."""

    def __init__(
        self,
        method: str = "gradient",
        split: str = "dev",
        languages=(),
        granularity: str = "sentence",
        normalise: bool = True,
        step: float = 0.1,
        samples: int = 2000,
        tolerance: float = 0.0,
        truncation: float = 0.0,
        on: str = "source",
        targets=(),
        seed: int = 0,
    ):
        if method not in METHODS:
            raise ValueError(f"method={method}: choose one of {', '.join(METHODS)}")
        self.method, self.split, self.languages = method, split, list(languages)
        self.granularity, self.normalise, self.step = granularity, normalise, step
        self.samples, self.tolerance, self.truncation = samples, tolerance, truncation
        self.on, self.targets, self.seed = on, list(targets), seed
        self.raw: dict = {}
        self.details: dict = {}

    @property
    def dev_languages(self) -> list[str]:
        """Languages besides the trained ones whose dev this reads (the DataModule must
        hold them): the targets of a target-language Shapley game."""
        return self.targets if self.targeted else []

    @property
    def targeted(self) -> bool:
        return SCORE_METHOD.get(self.method) == "shapley" and self.on == "target"

    def on_fit_end(self, trainer, pl_module) -> None:
        score = SCORE_METHOD.get(self.method)
        if score is None:
            return
        dm = trainer.datamodule
        for lang in self.languages:
            if self.targeted and self.raw:  # the targets' game is one for every source
                first = next(iter(self.raw))
                # the same matrix, its cost counted once (Ranking.record sums the passes)
                shared = dict(self.details[first], passes=0, coalitions=0, same_as=first)
                self.raw[lang], self.details[lang] = self.raw[first], shared
                continue
            raw, details = getattr(self, score)(dm, lang, pl_module)
            self.raw[lang] = raw.detach().cpu()
            self.details[lang] = details

    def gradient(self, dm, lang: str, pl_module):
        from xlprune.heads import gate_importance

        loader = dm.loader(self.split, lang)
        raw = gate_importance(pl_module.model, model_batches(loader), granularity=self.granularity)
        return raw, {"passes": 1}

    def textpruner(self, dm, lang: str, pl_module):
        from xlprune.heads import textpruner_importance

        loader = dm.loader(self.split, lang)
        return textpruner_importance(pl_module.model, model_batches(loader)), {"passes": 1}

    def iterative(self, dm, lang: str, pl_module):
        from xlprune.heads import iterative_order

        loader = dm.loader(self.split, lang)
        found = iterative_order(
            pl_module.model,
            lambda: model_batches(loader),
            step=self.step,
            granularity=self.granularity,
            normalise_scores=self.normalise,
        )
        return found.ranks, {"passes": found.passes, "rounds": len(found.rounds)}

    def shapley(self, dm, lang: str, pl_module):
        """Values for the mean score (the task's main metric) of the languages the
        ranking is for, the model's gates set per coalition (cached, truncated): the
        source's `split`, or the targets' dev."""
        from xlprune.data.metrics import primary
        from xlprune.heads import head_grid, masked_value, pruned_heads, shapley_values

        langs, split = (self.targets, "dev") if self.targeted else ([lang], self.split)
        name = primary(pl_module.metric)
        grid = head_grid(pl_module.model)
        gone = set(pruned_heads(pl_module.model))
        heads = [(a, b) for a in range(grid[0]) for b in range(grid[1]) if (a, b) not in gone]

        def dev_score(_model) -> float:
            scores = [
                pl_module.score_loader(dm.loader(split, g), dm.gold(split, g))[name] for g in langs
            ]
            return sum(scores) / len(scores)

        found = shapley_values(
            heads,
            masked_value(pl_module.model, dev_score, heads),
            self.samples,
            seed=self.seed,
            tolerance=self.tolerance,
            truncation=self.truncation,
        )
        details = {
            "passes": found.evaluations * len(langs),  # one per coalition and language
            "coalitions": found.evaluations,
            "permutations": found.permutations,
            "split": split,
            "converged": found.converged,
            "value_of": langs,
            "metric": name,
            "full_value": found.full_value,
            "empty_value": found.empty_value,
            "harmful": [[a, b, found.values[(a, b)]] for a, b in found.harmful()],
        }
        if found.full_value <= found.empty_value:  # the heads together add nothing
            details["warning"] = (
                f"shapley: dev {name} with every head ({found.full_value:.3f}) is no better "
                f"than with none ({found.empty_value:.3f}): the model has not learnt from its "
                "heads, so the values (and the harmful heads) are noise"
            )
            log.warning(details["warning"])
        return found.matrix(grid), details
