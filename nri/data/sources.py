"""Datasets made from files rather than simulated: one interface the datamodule and nri.generate call.

A source turns its inputs into the ``.npy`` layout the datamodule reads and returns the dataset's
metadata. Each is idempotent (same inputs and parameters -> no work), so the datamodule can call it
before every run and ``python -m nri.generate dataset=motion`` can call it explicitly. Simulated
datasets have no source here: ``nri.data.sim.generate_dataset.write_dataset`` makes them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from nri.data.custom.prepare import prepare_custom
from nri.data.real.motion import prepare_motion
from nri.data.real.sports import prepare_sports

Preparer = Callable[[dict[str, Any], "str | Path | None", "str | Path", bool], dict]


def _motion(dataset: dict[str, Any], real_data_dir: str | Path | None, out_dir: str | Path,
            overwrite: bool) -> dict:
    return prepare_motion(dataset, real_data_dir, out_dir, overwrite=overwrite)


def _sports(dataset: dict[str, Any], real_data_dir: str | Path | None, out_dir: str | Path,
            overwrite: bool) -> dict:
    return prepare_sports(dataset, real_data_dir, out_dir, overwrite=overwrite)


def _custom(dataset: dict[str, Any], real_data_dir: str | Path | None, out_dir: str | Path,
            overwrite: bool) -> dict:
    return prepare_custom(dataset, out_dir, overwrite=overwrite)  # the user's file names itself


PREPARERS: dict[str, Preparer] = {"motion": _motion, "sports": _sports, "custom": _custom}


def prepare(dataset: dict[str, Any], real_data_dir: str | Path | None, out_dir: str | Path,
            overwrite: bool = False) -> dict | None:
    """Run the source of ``dataset['name']``; None for simulated datasets (nothing to prepare)."""
    preparer = PREPARERS.get(dataset["name"])
    if preparer is None:
        return None
    return preparer(dataset, real_data_dir, out_dir, overwrite)
