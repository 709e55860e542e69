"""Dataset configs arrive as OmegaConf nodes (Hydra) or plain dicts (Python callers)."""

from __future__ import annotations

from collections.abc import Mapping


def plain_dict(dataset_cfg) -> dict:
    """A dataset config as a plain, resolved dict."""
    if isinstance(dataset_cfg, Mapping) and not hasattr(dataset_cfg, "_get_node"):
        return dict(dataset_cfg)
    from omegaconf import OmegaConf

    return OmegaConf.to_container(dataset_cfg, resolve=True)
