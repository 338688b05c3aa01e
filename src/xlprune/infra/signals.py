"""SIGTERM (a SLURM time limit or pre-emption, `kill`) and SIGINT (Ctrl-C) end a job, or
a whole sweep, promptly and in one line: `xlprune: error: interrupted by SIGTERM during
fine-tune; ...`, exit status 143 (SIGTERM) or 130 (SIGINT). Nothing half-written is kept
(store entries and results.json appear whole or not at all) and running the same command
again resumes from what is stored.

How, around PyTorch Lightning 2.6 (trainer/connectors/signal_connector.py, trainer/call.py):

- While `trainer.fit/validate/test` runs, Lightning replaces the SIGTERM handler with one
  that only sets `trainer.received_sigterm` and then calls the handler that was there
  before (when there was one); its loops then raise `SIGTERMException` (a `SystemExit`
  with no code: exit status 0) at the end of a training step, or of an evaluation batch
  that is not the last. Alone, that ends a job with status 0, no results and no message;
  outside its loops (between fine-tunes, on the last test batch) the signal does nothing.
- KeyboardInterrupt inside a trainer call is caught: Lightning ignores SIGINT from then on,
  tears down and calls `sys.exit(1)`. Any other BaseException is re-raised after its
  `on_exception` hooks and teardown.

So xlprune installs its own handlers for both signals at start (`install`): they raise
`Interrupted`, a BaseException that is neither KeyboardInterrupt nor SystemExit, right
where the main thread is. Lightning keeps calling our SIGTERM handler after its own
notifier, and lets the exception through; `trainer_call` also turns Lightning's own ways
of ending (SIGTERMException, its exit after a KeyboardInterrupt, a call that returns with
the trainer interrupted) into `Interrupted`. `Exception` handlers (Hydra's run_job, ours)
do not catch it; `finally` blocks and the store's temporary folders clean up on the way
out; the CLI prints the line and exits with 128 + the signal number. A second signal while
the first is being handled ends the process at once.

SLURM: a job given `--signal=TERM@<secs>` (or `--signal=B:TERM@<secs>` for a batch
script) is stopped the same way before its time limit. Lightning's own SLURM auto-requeue
(SLURMEnvironment, auto_requeue on by default) is turned off for xlprune's trainers
(`no_requeue`): on its requeue signal (SIGUSR1) it would save a Lightning checkpoint that
xlprune never reads and run `scontrol requeue` behind the user's back while the job went
on. xlprune resumes from its store instead: requeue with sbatch's `--requeue` or submit
the same command again. SIGTERM never requeues (with or without Lightning)."""

import os
import signal
import sys
import threading
from contextlib import contextmanager, suppress
from pathlib import Path

SIGNALS = (signal.SIGTERM, signal.SIGINT)

# innermost last: what the job is doing, for the message (see `describe`)
_phases: list[str] = []
_received: list[int] = []
_installed = False

NAMES = {
    "sweep": "the sweep",  # the launcher's process, its jobs in parallel workers
    "job": "the job",
    "data": "data loading",
    "model": "model building",
    "tokenise": "tokenise",
    "fit": "fine-tune",
    "ranking": "ranking",
    "dev": "dev evaluation",
    "test": "test evaluation",
    "results": "writing results",
}


