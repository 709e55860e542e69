"""Datasets made from files rather than simulated: name -> function that writes the .npy layout.

Each preparer is idempotent (same inputs and parameters -> no work), so the datamodule can call
it before every run and ``python -m nri.generate dataset=motion`` can call it explicitly.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def _motion(dataset: dict[str, Any], real_data_dir: str | Path, out_dir: str | Path, overwrite: bool):
    from nri.data.motion import prepare_motion

    return prepare_motion(dataset, real_data_dir, out_dir, overwrite=overwrite)


def _sports(dataset: dict[str, Any], real_data_dir: str | Path, out_dir: str | Path, overwrite: bool):
    from nri.data.sports import prepare_sports

    return prepare_sports(dataset, real_data_dir, out_dir, overwrite=overwrite)


def _custom(dataset: dict[str, Any], real_data_dir: str | Path, out_dir: str | Path, overwrite: bool):
    from nri.data.custom import prepare_custom

    return prepare_custom(dataset, out_dir, overwrite=overwrite)


PREPARERS: dict[str, Callable[..., dict]] = {"motion": _motion, "sports": _sports, "custom": _custom}


def prepare(dataset: dict[str, Any], real_data_dir: str | Path | None, out_dir: str | Path,
            overwrite: bool = False) -> dict | None:
    """Run the preparer of ``dataset['name']``; None for simulated datasets."""
    fn = PREPARERS.get(dataset.get("name"))
    if fn is None:
        return None
    return fn(dataset, real_data_dir, out_dir, overwrite)
