"""Trained checkpoints shipped with the package, loaded by name: ``ckpt=springs5``.

Each ``<name>.ckpt`` here has a ``<name>.json`` beside it with its test metrics, its data and the
command that made it (``make pretrained``, scripts/train_pretrained.py). A shipped checkpoint keeps
what inference and evaluation need (weights, settings, normalisation constants) and records no data
folder: it was trained on simulations that any ``nri.generate`` run of its dataset reproduces.
"""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from nri.data.errors import InputError
from nri.errors import ConfigError

PRETRAINED_DIR = Path(__file__).resolve().parent


def names() -> list[str]:
    """The names of the shipped checkpoints."""
    return sorted(p.stem for p in PRETRAINED_DIR.glob("*.ckpt"))


def is_name(value: str | os.PathLike) -> bool:
    """A bare word (no folder, no suffix) names a pretrained model rather than a file."""
    text = str(value)
    return bool(text) and os.sep not in text and "/" not in text and not Path(text).suffix


def checkpoint_file(value: str | os.PathLike) -> Path:
    """The checkpoint a ``ckpt``/``ckpt_path`` value means: a file, or the pretrained model of that name."""
    path = Path(value).expanduser()
    if path.is_file() or not is_name(value):
        return path
    shipped = PRETRAINED_DIR / f"{value}.ckpt"
    if shipped.is_file():
        return shipped
    raise InputError(f"{value}: no such checkpoint file or pretrained model; the pretrained models are "
                     f"{', '.join(names()) or '(none installed)'}, or give the path of a .ckpt file")


def is_pretrained(path: str | os.PathLike) -> bool:
    return Path(path).expanduser().resolve().parent == PRETRAINED_DIR


def choose_checkpoint(cfg: DictConfig) -> None:
    """``ckpt=…`` is the short form of ``ckpt_path=…``; either may name a pretrained model.

    Afterwards ``cfg.ckpt_path`` holds the checkpoint's file (left missing when neither is given).
    """
    given = cfg.get("ckpt")
    if given is not None:
        if not OmegaConf.is_missing(cfg, "ckpt_path") and str(cfg.ckpt_path) != str(given):
            raise ConfigError(f"ckpt={given} and ckpt_path={cfg.ckpt_path} name two checkpoints; give one")
        with open_dict(cfg):
            cfg.ckpt_path = str(given)
    if not OmegaConf.is_missing(cfg, "ckpt_path"):
        with open_dict(cfg):
            cfg.ckpt_path = str(checkpoint_file(cfg.ckpt_path))
