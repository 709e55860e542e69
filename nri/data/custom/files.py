"""Reading a user's array files: one line naming the file when it cannot be read."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nri.data.errors import InputError


def load_array(path: Path) -> np.ndarray:
    """A ``.npy`` array, never unpickled."""
    try:
        return np.load(path, allow_pickle=False)
    except Exception as err:  # truncated, pickled or not an array at all
        raise InputError(f"{path}: not a readable numeric array file ({err})") from None


def open_npz(path: Path):
    """An open ``.npz`` archive (use it as a context manager), never unpickled."""
    try:
        return np.load(path, allow_pickle=False)
    except Exception as err:
        raise InputError(f"{path}: not a readable .npz file ({err})") from None


def is_number(value: str) -> bool:
    """Whether a CSV field reads as a number."""
    try:
        float(value)
    except ValueError:
        return False
    return True
