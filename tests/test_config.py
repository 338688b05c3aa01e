"""Every config composes, and everything a config names can be instantiated."""

import pytest
from hydra.utils import instantiate
from jobs import compose

from xlprune.paths import config_dir

GROUPS = ["model", "task", "data", "setting", "trainer", "logger", "experiment", "debug"]


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


def test_paper_recipe_is_the_default(tmp_path):
    cfg = compose([], tmp_path)
    assert (cfg.optim.lr, cfg.trainer.max_epochs, cfg.seed) == (5e-5, 3, 42)
    assert not cfg.get("shuffle", False)  # sequential sampler


def test_synthetic_source_instantiates(tmp_path):
    data = instantiate(compose(["data=synthetic"], tmp_path).data)
    words, labels = data.load("ner", "en", "train")[0]
    assert len(words) == len(labels) > 0
