"""Every e5 experiment runs, fast, on files in its own layout (written from the embedded
corpus): the real model, trimmed, through the experiment's config."""

import pytest

from tests.helpers.jobs import FAST, run_job
from tests.test_bad_input import FORMATS, file_name
from xlprune.data.synthetic import generate

LAYOUTS = {"e5_pos": "ud", "e5_ner": "xtreme", "e5_sf": "xsid"}


def write_layout(root, fmt: str, langs=("en", "de"), n: int = 10):
    task, _, writer = FORMATS[fmt]
    root.mkdir(parents=True)
    for lang in langs:
        for split in ("train", "dev", "test"):
            text = writer(generate(task, lang, split, n=n, seed=5))
            (root / file_name(fmt, lang, split)).write_text(text)
    return root


@pytest.mark.parametrize("experiment", sorted(LAYOUTS))
def test_each_e5_experiment_runs(experiment, tmp_path):
    fmt = LAYOUTS[experiment]
    root = write_layout(tmp_path / fmt, fmt)
    results = run_job(
        [f"+experiment={experiment}", *FAST, f"data.root={root}", "setting=multi"],
        tmp_path / "job",
    )
    assert results["model"] == "e5_small" and results["setting"] == "multi"
    assert results["vocabulary"]["trimmed"] and results["num_heads_total"] == 144
    assert results["metrics"]["test"]["de"]
