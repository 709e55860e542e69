"""Candidate edges in the training module (``model.candidates``): built per batch from the encoder's
window, the true edges of a batch as lists, and the inputs of the sparse-graph metrics.

``all`` (the default) builds nothing: the encoder and decoder run today's all-pairs path, bit for
bit. ``knn`` keeps each receiver's ``candidate_k`` nearest objects by trajectory distance over the
encoder's frames, ``radius`` those within ``candidate_radius`` (at most ``candidate_k_max``), and
``given`` reads each sample's list from the batch (``candidate_index``, loaded by the datamodule
from ``datamodule.candidate_lists``). The distance uses the positions (the first half of the
features of a loc/vel dataset) with ``candidate_features=positions``, every feature with ``all``.
"""

from __future__ import annotations

from typing import Any

import torch

from nri.models.candidates import (
    AllPairs,
    NearestByTrajectory,
    WithinRadius,
    candidate_labels,
    given_candidates,
)
from nri.models.graph import CandidateEdges, edge_index

__all__ = ["CANDIDATE_KINDS", "CandidateGraph", "candidate_scores", "on_all_pairs",
           "padded_to_lists", "true_edge_lists"]

CANDIDATE_KINDS = ("all", "knn", "radius", "given")


def padded_to_lists(padded: torch.Tensor) -> list[torch.Tensor]:
    """Shapes: padded [B, 2, M_max] (-1 padding) -> B tensors [2, M_b] (receivers, senders)"""
    return [row[:, row[0] >= 0] for row in padded]


def true_edge_lists(batch: dict[str, Any], num_nodes: int) -> list[torch.Tensor] | None:
    """The batch's true edges (any type but 0) as lists, from edge lists or dense labels.

    Shapes: -> B tensors [2, M_b] (receivers, senders), or None for a batch without labels
    """
    if "edge_index" in batch:
        return padded_to_lists(batch["edge_index"])
    if "edges" not in batch:
        return None
    senders, receivers = edge_index(num_nodes, batch["edges"].device)
    return [torch.stack([receivers[row != 0], senders[row != 0]]) for row in batch["edges"]]


class CandidateGraph:
    """The ``model.candidates`` setting: which edges the encoder and decoder consider per sample."""

    def __init__(self, settings: dict[str, Any], dataset: dict[str, Any]):
        self.kind = settings["candidates"]
        if self.kind not in CANDIDATE_KINDS:
            raise ValueError(f"model.candidates must be one of {CANDIDATE_KINDS}, got {self.kind!r}")
        features = settings["candidate_features"]
        if features not in ("positions", "all"):
            raise ValueError(f"model.candidate_features must be positions or all, got {features!r}")
        dims = int(dataset["dims"])
        self.feature_dims = dims // 2 if features == "positions" and dataset["format"] == "locvel" \
            else dims
        self.builder = None  # all pairs and given lists need none
        if self.kind == "knn":
            self.builder = NearestByTrajectory(settings["candidate_k"])
        elif self.kind == "radius":
            self.builder = WithinRadius(settings["candidate_radius"], settings["candidate_k_max"])

    @property
    def all_pairs(self) -> bool:
        return self.kind == "all"

    def build(self, batch: dict[str, Any], frames: int) -> CandidateEdges | None:
        """The batch's candidates from its first ``frames`` frames; None for all pairs.

        Shapes: batch["x"] [B, N, T, D] -> CandidateEdges with E = N k
        """
        if self.all_pairs:
            return None
        x = batch["x"]
        if self.kind == "given":
            if "candidate_index" not in batch:
                raise ValueError("model.candidates=given needs candidate lists: set "
                                 "datamodule.candidate_lists to the prefix of their files")
            return given_candidates(padded_to_lists(batch["candidate_index"]), x.shape[1])
        return self.builder(x[:, :, :frames, : self.feature_dims])


def candidate_scores(logits: torch.Tensor, candidates: CandidateEdges | None,
                     true_lists: list[torch.Tensor], num_nodes: int) -> dict[str, Any]:
    """What :class:`nri.sparse_metrics.SparseEdgeMetrics` takes from one batch.

    Score of an edge: 1 - P(type 0); predicted an edge when type 0 is not the most likely. All
    pairs (``candidates`` None) are scored as the candidate set of every pair.

    Shapes:
        logits: [B, E, K] -> scores, labels, predicted [M] over the real candidate slots
    """
    b = logits.shape[0]
    if candidates is None:
        candidates = AllPairs()(logits.new_empty(b, num_nodes, 0, 0))
    labels = candidate_labels(candidates, true_lists)  # [B, E]
    scores = 1.0 - logits.softmax(-1)[..., 0]
    predicted = logits.argmax(-1) != 0
    keep = candidates.mask if candidates.mask is not None else torch.ones_like(predicted)
    num_true = sum(int((edges[0] != edges[1]).sum()) for edges in true_lists)
    return {"scores": scores[keep].detach(), "labels": labels[keep], "predicted": predicted[keep],
            "num_pairs": b * num_nodes * (num_nodes - 1), "num_true": num_true}


def on_all_pairs(logits: torch.Tensor, candidates: CandidateEdges) -> torch.Tensor:
    """Candidate logits laid out on all N(N-1) pairs; every other pair is type 0 for certain.

    Shapes:
        logits: [B, N*k, K] -> [B, N(N-1), K] in ``graph.edge_index``'s order
    """
    b, _, k = logits.shape
    n = candidates.num_nodes
    out = logits.new_full((b, n * (n - 1), k), -1e4)
    out[..., 0] = 0.0
    r, s = candidates.receivers, candidates.senders
    pair = r * (n - 1) + s - (s > r).long()  # receiver-major, diagonal left out
    keep = candidates.mask if candidates.mask is not None else torch.ones_like(r, dtype=torch.bool)
    batch = torch.arange(b, device=logits.device).unsqueeze(1).expand_as(r)
    out[batch[keep], pair[keep]] = logits[keep]
    return out
