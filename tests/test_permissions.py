"""Files honour the umask: results.json, store entries and the report are as readable as
the user's umask makes new files (a shared results folder on a cluster), never 0600 only."""

import os
import stat
import subprocess
import sys

import pytest


def modes(root) -> dict[str, int]:
    return {
        str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode)
        for p in root.rglob("*")
        if p.is_file() and "wandb" not in p.parts
    }


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_files_follow_the_umask(tmp_path, mask):
    code = (
        "import os, sys; os.umask(int(sys.argv[1], 8)); "
        "sys.argv = ['xlprune', '+debug=fast', 'logger=none', 'pruning.count=1', "
        "'hydra.run.dir=out']; from xlprune.__main__ import cli; cli()"
    )
    env = dict(os.environ, XLPRUNE_CACHE=str(tmp_path / "cache"))
    done = subprocess.run(
        [sys.executable, "-c", code, oct(mask)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-1500:]
    expected = 0o666 & ~mask
    results = stat.S_IMODE((tmp_path / "out" / "results.json").stat().st_mode)
    assert results == expected, oct(results)
    stored = modes(tmp_path / "cache")
    assert any(name.startswith("rankings/") for name in stored) and stored
    report = (
        "import os, sys; os.umask(int(sys.argv[1], 8)); from xlprune.report.__main__ import main; "
        "sys.exit(main(['out', '--out', 'report']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", report, oct(mask)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-1500:]
    written = modes(tmp_path / "report")
    assert "index.html" in written and any(name.endswith(".png") for name in written)
    wrong = {name: oct(m) for name, m in {**stored, **written}.items() if m != expected}
    assert not wrong, wrong
