"""Encoders: trajectories of N objects -> logits over K edge types for every directed edge."""

from __future__ import annotations

import functools

import torch
from torch import nn

from nri.models.graph import CandidateEdges, edge2node, edge_index, node2edge
from nri.models.layers import MLP, TemporalCNN


def edge_ops(num_nodes: int, device: torch.device, candidates: CandidateEdges | None):
    """Node-to-edge, edge-to-node and the factor pass's divisor on all pairs (the reference
    divides by N) or on ``candidates`` (each receiver's k candidates and itself: k + 1).

    Shapes:
        node-to-edge: [B, N, *S, F] -> [B, E, *S, 2F]; edge-to-node: [B, E, *S, F] -> [B, N, *S, F]
    """
    if candidates is None:
        senders, receivers = edge_index(num_nodes, device)
        return (functools.partial(node2edge, senders=senders, receivers=receivers),
                functools.partial(edge2node, num_nodes=num_nodes), num_nodes)
    return candidates.node2edge, candidates.edge2node, candidates.per_receiver + 1


class EdgeTypeEncoder(nn.Module):
    """An encoder as edge representations (``edge_embeddings``, the subclass's) followed by one
    linear layer to the K edge-type logits (the relation-interaction encoder reads the former)."""

    def _edge_type_layer(self, hidden: int, edge_types: int) -> None:
        self.fc_out = nn.Linear(hidden, edge_types)
        nn.init.xavier_normal_(self.fc_out.weight)
        nn.init.constant_(self.fc_out.bias, 0.1)

    def forward(self, x: torch.Tensor, candidates: CandidateEdges | None = None) -> torch.Tensor:
        """Shapes: x [B, N, T, D] -> logits [B, E, K] (candidates: E = N*k)"""
        return self.fc_out(self.edge_embeddings(x, candidates))


class MLPEncoder(EdgeTypeEncoder):
    """The reference's MLP encoder (node MLP, edge MLP, optional factor-graph pass).

    The whole trajectory of an object is flattened into one vector, so the encoder must always see
    exactly ``timesteps`` frames.

    With ``candidates`` it scores only those edges, and the factor pass averages over each
    receiver's k candidates and itself (k + 1; all pairs: N, the reference's divisor).

    Shapes:
        x: [B, N, T, D] with T == timesteps -> logits [B, E, K], E = N(N-1) (candidates: N*k)
    """

    def __init__(self, timesteps: int, dims: int, hidden: int, edge_types: int,
                 dropout: float = 0.0, factor: bool = True):
        super().__init__()
        self.timesteps = timesteps
        self.factor = factor
        self.mlp1 = MLP(timesteps * dims, hidden, hidden, dropout)
        self.mlp2 = MLP(2 * hidden, hidden, hidden, dropout)
        self.mlp3 = MLP(hidden, hidden, hidden, dropout)
        self.mlp4 = MLP((3 if factor else 2) * hidden, hidden, hidden, dropout)
        self._edge_type_layer(hidden, edge_types)

    def edge_embeddings(self, x: torch.Tensor,
                        candidates: CandidateEdges | None = None) -> torch.Tensor:
        """Every edge's representation before the edge-type layer: node MLP over the flattened
        trajectory, edge MLP over the pair, then (``factor``) a pass through the receivers.

        Shapes: x [B, N, T, D] -> [B, E, H] (candidates: E = N*k)
        """
        b, n, t, d = x.shape
        if t != self.timesteps:
            raise ValueError(
                f"the MLP encoder was built for {self.timesteps} time steps but got {t}; "
                "use encoder=cnn for variable-length inputs")
        to_edges, to_nodes, divisor = edge_ops(n, x.device, candidates)
        h = self.mlp1(x.reshape(b, n, t * d))  # [B, N, T, D] -> [B, N, H]
        h = self.mlp2(to_edges(h))  # [B, E, 2H] -> [B, E, H]
        skip = h
        if self.factor:
            h = self.mlp3(to_nodes(h) / divisor)  # [B, N, H]
            h = to_edges(h)  # [B, E, 2H]
        else:
            h = self.mlp3(h)  # [B, E, H]
        return self.mlp4(torch.cat([h, skip], dim=-1))  # [B, E, 3H or 2H] -> [B, E, H]


class CNNEncoder(EdgeTypeEncoder):
    """The reference's CNN encoder: a temporal CNN over each edge's pair of trajectories.

    With ``candidates`` it scores only those edges (factor pass as in :class:`MLPEncoder`).

    Shapes:
        x: [B, N, T, D] with T >= 14 -> logits [B, E, K], E = N(N-1) (candidates: N*k)
    """

    def __init__(self, dims: int, hidden: int, edge_types: int, dropout: float = 0.0,
                 factor: bool = True, checkpoint: bool = False):
        super().__init__()
        self.factor = factor
        self.cnn = TemporalCNN(2 * dims, hidden, hidden, dropout, checkpoint)
        self.mlp1 = MLP(hidden, hidden, hidden, dropout)
        if factor:
            self.mlp2 = MLP(hidden, hidden, hidden, dropout)
            self.mlp3 = MLP(3 * hidden, hidden, hidden, dropout)
        self._edge_type_layer(hidden, edge_types)

    def edge_embeddings(self, x: torch.Tensor,
                        candidates: CandidateEdges | None = None) -> torch.Tensor:
        """Every edge's representation before the edge-type layer: a temporal CNN over the pair's
        trajectories, an edge MLP, then (``factor``) a pass through the receivers.

        Shapes: x [B, N, T, D] with T >= 14 -> [B, E, H] (candidates: E = N*k)
        """
        b, n, t, d = x.shape
        to_edges, to_nodes, divisor = edge_ops(n, x.device, candidates)
        pairs = to_edges(x)  # [B, E, T, 2D]
        e = pairs.shape[1]
        h = self.cnn(pairs.reshape(b * e, t, 2 * d)).reshape(b, e, -1)  # [B*E, T, 2D] -> [B, E, H]
        h = self.mlp1(h)
        if not self.factor:
            return h
        skip = h
        h = self.mlp2(to_nodes(h) / divisor)  # [B, N, H]
        h = to_edges(h)  # [B, E, 2H]
        return self.mlp3(torch.cat([h, skip], dim=-1))  # [B, E, 3H] -> [B, E, H]
