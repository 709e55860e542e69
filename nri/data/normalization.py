"""Scaling of features to [-1, 1] with constants fitted on the training split.

The constants are plain floats/lists so they can travel in checkpoints' hyperparameters; the
simulation decoder and the plots use them to go back to physical units.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def fit_normalization(train: np.ndarray, dataset: dict[str, Any]) -> dict[str, Any]:
    """Fit the scaling constants on the training features.

    ``locvel`` data (first half of the features = positions, second half = velocities) gets one
    scalar min/max for loc and one for vel; ``feat`` data gets a min/max per feature dimension.

    Shapes: train [S, N, T, D] -> dict of floats / lists of D floats
    """
    if dataset["format"] == "locvel":
        half = train.shape[-1] // 2
        return {"kind": "locvel",
                "loc_min": float(train[..., :half].min()), "loc_max": float(train[..., :half].max()),
                "vel_min": float(train[..., half:].min()), "vel_max": float(train[..., half:].max())}
    flat = train.reshape(-1, train.shape[-1])
    return {"kind": "per_dim", "min": flat.min(0).astype(float).tolist(),
            "max": flat.max(0).astype(float).tolist()}


def _bounds(norm: dict[str, Any], dims: int) -> tuple[np.ndarray, np.ndarray]:
    if norm["kind"] == "locvel":
        half = dims // 2
        lo = np.array([norm["loc_min"]] * half + [norm["vel_min"]] * half, dtype=np.float64)
        hi = np.array([norm["loc_max"]] * half + [norm["vel_max"]] * half, dtype=np.float64)
    elif norm["kind"] == "per_dim":
        lo, hi = np.asarray(norm["min"], dtype=np.float64), np.asarray(norm["max"], dtype=np.float64)
    else:
        raise ValueError(f"unknown normalization kind {norm['kind']!r}")
    span = np.where(hi - lo > 0, hi - lo, 1.0)  # a constant feature maps to -1 instead of NaN
    return lo, span


def apply_normalization(feats: np.ndarray, norm: dict[str, Any], dataset: dict[str, Any] | None = None
                        ) -> np.ndarray:
    """Shapes: feats [..., D] -> [..., D] float32 in [-1, 1] on the training range"""
    lo, span = _bounds(norm, feats.shape[-1])
    return ((feats - lo) * (2.0 / span) - 1.0).astype(np.float32)


def invert_normalization(x, norm: dict[str, Any]):
    """Back to physical units; works on numpy arrays and torch tensors.

    Shapes: x [..., D] -> [..., D]
    """
    lo, span = _bounds(norm, x.shape[-1])
    if hasattr(x, "new_tensor"):
        lo, span = x.new_tensor(lo), x.new_tensor(span)
    return (x + 1.0) * span / 2.0 + lo
