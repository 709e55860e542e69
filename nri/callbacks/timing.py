"""A callback that logs how long training has run, so metrics files answer "how long to X%"."""

from __future__ import annotations

import time

import pytorch_lightning as pl


class TrainingClock(pl.Callback):
    """At every validation, log ``time/train_s``: wall seconds since this fit began.

    The time includes the validations so far and excludes the sanity check; a resumed fit starts
    its own clock. With it, ``metrics.csv`` gives the time to reach a validation accuracy
    (the README's GPU figure is read off it).
    """

    def __init__(self) -> None:
        self.start: float | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.start = time.perf_counter()

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self.start is None:
            return
        # every rank logs its own clock; the mean over ranks is what lands in the logs
        pl_module.log("time/train_s", time.perf_counter() - self.start, sync_dist=True)
