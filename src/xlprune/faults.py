"""Crash points for the interruption tests. With XLPRUNE_KILL_AT=<point>[:<n>] in the
environment, the process sends itself SIGKILL (kill -9: no cleanup, no finally) the n-th
time it reaches <point>; without it, `reached` does nothing. Points: tokenise (features
encoded, not yet stored), ranking (ranking fine-tune done, scores not yet written), fit (a
training step), write:<file name> (half of the file written)."""

import os
import signal
from collections import Counter

_seen: Counter = Counter()


def reached(point: str) -> None:
    spec = os.environ.get("XLPRUNE_KILL_AT")
    if not spec:
        return
    name, _, nth = spec.rpartition(":")
    if not nth.isdigit():
        name, nth = spec, "1"
    if name != point:
        return
    _seen[point] += 1
    if _seen[point] == int(nth):
        os.kill(os.getpid(), signal.SIGKILL)
