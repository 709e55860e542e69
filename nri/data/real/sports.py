"""Turn SportVU basketball tracking (10 players, optional ball) into an NRI ``locvel`` dataset.

Source layout (``shared/data/sports``, split by game, 5 Hz, unit-square court coordinates):
``player_coords_{split}__with_{g}_games.npy`` [T, 10, 2], ``ball_coords_…`` [T, 3] (x, y in
the unit square, z in feet) and ``example_stop_idxs_…`` = [-1, t_1, …, t_E]: example e is rows
t_{e-1}+1 … t_e inclusive (the coordinates jump between t_e and t_e + 1). The shipped files
end with t_E = T, one past the last row; that last stop is read as T − 1. Split names on
disk are train / val / test; ``val`` is our ``valid``.

Windows of ``window_length`` positions never cross an example boundary; each gives
``window_length − 1`` steps of loc = pos[1:] and vel = pos[1:] − pos[:-1]. Training windows
start every ``train_stride`` rows, valid/test windows do not overlap. There is no true
graph, so no edges file is written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nri.data.real.prepared import write_prepared
from nri.data.reuse import reuse_existing
from nri.plain import plain

SPLITS = ("train", "valid", "test")
DISK_SPLIT = {"train": "train", "valid": "val", "test": "test"}
NUM_PLAYERS = 10
COURT_FEET = (94.0, 50.0)



def source_files(source_dir: Path, split: str, games: int) -> dict[str, Path]:
    """Paths of one split's ``players``, ``ball`` and ``stops`` files."""
    tag = f"{DISK_SPLIT[split]}__with_{games}_games"
    return {
        "players": Path(source_dir) / f"player_coords_{tag}.npy",
        "ball": Path(source_dir) / f"ball_coords_{tag}.npy",
        "stops": Path(source_dir) / f"example_stop_idxs_{tag}.npy",
    }


