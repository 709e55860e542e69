"""``dataset=custom``: turn a user's trajectory file into the ``feat`` layout the datamodule reads.

``prepare_custom`` reads the file (:mod:`nri.data.custom.trajectories`), splits its sequences into
train/valid/test, cuts each into windows and writes ``feat_{split}{suffix}.npy`` [S, N, T, D],
``edges_{split}{suffix}.npy`` [S, N, N] when labels exist, and ``metadata{suffix}.json``. It runs
once: the metadata records the input file's name, size and mtime with the options, and the same
record means the files on disk are reused. ``prepare_from_config`` also fills the dataset keys
left null (num_atoms, dims, has_edges, …) so that training needs no more than ``dataset.path``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from nri import __version__
from nri.atomic import atomic_write_all
from nri.data.custom.edge_labels import read_edges
from nri.data.custom.trajectories import (
    DEFAULT_COLUMNS,
    InputError,
    Trajectories,
    cut_windows,
    read_trajectories,
)
from nri.data.reuse import reuse_existing
from nri.plain import plain

SPLITS = ("train", "valid", "test")
DERIVED = ("suffix", "num_atoms", "dims", "has_edges", "feature_names", "test_horizon")


def default_suffix(path: str | Path) -> str:
    """``_custom_<file name>`` reduced to letters, digits, ``-`` and ``_`` (my data.csv -> my_data_csv)."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(path).name).strip("_") or "data"
    return f"_custom_{name}"


