"""Relation-interaction encoder: edge beliefs exchange information before they are classified.

The NRI encoders score every edge from its own pair of trajectories (plus, with the factor
pass, a sum over each node's edges). Here the edge representations of an NRI front end (MLP or
CNN) then attend to one another: every edge looks at the edges that share a node with it,
so that, e.g., the evidence for one spring of an object can lower or raise the belief in another.
"""

from __future__ import annotations

import torch
from torch import nn

from nri.models.encoders import CNNEncoder, MLPEncoder
from nri.models.graph import edge_index

FRONT_ENDS = ("mlp", "cnn")


def node_edge_groups(num_nodes: int, device: torch.device | str | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """The edges that meet at each node: its N-1 incoming, then its N-1 outgoing edges.

    Returns ``(groups, outgoing_order)``: ``groups[i]`` lists the 2(N-1) edge indices of node i,
    and ``outgoing_order`` is the permutation that maps the flattened outgoing halves back to
    edge order (edge e is the ``outgoing_order[e]``-th entry of ``groups[:, N-1:].flatten()``).

    Shapes:
        returns (groups [N, 2(N-1)], outgoing_order [E]), int64
    """
    senders, receivers = edge_index(num_nodes, device)
    incoming = torch.arange(senders.shape[0], device=senders.device).reshape(num_nodes, -1)
    outgoing = torch.argsort(senders, stable=True).reshape(num_nodes, -1)  # edges sent by node i
    return torch.cat([incoming, outgoing], dim=1), torch.argsort(outgoing.flatten())


class RelationInteraction(nn.Module):
    """One round of multi-head self-attention among the edges that share a node.

    Each edge belongs to two groups (its receiver's and its sender's). Attention runs inside
    every group without position encodings, so it does not depend on the order of the objects;
    an edge's update is the sum of what it gathered in its two groups, added residually and
    followed by a feed-forward block (pre-norm transformer layout).

    Shapes:
        h: [B, E, H] -> [B, E, H]
    """

    def __init__(self, hidden: int, heads: int, dropout: float = 0.0):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"encoder.hidden ({hidden}) must be divisible by encoder.heads ({heads})")
        self.norm1 = nn.LayerNorm(hidden)
        self.attention = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(hidden)
        self.feed_forward = nn.Sequential(nn.Linear(hidden, 2 * hidden), nn.ELU(),
                                          nn.Dropout(dropout), nn.Linear(2 * hidden, hidden))

    def forward(self, h: torch.Tensor, num_nodes: int) -> torch.Tensor:
        b, e, f = h.shape
        groups, outgoing_order = node_edge_groups(num_nodes, h.device)
        members = self.norm1(h).index_select(1, groups.flatten())  # [B, N*2(N-1), H]
        members = members.reshape(b * num_nodes, groups.shape[1], f)  # one set per node
        gathered, _ = self.attention(members, members, members, need_weights=False)
        gathered = gathered.reshape(b, num_nodes, 2, num_nodes - 1, f)
        from_receiver = gathered[:, :, 0].reshape(b, e, f)  # already in edge order
        from_sender = gathered[:, :, 1].reshape(b, e, f).index_select(1, outgoing_order)
        h = h + from_receiver + from_sender
        return h + self.feed_forward(self.norm2(h))


class RelationInteractionEncoder(nn.Module):
    """An NRI front end's edge representations, ``rounds`` of relation interaction, edge logits.

    ``front_end`` picks the NRI encoder that makes the edge representations: ``mlp`` (needs exactly
    ``timesteps`` frames) or ``cnn`` (any length >= 14).

    Shapes:
        x: [B, N, T, D] -> logits [B, E, K], E = N(N-1), receiver-major as nri.models.graph
    """

    def __init__(self, timesteps: int, dims: int, hidden: int, edge_types: int,
                 front_end: str = "mlp", dropout: float = 0.0, factor: bool = True,
                 heads: int = 4, rounds: int = 1):
        super().__init__()
        if front_end not in FRONT_ENDS:
            raise ValueError(f"encoder.front_end must be one of {FRONT_ENDS}, got {front_end!r}")
        if rounds < 1:
            raise ValueError(f"encoder.rounds must be at least 1, got {rounds}")
        if front_end == "mlp":
            self.front = MLPEncoder(timesteps, dims, hidden, edge_types, dropout, factor)
        else:
            self.front = CNNEncoder(dims, hidden, edge_types, dropout, factor)
        self.front.fc_out = None  # the front end's own edge-type layer is replaced by ours
        self.interactions = nn.ModuleList(RelationInteraction(hidden, heads, dropout)
                                          for _ in range(rounds))
        self.norm = nn.LayerNorm(hidden)
        self.fc_out = nn.Linear(hidden, edge_types)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[1]
        h = self.front.edge_embeddings(x)  # [B, N, T, D] -> [B, E, H]
        for interaction in self.interactions:
            h = interaction(h, n)
        return self.fc_out(self.norm(h))  # [B, E, K]
