"""Evaluation batches sized to datamodule.memory_budget_mb: measured per sample, metrics unchanged."""

from __future__ import annotations

import math

import pytest
import torch
from hydra.core.global_hydra import GlobalHydra
from hydra_utils import tiny_train_cfg
from tiny_data import TINY_DATASET

from nri.config_errors import ConfigError
from nri.data.datamodule import NRIDataModule
from nri.eval_budget import PeakBytes, batch_within_budget, bytes_per_sample
from nri.models.module import NRIModule
from nri.train import run


@pytest.fixture(autouse=True)
def _clear_hydra():
    yield
    GlobalHydra.instance().clear()


def test_peak_bytes_counts_tensors_while_they_live():
    with PeakBytes() as counter:
        a = torch.zeros(1000)
        view = a[:10]  # shares a's storage: not counted again
        del a, view
        b = torch.zeros(500)
    assert counter.peak == 4000 and counter.live == 2000
    del b


def _module(hidden: int) -> NRIModule:
    return NRIModule(TINY_DATASET, {}, {"name": "mlp", "hidden": hidden}, {"name": "mlp", "hidden": hidden})


def test_bytes_per_sample_follow_the_decoders_messages(tiny_springs):
    datamodule = NRIDataModule(TINY_DATASET, str(tiny_springs))
    datamodule.setup("fit")
    valid = datamodule.splits["valid"]
    small, large = (bytes_per_sample(_module(h), valid, "valid") for h in (32, 64))
    edges, frames = 20, 14  # 5 objects, 15 frames: 14 predicted
    assert small >= edges * frames * 32 * 4  # one [E, T-1, H] float32 message tensor at least
    assert 1.6 < large / small < 2.4  # the messages grow with the hidden size
    module = _module(32)
    assert batch_within_budget(module, valid, "valid", 10 * small / 2**20, 512) in (9, 10, 11)
    assert batch_within_budget(module, valid, "valid", 1e4, 512) == 512  # never above eval_batch_size
    assert module.training  # the probe restores the module's mode


def test_metrics_do_not_depend_on_the_evaluation_batch(tiny_springs, tmp_path, capsys):
    """One batch of 32 against batches of a few samples chosen by a tiny budget."""
    common = ["trainer.max_epochs=2"]
    whole = run(tiny_train_cfg(tiny_springs, tmp_path / "whole", *common, "datamodule.memory_budget_mb=null"))
    GlobalHydra.instance().clear()
    capsys.readouterr()
    chunked = run(tiny_train_cfg(tiny_springs, tmp_path / "chunked", *common, "datamodule.memory_budget_mb=0.02"))
    assert "[nri] valid in batches of " in capsys.readouterr().out
    for key in ("val/edge_acc", "val/auroc", "test/edge_acc", "test/edge_acc_perm", "test/auroc", "global_step"):
        assert chunked[key] == whole[key], key  # counts over samples: exactly equal
    for key in ("val/nll", "val/mse", "val/kl", "test/mse_1", "test/mse_9"):
        # batch means weighted by batch size (Lightning's epoch mean), or sums: float rounding
        assert math.isclose(chunked[key], whole[key], rel_tol=1e-6), key


def test_a_bad_budget_is_refused_before_any_work(tmp_path):
    cfg = tiny_train_cfg(tmp_path / "no_data_needed", tmp_path / "run", "datamodule.memory_budget_mb=0")
    with pytest.raises(ConfigError, match="datamodule.memory_budget_mb=0: expected a positive number"):
        run(cfg)
