"""Sweeps through `hydra/launcher=slurm` on a real one-node SLURM cluster, the one
tests/slurm/up.sh starts (.ci/run always does). Without a cluster these tests skip, unless
XLPRUNE_REQUIRE_SLURM=1 says one must be there (then they fail)."""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.jobs import as_in_a_terminal, cli

pytestmark = pytest.mark.slurm


def cluster_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    try:
        done = subprocess.run(
            ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20
        )
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0 and re.search(r"^(idle|mixed|allocated)$", done.stdout, re.M)


@pytest.fixture(scope="module", autouse=True)
def cluster():
    if not cluster_up():
        if os.environ.get("XLPRUNE_REQUIRE_SLURM") == "1":
            pytest.fail("no SLURM cluster is up: run `bash tests/slurm/up.sh` (as root)")
        pytest.skip("no SLURM cluster is up (bash tests/slurm/up.sh starts one)")


# tiny jobs, one CPU each so the 2-CPU node runs two at once; the watch asks every second
BASE = [
    "+debug=fast",
    "logger=none",
    "resume=true",
    "hydra/launcher=slurm",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.poll_s=1",
]


def sweep(tmp: Path, *overrides: str, timeout: int = 240, env: dict | None = None):
    tmp.mkdir(parents=True, exist_ok=True)
    env = {"XLPRUNE_CACHE": str(tmp.parent / "cache"), **(env or {})}
    return cli([*BASE, *overrides, "-m"], cwd=tmp, env=env, timeout=timeout)


def start(tmp: Path, *overrides: str, env: dict | None = None) -> subprocess.Popen:
    tmp.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, XLPRUNE_CACHE=str(tmp.parent / "cache"), **(env or {}))
    return subprocess.Popen(
        [sys.executable, "-m", "xlprune", *BASE, *overrides, "-m"],
        cwd=tmp,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=as_in_a_terminal,
    )


def running_task(sweep_dir: Path, num: int, deadline_s: float = 120) -> str:
    """The SLURM id of job `num` of the sweep once it runs (its Hydra folder exists)."""
    end = time.time() + deadline_s
    while time.time() < end:
        if (sweep_dir / str(num) / ".hydra").is_dir():
            done = subprocess.run(
                ["squeue", "-h", "-r", "-t", "RUNNING", "-o", "%i|%o"],
                capture_output=True,
                text=True,
            )
            for line in done.stdout.splitlines():
                job_id, _, command = line.partition("|")
                if str(sweep_dir) in command:
                    ids = [i for i in [job_id] if job_id.endswith(f"_{num}") or "_" not in job_id]
                    if ids:
                        return ids[0]
        time.sleep(0.3)
    raise AssertionError(f"job {num} of {sweep_dir} never ran")


def lines_of(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("[xlprune] job ")]


def test_a_sweep_runs_on_slurm_with_progress_results_and_report(tmp_path):
    done = sweep(tmp_path / "run", "pruning.count=0,1,2", "hydra.sweep.dir=sw")
    assert done.returncode == 0, done.stderr[-3000:]
    sweep_dir = tmp_path / "run" / "sw"
    assert sorted(p.parent.name for p in sweep_dir.glob("*/results.json")) == ["0", "1", "2"]
    assert (sweep_dir / "report" / "index.html").is_file()
    # the submitting terminal shows each job's end with the sweep's counts
    lines = re.findall(
        r"\[xlprune\] job (\d) of 3 done .*; (\d) done, .* \[SLURM (\S+)\]", done.stdout
    )
    assert sorted(n for n, _, _ in lines) == ["1", "2", "3"], done.stdout
    assert sorted(d for _, d, _ in lines) == ["1", "2", "3"]
    assert "did not finish" not in done.stdout and "0 failed" in lines_of(done.stdout)[-1]
    # the jobs got resources that fit the node, and a name that says what they are
    (script,) = (sweep_dir / ".submitit").glob("*/*_submission.sh")
    text = script.read_text()
    assert "#SBATCH --job-name=xlprune" in text and "#SBATCH --cpus-per-task=1" in text
    assert "gpu" not in text  # no GPUs asked for with the CPU trainer
    mem = int(re.search(r"#SBATCH --mem=(\d+)GB", text).group(1))
    plan = (sweep_dir / ".xlprune" / "plan.json").read_text()
    assert '"peak_memory_mb"' in plan and 2 <= mem < 21, (mem, plan)


