"""Turn CMU motion capture (ASF skeleton + AMC trials) into an NRI ``locvel`` dataset.

Recipe (dNRI's, see ``shared/data/PREPROCESSING.md``): forward kinematics gives all ASF
joints (root included) per 120 Hz frame; per trial loc = pos[1:], vel = pos[1:] − pos[:-1]
(per-frame displacement); trials are split whole; each trial is cut into non-overlapping
windows starting at 0, L, 2L, … while the start is below n − L (n = loc steps of the trial).
The skeleton's bones, both directions, are saved as ``edges`` — a baseline graph, not
known interactions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nri.data.real.amc import Skeleton, forward_kinematics, parse_amc, parse_asf
from nri.data.real.prepared import write_prepared
from nri.data.reuse import reuse_existing
from nri.plain import plain

SPLITS = ("train", "valid", "test")



def window_starts(num_steps: int, length: int) -> list[int]:
    """Window starts 0, L, 2L, … while start < num_steps − L (the dNRI rule)."""
    return list(range(0, num_steps - length, length))


def trial_locvel(skeleton: Skeleton, amc_path: Path, unit_scale: float):
    """Joint positions of one trial as loc and per-frame displacement.

    Shapes:
        returns: (loc, vel), each [F − 1, J, 3] float64 for a trial of F frames.
    """
    pos = forward_kinematics(skeleton, parse_amc(amc_path, skeleton)) * unit_scale
    return pos[1:], pos[1:] - pos[:-1]


def cut_windows(loc: np.ndarray, vel: np.ndarray, length: int):
    """Non-overlapping windows of one trial, in the on-disk layout.

    Shapes:
        loc, vel: [n, J, 3].
        returns: (loc, vel), each [W, length, 3, J] with W = len(window_starts(n, length)).
    """
    starts = window_starts(len(loc), length)
    if not starts:
        empty = np.zeros((0, length, loc.shape[2], loc.shape[1]))
        return empty, empty.copy()
    idx = np.asarray(starts)[:, None] + np.arange(length)
    return loc[idx].transpose(0, 1, 3, 2), vel[idx].transpose(0, 1, 3, 2)


def _source_dir(cfg: dict, real_data_dir) -> Path:
    if real_data_dir is None:
        return Path(cfg["source_dir"])
    root = Path(real_data_dir)
    # accept both the real-data root (…/shared/data) and the motion folder itself
    return root if (root / f"{cfg['subject']}.asf").is_file() else root / "motion"


def prepare_motion(dataset_cfg, real_data_dir, out_dir, overwrite: bool = False) -> dict[str, Path]:
    """Write ``{loc,vel,edges}_{split}{suffix}.npy`` and ``metadata{suffix}.json``.

    ``real_data_dir`` is ``paths.real_data_dir`` (files read from its ``motion/``) or the
    motion folder itself; None reads ``dataset_cfg.source_dir``. Runs once: when the
    metadata already records the same parameters the existing files are returned; other
    parameters raise ``FileExistsError`` unless ``overwrite``. All files are written to
    temporary names first and renamed together, the metadata last.

    Shapes:
        loc, vel: [S, T, 3, J] float32 (T = window length of the split, J = joints).
        edges: [S, J, J] int64 symmetric skeleton adjacency (row receiver, column sender).
    """
    cfg = plain(dataset_cfg)
    suffix = cfg["suffix"]
    out_dir = Path(out_dir)
    parameters = {
        "subject": int(cfg["subject"]),
        "trials": {s: [int(t) for t in cfg["trials"][s]] for s in SPLITS},
        "window": {s: int(cfg["window"][s]) for s in SPLITS},
        "unit_scale": float(cfg["unit_scale"]),
    }
    outputs = {
        f"{kind}_{split}": out_dir / f"{kind}_{split}{suffix}.npy"
        for split in SPLITS
        for kind in ("loc", "vel", "edges")
    }
    outputs["metadata"] = out_dir / f"metadata{suffix}.json"
    if reuse_existing(outputs["metadata"], parameters, list(outputs.values()), overwrite):
        return outputs

    source = _source_dir(cfg, real_data_dir)
    subject = parameters["subject"]
    asf_path = source / f"{subject}.asf"
    needed = [asf_path] + [
        source / f"{subject}_{t:02d}.amc" for s in SPLITS for t in parameters["trials"][s]
    ]
    missing = [p.name for p in needed if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"motion source files missing from {source}: {', '.join(missing)}. Fetch them with "
            "`python -m nri.download dataset=motion` (or point paths.real_data_dir / "
            "NRI_REAL_DATA_DIR at a folder whose motion/ holds them; docs/real_data.md)."
        )
    if not all(parameters["trials"][s] for s in SPLITS):
        raise ValueError(f"every split needs at least one trial, got {parameters['trials']}")
    skeleton = parse_asf(asf_path)
    if skeleton.num_joints != int(cfg["num_atoms"]):
        raise ValueError(
            f"{asf_path} has {skeleton.num_joints} joints but dataset.num_atoms is "
            f"{cfg['num_atoms']}"
        )
    adjacency = skeleton.adjacency()

    arrays: dict[Path, np.ndarray] = {}
    sources = [{"file": asf_path.name, "bytes": asf_path.stat().st_size}]
    shapes, windows_per_trial = {}, {}
    for split in SPLITS:
        length = parameters["window"][split]
        locs, vels = [], []
        for trial in parameters["trials"][split]:
            amc_path = source / f"{subject}_{trial:02d}.amc"
            loc, vel = cut_windows(
                *trial_locvel(skeleton, amc_path, parameters["unit_scale"]), length
            )
            locs.append(loc)
            vels.append(vel)
            windows_per_trial[amc_path.stem] = len(loc)
            sources.append({"file": amc_path.name, "bytes": amc_path.stat().st_size})
        loc, vel = np.concatenate(locs), np.concatenate(vels)
        if len(loc) == 0:
            raise ValueError(f"split {split!r}: no trial is longer than {length} + 1 frames")
        edges = np.broadcast_to(adjacency, (len(loc),) + adjacency.shape)
        for kind, array in (("loc", loc), ("vel", vel), ("edges", edges)):
            arrays[outputs[f"{kind}_{split}"]] = (
                array.astype(np.float32) if kind != "edges" else np.ascontiguousarray(array)
            )
        shapes[split] = {
            k: list(arrays[outputs[f"{k}_{split}"]].shape) for k in ("loc", "vel", "edges")
        }

    return write_prepared(
        arrays, outputs, generator="nri.data.real.motion.prepare_motion", dataset="motion",
        suffix=suffix, parameters=parameters, source=source, sources=sources,
        joints=list(skeleton.names),
        skeleton_bones=[[skeleton.names[p], skeleton.names[c]] for p, c in skeleton.bones()],
        edges_meaning="ASF skeleton bones (both directions), not interactions",
        units="ASF length units"
        if parameters["unit_scale"] == 1.0
        else f"ASF length units x {parameters['unit_scale']}",
        frame_rate_hz=120,
        layout="loc/vel [S, T, 3, J]: loc = positions, vel = per-frame displacement",
        windows_per_trial=windows_per_trial,
        shapes=shapes,
    )
