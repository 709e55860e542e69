"""The relation-interaction encoder (encoder=mpm): shapes, groups, permutation equivariance."""

import pytest
import test_models
import torch

from nri.models.encoders import CNNEncoder, MLPEncoder
from nri.models.graph import edge_index
from nri.models.relation_encoder import RelationInteractionEncoder, node_edge_groups

B, N, T, D, K = test_models.B, test_models.N, test_models.T, test_models.D, test_models.K


def test_each_node_group_holds_its_incoming_then_outgoing_edges():
    n = 5
    senders, receivers = edge_index(n)
    groups, outgoing_order = node_edge_groups(n)
    for node in range(n):
        assert (receivers[groups[node, : n - 1]] == node).all()
        assert (senders[groups[node, n - 1:]] == node).all()
    assert torch.equal(groups[:, n - 1:].flatten()[outgoing_order], torch.arange(n * (n - 1)))


@pytest.mark.parametrize("front_end", ["mlp", "cnn"])
@pytest.mark.parametrize("rounds", [1, 2])
def test_mpm_encoder_is_permutation_equivariant(front_end, rounds):
    encoder = RelationInteractionEncoder(T, D, 32, K, front_end=front_end, rounds=rounds).eval()
    x = torch.randn(B, N, T, D)
    perm = torch.randperm(N)
    logits = encoder(x)
    assert logits.shape == (B, N * (N - 1), K)
    assert torch.allclose(encoder(x[:, perm]), test_models.permute_edges(logits, perm), atol=1e-5)


def test_an_edge_logit_depends_on_edges_that_share_a_node():
    """Unlike a factor-free NRI encoder, changing one pair's evidence moves other edges' logits."""
    encoder = RelationInteractionEncoder(T, D, 32, K, factor=False).eval()
    x = torch.randn(1, N, T, D)
    logits = encoder(x)
    other = x.clone()
    other[:, 0] += 1.0  # object 0's trajectory: edges 1<->2 share no object with it ...
    moved = (encoder(other) - logits).abs().amax(-1)[0]
    senders, receivers = edge_index(N)
    touches_0 = (senders == 0) | (receivers == 0)
    shares_with_touching = ~touches_0  # ... but they share an object with edges that touch 0
    assert (moved[shares_with_touching] > 1e-6).all()


@pytest.mark.parametrize("front_end, cls", [("mlp", MLPEncoder), ("cnn", CNNEncoder)])
def test_front_end_is_the_nri_encoder_without_its_edge_type_layer(front_end, cls):
    encoder = RelationInteractionEncoder(T, D, 32, K, front_end=front_end)
    assert isinstance(encoder.front, cls) and encoder.front.fc_out is None


def test_bad_options_are_refused_in_one_line():
    with pytest.raises(ValueError, match="encoder.front_end must be one of"):
        RelationInteractionEncoder(T, D, 32, K, front_end="lstm")
    with pytest.raises(ValueError, match="divisible by encoder.heads"):
        RelationInteractionEncoder(T, D, 30, K, heads=4)