class Interrupted(BaseException):  # noqa: N818 - like KeyboardInterrupt
    """The job was asked to stop by a signal; not an Exception, so that nothing that
    handles errors (Hydra's run_job, Lightning's graceful paths) carries on after it."""

    def __init__(self, signum: int, phase: str | None = None):
        self.signum = int(signum)
        self.phase = phase if phase is not None else describe()
        super().__init__(f"{signal.Signals(self.signum).name} during {self.phase}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def message(self) -> str:
        return (
            f"interrupted by {signal.Signals(self.signum).name} during {self.phase}; nothing "
            "half-written was kept; run the same command again to resume"
        )


def describe() -> str:
    """The current phase in words: 'fine-tune', 'ranking fine-tune', 'tokenise (ranking
    fine-tune)', 'test evaluation', ..."""
    if not _phases:
        return "start-up"
    inner = _phases[-1]
    if "ranking" in _phases[:-1] or inner == "ranking":
        if inner in ("fit", "ranking"):
            return "ranking fine-tune"
        return f"{NAMES.get(inner, inner)} (ranking fine-tune)"
    return NAMES.get(inner, inner)


@contextmanager
def phase(name: str):
    _phases.append(name)
    try:
        yield
    finally:
        if _phases and _phases[-1] == name:
            _phases.pop()


def _handler(signum, frame) -> None:
    if _received:  # a second signal while the first unwinds: stop now
        sys.stderr.write(f"xlprune: error: {Interrupted(_received[0]).message()}\n")
        sys.stderr.flush()
        os._exit(128 + _received[0])
    _received.append(int(signum))
    if os.environ.get(SWEEP_PID) == str(os.getpid()):
        # the sweep's own process: its workers end first, each with its own word (joblib
        # would SIGKILL them when the exception reaches it)
        stop_children(signum)
    raise Interrupted(signum)


def install() -> None:
    """xlprune's SIGTERM and SIGINT handlers (once per process; main thread only)."""
    global _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    for signum in SIGNALS:
        if signal.getsignal(signum) is signal.SIG_IGN:
            continue  # e.g. SIGINT in a background job (`nohup ... &`): leave it ignored
        signal.signal(signum, _handler)
    _installed = True


def trainer_call(trainer, fn, *args, **kwargs):
    """`trainer.fit/validate/test(...)`, ending in `Interrupted` whenever Lightning stopped
    because of a signal rather than letting the job go on (or exit 0)."""
    from pytorch_lightning.trainer.states import TrainerStatus
    from pytorch_lightning.utilities.exceptions import SIGTERMException

    try:
        out = fn(*args, **kwargs)
    except SIGTERMException:
        raise Interrupted(signal.SIGTERM) from None
    except SystemExit:
        if trainer.state.status == TrainerStatus.INTERRUPTED:  # after a KeyboardInterrupt
            raise Interrupted(_received[0] if _received else signal.SIGINT) from None
        raise
    if trainer.received_sigterm:
        raise Interrupted(signal.SIGTERM)
    if trainer.state.status == TrainerStatus.INTERRUPTED:
        raise Interrupted(_received[0] if _received else signal.SIGINT)
    return out


def no_requeue(trainer) -> None:
    """Turn off Lightning's SLURM auto-requeue for this trainer (see the module notes)."""
    connector = getattr(trainer, "_accelerator_connector", None)
    environment = getattr(connector, "cluster_environment", None)
    if environment is not None and getattr(environment, "auto_requeue", False):
        environment.auto_requeue = False


SWEEP_PID = "XLPRUNE_SWEEP_PID"  # the process that runs a sweep; its jobs may run elsewhere


def mark_sweep(sweep: bool) -> None:
    """Whether this process runs a sweep: its workers (joblib, a SLURM job) see they are
    not it; a single job started from one of them is no worker."""
    if sweep:
        os.environ[SWEEP_PID] = str(os.getpid())
    else:
        os.environ.pop(SWEEP_PID, None)


def in_worker() -> bool:
    """A job of a sweep running outside the sweep's own process (a joblib worker, a SLURM
    job): a signal there ends that process, the sweep says the rest."""
    return os.environ.get(SWEEP_PID) not in (None, str(os.getpid()))


def children() -> list[int]:
    """This process's child processes in its own process group (Linux /proc): a joblib
    launcher's workers, not services that run in a session of their own (W&B's)."""
    found = []
    for task in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        try:
            found += [int(pid) for pid in task.read_text().split()]
        except (OSError, ValueError):
            continue
    group = os.getpgid(0)
    mine = []
    for pid in found:
        with suppress(OSError):
            if os.getpgid(pid) == group:
                mine.append(pid)
    return mine


def stop_children(signum: int, grace_s: float = 1.0, wait_s: float = 10.0) -> None:
    """End a sweep's worker processes with it, so none finishes a job behind the sweep that
    said it stopped: a Ctrl-C reaches them too (the terminal signals the whole group), so
    first a grace for them to end on their own; then the signal passed on; then SIGKILL.
    Children that ignore the signal (loky's resource tracker) are left to end by
    themselves."""
    import time

    pids = [pid for pid in children() if not ignores(pid, signum)]
    end = time.monotonic() + grace_s
    while pids and time.monotonic() < end:
        pids = [pid for pid in pids if alive(pid)]
        time.sleep(0.05)
    for pid in pids:
        with suppress(OSError):
            os.kill(pid, signum)
    end = time.monotonic() + wait_s
    while pids and time.monotonic() < end:
        pids = [pid for pid in pids if alive(pid)]
        time.sleep(0.05)
    for pid in pids:  # still there: it did not listen
        with suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def ignores(pid: int, signum: int) -> bool:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigIgn:"):
                return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    except (OSError, ValueError):
        pass
    return False


def alive(pid: int) -> bool:
    """Running: not gone, not a zombie (never reaped here: the pool that started it does)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
