"""A callback that carries the random state in the checkpoint, so a resumed run is exact.

Training draws from three generators: torch's (Gumbel noise, dropout and the shuffling sampler,
which takes each epoch's seed from it), numpy's and Python's. Lightning restores weights,
optimiser and loop counters but none of these, so a run resumed from ``last.ckpt`` would see other
noise and another batch order than the uninterrupted run. The states are stored as plain values
(tensors, ints, floats, strings) so the checkpoint still loads with ``weights_only=True``.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch


def capture() -> dict[str, Any]:
    """The torch, numpy and Python random states as weights-only-loadable values."""
    np_kind, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"kind": str(np_kind), "keys": torch.from_numpy(np_keys.astype(np.int64)),
                  "pos": int(np_pos), "has_gauss": int(np_has_gauss), "gauss": float(np_gauss)},
        "python": {"version": int(py_version), "state": torch.tensor(py_state, dtype=torch.int64),
                   "gauss": py_gauss},
    }


def restore(state: dict[str, Any]) -> None:
    """Set the three generators to a state :func:`capture` returned."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    np_state = state["numpy"]
    np.random.set_state((np_state["kind"], np_state["keys"].numpy().astype(np.uint32), np_state["pos"],
                         np_state["has_gauss"], np_state["gauss"]))
    py_state = state["python"]
    random.setstate((py_state["version"], tuple(int(v) for v in py_state["state"].tolist()),
                     py_state["gauss"]))


class RandomState(pl.Callback):
    """Saves the random state with every checkpoint and restores it when training resumes."""

    def state_dict(self) -> dict[str, Any]:
        return capture()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        restore(state_dict)
