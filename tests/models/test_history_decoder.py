"""The history decoder (decoder=history): causality, equivariance, the Markov decoders' call."""

import pytest
import test_models
import torch

from nri.models.history_decoder import HistoryDecoder

B, N, T, D, K = test_models.B, test_models.N, test_models.T, test_models.D, test_models.K


def random_edges() -> torch.Tensor:
    return torch.softmax(torch.randn(B, N * (N - 1), K), -1)


@pytest.mark.parametrize("pred_steps", [1, 4])
@pytest.mark.parametrize("skip_first", [False, True])
def test_history_decoder_is_permutation_equivariant(pred_steps, skip_first):
    decoder = HistoryDecoder(D, K, 32, history=3, skip_first=skip_first).eval()
    x, edges = torch.randn(B, N, T, D), random_edges()
    perm = torch.randperm(N)
    out = decoder(x, edges, pred_steps)
    assert out.shape == (B, N, T - 1, D)
    permuted = decoder(x[:, perm], test_models.permute_edges(edges, perm), pred_steps)
    assert torch.allclose(permuted, out[:, perm], atol=1e-5)


@pytest.mark.parametrize("call", [{"pred_steps": 1}, {"pred_steps": 5},
                                  {"pred_steps": 1, "burn_in_steps": 6}])
@pytest.mark.parametrize("frame", [3, 8, 14])
def test_perturbing_a_frame_changes_no_earlier_prediction(call, frame):
    """Output t predicts frame t+1: outputs before ``frame`` must ignore frame ``frame``."""
    decoder = HistoryDecoder(D, K, 32, history=6).eval()
    x, edges = torch.randn(B, N, T, D), random_edges()
    out = decoder(x, edges, **call)
    later = x.clone()
    later[:, :, frame] += 10.0
    changed = decoder(later, edges, **call)
    assert torch.equal(changed[:, :, :frame], out[:, :, :frame])
    if "burn_in_steps" in call:
        fed_at_frame = frame <= call["burn_in_steps"]
    else:
        fed_at_frame = frame % call["pred_steps"] == 0
    if fed_at_frame:  # ground truth enters here, so the next prediction must see it
        assert not torch.allclose(changed[:, :, frame], out[:, :, frame])


def test_history_reaches_back_beyond_the_markov_state():
    """A frame before the re-feed point changes the prediction after it (a Markov decoder's
    would not), and one more than ``history`` frames back does not."""
    decoder = HistoryDecoder(D, K, 32, history=3).eval()
    x, edges = torch.randn(B, N, T, D), random_edges()
    out = decoder(x, edges, 5)  # start points 0, 5, 10
    near, far = x.clone(), x.clone()
    near[:, :, 8] += 1.0  # 2 frames before start 10
    far[:, :, 6] += 1.0  # 4 frames before start 10: beyond its history
    assert not torch.allclose(decoder(near, edges, 5)[:, :, 10], out[:, :, 10])
    assert torch.equal(decoder(far, edges, 5)[:, :, 10:], out[:, :, 10:])


def test_prev_frame_is_read_as_history():
    decoder = HistoryDecoder(D, K, 32, history=2).eval()
    x, edges = torch.randn(B, N, T, D), random_edges()
    with_prev = decoder(x[:, :, 1:], edges, 4, prev_frame=x[:, :, 0])
    assert with_prev.shape == (B, N, T - 2, D)
    assert not torch.allclose(with_prev, decoder(x[:, :, 1:], edges, 4))
    # start points 1, 2, ... of x read the same frames either way
    one_step = decoder(x[:, :, 1:], edges, 1, prev_frame=x[:, :, 0])
    assert torch.allclose(one_step, decoder(x, edges, 1)[:, :, 1:], atol=1e-6)


def test_history_decoder_declares_itself_markov_style_and_refuses_negative_history():
    assert HistoryDecoder.recurrent is False and HistoryDecoder.reads_history is True
    with pytest.raises(ValueError, match="decoder.history must be >= 0"):
        HistoryDecoder(D, K, 32, history=-1)
