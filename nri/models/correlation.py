"""Correlation baselines of Table 1: Corr. (path) and Corr. (LSTM).

Both turn the Pearson correlation over time of two objects' series into edge logits with a
logistic layer trained on the true edges (``model=supervised``): the paper's "threshold chosen on
the training labels", generalised to one weight per correlation feature.

- Corr. (path) correlates the objects' trajectories (every feature dimension).
- Corr. (LSTM) correlates the hidden states of a trained LSTM (single) forecaster. The paper
  trains that LSTM to predict trajectories first and correlates its states afterwards, so this
  encoder loads the LSTM from a finished ``row=lstm_single`` run (Table 2) and freezes it: the
  edge labels never reach the LSTM, and no auxiliary loss needs a second objective in the
  training core.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from nri.models.baselines import LSTMSingle
from nri.models.graph import edge_index


def pair_correlation(h: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Pearson correlation over time of every feature, for every directed pair (receiver, sender).

    Shapes:
        h: [B, N, T, F] -> [B, E, F] in [-1, 1]
    """
    senders, receivers = edge_index(h.shape[1], h.device)
    h = h - h.mean(dim=2, keepdim=True)
    h = h / (h.norm(dim=2, keepdim=True) + eps)
    return (h[:, receivers] * h[:, senders]).sum(dim=2)  # [B, E, T, F] -> [B, E, F]


class _CorrelationHead(nn.Module):
    """Logistic layer on the correlation and its magnitude (attraction and repulsion both count).

    Shapes:
        corr: [B, E, F] -> logits [B, E, K]
    """

    def __init__(self, features: int, edge_types: int):
        super().__init__()
        self.fc = nn.Linear(2 * features, edge_types)

    def forward(self, corr: torch.Tensor) -> torch.Tensor:
        """Shapes: corr [B, E, F] -> logits [B, E, K]"""
        return self.fc(torch.cat([corr, corr.abs()], dim=-1))


class CorrelationEncoder(nn.Module):
    """Corr. (path): edges from the correlation of the objects' trajectories.

    Shapes:
        x: [B, N, T, D] -> logits [B, E, K]
    """

    def __init__(self, dims: int, edge_types: int):
        super().__init__()
        self.head = _CorrelationHead(dims, edge_types)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Shapes: x [B, N, T, D] -> logits [B, E, K]"""
        return self.head(pair_correlation(x))


class CorrelationLSTMEncoder(nn.Module):
    """Corr. (LSTM): edges from the correlation of a frozen LSTM (single)'s hidden states.

    ``checkpoint`` is the ``best.ckpt`` of a ``model=forecast decoder=lstm_single`` run on the
    same dataset; the LSTM's size is read from it.

    Shapes:
        x: [B, N, T, D] -> logits [B, E, K]
    """

    def __init__(self, dims: int, edge_types: int, checkpoint: str,
                 dataset: dict[str, Any] | None = None):
        super().__init__()
        self.lstm = load_lstm_single(checkpoint, dims, dataset)
        self.lstm.requires_grad_(False)
        self.head = _CorrelationHead(self.lstm.hidden, edge_types)

    def train(self, mode: bool = True) -> CorrelationLSTMEncoder:
        super().train(mode)
        self.lstm.eval()  # frozen: it stays as trained
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Shapes: x [B, N, T, D] -> logits [B, E, K]"""
        with torch.no_grad():
            h = self.lstm.hidden_states(x)  # [B, N, T, H]
        return self.head(pair_correlation(h))


def load_lstm_single(checkpoint: str, dims: int, dataset: dict[str, Any] | None = None) -> LSTMSingle:
    """The LSTM (single) decoder of a finished forecasting run, with its weights."""
    if not checkpoint or checkpoint == "???":
        raise ValueError("encoder=corr_lstm needs encoder.checkpoint=<best.ckpt of a model=forecast "
                         "decoder=lstm_single run>; the table experiments (row=corr_lstm) set it")
    path = Path(checkpoint).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"Corr. (LSTM) needs a trained LSTM (single) checkpoint, and {path} does not exist; "
            "train one first: `python scripts/table_jobs.py <block>` runs it before Corr. (LSTM), or "
            "`python -m nri.train -m experiment=<block> row=lstm_single` with the same profile, "
            "dataset and seed")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    hparams = ckpt.get("hyper_parameters", {})
    cfg = dict(hparams.get("decoder") or {})
    if cfg.pop("name", None) != "lstm_single":
        raise ValueError(f"{path} is not an LSTM (single) run (decoder {hparams.get('decoder')!r})")
    trained_on = hparams.get("dataset") or {}
    if dataset is not None and trained_on.get("suffix") != dataset.get("suffix"):
        raise ValueError(f"{path} was trained on {trained_on.get('suffix')!r}, not {dataset.get('suffix')!r}")
    lstm = LSTMSingle(dims, **cfg)
    state = {k[len("decoder."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("decoder.")}
    lstm.load_state_dict(state)
    return lstm
