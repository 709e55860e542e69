"""The GPU paths: data resident on the device, bf16 mixed precision, torch.compile.

Marked ``gpu``: skipped where no CUDA device is present (CI has none).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hydra.core.global_hydra import GlobalHydra
from hydra_utils import tiny_train_cfg

from nri.train import run

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def _clear_hydra():
    yield
    GlobalHydra.instance().clear()


@pytest.mark.parametrize("decoder", ["mlp", "rnn"])
def test_gpu_training_with_data_on_device_and_bf16(tiny_springs, tmp_path, decoder):
    cfg = tiny_train_cfg(tiny_springs, tmp_path, "trainer=gpu", f"decoder={decoder}",
                         "datamodule.data_on_device=true", "logger=none")
    results = run(cfg)
    assert 0 <= results["test/edge_acc"] <= 1
    assert np.isfinite(results["test/mse"]).all()


def test_gpu_training_compiled(tiny_springs, tmp_path):
    cfg = tiny_train_cfg(tiny_springs, tmp_path, "trainer=gpu", "compile=true",
                         "datamodule.data_on_device=true", "logger=none", "trainer.max_epochs=2")
    results = run(cfg)
    assert np.isfinite(results["test/mse"]).all()


def test_gpu_optimizer_is_fused(tiny_springs):
    from tiny_data import TINY_DATASET

    from nri.models.module import NRIModule

    module = NRIModule(TINY_DATASET, {}, {"name": "mlp", "hidden": 16}, {"name": "mlp", "hidden": 16}).cuda()
    assert module.configure_optimizers().defaults["fused"] is True


def test_gpu_and_cpu_forward_agree(tiny_springs):
    from tiny_data import TINY_DATASET

    from nri.models.module import NRIModule

    module = NRIModule(TINY_DATASET, {"skip_first": True}, {"name": "mlp", "hidden": 16},
                       {"name": "mlp", "hidden": 16}).eval()
    x = torch.randn(4, 5, 15, 4)
    with torch.no_grad():
        cpu = module.decoder(x, module.eval_edges(module.encode(x)), 5)
        gpu_module = module.cuda()
        gpu = gpu_module.decoder(x.cuda(), gpu_module.eval_edges(gpu_module.encode(x.cuda())), 5)
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=1e-4)
