"""Small building blocks shared by the encoders."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class MLP(nn.Module):
    """Two ELU layers with batch norm over all leading dims (the reference's encoder block).

    Shapes:
        x: [..., in_dim] -> [..., out_dim]
    """

    def __init__(self, in_dim: int, hidden: int, out_dim: int, dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(in_dim, hidden)
        self.fc2 = nn.Linear(hidden, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.dropout = dropout
        for fc in (self.fc1, self.fc2):
            nn.init.xavier_normal_(fc.weight)
            nn.init.constant_(fc.bias, 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.elu(self.fc1(x))
        h = F.dropout(h, self.dropout, training=self.training)
        h = F.elu(self.fc2(h))
        lead = h.shape[:-1]
        return self.bn(h.reshape(-1, h.shape[-1])).reshape(*lead, -1)  # BN over [B*items, F]


class TemporalCNN(nn.Module):
    """1-D CNN with attentive pooling over time, applied to one sequence per edge.

    Shapes:
        x: [M, C_in, T] with T >= 14 -> [M, out_dim]
    """

    def __init__(self, in_channels: int, hidden: int, out_dim: int, dropout: float = 0.0):
        super().__init__()
        self.conv1 = nn.Conv1d(in_channels, hidden, kernel_size=5)
        self.bn1 = nn.BatchNorm1d(hidden)
        self.pool = nn.MaxPool1d(kernel_size=2)
        self.conv2 = nn.Conv1d(hidden, hidden, kernel_size=5)
        self.bn2 = nn.BatchNorm1d(hidden)
        self.pred = nn.Conv1d(hidden, out_dim, kernel_size=1)
        self.attention = nn.Conv1d(hidden, 1, kernel_size=1)
        self.dropout = dropout
        for conv in (self.conv1, self.conv2, self.pred, self.attention):
            n = conv.kernel_size[0] * conv.out_channels
            nn.init.normal_(conv.weight, 0.0, math.sqrt(2.0 / n))
            nn.init.constant_(conv.bias, 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] < 14:
            raise ValueError(f"the CNN encoder needs at least 14 time steps, got {x.shape[-1]}")
        h = self.bn1(F.relu(self.conv1(x)))
        h = F.dropout(h, self.dropout, training=self.training)
        h = self.pool(h)
        h = self.bn2(F.relu(self.conv2(h)))
        weights = torch.softmax(self.attention(h), dim=-1)  # [M, 1, T'] attention over time
        return (self.pred(h) * weights).mean(dim=-1)
