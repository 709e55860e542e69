"""Candidate edge sets, message passing on them, and the MLP encoder/decoder running on them."""

from __future__ import annotations

import pytest
import torch

from nri.models.candidates import (
    AllPairs,
    NearestByTrajectory,
    WithinRadius,
    candidate_labels,
    candidate_recall,
    given_candidates,
)
from nri.models.decoders import MLPDecoder, RNNDecoder
from nri.models.encoders import CNNEncoder, MLPEncoder
from nri.models.graph import edge_index, gather_nodes, node2edge
from nri.models.messages import TypedMessages


def _dense_to_lists(adj: torch.Tensor) -> list[torch.Tensor]:
    return [torch.stack(torch.nonzero(a, as_tuple=True)) for a in adj]


def _random_graph(b: int, n: int, p: float = 0.3) -> torch.Tensor:
    adj = (torch.rand(b, n, n) < p).float()
    return adj * (1 - torch.eye(n))


def test_all_pairs_are_edge_index_with_recall_one():
    x = torch.randn(3, 6, 4, 2)
    cand = AllPairs()(x)
    senders, receivers = edge_index(6)
    assert cand.per_receiver == 5 and cand.mask is None
    assert all(torch.equal(cand.senders[b], senders) and torch.equal(cand.receivers[b], receivers)
               for b in range(3))
    assert candidate_recall(cand, _dense_to_lists(_random_graph(3, 6))) == 1.0


def test_nearest_holds_exactly_the_k_nearest_and_all_of_them_at_k_n_minus_1():
    x = torch.randn(2, 9, 5, 3)
    cand = NearestByTrajectory(3)(x)
    dist = ((x.unsqueeze(2) - x.unsqueeze(1)) ** 2).sum((-1, -2))  # [B, N, N] brute force
    dist = dist + torch.diag(torch.full((9,), float("inf")))
    expected = dist.topk(3, dim=-1, largest=False).indices.sort(-1).values
    assert torch.equal(cand.senders.reshape(2, 9, 3), expected)
    assert torch.equal(cand.receivers[0], torch.arange(9).repeat_interleave(3))
    full = NearestByTrajectory(8)(x)
    assert torch.equal(full.senders[1], edge_index(9)[0])


def test_within_radius_masks_the_far_ones():
    x = torch.randn(1, 12, 4, 2)
    radius = 1.2
    cand = WithinRadius(radius, k_max=4)(x)
    rms = ((x.unsqueeze(2) - x.unsqueeze(1)) ** 2).sum(-1).mean(-1).sqrt()[0]
    near = NearestByTrajectory(4)(x)
    d_near = rms[near.receivers[0], near.senders[0]]
    assert torch.equal(cand.mask[0], d_near <= radius)
    kept = cand.mask[0]
    assert torch.equal(cand.senders[0][kept], near.senders[0][kept])
    assert torch.equal(cand.senders[0][~kept], cand.receivers[0][~kept])  # padding: self


def test_given_candidates_pad_to_the_largest_in_degree():
    lists = [torch.tensor([[0, 0, 2], [1, 3, 0]]), torch.tensor([[1], [2]])]
    cand = given_candidates(lists, 4)
    assert cand.per_receiver == 2 and cand.senders.shape == (2, 8)
    assert cand.senders[0].tolist() == [1, 3, 1, 1, 0, 2, 3, 3]
    assert cand.mask[0].tolist() == [True, True, False, False, True, False, False, False]
    assert cand.mask[1].sum() == 1 and cand.senders[1, 2] == 2
    labels = candidate_labels(cand, [torch.tensor([[0, 3], [3, 0]]), torch.tensor([[1], [2]])])
    assert labels[0].tolist() == [0, 1, 0, 0, 0, 0, 0, 0] and labels[1].sum() == 1
    recall = candidate_recall(cand, [torch.tensor([[0, 3], [3, 0]]), torch.tensor([[1], [2]])])
    assert recall == pytest.approx(2 / 3)


def test_given_candidates_refuse_objects_outside_the_system():
    with pytest.raises(ValueError, match=r"sample 0 name objects outside \[0, 3\)"):
        given_candidates([torch.tensor([[0], [3]])], 3)


def test_candidate_edge2node_equals_a_masked_scatter_add():
    cand = WithinRadius(1.0, k_max=3)(torch.randn(2, 7, 4, 2))
    edges = torch.randn(2, cand.num_edges, 5, 4)
    expected = torch.zeros(2, 7, 5, 4)
    for b in range(2):
        kept = cand.mask[b]
        expected[b].index_add_(0, cand.receivers[b][kept], edges[b][kept])
    assert torch.allclose(cand.edge2node(edges), expected, atol=1e-6)