def load_source(path: Path) -> np.ndarray:
    """Load one source ``.npy``, with an error that says what to do when it is missing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"sports source file missing: {path}. Fetch the sports files with "
            "`python -m nri.download dataset=sports` (or point paths.real_data_dir / "
            "NRI_REAL_DATA_DIR at a copy whose sports/ folder has them; docs/real_data.md)."
        )
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise ValueError(f"{path}: not a readable numeric .npy file ({err})") from None


def _check_coords(array: np.ndarray, path: Path, shape_tail: tuple, what: str) -> np.ndarray:
    if array.ndim != 1 + len(shape_tail) or any(
        want is not None and got != want
        for got, want in zip(array.shape[1:], shape_tail, strict=True)
    ):
        tail = ", ".join("k" if d is None else str(d) for d in shape_tail)
        raise ValueError(f"{path}: {what} must have shape (T, {tail}), got {array.shape}")
    if array.dtype.kind not in "fiu":
        raise ValueError(f"{path}: {what} must be numeric, got dtype {array.dtype}")
    bad = ~np.isfinite(array.reshape(len(array), -1)).all(axis=1)
    if bad.any():
        raise ValueError(
            f"{path}: {what} has non-finite values, first at row {int(np.argmax(bad))}"
        )
    return array.astype(np.float64)


def example_bounds(
    stop_idxs: np.ndarray, num_rows: int, path: Path | str = "stop idxs"
) -> np.ndarray:
    """Row ranges of the examples given by ``[-1, t_1, …, t_E]`` (example e: t_{e-1}+1 … t_e).

    A final stop equal to ``num_rows`` (as shipped) is read as ``num_rows − 1``.

    Shapes:
        stop_idxs: [E + 1] integers.
        returns: [E, 2] int64, (first row, last row + 1) per example.
    """
    stops = np.asarray(stop_idxs)
    if stops.ndim != 1 or stops.dtype.kind not in "iu" or len(stops) < 2:
        raise ValueError(f"{path}: example stop idxs must be a 1-D integer vector [-1, t_1, …]")
    stops = stops.astype(np.int64).copy()
    if stops[0] != -1:
        raise ValueError(f"{path}: example stop idxs must start with -1, got {stops[0]}")
    if np.any(np.diff(stops) <= 0):
        k = int(np.argmax(np.diff(stops) <= 0)) + 1
        raise ValueError(f"{path}: example stop idxs must increase; entry {k} is {stops[k]}")
    if stops[-1] == num_rows:
        stops[-1] = num_rows - 1
    if stops[-1] != num_rows - 1 or (len(stops) > 2 and stops[-2] >= num_rows - 1):
        raise ValueError(
            f"{path}: example stop idxs end at {stops[-1]}, but the coordinates have "
            f"{num_rows} rows (last stop must be {num_rows - 1} or {num_rows})"
        )
    return np.stack([stops[:-1] + 1, stops[1:] + 1], axis=1)


def window_starts(bounds: np.ndarray, length: int, stride: int) -> np.ndarray:
    """First rows of all windows of ``length`` rows inside the examples, every ``stride`` rows.

    Shapes:
        bounds: [E, 2] from :func:`example_bounds`.
        returns: [S] int64 absolute start rows; row s … s + length − 1 lie in one example.
    """
    starts = [np.arange(a, b - length + 1, stride) for a, b in np.asarray(bounds)]
    return np.concatenate(starts).astype(np.int64) if starts else np.zeros(0, np.int64)


def cut_windows(coords: np.ndarray, starts: np.ndarray, length: int):
    """loc and vel of every window, in the on-disk layout.

    Shapes:
        coords: [T, N, 2] positions.
        starts: [S] start rows.
        returns: (loc, vel), each [S, length − 1, 2, N].
    """
    idx = np.asarray(starts, dtype=np.int64)[:, None] + np.arange(length)
    pos = coords[idx]  # [S, length, N, 2]
    loc, vel = pos[:, 1:], pos[:, 1:] - pos[:, :-1]
    return loc.transpose(0, 1, 3, 2), vel.transpose(0, 1, 3, 2)


def mirror_court(loc: np.ndarray, vel: np.ndarray, width: float = 1.0):
    """Reflect across the court's long axis: y → width − y, vy → −vy.

    Shapes:
        loc, vel: [S, T, 2, N] with (x, y) on axis 2.
        returns: (loc, vel) of the same shape.
    """
    loc, vel = loc.copy(), vel.copy()
    loc[:, :, 1] = width - loc[:, :, 1]
    vel[:, :, 1] = -vel[:, :, 1]
    return loc, vel


def split_coords(files: dict[str, Path], include_ball: bool) -> tuple[np.ndarray, np.ndarray]:
    """Positions of one split (players, then the ball if asked) and its example bounds.

    Shapes:
        returns: (coords [T, 10 (+1), 2] float64 unit-square positions, bounds [E, 2]).
    """
    players = _check_coords(
        load_source(files["players"]), files["players"], (NUM_PLAYERS, 2), "player coords"
    )
    coords = players
    if include_ball:
        ball = _check_coords(load_source(files["ball"]), files["ball"], (None,), "ball coords")
        if len(ball) != len(players) or ball.shape[1] < 2:
            raise ValueError(
                f"{files['ball']}: ball coords {ball.shape} do not match player coords "
                f"{players.shape} (need (T, >=2) with the same T)"
            )
        coords = np.concatenate([players, ball[:, None, :2]], axis=1)
    bounds = example_bounds(load_source(files["stops"]), len(coords), files["stops"])
    return coords, bounds


def prepare_sports(dataset_cfg, real_data_dir, out_dir, overwrite: bool = False) -> dict[str, Path]:
    """Write ``{loc,vel}_{split}{suffix}.npy`` and ``metadata{suffix}.json`` (no edges).

    ``real_data_dir`` is ``paths.real_data_dir`` (files read from its ``sports/``) or the
    sports folder itself; None reads ``dataset_cfg.source_dir``. Runs once: when the metadata
    already records the same parameters the existing files are returned; other parameters
    raise ``FileExistsError`` unless ``overwrite``. All files are written to temporary names
    first and renamed together, the metadata last. A missing source file raises
    ``FileNotFoundError`` naming it.

    Shapes:
        loc, vel: [S, window_length − 1, 2, N] float32, N = 10 players (+ ball); objects
        0–4 CLE starters, 5–9 opponents (F, F, C, G, G), 10 the ball. Training windows are
        followed by their mirrored copies when ``mirror`` is set.
    """
    cfg = plain(dataset_cfg)
    suffix = cfg["suffix"]
    out_dir = Path(out_dir)
    parameters = {
        "games": {s: int(cfg["games"][s]) for s in SPLITS},
        "include_ball": bool(cfg["include_ball"]),
        "window_length": int(cfg["window_length"]),
        "train_stride": int(cfg["train_stride"]),
        "mirror": bool(cfg["mirror"]),
        "scale_to_feet": bool(cfg["scale_to_feet"]),
    }
    num_objects = NUM_PLAYERS + parameters["include_ball"]
    if int(cfg["num_atoms"]) != num_objects:
        raise ValueError(
            f"dataset.num_atoms is {cfg['num_atoms']} but include_ball="
            f"{parameters['include_ball']} gives {num_objects} objects; set them together"
        )
    length = parameters["window_length"]
    if length < 2 or parameters["train_stride"] < 1:
        raise ValueError("window_length must be >= 2 and train_stride >= 1")
    outputs = {
        f"{kind}_{split}": out_dir / f"{kind}_{split}{suffix}.npy"
        for split in SPLITS
        for kind in ("loc", "vel")
    }
    outputs["metadata"] = out_dir / f"metadata{suffix}.json"
    if reuse_existing(outputs["metadata"], parameters, list(outputs.values()), overwrite):
        return outputs

    if real_data_dir is None:
        source = Path(cfg["source_dir"])
    else:
        root = Path(real_data_dir)
        # accept both the real-data root (…/shared/data) and the sports folder itself
        source = root / "sports" if (root / "sports").is_dir() else root
    scale = np.array(COURT_FEET if parameters["scale_to_feet"] else (1.0, 1.0))

    arrays: dict[Path, np.ndarray] = {}
    sources, shapes, counts = [], {}, {}
    for split in SPLITS:
        files = source_files(source, split, parameters["games"][split])
        used = ["players", "stops"] + (["ball"] if parameters["include_ball"] else [])
        coords, bounds = split_coords(files, parameters["include_ball"])
        sources += [{"file": files[k].name, "bytes": files[k].stat().st_size} for k in used]
        stride = parameters["train_stride"] if split == "train" else length
        starts = window_starts(bounds, length, stride)
        if len(starts) == 0:
            raise ValueError(f"split {split!r}: no example has {length} rows")
        loc, vel = cut_windows(coords, starts, length)
        counts[split] = {"examples": len(bounds), "windows": len(starts)}
        if split == "train" and parameters["mirror"]:
            mirrored = mirror_court(loc, vel)
            loc, vel = np.concatenate([loc, mirrored[0]]), np.concatenate([vel, mirrored[1]])
            counts[split]["mirrored_windows"] = len(starts)
        loc = loc * scale[None, None, :, None]
        vel = vel * scale[None, None, :, None]
        arrays[outputs[f"loc_{split}"]] = loc.astype(np.float32)
        arrays[outputs[f"vel_{split}"]] = vel.astype(np.float32)
        shapes[split] = {"loc": list(loc.shape), "vel": list(vel.shape)}

    return write_prepared(
        arrays, outputs, generator="nri.data.real.sports.prepare_sports", dataset="sports",
        suffix=suffix, parameters=parameters, source=source, sources=sources,
        objects="0-4 CLE starters, 5-9 opponents (F, F, C, G, G)"
        + (", 10 ball (x, y)" if parameters["include_ball"] else ""),
        units="feet (94 x 50 court)" if parameters["scale_to_feet"] else "unit-square court",
        frame_rate_hz=5,
        layout="loc/vel [S, T, 2, N]: loc = positions, vel = per-frame displacement",
        counts=counts,
        shapes=shapes,
    )
