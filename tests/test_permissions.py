"""Files honour the umask: results.json, store entries and the report are as readable as
the user's umask makes new files (a shared results folder on a cluster), never 0600 only."""

import os
import shlex
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


def under_umask(mask: int, cwd, env: dict, *args: str) -> None:
    """`python <args>` as a user with this umask runs it (the shell's umask, then exec)."""
    command = " ".join(["umask", format(mask, "03o"), ";", "exec", shlex.quote(sys.executable)])
    command += " " + " ".join(map(shlex.quote, args))
    done = subprocess.run(["sh", "-c", command], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-1500:]


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_files_follow_the_umask(tmp_path, mask):
    env = dict(os.environ, XLPRUNE_CACHE=str(tmp_path / "cache"))
    job = ["-m", "xlprune", "+debug=fast", "logger=none", "pruning.count=1", "hydra.run.dir=out"]
    under_umask(mask, tmp_path, env, *job)
    expected = 0o666 & ~mask
    results = stat.S_IMODE((tmp_path / "out" / "results.json").stat().st_mode)
    assert results == expected, oct(results)
    stored = modes(tmp_path / "cache")
    assert any(name.startswith("rankings/") for name in stored) and stored
    under_umask(mask, tmp_path, env, "-m", "xlprune.report", "out", "--out", "report")
    written = modes(tmp_path / "report")
    assert "index.html" in written and any(name.endswith(".png") for name in written)
    wrong = {name: oct(m) for name, m in {**stored, **written}.items() if m != expected}
    assert not wrong, wrong
