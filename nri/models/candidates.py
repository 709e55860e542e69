"""Candidate edge sets per sample: which (receiver, sender) pairs the encoder and decoder consider.

Every builder returns a :class:`~nri.models.graph.CandidateEdges` with a fixed number k of slots
per receiver (receiver-major, senders ascending within a receiver), so its cost is O(B N k):

- :class:`AllPairs`: the N(N-1) ordered pairs in the order of ``graph.edge_index`` (k = N - 1);
- :class:`NearestByTrajectory`: each receiver's k nearest objects by trajectory distance, the
  root mean square over the encoder's frames of the distance between the two objects' features;
- :class:`WithinRadius`: the same k_max nearest, masked beyond a radius of that distance;
- :func:`given_candidates`: a user's list per sample, padded to the largest in-degree with a mask.

:func:`candidate_labels` reads the true edges at the candidates, and :func:`candidate_recall`
gives the fraction of true edges among them, which bounds what any model on them can find.
"""

from __future__ import annotations

import torch

from nri.models.graph import CandidateEdges, edge_index

__all__ = ["AllPairs", "NearestByTrajectory", "WithinRadius", "candidate_labels",
           "candidate_recall", "given_candidates", "nearest_by_trajectory"]

_DISTANCE_CHUNK = 2**22  # entries of the [B, rows, N] distance block formed at a time


def _receiver_major(batch: int, num_nodes: int, k: int, device) -> torch.Tensor:
    """Shapes: -> [B, N*k], receiver i at slots i*k .. i*k+k-1"""
    rows = torch.arange(num_nodes, device=device).repeat_interleave(k)
    return rows.unsqueeze(0).expand(batch, -1)


class AllPairs:
    """Every ordered pair; the same edges, in the same order, as ``graph.edge_index``.

    Shapes:
        x: [B, N, T, D] -> CandidateEdges with E = N(N-1)
    """

    def __call__(self, x: torch.Tensor) -> CandidateEdges:
        b, n = x.shape[:2]
        senders, receivers = edge_index(n, x.device)
        return CandidateEdges(senders.unsqueeze(0).expand(b, -1),
                              receivers.unsqueeze(0).expand(b, -1), None, n, n - 1)


