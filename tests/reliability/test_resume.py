"""Kill -9 in the middle of a run, resume from last.ckpt: the same final metrics as without the kill."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from reliability_cases import TRAIN_TINY, run_command

KILLER = '''
import os
import signal

import pytorch_lightning as pl


class KillInEpoch(pl.Callback):
    """SIGKILL this process at a batch of an epoch: after that epoch's predecessor was checkpointed."""

    def __init__(self, epoch: int, batch: int):
        self.epoch, self.batch = epoch, batch

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            os.kill(os.getpid(), signal.SIGKILL)
'''
RUN = [*TRAIN_TINY, "trainer.max_epochs=6", "logger=csv"]


def metrics_without_timing(run_dir: Path) -> dict:
    metrics = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    return {k: v for k, v in metrics.items() if "time" not in k}


@pytest.mark.slow
def test_killed_and_resumed_run_ends_with_the_uninterrupted_metrics(reliability_fixtures, tmp_path):
    data = f"paths.data_dir={reliability_fixtures.data}"
    (tmp_path / "killer.py").write_text(KILLER)
    straight = run_command("train", [data, *RUN, f"hydra.run.dir={tmp_path / 'straight'}"], tmp_path)
    assert straight.returncode == 0, straight.stderr

    # 4 steps an epoch: killed at the third step of epoch 3 (counting from 0), after the checkpoint of
    # epoch 2; the two steps done since are repeated on resume
    killed = run_command("train", [data, *RUN, f"hydra.run.dir={tmp_path / 'killed'}",
                                   "+callbacks.killer._target_=killer.KillInEpoch",
                                   "+callbacks.killer.epoch=3", "+callbacks.killer.batch=1"],
                         tmp_path, extra_path=tmp_path)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    last = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    assert last.is_file()
    assert not (tmp_path / "killed" / "metrics.json").exists()  # nothing that looks complete

    resumed = run_command("train", [data, *RUN, f"hydra.run.dir={tmp_path / 'resumed'}", f"ckpt_path={last}"],
                          tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "saved at global step 12 (epoch 2); any steps run after this checkpoint" in resumed.stdout
    expected = metrics_without_timing(tmp_path / "straight")
    assert expected["global_step"] == 24 and "test/mse_1" in expected
    assert metrics_without_timing(tmp_path / "resumed") == expected
