"""Forecasting baselines that use no graph (the paper's Table 2): Static, LSTM (single), LSTM (joint).

They follow the decoder call convention and ignore ``edges``; all are ``recurrent`` so the module
passes ``burn_in_steps``: ground truth is fed for the first ``burn_in_steps + 1`` inputs and the
model's own predictions after, or, without a burn-in, ground truth every ``pred_steps`` inputs.
"""

from __future__ import annotations

import torch
from torch import nn


def truth_mask(steps: int, pred_steps: int, burn_in_steps: int | None) -> list[bool]:
    """Whether input ``s`` (predicting frame s+1) is a ground-truth frame, for s < steps.

    The first input is always ground truth (there is nothing else to feed), even when a
    burn-in longer than the sequence makes ``burn_in_steps`` negative.
    """
    if burn_in_steps is not None:
        return [s <= max(burn_in_steps, 0) for s in range(steps)]
    return [s % pred_steps == 0 for s in range(steps)]


def _runs(mask: list[bool]) -> list[tuple[int, int, bool]]:
    """Maximal runs [start, stop) of equal entries, with their value."""
    out, start = [], 0
    for s in range(1, len(mask) + 1):
        if s == len(mask) or mask[s] != mask[start]:
            out.append((start, s, mask[start]))
            start = s
    return out


class StaticDecoder(nn.Module):
    """Predicts that nothing moves: every prediction is the last frame it was fed.

    Shapes:
        x: [B, N, T, D] -> [B, N, T-1, D]
    """

    recurrent = True

    def forward(self, x: torch.Tensor, edges: torch.Tensor | None = None, pred_steps: int = 1,
                burn_in_steps: int | None = None) -> torch.Tensor:
        """Shapes: x [B, N, T, D]; edges ignored -> [B, N, T-1, D]"""
        mask = truth_mask(x.shape[2] - 1, pred_steps, burn_in_steps)
        last, source = 0, []
        for s, truth in enumerate(mask):
            last = s if truth else last
            source.append(last)
        return x[:, :, source]


class _Recurrent(nn.Module):
    """Shared roll-out of a residual recurrent forecaster over a trajectory.

    Subclasses provide ``encode`` (frames -> LSTM inputs), the ``lstm`` and ``decode``
    (LSTM outputs -> change of the frames); runs of ground-truth inputs go through the LSTM in
    one call, free-running steps one at a time.
    """

    recurrent = True
    lstm: nn.LSTM

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, out: torch.Tensor, b: int, n: int) -> torch.Tensor:
        raise NotImplementedError

    def _step(self, frames: torch.Tensor, state):
        """Shapes: frames [B, N, S, D] -> (predictions [B, N, S, D], state)"""
        b, n = frames.shape[:2]
        out, state = self.lstm(self.encode(frames), state)
        return frames + self.decode(out, b, n), state

    def forward(self, x: torch.Tensor, edges: torch.Tensor | None = None, pred_steps: int = 1,
                burn_in_steps: int | None = None) -> torch.Tensor:
        """Shapes: x [B, N, T, D]; edges ignored -> [B, N, T-1, D]"""
        state = None
        preds: list[torch.Tensor] = []
        for start, stop, truth in _runs(truth_mask(x.shape[2] - 1, pred_steps, burn_in_steps)):
            if truth:
                out, state = self._step(x[:, :, start:stop], state)
                preds.append(out)
                continue
            for _ in range(start, stop):
                out, state = self._step(preds[-1][:, :, -1:], state)
                preds.append(out)
        return torch.cat(preds, dim=2)


class LSTMSingle(_Recurrent):
    """One LSTM shared by all objects, each object forecast on its own (permutation equivariant).

    Per object: Linear(D, H), ReLU, Linear(H, H), ReLU, an LSTM(H, H) of ``num_layers``, then
    Linear(H, H), ReLU, Linear(H, D) for the change of the state.

    Shapes:
        x: [B, N, T, D] -> [B, N, T-1, D]
    """

    def __init__(self, dims: int, hidden: int = 256, num_layers: int = 2, dropout: float = 0.0):
        super().__init__()
        self.hidden = hidden
        self.inp = nn.Sequential(nn.Linear(dims, hidden), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, hidden), nn.ReLU())
        self.lstm = nn.LSTM(hidden, hidden, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.out = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, dims))

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        b, n, s, d = frames.shape
        return self.inp(frames.reshape(b * n, s, d))  # [B, N, S, D] -> [B*N, S, H]

    def decode(self, out: torch.Tensor, b: int, n: int) -> torch.Tensor:
        return self.out(out).reshape(b, n, out.shape[1], -1)  # [B*N, S, H] -> [B, N, S, D]

    def hidden_states(self, x: torch.Tensor) -> torch.Tensor:
        """Top-layer LSTM outputs on ground-truth inputs (for Corr. (LSTM)).

        Shapes: x [B, N, T, D] -> [B, N, T, H]
        """
        b, n, t, _ = x.shape
        out, _ = self.lstm(self.encode(x))
        return out.reshape(b, n, t, self.hidden)


class LSTMJoint(_Recurrent):
    """The reference's LSTM baseline: all objects concatenated into one LSTM state.

    Per object: Linear(D, H), ReLU, Linear(H, H), ReLU; the N encodings are concatenated, run
    through an LSTM(N·H, N·H) of ``num_layers``, then Linear(N·H, N·H), ReLU, Linear(N·H, N·D).
    The object order matters, so it needs a fixed ``num_atoms``.

    Shapes:
        x: [B, N, T, D] with N == num_atoms -> [B, N, T-1, D]
    """

    def __init__(self, dims: int, num_atoms: int, hidden: int = 256, num_layers: int = 2,
                 dropout: float = 0.0):
        super().__init__()
        self.num_atoms = num_atoms
        width = num_atoms * hidden
        self.inp = nn.Sequential(nn.Linear(dims, hidden), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, hidden), nn.ReLU())
        self.lstm = nn.LSTM(width, width, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.out = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, num_atoms * dims))

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        b, n, s, _ = frames.shape
        if n != self.num_atoms:
            raise ValueError(f"LSTM (joint) was built for {self.num_atoms} objects, got {n}")
        h = self.inp(frames)  # [B, N, S, H]
        return h.permute(0, 2, 1, 3).reshape(b, s, -1)  # -> [B, S, N*H]

    def decode(self, out: torch.Tensor, b: int, n: int) -> torch.Tensor:
        s = out.shape[1]
        return self.out(out).reshape(b, s, n, -1).permute(0, 2, 1, 3)  # [B, S, N*D] -> [B, N, S, D]
