"""The Trainer for CUDA-graph compile modes: a step mark before every batch, evaluation under no_grad."""

from __future__ import annotations

import torch
from hydra.core.global_hydra import GlobalHydra
from hydra_utils import tiny_train_cfg

from nri.build import build_datamodule, build_module, build_trainer


def test_every_batch_starts_a_cuda_graph_step_and_evaluation_keeps_autograd_tensors(
        tiny_springs, tmp_path, monkeypatch):
    marks = []
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: marks.append(torch.is_grad_enabled()))
    grad_modes = []
    cfg = tiny_train_cfg(tiny_springs, tmp_path, "logger=none", "datamodule.eval_batch_size=16")
    GlobalHydra.instance().clear()
    datamodule = build_datamodule(cfg)
    datamodule.setup("fit")
    module = build_module(cfg, datamodule.normalization)
    test_step = module.test_step
    monkeypatch.setattr(module, "test_step", lambda *args, **kwargs: (
        grad_modes.append(torch.is_inference_mode_enabled()), test_step(*args, **kwargs))[1])
    trainer = build_trainer(cfg, cuda_graphs=True)
    trainer.fit(module, datamodule=datamodule)
    trainer.test(module, datamodule=datamodule, verbose=False)
    # 4 training batches of 16, 2 validation and 2 test batches of 16
    assert len(marks) == 4 + 2 + 2
    assert grad_modes and not any(grad_modes)  # no_grad, not inference_mode
    plain = build_trainer(cfg)  # other modes: nothing added, Lightning's inference_mode
    assert len(plain.callbacks) == len(trainer.callbacks) - 1 and plain.test_loop.inference_mode