def test_a_cancelled_job_ends_the_sweep_with_a_report_and_a_rerun_does_only_it(tmp_path):
    cwd = tmp_path / "cancel"
    # a job that leaves the queue without a word counts as lost only after lost_after_s: at
    # 300 s, a sweep that ends within communicate's 120 s saw the cancelled job's own record
    # (no wall-clock bound of our own: the report after it is slow on a loaded machine)
    grid = ["trainer.max_epochs=1,400", "hydra.sweep.dir=first", "hydra.launcher.lost_after_s=300"]
    proc = start(cwd, *grid)
    slow = running_task(cwd / "first", 1)
    subprocess.run(["scancel", slow], check=True)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err[-2000:]
    assert re.search(r"job 2 of 2 failed \(stopped by a signal\)", out), out
    assert "1 job(s) did not finish" in out and "interrupted by SIGTERM" in out
    assert err.strip().splitlines()[-1].startswith("xlprune: error: 1 job(s) of the sweep")
    html = (cwd / "first" / "report" / "index.html").read_text()
    assert "failed (stopped by a signal)" in html and "1 failed" in html
    assert (cwd / "first" / "0" / "results.json").is_file()

    again = sweep(cwd, *grid)  # the same command, into the same folder
    assert again.returncode == 0, again.stderr[-2000:]
    assert "(stored result)" in again.stdout + again.stderr  # job 0: copied, not queued
    assert "Submitting 1 jobs to SLURM" in again.stdout + again.stderr
    assert sorted(p.parent.name for p in (cwd / "first").glob("*/results.json")) == ["0", "1"]
    assert not (cwd / "first" / "1" / "failed.json").exists()  # its old record is gone
    html = (cwd / "first" / "report" / "index.html").read_text()
    assert "2 jobs planned: 2 done, 0 failed" in html


def test_a_job_that_runs_into_its_time_limit_says_so(tmp_path):
    """SLURM signals a job (submitit's USR2) before its limit: a 1-minute job that would run
    longer ends as "timed out" with the key to raise, not as a crash."""
    cwd = tmp_path / "limit"
    pause = {"XLPRUNE_PAUSE_AT": "fit:1", "XLPRUNE_PAUSE_S": "150"}  # far past its minute
    done = sweep(cwd, "hydra.launcher.timeout_min=1", "hydra.sweep.dir=s", env=pause, timeout=240)
    assert done.returncode == 1, done.stderr[-2000:]
    assert re.search(r"job 1 of 1 failed.*\[SLURM", done.stdout), done.stdout
    record = (cwd / "s" / "0" / "failed.json").read_text()
    assert '"timed out"' in record and "raise hydra.launcher.timeout_min" in record, record


def test_a_job_killed_without_a_word_counts_as_lost(tmp_path):
    cwd = tmp_path / "lost"
    proc = start(
        cwd, "trainer.max_epochs=400", "hydra.launcher.lost_after_s=2", "hydra.sweep.dir=s"
    )
    running_task(cwd / "s", 0)
    # kill -9 of the job's own process (an OOM kill, a crash in native code): no last word
    killed = subprocess.run(["pkill", "-KILL", "-f", f"submitit.core._submit {cwd / 's'}"])
    assert killed.returncode == 0
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err[-2000:]
    assert "job 1 of 1 failed (lost)" in out, out
    assert re.search(r"job 0 \(.*\): lost: (SLURM says|left the queue without a result)", out), out


def test_a_controller_that_stops_answering_a_while_loses_no_job(tmp_path):
    """squeue fails while slurmctld restarts: the running job is not taken for lost."""
    cwd = tmp_path / "restart"
    pause = {"XLPRUNE_PAUSE_AT": "fit:1", "XLPRUNE_PAUSE_S": "55"}  # running all along
    proc = start(cwd, "hydra.launcher.lost_after_s=2", "hydra.sweep.dir=s", env=pause)
    running_task(cwd / "s", 0)
    subprocess.run(["pkill", "-x", "slurmctld"], check=True)
    try:
        time.sleep(35)  # squeue times out (15 s) or fails (its retries) twice meanwhile
    finally:
        subprocess.run(["slurmctld"], check=True)  # its state was saved: the job goes on
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, out[-2000:] + err[-2000:]
    assert (cwd / "s" / "0" / "results.json").is_file() and "failed (lost)" not in out


