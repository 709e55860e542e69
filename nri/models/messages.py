"""One message MLP per edge type, all types evaluated together in type-major batched matmuls."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class TypedMessages(nn.Module):
    """``sum_k z_k * act(W2_k act(W1_k [x_s, x_r]))`` over the edge types that send messages.

    Every intermediate is laid out type-major, [K, rows, H], so that both layers are batched
    matmuls over contiguous operands in the forward and the backward pass (an interleaved
    [rows, K*H] layout costs a copy and a strided matmul in every backward). Activations are applied
    in place: the matmuls do not keep their outputs for backward, so this saves one full-size
    tensor per layer. The first layer is linear in [x_s, x_r], so :meth:`from_nodes` applies it to
    the N nodes and gathers the results for the N(N-1) edges: the same function at 1/(N-1) of the
    first layer's cost, which pays off when the node features are wide (RNN hidden states).

    Parameters keep the layout of K separate ``nn.Linear`` layers fused: ``fc1`` is one Linear
    with K*H outputs (type-major), ``w2`` [K, H, F_out] and ``b2`` [K, F_out].

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
        self.act_ = torch.tanh_ if activation == "tanh" else torch.relu_
        self.dropout = dropout
        # nn.Linear's default init, per type, so that a fused layer starts like K separate ones
        per_type_fan_in = in_dim
        bound1 = 1.0 / math.sqrt(per_type_fan_in)
        nn.init.uniform_(self.fc1.weight, -bound1, bound1)
        nn.init.uniform_(self.fc1.bias, -bound1, bound1)
        bound2 = 1.0 / math.sqrt(hidden)
        nn.init.uniform_(self.w2, -bound2, bound2)
        nn.init.uniform_(self.b2, -bound2, bound2)

    def _first_weights(self, start: int, stop: int) -> torch.Tensor:
        """Columns [start, stop) of every type's first layer, type-major: [K, stop - start, H]."""
        k, h = self.num_types, self.hidden
        return self.fc1.weight[:, start:stop].reshape(k, h, stop - start).transpose(1, 2)

    def forward(self, pre_msg: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        lead, f_in = pre_msg.shape[:-1], pre_msg.shape[-1]
        rows = pre_msg.reshape(1, -1, f_in).expand(self.num_types, -1, f_in)
        bias = self.fc1.bias.reshape(self.num_types, 1, self.hidden)
        pre_act = torch.baddbmm(bias, rows, self._first_weights(0, f_in))  # [K, rows, H]
        return self._second_layer(pre_act, weights, lead)

    def from_nodes(self, x: torch.Tensor, senders: torch.Tensor, receivers: torch.Tensor,
                   weights: torch.Tensor) -> torch.Tensor:
        """The same as ``forward(node2edge(x, senders, receivers), weights)``, computed per node.

        Shapes:
            x: [B, N, *S, F]; senders, receivers: [E], or per sample [B, E] (candidate edges);
            weights: [B, E, K_msg] -> [B, E, *S, F_out]
        """
        b, n, f = x.shape[0], x.shape[1], x.shape[-1]
        k, h = self.num_types, self.hidden
        nodes = x.reshape(1, -1, f).expand(k, -1, f)  # [K, B*N*S, F]
        send = torch.bmm(nodes, self._first_weights(0, f)).reshape(k, b, n, -1, h)
        recv = torch.baddbmm(self.fc1.bias.reshape(k, 1, h), nodes,
                             self._first_weights(f, 2 * f)).reshape(k, b, n, -1, h)
        # index_select, not x[:, :, idx]: advanced indexing and its backward (index_put_ with
        # accumulation) cost about three times as much here, once per RNN step. The sum is formed
        # in its final shape: the in-place activation of a view would make autograd copy the whole
        # tensor back and forth in the backward pass (CopySlices).
        if senders.dim() == 2:  # per-sample indices: one flat gather over the B*N nodes
            offset = torch.arange(b, device=senders.device).unsqueeze(1) * n
            senders, receivers = (senders + offset).reshape(-1), (receivers + offset).reshape(-1)
            send, recv = send.reshape(k, b * n, -1, h), recv.reshape(k, b * n, -1, h)
            pre_act = (send.index_select(1, senders).reshape(k, -1, h)
                       + recv.index_select(1, receivers).reshape(k, -1, h))  # [K, B*E*S, H]
        else:
            pre_act = (send.index_select(2, senders).reshape(k, -1, h)
                       + recv.index_select(2, receivers).reshape(k, -1, h))  # [K, B*E*S, H]
        lead = (b, weights.shape[1]) + x.shape[2:-1]
        return self._second_layer(pre_act, weights, lead)

    def _second_layer(self, pre_act: torch.Tensor, weights: torch.Tensor,
                      lead: torch.Size | tuple[int, ...]) -> torch.Tensor:
        """Shapes: pre_act [K, rows, H]; weights [B, E, K]; lead = (B, E, *S) -> [*lead, F_out]"""
        h = F.dropout(self.act_(pre_act), self.dropout, training=self.training)
        out = self.act_(torch.baddbmm(self.b2.unsqueeze(1), h, self.w2))  # [K, rows, F_out]
        # weights [B, E, K] -> [K, rows, 1], broadcast over the extra dims *S
        extra = (1,) * (len(lead) - 2)
        z = weights.reshape(weights.shape[:2] + extra + weights.shape[2:])
        z = z.expand(*lead, self.num_types).reshape(-1, self.num_types).t().unsqueeze(-1)
        if self.num_types == 1:  # e.g. K = 2 with skip_first: no sum over types
            return (out[0] * z[0]).reshape(*lead, -1)
        return (out * z).sum(0).reshape(*lead, -1)  # weight by z_k, sum over types
