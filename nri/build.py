"""Turn a composed config into a datamodule, a module and a trainer (shared by the entry points)."""

from __future__ import annotations

import math
from typing import Any

import hydra
import pytorch_lightning as pl
from omegaconf import DictConfig

from nri.data.datamodule import NRIDataModule
from nri.models.module import NRIModule
from nri.plain import plain


def build_datamodule(cfg: DictConfig) -> NRIDataModule:
    return hydra.utils.instantiate(cfg.datamodule, _convert_="all")


def build_module(cfg: DictConfig, normalization: dict[str, Any] | None) -> NRIModule:
    module = NRIModule(
        dataset=plain(cfg.dataset), model=plain(cfg.model),
        encoder=plain(cfg.encoder), decoder=plain(cfg.decoder),
        normalization=normalization,
    )
    mode = compile_mode(cfg.compile)
    if mode is not False:
        import torch

        if module.encoder is not None:
            module.encoder = torch.compile(module.encoder, mode=mode)
        if module.decoder is not None:
            module.decoder = torch.compile(module.decoder, mode=mode)
    return module


COMPILE_MODES = ("default", "max-autotune-no-cudagraphs")
# torch.compile's modes that replay CUDA graphs. Training through nri.train with them failed inside
# Lightning on a GPU (tests/test_gpu.py, 2026-11-27, H200; not diagnosed), while the bare training
# steps of scripts/bench_train.py --compile-mode reduce-overhead ran, 1.6x faster than eager.
CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")


def compile_mode(setting: Any) -> str | None | bool:
    """The ``compile`` setting as torch.compile's mode: False (off), None (torch's default) or a mode."""
    if setting in (None, False):
        return False
    if setting is True:
        return None
    if setting in COMPILE_MODES:
        return setting
    if setting in CUDA_GRAPH_MODES:
        raise ValueError(f"compile={setting!r} replays CUDA graphs, which nri.train does not support yet "
                         "(its GPU test failed inside Lightning); use compile=true or "
                         "compile=max-autotune-no-cudagraphs; on a GPU, research/cuda_graphs_probe.py shows "
                         "where it fails and scripts/bench_train.py --compile --compile-mode " + setting +
                         " measures it")
    raise ValueError(f"compile={setting!r}: use false, true, or a torch.compile mode: {', '.join(COMPILE_MODES)}")


def build_trainer(cfg: DictConfig, **overrides: Any) -> pl.Trainer:
    callbacks = [hydra.utils.instantiate(c) for c in (cfg.get("callbacks") or {}).values()
                 if c is not None and "_target_" in c]
    if not cfg.trainer.enable_progress_bar:  # a progress-bar callback would be refused
        callbacks = [c for c in callbacks if not isinstance(c, pl.callbacks.ProgressBar)]
    loggers = [hydra.utils.instantiate(c) for c in (cfg.get("logger") or {}).values()
               if c is not None and "_target_" in c]
    if not loggers:  # the LR monitor refuses to run without a logger
        callbacks = [c for c in callbacks if not isinstance(c, pl.callbacks.LearningRateMonitor)]
    kwargs: dict[str, Any] = {"callbacks": callbacks, "logger": loggers or False}
    kwargs.update(overrides)
    return hydra.utils.instantiate(cfg.trainer, **kwargs)


def finite(results: dict[str, Any]) -> dict[str, Any]:
    """Drop NaN entries and turn tensors into numbers, for JSON."""
    out = {}
    for k, v in results.items():
        if hasattr(v, "item") and getattr(v, "numel", lambda: 2)() == 1:
            v = v.item()
        if isinstance(v, float) and math.isnan(v):
            continue
        out[k] = v
    return out


