"""Edge indexing and index-based message passing over the fully connected directed graph, and
over per-sample candidate edge sets (:class:`CandidateEdges`) for systems too large for all pairs.

Node-to-edge is a gather by sender and receiver index; edge-to-node is a sum over each
receiver's block of incoming edges.

Edges are the N(N-1) ordered off-diagonal pairs (receiver i, sender j) in row-major order of the
N x N matrix with the diagonal removed, so edge k of a graph with N objects is the k-th True entry of
``~eye(N)`` read row by row. This matches the reference's edge order (after its PR #20).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch


@functools.lru_cache(maxsize=64)
def _edge_index_cpu(num_nodes: int) -> tuple[torch.Tensor, torch.Tensor]:
    # Cached tensors outlive the call: a first call under torch.inference_mode (testing, predicting)
    # must not make them inference tensors, which autograd refuses to save in later training steps.
    # Formed by arithmetic, not by nonzero() of ~eye(N): an output shape that depends on data
    # would break a torch.compile graph of the whole training step in two.
    with torch.inference_mode(False):
        receivers = torch.arange(num_nodes).repeat_interleave(num_nodes - 1)
        others = torch.arange(num_nodes - 1).repeat(num_nodes)
        senders = others + (others >= receivers).long()  # skip the receiver itself
    return senders, receivers


def edge_index(num_nodes: int, device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Sender and receiver node of every directed edge.

    Shapes:
        returns (senders [E], receivers [E]) with E = N(N-1), int64.
    """
    if num_nodes < 2:
        raise ValueError(f"a graph needs at least 2 objects, got num_nodes={num_nodes}")
    senders, receivers = _edge_index_cpu(num_nodes)
    return senders.to(device), receivers.to(device)


def node2edge(x: torch.Tensor, senders: torch.Tensor, receivers: torch.Tensor) -> torch.Tensor:
    """Concatenate sender and receiver features for every edge.

    Shapes:
        x: [B, N, F] (or [B, N, ..., F]) -> [B, E, 2F] (or [B, E, ..., 2F]), sender first.
    """
    return torch.cat([x.index_select(1, senders), x.index_select(1, receivers)], dim=-1)


def edge2node(edges: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Sum the features of incoming edges at each receiver.

    In the edge order of :func:`edge_index` the receivers are sorted, N - 1 edges each (edge k
    goes to node k // (N - 1)), so the scatter-add over receivers is a reshape and a sum over
    the N - 1 senders: no index tensor, and unlike ``index_add_`` nothing is kept for backward.

    Shapes:
        edges: [B, E, ...] -> [B, N, ...]
    """
    if edges.dim() < 2 or edges.shape[1] != num_nodes * (num_nodes - 1):
        raise ValueError(f"edge2node expects [B, N(N-1), ...] = [B, {num_nodes * (num_nodes - 1)}, ...] "
                         f"for {num_nodes} objects, got {tuple(edges.shape)}")
    return edges.reshape((edges.shape[0], num_nodes, num_nodes - 1) + tuple(edges.shape[2:])).sum(2)


def adjacency_to_edges(adj: torch.Tensor) -> torch.Tensor:
    """Read the off-diagonal entries of [..., N, N] matrices in edge order.

    Shapes:
        adj: [..., N, N] -> [..., E]; entry [i, j] is the edge from sender j to receiver i.
    """
    n = adj.shape[-1]
    senders, receivers = edge_index(n, adj.device)
    return adj[..., receivers, senders]


def edges_to_adjacency(values: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Inverse of :func:`adjacency_to_edges`; the diagonal is zero.

    Shapes:
        values: [..., E, *F] with the edge axis given by E = N(N-1) at position -1 or -2 is not
        guessed: the edge axis must be the one right after the leading dims, i.e. values [B, E, F]
        -> [B, N, N, F] and values [B, E] -> [B, N, N].
    """
    senders, receivers = edge_index(num_nodes, values.device)
    lead = values.shape[:1]
    tail = values.shape[2:]
    out = values.new_zeros(lead + (num_nodes, num_nodes) + tail)
    out[:, receivers, senders] = values
    return out


@dataclass(frozen=True)
class CandidateEdges:
    """A per-sample set of candidate edges with exactly k slots per receiver, receiver-major.

    Slot ``i * k + m`` of sample b is the edge from ``senders[b, i*k + m]`` to receiver i, so
    edge-to-node is a reshape and a sum over k (no scatter), as for all pairs, where k = N - 1.
    ``mask`` (None: every slot is an edge) marks the real edges; a padded slot points at its own
    receiver and its messages are zeroed. Work and memory are O(B N k), never O(N²).

    Shapes:
        senders, receivers: [B, E] int64 with E = N * k; mask: [B, E] bool or None
    """

    senders: torch.Tensor
    receivers: torch.Tensor
    mask: torch.Tensor | None
    num_nodes: int
    per_receiver: int

    def __post_init__(self):
        expected = (self.senders.shape[0], self.num_nodes * self.per_receiver)
        if tuple(self.senders.shape) != expected or self.receivers.shape != self.senders.shape:
            raise ValueError(f"candidate senders and receivers must be [B, N*k] = {list(expected)}, "
                             f"got {list(self.senders.shape)} and {list(self.receivers.shape)}")

    @property
    def num_edges(self) -> int:
        return self.senders.shape[1]

    def node2edge(self, x: torch.Tensor) -> torch.Tensor:
        """Sender and receiver features of every candidate edge, sender first.

        Shapes:
            x: [B, N, *S, F] -> [B, E, *S, 2F]
        """
        return torch.cat([gather_nodes(x, self.senders), gather_nodes(x, self.receivers)], dim=-1)

    def edge2node(self, edges: torch.Tensor) -> torch.Tensor:
        """Sum of the (unmasked) incoming candidate edges at each receiver.

        Shapes:
            edges: [B, E, *S] -> [B, N, *S]
        """
        if edges.dim() < 2 or edges.shape[1] != self.num_edges:
            raise ValueError(f"edge2node expects [B, {self.num_edges}, ...] for these candidates, "
                             f"got {tuple(edges.shape)}")
        if self.mask is not None:
            edges = edges * self.mask.reshape(self.mask.shape + (1,) * (edges.dim() - 2))
        shape = (edges.shape[0], self.num_nodes, self.per_receiver) + tuple(edges.shape[2:])
        return edges.reshape(shape).sum(2)  # [B, N*k, *S] -> [B, N, k, *S] -> [B, N, *S]

    def to_adjacency(self, values: torch.Tensor) -> torch.Tensor:
        """Dense [B, N, N] of per-candidate values (0 elsewhere and at masked slots); small N only.

        Shapes:
            values: [B, E] -> [B, N, N], entry [i, j] the edge from sender j to receiver i
        """
        if self.mask is not None:
            values = values * self.mask
        out = values.new_zeros(values.shape[0], self.num_nodes, self.num_nodes)
        batch = torch.arange(values.shape[0], device=values.device).unsqueeze(1)
        return out.index_put_((batch.expand_as(self.receivers), self.receivers, self.senders),
                              values, accumulate=True)


def gather_nodes(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Per-sample node features at per-sample node indices (a flat ``index_select``).

    Shapes:
        x: [B, N, *S, F]; index: [B, E] -> [B, E, *S, F]
    """
    b, n = x.shape[:2]
    flat = (index + torch.arange(b, device=index.device).unsqueeze(1) * n).reshape(-1)
    return x.reshape((b * n,) + x.shape[2:]).index_select(0, flat).reshape(index.shape + x.shape[2:])
