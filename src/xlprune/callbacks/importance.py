"""Head importance after fine-tuning (the paper's step 2-3): per-head scores over some
languages' data with back-propagation and no parameter update."""

import pytorch_lightning as pl

MODEL_INPUTS = ("input_ids", "attention_mask", "labels")


def model_batches(loader):
    """The loader's batches as model inputs (our collate adds bookkeeping keys)."""
    for batch in loader:
        yield {key: batch[key] for key in MODEL_INPUTS}


def raw_scores(method: str, model, loader):
    from xlprune.heads import gate_importance, textpruner_importance

    if method == "textpruner":
        return textpruner_importance(model, model_batches(loader))
    return gate_importance(model, model_batches(loader))


class HeadImportance(pl.Callback):
    """At the end of fit, `raw[lang]` = the (layers x heads) score matrix summed over that
    language's loader. `method`: gradient (sum |dL/dgate|) or textpruner."""

    def __init__(self, method: str, loaders: dict):
        self.method = method
        self.loaders = loaders
        self.raw: dict = {}

    def on_fit_end(self, trainer, pl_module) -> None:
        for lang, loader in self.loaders.items():
            self.raw[lang] = raw_scores(self.method, pl_module.model, loader).detach().cpu()
