"""Where a model's edges come from: inferred by the encoder, the dataset's true graph, every edge
of type 1, or no graph at all (``model.graph``: learned | true | full | none)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch.nn import functional as F

if TYPE_CHECKING:
    from nri.models.module import NRIModule


class EdgeSource:
    """Edges for the decoder; ``logits`` are the encoder's, None for a source without one."""

    name: str
    needs_encoder = False

    def train_edges(self, module: NRIModule, batch: dict[str, torch.Tensor],
                    logits: torch.Tensor | None) -> torch.Tensor | None:
        """Shapes: -> [B, E, K], or None for no graph"""
        return self.given(module, batch)

    def eval_edges(self, module: NRIModule, batch: dict[str, torch.Tensor],
                   logits: torch.Tensor | None) -> torch.Tensor | None:
        """Shapes: -> [B, E, K], or None for no graph"""
        return self.given(module, batch)

    def given(self, module: NRIModule, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        return None


class LearnedEdges(EdgeSource):
    """The encoder's posterior: Gumbel samples in training, ``eval_sample`` in evaluation."""

    name = "learned"
    needs_encoder = True

    def train_edges(self, module, batch, logits):
        return module.sample_edges(logits, hard=module.cfg["hard"])

    def eval_edges(self, module, batch, logits):
        return module.eval_edges(logits)


class TrueEdges(EdgeSource):
    name = "true"

    def given(self, module, batch):
        if "edges" not in batch:
            raise ValueError("model.graph=true needs edge labels, and this dataset has none")
        k = module.edge_types
        return F.one_hot(batch["edges"].clamp(max=k - 1), k).to(batch["x"].dtype)


class FullEdges(EdgeSource):
    """Every pair joined by an edge of type 1."""

    name = "full"

    def given(self, module, batch):
        x = batch["x"]
        full = x.new_zeros(x.shape[0], module.num_atoms * (module.num_atoms - 1), module.edge_types)
        full[..., 1] = 1.0
        return full


class NoEdges(EdgeSource):
    name = "none"


EDGE_SOURCES: dict[str, type[EdgeSource]] = {
    cls.name: cls for cls in (LearnedEdges, TrueEdges, FullEdges, NoEdges)}


def edge_source(name: str) -> EdgeSource:
    if name not in EDGE_SOURCES:
        raise ValueError(f"model.graph must be one of {tuple(EDGE_SOURCES)}, got {name!r}")
    return EDGE_SOURCES[name]()
