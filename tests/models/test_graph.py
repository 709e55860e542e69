import torch

from nri.models.graph import (
    adjacency_to_edges,
    edge2node,
    edge_index,
    edges_to_adjacency,
    node2edge,
)


def test_edge_order_is_row_major_off_diagonal():
    senders, receivers = edge_index(3)
    assert receivers.tolist() == [0, 0, 1, 1, 2, 2]
    assert senders.tolist() == [1, 2, 0, 2, 0, 1]


def test_node2edge_puts_sender_first():
    x = torch.arange(3.0).reshape(1, 3, 1)
    s, r = edge_index(3)
    e = node2edge(x, s, r)
    assert e.shape == (1, 6, 2)
    assert e[0, 0].tolist() == [1.0, 0.0]  # edge 0: sender 1 -> receiver 0


def test_edge2node_sums_incoming_edges_at_the_receiver():
    s, r = edge_index(3)
    edges = torch.ones(2, 6, 4)
    nodes = edge2node(edges, 3)
    assert torch.equal(nodes, torch.full((2, 3, 4), 2.0))


def test_edge2node_equals_a_scatter_add_over_receivers():
    for n in (2, 5, 7):
        _, r = edge_index(n)
        edges = torch.randn(3, n * (n - 1), 2, 6)
        expected = torch.zeros(3, n, 2, 6).index_add_(1, r, edges)
        assert torch.allclose(edge2node(edges, n), expected, atol=1e-6)


def test_adjacency_round_trip():
    adj = torch.rand(2, 4, 4)
    adj = adj * (1 - torch.eye(4))
    vals = adjacency_to_edges(adj)
    assert vals.shape == (2, 12)
    assert torch.equal(edges_to_adjacency(vals, 4), adj)


def test_edge2node_rejects_a_wrong_edge_count():
    import pytest

    with pytest.raises(ValueError, match=r"\[B, 6, \.\.\.\] for 3 objects"):
        edge2node(torch.ones(2, 5, 4), 3)


def test_edge_index_first_built_in_inference_mode_still_trains():
    """The cached index tensors must not become inference tensors (a test/predict step first)."""
    num_nodes = 13  # a size no other test builds first
    with torch.inference_mode():
        edge_index(num_nodes)
    senders, receivers = edge_index(num_nodes)
    x = torch.randn(2, num_nodes, 3, requires_grad=True)
    node2edge(x, senders, receivers).square().sum().backward()
    assert x.grad is not None and not senders.is_inference()
