"""Candidate edges in training: edge-list batches, the per-batch candidates, masked KL, the
sparse-graph metrics as a torchmetrics metric."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nri import losses
from nri.data.datamodule import NRIDataModule
from nri.data.sim.generate_dataset import write_dataset
from nri.models.candidate_graph import (
    CandidateGraph,
    candidate_scores,
    on_all_pairs,
    true_edge_lists,
)
from nri.models.candidates import AllPairs, NearestByTrajectory, WithinRadius, candidate_labels
from nri.models.graph import edge_index
from nri.sparse_metrics import SparseEdgeMetrics, edge_metrics

SPARSE_DATASET = {
    "name": "springs", "num_atoms": 30, "suffix": "_springs30", "format": "locvel", "dims": 4,
    "edge_types": 2, "has_edges": True, "train_steps": 9, "test_burn_in": 9, "test_horizon": 5,
    "graph": "knn",
}
SETTINGS = {"candidates": "knn", "candidate_k": 6, "candidate_radius": 0.5, "candidate_k_max": 6,
            "candidate_features": "positions"}


@pytest.fixture(scope="module")
def sparse_springs(tmp_path_factory):
    out = tmp_path_factory.mktemp("sparse")
    write_dataset("springs", out, num_atoms=30, num_train=8, num_valid=4, num_test=4, length=1000,
                  length_test=1600, sample_freq=100, graph="knn", mean_degree=3.0, seed=3)
    return out


def test_edge_list_batches_carry_the_true_graph(sparse_springs):
    dm = NRIDataModule(SPARSE_DATASET, str(sparse_springs), batch_size=4)
    dm.setup()
    batch = next(iter(dm.val_dataloader()))
    assert batch["x"].shape == (4, 30, 9, 4) and "edges" not in batch
    assert batch["edge_index"].shape[:2] == (4, 2) and batch["edge_index"].dtype == torch.int64
    stored = np.load(sparse_springs / "edge_index_valid_springs30.npy")
    lists = true_edge_lists(batch, 30)
    degree = np.mean([e.shape[1] for e in lists]) / 30
    assert degree == pytest.approx(3.0, abs=0.1)  # directed edges per object = the mean degree
    np.testing.assert_array_equal(lists[0].numpy(), stored[0][:, stored[0][0] >= 0])


def test_given_candidate_lists_are_read_from_their_files(sparse_springs):
    dm = NRIDataModule(SPARSE_DATASET, str(sparse_springs), batch_size=4,
                       candidate_lists="edge_index")  # the true graph as the user's candidates
    dm.setup()
    batch = next(iter(dm.val_dataloader()))
    graph = CandidateGraph({**SETTINGS, "candidates": "given"}, SPARSE_DATASET)
    candidates = graph.build(batch, 9)
    labels = candidate_labels(candidates, true_edge_lists(batch, 30))
    assert labels.sum() == candidates.mask.sum()  # every given candidate is a true edge


def test_dense_labels_become_the_same_lists():
    n = 5
    senders, receivers = edge_index(n, torch.device("cpu"))
    labels = torch.zeros(2, n * (n - 1), dtype=torch.long)
    labels[0, 3], labels[1, 7] = 1, 1
    lists = true_edge_lists({"edges": labels}, n)
    assert lists[0].tolist() == [[receivers[3].item()], [senders[3].item()]]
    assert lists[1].shape == (2, 1)


def test_candidates_come_from_the_positions_of_the_encoder_window():
    x = torch.randn(2, 12, 20, 4)
    graph = CandidateGraph(SETTINGS, {"dims": 4, "format": "locvel"})
    built = graph.build({"x": x}, 9)
    expected = NearestByTrajectory(6)(x[:, :, :9, :2])
    assert torch.equal(built.senders, expected.senders)
    assert CandidateGraph({**SETTINGS, "candidates": "all"}, {"dims": 4, "format": "locvel"}) \
        .build({"x": x}, 9) is None
    with pytest.raises(ValueError, match="model.candidates"):
        CandidateGraph({**SETTINGS, "candidates": "nearest"}, {"dims": 4, "format": "locvel"})


def test_masked_kl_leaves_padding_out():
    probs = torch.tensor([[[0.9, 0.1], [0.7, 0.3], [0.2, 0.8]]])
    mask = torch.tensor([[True, False, True]])
    kept = losses.kl_categorical(probs[:, [0, 2]], None, 3)
    assert torch.allclose(losses.kl_categorical(probs, None, 3, mask=mask), kept)
    assert losses.kl_categorical(probs, None, 3) > kept + 0.01  # the padded slot's KL is gone


def test_the_metric_accumulates_what_edge_metrics_gives_on_one_batch():
    torch.manual_seed(1)
    x = torch.randn(3, 10, 5, 2)
    true = [torch.tensor([[0, 1, 2, 3], [1, 0, 3, 2]]), torch.tensor([[4], [5]]),
            torch.tensor([[7, 8], [8, 7]])]
    candidates = NearestByTrajectory(3)(x)
    logits = torch.randn(3, candidates.num_edges, 2)
    parts = candidate_scores(logits, candidates, true, 10)
    metric = SparseEdgeMetrics()
    metric.update(**parts)
    got = metric.compute()
    expected = edge_metrics(parts["scores"], parts["labels"], 3 * 90, 7)
    for key in ("auroc", "auprc", "f1"):
        assert got[key] == pytest.approx(expected[key])
    labels = candidate_labels(candidates, true)
    assert got["candidate_recall"] == pytest.approx(float(labels.sum()) / 7)
    # accuracy over all pairs: candidates by argmax, every other pair predicted "no edge"
    dense_pred = candidates.to_adjacency((logits.argmax(-1) != 0).float()) > 0
    dense_true = torch.zeros(3, 10, 10, dtype=torch.bool)
    for b, edges in enumerate(true):
        dense_true[b, edges[0], edges[1]] = True
    off = ~torch.eye(10, dtype=torch.bool)
    assert got["acc"] == pytest.approx(float((dense_pred == dense_true)[:, off].float().mean()))


def test_all_pairs_scores_cover_every_pair():
    logits = torch.randn(2, 20, 2)
    true = [torch.tensor([[0], [1]]), torch.tensor([[2, 3], [4, 1]])]
    parts = candidate_scores(logits, None, true, 5)
    assert parts["scores"].numel() == 40 and parts["labels"].sum() == 3
    assert torch.equal(parts["labels"], candidate_labels(AllPairs()(torch.zeros(2, 5, 1, 1)),
                                                         true).reshape(-1))


def test_candidate_logits_land_on_their_pairs():
    x = torch.randn(2, 7, 5, 2)
    all_pairs = AllPairs()(x)
    logits = torch.randn(2, all_pairs.num_edges, 3)
    assert torch.equal(on_all_pairs(logits, all_pairs), logits)
    near = WithinRadius(1.0, k_max=3)(x)
    logits = torch.randn(2, near.num_edges, 2)
    spread = on_all_pairs(logits, near).softmax(-1)[..., 1]  # [B, N(N-1)]
    senders, receivers = edge_index(7, torch.device("cpu"))
    dense = torch.zeros(2, 7, 7)
    dense[:, receivers, senders] = spread
    torch.testing.assert_close(dense, near.to_adjacency(logits.softmax(-1)[..., 1]))