def test_gather_nodes_and_batched_from_nodes():
    x = torch.randn(3, 6, 2, 4)
    cand = NearestByTrajectory(2)(torch.randn(3, 6, 5, 2))
    gathered = gather_nodes(x, cand.senders)
    assert torch.equal(gathered[1, 4], x[1, cand.senders[1, 4]])
    messages = TypedMessages(8, 16, 16, 2)
    weights = torch.rand(3, cand.num_edges, 2)
    direct = messages(cand.node2edge(x), weights)
    assert torch.allclose(messages.from_nodes(x, cand.senders, cand.receivers, weights), direct,
                          atol=1e-5)


def _models(t: int = 6, d: int = 4):
    torch.manual_seed(0)
    return MLPEncoder(t, d, 16, 2).eval(), MLPDecoder(d, 2, 16).eval()


def test_all_pairs_candidates_reproduce_the_all_pairs_path_bit_for_bit():
    encoder, decoder = _models()
    x = torch.randn(4, 5, 6, 4)
    cand = AllPairs()(x)
    logits = encoder(x)
    assert torch.equal(encoder(x, candidates=cand), logits)
    edges = torch.softmax(logits, -1)
    assert torch.equal(decoder(x, edges, 2, candidates=cand), decoder(x, edges, 2))


def test_rnn_decoder_on_all_pairs_candidates_is_the_all_pairs_one():
    torch.manual_seed(0)
    decoder = RNNDecoder(4, 2, 16, skip_first=True).eval()
    x = torch.randn(2, 5, 8, 4)
    edges = torch.softmax(torch.randn(2, 20, 2), -1)
    cand = AllPairs()(x)
    assert torch.equal(decoder(x, edges, 1, 4, candidates=cand), decoder(x, edges, 1, 4))
    near = NearestByTrajectory(2)(x)
    out = decoder(x, torch.softmax(torch.randn(2, near.num_edges, 2), -1), 1, 4, candidates=near)
    assert out.shape == (2, 5, 7, 4) and torch.isfinite(out).all()


def test_cnn_encoder_on_candidates_is_the_all_pairs_one_and_equivariant():
    torch.manual_seed(0)
    encoder = CNNEncoder(4, 16, 2).eval()
    x = torch.randn(2, 6, 16, 4)
    assert torch.equal(encoder(x, candidates=AllPairs()(x)), encoder(x))
    perm = torch.randperm(6)
    builder = NearestByTrajectory(3)
    cand, cand_p = builder(x), builder(x[:, perm])
    score = cand.to_adjacency(encoder(x, cand)[..., 1])  # [B, N, N]
    score_p = cand_p.to_adjacency(encoder(x[:, perm], cand_p)[..., 1])
    torch.testing.assert_close(score_p, score[:, perm][:, :, perm])


def test_encoder_and_decoder_are_permutation_equivariant_on_candidate_graphs():
    encoder, decoder = _models()
    x = torch.randn(2, 10, 6, 4)
    perm = torch.randperm(10)
    builder = WithinRadius(2.0, k_max=4)
    cand, cand_p = builder(x), builder(x[:, perm])
    logits, logits_p = encoder(x, cand), encoder(x[:, perm], cand_p)
    adj = cand.to_adjacency(logits[..., 1])
    adj_p = cand_p.to_adjacency(logits_p[..., 1])
    assert torch.allclose(adj[:, perm][:, :, perm], adj_p, atol=1e-5)
    out = decoder(x, torch.softmax(logits, -1), 1, candidates=cand)
    out_p = decoder(x[:, perm], torch.softmax(logits_p, -1), 1, candidates=cand_p)
    assert torch.allclose(out[:, perm], out_p, atol=1e-5)


def test_sizes_grow_with_n_times_k_not_n_squared():
    k = 4
    for n in (50, 400):
        encoder, decoder = _models(t=3, d=2)
        x = torch.randn(2, n, 3, 2)
        cand = NearestByTrajectory(k)(x)
        assert cand.senders.shape == cand.receivers.shape == (2, n * k)
        logits = encoder(x, cand)
        assert logits.shape == (2, n * k, 2)
        pre_msg = cand.node2edge(x[:, :, 0])
        assert pre_msg.shape == (2, n * k, 4)
        assert decoder(x, torch.softmax(logits, -1), 1, candidates=cand).shape == (2, n, 2, 2)


def test_recall_of_nearest_candidates_on_a_spatial_graph():
    """Objects that move together are found: the k nearest hold the true near neighbours."""
    x = torch.randn(1, 30, 4, 2)
    dist = ((x.unsqueeze(2) - x.unsqueeze(1)) ** 2).sum((-1, -2))[0] + torch.eye(30) * 1e9
    nearest = dist.argmin(-1)
    true = [torch.stack([torch.arange(30), nearest])]
    assert candidate_recall(NearestByTrajectory(1)(x), true) == 1.0
    assert 0 < candidate_recall(NearestByTrajectory(1)(torch.randn(1, 30, 4, 2)), true) < 1
    assert node2edge(x[:, :, 0], *edge_index(30)).shape == (1, 870, 4)
