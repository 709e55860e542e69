"""Small building blocks shared by the encoders."""

from __future__ import annotations

import contextlib
import math

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint


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

    The reference's layers (conv 5 -> ReLU -> BN -> max-pool 2 -> conv 5 -> ReLU -> BN, then a
    1x1 prediction weighted by a softmax attention over time), computed channels-last: each
    convolution is one matrix product over unfolded windows ([M, T', C*k] x [C*k, H]), which
    trained faster than the channels-first convolution kernels on the development CPU.
    The parameters are ``nn.Conv1d`` modules, so their shapes and names are the reference's.

    ``checkpoint``: in training, keep only the input for the backward pass and recompute the
    layers there (one more forward pass of the CNN). Its activations are the largest of a
    CNN-encoder step (about 500 MiB of a 1.3 GiB peak at batch 128, hidden 256 on springs5). The
    recomputation draws the same dropout masks and leaves batch norm's running statistics alone
    (they are updated once, in the forward pass), so outputs, gradients and running statistics
    equal the plain forward's (tested).

    Shapes:
        x: [M, T, C_in] (channels last) with T >= 14 -> [M, out_dim]
    """

    def __init__(self, in_channels: int, hidden: int, out_dim: int, dropout: float = 0.0,
                 checkpoint: bool = False):
        super().__init__()
        self.checkpoint = checkpoint
        self._recomputing = False
        self.conv1 = nn.Conv1d(in_channels, hidden, kernel_size=5)
        self.bn1 = nn.BatchNorm1d(hidden)
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
        if x.shape[1] < 14:
            raise ValueError(f"the CNN encoder needs at least 14 time steps, got {x.shape[1]}")
        # compiled graphs plan their own memory (and recompute cheap ops): no checkpoint there
        if (self.checkpoint and self.training and torch.is_grad_enabled()
                and not torch.compiler.is_compiling()):
            return checkpoint(self._layers, x, use_reentrant=False, context_fn=self._contexts)
        return self._layers(x)

    def _contexts(self):
        """Context managers for the checkpointed forward and for its recomputation."""
        return contextlib.nullcontext(), self._recomputation()

    @contextlib.contextmanager
    def _recomputation(self):
        self._recomputing = True
        try:
            yield
        finally:
            self._recomputing = False

    def _bn(self, rows: torch.Tensor, bn: nn.BatchNorm1d) -> torch.Tensor:
        """Batch norm of [rows, C]; in the recomputation, running statistics untouched."""
        if not self._recomputing:
            return bn(rows)
        # the same kernel as the forward pass, updating copies of the statistics (thrown away)
        return F.batch_norm(rows, bn.running_mean.clone(), bn.running_var.clone(), bn.weight,
                            bn.bias, training=True, momentum=bn.momentum, eps=bn.eps)

    def _layers(self, x: torch.Tensor) -> torch.Tensor:
        m = x.shape[0]
        # ReLU in place on the convolution's own [M*T', H] result, not on a 3-d view of it: an
        # in-place op on a view makes autograd copy the whole gradient back in the backward pass
        h = self._bn(F.relu_(_conv_rows(x, self.conv1)), self.bn1).view(m, -1, self.bn1.num_features)
        h = F.dropout(h, self.dropout, training=self.training)  # [M, T-4, H]
        pooled = h.shape[1] // 2 * 2  # max-pool 2, stride 2, the odd last frame dropped; as
        # MaxPool1d, the gradient goes to the larger of each pair (max with indices: a cheaper
        # backward than an elementwise maximum of two strided views)
        h = h[:, :pooled].unflatten(1, (-1, 2)).max(dim=2).values  # [M, T'/2, H]
        h = self._bn(F.relu_(_conv_rows(h, self.conv2)), self.bn2).view(m, -1, self.bn2.num_features)
        weights = torch.softmax(_pointwise(h, self.attention), dim=1)  # [M, T'', 1]
        return (_pointwise(h, self.pred) * weights).mean(dim=1)


def _conv_rows(x: torch.Tensor, conv: nn.Conv1d) -> torch.Tensor:
    """A stride-1, unpadded ``conv`` on channels-last input as one matrix product over unfolded
    windows, its output as rows (one per sample and output time step).

    Shapes:
        x: [M, T, C] -> [M * (T - k + 1), out_channels]
    """
    k = conv.kernel_size[0]
    weight = conv.weight.reshape(conv.out_channels, -1)  # [H, C*k], C-major like the windows
    windows = x.unfold(1, k, 1)  # [M, T-k+1, C, k]
    return torch.addmm(conv.bias, windows.reshape(-1, windows.shape[2] * k), weight.t())


def _pointwise(x: torch.Tensor, conv: nn.Conv1d) -> torch.Tensor:
    """A kernel-size-1 ``conv`` on channels-last input.

    Shapes:
        x: [M, T, C] -> [M, T, out_channels]
    """
    return F.linear(x, conv.weight.squeeze(-1), conv.bias)
