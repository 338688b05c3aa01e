"""SIGTERM (SLURM's time limit, pre-emption) and SIGINT (Ctrl-C) in every phase of a real
job: it ends within seconds, with 143 / 130 and one line naming the signal and the phase,
keeps no results.json, and the same command run again resumes from what was stored.

A job waits inside a phase with XLPRUNE_PAUSE_AT (xlprune.infra.faults) and is signalled there.
To stay fast, each chain runs one command over and over on one cache, stopping it one
phase later each time (every stop a case, every run after it a resume), then lets it end."""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.helpers.jobs import as_in_a_terminal

ARGS = ["+debug=fast", "logger=none", "trainer.enable_progress_bar=false"]
JOB = [*ARGS, "pruning.count=2", "hydra.run.dir=out"]
EXIT = {signal.SIGTERM: 143, signal.SIGINT: 130}

# (pause point, the phase the message names): the runs of one chain, in order. Run 1
# stops in the ranking fine-tune's tokenising; run 2 in its training (nothing ranked yet);
# run 3 after the ranking is stored, in the job's own fine-tune; run 4 in its test scoring.
PHASES = [
    ("tokenise:1", "tokenise (ranking fine-tune)"),
    ("fit:1", "ranking fine-tune"),
    ("fit:3", "fine-tune"),
    ("test:1", "test evaluation"),
]
TERM, INT = signal.SIGTERM, signal.SIGINT


class Job:
    """The real CLI in a subprocess whose stderr is read as it comes."""

    def __init__(self, args: list[str], cwd: Path, env: dict, session: bool = False):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "xlprune", *args],
            cwd=cwd,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=session,  # its own process group, as a terminal gives it
            preexec_fn=as_in_a_terminal,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, prefix: str, timeout: float = 120) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self._queue.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if line.startswith(prefix):
                return
        self.proc.kill()
        pytest.fail(f"never printed {prefix!r}:\n" + "".join(self.lines[-30:]))

    def finish(self, timeout: float) -> tuple[int, str]:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail("still running after the signal:\n" + "".join(self.lines[-30:]))
        while (line := self._queue.get(timeout=10)) is not None:
            self.lines.append(line)
        return code, "".join(self.lines)


def stop_at(args, cwd: Path, env: dict, point: str, signum) -> tuple[int, str, float]:
    """Run until the pause at `point`, send `signum`: (exit status, stderr, seconds)."""
    job = Job(args, cwd, {**env, "XLPRUNE_PAUSE_AT": point})
    job.wait_for(f"xlprune: paused at {point}")
    sent = time.monotonic()
    job.proc.send_signal(signum)
    code, err = job.finish(timeout=20)
    return code, err, time.monotonic() - sent


def check_stopped(code: int, err: str, took: float, signum, phase: str) -> None:
    name = signal.Signals(signum).name
    assert code == EXIT[signum], err[-3000:]
    assert took < 8, f"{took:.1f} s from the signal to the exit"
    errors = [line for line in err.splitlines() if line.startswith("xlprune: error:")]
    assert errors == [
        f"xlprune: error: interrupted by {name} during {phase}; nothing half-written was "
        "kept; run the same command again to resume"
    ], err[-3000:]
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == errors[0]  # the last word


def run_chain(root: Path, signals: tuple, finish: bool) -> None:
    env = {"XLPRUNE_CACHE": str(root / "cache")}
    for (point, phase), signum in zip(PHASES, signals, strict=True):
        code, err, took = stop_at(JOB, root, env, point, signum)
        check_stopped(code, err, took, signum, phase)
        assert not (root / "out" / "results.json").exists()
        assert not list((root / "out").glob(".results.json.*"))
        assert not list((root / "cache").glob("results/*"))
        assert not list((root / "cache").rglob(".tmp-*")), "a half-built store entry"
    rankings = list((root / "cache").glob("rankings/*/scores.json"))
    assert len(rankings) == 1, "the ranking stored by the third run"
    if not finish:
        return
    code, err = Job(JOB, root, env).finish(timeout=120)
    assert code == 0, err[-3000:]
    results = json.loads((root / "out" / "results.json").read_text())
    assert results["ranking"]["computed"] == 0
    assert results["ranking"]["stored"] == [str(rankings[0])]
    assert results["store"]["built"] == [], "features were tokenised again"


@pytest.mark.parametrize(
    ("signals", "finish"),
    [((TERM, INT, TERM, INT), True), ((INT, TERM, INT, TERM), False)],
    ids=["term-int-term-int", "int-term-int-term"],
)
def test_a_signal_in_any_phase_stops_the_job_and_the_same_command_resumes(
    tmp_path, signals, finish
):
    """Each phase sees both signals (one chain each way); every run after the first is a
    resume, and the first chain's last run completes from what the stopped runs stored."""
    run_chain(tmp_path, signals, finish)


