"""Test-time adaptation of the inferred graph: refine each sample's edge logits on its own frames.

The encoder is amortised: one forward pass guesses the graph of any sample. At test time the
frames the model is given (the burn-in window) also say how well a graph explains them, through
the trained decoder. Here, per sample, the encoder's logits are the starting point of a few
gradient steps on that sample's ELBO (the decoder's Gaussian NLL of the observed frames plus the
KL to the edge prior), with the decoder frozen. Only the logits change; no weight is updated, so
adapting one test batch cannot leak into another.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from nri import losses

Decode = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def adapt_edge_logits(logits: torch.Tensor, x: torch.Tensor, decode: Decode,
                      variance: float | torch.Tensor, steps: int, lr: float, tau: float,
                      kl_weight: float = 1.0, log_prior: torch.Tensor | None = None) -> torch.Tensor:
    """``steps`` Adam steps on the logits of the ELBO of the observed frames x.

    ``decode(x, edges)`` is the trained decoder on x (e.g. ``lambda x, e: decoder(x, e, M)``),
    returning predictions of x[:, :, 1:]. The edges it gets are the relaxed, noise-free
    ``softmax(logits / tau)``: a deterministic objective, so the result depends on the data and
    the start only. Works inside ``torch.inference_mode`` (Lightning's test loop). Each sample's
    loss involves only its own logits, so the batch is adapted as independent problems.

    Shapes:
        logits: [B, E, K]; x: [B, N, T, D] -> adapted logits [B, E, K] (detached)
    """
    if steps < 0 or lr <= 0 or tau <= 0:
        raise ValueError(f"test-time adaptation needs steps >= 0, lr > 0 and tau > 0; got "
                         f"steps={steps}, lr={lr}, tau={tau}")
    if steps == 0:
        return logits.detach()
    with torch.inference_mode(False), torch.enable_grad():
        frames = x.clone()  # a normal tensor: inference tensors cannot enter autograd
        adapted = logits.detach().clone().requires_grad_(True)
        optimizer = torch.optim.Adam([adapted], lr=lr)
        for _ in range(steps):
            loss = elbo_of_logits(adapted, frames, decode, variance, tau, kl_weight, log_prior)
            # gradients for the logits only: the decoder's .grad fields stay untouched
            (grad,) = torch.autograd.grad(loss * logits.shape[0], [adapted])
            adapted.grad = grad
            optimizer.step()
    return adapted.detach()


def elbo_of_logits(logits: torch.Tensor, x: torch.Tensor, decode: Decode,
                   variance: float | torch.Tensor, tau: float, kl_weight: float = 1.0,
                   log_prior: torch.Tensor | None = None) -> torch.Tensor:
    """The negative ELBO (per sample and object) that adaptation lowers, with relaxed edges.

    Shapes:
        logits: [B, E, K]; x: [B, N, T, D] -> scalar
    """
    edges = torch.softmax(logits / tau, dim=-1)
    nll = losses.gaussian_nll(decode(x, edges), x[:, :, 1:], variance)
    kl = losses.kl_categorical(logits.softmax(-1), log_prior, x.shape[1])
    return nll + kl_weight * kl
