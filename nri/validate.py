"""Checks of a training config at the boundary: before any data is read or any folder is made.

Types of the model, trainer and top-level keys are the schema's job; what is checked here are the
dataset and datamodule values and the combinations no single key can refuse (a model variant and
the decoder it needs, a row and the checkpoint it needs). Each refusal is one line naming the key,
the value and what is allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from nri.checkpoints import check_resume
from nri.errors import ConfigError

# decoders that predict from the edges they are given: a model without a graph cannot feed them
EDGE_DECODERS = ("mlp", "rnn", "sim")
GRAPH_FREE_DECODERS = ("static", "lstm_single", "lstm_joint")


def require_int(value: Any, key: str, minimum: int, allowed: str) -> int:
    """``value`` as an int of at least ``minimum``, else ConfigError naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).lstrip("-").isdigit():
        raise ConfigError(f"{key}={value}: expected {allowed}")
    if int(value) < minimum:
        raise ConfigError(f"{key}={value}: expected {allowed}")
    return int(value)


def check_dataset(dataset: DictConfig | dict[str, Any]) -> None:
    """Sizes and counts of a dataset config (``nri.generate`` and ``nri.train`` share them)."""
    require_int(dataset["edge_types"], "dataset.edge_types", 2, "an integer >= 2 (edge type 0 and at "
                "least one interaction type)")
    if dataset["num_atoms"] is not None:
        require_int(dataset["num_atoms"], "dataset.num_atoms", 2, "an integer >= 2 (a graph needs two objects)")
    for key in ("num_train", "num_valid", "num_test"):
        if key in dataset:
            require_int(dataset[key], f"dataset.{key}", 1, "a positive number of simulations")
    for key in ("train_steps", "test_burn_in", "test_horizon"):
        if key in dataset and dataset[key] is not None:  # null: read from the data (custom)
            require_int(dataset[key], f"dataset.{key}", 1, "a positive number of frames")


def check_datamodule(datamodule: DictConfig) -> None:
    require_int(datamodule.batch_size, "datamodule.batch_size", 1, "a positive batch size")
    if datamodule.eval_batch_size is not None:
        require_int(datamodule.eval_batch_size, "datamodule.eval_batch_size", 1,
                    "a positive batch size (or null: datamodule.batch_size)")
    fraction = datamodule.train_fraction
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction <= 1:
        raise ConfigError(f"datamodule.train_fraction={fraction!r}: expected a number in (0, 1]")


def check_components(cfg: DictConfig) -> None:
    """The model variant, its encoder and its decoder fit together."""
    graph = cfg.model.graph
    decoder = cfg.decoder.name if cfg.get("decoder") is not None else None
    if graph == "none" and decoder in EDGE_DECODERS:
        raise ConfigError(f"model.graph=none (e.g. model=forecast) with decoder={decoder}: this decoder "
                          f"needs a graph; choose decoder={' | '.join(GRAPH_FREE_DECODERS)}")
    encoder = cfg.get("encoder")
    if graph == "learned" and encoder is not None and encoder.name == "corr_lstm":
        if OmegaConf.is_missing(encoder, "checkpoint") or not encoder.checkpoint:
            raise ConfigError("encoder=corr_lstm needs encoder.checkpoint=<best.ckpt of a model=forecast "
                              "decoder=lstm_single run on this dataset> (row=corr_lstm sets it)")
        path = Path(str(encoder.checkpoint)).expanduser()
        if not path.is_file():
            raise ConfigError(f"encoder.checkpoint={path}: no such file; train the LSTM (single) first: "
                              "`python scripts/table_jobs.py <block>` runs it before Corr. (LSTM), or "
                              "`python -m nri.train -m experiment=<block> row=lstm_single` with the same "
                              "profile, dataset and seed")


def validate_run_config(cfg: DictConfig) -> None:
    """Everything ``nri.train`` can check without reading data; raises ConfigError or DatasetError."""
    check_dataset(cfg.dataset)
    check_datamodule(cfg.datamodule)
    check_components(cfg)
    check_resume(cfg)
