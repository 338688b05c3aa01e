"""Nothing on disk or in a config runs code: weights load through safetensors only (a
pickled .bin next to them is never opened), and a config may name only the project's and
Lightning's classes."""

import json
import re
from pathlib import Path

import pytest

from tests.helpers.jobs import FAST, run_job
from tests.test_local_model import save_checkpoint
from xlprune.config.checks import check_targets
from xlprune.infra.errors import XlpruneError

SRC = Path(__file__).parents[1] / "src" / "xlprune"


class Trap:
    """Unpickling this creates a file: proof that something unpickled it."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickle_beside_the_safetensors_is_never_opened(tmp_path):
    import pickle

    checkpoint = save_checkpoint(tmp_path / "ckpt", "xlmr")
    marker = tmp_path / "unpickled"
    for name in ("pytorch_model.bin", "training_args.bin"):
        (checkpoint / name).write_bytes(pickle.dumps(Trap(marker)))
    results = run_job([*FAST, "model=xlmr", f"model.name_or_path={checkpoint}"], tmp_path / "job")
    assert results["metrics"]["test"]["en"]["f1"] >= 0
    assert not marker.exists()
    pickle.loads((checkpoint / "pytorch_model.bin").read_bytes())  # the trap is armed
    assert marker.exists()


def test_no_unsafe_loader_in_the_source():
    unsafe = re.compile(
        r"torch\.load\(|import (pickle|dill|cloudpickle)|pickle\.loads?\(|(?<![.\w])eval\(|"
        r"(?<![.\w])exec\(|yaml\.load\(|"
        r"yaml\.unsafe_load|register_new_resolver|trust_remote_code=True"
    )
    found = [
        f"{path.relative_to(SRC)}:{n}: {line.strip()}"
        for path in SRC.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if unsafe.search(line) and not line.lstrip().startswith("#")
    ]
    assert not found, found
    build = (SRC / "models" / "specs.py").read_text()
    assert "use_safetensors=True" in build


@pytest.mark.parametrize(
    "target",
    ["os.system", "builtins.eval", "subprocess.Popen", "torch.load", "pickle.loads"],
)
def test_a_config_cannot_name_other_callables(target):
    with pytest.raises(XlpruneError, match=re.escape(f"model._target_={target}")):
        check_targets({"model": {"_target_": target, "name": "x"}})
    with pytest.raises(XlpruneError, match=r"logger\.callbacks\[0\]\._target_"):
        check_targets({"logger": {"callbacks": [{"_target_": target}]}})


def test_every_shipped_config_names_allowed_classes_only(tmp_path):
    from omegaconf import OmegaConf

    from tests.helpers.jobs import compose

    conf = SRC.parents[1] / "conf"
    for group in ("model", "data", "logger", "trainer"):
        for option in sorted((conf / group).glob("*.yaml")):
            cfg = compose([f"{group}={option.stem}"])
            check_targets(json.loads(json.dumps(OmegaConf.to_container(cfg[group]))))


@pytest.mark.parametrize(
    "target",
    [
        "pytorch_lightning.core.saving.pl_load",
        "xlprune.infra.atomic.write_text",
        "xlprune.job.run.run",
    ],
)
def test_functions_inside_allowed_packages_are_refused(target):
    with pytest.raises(XlpruneError, match="ALLOWED_TARGETS"):
        check_targets({"logger": {"_target_": target}})


def test_lightning_loggers_and_callbacks_are_allowed():
    check_targets(
        {
            "logger": {"_target_": "pytorch_lightning.loggers.TensorBoardLogger"},
            "cb": [{"_target_": "pytorch_lightning.callbacks.EarlyStopping"}],
        }
    )
