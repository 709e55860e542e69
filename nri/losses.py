"""The ELBO's terms, normalised as the reference does: summed, then divided by B * N."""

from __future__ import annotations

import math
from typing import Any

import torch


def gaussian_nll(preds: torch.Tensor, target: torch.Tensor, variance: float | torch.Tensor,
                 add_const: bool = False) -> torch.Tensor:
    """Negative log-likelihood of ``target`` under N(preds, variance), per sample and object.

    ``variance`` is one number, or one per feature (a [D] tensor): a feature with a larger
    variance weighs less in the loss.

    Shapes:
        preds, target: [B, N, T, D]; variance: scalar or [D] -> scalar
    """
    var = torch.as_tensor(variance, dtype=preds.dtype, device=preds.device)
    nll = ((preds - target).pow(2) / (2 * var)).sum()
    if add_const:
        nll = nll + (0.5 * torch.log(2 * math.pi * var)).expand(target.shape[-1]).sum() * (
            target.numel() // target.shape[-1])
    return nll / (target.shape[0] * target.shape[1])


def parse_variance(value: Any, dims: int) -> float | torch.Tensor:
    """``model.var`` as the loss takes it: a positive number, or a list of ``dims`` of them.

    Raises ValueError with what was wrong otherwise.
    """
    if isinstance(value, (int, float)):
        if value <= 0:
            raise ValueError(f"model.var must be positive, got {value}")
        return float(value)
    values = list(value)
    if len(values) != dims or any(float(v) <= 0 for v in values):
        raise ValueError(f"model.var must be a positive number or a list of {dims} positive numbers "
                         f"(one per feature of dataset.dims={dims}), got {values}")
    return torch.tensor([float(v) for v in values])


def kl_categorical(probs: torch.Tensor, log_prior: torch.Tensor | None, num_atoms: int,
                   eps: float = 1e-16, mask: torch.Tensor | None = None) -> torch.Tensor:
    """KL(q || prior) of the edge-type posterior, summed over edges, per sample and object.

    With ``log_prior=None`` the prior is uniform, and a uniform posterior has KL exactly 0.
    ``mask`` (candidate edges with padding) leaves the padded slots out of the sum.

    Shapes:
        probs: [B, E, K]; log_prior: [K] or None; mask: [B, E] bool or None -> scalar
    """
    k = probs.shape[-1]
    if log_prior is None:
        log_prior = probs.new_full((k,), -math.log(k))
    per_type = probs * (torch.log(probs + eps) - log_prior)
    if mask is not None:
        per_type = per_type * mask.unsqueeze(-1)
    return per_type.sum() / (probs.shape[0] * num_atoms)


def make_log_prior(edge_types: int, prior: list[float] | None = None,
                   no_edge_prob: float | None = None) -> torch.Tensor | None:
    """The log prior over edge types: uniform (None), explicit probabilities, or sparse.

    ``no_edge_prob=p`` puts p on type 0 and spreads 1 - p evenly over the other K - 1 types, for
    any K (the reference's sparsity prior only existed for K = 4).

    Shapes:
        returns [K] or None
    """
    if prior is not None and no_edge_prob is not None:
        raise ValueError("give either model.prior or model.no_edge_prob, not both")
    if prior is not None:
        p = torch.tensor(prior, dtype=torch.float32)
        if p.numel() != edge_types or (p <= 0).any() or abs(float(p.sum()) - 1) > 1e-4:
            raise ValueError(
                f"model.prior must be {edge_types} positive probabilities summing to 1, got {prior}")
        return p.log()
    if no_edge_prob is not None:
        if not 0 < no_edge_prob < 1:
            raise ValueError(f"model.no_edge_prob must be in (0, 1), got {no_edge_prob}")
        rest = (1 - no_edge_prob) / (edge_types - 1)
        return torch.tensor([no_edge_prob] + [rest] * (edge_types - 1)).log()
    return None
