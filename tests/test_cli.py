"""The command line as a user meets it: help, a multirun, and bad input that fails in one
line, exits non-zero and leaves no results.json."""

import json
import os
import sys

import pytest
from jobs import cli, write_xtreme_dir


def test_help_lists_the_groups_from_any_directory(tmp_path):
    done = cli(["--help"], cwd=tmp_path)
    assert done.returncode == 0
    for group in ("model:", "task:", "data:", "setting:", "trainer:", "logger:", "experiment:"):
        assert group in done.stdout


def test_help_imports_nothing_heavy(tmp_path):
    code = (
        "import sys, runpy; sys.argv=['xlprune','--help'];\n"
        "try: runpy.run_module('xlprune', run_name='__main__')\n"
        "except SystemExit: pass\n"
        "print([m for m in ('torch','pytorch_lightning','transformers') if m in sys.modules])"
    )
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_demo_experiment_runs_as_a_multirun(tmp_path):
    done = cli(["+experiment=demo", "+debug=fast", "logger=none", "-m"], cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    results = [json.loads(p.read_text()) for p in tmp_path.glob("multirun/*/*/*/results.json")]
    assert len(results) == 48  # 2 models x 2 tasks x 2 sources x 2 settings x 3 prune counts
    assert {
        (r["model"], r["task"], r["setting"], r["source"][0], r["prune_count"]) for r in results
    } == {
        (m, t, s, src, k)
        for m in ("tiny_bert", "tiny_xlmr")
        for t in ("ner", "pos")
        for s in ("cross", "multi")
        for src in ("en", "de")
        for k in (0, 2, 4)
    }
    # one ranking fine-tune per (model, task, source), shared by every k > 0 job
    assert sum(r["ranking"]["computed"] for r in results if r["ranking"]) == 8
    assert "48 job results under" in done.stdout
    assert "fine-tunes run: 56 (48 by the jobs, 8 to rank heads)" in done.stdout
    assert "[xlprune] sweep: 48 jobs, 48 fine-tunes and at most 8 ranking" in done.stdout


def assert_clean_failure(done, *needles: str, cwd=None):
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("xlprune: error:"), done.stderr[-2000:]
    for needle in needles:
        assert needle in lines[-1]
    if cwd is not None:
        assert not list(cwd.rglob("results.json"))


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("model=bert_huge", "model=bert_huge"),
        ("task=parsing", "task=parsing"),
        ("setting=sideways", "setting=sideways"),
        ("+experiment=nope", "experiment=nope"),
    ],
)
def test_unknown_choice(tmp_path, override, needle):
    assert_clean_failure(cli([override], cwd=tmp_path), needle, "choose one of", cwd=tmp_path)


def test_unknown_language(tmp_path):
    done = cli(["+debug=fast", "logger=none", "source=[en]", "targets=[xx]"], cwd=tmp_path)
    assert_clean_failure(done, "xx", cwd=tmp_path)


def test_missing_data_directory_and_file(tmp_path):
    done = cli(["data=xtreme", f"data.root={tmp_path / 'nowhere'}"], cwd=tmp_path)
    assert_clean_failure(done, "data.root", cwd=tmp_path)
    root = write_xtreme_dir(tmp_path / "panx", "ner", ["en"])
    done = cli(["data=xtreme", f"data.root={root}", "targets=[de]"], cwd=tmp_path)
    assert_clean_failure(done, "train-de.tsv", "data.pattern.train", cwd=tmp_path)
    done = cli(["data=xtreme"], cwd=tmp_path)
    assert_clean_failure(done, "data.root", cwd=tmp_path)


def test_hub_model_while_offline_names_the_override(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "xlprune", "model=xlmr", "logger=none"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert_clean_failure(done, "model.name_or_path=xlm-roberta-base", cwd=tmp_path)


def test_token_without_label(tmp_path):
    root = write_xtreme_dir(tmp_path / "panx", "ner", ["en", "de"])
    with (root / "dev-de.tsv").open("a") as fh:
        fh.write("orphan\n")
    done = cli(["+debug=fast", "logger=none", "data=xtreme", f"data.root={root}"], cwd=tmp_path)
    assert_clean_failure(done, "dev-de.tsv:", "token<TAB>label", cwd=tmp_path)
