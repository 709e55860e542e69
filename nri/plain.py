"""Configs arrive as OmegaConf nodes (Hydra) or plain dicts (Python callers); code and checkpoints
want plain values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omegaconf import OmegaConf


def plain(cfg: Any) -> Any:
    """A config node as plain, resolved dicts/lists/values; a mapping as a shallow-copied dict;
    anything else as it is."""
    if OmegaConf.is_config(cfg):
        return OmegaConf.to_container(cfg, resolve=True)
    if isinstance(cfg, Mapping):
        return dict(cfg)
    return cfg
