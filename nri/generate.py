"""Simulate a dataset: ``python -m nri.generate dataset=charged dataset.num_atoms=10``."""

from __future__ import annotations

import importlib.resources
import logging
import re
import sys
from pathlib import Path

import hydra
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf

import nri.schema  # noqa: F401  (registers the physics schemas that conf/dataset/*.yaml extend)
from nri.cli import exits_on_user_error, fail
from nri.conf_path import CONFIG_PATH
from nri.config_errors import exit_on_config_error
from nri.data.sim.generate_dataset import GENERATORS, write_dataset
from nri.data.sources import PREPARERS, prepare
from nri.quiet import quiet
from nri.run_dir import require_writable

log = logging.getLogger("nri.generate")

_SIZE_KEYS = ("num_train", "num_valid", "num_test", "length", "length_test", "sample_freq")
_GRAPH_KEYS = ("graph", "mean_degree")  # simulators with sparse graph families (springs, kuramoto)


def run(cfg: DictConfig) -> dict:
    """Write the dataset ``cfg.dataset`` describes into ``cfg.paths.data_dir``; returns paths."""
    require_writable(to_absolute_path(cfg.paths.data_dir), "paths.data_dir")
    dataset = cfg.dataset
    if dataset.name in PREPARERS:
        real_dir = cfg.paths.get("real_data_dir")
        return prepare(OmegaConf.to_container(dataset, resolve=True),
                       to_absolute_path(real_dir) if real_dir else None,
                       to_absolute_path(cfg.paths.data_dir), overwrite=cfg.overwrite)
    physics = OmegaConf.to_container(dataset.get("physics") or {}, resolve=True)
    return write_dataset(
        dataset.name,
        to_absolute_path(cfg.paths.data_dir),
        num_atoms=dataset.num_atoms,
        **{key: dataset.get(key) for key in _SIZE_KEYS},
        seed=cfg.seed,
        dtype=cfg.dtype,
        overwrite=cfg.overwrite,
        workers=cfg.workers,
        suffix=dataset.get("suffix"),
        progress=cfg.progress,
        **{key: dataset[key] for key in _GRAPH_KEYS if key in dataset},
        **physics,
    )


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="generate")
@exits_on_user_error(FileNotFoundError, FileExistsError, ValueError)
def _main(cfg: DictConfig) -> None:
    quiet()
    paths = run(cfg)
    print(f"[nri] dataset: {paths['metadata']}")


def _dataset_overrides(argv: list[str]) -> list[str]:
    """Dataset names in a ``dataset=a`` or sweep ``dataset=a,b`` override (other forms: none)."""
    for arg in argv:
        match = re.fullmatch(r"\+{0,2}dataset=([\w-]+(?:,[\w-]+)*)", arg)
        if match:
            return match.group(1).split(",")
    return []


def _variants() -> list[str]:
    """Dataset options that build on a simulator's (e.g. springs_100), from the config tree."""
    folder = (importlib.resources.files("nri.conf") / "dataset" if CONFIG_PATH.startswith("pkg://")
              else Path(CONFIG_PATH) / "dataset")
    return sorted(entry.name[:-len(".yaml")] for entry in folder.iterdir()
                  if entry.name.endswith(".yaml"))


def main() -> None:
    # Hydra would reject an unknown ``dataset=`` with a multi-line config error (and accept
    # real-data options that have no simulator); answer both with one line before it starts.
    known = [*GENERATORS, *PREPARERS, *(v for v in _variants() if v not in GENERATORS
                                        and v not in PREPARERS)]
    unknown = [name for name in _dataset_overrides(sys.argv[1:]) if name not in known]
    if unknown:
        fail(f"unknown dataset {unknown[0]!r}; choose one of {', '.join(known)}")
    exit_on_config_error(_main)


if __name__ == "__main__":
    main()
