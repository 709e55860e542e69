"""Edge labels stored as one padded edge list per simulation, for graphs too large for [S, N, N].

Layout: ``edge_index_{split}{suffix}.npy``, int32 [S, 2, M_max]: for simulation s, row 0 holds the
receivers and row 1 the senders of its M_s directed edges (receiver-major, sorted), columns
M_s .. M_max-1 are -1. Edge (i, j) means ``edges[s, i, j] = 1`` in the dense layout (sender j acts
on receiver i; an undirected spring appears in both directions). The file is a plain ``.npy``, so
it memory-maps, and one simulation's list is one row read. At N = 1,000 and mean degree 3 a
simulation's list takes 24 KB against 4 MB for a dense float32 [N, N] block.

Datasets drawn on a sparse graph family (``dataset.graph`` other than ``dense``) are written this
way; dense graphs keep ``edges_{split}{suffix}.npy`` [S, N, N].
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["CONVENTION", "EDGE_INDEX_KIND", "dense_to_edge_lists", "edge_lists_to_dense",
           "load_edge_lists"]

EDGE_INDEX_KIND = "edge_index"
CONVENTION = ("edge_index [S, 2, M_max] int32 instead of edges: row 0 receivers, row 1 senders, "
              "-1 padding")
_DENSE_LIMIT_BYTES = 2**30  # edge_lists_to_dense refuses larger outputs


def load_edge_lists(path: str | os.PathLike) -> list[np.ndarray]:
    """Per-simulation edge lists of an ``edge_index_…`` file.

    Shapes:
        returns: S arrays [2, M_s] int64 (receiver, sender)
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no edge list file {path}; generate the dataset with "
                                "python -m nri.generate dataset.graph=<family>")
    padded = np.load(path, mmap_mode="r")
    if padded.ndim != 3 or padded.shape[1] != 2:
        raise ValueError(f"{path} holds an array of shape {padded.shape}; expected [S, 2, M_max]")
    return [np.asarray(row[:, row[0] >= 0], dtype=np.int64) for row in padded]


def edge_lists_to_dense(edge_lists: list[np.ndarray], num_atoms: int,
                        dtype: str = "float32") -> np.ndarray:
    """The dense layout of edge lists, for small N (refuses outputs over 1 GiB).

    Shapes:
        edge_lists: S arrays [2, M_s] -> [S, N, N] with 1 at (receiver, sender)
    """
    size = len(edge_lists) * num_atoms * num_atoms * np.dtype(dtype).itemsize
    if size > _DENSE_LIMIT_BYTES:
        raise ValueError(f"a dense [S, N, N] = [{len(edge_lists)}, {num_atoms}, {num_atoms}] array "
                         f"would take {size / 2**30:.1f} GiB; use the edge lists directly")
    dense = np.zeros((len(edge_lists), num_atoms, num_atoms), dtype=dtype)
    for s, edges in enumerate(edge_lists):
        dense[s, edges[0], edges[1]] = 1
    return dense


def dense_to_edge_lists(adj: np.ndarray) -> list[np.ndarray]:
    """Edge lists of the nonzero off-diagonal entries, receiver-major.

    Shapes:
        adj: [S, N, N] -> S arrays [2, M_s] int64 (receiver, sender)
    """
    off_diag = ~np.eye(adj.shape[-1], dtype=bool)
    return [np.stack(np.nonzero((a != 0) & off_diag)).astype(np.int64) for a in adj]
