"""The training step's scalars: step values every n optimiser steps, sample-weighted epoch means."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from nri.models.train_log import TrainScalars


class RecordingLogger:
    def __init__(self):
        self.rows = []

    def log_metrics(self, metrics, step):
        self.rows.append((step, dict(metrics)))


def fake_module(every_n: int = 2):
    logged = {}
    trainer = SimpleNamespace(global_step=0, log_every_n_steps=every_n, is_global_zero=True, current_epoch=0)
    module = SimpleNamespace(trainer=trainer, loggers=[RecordingLogger()],
                             log_dict=lambda d, **kw: logged.update({k: float(v) for k, v in d.items()}))
    return module, logged


def test_step_values_every_n_steps_and_weighted_epoch_means():
    module, logged = fake_module(every_n=2)
    scalars = TrainScalars()
    batches = [(torch.tensor(1.0), 0.5, 2), (torch.tensor(3.0), 0.4, 6), (torch.tensor(5.0), 0.3, 4)]
    for step, (nll, tau, size) in enumerate(batches):
        module.trainer.global_step = step
        scalars.add(module, {"train/nll": nll, "train/tau": tau}, size)
    rows = module.loggers[0].rows
    assert [s for s, _ in rows] == [0, 2]  # steps 0 and 2 of every 2
    assert rows[1][1] == {"train/nll_step": 5.0, "train/tau_step": 0.3, "epoch": 0}
    scalars.epoch_end(module)
    assert logged["train/nll_epoch"] == pytest.approx((1 * 2 + 3 * 6 + 5 * 4) / 12)
    assert logged["train/tau_epoch"] == pytest.approx((0.5 * 2 + 0.4 * 6 + 0.3 * 4) / 12)
    # the next epoch starts from nothing
    scalars.add(module, {"train/nll": torch.tensor(7.0), "train/tau": 0.2}, 3)
    scalars.epoch_end(module)
    assert logged["train/nll_epoch"] == pytest.approx(7.0)


def test_micro_batches_of_one_optimiser_step_log_once():
    module, _ = fake_module(every_n=1)
    scalars = TrainScalars()
    for _ in range(4):  # four micro-batches accumulate into optimiser step 0
        scalars.add(module, {"train/nll": torch.tensor(1.0)}, 8)
    assert len(module.loggers[0].rows) == 1


def test_a_step_that_logs_other_scalars_is_refused():
    module, _ = fake_module()
    scalars = TrainScalars()
    scalars.add(module, {"train/nll": torch.tensor(1.0)}, 1)
    with pytest.raises(RuntimeError, match="log the same scalars in every step"):
        scalars.add(module, {"train/mse": torch.tensor(1.0)}, 1)
