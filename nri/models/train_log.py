"""The training step's scalars, logged the way ``self.log(on_step=True, on_epoch=True)`` would,
at a fraction of its host time.

Lightning's ``self.log`` costs 1–2 ms of host time per call (it moves its result collection to
the device every time): with six scalars that was about a third of a small model's training step,
and on a GPU the host is what limits such a step. Here a step adds its values to one tensor on the
device; every ``trainer.log_every_n_steps`` optimiser steps the values of that step go to the
loggers as ``<name>_step``, and at the end of the epoch the sample-weighted means are logged
through Lightning as ``<name>_epoch`` (averaged over processes), the names Lightning gives them.
"""

from __future__ import annotations

import numbers

import pytorch_lightning as pl
import torch


class TrainScalars:
    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.names: tuple[str, ...] | None = None
        self.sums: torch.Tensor | None = None  # [M] on the device: sum over samples of each tensor value
        self.host_sums: dict[str, float] = {}  # plain numbers (the temperature), summed on the host
        self.count = 0
        self.logged_step = -1

    def add(self, module: pl.LightningModule, values: dict[str, torch.Tensor | float], batch_size: int) -> None:
        """One training step's scalars: 0-d tensors (any device) or plain numbers."""
        tensors = {k: v for k, v in values.items() if not isinstance(v, numbers.Number)}
        numbers_ = {k: float(v) for k, v in values.items() if isinstance(v, numbers.Number)}
        names = tuple(tensors)
        stacked = torch.stack([v.detach().float().reshape(()) for v in tensors.values()]) if names else None
        if self.names is None:
            self.names = names
            self.sums = None if stacked is None else torch.zeros_like(stacked)
        elif names != self.names:
            raise RuntimeError(f"the training step logged {names} after {self.names}; log the same "
                               "scalars in every step")
        if stacked is not None:
            self.sums.add_(stacked, alpha=batch_size)
        for k, v in numbers_.items():
            self.host_sums[k] = self.host_sums.get(k, 0.0) + v * batch_size
        self.count += batch_size
        self._log_step(module, names, stacked, numbers_)

    def _log_step(self, module: pl.LightningModule, names: tuple[str, ...], stacked: torch.Tensor | None,
                  numbers_: dict[str, float]) -> None:
        trainer = module.trainer
        step = trainer.global_step
        # once per optimiser step (the first micro-batch when gradients accumulate)
        if step % max(1, trainer.log_every_n_steps) or step == self.logged_step:
            return
        self.logged_step = step
        if not module.loggers or not trainer.is_global_zero:
            return
        metrics = dict(zip([f"{n}_step" for n in names], stacked.tolist() if names else [], strict=True))
        metrics.update({f"{k}_step": v for k, v in numbers_.items()})
        metrics["epoch"] = trainer.current_epoch
        for logger in module.loggers:
            logger.log_metrics(metrics, step=step)

    def epoch_end(self, module: pl.LightningModule) -> None:
        """Log the epoch's means as ``<name>_epoch`` and start the next epoch afresh."""
        if self.count:
            means = {f"{n}_epoch": self.sums[i] / self.count for i, n in enumerate(self.names or ())}
            means.update({f"{k}_epoch": v / self.count for k, v in self.host_sums.items()})
            module.log_dict(means, sync_dist=True)
        self._reset()
