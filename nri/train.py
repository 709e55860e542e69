"""Train (and test) a model: ``python -m nri.train encoder=cnn decoder=rnn``."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
from omegaconf import DictConfig

from nri.build import (
    build_datamodule,
    build_module,
    build_trainer,
    compile_mode,
    finite,
    plain,
    write_json,
)
from nri.cli import exits_on_user_error
from nri.runtime import keep_freed_memory
from nri.validate import validate_run_config

log = logging.getLogger("nri.train")


def run(cfg: DictConfig) -> dict[str, Any]:
    """Fit, test, and write ``metrics.json`` into the run directory; returns the metrics."""
    validate_run_config(cfg)  # dataset, datamodule, component and resume checks before any data is read
    compile_mode(cfg.get("compile"))  # a bad setting fails before any data is read
    if cfg.get("keep_freed_memory", True):
        keep_freed_memory()  # before the first large allocation; see nri/runtime.py
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    if cfg.get("threads"):
        import torch

        torch.set_num_threads(int(cfg.threads))
    out_dir = Path(cfg.paths.output_dir)
    if cfg.dataset.get("name") == "custom":
        from nri.data.custom import prepare_from_config

        prepare_from_config(cfg)  # writes the feat files once; fills num_atoms, dims, has_edges
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    datamodule.setup("fit")
    module = build_module(cfg, datamodule.normalization)
    trainer = build_trainer(cfg)
    for lg in trainer.loggers:
        lg.log_hyperparams(plain({k: cfg[k] for k in ("dataset", "encoder", "decoder", "model", "seed")
                                  if k in cfg}))
    results: dict[str, Any] = {}
    started = time.perf_counter()
    trainable = any(p.requires_grad for p in module.parameters())
    if cfg.train and trainable:
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
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
    if trainer.is_global_zero:
        payload = {"metrics": results, "best_ckpt": best, "config": plain(cfg.get("model")),
                   "dataset": plain(cfg.dataset), "encoder": plain(cfg.get("encoder")),
                   "decoder": plain(cfg.get("decoder")), "seed": int(cfg.seed)}
        payload["data_sizes"] = datamodule.sizes  # samples used per split (dataset.num_* may select fewer)
        write_json(out_dir / "metrics.json", payload)
        summary = {k: results[k] for k in ("test/edge_acc", "test/edge_acc_perm", "test/auroc",
                                           "test/mse_1", "test/mse_10", "test/mse_20") if k in results}
        print(f"[nri] run dir: {out_dir}")
        for k, v in summary.items():
            print(f"[nri] {k} = {v:.6g}")
    return results


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
@exits_on_user_error()
def main(cfg: DictConfig) -> float | None:
    results = run(cfg)
    monitor = cfg.model.get("monitor")
    value = results.get(monitor)
    return float(value) if value is not None else None


if __name__ == "__main__":
    main()
