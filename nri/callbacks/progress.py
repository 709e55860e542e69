"""Training a person can watch: a progress bar that shows the loss and the key validation metrics,
and one log line per validation epoch (console and the run's ``train.log``).

When stdout is not a terminal (redirected to a file, a batch job) the bar is switched off and the
epoch lines are the progress display, so the file reads line by line, with no escape codes.
"""

from __future__ import annotations

import logging
import sys
import time
from contextlib import ExitStack
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import TQDMProgressBar

from nri.report import epoch_line

log = logging.getLogger("nri")

# validation metrics shown in the bar: logged name -> short label
BAR_METRICS = {"val/nll": "val_nll", "val/ce": "val_ce", "val/edge_acc": "edge_acc"}


def step_loss(outputs: Any) -> torch.Tensor | None:
    """The loss a training step returned (a tensor, or a dict with ``loss``), detached."""
    loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
    return loss.detach() if isinstance(loss, torch.Tensor) else None


def terminal() -> bool:
    return sys.stdout.isatty()


class MetricsProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar showing ``loss`` (latest step) and the latest validation metrics.

    Only a terminal gets the bar; elsewhere it is disabled (see the module's docstring). While the
    bar runs, log records to the console go through tqdm, so they print above the bar.
    """

    def __init__(self, refresh_rate: int):
        super().__init__(refresh_rate=refresh_rate)
        self._loss: torch.Tensor | None = None
        self._redirect = ExitStack()

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        if not terminal():
            self.disable()

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        if self.is_enabled:
            from tqdm.contrib.logging import logging_redirect_tqdm

            self._redirect.enter_context(logging_redirect_tqdm([logging.getLogger()]))

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        self._redirect.close()

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._redirect.close()  # a run that failed never reached on_train_end

    def on_train_epoch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        super().on_train_epoch_start(trainer, *args)
        planned = f"/{trainer.max_epochs}" if trainer.max_epochs and trainer.max_epochs > 0 else ""
        self.train_progress_bar.set_description(f"Epoch {trainer.current_epoch + 1}{planned}")

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        self._loss = step_loss(outputs)  # read (a device sync) only when the bar redraws
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
        items = {k: v for k, v in super().get_metrics(trainer, pl_module).items() if k != "v_num"}
        if self._loss is not None:
            items["loss"] = f"{float(self._loss):.4g}"
        for key, label in BAR_METRICS.items():
            value = trainer.callback_metrics.get(key)
            if value is not None:
                items[label] = f"{float(value):.4g}"
        return items


class EpochLog(pl.Callback):
    """After every validation, log one line: epoch, step, mean training loss so far in the epoch,
    the validation metrics and the time the epoch took (rank zero only)."""

    def __init__(self) -> None:
        self._loss_sum: torch.Tensor | None = None
        self._batches = 0
        self._started = time.perf_counter()
        self._logged_epoch = -1

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._loss_sum, self._batches = None, 0
        self._started = time.perf_counter()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        loss = step_loss(outputs)
        if loss is not None:  # summed on the device: no sync per step
            self._loss_sum = loss.float() if self._loss_sum is None else self._loss_sum + loss.float()
            self._batches += 1

    def line(self, trainer: pl.Trainer, validated: bool = True) -> str:
        metrics = {k: v for k, v in trainer.callback_metrics.items() if validated and k.startswith("val/")}
        if self._batches:
            metrics["train/loss_epoch"] = self._loss_sum / self._batches
        text = epoch_line(trainer.current_epoch + 1, trainer.max_epochs, trainer.global_step, metrics)
        return f"{text} | {time.perf_counter() - self._started:.1f} s"

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        log.info(self.line(trainer))
        self._logged_epoch = trainer.current_epoch

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # an epoch without validation (check_val_every_n_epoch > 1) still gets its line
        if trainer.is_global_zero and self._logged_epoch != trainer.current_epoch:
            log.info(self.line(trainer, validated=False))
