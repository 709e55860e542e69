"""The run's hyperparameters with its final metrics, for TensorBoard's HParams tab.

TensorBoard writes the hparams summary only when metrics come with it, so a run records it once,
at the end, with every final scalar metric (``val/…`` of the last validation, ``test/…``), at the
step where those metrics were logged.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from typing import Any

from pytorch_lightning.loggers import Logger, TensorBoardLogger

from nri.plain import plain

HPARAM_GROUPS = ("dataset", "encoder", "decoder", "model", "seed")
METRIC_SPLITS = ("val/", "test/")


def run_hparams(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The config groups that define a run, as plain values."""
    return {key: plain(cfg[key]) for key in HPARAM_GROUPS if key in cfg}


def final_metrics(results: Mapping[str, Any]) -> dict[str, float]:
    """The scalar ``val/…`` and ``test/…`` results (lists such as ``test/mse`` left out)."""
    return {k: float(v) for k, v in results.items()
            if k.startswith(METRIC_SPLITS) and isinstance(v, numbers.Real) and not isinstance(v, bool)}


def record_hparams(loggers: Iterable[Logger], params: Mapping[str, Any], results: Mapping[str, Any],
                   step: int) -> None:
    """Write the hparams summary with the final metrics into every TensorBoard logger's events."""
    metrics = final_metrics(results)
    if not metrics:
        return
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.log_hyperparams(dict(params), metrics=metrics, step=step)
            logger.save()
