"""Wall time of each training step (the sweep plan's calibration times real steps)."""

import time

import pytorch_lightning as pl


class StepTimes(pl.Callback):
    """`seconds[i]`: training step i, from batch start to batch end (optimizer included)."""

    def __init__(self):
        self.seconds: list[float] = []
        self._start = 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.seconds.append(time.perf_counter() - self._start)

    def mean(self, skip: int = 0) -> float:
        """Mean over the steps after the first `skip` (warm-up); all when there are no more."""
        kept = self.seconds[skip:] or self.seconds
        return sum(kept) / len(kept) if kept else 0.0
