"""A failed job does not end a sweep, whichever launcher runs it: the others finish, the
report lists the failure with its one-line reason, and the command exits 1. Progress
lines say where the sweep stands on every launcher; SLURM's defaults fit the job."""

import json
import re

import pytest

from tests.helpers.jobs import FAST, cli, compose
from xlprune.sweep.slurm import Partition, check_resources, fill_defaults, refusal

# one job with a language the data does not have: found only when that job loads its data
GRID = [*FAST, "targets=[zz],[de]", "hydra.sweep.dir=sw"]


@pytest.mark.parametrize("launcher", ["basic", "side_by_side"])
def test_a_failed_job_leaves_the_others_running_and_the_sweep_exits_1(tmp_path, launcher):
    own = {"XLPRUNE_CACHE": str(tmp_path / "cache")}  # no ranking left for other tests
    done = cli([*GRID, f"hydra/launcher={launcher}", "-m"], cwd=tmp_path, env=own, timeout=300)
    assert done.returncode == 1, done.stderr[-2000:]
    sweep = tmp_path / "sw"
    assert (sweep / "1" / "results.json").is_file()  # the good job finished
    record = json.loads((sweep / "0" / "failed.json").read_text())
    assert record["kind"] == "bad input" and "unknown language 'zz'" in record["reason"]
    assert not (sweep / "0" / "results.json").exists()
    # its one line while it ran, the list at the end, the exit line last
    assert "xlprune: error: data=synthetic: unknown language 'zz'" in done.stderr
    assert "1 job(s) did not finish:" in done.stdout
    assert re.search(r"job 0 \(.*targets=\[zz\]\): bad input: data=synthetic", done.stdout)
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith("xlprune: error: 1 job(s) of the sweep did not finish")
    )
    html = (sweep / "report" / "index.html").read_text()
    assert "2 jobs planned: 1 done, 1 failed, 0 unfinished, 0 never started." in html
    assert "failed (bad input): data=synthetic: unknown language" in html
    # progress: each job's end with the sweep's counts, in the terminal that started it
    ends = re.findall(
        r"\[xlprune\] job (\d) of 2 (done|failed) in .*?; (\d) done, \d running, "
        r"\d pending, (\d) failed",
        done.stdout,
    )
    assert sorted((n, s) for n, s, _, _ in ends) == [("1", "failed"), ("2", "done")], done.stdout


def test_a_rerun_into_the_same_folder_does_not_keep_an_earlier_result(tmp_path):
    """A job that fails on a rerun into its old folder is a failure, not the old result."""
    own = {"XLPRUNE_CACHE": str(tmp_path / "cache")}
    first = cli([*FAST, "targets=[de]", "hydra.sweep.dir=sw", "-m"], cwd=tmp_path, env=own)
    assert first.returncode == 0 and (tmp_path / "sw" / "0" / "results.json").is_file()
    again = cli([*FAST, "targets=[zz]", "hydra.sweep.dir=sw", "-m"], cwd=tmp_path, env=own)
    assert again.returncode == 1, again.stderr[-2000:]
    assert not (tmp_path / "sw" / "0" / "results.json").exists()
    assert "1 job(s) did not finish" in again.stdout


NODE = Partition("debug", cpus=2, memory_mb=21_000, gpus=0, time_limit="infinite")


def launcher_cfg(*overrides):
    cfg = compose(["hydra/launcher=slurm", *overrides])
    return cfg, dict(cfg.hydra.launcher)


def test_slurm_defaults_fit_the_job_and_the_node():
    cfg, params = launcher_cfg("+experiment=xlmr_ner")
    big = Partition("gpu", cpus=64, memory_mb=256_000, gpus=4, time_limit="2-00:00:00")
    filled = fill_defaults(params, cfg, big, {"peak_memory_mb": 3000})
    assert filled["name"] == "xlprune-xlmr_ner"  # the array index is the job number
    assert (filled["partition"], filled["gpus_per_node"], filled["cpus_per_task"]) == (
        "gpu",
        None,
        8,
    )
    assert filled["mem_gb"] == 6  # 3000 MB measured x 1.5 + 1 GB, rounded up
    gpu, gpu_params = launcher_cfg("+experiment=xlmr_ner", "trainer=gpu")
    assert fill_defaults(gpu_params, gpu, big, None)["gpus_per_node"] == 1
    # a small node: as many CPUs as it has, all its memory when nothing was measured
    cfg, params = launcher_cfg()
    filled = fill_defaults(params, cfg, NODE, None)
    assert (filled["name"], filled["cpus_per_task"], filled["mem_gb"]) == ("xlprune", 2, 20)
    check_resources(filled, cfg, NODE, None)  # fits


@pytest.mark.parametrize(
    "overrides, plan, key",
    [
        (["hydra.launcher.cpus_per_task=8"], None, "hydra.launcher.cpus_per_task=8"),
        (["hydra.launcher.mem_gb=64"], None, "hydra.launcher.mem_gb=64"),
        (["trainer=gpu"], None, "hydra.launcher.gpus_per_node=1"),
        (
            ["hydra.launcher.timeout_min=10"],
            {"longest_job_s": 1200},
            "hydra.launcher.timeout_min=10",
        ),
        ([], {"peak_memory_mb": 40_000}, "hydra.launcher.mem_gb=60 (about 60 GB measured"),
    ],
)
def test_what_a_node_cannot_take_names_its_key(overrides, plan, key):
    from xlprune.infra.errors import XlpruneError

    cfg, params = launcher_cfg(*overrides)
    with pytest.raises(XlpruneError) as err:
        check_resources(fill_defaults(params, cfg, NODE, plan), cfg, NODE, plan)
    assert str(err.value).startswith(key), str(err.value)


@pytest.mark.parametrize(
    "said, key",
    [
        ("sbatch: error: Invalid generic resource (gres) specification", "gpus_per_node"),
        (
            "sbatch: error: invalid partition specified: gpu\nallocation failure: Invalid partition name specified",
            "partition",
        ),
        (
            "sbatch: error: Memory specification can not be satisfied\nsbatch: error: Batch job submission failed: Requested node configuration is not available",
            "mem_gb",
        ),
        (
            "sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified",
            "account",
        ),
        (
            "sbatch: error: Batch job submission failed: Requested time limit is invalid (missing or exceeds some limit)",
            "timeout_min",
        ),
    ],
)
def test_an_sbatch_refusal_is_one_line_with_the_key(said, key):
    line = str(refusal(said))
    assert line.startswith("SLURM refused the job: ") and line.endswith(f"set hydra.launcher.{key}")
    assert "\n" not in line and "sbatch: error" not in line
