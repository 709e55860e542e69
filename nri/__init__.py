"""Neural Relational Inference as a PyTorch Lightning + Hydra experiment framework.

The public API, for use from Python::

    import nri
    model = nri.load_model("outputs/train/runs/<time>/checkpoints/best.ckpt")   # or "springs5"
    prob = nri.infer_graph(model, trajectories)   # [S, N, T, D] -> [S, E, K] edge-type probabilities

Both come from :mod:`nri.inference`, imported on first use so that ``import nri`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "infer_graph", "load_model"]

_API = {"load_model": "nri.inference", "infer_graph": "nri.inference"}


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'nri' has no attribute {name!r}")
