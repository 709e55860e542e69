"""What the dataset writer does differently on a sparse graph family (``dataset.graph`` not dense).

Every simulation's graph is drawn from a family of :mod:`nri.data.sim.graph_families` with the
given mean degree, the sparse simulators of :mod:`nri.data.sim.sparse_simulate` integrate it, and
the labels are written as padded edge lists (:mod:`nri.data.sim.sparse_edges`) instead of
[S, N, N]. The dense path never calls in here, so the reference's files and metadata keep their
bytes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from nri.data.errors import GenerationError
from nri.data.sim.graph_families import GRAPH_FAMILIES
from nri.data.sim.sparse_edges import EDGE_INDEX_KIND
from nri.data.sim.sparse_simulate import simulate_kuramoto_sparse, simulate_springs_sparse

__all__ = ["SPARSE_BLOCK_NODES", "SPARSE_SIMULATORS", "array_kinds", "graph_params",
           "merge_blocks", "save_edge_lists", "simulator_keywords", "sparse_physics"]

SPARSE_SIMULATORS: dict[str, Callable[..., tuple[np.ndarray, ...]]] = {
    "springs": simulate_springs_sparse,
    "kuramoto": simulate_kuramoto_sparse,
}
# Nodes per simulated block on sparse graphs: the block's float64 trajectories stay ~100 MB per
# 49 frames, whatever N is.
SPARSE_BLOCK_NODES = 50_000


def array_kinds(arrays: tuple[str, ...], sparse: bool) -> tuple[str, ...]:
    """The dataset's array kinds, with edge lists in place of ``edges`` when ``sparse``."""
    return tuple(EDGE_INDEX_KIND if sparse and kind == "edges" else kind for kind in arrays)


def sparse_physics(name: str, dense_defaults: dict[str, Any],
                   physics: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The physics defaults the sparse simulator takes (the dense one's), and the given physics
    without the dense graph's pair probability (``edge_prob``, ``coupling_prob``), which has no
    use on a graph family."""
    if name not in SPARSE_SIMULATORS:
        raise GenerationError(f"{name} has no sparse-graph simulator; use dataset.graph=dense "
                              f"(sparse graphs: {', '.join(SPARSE_SIMULATORS)})")
    taken = inspect.signature(SPARSE_SIMULATORS[name]).parameters
    defaults = {key: value for key, value in dense_defaults.items() if key in taken}
    kept = {key: value for key, value in physics.items()
            if key in defaults or key not in dense_defaults}
    return defaults, kept


def graph_params(graph: str, mean_degree: float, num_atoms: int, block_sims: int) -> dict:
    """The dataset parameters a graph family adds: ``graph`` and a smaller ``block_sims``."""
    if graph not in GRAPH_FAMILIES:
        raise GenerationError(f"dataset.graph={graph!r} is not a graph family; choose dense or "
                              f"one of {', '.join(GRAPH_FAMILIES)}")
    if isinstance(mean_degree, bool) or not isinstance(mean_degree, (int, float)) \
            or not 0 < mean_degree <= num_atoms - 1:
        raise GenerationError(f"dataset.mean_degree must be a number in (0, N-1] = "
                              f"(0, {num_atoms - 1}], got {mean_degree!r}")
    return {"graph": {"family": graph, "mean_degree": float(mean_degree)},
            "block_sims": max(1, min(block_sims, SPARSE_BLOCK_NODES // num_atoms))}


def simulator_keywords(params: dict[str, Any]) -> dict[str, Any]:
    """The graph keywords a sparse simulator takes beside the physics."""
    return {"graph": params["graph"]["family"], "mean_degree": params["graph"]["mean_degree"]}


def merge_blocks(blocks: list[tuple[int, np.ndarray]], num_sims: int) -> np.ndarray:
    """One split's edge lists from its blocks (first simulation, [S_b, 2, M_b]), re-padded.

    Shapes:
        blocks: (start, [S_b, 2, M_b] int32) -> [S, 2, max M_b] int32, -1 padding
    """
    width = max([block.shape[2] for _, block in blocks] + [0])
    out = np.full((num_sims, 2, width), -1, dtype=np.int32)
    for start, block in blocks:
        out[start:start + block.shape[0], :, : block.shape[2]] = block
    return out


def save_edge_lists(blocks: list[tuple[int, np.ndarray]], num_sims: int, temp: Path) -> None:
    """Write one split's merged edge lists to its temporary file (renamed with the others)."""
    with open(temp, "wb") as fh:
        np.save(fh, merge_blocks(blocks, num_sims))
