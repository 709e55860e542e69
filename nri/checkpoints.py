"""Reading a checkpoint before it is used: is it one of nri, and does it fit the run that asks for it.

``nri.train ckpt_path=…`` (resume) and ``nri.eval`` call these before any data is read, so a
truncated or foreign file, or a checkpoint of another configuration, is one line naming the file
and the keys that differ instead of a state-dict dump.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, open_dict

from nri.data.errors import DatasetError
from nri.errors import ConfigError
from nri.pretrained import is_pretrained

CONFIG_GROUPS = ("dataset", "encoder", "decoder", "model")
# evaluation-only settings: a resumed run may change them (they do not touch what is learned)
RESUME_MAY_CHANGE = ("model.eval_sample", "model.dynamic_graph.test")
DATAMODULE_STATE = "NRIDataModule"  # where Lightning keeps the datamodule's state_dict


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint at ``path`` as a dict, or DatasetError saying in one line why it is not one."""
    import torch

    path = Path(path).expanduser()
    if not path.is_file():
        raise DatasetError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, not a torch file, or pickled objects weights-only refuses
        raise DatasetError(f"{path} is not a checkpoint of nri (it cannot be read as one: truncated, "
                           f"or another kind of file; {type(err).__name__})") from None
    hparams = ckpt.get("hyper_parameters") if isinstance(ckpt, dict) else None
    if not isinstance(hparams, dict) or "state_dict" not in ckpt:
        raise DatasetError(f"{path} is not a checkpoint of nri (no state_dict and hyper_parameters)")
    missing = [k for k in ("dataset", "model", "normalization") if k not in hparams]
    if missing:
        raise DatasetError(f"{path} was written by an incompatible version (its hyper_parameters lack "
                           f"{', '.join(missing)}); train it again with this version")
    check_weights(ckpt, path)
    return ckpt


def weight_shapes(state: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    # torch.compile wraps a submodule as ``_orig_mod``: the same weights under a longer name
    return {k.replace("._orig_mod", ""): tuple(v.shape) for k, v in state.items()}


def check_weights(ckpt: dict[str, Any], path: Path) -> None:
    """The checkpoint's weights must fit the model its own settings build in this version."""
    from nri.models.module import NRIModule

    try:
        model = NRIModule(**ckpt["hyper_parameters"])
    except Exception as err:  # settings this version no longer takes
        reason = (str(err).splitlines() or [type(err).__name__])[0]
        raise DatasetError(f"{path} was written by an incompatible version (its settings do not build "
                           f"a model here: {reason})") from None
    expected, found = weight_shapes(model.state_dict()), weight_shapes(ckpt["state_dict"])
    if expected != found:
        differ = sorted(set(expected) ^ set(found)) or sorted(k for k in expected if expected[k] != found[k])
        raise DatasetError(f"{path} was written by an incompatible version (weights "
                           f"{', '.join(differ[:3])} do not fit this version's model); train it again")


def flatten(tree: Any, prefix: str) -> dict[str, Any]:
    """Nested dicts as ``{"a.b.c": leaf}``."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        out.update(flatten(value, f"{prefix}.{key}"))
    return out


def group_values(hparams: dict[str, Any], cfg: DictConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """The dataset/encoder/decoder/model values by dotted key: the checkpoint's and the run's."""
    from nri.plain import plain
    from nri.schema import upgraded

    saved: dict[str, Any] = {}
    asked: dict[str, Any] = {}
    for group in CONFIG_GROUPS:
        saved.update(flatten(upgraded(hparams.get(group)) if group == "model" else hparams.get(group), group))
        asked.update(flatten(plain(cfg.get(group)), group))
    return saved, asked


def config_differences(hparams: dict[str, Any], cfg: DictConfig) -> list[str]:
    """Dotted keys of dataset/encoder/decoder/model whose values differ between checkpoint and run."""
    saved, asked = group_values(hparams, cfg)
    keys = sorted(set(saved) | set(asked))
    # a null in the run's config is filled from the data later (dataset=custom): no difference
    return [k for k in keys if k not in RESUME_MAY_CHANGE and asked.get(k) is not None
            and saved.get(k) != asked.get(k)]


def describe(key: str, value: Any) -> str:
    """``encoder.name=cnn`` reads as ``encoder=cnn`` (the group option the user chose)."""
    return f"{key[:-len('.name')]}={value}" if key.endswith(".name") else f"{key}={value}"


def checkpoint_data_dir(ckpt: dict[str, Any]) -> str | None:
    return (ckpt.get(DATAMODULE_STATE) or {}).get("data_dir")


def check_resume(cfg: DictConfig) -> None:
    """``ckpt_path`` (resume) must be an nri checkpoint made with this run's settings and data."""
    if not cfg.get("ckpt_path"):
        return
    path = Path(str(cfg.ckpt_path)).expanduser()
    ckpt = read_checkpoint(path)
    hparams = ckpt["hyper_parameters"]
    differ = config_differences(hparams, cfg)
    if differ:
        saved, asked = group_values(hparams, cfg)
        first = differ[0]
        rest = f" (also differ: {', '.join(differ[1:])})" if len(differ) > 1 else ""
        raise ConfigError(f"{path} was made with {describe(first, saved.get(first))}, this run asks "
                          f"for {describe(first, asked.get(first))}{rest}; resume with the "
                          "checkpoint's settings or start a new run without ckpt_path")
    trained_on = checkpoint_data_dir(ckpt)
    here = str(Path(str(cfg.paths.data_dir)).expanduser().resolve())
    if trained_on and trained_on != here:
        raise ConfigError(f"paths.data_dir={here} but {path} was trained on {trained_on}; resume with "
                          f"paths.data_dir={trained_on} (its normalisation belongs to that data)")
    print(f"[nri] resuming from {path}, saved at global step {ckpt['global_step']} (epoch {ckpt['epoch']}); "
          "any steps run after this checkpoint was written are repeated")


def data_dir_given(cfg: DictConfig) -> bool:
    """Whether the user named a data folder (override or NRI_DATA_DIR) rather than the default."""
    from hydra.core.hydra_config import HydraConfig

    if os.environ.get("NRI_DATA_DIR"):
        return True
    if not HydraConfig.initialized():
        return True
    overrides = HydraConfig.get().overrides.task
    return any(o.lstrip("+").startswith(("data_dir=", "paths.data_dir=", "paths.root_dir="))
               for o in overrides)


def prepare_eval(cfg: DictConfig) -> None:
    """Check ``cfg.ckpt_path`` and, without a data folder from the user, read the checkpoint's."""
    ckpt = read_checkpoint(str(cfg.ckpt_path))
    trained_on = checkpoint_data_dir(ckpt)
    if data_dir_given(cfg):
        here = str(Path(str(cfg.data_dir)).expanduser().resolve())
        if trained_on and here != trained_on:
            print(f"[nri] evaluating on {here}; the checkpoint was trained on {trained_on} (its "
                  "normalisation is used)")
        return
    if not trained_on and is_pretrained(cfg.ckpt_path):
        print(f"[nri] data: {Path(str(cfg.data_dir)).expanduser().resolve()} (a pretrained model: any "
              "folder its dataset's nri.generate made; set data_dir=… for another)")
        return
    if not trained_on:
        raise ConfigError(f"{cfg.ckpt_path} does not record its data folder; give data_dir=<folder>")
    with open_dict(cfg):
        cfg.data_dir = trained_on
    print(f"[nri] data: {trained_on} (the checkpoint's data folder; set data_dir=… for another)")