def _stamp(path: str | None) -> dict[str, Any] | None:
    if not path:
        return None
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    st = p.stat()
    return {"name": p.name, "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def split_sequences(num: int, fractions: Mapping[str, float], seed: int) -> dict[str, np.ndarray]:
    """Sequence indices of each split: a seeded shuffle, at least one sequence per split.

    Shapes:
        returns split -> [S_split] sorted int64 indices into the S = ``num`` sequences.
    """
    frac = {k: float(fractions[k]) for k in SPLITS}
    total = sum(frac.values())
    if min(frac.values()) < 0 or total <= 0:
        raise InputError(f"dataset.split fractions must be >= 0 with a positive sum, got {frac}")
    n_valid = max(1, round(num * frac["valid"] / total))
    n_test = max(1, round(num * frac["test"] / total))
    if num - n_valid - n_test < 1:
        raise InputError(f"{num} sequence(s) cannot be split into train/valid/test by sequence (each "
                         "needs at least one); cut long recordings into several sequences")
    perm = np.random.default_rng(int(seed)).permutation(num)
    parts = {"test": perm[:n_test], "valid": perm[n_test: n_test + n_valid],
             "train": perm[n_test + n_valid:]}
    return {k: np.sort(v).astype(np.int64) for k, v in parts.items()}


def _labels(cfg: dict[str, Any], traj: Trajectories) -> np.ndarray | None:
    if cfg["edges_path"]:
        return read_edges(cfg["edges_path"], traj)
    return traj.edges


def _read_metadata(meta_path: Path, out_dir: Path) -> dict[str, Any] | None:
    """The metadata when it and every file it lists are on disk, else None."""
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = meta.get("files", {}) if isinstance(meta, dict) else {}
    return meta if files and all((out_dir / f).is_file() for f in files.values()) else None


def _parameters(cfg: dict[str, Any], path: Path) -> dict[str, Any]:
    """What the prepared files depend on: the input files' stamps and the preparation options."""
    window, stride = cfg["window"], cfg["stride"]
    return {
        "input": _stamp(str(path)),
        "edges_input": _stamp(cfg["edges_path"]),
        "layout": str(cfg["layout"]).upper(),
        "key": cfg["key"],
        "columns": {**DEFAULT_COLUMNS, **(cfg["columns"] or {})},
        "features": list(cfg["features"]) if cfg["features"] else None,
        "window": None if window is None else int(window),
        "stride": None if stride is None else int(stride),
        "split": {k: float(v) for k, v in cfg["split"].items()},
        "split_seed": int(cfg["split_seed"]),
    }


def prepare_custom(dataset_cfg: Any, out_dir: str | Path, overwrite: bool = False) -> dict[str, Any]:
    """Write the ``feat`` files of ``dataset.path`` into ``out_dir`` (once); return the metadata.

    Raises :class:`InputError` for unusable input and when files of another input or other options
    already carry the suffix (unless ``overwrite`` or ``dataset.overwrite``). Nothing is written
    unless everything checks.

    Shapes:
        written: feat_{split}{suffix}.npy [W, N, window, D] float32 (unscaled),
        edges_{split}{suffix}.npy [W, N, N] int64 (when labels exist).
    """
    cfg = plain(dataset_cfg)
    overwrite = overwrite or bool(cfg["overwrite"])
    if not cfg["path"] or cfg["path"] == "???":
        raise InputError("dataset.path is not set; give the trajectory file: dataset.path=my_data.csv")
    path = Path(cfg["path"]).expanduser().resolve()
    suffix = cfg["suffix"] or default_suffix(path)
    out_dir = Path(out_dir).expanduser().resolve()
    meta_path = out_dir / f"metadata{suffix}.json"
    if not path.is_file() and not overwrite:
        # evaluating a checkpoint after the source file was moved: the prepared files suffice
        meta = _read_metadata(meta_path, out_dir)
        if meta is not None and meta.get("source") == str(path):
            return meta
    parameters = _parameters(cfg, path)
    feat_paths = [out_dir / f"feat_{s}{suffix}.npy" for s in SPLITS]
    try:
        reuse = reuse_existing(meta_path, parameters, [*feat_paths, meta_path], overwrite)
    except FileExistsError as err:
        detail = re.search(r"\(differing: [^)]*\)", str(err))
        raise InputError(f"{meta_path} was made from another input file or with other options "
                         f"{detail.group(0) if detail else ''}; add dataset.overwrite=true to rebuild "
                         f"it from {path.name}, or set another dataset.suffix") from None
    meta = _read_metadata(meta_path, out_dir) if reuse else None
    if meta is not None:
        return meta
    arrays, metadata = _convert(cfg, path, parameters, out_dir, suffix)
    atomic_write_all(arrays, {meta_path: json.dumps(metadata, indent=2) + "\n"})
    return metadata


def _convert(cfg: dict[str, Any], path: Path, parameters: dict[str, Any], out_dir: Path, suffix: str
             ) -> tuple[dict[Path, np.ndarray], dict[str, Any]]:
    """Read, split and window the input; the arrays to write by path, and their metadata."""
    traj = read_trajectories(path, layout=parameters["layout"], features=parameters["features"],
                             columns=parameters["columns"], key=parameters["key"])
    labels = _labels(cfg, traj)
    lengths = [seq.shape[1] for seq in traj.sequences]
    window = parameters["window"]
    if window is None:
        if len(set(lengths)) > 1:
            raise InputError(f"{path}: sequences have {min(lengths)} to {max(lengths)} frames; set "
                             "dataset.window to cut them into samples of one length")
        window = lengths[0]
    stride = parameters["stride"] or window
    splits = split_sequences(len(traj.sequences), parameters["split"], parameters["split_seed"])
    arrays: dict[Path, np.ndarray] = {}
    files, counts = {}, {}
    for split, seqs in splits.items():
        x, index = cut_windows(traj, window, stride if split == "train" else window, seqs)
        for kind, array in (("feat", x.astype(np.float32)),
                            ("edges", None if labels is None else labels[index[:, 0]])):
            if array is not None:
                files[f"{kind}_{split}"] = f"{kind}_{split}{suffix}.npy"
                arrays[out_dir / files[f"{kind}_{split}"]] = array
        counts[split] = {"sequences": [traj.sequence_ids[i] for i in seqs], "windows": len(x)}
    metadata = {
        "generator": "nri.data.custom.prepare.prepare_custom",
        "dataset": "custom",
        "suffix": suffix,
        "parameters": parameters,
        "source": str(path),
        "nri_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "files": files,
        "layout": "feat [S, N, T, D] unscaled; edges [S, N, N], entry [s, receiver, sender]",
        "num_atoms": traj.num_objects,
        "dims": traj.dims,
        "window": window,
        "stride": stride,
        "objects": traj.objects,
        "features": traj.features,
        "has_edges": labels is not None,
        "max_edge_type": None if labels is None else int(labels.max(initial=0)),
        "splits": counts,
    }
    return arrays, metadata


def dataset_fields(dataset_cfg: Any, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Values for the dataset keys left null, after checking the explicit ones against the data."""
    cfg = plain(dataset_cfg)
    src = metadata["source"]
    out: dict[str, Any] = {"suffix": metadata["suffix"], "feature_names": list(metadata["features"])}
    for key in ("num_atoms", "dims"):
        if cfg[key] is not None and int(cfg[key]) != int(metadata[key]):
            raise InputError(f"dataset.{key}={cfg[key]} but {src} has {metadata[key]}; leave it null "
                             "to take it from the data")
        out[key] = int(metadata[key])
    has_edges = cfg["has_edges"]
    if has_edges and not metadata["has_edges"]:
        raise InputError(f"dataset.has_edges=true but {src} came without edge labels; give "
                         "dataset.edges_path or leave has_edges null")
    out["has_edges"] = bool(metadata["has_edges"] if has_edges is None else has_edges)
    edge_types = int(cfg["edge_types"])
    if out["has_edges"] and metadata["max_edge_type"] >= edge_types:
        raise InputError(f"edge labels of {src} go up to type {metadata['max_edge_type']} but "
                         f"dataset.edge_types={edge_types}")
    window = int(metadata["window"])
    steps, burn_in = int(cfg["train_steps"]), int(cfg["test_burn_in"])
    if steps > window:
        raise InputError(f"dataset.train_steps={steps} is longer than the window of {window} frames")
    horizon = cfg["test_horizon"]
    horizon = window - burn_in - 1 if horizon is None else int(horizon)
    if horizon < 1 or burn_in + horizon + 1 > window:
        raise InputError(f"windows of {window} frames leave no forecast after test_burn_in={burn_in}; "
                         f"use a longer dataset.window or a smaller dataset.train_steps")
    out["test_horizon"] = horizon
    return out


def prepare_from_config(cfg: Any, overwrite: bool = False) -> dict[str, Any]:
    """Prepare ``cfg.dataset`` (name custom) in ``cfg.paths.data_dir`` and fill its null keys."""
    from omegaconf import open_dict

    metadata = prepare_custom(cfg.dataset, cfg.paths.data_dir, overwrite=overwrite)
    fields = dataset_fields(cfg.dataset, metadata)
    with open_dict(cfg.dataset):
        for key, value in fields.items():
            cfg.dataset[key] = value
    return metadata