def test_stopping_the_sweep_cancels_its_jobs(tmp_path):
    import signal

    cwd = tmp_path / "stop"
    proc = start(cwd, "trainer.max_epochs=400,401", "hydra.sweep.dir=s")
    job = running_task(cwd / "s", 0)
    proc.send_signal(signal.SIGINT)  # Ctrl-C in the terminal that submitted the sweep
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert "cancelled the sweep's 2 unfinished SLURM jobs" in out
    assert err.strip().splitlines()[-1].startswith("xlprune: error: interrupted by SIGINT")
    array = job.split("_")[0]
    for _ in range(100):  # scancel is asynchronous: the tasks leave the queue shortly
        left = subprocess.run(["squeue", "-h", "-j", array], capture_output=True, text=True)
        if not left.stdout.strip():
            break
        time.sleep(0.2)
    assert not left.stdout.strip(), left.stdout


def cli_error(tmp_path, *overrides, env=None, timeout=120) -> tuple[str, float]:
    start_time = time.time()
    done = sweep(tmp_path, "pruning.count=0,1", *overrides, env=env, timeout=timeout)
    took = time.time() - start_time
    assert done.returncode == 2, (done.stdout[-1000:], done.stderr[-2000:])
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("xlprune: error: "), done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.glob("**/.submitit/*/*_submission.sh")), "nothing is submitted"
    return lines[-1], took


@pytest.mark.parametrize(
    "override, says",
    [
        (
            "hydra.launcher.partition=nope",
            "hydra.launcher.partition=nope: no such partition; this cluster has debug",
        ),
        (
            "hydra.launcher.cpus_per_task=64",
            "hydra.launcher.cpus_per_task=64: the largest node of partition debug has",
        ),
        (
            "hydra.launcher.mem_gb=4096",
            "hydra.launcher.mem_gb=4096: the largest node of partition debug has",
        ),
        (
            "trainer=gpu",
            "hydra.launcher.gpus_per_node=1: partition debug has no GPUs per node; trainer=gpu asks",
        ),
        (
            "hydra.launcher.constraint=nope",
            "SLURM refused the job: Invalid feature specification; set hydra.launcher.constraint",
        ),
    ],
)
def test_what_the_cluster_cannot_run_is_refused_in_one_line_before_submitting(
    tmp_path, override, says
):
    line, _ = cli_error(tmp_path, override)
    assert says in line, line


def test_a_time_limit_below_the_estimate_is_refused(tmp_path):
    line, _ = cli_error(tmp_path, "trainer.max_epochs=3000", "hydra.launcher.timeout_min=1")
    assert "hydra.launcher.timeout_min=1: below the longest job's estimated time" in line, line


def test_slurm_missing_or_down_is_said_within_seconds(tmp_path):
    no_slurm = {"PATH": str(Path(sys.executable).parent)}  # python, but no sbatch
    line, took = cli_error(tmp_path / "missing", env=no_slurm)
    assert "SLURM is not installed here (no sbatch on PATH)" in line and took < 30

    conf = (Path(os.environ.get("SLURM_CONF", "/etc/slurm/slurm.conf"))).read_text()
    dead = tmp_path / "slurm.conf"  # the same cluster, its controller on a port nobody serves
    dead.write_text(re.sub(r"(?m)^SlurmctldHost=.*$", r"\g<0>\nSlurmctldPort=6999", conf))
    line, took = cli_error(tmp_path / "down", env={"SLURM_CONF": str(dead)})
    assert "the SLURM controller is down or unreachable" in line and took < 40, (line, took)


def test_a_partition_without_a_node_up_is_refused_at_once(tmp_path):
    node = subprocess.run(["sinfo", "-h", "-N", "-o", "%N"], capture_output=True, text=True)
    name = node.stdout.split()[0]
    subprocess.run(
        ["scontrol", "update", f"nodename={name}", "state=down", "reason=xlprune-test"], check=True
    )
    try:
        line, took = cli_error(tmp_path)
    finally:
        subprocess.run(["scontrol", "update", f"nodename={name}", "state=resume"], check=True)
        for _ in range(100):
            if cluster_up():
                break
            time.sleep(0.2)
    assert "no node is up (sinfo says down" in line and took < 30, line
