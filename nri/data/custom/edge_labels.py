"""Edge labels for a user's trajectories: [S, N, N] integers from ``.npy``, ``.npz`` or CSV.

Entry [s, receiver, sender]; a [N, N] matrix applies to every sequence. A CSV has columns
``sequence, sender, receiver, type`` (pairs not listed are type 0; no ``sequence``: every one).
Every problem raises :class:`InputError` with one line that names the file and what to fix.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nri.data.custom.files import is_number, load_array, open_npz
from nri.data.errors import InputError

if TYPE_CHECKING:
    from nri.data.custom.trajectories import Trajectories


def read_edges(path: str | Path, traj: Trajectories) -> np.ndarray:
    """Edge labels for the sequences of ``traj`` from a ``.npy``/``.npz``/``.csv`` file.

    Shapes:
        returns [S, N, N] int64, entry [s, receiver, sender].
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"{path}: no such edges file")
    kind = path.suffix.lower()
    if kind == ".csv":
        return _read_edges_csv(path, traj)
    if kind == ".npy":
        return check_edges(load_array(path), path, traj)
    if kind == ".npz":
        with open_npz(path) as data:
            names = list(data.keys())
            name = "edges" if "edges" in names else (names[0] if len(names) == 1 else None)
            if name is None:
                raise InputError(f"{path}: holds {names}; name the edge array 'edges'")
            return check_edges(data[name], path, traj)
    raise InputError(f"{path}: unknown edges file type {path.suffix!r}; give .npy, .npz or .csv")


def check_edges(edges: np.ndarray, path: Path | str, traj: Trajectories) -> np.ndarray:
    """Labels as [S, N, N] non-negative integers that match the trajectories.

    Shapes:
        edges [S, N, N] or [N, N] -> [S, N, N] int64 (diagonal set to 0)
    """
    s, n = len(traj.sequences), traj.num_objects
    edges = np.asarray(edges)
    if edges.ndim == 2:
        edges = np.broadcast_to(edges, (s,) + edges.shape)
    if edges.shape != (s, n, n):
        raise InputError(f"{path}: edge labels have shape {edges.shape}; expected {(s, n, n)} "
                         "[S, N, N] (or [N, N]) for the trajectories")
    if edges.dtype.kind not in "biuf" or not np.isfinite(edges).all():
        raise InputError(f"{path}: edge labels must be finite numbers, got dtype {edges.dtype}")
    if (np.rint(edges) != edges).any() or (edges < 0).any():
        raise InputError(f"{path}: edge labels must be integer types 0, 1, … (found "
                         f"{np.unique(edges)[:5].tolist()})")
    out = edges.astype(np.int64)
    out[:, np.arange(n), np.arange(n)] = 0
    return out


def _read_edges_csv(path: Path, traj: Trajectories) -> np.ndarray:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        missing = [c for c in ("sender", "receiver") if c not in header]
        if missing:
            raise InputError(f"{path}: edges CSV needs columns sequence, sender, receiver, type; "
                             f"missing {missing}")
        rows = [(reader.line_num, r) for r in reader]
    seq_code = {v: i for i, v in enumerate(traj.sequence_ids)}
    obj_code = {v: i for i, v in enumerate(traj.objects)}
    n, s = traj.num_objects, len(traj.sequences)
    edges = np.zeros((s, n, n), dtype=np.int64)
    seen: set[tuple[int, int, int]] = set()
    for line, row in rows:
        def get(name, default=None, _row=row):
            value = (_row.get(name) or "").strip()
            return value if value else default
        sid, snd, rcv = get("sequence"), get("sender"), get("receiver")
        targets = range(s) if sid is None else [seq_code.get(sid, -1)]
        if sid is not None and targets[0] < 0:
            raise InputError(f"{path}: line {line}: unknown sequence {sid!r}")
        for label, name in ((snd, "sender"), (rcv, "receiver")):
            if label not in obj_code:
                raise InputError(f"{path}: line {line}: unknown {name} {label!r}; objects are "
                                 f"{traj.objects[:10]}")
        i, j = obj_code[rcv], obj_code[snd]
        if i == j:
            raise InputError(f"{path}: line {line}: an edge from object {snd!r} to itself")
        kind = get("type", "1")
        if not is_number(kind) or float(kind) < 0 or float(kind) != int(float(kind)):
            raise InputError(f"{path}: line {line}: edge type {kind!r} is not an integer 0, 1, …")
        for t in targets:
            if (t, i, j) in seen:
                raise InputError(f"{path}: line {line}: edge {snd!r} -> {rcv!r} given twice")
            seen.add((t, i, j))
            edges[t, i, j] = int(float(kind))
    return edges
