"""Every config composes, and everything a config names can be instantiated."""

import pytest
from hydra.utils import instantiate

from tests.helpers.jobs import compose
from xlprune.config.paths import config_dir

GROUPS = ["model", "task", "data", "setting", "trainer", "logger", "ranking", "callbacks"]
GROUPS += ["experiment", "debug"]


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (config_dir() / group).glob("*.yaml"))


@pytest.mark.parametrize("group", GROUPS)
def test_every_option_composes(group, tmp_path):
    assert options(group), f"conf/{group} is empty"
    for option in options(group):
        prefix = "+" if group in ("experiment", "debug") else ""
        cfg = compose([f"{prefix}{group}={option}"], tmp_path)
        assert cfg.model.name and cfg.task.name and cfg.setting.name


@pytest.mark.parametrize("model", options("model"))
def test_model_specs_instantiate(model, tmp_path):
    spec = instantiate(compose([f"model={model}"], tmp_path).model)
    assert spec.name == model
    assert spec.needs_hub() == (model in ("mbert", "xlmr"))


@pytest.mark.parametrize("logger", options("logger"))
def test_trainer_and_logger_instantiate(logger, tmp_path):
    import pytorch_lightning as pl

    cfg = compose([f"logger={logger}"], tmp_path)
    built = instantiate(cfg.logger) if "_target_" in (cfg.logger or {}) else None
    trainer = instantiate(cfg.trainer, logger=built or False)
    assert isinstance(trainer, pl.Trainer)
    assert trainer.max_epochs == 3  # the paper's recipe is the default


@pytest.mark.parametrize("ranking", options("ranking"))
def test_callbacks_instantiate_for_every_ranking(ranking, tmp_path):
    """conf/callbacks/ takes every value from ranking.* and the job's languages."""
    from xlprune.callbacks.head_importance import HeadImportance
    from xlprune.callbacks.mask_curve import MaskCurve

    cfg = compose([f"ranking={ranking}", "source=[en,de]", "targets=[fr]"], tmp_path)
    importance = instantiate(cfg.callbacks.head_importance)
    curve = instantiate(cfg.callbacks.mask_curve)
    assert isinstance(importance, HeadImportance) and isinstance(curve, MaskCurve)
    assert importance.method == curve.method == cfg.ranking.method
    assert importance.languages == ["en", "de"] and importance.targets == ["fr"]
    assert importance.granularity == cfg.ranking.granularity and curve.max_k == cfg.pruning.max_k


def test_paper_recipe_is_the_default(tmp_path):
    cfg = compose([], tmp_path)
    assert (cfg.optim.lr, cfg.trainer.max_epochs, cfg.seed) == (5e-5, 3, 42)
    assert not cfg.get("shuffle", False)  # sequential sampler


def test_synthetic_source_instantiates(tmp_path):
    from xlprune.data.corpus import make_source

    data = make_source(compose(["data=synthetic"], tmp_path).data)
    words, labels = data.load("ner", "en", "train")[0]
    assert len(words) == len(labels) > 0


@pytest.mark.parametrize("data", options("data"))
def test_every_data_source_instantiates(data, tmp_path):
    from xlprune.data.corpus import make_source

    cfg = compose(
        [f"data={data}", f"data.root={tmp_path}"]
        if data not in ("synthetic", "wikiann", "panx_hub", "udpos_hub", "ud_hub", "massive")
        else [f"data={data}"],
        tmp_path,
    )
    source = make_source(cfg.data)
    assert source.name == data
    assert cfg.data.train_fraction == 1.0 and cfg.data.subset == 0  # sampling keys merged in


def test_named_language_sets(tmp_path):
    cfg = compose(["targets=${langsets.paper}"], tmp_path)
    assert list(cfg.targets) == ["en", "zh", "ar", "he", "ja", "fa", "de", "nl", "ur"]
    assert len(compose(["targets=${langsets.multiatis}"], tmp_path).targets) == 9


def test_granularities_the_config_allows_are_the_ones_heads_computes():
    """config.rankings spells them out (a config is checked before torch loads)."""
    from xlprune.config import rankings
    from xlprune.heads import GRANULARITIES

    assert rankings.GRANULARITIES == GRANULARITIES
    assert compose([]).ranking.granularity == rankings.DEFAULT_GRANULARITY
