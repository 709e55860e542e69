"""Name -> class for encoders and decoders (baselines included).

Config files choose a component by ``name:``; the remaining keys are constructor arguments (a key
set to null that the component does not take is ignored).
Context that the dataset determines (dims, edge_types, ...) is passed to a constructor only when it
has a parameter of that name, so every component declares exactly what it needs.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from torch import nn

ENCODERS: dict[str, str] = {
    "mlp": "nri.models.encoders:MLPEncoder",
    "cnn": "nri.models.encoders:CNNEncoder",
    "corr": "nri.models.correlation:CorrelationEncoder",
    "corr_lstm": "nri.models.correlation:CorrelationLSTMEncoder",
    "mpm": "nri.models.relation_encoder:RelationInteractionEncoder",
}
DECODERS: dict[str, str] = {
    "mlp": "nri.models.decoders:MLPDecoder",
    "rnn": "nri.models.decoders:RNNDecoder",
    "sim": "nri.models.simulation:SimulationDecoder",
    "static": "nri.models.baselines:StaticDecoder",
    "lstm_single": "nri.models.baselines:LSTMSingle",
    "lstm_joint": "nri.models.baselines:LSTMJoint",
    "history": "nri.models.history_decoder:HistoryDecoder",
}


def register(table: dict[str, str], name: str, target: str) -> None:
    """Add ``module:Class`` under ``name`` (lets a user plug in a component without editing nri)."""
    table[name] = target


def _resolve(target: str) -> type:
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)


def _build(kind: str, table: dict[str, str], cfg: dict[str, Any], context: dict[str, Any]) -> nn.Module:
    cfg = dict(cfg)
    name = cfg.pop("name", None)
    if name not in table:
        raise ValueError(f"unknown {kind} name {name!r}; choose one of {sorted(table)}")
    cls = _resolve(table[name])
    params = inspect.signature(cls.__init__).parameters
    # null means "not set": a shared row config may name an option that only some components take
    cfg = {k: v for k, v in cfg.items() if k in params or v is not None}
    unknown = [k for k in cfg if k not in params]
    if unknown:
        raise ValueError(f"{kind} {name!r} has no option(s) {unknown}; it takes "
                         f"{[p for p in params if p != 'self']}")
    kwargs = {k: v for k, v in context.items() if k in params and k not in cfg}
    kwargs.update(cfg)
    return cls(**kwargs)


def build_encoder(cfg: dict[str, Any], context: dict[str, Any]) -> nn.Module:
    return _build("encoder", ENCODERS, cfg, context)


def build_decoder(cfg: dict[str, Any], context: dict[str, Any]) -> nn.Module:
    return _build("decoder", DECODERS, cfg, context)