def nearest_by_trajectory(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each object's k nearest other objects (ascending index) and their trajectory distances.

    The distance between objects i and j is sqrt(mean_t ||x_it - x_jt||²). The [N, N] distances
    are formed a block of receivers at a time, so memory stays O(B * rows * N) + O(B N k).

    Shapes:
        x: [B, N, T, D] -> (senders [B, N, k] int64, distances [B, N, k])
    """
    b, n, t, d = x.shape
    if not 1 <= k <= n - 1:
        raise ValueError(f"k must lie in [1, N-1] = [1, {n - 1}] for {n} objects, got k={k}")
    flat = x.reshape(b, n, t * d).float()
    rows = max(1, _DISTANCE_CHUNK // max(1, b * n))
    senders, distances = [], []
    with torch.no_grad():
        for start in range(0, n, rows):
            block = torch.cdist(flat[:, start:start + rows], flat)  # [B, rows, N]
            own = torch.arange(start, min(start + rows, n), device=x.device)
            block[:, own - start, own] = float("inf")  # an object is not its own candidate
            dist, idx = block.topk(k, dim=-1, largest=False)  # [B, rows, k]
            idx, order = idx.sort(dim=-1)  # ascending senders: k = N-1 gives edge_index's order
            senders.append(idx)
            distances.append(dist.gather(-1, order) / t**0.5)
    return torch.cat(senders, dim=1), torch.cat(distances, dim=1)


class NearestByTrajectory:
    """Each receiver's ``k`` nearest objects by trajectory distance (E = N k).

    Shapes:
        x: [B, N, T, D] -> CandidateEdges with E = N * k
    """

    def __init__(self, k: int):
        self.k = int(k)

    def __call__(self, x: torch.Tensor) -> CandidateEdges:
        b, n = x.shape[:2]
        senders, _ = nearest_by_trajectory(x, self.k)
        return CandidateEdges(senders.reshape(b, -1), _receiver_major(b, n, self.k, x.device),
                              None, n, self.k)


class WithinRadius:
    """Objects within trajectory distance ``radius`` of the receiver, at most the ``k_max`` nearest.

    Slots beyond the radius are masked (and point at the receiver itself).

    Shapes:
        x: [B, N, T, D] -> CandidateEdges with E = N * k_max and a mask
    """

    def __init__(self, radius: float, k_max: int):
        self.radius = float(radius)
        self.k_max = int(k_max)

    def __call__(self, x: torch.Tensor) -> CandidateEdges:
        b, n = x.shape[:2]
        senders, dist = nearest_by_trajectory(x, self.k_max)
        inside = dist <= self.radius
        own = torch.arange(n, device=x.device).reshape(1, n, 1).expand_as(senders)
        senders = torch.where(inside, senders, own)
        return CandidateEdges(senders.reshape(b, -1), _receiver_major(b, n, self.k_max, x.device),
                              inside.reshape(b, -1), n, self.k_max)


def given_candidates(edge_lists: list[torch.Tensor], num_nodes: int) -> CandidateEdges:
    """A user's candidate edges per sample, laid out receiver-major and padded with a mask.

    k is the largest in-degree over the batch (at least 1); a receiver's slots hold its senders
    in ascending order, then padding.

    Shapes:
        edge_lists: B tensors [2, M_b] (row 0 receivers, row 1 senders) -> CandidateEdges with
        E = N * k
    """
    device = edge_lists[0].device if edge_lists else torch.device("cpu")
    cleaned = []
    for b, edges in enumerate(edge_lists):
        edges = torch.as_tensor(edges, dtype=torch.int64, device=device)
        if edges.dim() != 2 or edges.shape[0] != 2:
            raise ValueError(f"given candidates of sample {b} must be [2, M] (receivers, senders), "
                             f"got {list(edges.shape)}")
        if edges.numel() and (edges.min() < 0 or edges.max() >= num_nodes):
            raise ValueError(f"given candidates of sample {b} name objects outside [0, {num_nodes})")
        edges = edges[:, edges[0] != edges[1]]  # self-pairs are not edges
        codes = torch.unique(edges[0] * num_nodes + edges[1])  # sorted: receiver-major
        cleaned.append(codes)
    in_degree = [torch.bincount(c // num_nodes, minlength=num_nodes) for c in cleaned]
    k = max([int(d.max()) for d in in_degree if d.numel()] + [1])
    senders = torch.arange(num_nodes, device=device).repeat_interleave(k).repeat(len(cleaned), 1)
    mask = torch.zeros(len(cleaned), num_nodes * k, dtype=torch.bool, device=device)
    for b, (codes, degree) in enumerate(zip(cleaned, in_degree, strict=True)):
        receivers = codes // num_nodes
        first = torch.cumsum(degree, 0) - degree  # index in codes of each receiver's first edge
        slot = receivers * k + torch.arange(codes.numel(), device=device) - first[receivers]
        senders[b, slot] = codes % num_nodes
        mask[b, slot] = True
    return CandidateEdges(senders, _receiver_major(len(cleaned), num_nodes, k, device), mask,
                          num_nodes, k)


def candidate_labels(candidates: CandidateEdges, true_edges: list[torch.Tensor]) -> torch.Tensor:
    """1 where a (real) candidate slot is a true edge.

    Shapes:
        true_edges: B tensors [2, M_b] (receivers, senders) -> [B, E] float
    """
    n = candidates.num_nodes
    b = candidates.senders.shape[0]
    # one code per (sample, receiver, sender), so one isin serves the whole batch
    offset = torch.arange(b, device=candidates.senders.device).unsqueeze(1) * (n * n)
    codes = candidates.receivers * n + candidates.senders + offset  # [B, E]
    true = [edges[0] * n + edges[1] + i * n * n for i, edges in enumerate(true_edges)]
    labels = torch.isin(codes, torch.cat(true) if true else codes.new_empty(0))
    if candidates.mask is not None:
        labels &= candidates.mask
    return labels.float()


def candidate_recall(candidates: CandidateEdges, true_edges: list[torch.Tensor]) -> torch.Tensor:
    """Fraction of the batch's true edges that are candidates (1 when there are none to find).

    Shapes:
        true_edges: B tensors [2, M_b] -> scalar
    """
    total = sum(int(edges[:, edges[0] != edges[1]].shape[1]) for edges in true_edges)
    found = candidate_labels(candidates, true_edges).sum()
    return found / total if total else found.new_tensor(1.0)
