"""Callbacks for the real datasets: a picture of the inferred graph, and dynamic-graph forecasts.

- :class:`RealGraphPicture` draws the first validation sample after each validation: the motion
  skeleton or the basketball court with the edge probabilities the encoder infers (PNG, and
  TensorBoard when a TensorBoard logger is attached).
- :class:`DynamicGraphTest` scores, during the test, the same weights with the graph re-encoded
  from a sliding window (``model.dynamic_graph`` with sources ``truth`` and ``predictions``), so one
  trained NRI (learned) gives its static- and dynamic-graph MSE in one ``metrics.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import TensorBoardLogger

from nri import metrics
from nri.callbacks.figures import KeepsFirstValidationSample
from nri.data.normalization import invert_normalization
from nri.models.graph import edges_to_adjacency

SOURCES = ("truth", "predictions")


def edge_matrix(values: torch.Tensor, num_atoms: int) -> np.ndarray:
    """Per-edge values as a receiver x sender matrix.

    Shapes: values [E] -> [N, N] (zero diagonal)
    """
    return edges_to_adjacency(values[None].float().cpu(), num_atoms)[0].numpy()


def strongest_pairs(p_edge: np.ndarray, top: int) -> np.ndarray:
    """Keep the ``top`` pairs with the largest max(p[i, j], p[j, i]); zero the others.

    Shapes: p_edge [N, N] -> [N, N]
    """
    sym = np.triu(np.maximum(p_edge, p_edge.T), 1)
    if top >= np.count_nonzero(sym):
        return p_edge
    cut = np.sort(sym[sym > 0])[-top]
    keep = sym >= cut
    return np.where(keep | keep.T, p_edge, 0.0)


def draw_sample(dataset: dict[str, Any], x: torch.Tensor, prob: torch.Tensor | None,
                labels: torch.Tensor | None, normalization: dict[str, Any] | None,
                path: str | Path, title: str | None = None, top: int | None = None):
    """Draw one sample with its inferred edges: the skeleton (motion) or the court (sports).

    The edge width is p(edge) = 1 - p(type 0), type 0 being "no interaction" (``skip_first``);
    only the ``top`` most likely pairs are drawn (default N, the number of objects), since
    an uncertain encoder otherwise covers the picture. Returns the matplotlib Figure, or None
    for a dataset with no picture.

    Shapes: x [N, T, D] scaled features; prob [E, K] or None; labels [E] (skeleton bones) or None
    """
    name = dataset.get("name")
    if name not in ("motion", "sports"):
        return None
    from nri.viz.real import plot_court, plot_skeleton

    n = x.shape[0]
    feats = invert_normalization(x.detach().cpu().double(), normalization) if normalization else x.cpu()
    loc = feats[..., : x.shape[-1] // 2].numpy()  # [N, T, d]
    p_edge = edge_matrix(1.0 - prob[:, 0], n) if prob is not None else None
    if p_edge is not None:
        p_edge = strongest_pairs(p_edge, n if top is None else int(top))
    if name == "motion":
        bones = edge_matrix(labels, n) if labels is not None else np.zeros((n, n))
        travel = np.ptp(loc[0], axis=0)  # root's travel per axis; CMU's y is up
        view = (0 if travel[0] >= travel[2] else 2, 1)  # side view along the walking direction
        return plot_skeleton(loc, p_edge, bones, path, frame=0, view=view, title=title)
    court = (94.0, 50.0) if dataset.get("scale_to_feet") else (1.0, 1.0)
    return plot_court(loc, p_edge, path, court=court, title=title)


class RealGraphPicture(KeepsFirstValidationSample):
    """After validation, draw the first validation sample with the edges the encoder infers.

    Writes ``<out_dir>/val_graph.png`` (the latest epoch) and logs ``val/graph`` to TensorBoard.
    Only NRI (learned) has inferred edges; for other models it does nothing.
    """

    def __init__(self, out_dir: str | Path, every_n_epochs: int = 1):
        self.out_dir = Path(out_dir)
        self.every_n_epochs = max(1, int(every_n_epochs))

    def picture(self, pl_module: pl.LightningModule, path: Path):
        """The current model's picture of the kept sample (None when there is nothing to draw)."""
        if self._sample is None or getattr(pl_module, "graph", None) != "learned":
            return None
        sample = {k: v[0].cpu() for k, v in self._sample.items()}
        x = sample["x"]
        example = getattr(pl_module, "last_val_example", None)
        if example is not None:
            prob = example["prob"]
        else:  # no edge labels (sports): the module keeps no example, so encode the kept sample
            steps = int(pl_module.ds["train_steps"])
            with torch.no_grad():
                logits = pl_module.encode(x[None, :, :steps].to(pl_module.device))
            prob = logits[0].softmax(-1).cpu()
        return draw_sample(pl_module.ds, x, prob, sample.get("edges"),
                           pl_module.hparams.get("normalization"), path,
                           title=f"{pl_module.ds.get('name')}: {x.shape[0]} most likely pairs, "
                                 f"epoch {pl_module.current_epoch}")

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        if trainer.current_epoch % self.every_n_epochs:
            return
        fig = self.picture(pl_module, self.out_dir / "val_graph.png")
        if fig is None:
            return
        for lg in trainer.loggers:
            if isinstance(lg, TensorBoardLogger):
                lg.experiment.add_figure("val/graph", fig, global_step=trainer.global_step, close=False)


