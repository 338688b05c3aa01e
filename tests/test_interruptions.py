"""kill -9 at the worst moments (while tokenising, while ranking heads, mid fine-tune, half
way through writing results.json): the same command run again completes, and its numbers
equal those of a run that was never stopped. Crash points: xlprune.infra.faults."""

import json
import signal
from pathlib import Path

import pytest

from tests.helpers.jobs import cli

ARGS = ["+debug=fast", "logger=none", "resume=true", "pruning.count=2", "hydra.run.dir=out"]


def numbers(results: dict) -> dict:
    scores = json.loads(Path(results["ranking"]["stored"][0]).read_text())["raw"]
    return {
        "metrics": results["metrics"],
        "pruned": results["pruned_heads"],
        "scores": scores,
    }


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    root = tmp_path_factory.mktemp("straight")
    done = cli(ARGS, cwd=root, env={"XLPRUNE_CACHE": str(root / "cache")})
    assert done.returncode == 0, done.stderr[-2000:]
    return numbers(json.loads((root / "out" / "results.json").read_text()))


@pytest.mark.parametrize(
    ("point", "left_behind"),
    [
        ("tokenise:2", "cache/features/.tmp-*"),  # a features build half done
        ("ranking", "cache/rankings/.tmp-*"),  # the ranking fine-tune done, nothing stored
        ("fit:3", "cache/rankings/*/scores.json"),  # ranked (2 steps), then the job's step 1
        ("write:results.json", "out/.results.json.*.tmp"),  # half of results.json
    ],
    ids=["tokenising", "ranking", "fine-tuning", "writing-results"],
)
def test_a_killed_job_run_again_gives_the_uninterrupted_numbers(
    tmp_path, point, left_behind, uninterrupted
):
    env = {"XLPRUNE_CACHE": str(tmp_path / "cache")}
    killed = cli(ARGS, cwd=tmp_path, env={**env, "XLPRUNE_KILL_AT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert list(tmp_path.glob(left_behind)), f"the kill did not land where meant: {point}"
    assert not (tmp_path / "out" / "results.json").exists()
    assert not list((tmp_path / "cache").glob("results/*/results.json"))

    again = cli(ARGS, cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert "resumed_from" not in results
    assert numbers(results) == uninterrupted
    assert not list((tmp_path / "cache").rglob(".tmp-*")), "a killed build's leftovers"


def test_a_disk_that_fills_mid_job_fails_in_one_line_and_keeps_nothing(tmp_path):
    """A real full disk: a 400 KB tmpfs as the job's folder; the pre-flight minimum is
    set below its free space, so the job starts and runs out while saving its model."""
    import subprocess

    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        done = cli(
            [
                "+debug=fast",
                "logger=none",
                "pruning.save=true",
                "min_free_gb=0.0001",
                f"hydra.run.dir={disk / 'job'}",
            ],
            cwd=tmp_path,
            env={"XLPRUNE_CACHE": str(tmp_path / "cache")},
        )
        assert done.returncode == 2, done.stderr[-2000:]
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("xlprune: error: no space left on the device"), last
        assert "Traceback" not in done.stderr
        assert not list(disk.rglob("results.json")) and not list(disk.rglob(".model-*"))
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
