"""Sparse random graph families with a given mean degree, as undirected pair lists (numpy only).

Every family returns the unordered pairs of one graph as an int64 array [M, 2] with i < j in each
row, rows sorted, and draws only from the given ``numpy.random.Generator``: the same seed gives the
same graph. Node labels are shuffled at the end, so a node's index says nothing about its role
(the first nodes of a Barabási–Albert graph would otherwise be the hubs). Costs are O(N + M)
except the geometric family, which ranks the N(N-1)/2 pair distances once per graph.

- ``erdos_renyi``: G(N, M), M = round(N d / 2) distinct pairs drawn uniformly.
- ``barabasi_albert``: preferential attachment; each new node attaches to m_t distinct earlier
  nodes chosen with probability proportional to degree, m_t in {floor(d/2), ceil(d/2)} drawn so
  that the mean of m_t is d / 2 (mean degree d, scale-free degree distribution).
- ``knn``: a random geometric graph on the given 2-D positions: the M = round(N d / 2) closest
  pairs, i.e. the radius chosen so that the mean degree is exactly d.
- ``lattice``: a square grid on ceil(sqrt N) columns (degree 4 inside); below d = 4 a random
  subset of its bonds is kept, above it diagonals are added (at most d = 8).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["GRAPH_FAMILIES", "draw_graph", "pairs_to_edge_index"]

GRAPH_FAMILIES = ("erdos_renyi", "barabasi_albert", "knn", "lattice")


def _target_pairs(num_nodes: int, mean_degree: float) -> int:
    return int(round(num_nodes * mean_degree / 2))


def _canonical(pairs: np.ndarray) -> np.ndarray:
    """Rows (min, max), unique and sorted. Shapes: [M, 2] -> [M', 2] int64"""
    pairs = np.sort(np.asarray(pairs, dtype=np.int64).reshape(-1, 2), axis=1)
    return np.unique(pairs, axis=0)


def erdos_renyi(num_nodes: int, mean_degree: float, rng: np.random.Generator) -> np.ndarray:
    target = _target_pairs(num_nodes, mean_degree)
    codes = np.empty(0, dtype=np.int64)
    while codes.size < target:  # rejection of self-pairs and repeats; few rounds while M << N²
        draw = rng.integers(0, num_nodes, size=(2 * (target - codes.size) + 8, 2))
        draw = np.sort(draw[draw[:, 0] != draw[:, 1]], axis=1)
        fresh = draw[:, 0] * num_nodes + draw[:, 1]
        _, first = np.unique(fresh, return_index=True)
        fresh = fresh[np.sort(first)]  # first occurrence, in draw order
        fresh = fresh[~np.isin(fresh, codes)]
        codes = np.concatenate([codes, fresh[: target - codes.size]])
    return np.stack([codes // num_nodes, codes % num_nodes], axis=1)


def barabasi_albert(num_nodes: int, mean_degree: float, rng: np.random.Generator) -> np.ndarray:
    half = mean_degree / 2
    low = math.floor(half)
    links = low + (rng.random(num_nodes) < half - low)  # m_t per node, mean d / 2
    ends: list[int] = []  # every edge end once: a uniform draw from it is degree-proportional
    pairs: list[tuple[int, int]] = []
    for node in range(1, num_nodes):
        m = min(int(links[node]), node)
        chosen: set[int] = set()
        while len(chosen) < m:
            if ends:
                chosen.add(ends[int(rng.integers(len(ends)))])
            else:  # the first link: no degrees yet
                chosen.add(int(rng.integers(node)))
        for target in sorted(chosen):
            pairs.append((target, node))
            ends.extend((target, node))
    return _canonical(np.array(pairs, dtype=np.int64).reshape(-1, 2))


def knn(positions: np.ndarray, mean_degree: float) -> np.ndarray:
    """Shapes: positions [N, 2] -> pairs [M, 2]"""
    num_nodes = positions.shape[0]
    rows, cols = np.triu_indices(num_nodes, k=1)
    dist2 = ((positions[rows] - positions[cols]) ** 2).sum(axis=1)
    target = min(_target_pairs(num_nodes, mean_degree), rows.size)
    closest = np.argpartition(dist2, target - 1)[:target]
    return np.stack([rows[closest], cols[closest]], axis=1)


def lattice(num_nodes: int, mean_degree: float, rng: np.random.Generator) -> np.ndarray:
    if mean_degree > 8:
        raise ValueError(f"a lattice has mean degree at most 8 (with diagonals), got {mean_degree}")
    side = math.ceil(math.sqrt(num_nodes))
    node = np.arange(num_nodes)
    row, col = node // side, node % side
    bonds = [(1, 0), (0, 1)] + ([(1, 1), (1, -1)] if mean_degree > 4 else [])
    pairs = []
    for dr, dc in bonds:
        r2, c2 = row + dr, col + dc
        other = r2 * side + c2
        ok = (c2 >= 0) & (c2 < side) & (other < num_nodes)
        pairs.append(np.stack([node[ok], other[ok]], axis=1))
    square, diagonal = pairs[0:2], pairs[2:]
    square = np.concatenate(square)
    target = _target_pairs(num_nodes, mean_degree)
    if not diagonal:
        keep = rng.permutation(square.shape[0])[: min(target, square.shape[0])]
        return _canonical(square[keep])
    diagonal = np.concatenate(diagonal)
    extra = rng.permutation(diagonal.shape[0])[: max(0, target - square.shape[0])]
    return _canonical(np.concatenate([square, diagonal[extra]]))


def draw_graph(family: str, num_nodes: int, mean_degree: float, rng: np.random.Generator,
               positions: np.ndarray | None = None) -> np.ndarray:
    """One graph of ``family`` with about ``mean_degree`` neighbours per node, labels shuffled.

    ``positions`` (for ``knn``) are the nodes' 2-D places; the geometric graph is built on them
    before any shuffle, so it stays the graph of those places.

    Shapes:
        positions: [N, 2] -> pairs [M, 2] int64, i < j per row, sorted
    """
    if family not in GRAPH_FAMILIES:
        raise ValueError(f"unknown graph family {family!r}; choose one of {', '.join(GRAPH_FAMILIES)}")
    if not 0 < mean_degree <= num_nodes - 1:
        raise ValueError(f"mean_degree must lie in (0, N-1] = (0, {num_nodes - 1}], got {mean_degree}")
    if family == "knn":
        if positions is None or positions.shape != (num_nodes, 2):
            raise ValueError(f"the knn family needs positions [N, 2] = [{num_nodes}, 2]")
        return _canonical(knn(positions, mean_degree))
    build = {"erdos_renyi": erdos_renyi, "barabasi_albert": barabasi_albert, "lattice": lattice}
    pairs = build[family](num_nodes, mean_degree, rng)
    relabel = rng.permutation(num_nodes)
    return _canonical(relabel[pairs])


def pairs_to_edge_index(pairs: np.ndarray) -> np.ndarray:
    """Both directions of every unordered pair, as (receiver, sender) rows sorted receiver-major.

    Shapes:
        pairs: [M, 2] -> edge_index [2, 2M] int64 (row 0 receivers, row 1 senders)
    """
    both = np.concatenate([pairs, pairs[:, ::-1]])
    order = np.lexsort((both[:, 1], both[:, 0]))
    return np.ascontiguousarray(both[order].T)
