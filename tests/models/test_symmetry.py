"""The symmetry prior: hard tie of both directions, soft penalty, reverse-edge index."""

import pytest
import torch

from nri.models.graph import edge_index, edges_to_adjacency
from nri.models.symmetry import check_symmetry_mode, reverse_edges, symmetry_penalty, tie_directions


@pytest.mark.parametrize("n", [2, 3, 6])
def test_reverse_edges_swaps_sender_and_receiver(n):
    senders, receivers = edge_index(n)
    reverse = reverse_edges(n)
    assert torch.equal(senders[reverse], receivers) and torch.equal(receivers[reverse], senders)
    assert torch.equal(reverse[reverse], torch.arange(n * (n - 1)))


def test_hard_tie_gives_identical_distributions_in_both_directions():
    n = 5
    logits = torch.randn(4, n * (n - 1), 3)
    probs = edges_to_adjacency(tie_directions(logits, n).softmax(-1), n)  # [B, N, N, K]
    off_diagonal = ~torch.eye(n, dtype=torch.bool)
    assert torch.equal(probs[:, off_diagonal], probs.transpose(1, 2)[:, off_diagonal])
    assert not torch.allclose(edges_to_adjacency(logits, n), edges_to_adjacency(logits, n).transpose(1, 2))


def test_hard_tie_keeps_symmetric_logits_and_averages_the_rest():
    n = 4
    logits = torch.randn(2, n * (n - 1), 2)
    tied = tie_directions(logits, n)
    assert torch.allclose(tie_directions(tied, n), tied)
    assert torch.allclose(tied, 0.5 * (logits + logits[:, reverse_edges(n)]))


def test_soft_penalty_is_zero_only_for_agreeing_directions_and_has_gradient():
    n = 5
    logits = torch.randn(3, n * (n - 1), 2, requires_grad=True)
    assert symmetry_penalty(tie_directions(logits, n), n).item() == pytest.approx(0.0, abs=1e-7)
    penalty = symmetry_penalty(logits, n)
    assert penalty.item() > 0
    penalty.backward()
    assert logits.grad.abs().sum() > 0


def test_soft_penalty_is_per_sample_and_object():
    n = 4
    logits = torch.randn(2, n * (n - 1), 3)
    assert symmetry_penalty(logits.repeat(3, 1, 1), n).item() == pytest.approx(
        symmetry_penalty(logits, n).item(), rel=1e-6)


def test_unknown_symmetry_mode_is_refused_in_one_line():
    assert check_symmetry_mode("hard") == "hard"
    with pytest.raises(ValueError, match="model.symmetry must be one of"):
        check_symmetry_mode("symmetric")
