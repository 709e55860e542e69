"""Callbacks that log pictures of what the model infers."""

from __future__ import annotations

import pytorch_lightning as pl
from pytorch_lightning.loggers import TensorBoardLogger


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
