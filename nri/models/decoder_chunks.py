"""The decoder's training loss on chunks of the batch, each chunk's backward pass run at once.

A training step's memory peak is the decoder's saved activations: every predicted frame's
messages for every sample stay alive until the backward pass. Here the encoder still runs on the
whole batch (its batch norm sees the same statistics), its edge samples are cut from the graph,
and the decoder runs chunk by chunk: each chunk's NLL is differentiated at once with respect to
the decoder's parameters and the edge samples, so only one chunk's activations are alive at a
time. The summed gradients come back in a surrogate that has the batch's NLL as its value and
exactly those gradients: ``nll + S - S.detach()`` with ``S = sum(p * grad_p) + sum(edges *
grad_edges)``. Backpropagating the step's loss then passes the edge gradient on to the encoder,
and every gradient equals the whole-batch one up to the order of float summation.

It needs a decoder whose samples do not interact (no batch norm; dropout draws other masks per
chunk) and edges that do not depend on the decoder's own predictions (no dynamic graph).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch.nn import functional as F

from nri.losses import gaussian_nll

if TYPE_CHECKING:
    from nri.models.module import NRIModule


def prediction_losses(preds: torch.Tensor, target: torch.Tensor, variance) -> tuple[torch.Tensor, torch.Tensor]:
    """The training step's Gaussian NLL and MSE of the decoder's predictions (whole batch or chunk).

    Shapes: preds, target [B, N, T, D] -> two 0-d tensors
    """
    return gaussian_nll(preds, target, variance), F.mse_loss(preds, target)


def chunk_slices(batch_size: int, chunks: int) -> list[slice]:
    """``chunks`` contiguous slices of nearly equal size (fewer when the batch is smaller)."""
    chunks = max(1, min(int(chunks), batch_size))
    bounds = [round(i * batch_size / chunks) for i in range(chunks + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def chunked_decoder_loss(loss_of_chunk: Callable[[slice], tuple[torch.Tensor, torch.Tensor]],
                         edges: torch.Tensor | None, params: list[torch.nn.Parameter],
                         batch_size: int, chunks: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch's NLL (carrying exact gradients) and MSE (no gradient), decoded in chunks.

    ``loss_of_chunk(rows, edges_rows)`` decodes the samples ``rows`` with the edges
    ``edges_rows`` and returns that chunk's (NLL, MSE), each a mean over the chunk's samples.

    Shapes: edges [B, E, K] or None -> two 0-d tensors
    """
    edge_leaf = None
    if edges is not None:
        edge_leaf = edges.detach().requires_grad_(edges.requires_grad)
    wrt = list(params) + ([edge_leaf] if edge_leaf is not None and edge_leaf.requires_grad else [])
    grads: list[torch.Tensor | None] = [None] * len(wrt)
    nll_value = mse_value = None
    for rows in chunk_slices(batch_size, chunks):
        weight = (rows.stop - rows.start) / batch_size
        nll, mse = loss_of_chunk(rows, None if edge_leaf is None else edge_leaf[rows])
        nll = nll * weight
        for i, g in enumerate(torch.autograd.grad(nll, wrt, allow_unused=True)):
            if g is not None:
                grads[i] = g if grads[i] is None else grads[i].add_(g)
        nll_value = nll.detach() if nll_value is None else nll_value + nll.detach()
        mse = mse.detach() * weight
        mse_value = mse if mse_value is None else mse_value + mse
    targets = list(params) + ([edges] if len(wrt) > len(params) else [])
    surrogate = sum((t * g).sum() for t, g in zip(targets, grads, strict=True) if g is not None)
    if isinstance(surrogate, int):  # nothing to differentiate (a decoder without parameters)
        return nll_value, mse_value
    return nll_value + surrogate - surrogate.detach(), mse_value


def decoder_bytes_per_sample(module: NRIModule, x: torch.Tensor, edges: torch.Tensor | None) -> float:
    """Peak bytes each further sample adds to the decoder's training forward and backward pass,
    measured as evaluation's (``nri.eval_budget.marginal_bytes``) on the first samples of ``x``.
    Runs on a copy of the random state and touches no parameter's gradient.

    Shapes: x [B, N, T, D], edges [B, E, K] or None -> a number of bytes
    """
    from nri.eval_budget import marginal_bytes

    steps = int(module.cfg["prediction_steps"])
    params = module.decoder_parameters()

    def forward_and_backward(n: int) -> None:
        part = None if edges is None else edges[:n].detach().requires_grad_(True)
        preds = module.decode(x[:n], part, steps, x.shape[2] - steps if module.recurrent else None)
        nll, _ = prediction_losses(preds, x[:n, :, 1:], module.variance)
        torch.autograd.grad(nll, params + ([part] if part is not None else []), allow_unused=True)

    with torch.random.fork_rng(devices=[]), torch.compiler.set_stance("force_eager"):
        return marginal_bytes(forward_and_backward, x.shape[0])


def chunks_within_budget(batch_size: int, bytes_per_sample: float, budget_mb: float) -> int:
    """The fewest chunks whose decoder activations each fit ``budget_mb`` MiB (at least 1)."""
    per_chunk = max(1, int(budget_mb * 2**20 // max(bytes_per_sample, 1.0)))
    return max(1, -(-batch_size // per_chunk))


def check_decoder_chunks(setting, budget_mb) -> None:
    """``model.decoder_chunks`` is ``auto`` or a positive integer, ``decoder_budget_mb`` positive or null."""
    if setting != "auto" and (isinstance(setting, bool) or not isinstance(setting, int) or setting < 1):
        raise ValueError(f"model.decoder_chunks must be auto or a positive integer, got {setting!r}")
    if budget_mb is not None and not float(budget_mb) > 0:
        raise ValueError(f"model.decoder_budget_mb must be positive or null, got {budget_mb!r}")
