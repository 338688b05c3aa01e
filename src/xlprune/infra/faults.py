"""Crash and pause points for the interruption tests; without their environment variables
`reached` does nothing.

- XLPRUNE_KILL_AT=<point>[:<n>]: the process sends itself SIGKILL (kill -9: no cleanup, no
  finally) the n-th time it reaches <point>.
- XLPRUNE_PAUSE_AT=<point>[:<n>]: the n-th time, it says so on stderr (`xlprune: paused at
  <point>:<n>`) and waits there (XLPRUNE_PAUSE_S seconds, 60 unless set), so that a test
  can send it a signal inside that phase.

Points: data (a language's splits read), tokenise (features encoded, not yet stored), ranking (ranking fine-tune done,
scores not yet written), fit (a training step), dev and test (an evaluation batch, inside
trainer.validate/test: `callbacks`), write:<file name> (half of the file written)."""

import os
import signal
import sys
import time
from collections import Counter
from contextlib import contextmanager

_seen: Counter = Counter()
_quiet = False  # inside suppressed(): work that is not the job's (the sweep's estimate)


@contextmanager
def suppressed():
    """No fault point fires inside: the sweep process times a few real training steps
    before any job runs, and a test's kill or pause point is meant for the jobs."""
    global _quiet
    saved, _quiet = _quiet, True
    try:
        yield
    finally:
        _quiet = saved


def _due(variable: str, point: str) -> str | None:
    """`point:n` when this call is the n-th arrival at the point the variable names."""
    spec = os.environ.get(variable)
    if not spec:
        return None
    name, _, nth = spec.rpartition(":")
    if not nth.isdigit():
        name, nth = spec, "1"
    if name != point:
        return None
    _seen[variable, point] += 1
    return f"{point}:{nth}" if _seen[variable, point] == int(nth) else None


def reached(point: str) -> None:
    if _quiet or not (os.environ.get("XLPRUNE_KILL_AT") or os.environ.get("XLPRUNE_PAUSE_AT")):
        return
    if _due("XLPRUNE_KILL_AT", point):
        os.kill(os.getpid(), signal.SIGKILL)
    if where := _due("XLPRUNE_PAUSE_AT", point):
        print(f"xlprune: paused at {where}", file=sys.stderr, flush=True)
        end = time.monotonic() + float(os.environ.get("XLPRUNE_PAUSE_S", "60"))
        while time.monotonic() < end:
            time.sleep(0.05)


def callbacks() -> list:
    """Lightning callbacks that reach `dev` and `test` at each evaluation batch; none
    unless a fault is asked for (so ordinary runs are untouched)."""
    if _quiet or not (os.environ.get("XLPRUNE_KILL_AT") or os.environ.get("XLPRUNE_PAUSE_AT")):
        return []
    from pytorch_lightning import Callback

    class EvalPoints(Callback):
        def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, idx=0):
            if not trainer.sanity_checking:
                reached("dev")

        def on_test_batch_start(self, trainer, pl_module, batch, batch_idx, idx=0):
            reached("test")

    return [EvalPoints()]
