"""Symmetry prior for undirected systems: the edge (i, j) and its reverse (j, i) share a type.

Two forms: ``tie_directions`` (hard) makes the logits of both directions equal, so their
distributions and argmaxes agree by construction; ``symmetry_penalty`` (soft) is a loss term
that measures how far the two directions' distributions disagree and leaves the logits free.
"""

from __future__ import annotations

import torch

from nri.errors import ConfigError
from nri.models.graph import edge_index

SYMMETRY_MODES = ("none", "hard", "soft")


def check_symmetry_fits_data(mode: str, directed_edges: bool | None, data_dir: str) -> None:
    """Refuse the hard prior on data whose labelled graphs are directed: it could never fit them."""
    if mode == "hard" and directed_edges:
        raise ConfigError(f"model.symmetry=hard gives (i, j) and (j, i) one type, but the training graphs "
                         f"in {data_dir} have edges whose reverse is of another type (directed couplings, "
                         "as Kuramoto's dataset.physics.directed=true); use model.symmetry=none")


def reverse_edges(num_nodes: int, device: torch.device | str | None = None) -> torch.Tensor:
    """For every edge, the index of the edge that runs the other way.

    Shapes:
        returns [E] int64, a permutation of 0..E-1 that is its own inverse.
    """
    senders, receivers = edge_index(num_nodes, device)
    position = torch.full((num_nodes, num_nodes), -1, dtype=torch.long, device=senders.device)
    position[receivers, senders] = torch.arange(senders.shape[0], device=senders.device)
    return position[senders, receivers]  # the edge whose receiver is this edge's sender


def tie_directions(logits: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """The hard prior: every edge's logits become the mean of its own and its reverse's.

    Shapes:
        logits: [B, E, K] -> [B, E, K], with out[:, e] == out[:, reverse(e)] exactly
    """
    reverse = reverse_edges(num_nodes, logits.device)
    return 0.5 * (logits + logits.index_select(1, reverse))


def symmetry_penalty(logits: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """The soft prior: KL(q_ij || q_ji) summed over ordered edges, per sample and object.

    Summing KL over both orders of each pair makes it the symmetrised KL of the pair; dividing
    by B * N puts it on the scale of the ELBO's KL term (``losses.kl_categorical``), so one
    weight means the same for any batch size or object count. Zero exactly when the two
    directions agree.

    Shapes:
        logits: [B, E, K] -> scalar
    """
    log_q = logits.log_softmax(-1)
    log_q_reverse = log_q.index_select(1, reverse_edges(num_nodes, logits.device))
    kl = (log_q.exp() * (log_q - log_q_reverse)).sum()
    return kl / (logits.shape[0] * num_nodes)


def check_symmetry_mode(mode: str) -> str:
    """One clear line for a misspelt ``model.symmetry``."""
    if mode not in SYMMETRY_MODES:
        raise ValueError(f"model.symmetry must be one of {SYMMETRY_MODES}, got {mode!r}")
    return mode
