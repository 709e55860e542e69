"""Evaluate a checkpoint: ``python -m nri.eval ckpt_path=outputs/.../checkpoints/best.ckpt``
(or ``ckpt=springs5``, a pretrained model, on data made by ``nri.generate dataset=springs``).

The checkpoint carries the dataset description, the model settings and the normalisation
constants, so the same test protocol runs on the same data without the training config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from nri.atomic import atomic_write_json as write_json
from nri.build import finite
from nri.checkpoints import prepare_eval
from nri.cli import exits_on_user_error
from nri.conf_path import CONFIG_PATH
from nri.config_errors import exit_on_config_error
from nri.data.datamodule import DatasetError, NRIDataModule
from nri.models.module import NRIModule
from nri.pretrained import choose_checkpoint
from nri.quiet import quiet
from nri.report import data_record, show_results


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    choose_checkpoint(cfg)  # ckpt=… or ckpt_path=…: a file, or a pretrained model's name
    prepare_eval(cfg)  # a readable nri checkpoint; without data_dir, the checkpoint's data folder
    ckpt = Path(cfg.ckpt_path)
    if not ckpt.exists():
        raise DatasetError(f"checkpoint {ckpt} does not exist")
    module = NRIModule.load_from_checkpoint(ckpt, map_location="cpu")
    apply_protocol_overrides(module, cfg.model_overrides)
    hp = module.hparams
    datamodule = NRIDataModule(dict(hp["dataset"]), cfg.data_dir, batch_size=int(cfg.batch_size),
                               shuffle=False, normalization=hp["normalization"])
    bar = [hydra.utils.instantiate(cfg.progress_bar)] if cfg.trainer.enable_progress_bar else []
    trainer = hydra.utils.instantiate(cfg.trainer, callbacks=bar)
    if cfg.split == "valid":
        trainer.validate(module, datamodule=datamodule, verbose=False)
        results = dict(trainer.callback_metrics)
    elif cfg.split == "test":
        trainer.test(module, datamodule=datamodule, verbose=False)
        results = {**trainer.callback_metrics, **getattr(module, "test_results", {})}
    else:
        raise ValueError(f"split must be test or valid, got {cfg.split!r}")
    results = finite(dict(results))
    out = Path(cfg.paths.output_dir) / "metrics.json"
    overrides = OmegaConf.to_container(cfg.model_overrides, resolve=True) if cfg.model_overrides else {}
    write_json(out, {"metrics": results, "ckpt_path": str(ckpt), "split": cfg.split,
                     "model_overrides": overrides, "data": data_record(datamodule)})
    show_results(results, "test" if cfg.split == "test" else "val", out.parent)
    return results


# Settings that change how a trained model is evaluated, never what it learned.
EVAL_OVERRIDABLE = ("eval_sample", "dynamic_graph", "adapt")


def apply_protocol_overrides(module: NRIModule, overrides: Any) -> None:
    """Replace evaluation-only model settings (e.g. ``dynamic_graph.test``) of a loaded module."""
    if not overrides:
        return
    overrides = OmegaConf.to_container(overrides, resolve=True) if isinstance(
        overrides, DictConfig) else dict(overrides)
    unknown = sorted(set(overrides) - set(EVAL_OVERRIDABLE))
    if unknown:
        raise DatasetError(f"model_overrides may only set {', '.join(EVAL_OVERRIDABLE)} "
                           f"(evaluation settings); got {', '.join(unknown)}")
    for key, value in overrides.items():
        current = module.cfg[key]
        if isinstance(current, dict) and isinstance(value, dict):
            value = {**current, **value}
        module.cfg[key] = value


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="eval")
@exits_on_user_error()
def main(cfg: DictConfig) -> None:
    quiet()
    evaluate(cfg)


if __name__ == "__main__":
    exit_on_config_error(main)
