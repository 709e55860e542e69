"""Sparse graph families, the O(edges) simulators on them, and their edge-list files."""

from __future__ import annotations

import numpy as np
import pytest

from nri.data.sim import simulate
from nri.data.sim.generate_dataset import GenerationError, physics_defaults, write_dataset
from nri.data.sim.graph_families import GRAPH_FAMILIES, draw_graph, pairs_to_edge_index
from nri.data.sim.sparse_edges import dense_to_edge_lists, edge_lists_to_dense, load_edge_lists
from nri.data.sim.sparse_simulate import (
    _run_kuramoto_sparse,
    run_springs_sparse,
    simulate_kuramoto_sparse,
    simulate_springs_sparse,
)


def _draw(family: str, n: int, degree: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return draw_graph(family, n, degree, rng, positions=rng.standard_normal((n, 2)))


@pytest.mark.parametrize("family", GRAPH_FAMILIES)
def test_families_have_the_mean_degree_at_a_thousand_nodes(family):
    pairs = _draw(family, 1000, 3.0, seed=0)
    assert pairs.dtype == np.int64 and pairs.shape[1] == 2
    assert np.all(pairs[:, 0] < pairs[:, 1])  # no self-loops, canonical order
    assert len(np.unique(pairs, axis=0)) == len(pairs)  # no repeated pair
    assert pairs.max() < 1000
    assert 2 * len(pairs) / 1000 == pytest.approx(3.0, abs=0.1)


@pytest.mark.parametrize("family", GRAPH_FAMILIES)
def test_families_are_deterministic_in_the_seed(family):
    assert np.array_equal(_draw(family, 200, 4.0, 7), _draw(family, 200, 4.0, 7))
    assert not np.array_equal(_draw(family, 200, 4.0, 7), _draw(family, 200, 4.0, 8))


def test_barabasi_albert_has_hubs_and_lattice_none():
    ba = np.bincount(_draw("barabasi_albert", 1000, 4.0, 0).ravel())
    grid = np.bincount(_draw("lattice", 1000, 4.0, 0).ravel())
    assert ba.max() > 25  # scale-free: a few nodes gather many links
    assert grid.max() <= 4


def test_knn_joins_the_closest_pairs():
    rng = np.random.default_rng(3)
    pos = rng.standard_normal((30, 2))
    pairs = draw_graph("knn", 30, 2.0, rng, positions=pos)
    dist = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    joined = dist[pairs[:, 0], pairs[:, 1]]
    rows, cols = np.triu_indices(30, k=1)
    others = np.setdiff1d(rows * 30 + cols, pairs[:, 0] * 30 + pairs[:, 1])
    assert joined.max() <= dist[others // 30, others % 30].min()


def test_bad_family_and_degree_are_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown graph family 'ring'"):
        draw_graph("ring", 10, 2.0, rng)
    with pytest.raises(ValueError, match="mean_degree must lie in"):
        draw_graph("erdos_renyi", 10, 12.0, rng)


def _random_edge_lists(num_sims: int, n: int, rng) -> tuple[list[np.ndarray], np.ndarray]:
    lists = [pairs_to_edge_index(draw_graph("erdos_renyi", n, 3.0, rng)) for _ in range(num_sims)]
    adj = np.zeros((num_sims, n, n))
    for s, edges in enumerate(lists):
        adj[s, edges[0], edges[1]] = 1
    return lists, adj


def test_sparse_springs_integrate_like_the_dense_simulator_on_the_same_graph():
    rng = np.random.default_rng(1)
    lists, adj = _random_edge_lists(3, 8, rng)
    loc0, vel0 = rng.standard_normal((3, 2, 8)), 0.5 * rng.standard_normal((3, 2, 8))
    physics = dict(box_size=2.0, interaction_strength=0.5, dt=0.001)  # walls and springs both act
    dense = simulate.run_springs(loc0, vel0, adj, 1200, 100, **physics)
    sparse = run_springs_sparse(loc0, vel0, lists, 1200, 100, **physics)
    for a, b in zip(dense, sparse, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_sparse_kuramoto_integrates_like_the_dense_simulator_on_the_same_graph():
    rng = np.random.default_rng(2)
    lists, adj = _random_edge_lists(2, 6, rng)
    phase0, omega = rng.uniform(0, 6, (2, 6)), rng.uniform(1, 10, (2, 6))
    dense = simulate.run_kuramoto(phase0, omega, adj, 200, 10, dt=0.01, coupling_strength=0.7)
    sparse = _run_kuramoto_sparse(phase0, omega, lists, 200, 10, 0.01, 0.7, False)
    np.testing.assert_allclose(dense, sparse, rtol=0, atol=1e-12)


def test_a_thousand_springs_stay_in_their_box():
    loc, vel, edge_index = simulate_springs_sparse(
        2, 1000, 2000, 100, np.random.default_rng(0), graph="erdos_renyi", mean_degree=3.0,
        **physics_defaults("springs", sparse=True))
    assert loc.shape == (2, 19, 2, 1000) and edge_index.shape[:2] == (2, 2)
    assert np.isfinite(loc).all() and np.abs(loc).max() <= 5.0 * np.sqrt(1000 / 5)
    assert np.abs(vel).max() < 50  # springs between far objects are long here (docs/many_objects.md)


def test_directed_kuramoto_couples_each_pair_one_way():
    feat, edge_index = simulate_kuramoto_sparse(
        2, 40, 100, 10, np.random.default_rng(0), graph="lattice", mean_degree=3.0,
        **physics_defaults("kuramoto", sparse=True))
    assert feat.shape == (2, 40, 9, 3) and np.isfinite(feat).all()
    adj = edge_lists_to_dense([e[:, e[0] >= 0] for e in edge_index], 40)
    assert not np.any(adj * adj.transpose(0, 2, 1))


def test_sparse_dataset_round_trip(tmp_path):
    paths = write_dataset("springs", tmp_path, num_atoms=60, num_train=6, num_valid=2, num_test=2,
                          length=400, length_test=600, sample_freq=100, graph="barabasi_albert",
                          mean_degree=3.0, progress=False)
    assert "edges_train" not in paths and not (tmp_path / "edges_train_springs60.npy").exists()
    stored = np.load(paths["edge_index_train"])
    assert stored.dtype == np.int32 and stored.shape[:2] == (6, 2)
    lists = load_edge_lists(paths["edge_index_train"])
    assert len(lists) == 6
    dense = edge_lists_to_dense(lists, 60)
    assert np.array_equal(dense, dense.transpose(0, 2, 1))  # springs: both directions
    back = dense_to_edge_lists(dense)
    assert all(np.array_equal(a, b) for a, b in zip(lists, back, strict=True))
    # the same seed writes the same bytes
    again = write_dataset("springs", tmp_path / "again", num_atoms=60, num_train=6, num_valid=2,
                          num_test=2, length=400, length_test=600, sample_freq=100,
                          graph="barabasi_albert", mean_degree=3.0, progress=False)
    for key in ("loc_train", "edge_index_test"):
        assert paths[key].read_bytes() == again[key].read_bytes()


def test_sparse_dataset_refuses_a_family_the_simulator_lacks(tmp_path):
    with pytest.raises(GenerationError, match="charged has no sparse-graph simulator"):
        write_dataset("charged", tmp_path, graph="knn")
    with pytest.raises(GenerationError, match="dataset.graph='ring'"):
        write_dataset("springs", tmp_path, graph="ring")


def test_generate_config_selects_a_graph_family(tmp_path):
    from hydra_utils import compose_cfg

    from nri.generate import run

    cfg = compose_cfg("generate", [f"paths.data_dir={tmp_path}", "dataset=kuramoto",
                                   "dataset.num_atoms=30", "dataset.graph=lattice",
                                   "dataset.mean_degree=2.5", "dataset.num_train=3",
                                   "dataset.num_valid=1", "dataset.num_test=1", "dataset.length=100",
                                   "dataset.length_test=200",
                                   "progress=false"], tmp_path / "run")
    paths = run(cfg)
    assert paths["feat_train"].exists() and paths["edge_index_valid"].exists()
    meta = paths["metadata"].read_text()
    assert '"family": "lattice"' in meta and "coupling_prob" not in meta
