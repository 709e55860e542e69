"""One message MLP per edge type, evaluated for all types in a single batched matmul."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class TypedMessages(nn.Module):
    """``sum_k z_k * act(W2_k act(W1_k [x_s, x_r]))`` over the edge types that send messages.

    The per-type first layers are fused into one Linear and the second layers into one batched
    matmul, which is what makes K message functions cost about as much as one wide one. The first
    layer is linear in [x_s, x_r], so :meth:`from_nodes` applies it to the N nodes and gathers the
    results for the N(N-1) edges: the same function at 1/(N-1) of the first layer's cost.

    Shapes:
        pre_msg: [B, E, *S, 2F] (F_in = 2F, sender first); weights: [B, E, K_msg] -> [B, E, *S, F_out]
    """

    def __init__(self, in_dim: int, hidden: int, out_dim: int, num_types: int,
                 activation: str = "relu", dropout: float = 0.0):
        super().__init__()
        self.num_types = num_types
        self.hidden = hidden
        self.fc1 = nn.Linear(in_dim, num_types * hidden)
        self.w2 = nn.Parameter(torch.empty(num_types, hidden, out_dim))
        self.b2 = nn.Parameter(torch.empty(num_types, out_dim))
        self.act = torch.tanh if activation == "tanh" else F.relu
        self.dropout = dropout
        # nn.Linear's default init, per type, so that a fused layer starts like K separate ones
        per_type_fan_in = in_dim
        bound1 = 1.0 / math.sqrt(per_type_fan_in)
        nn.init.uniform_(self.fc1.weight, -bound1, bound1)
        nn.init.uniform_(self.fc1.bias, -bound1, bound1)
        bound2 = 1.0 / math.sqrt(hidden)
        nn.init.uniform_(self.w2, -bound2, bound2)
        nn.init.uniform_(self.b2, -bound2, bound2)

    def forward(self, pre_msg: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return self._second_layer(self.fc1(pre_msg), weights)

    def from_nodes(self, x: torch.Tensor, senders: torch.Tensor, receivers: torch.Tensor,
                   weights: torch.Tensor) -> torch.Tensor:
        """The same as ``forward(node2edge(x, senders, receivers), weights)``, computed per node.

        Shapes:
            x: [B, N, *S, F]; senders, receivers: [E]; weights: [B, E, K_msg] -> [B, E, *S, F_out]
        """
        f = x.shape[-1]
        w_send, w_recv = self.fc1.weight[:, :f], self.fc1.weight[:, f:]
        send = F.linear(x, w_send)  # [B, N, *S, K*H]
        recv = F.linear(x, w_recv, self.fc1.bias)
        return self._second_layer(send[:, senders] + recv[:, receivers], weights)

    def _second_layer(self, pre_act: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        lead = pre_act.shape[:-1]
        h = self.act(pre_act)  # [..., K*H]
        h = F.dropout(h, self.dropout, training=self.training)
        # weights [B, E, K] -> [B, E, 1, ..., 1, K] to broadcast over the extra dims
        w = weights.reshape(weights.shape[:2] + (1,) * (pre_act.dim() - 3) + weights.shape[2:])
        if self.num_types == 1:  # e.g. K = 2 with skip_first: a plain MLP, no type axis
            return self.act(torch.addmm(self.b2[0], h.reshape(-1, self.hidden), self.w2[0])
                            ).reshape(*lead, -1) * w
        rows = h.numel() // (self.num_types * self.hidden)
        # [..., K*H] -> [K, rows, H]: a strided view that bmm reads directly; this layout is about
        # twice as fast on CPU as the equivalent einsum, which copies into a worse one
        h = h.reshape(rows, self.num_types, self.hidden).transpose(0, 1)
        h = self.act(torch.baddbmm(self.b2.unsqueeze(1), h, self.w2))  # [K, rows, F_out]
        z = w.expand(*lead, self.num_types).reshape(rows, self.num_types).t()  # [K, rows]
        return (h * z.unsqueeze(-1)).sum(0).reshape(*lead, -1)  # weight by z_k, sum over types
