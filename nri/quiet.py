"""The known-harmless warnings and notices, filtered in one place; every entry point calls :func:`quiet`.

What is dropped says nothing about a run: Lightning's accelerator report and cloud-logger tip, its
notices that a default setting is in effect, a deprecation inside torch's pytree that Lightning
triggers, the note that an epoch is shorter than ``log_every_n_steps``, and, under DDP, the advice
to sync metrics the module logs once from rank zero (``rank_zero_only``) on purpose and the
deprecation of the collective behind Lightning's ``all_gather``. Anything else still shows.
"""

from __future__ import annotations

import logging
import re
import warnings

HARMLESS_WARNINGS = (
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
    r"The number of training batches \(\d+\) is smaller than the logging interval",
    r"It is recommended to use `self\.log\(.*sync_dist=True\)`",
    r"torch\.distributed\.nn\.functional\.all_gather is deprecated",
)
HARMLESS_NOTICES = re.compile(
    r"(GPU|TPU|HPU) available: |💡 Tip: |`Trainer\(\w+=[\w.]+\)` was configured so |LOCAL_RANK: \d+ - "
    r"|Initializing distributed: |-{20,}|distributed_backend=|All distributed processes registered"
)
# the loggers Lightning reports through (rank_zero_info and its accelerators / distributed setup)
LIGHTNING_LOGGERS = ("pytorch_lightning", "lightning_fabric")
NOTICE_LOGGERS = ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero",
                  "pytorch_lightning.accelerators.cuda", "lightning_fabric.utilities.distributed")


class DropHarmless(logging.Filter):
    """Drops the harmless notices; the others keep a short logger name (``[lightning] …``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if HARMLESS_NOTICES.match(record.getMessage().lstrip()):
            return False
        record.name = "lightning"
        return True


def quiet() -> None:
    """Filter the harmless warnings and notices; send Lightning's other messages where ours go.

    Lightning gives its loggers their own stderr handler when it is imported before logging is
    set up (as under Hydra, which configures logging later); once the root logger has handlers
    (Hydra's console and ``<task>.log``), its messages propagate there instead, so the run's log
    file holds them too. Calling it again changes nothing.
    """
    for pattern in HARMLESS_WARNINGS:
        warnings.filterwarnings("ignore", message=f".*{pattern}")
    for name in NOTICE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropHarmless) for f in logger.filters):
            logger.addFilter(DropHarmless())
    if logging.getLogger().hasHandlers():
        for name in LIGHTNING_LOGGERS:
            logger = logging.getLogger(name)
            for handler in list(logger.handlers):
                if type(handler) is logging.StreamHandler:
                    logger.removeHandler(handler)
            logger.propagate = True
