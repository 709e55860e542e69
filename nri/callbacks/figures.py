"""Callbacks that log pictures of what the model infers and forecasts to TensorBoard."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import TensorBoardLogger

from nri.data.normalization import invert_normalization


class EdgeHeatmap(pl.Callback):
    """After validation, log the first validation sample's edge probabilities next to its true graph."""

    def __init__(self, every_n_epochs: int = 1):
        self.every_n_epochs = max(1, int(every_n_epochs))

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        example = getattr(pl_module, "last_val_example", None)
        if example is None or trainer.sanity_checking or not trainer.is_global_zero:
            return
        if trainer.current_epoch % self.every_n_epochs:
            return
        loggers = [lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]
        if not loggers:
            return
        from nri.viz.heatmap import edge_heatmap_figure

        fig = edge_heatmap_figure(example["prob"], example["edges"], pl_module.num_atoms)
        for lg in loggers:
            lg.experiment.add_figure("val/edges", fig, global_step=trainer.global_step, close=False)
        import matplotlib.pyplot as plt

        plt.close(fig)


class KeepsFirstValidationSample(pl.Callback):
    """Keeps the first sample of each validation (``self._sample``: every batch key, batch size 1)."""

    _sample: dict[str, torch.Tensor] | None = None

    def on_validation_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                                batch: dict[str, torch.Tensor], batch_idx: int,
                                dataloader_idx: int = 0) -> None:
        if batch_idx == 0 and dataloader_idx == 0:
            self._sample = {k: v[:1].detach() for k, v in batch.items()}


class TrajectoryImage(KeepsFirstValidationSample):
    """After validation, log the first validation sample's trajectories against the model's forecast.

    The first half of the sample's frames are fed as they are, the rest are forecast with the graph
    the model uses (inferred, true or full); both are drawn in the data's units (``val/trajectory``).
    """

    def __init__(self, every_n_epochs: int):
        self.every_n_epochs = max(1, int(every_n_epochs))

    @torch.no_grad()
    def forecast(self, pl_module: pl.LightningModule) -> tuple[np.ndarray, np.ndarray, int]:
        """Shapes: returns true [1, N, T, D], pred [1, N, H, D] (data units) and the first forecast frame"""
        x = self._sample["x"]
        frames = x.shape[2]
        burn_in = frames // 2
        if pl_module.graph == "learned":
            logits = pl_module.encode(x[:, :, : min(int(pl_module.ds["train_steps"]), frames)])
            edges = pl_module.eval_edges(logits)
        else:
            edges = pl_module.given_edges(self._sample)
        pred = pl_module.forecast(x, edges, burn_in, frames - burn_in - 1).float().cpu().numpy()
        true = x.float().cpu().numpy()
        norm = pl_module.hparams.get("normalization")
        if norm:
            true, pred = invert_normalization(true, norm), invert_normalization(pred, norm)
        return true, pred, burn_in + 1

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if (self._sample is None or trainer.sanity_checking or not trainer.is_global_zero
                or pl_module.decoder is None or trainer.current_epoch % self.every_n_epochs):
            return
        loggers = [lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]
        if not loggers or self._sample["x"].shape[2] < 3:
            return
        from nri.viz.infer import trajectories_figure

        true, pred, start = self.forecast(pl_module)
        names = pl_module.ds.get("feature_names") or [f"feature {i}" for i in range(true.shape[-1])]
        fig = trajectories_figure(true, pred, start, names, [f"validation sample 0, epoch "
                                                             f"{trainer.current_epoch + 1}"])
        for lg in loggers:
            lg.experiment.add_figure("val/trajectory", fig, global_step=trainer.global_step)
