"""The command line as a user meets it: help and a multirun. Bad input (one-line errors,
non-zero exit, no results.json) is tests/test_bad_input.py."""

import json
import re
import sys

from tests.helpers.jobs import cli


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
    # two jobs side by side: progress counts the finished jobs on disk, so it ends at 0 left
    progress = re.findall(r"\[xlprune\] job \d+ of 48 done in .*?, about [\d:]+ left", done.stdout)
    assert len(progress) == 48 and progress[-1].endswith("about 0:00:00 left"), progress[-3:]
