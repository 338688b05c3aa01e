"""Threads follow the CPUs a job was given (xlprune.infra.threads): affinity, SLURM_CPUS_PER_TASK
and cgroup quotas (v1 and v2, in a fake /sys/fs/cgroup), divided among local workers; and
OMP_WAIT_POLICY set before torch starts, unless the user chose one."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.jobs import FAST, cli
from xlprune.infra import threads


def cgroup_root(tmp_path: Path, files: dict[str, str], own: str = "0::/\n") -> dict:
    """A fake cgroup tree (`files`: path under the root -> contents) and the process's
    /proc/self/cgroup, as keyword arguments for the functions under test."""
    root = tmp_path / "cgroup"
    root.mkdir()
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    own_file = tmp_path / "self_cgroup"
    own_file.write_text(own)
    return {"root": root, "self_cgroup": own_file}


V1_OWN = "4:memory:/job\n2:cpu,cpuacct:/job\n0::/\n"


@pytest.mark.parametrize(
    ("files", "own", "expected"),
    [
        ({}, "0::/\n", None),  # no cgroup files at all
        ({"cpu.max": "max 100000\n"}, "0::/\n", None),  # v2, no quota
        ({"cpu.max": "200000 100000\n"}, "0::/\n", 2),
        ({"cpu.max": "150000 100000\n"}, "0::/\n", 2),  # 1.5 CPUs: rounded up
        ({"cpu.max": "50000 100000\n"}, "0::/\n", 1),  # half a CPU: still one
        ({"cpu.max": "garbage\n"}, "0::/\n", None),
        # v2, nested: the job's own cgroup and a lower quota above it
        (
            {"cpu.max": "max 100000", "a/cpu.max": "300000 100000", "a/b/cpu.max": "max 100000"},
            "0::/a/b\n",
            3,
        ),
        # /proc/self/cgroup names a path the mount does not have (a container): its root
        ({"cpu.max": "400000 100000"}, "0::/docker/abc\n", 4),
        # v1, the cpu,cpuacct hierarchy
        (
            {
                "cpu,cpuacct/job/cpu.cfs_quota_us": "-1\n",
                "cpu,cpuacct/job/cpu.cfs_period_us": "100000\n",
            },
            V1_OWN,
            None,
        ),
        (
            {
                "cpu,cpuacct/job/cpu.cfs_quota_us": "250000\n",
                "cpu,cpuacct/job/cpu.cfs_period_us": "100000\n",
            },
            V1_OWN,
            3,
        ),
        ({"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"}, "1:cpu:/\n", 1),
        ({"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "0\n"}, "1:cpu:/\n", None),
        # hybrid: a v1 quota and a v2 one, the lower counts
        (
            {
                "cpu.max": "600000 100000",
                "cpu/cpu.cfs_quota_us": "200000",
                "cpu/cpu.cfs_period_us": "100000",
            },
            "1:cpu:/\n0::/\n",
            2,
        ),
    ],
)
def test_cgroup_quota(tmp_path, files, own, expected):
    found = threads.cgroup_cpus(**cgroup_root(tmp_path, files, own))
    assert (found and found[0]) == expected


def test_cgroup_names_the_file_that_set_the_quota(tmp_path):
    where = cgroup_root(
        tmp_path, {"a/cpu.max": "100000 100000", "cpu.max": "800000 100000"}, "0::/a\n"
    )
    assert threads.cgroup_cpus(**where) == (1, str(where["root"] / "a" / "cpu.max"))


def test_cgroup_missing_root_is_no_quota(tmp_path):
    assert threads.cgroup_cpus(tmp_path / "absent", tmp_path / "absent_self") is None


@pytest.mark.parametrize(
    ("affinity", "environ", "files", "expected"),
    [
        (8, {}, {}, (8, "affinity")),
        (8, {"SLURM_CPUS_PER_TASK": "3"}, {}, (3, "SLURM_CPUS_PER_TASK")),
        (2, {"SLURM_CPUS_PER_TASK": "16"}, {}, (2, "affinity")),
        (8, {"SLURM_CPUS_PER_TASK": "4"}, {"cpu.max": "200000 100000"}, (2, "cgroup")),
        (8, {"SLURM_CPUS_PER_TASK": "2"}, {"cpu.max": "400000 100000"}, (2, "SLURM_CPUS_PER_TASK")),
        (4, {"SLURM_CPUS_PER_TASK": "4"}, {"cpu.max": "400000 100000"}, (4, "affinity")),  # tie
        (8, {"SLURM_CPUS_PER_TASK": "lots"}, {}, (8, "affinity")),  # not a number: ignored
        (8, {"SLURM_CPUS_PER_TASK": "0"}, {}, (8, "affinity")),
    ],
)
def test_available_cpus_is_the_tightest_limit(tmp_path, affinity, environ, files, expected):
    count, limit = threads.available_cpus(
        environ, affinity=affinity, **cgroup_root(tmp_path, files)
    )
    assert count == expected[0]
    assert limit.startswith(expected[1])


def test_available_cpus_by_default_reads_this_process(tmp_path):
    count, limit = threads.available_cpus({}, **cgroup_root(tmp_path, {}))
    assert (count, limit) == (threads.affinity_cpus(), "affinity")
    assert 1 <= count <= (__import__("os").cpu_count() or 1)


@pytest.mark.parametrize(
    ("workers", "environ", "quota", "expected"),
    [
        (None, {}, None, 8),  # one job at a time: every CPU
        (1, {}, None, 8),
        (2, {}, None, 4),
        (3, {}, None, 2),  # 8 // 3
        (16, {}, None, 1),  # more workers than CPUs: one thread each
        (2, {"SLURM_CPUS_PER_TASK": "2"}, None, 1),
        (None, {}, "300000 100000", 3),
        (2, {}, "300000 100000", 1),
        (None, {"OMP_NUM_THREADS": "2"}, None, 2),  # the user's cap
        (2, {"OMP_NUM_THREADS": "4"}, None, 4),  # joblib's own value in its workers
        (None, {"OMP_NUM_THREADS": "32"}, None, 8),  # a cap, never more than given
        (None, {"OMP_NUM_THREADS": "x"}, None, 8),
    ],
)
def test_job_threads(tmp_path, workers, environ, quota, expected):
    files = {"cpu.max": quota} if quota else {}
    got = threads.job_threads(workers, environ, affinity=8, **cgroup_root(tmp_path, files))
    assert got == expected


@pytest.mark.parametrize(
    ("n_jobs", "expected"), [(None, None), (2, 2), (5, 5), (-1, 4), (-2, 3), (-9, 1), (0, 4)]
)
def test_workers_for_follows_joblib_over_the_given_cpus(n_jobs, expected):
    assert threads.workers_for(n_jobs, cpus=4) == expected


def test_workers_for_reads_the_limits(tmp_path):
    where = cgroup_root(tmp_path, {"cpu.max": "200000 100000"})
    assert threads.workers_for(-1, environ={}, affinity=8, **where) == 2


@pytest.mark.parametrize(
    ("environ", "load", "set_to", "after"),
    [
        ({}, 1.5, "PASSIVE", "PASSIVE"),  # the cores are shared: no spinning
        ({"OMP_WAIT_POLICY": ""}, 1.5, "PASSIVE", "PASSIVE"),
        ({}, 0.2, None, None),  # quiet: spinning is faster, left alone
        ({"OMP_WAIT_POLICY": "ACTIVE"}, 1.5, None, "ACTIVE"),  # the user's choice stays
        ({"OMP_WAIT_POLICY": "passive"}, 0.2, None, "passive"),
    ],
)
def test_prepare_environment(environ, load, set_to, after):
    assert threads.prepare_environment(environ, load) == set_to
    assert environ.get("OMP_WAIT_POLICY") == after


def test_module_imports_no_torch():
    code = "import sys, xlprune.infra.threads; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


def fresh_process(code: str, env: dict | None = None) -> dict:
    import os

    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "OMP_"))}
    full_env.update(env or {})
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_apply_sets_torch_threads_in_a_fresh_process(tmp_path):
    where = cgroup_root(tmp_path, {})
    code = (
        "import json, torch\n"
        "from xlprune.infra import threads\n"
        f"used = threads.apply(None, {{'SLURM_CPUS_PER_TASK': '1'}}, {str(where['root'])!r}, "
        f"{str(where['self_cgroup'])!r})\n"
        "print(json.dumps({'used': used, 'intra': torch.get_num_threads(),"
        " 'interop': torch.get_num_interop_threads()}))\n"
    )
    assert fresh_process(code) == {"used": 1, "intra": 1, "interop": 1}


def test_apply_when_inter_op_threads_are_fixed_already(tmp_path):
    """torch's inter-op threads can be set once, before any inter-op work (here: set
    already): apply still sets the intra-op ones, and a second apply (another job in the
    process) does not fail either."""
    where = cgroup_root(tmp_path, {})
    args = f"{str(where['root'])!r}, {str(where['self_cgroup'])!r}"
    code = (
        "import json, torch\n"
        "from xlprune.infra import threads\n"
        "torch.set_num_interop_threads(2)\n"
        "before = torch.get_num_interop_threads()\n"
        f"threads.apply(None, {{'SLURM_CPUS_PER_TASK': '1'}}, {args})\n"
        f"used = threads.apply(2, {{}}, {args}, affinity=2)\n"
        "print(json.dumps({'used': used, 'interop_kept': torch.get_num_interop_threads() == before}))\n"
    )
    assert fresh_process(code) == {"used": 1, "interop_kept": True}


def test_prepare_environment_sets_this_process_before_torch():
    """By default it sets os.environ, which torch's OpenMP runtime reads when torch is
    imported afterwards, and which the processes started later inherit."""
    code = (
        "import json, os, subprocess, sys\n"
        "from xlprune.infra import threads\n"
        "threads.prepare_environment(load=2.0)\n"
        "child = subprocess.run([sys.executable, '-c', 'import os; print(os.environ.get(\"OMP_WAIT_POLICY\"))'],"
        " capture_output=True, text=True).stdout.strip()\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'env': os.environ['OMP_WAIT_POLICY'], 'child': child}))\n"
    )
    assert fresh_process(code) == {"torch": False, "env": "PASSIVE", "child": "PASSIVE"}


def test_cli_job_uses_one_thread_under_slurm_cpus_per_task_1(tmp_path):
    """Needs run.py and __main__.py wired to xlprune.infra.threads (prepare_environment at the
    CLI's start, apply in run.start): the job logs the threads torch uses."""
    done = cli(
        [*FAST, "model=tiny_bert", "hydra.run.dir=out"],
        cwd=tmp_path,
        env={"SLURM_CPUS_PER_TASK": "1"},
        drop_env=("SLURM_", "OMP_"),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    output = done.stdout + done.stderr
    found = re.findall(r"torch threads: (\d+) \(CPUs (\d+), set by ([^;]+);", output)
    assert found, "no 'torch threads:' line in the job's log: is xlprune.infra.threads wired in?"
    assert found[-1][0] == "1"
    if threads.affinity_cpus() > 1:  # the limit was SLURM's, not the machine's size
        assert found[-1][2] == "SLURM_CPUS_PER_TASK"
    assert (tmp_path / "out" / "results.json").is_file()
