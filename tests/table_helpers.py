"""Compose jobs of the table experiments in tests, as ``python -m nri.train`` would."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict, read_write

import nri.schema  # noqa: F401  (registers the config schemas that conf/ extends)

CONF = str(Path(__file__).resolve().parents[1] / "conf")


def compose_job(overrides: list[str], run_dir: Path | None = None) -> DictConfig:
    """The ``train`` config with ``overrides``; ``${hydra:runtime.output_dir}`` is ``run_dir``."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    if run_dir is not None:
        with read_write(cfg.hydra), open_dict(cfg.hydra):
            cfg.hydra.runtime.output_dir = str(run_dir)
        HydraConfig.instance().set_config(cfg)
    return cfg
