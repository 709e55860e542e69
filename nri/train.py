"""Train (and test) a model: ``python -m nri.train encoder=cnn decoder=rnn``."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
from omegaconf import DictConfig

from nri.atomic import atomic_write_json as write_json
from nri.build import (
    CUDA_GRAPH_MODES,
    build_datamodule,
    build_module,
    build_trainer,
    compile_mode,
    finite,
)
from nri.cli import exits_on_user_error
from nri.conf_path import CONFIG_PATH
from nri.config_errors import exit_on_config_error
from nri.models.module import model_settings
from nri.models.symmetry import check_symmetry_fits_data
from nri.plain import plain
from nri.quiet import quiet
from nri.report import announce, data_record, show_results
from nri.runtime import keep_freed_memory
from nri.schema import TOP_LEVEL_NODES, TrainerConfig, TrainRunConfig, checked
from nri.tensorboard import record_hparams, run_hparams
from nri.validate import validate_run_config

log = logging.getLogger("nri.train")


def run(cfg: DictConfig) -> dict[str, Any]:
    """Fit, test, and write ``metrics.json`` into the run directory; returns the metrics."""
    compile_mode(cfg.compile)  # a bad setting fails before any data is read
    # so does a key added with + that the schema does not know
    checked(TrainRunConfig, {k: None if k in TOP_LEVEL_NODES else cfg[k] for k in cfg if k != "hydra"})
    model_settings(plain(cfg.model))
    checked(TrainerConfig, plain(cfg.trainer), "trainer")
    validate_run_config(cfg)  # dataset, datamodule, component and resume checks before any data is read
    if cfg.keep_freed_memory:
        keep_freed_memory()  # before the first large allocation; see nri/runtime.py
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    if cfg.threads:
        import torch

        torch.set_num_threads(int(cfg.threads))
    out_dir = Path(cfg.paths.output_dir)
    if cfg.dataset.name == "custom":
        from nri.data.custom import prepare_from_config

        prepare_from_config(cfg)  # writes the feat files once; fills num_atoms, dims, has_edges
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    datamodule.setup("fit")
    check_symmetry_fits_data(cfg.model.symmetry, datamodule.directed_edges, str(datamodule.data_dir))
    module = build_module(cfg, datamodule.normalization)
    trainer = build_trainer(cfg, cuda_graphs=cfg.compile in CUDA_GRAPH_MODES)
    announce(cfg, datamodule, out_dir)
    for lg in trainer.loggers:
        lg.log_hyperparams(run_hparams(cfg))
    results: dict[str, Any] = {}
    started = time.perf_counter()
    trainable = any(p.requires_grad for p in module.parameters())
    if cfg.train and trainable:
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.ckpt_path)
        results.update({k: v for k, v in trainer.callback_metrics.items() if k.startswith("val/")})
    results["train_time_s"] = time.perf_counter() - started
    results["epochs"] = trainer.current_epoch
    results["global_step"] = trainer.global_step
    ckpt = trainer.checkpoint_callback
    best = ckpt.best_model_path if ckpt is not None and trainable and cfg.train else ""
    if cfg.test:
        trainer.test(module, datamodule=datamodule, ckpt_path=best or None, verbose=False)
        results.update(getattr(module, "test_results", {}))
        results.update({k: v for k, v in trainer.callback_metrics.items() if k.startswith("test/")})
    results = finite(results)
    record_hparams(trainer.loggers, run_hparams(cfg), results, trainer.global_step)
    if trainer.is_global_zero:
        payload = {"metrics": results, "best_ckpt": best, "config": plain(cfg.model),
                   "dataset": plain(cfg.dataset), "encoder": plain(cfg.encoder),
                   "decoder": plain(cfg.decoder), "seed": int(cfg.seed),
                   "data": data_record(datamodule)}
        write_json(out_dir / "metrics.json", payload)
        show_results(results, "test", out_dir)
    return results


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="train")
@exits_on_user_error()
def main(cfg: DictConfig) -> float | None:
    quiet()
    results = run(cfg)
    value = results.get(cfg.model.monitor)
    return float(value) if value is not None else None


if __name__ == "__main__":
    exit_on_config_error(main)
