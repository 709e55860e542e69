"""Read a user's trajectories (and optional edge labels) from ``.npy``, ``.npz`` or long CSV.

Arrays hold [S, N, T, D] (or [S, T, N, D] with ``layout="STND"``; a 3-D array is one sequence).
A long CSV has one row per (sequence, time, object) with the features in further columns::

    sequence,time,object,x,y,vx,vy
    0,0,0,0.12,-0.40,0.01,0.03
    ...

Edge labels are [S, N, N] integers (entry [s, receiver, sender]; a [N, N] matrix applies to every
sequence), given as the ``edges`` key of the ``.npz`` (read here), or in a separate ``.npy``,
``.npz`` or CSV file (:mod:`nri.data.custom.edge_labels`).

Every problem raises :class:`InputError` with one line that names the file and what to fix.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nri.atomic import atomic_write_text
from nri.data.custom.edge_labels import check_edges
from nri.data.custom.files import is_number, load_array, open_npz
from nri.data.errors import InputError

LAYOUTS = ("SNTD", "STND")
ARRAY_KEYS = ("trajectories", "x", "feat", "data")
DEFAULT_COLUMNS = {"sequence": "sequence", "time": "time", "object": "object"}


@dataclass
class Trajectories:
    """Sequences of the same N objects, each with its own number of frames.

    Shapes:
        sequences: list of S arrays [N, T_s, D] (float64); edges: [S, N, N] int64 or None;
        times: list of S arrays [T_s] (the CSV's time values, else 0 … T_s − 1).
    """

    sequences: list[np.ndarray]
    sequence_ids: list[str]
    objects: list[str]
    features: list[str]
    times: list[np.ndarray]
    source: Path
    edges: np.ndarray | None = None

    @property
    def num_objects(self) -> int:
        return self.sequences[0].shape[0]

    @property
    def dims(self) -> int:
        return self.sequences[0].shape[2]


def read_trajectories(path: str | Path, layout: str = "SNTD", features: Sequence[str] | None = None,
                      columns: Mapping[str, str] | None = None, key: str | None = None) -> Trajectories:
    """Read and check one file of trajectories; ``.npz`` labels under ``edges`` come along.

    Shapes:
        returns Trajectories with sequences [N, T_s, D] each.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    kind = path.suffix.lower()
    if kind == ".csv":
        traj = _read_csv(path, features, {**DEFAULT_COLUMNS, **(columns or {})})
    elif kind in (".npy", ".npz"):
        traj = _read_array_file(path, layout, key)
        if features:
            if len(features) != traj.dims:
                raise InputError(f"{path}: features lists {len(features)} names but the array has "
                                 f"{traj.dims} features per object")
            traj.features = [str(f) for f in features]
    else:
        raise InputError(f"{path}: unknown file type {path.suffix!r}; give a .npy, .npz or .csv file")
    _check_values(traj)
    return traj


def cut_windows(traj: Trajectories, length: int, stride: int, sequences: Sequence[int] | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Every window of ``length`` frames, starting every ``stride`` frames, of the chosen sequences.

    Shapes:
        returns x [W, N, length, D] float64 and index [W, 2] int64 (sequence, first frame).
    """
    if length < 1 or stride < 1:
        raise InputError(f"window length ({length}) and stride ({stride}) must be at least 1")
    chosen = range(len(traj.sequences)) if sequences is None else sequences
    windows, index = [], []
    for s in chosen:
        seq = traj.sequences[s]
        if seq.shape[1] < length:
            raise InputError(f"{traj.source}: sequence {traj.sequence_ids[s]!r} has {seq.shape[1]} "
                             f"frames, fewer than the window of {length}; lower the window or drop it")
        for start in range(0, seq.shape[1] - length + 1, stride):
            windows.append(seq[:, start: start + length])
            index.append((s, start))
    n, d = traj.num_objects, traj.dims
    if not windows:
        return np.zeros((0, n, length, d)), np.zeros((0, 2), np.int64)
    return np.stack(windows), np.asarray(index, dtype=np.int64)


def write_long_csv(path: str | Path, x: np.ndarray, features: Sequence[str] | None = None) -> None:
    """Write trajectories as a long CSV (sequence, time, object, features…), atomically.

    Shapes:
        x: [S, N, T, D]
    """
    s, n, t, d = x.shape
    names = list(features) if features is not None else [f"feature{i}" for i in range(d)]
    seq, obj, time = np.meshgrid(np.arange(s), np.arange(n), np.arange(t), indexing="ij")
    table = np.concatenate([np.stack([seq, time, obj], -1).reshape(-1, 3).astype(np.float64),
                            x.reshape(-1, d)], axis=1)
    order = np.lexsort((table[:, 2], table[:, 1], table[:, 0]))  # by sequence, time, object
    buf = io.StringIO()
    np.savetxt(buf, table[order], fmt=["%d"] * 3 + ["%.7g"] * d, delimiter=",",
               header=",".join(["sequence", "time", "object", *names]), comments="")
    atomic_write_text(path, buf.getvalue())


def csv_header(path: str | Path) -> list[str]:
    """The column names of a CSV file (empty when it has none)."""
    try:
        with open(Path(path).expanduser(), newline="", encoding="utf-8-sig") as fh:
            return [h.strip() for h in next(csv.reader(fh), [])]
    except (OSError, UnicodeDecodeError):
        return []


# ---------------------------------------------------------------------------- arrays
def _read_array_file(path: Path, layout: str, key: str | None) -> Trajectories:
    edges = None
    if path.suffix.lower() == ".npz":
        with open_npz(path) as data:
            names = list(data.keys())
            if key is None:
                found = [k for k in ARRAY_KEYS if k in names]
                rest = [k for k in names if k != "edges"]
                key = found[0] if found else (rest[0] if len(rest) == 1 else None)
            if key not in names:
                raise InputError(f"{path}: holds arrays {names}; name the trajectories "
                                 f"{' or '.join(ARRAY_KEYS)} or choose one with the key option")
            arr = _numeric(data[key], f"{path}[{key}]")
            raw_edges = data["edges"] if "edges" in names else None
    else:
        arr = _numeric(load_array(path), str(path))
        raw_edges = None
    layout = str(layout).upper()
    if layout not in LAYOUTS:
        raise InputError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4:
        raise InputError(f"{path}: array has shape {arr.shape}; expected [S, N, T, D] "
                         f"({layout} layout) with 4 dims")
    if layout == "STND":
        arr = arr.transpose(0, 2, 1, 3)  # [S, T, N, D] -> [S, N, T, D]
    s, n, t, d = arr.shape
    traj = Trajectories(sequences=list(arr.astype(np.float64)), sequence_ids=[str(i) for i in range(s)],
                        objects=[str(i) for i in range(n)], features=[f"feature{i}" for i in range(d)],
                        times=[np.arange(t, dtype=np.float64)] * s, source=path)
    if raw_edges is not None:
        _check_objects(traj)
        edges = check_edges(raw_edges, f"{path}[edges]", traj)
    traj.edges = edges
    return traj


def _numeric(arr: np.ndarray, where: str) -> np.ndarray:
    if arr.dtype.kind not in "iuf":
        raise InputError(f"{where}: trajectories must be numbers, got dtype {arr.dtype}")
    return arr


# ------------------------------------------------------------------------------- CSV
def _sorted_labels(values: Sequence[str]) -> list[str]:
    """Distinct labels, in numeric order when every label is a number."""
    uniq = set(values)
    try:
        return sorted(uniq, key=float)
    except ValueError:
        return sorted(uniq)


def _parse_column(values: list[str], name: str, path: Path, lines: np.ndarray) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64)
    except ValueError:
        for i, v in enumerate(values):
            try:
                float(v)
            except ValueError:
                raise InputError(f"{path}: line {lines[i]}: column {name!r} has the non-numeric value "
                                 f"{v!r}") from None
        raise


def _read_rows(path: Path) -> tuple[list[str], list[list[str]], np.ndarray]:
    """Header, stripped rows of the header's width (blank lines skipped) and their line numbers."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            rows, lines = [], []
            for row in reader:
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != len(header):
                    raise InputError(f"{path}: line {reader.line_num} has {len(row)} fields but the "
                                     f"header has {len(header)}")
                rows.append([c.strip() for c in row])
                lines.append(reader.line_num)
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not a UTF-8 text CSV ({err.reason})") from None
    if not header or not rows:
        raise InputError(f"{path}: no header or no data rows")
    return header, rows, np.asarray(lines)


def _read_csv(path: Path, features: Sequence[str] | None, columns: Mapping[str, str]) -> Trajectories:
    header, rows, lines = _read_rows(path)
    col = {name: i for i, name in enumerate(header)}
    for role in ("time", "object"):
        if columns[role] not in col:
            raise InputError(f"{path}: no {role} column {columns[role]!r} in the header {header}; "
                             f"rename it or set columns.{role}")
    values = list(zip(*rows, strict=True))
    seq_col = columns["sequence"]
    seq = list(values[col[seq_col]]) if seq_col in col else ["0"] * len(rows)
    obj = list(values[col[columns["object"]]])
    time = _parse_column(list(values[col[columns["time"]]]), columns["time"], path, lines)
    id_cols = {columns["sequence"], columns["time"], columns["object"]}
    if features:
        missing = [f for f in features if f not in col]
        if missing:
            raise InputError(f"{path}: feature column(s) {missing} not in the header {header}")
        names = [str(f) for f in features]
    else:
        # a column with no number at all (e.g. a team name) is not a feature; a column with some
        # numbers and some text is a data error and is reported by _parse_column
        names = [h for h in header if h not in id_cols and any(is_number(v) for v in values[col[h]])]
        if not names:
            raise InputError(f"{path}: no numeric feature columns besides {sorted(id_cols)}")
    feats = np.stack([_parse_column(list(values[col[f]]), f, path, lines) for f in names], axis=1)
    bad = ~np.isfinite(feats).all(axis=1) | ~np.isfinite(time)
    if bad.any():
        raise InputError(f"{path}: line {lines[np.argmax(bad)]}: NaN or inf value; fill or drop "
                         "missing values first")
    return _to_sequences(path, seq, obj, time, feats, names)


def _to_sequences(path: Path, seq: list[str], obj: list[str], time: np.ndarray, feats: np.ndarray,
                  names: list[str]) -> Trajectories:
    """Arrange long-format rows into one [N, T_s, D] array per sequence, checking completeness.

    Shapes: time [R]; feats [R, D] for R rows
    """
    seq_ids, obj_ids = _sorted_labels(seq), _sorted_labels(obj)
    seq_code = {v: i for i, v in enumerate(seq_ids)}
    obj_code = {v: i for i, v in enumerate(obj_ids)}
    seq_idx = np.array([seq_code[v] for v in seq])
    obj_idx = np.array([obj_code[v] for v in obj])
    n = len(obj_ids)
    sequences, times = [], []
    for s, sid in enumerate(seq_ids):
        rows_s = np.flatnonzero(seq_idx == s)
        frames, t_idx = np.unique(time[rows_s], return_inverse=True)
        counts = np.zeros((len(frames), n), dtype=np.int64)
        np.add.at(counts, (t_idx, obj_idx[rows_s]), 1)
        if (counts == 0).any():
            t, o = np.argwhere(counts == 0)[0]
            raise InputError(f"{path}: ragged data: sequence {sid!r} has no row for object "
                             f"{obj_ids[o]!r} at time {frames[t]:g}; every object needs a row at every "
                             "time step of its sequence")
        if (counts > 1).any():
            t, o = np.argwhere(counts > 1)[0]
            raise InputError(f"{path}: sequence {sid!r} has {counts[t, o]} rows for object "
                             f"{obj_ids[o]!r} at time {frames[t]:g}; expected one")
        arr = np.empty((n, len(frames), len(names)))
        arr[obj_idx[rows_s], t_idx] = feats[rows_s]
        sequences.append(arr)
        times.append(frames)
    return Trajectories(sequences=sequences, sequence_ids=seq_ids, objects=obj_ids, features=names,
                        times=times, source=path)


# ---------------------------------------------------------------------------- checks
def _check_objects(traj: Trajectories) -> None:
    if traj.num_objects < 2:
        raise InputError(f"{traj.source}: found {traj.num_objects} object(s); an interaction graph "
                         "needs at least 2")


def _check_values(traj: Trajectories) -> None:
    if not traj.sequences:
        raise InputError(f"{traj.source}: no sequences")
    _check_objects(traj)
    for sid, seq in zip(traj.sequence_ids, traj.sequences, strict=True):
        if seq.shape[1] < 1 or seq.shape[2] < 1:
            raise InputError(f"{traj.source}: sequence {sid!r} has shape {seq.shape}; expected "
                             "frames and features")
        if not np.isfinite(seq).all():
            o, t, _ = np.argwhere(~np.isfinite(seq))[0]
            raise InputError(f"{traj.source}: NaN or inf in sequence {sid!r}, object {o}, frame {t}; "
                             "fill or drop missing values first")