@pytest.mark.parametrize(
    ("point", "phase", "signum"),
    [
        ("data:1", "data loading", TERM),
        ("write:results.json:1", "writing results", INT),  # the job's own copy, half written
        ("write:results.json:2", "writing results", TERM),  # the store's, after the job's
    ],
)
def test_a_signal_while_reading_data_or_writing_results_keeps_nothing(
    tmp_path, point, phase, signum
):
    env = {"XLPRUNE_CACHE": str(tmp_path / "cache")}
    job = [*ARGS, "hydra.run.dir=out"]
    code, err, took = stop_at(job, tmp_path, env, point, signum)
    check_stopped(code, err, took, signum, phase)
    assert not (tmp_path / "out" / "results.json").exists()
    assert not list((tmp_path / "out").glob(".results.json.*"))
    assert not list((tmp_path / "cache").glob("results/*/results.json"))
    assert not list((tmp_path / "cache").rglob(".tmp-*")), "a half-built store entry"


def test_a_signal_ends_a_whole_sweep_with_its_status(tmp_path):
    """Basic launcher (jobs in one process): the user or the scheduler asked to stop, so
    job 1 of the sweep does not start after job 0 was stopped."""
    args = ["-m", *ARGS, "seed=1,2", "hydra.sweep.dir=sweep"]
    code, err, took = stop_at(args, tmp_path, {}, "fit:1", signal.SIGTERM)
    check_stopped(code, err, took, signal.SIGTERM, "fine-tune")
    assert (tmp_path / "sweep" / "0").is_dir() and not (tmp_path / "sweep" / "1").exists()
    assert not list((tmp_path / "sweep").rglob("results.json"))


def sweep_processes(marker: str) -> list[str]:
    done = subprocess.run(["pgrep", "-af", marker], capture_output=True, text=True)
    return [line for line in done.stdout.splitlines() if "pgrep" not in line]


@pytest.mark.parametrize(
    ("signum", "group"),
    [(INT, True), (TERM, False)],
    ids=["ctrl-c-to-the-terminal's-group", "sigterm-to-the-sweep-alone"],
)
def test_a_signal_ends_a_side_by_side_sweep_and_its_workers(tmp_path, signum, group):
    """joblib workers run the jobs in processes of their own: Ctrl-C reaches them with the
    sweep (the terminal signals its whole group); a SIGTERM to the sweep alone is passed
    on. Either way nothing goes on behind the sweep, and the sweep says it in one line."""
    sweep_dir = tmp_path / "sweep"
    args = ["-m", *ARGS, "seed=1,2", "hydra/launcher=side_by_side", f"hydra.sweep.dir={sweep_dir}"]
    env = {"XLPRUNE_CACHE": str(tmp_path / "cache"), "XLPRUNE_PAUSE_AT": "fit:1"}
    job = Job(args, tmp_path, env, session=True)
    job.wait_for("xlprune: paused at fit:1")
    time.sleep(1.0)  # the second worker reaches its pause too, most of the time
    sent = time.monotonic()
    if group:
        os.killpg(os.getpgid(job.proc.pid), signum)
    else:
        job.proc.send_signal(signum)
    code, err = job.finish(timeout=30)
    took = time.monotonic() - sent
    assert code == EXIT[signum], err[-3000:]
    assert took < 15, f"{took:.1f} s from the signal to the exit"
    name = signal.Signals(signum).name
    assert err.strip().splitlines()[-1] == (
        f"xlprune: error: interrupted by {name} during the sweep; nothing half-written was "
        "kept; run the same command again to resume"
    ), err[-3000:]
    assert "Traceback" not in err
    time.sleep(0.5)
    assert not sweep_processes(str(sweep_dir)), "a worker goes on behind the sweep"
    assert not list(sweep_dir.rglob("results.json"))
    started = [d for d in sweep_dir.iterdir() if (d / ".hydra").is_dir()]
    assert started, "no job started"
    for job_dir in started:  # each worker ended with its own word, before the sweep did
        record = json.loads((job_dir / "failed.json").read_text())
        assert f"interrupted by {name}" in record["reason"], record


def test_lightning_slurm_auto_requeue_is_turned_off(monkeypatch):
    """Under SLURM Lightning would requeue the job itself on SIGUSR1 (saving a checkpoint
    xlprune never reads); xlprune's trainers stop on a signal and resume from the store."""
    import pytorch_lightning as pl
    from lightning_fabric.plugins.environments import SLURMEnvironment

    from xlprune.infra.signals import no_requeue

    for key, value in {
        "SLURM_NTASKS": "1",
        "SLURM_JOB_NAME": "xlprune",
        "SLURM_JOB_ID": "1",
        "SLURM_PROCID": "0",
        "SLURM_LOCALID": "0",
        "SLURM_NODEID": "0",
    }.items():
        monkeypatch.setenv(key, value)
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False)
    environment = trainer._accelerator_connector.cluster_environment
    assert isinstance(environment, SLURMEnvironment) and environment.auto_requeue
    no_requeue(trainer)
    assert not environment.auto_requeue


def test_lightning_ending_quietly_on_sigterm_becomes_an_interruption():
    """Lightning's loops raise SIGTERMException (a SystemExit, status 0) when they saw the
    signal; that must not pass for a finished job."""
    from pytorch_lightning.utilities.exceptions import SIGTERMException

    from xlprune.infra.signals import Interrupted, trainer_call

    def fit():
        raise SIGTERMException

    with pytest.raises(Interrupted) as caught:
        trainer_call(object(), fit)
    assert caught.value.exit_code == 143
