"""Tiny real training runs of the relation-interaction encoder and the history decoder."""

from __future__ import annotations

import numpy as np
import pytest
from hydra.core.global_hydra import GlobalHydra
from hydra_utils import tiny_train_cfg

from nri.train import run


@pytest.fixture(autouse=True)
def _clear_hydra():
    yield
    GlobalHydra.instance().clear()


@pytest.mark.parametrize("overrides", [
    ("encoder=mpm", "decoder=mlp"),
    ("encoder=mpm", "encoder.front_end=cnn", "decoder=mlp"),
    ("encoder=mlp", "decoder=history", "decoder.history=4"),
    ("model=supervised", "encoder=mpm"),
])
def test_tiny_training_run(tiny_springs, tmp_path, overrides):
    cfg = tiny_train_cfg(tiny_springs, tmp_path, *overrides, "logger=none", "threads=1")
    results = run(cfg)
    assert 0.0 <= results["test/edge_acc"] <= 1.0
    if "model=supervised" not in overrides:
        assert len(results["test/mse"]) == 9 and all(np.isfinite(results["test/mse"]))
    assert (tmp_path / "checkpoints" / "last.ckpt").exists()