class DynamicGraphTest(pl.Callback):
    """During the test, also forecast with the graph re-encoded before every step after the burn-in.

    For each source the encoder reads the last ``window`` frames (``model.dynamic_graph.window``,
    default ``dataset.train_steps``) of the recorded trajectory (``truth``, the reference's test)
    or of the decoder's own inputs (``predictions``), as ``model.dynamic_graph.test=true`` does;
    the MSE per horizon is logged as ``test/dynamic_<source>/mse_<h>`` and listed in
    ``test_results['test/dynamic_<source>/mse']``. Applies to a learned graph with a recurrent
    decoder; otherwise it does nothing.
    """

    def __init__(self, sources: list[str] | tuple[str, ...] = SOURCES):
        bad = [s for s in sources if s not in SOURCES]
        if bad:
            raise ValueError(f"sources must be among {SOURCES}, got {bad}")
        self.sources = tuple(sources)
        self._sums: dict[str, torch.Tensor] = {}
        self._count = 0

    @staticmethod
    def applies(pl_module: pl.LightningModule) -> bool:
        return (getattr(pl_module, "graph", None) == "learned" and pl_module.decoder is not None
                and pl_module.recurrent)

    def on_test_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._sums, self._count = {}, 0


    def on_test_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                          batch: dict[str, torch.Tensor], batch_idx: int, dataloader_idx: int = 0) -> None:
        if not self.applies(pl_module):
            return
        x = batch["x"]
        ds = pl_module.ds
        burn_in, horizon, steps = int(ds["test_burn_in"]), int(ds["test_horizon"]), int(ds["train_steps"])
        target = x[:, :, burn_in + 1: burn_in + horizon + 1]
        with torch.no_grad():
            logits = pl_module.encode(x[:, :, :steps] if burn_in >= steps else x[:, :, :burn_in])
            edges = pl_module.eval_edges(logits)
            for source in self.sources:
                preds = pl_module.forecast(x, edges, burn_in, horizon,
                                           pl_module.graph_fn(x, source=source))
                mse = metrics.mse_per_horizon(preds, target) * x.shape[0]
                self._sums[source] = self._sums[source] + mse if source in self._sums else mse
        self._count += x.shape[0]

    def _results(self, pl_module: pl.LightningModule) -> dict[str, list[float]]:
        if not self._sums:
            return {}
        n = pl_module.all_gather(torch.tensor(float(self._count), device=pl_module.device)).sum()
        out = {}
        for source, total in self._sums.items():
            total = pl_module.all_gather(total)
            total = total.sum(0) if total.dim() == 2 else total
            out[f"test/dynamic_{source}/mse"] = (total / n).cpu().tolist()
        return out

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for key, values in self._results(pl_module).items():
            for h, v in enumerate(values, start=1):
                pl_module.log(f"{key}_{h}", v, rank_zero_only=True)

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # after the module's on_test_epoch_end, which (re)creates test_results
        results = getattr(pl_module, "test_results", None)
        if isinstance(results, dict):
            results.update(self._results(pl_module))
