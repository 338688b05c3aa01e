"""Every test runs offline, with its own artefact cache and silent W&B."""

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ["WANDB_SILENT"] = "true"

from tests.helpers.jobs import FAST, run_job  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _cache(tmp_path_factory):
    os.environ["XLPRUNE_CACHE"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture
def fast_job(tmp_path):
    def go(*overrides: str) -> dict:
        return run_job([*FAST, *overrides], tmp_path / "job")

    return go
