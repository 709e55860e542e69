"""Test-time adaptation of edge logits: lowers the sample's ELBO, touches no weight."""

import pytest
import torch

from nri.models.adaptation import adapt_edge_logits, elbo_of_logits
from nri.models.decoders import MLPDecoder

B, N, T, D, K = 3, 4, 8, 4, 2
VAR = 5e-3


def setup():
    decoder = MLPDecoder(D, K, 16).eval()
    x = torch.randn(B, N, T, D)
    logits = torch.randn(B, N * (N - 1), K)
    return decoder, x, logits, (lambda frames, edges: decoder(frames, edges, 2))


def test_adaptation_lowers_each_samples_elbo_and_leaves_the_decoder_alone():
    decoder, x, logits, decode = setup()
    adapted = adapt_edge_logits(logits, x, decode, VAR, steps=8, lr=0.1, tau=0.5)
    for i in range(B):
        one = slice(i, i + 1)
        before = elbo_of_logits(logits[one], x[one], decode, VAR, 0.5)
        after = elbo_of_logits(adapted[one], x[one], decode, VAR, 0.5)
        assert after < before
    assert all(p.grad is None for p in decoder.parameters())
    assert not adapted.requires_grad


def test_no_steps_returns_the_encoders_logits():
    _, x, logits, decode = setup()
    assert torch.equal(adapt_edge_logits(logits, x, decode, VAR, steps=0, lr=0.1, tau=0.5), logits)


def test_samples_are_adapted_independently():
    _, x, logits, decode = setup()
    together = adapt_edge_logits(logits, x, decode, VAR, steps=5, lr=0.1, tau=0.5)
    alone = adapt_edge_logits(logits[:1], x[:1], decode, VAR, steps=5, lr=0.1, tau=0.5)
    assert torch.allclose(together[:1], alone, atol=1e-5)


def test_adaptation_runs_inside_inference_mode():
    _, x, logits, decode = setup()
    with torch.inference_mode():  # as in Lightning's test loop: the batch is an inference tensor
        x_inference, logits_inference = x.clone(), logits.clone()
        adapted = adapt_edge_logits(logits_inference, x_inference, decode, VAR, steps=3, lr=0.1, tau=0.5)
    assert not torch.equal(adapted, logits)


def test_bad_settings_are_refused_in_one_line():
    _, x, logits, decode = setup()
    with pytest.raises(ValueError, match="test-time adaptation needs"):
        adapt_edge_logits(logits, x, decode, VAR, steps=3, lr=0.0, tau=0.5)
