"""Compose the project's Hydra configs in tests, as the command line would."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

import nri.schema  # noqa: F401  (registers the config schemas that conf/ extends)

CONF = str(Path(__file__).resolve().parents[1] / "conf")

TINY_OVERRIDES = [
    "dataset.train_steps=15", "dataset.test_burn_in=15", "dataset.test_horizon=9",
    "encoder.hidden=16", "decoder.hidden=16", "datamodule.batch_size=16",
    "trainer.max_epochs=1", "trainer.enable_progress_bar=false", "trainer.log_every_n_steps=1",
    "model.prediction_steps=3",
]


def compose_cfg(config_name: str, overrides: list[str], run_dir: Path) -> DictConfig:
    """Compose ``config_name`` with ``overrides``; ``${hydra:...}`` resolves to ``run_dir``."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name, overrides=[*overrides, f"hydra.run.dir={run_dir}"],
                      return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(run_dir)
    HydraConfig.instance().set_config(cfg)
    return cfg


def tiny_train_cfg(data_dir: Path, run_dir: Path, *extra: str) -> DictConfig:
    return compose_cfg("train", [f"paths.data_dir={data_dir}", *TINY_OVERRIDES, *extra], run_dir)
