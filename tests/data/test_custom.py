"""dataset=custom: readers (npy/npz/CSV, labels), windows, split, caching, config filling, bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from nri.data.custom.prepare import dataset_fields, default_suffix, prepare_custom, split_sequences
from nri.data.custom.trajectories import (
    InputError,
    cut_windows,
    read_edges,
    read_trajectories,
    write_long_csv,
)
from nri.data.datamodule import NRIDataModule
from nri.data.sim.simulate import simulate_springs

ROOT = Path(__file__).resolve().parents[2]
FEATURES = ["x", "y", "vx", "vy"]


def springs(sequences: int = 12, objects: int = 4, frames: int = 14, seed: int = 0):
    """Shapes: -> x [S, N, T, 4], edges [S, N, N]"""
    loc, vel, edges = simulate_springs(sequences, objects, (frames + 1) * 100, 100,
                                       np.random.default_rng(seed))
    return np.concatenate([loc, vel], axis=2).transpose(0, 3, 1, 2), edges.astype(np.int64)


def dataset_cfg(path: Path, **overrides):
    root = OmegaConf.create({"dataset": OmegaConf.load(ROOT / "conf" / "dataset" / "custom.yaml")})
    for key, value in {"path": str(path), "window": 10, "train_steps": 7, **overrides}.items():
        OmegaConf.update(root, f"dataset.{key}", value, merge=False)
    return root.dataset


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture(scope="module")
def data():
    return springs()


@pytest.fixture
def csv_file(tmp_path, data):
    path = tmp_path / "my system.csv"
    write_long_csv(path, data[0], FEATURES)
    return path


# ---------------------------------------------------------------------------- readers
def test_csv_round_trip_any_row_order_and_text_columns(tmp_path, data):
    x, _ = data
    path = tmp_path / "a.csv"
    write_long_csv(path, x, FEATURES)
    lines = path.read_text().splitlines()
    rng = np.random.default_rng(1)
    body = [f"{line},team{i % 2}" for i, line in enumerate(lines[1:])]
    shuffled = [body[i] for i in rng.permutation(len(body))]
    path.write_text("\n".join([lines[0] + ",team", *shuffled]) + "\n")
    traj = read_trajectories(path)
    assert traj.features == FEATURES  # the text column is not a feature
    assert traj.objects == ["0", "1", "2", "3"] and len(traj.sequences) == len(x)
    np.testing.assert_allclose(np.stack(traj.sequences), x, rtol=1e-6, atol=1e-6)
    picked = read_trajectories(path, features=["vy", "x"])
    np.testing.assert_allclose(np.stack(picked.sequences), x[..., [3, 0]], rtol=1e-6, atol=1e-6)


def test_csv_named_objects_numeric_order_and_own_column_names(tmp_path):
    rows = ["run,t,who,a"] + [f"r{s},{t},{o},{s + t + o}" for s in range(2) for t in range(3)
                                for o in (10, 2, 1)]
    path = tmp_path / "b.csv"
    path.write_text("\n".join(rows) + "\n")
    traj = read_trajectories(path, columns={"sequence": "run", "time": "t", "object": "who"})
    assert traj.objects == ["1", "2", "10"] and traj.sequence_ids == ["r0", "r1"]
    assert traj.sequences[1][2, 2, 0] == 1 + 2 + 10


def test_array_layouts_and_npz_edges_agree(tmp_path, data):
    x, edges = data
    np.save(tmp_path / "a.npy", x)
    np.savez(tmp_path / "b.npz", trajectories=x.transpose(0, 2, 1, 3), edges=edges)
    a = read_trajectories(tmp_path / "a.npy")
    b = read_trajectories(tmp_path / "b.npz", layout="STND")
    np.testing.assert_array_equal(np.stack(a.sequences), np.stack(b.sequences))
    np.testing.assert_array_equal(b.edges, edges)
    assert a.edges is None


def test_edges_csv_means_sender_acts_on_receiver(tmp_path, data):
    traj = read_trajectories(_npy(tmp_path, data[0]))
    path = tmp_path / "e.csv"
    path.write_text("sequence,sender,receiver,type\n0,2,1,1\n3,0,3,1\n")
    edges = read_edges(path, traj)
    assert edges[0, 1, 2] == 1 and edges[3, 3, 0] == 1 and edges.sum() == 2


def test_windows_respect_length_and_stride(data, tmp_path):
    traj = read_trajectories(_npy(tmp_path, data[0]))
    x, index = cut_windows(traj, 6, 4, [1, 2])
    assert x.shape == (6, 4, 6, 4)  # starts 0, 4, 8 in each of 2 sequences of 14 frames
    assert index.tolist() == [[1, 0], [1, 4], [1, 8], [2, 0], [2, 4], [2, 8]]
    np.testing.assert_array_equal(x[4], data[0][2, :, 4:10])


def test_split_is_by_sequence_and_seeded():
    parts = split_sequences(20, {"train": 0.8, "valid": 0.1, "test": 0.1}, seed=3)
    joined = np.concatenate(list(parts.values()))
    assert sorted(joined.tolist()) == list(range(20))
    assert [len(parts[s]) for s in ("train", "valid", "test")] == [16, 2, 2]
    again = split_sequences(20, {"train": 0.8, "valid": 0.1, "test": 0.1}, seed=3)
    assert all((parts[k] == again[k]).all() for k in parts)
    with pytest.raises(InputError, match="cannot be split"):
        split_sequences(2, {"train": 0.8, "valid": 0.1, "test": 0.1}, seed=0)


# ------------------------------------------------------------------------ preparation
def test_prepare_writes_feat_layout_once_and_datamodule_reads_it(tmp_path, csv_file, data):
    out = tmp_path / "data"
    cfg = dataset_cfg(csv_file, stride=2)
    meta = prepare_custom(cfg, out)
    suffix = default_suffix(csv_file)
    assert suffix == "_custom_my_system_csv" and meta["suffix"] == suffix
    assert files_in(out) == sorted([f"feat_{s}{suffix}.npy" for s in ("train", "valid", "test")]
                                   + [f"metadata{suffix}.json"])
    train = np.load(out / f"feat_train{suffix}.npy")
    assert train.shape == (len(meta["splits"]["train"]["sequences"]) * 3, 4, 10, 4)  # starts 0, 2, 4
    assert np.load(out / f"feat_test{suffix}.npy").shape[0] == len(meta["splits"]["test"]["sequences"])
    seqs = [set(meta["splits"][s]["sequences"]) for s in ("train", "valid", "test")]
    assert not (seqs[0] & seqs[1] or seqs[0] & seqs[2] or seqs[1] & seqs[2])

    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert prepare_custom(cfg, out)["created"] == meta["created"]  # same file + options: no work
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamps
    with pytest.raises(InputError, match="overwrite"):
        prepare_custom(dataset_cfg(csv_file, stride=3), out)
    assert prepare_custom(dataset_cfg(csv_file, stride=3), out, overwrite=True)["stride"] == 3

    fields = dataset_fields(cfg, meta)
    assert fields == {"suffix": suffix, "feature_names": FEATURES, "num_atoms": 4, "dims": 4,
                      "has_edges": False, "test_horizon": 2}
    ds = {**OmegaConf.to_container(cfg, resolve=True), **fields}
    dm = NRIDataModule(dataset=ds, data_dir=str(out), batch_size=4)
    dm.load()
    assert dm.normalization["kind"] == "per_dim" and len(dm.normalization["min"]) == 4
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {"x"} and float(batch["x"].abs().max()) <= 1.0 + 1e-6


def test_prepare_with_labels_from_npz_or_edges_csv(tmp_path, data):
    x, edges = data
    np.savez(tmp_path / "sys.npz", x=x, edges=edges)
    meta = prepare_custom(dataset_cfg(tmp_path / "sys.npz"), tmp_path / "d1")
    assert meta["has_edges"] and meta["max_edge_type"] == 1
    test_seq = [int(s) for s in meta["splits"]["test"]["sequences"]]
    written = np.load(tmp_path / "d1" / f"edges_test{meta['suffix']}.npy")
    np.testing.assert_array_equal(written, edges[test_seq])

    rows = ["sequence,sender,receiver,type"] + [
        f"{s},{j},{i},{edges[s, i, j]}" for s in range(len(x)) for i in range(4) for j in range(4)
        if i != j and edges[s, i, j]]
    (tmp_path / "e.csv").write_text("\n".join(rows) + "\n")
    np.save(tmp_path / "sys.npy", x)
    cfg = dataset_cfg(tmp_path / "sys.npy", edges_path=str(tmp_path / "e.csv"), suffix="_labelled")
    meta = prepare_custom(cfg, tmp_path / "d2")
    np.testing.assert_array_equal(np.load(tmp_path / "d2" / "edges_test_labelled.npy"), edges[test_seq])
    assert dataset_fields(cfg, meta)["has_edges"] is True
    with pytest.raises(InputError, match="edge_types"):
        dataset_fields(dataset_cfg(tmp_path / "sys.npy", edge_types=1), meta)


def test_explicit_values_are_checked_against_the_data(tmp_path, csv_file):
    meta = prepare_custom(dataset_cfg(csv_file), tmp_path / "d")
    with pytest.raises(InputError, match="num_atoms=5 but"):
        dataset_fields(dataset_cfg(csv_file, num_atoms=5), meta)
    with pytest.raises(InputError, match="has_edges=true"):
        dataset_fields(dataset_cfg(csv_file, has_edges=True), meta)
    with pytest.raises(InputError, match="no forecast"):
        dataset_fields(dataset_cfg(csv_file, train_steps=10), meta)


# ------------------------------------------------------------------------- bad inputs
def _npy(folder: Path, x: np.ndarray, name: str = "x.npy") -> Path:
    np.save(folder / name, x)
    return folder / name


def _text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _csv(folder: Path, x: np.ndarray, edit=None) -> Path:
    """``x`` as a long CSV, its list of lines (header first) passed through ``edit``."""
    path = folder / "bad.csv"
    write_long_csv(path, x, FEATURES)
    if edit is not None:
        lines = path.read_text().splitlines()
        path.write_text("\n".join(edit(lines)) + "\n")
    return path


def _last_field(line: int, value: str | None):
    """An edit that sets the last field of a CSV line (1 = header) to ``value``, or drops it."""
    def edit(lines: list[str]) -> list[str]:
        head = lines[line - 1].rsplit(",", 1)[0]
        return lines[: line - 1] + [head if value is None else f"{head},{value}"] + lines[line:]
    return edit


def _without_late_frames(lines: list[str]) -> list[str]:
    """Sequence 3 keeps frames 0-5 only."""
    return [lines[0]] + [r for r in lines[1:] if not (r.startswith("3,") and int(r.split(",")[1]) >= 6)]


def _inf_at(x: np.ndarray, flat_index: int) -> np.ndarray:
    x = x.copy()
    x.reshape(-1)[flat_index] = np.inf
    return x


BAD_INPUTS = {  # case: (make the file in folder d from x, expected message)
    "ragged": (lambda d, x: _csv(d, x, lambda ls: ls[:7] + ls[8:]),
               "ragged data: sequence '0' has no row for object '2' at time 1"),
    "duplicate": (lambda d, x: _csv(d, x, lambda ls: ls + ls[1:2]), "2 rows for object '0'"),
    "text value": (lambda d, x: _csv(d, x, _last_field(4, "abc")),
                   "line 4: column 'vy' has the non-numeric value 'abc'"),
    "empty cell": (lambda d, x: _csv(d, x, _last_field(4, "")),
                   "line 4: column 'vy' has the non-numeric value ''"),
    "short row": (lambda d, x: _csv(d, x, _last_field(4, None)), "line 4 has 6 fields but the header has 7"),
    "nan csv": (lambda d, x: _csv(d, x, _last_field(6, "nan")), "line 6: NaN or inf"),
    "inf npy": (lambda d, x: _npy(d, _inf_at(x, 9)), "NaN or inf in sequence '0', object 0, frame 2"),
    "one object": (lambda d, x: _npy(d, x[:, :1]), "found 1 object(s); an interaction graph needs at least 2"),
    "short sequence": (lambda d, x: _csv(d, x, _without_late_frames),
                       "sequence '3' has 6 frames, fewer than the window of 10"),
    "three dims": (lambda d, x: _npy(d, x[0, 0]), "expected [S, N, T, D]"),
    "strings npy": (lambda d, x: _npy(d, np.array([["a", "b"], ["c", "d"]])), "must be numbers"),
    "not a file type": (lambda d, x: _text(d / "x.txt", "1 2 3\n"), "unknown file type '.txt'"),
    "not an array": (lambda d, x: _text(d / "x.npy", "1 2 3\n"), "not a readable numeric array file"),
    "missing": (lambda d, x: d / "nope.csv", "no such file"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_clear_error_and_writes_nothing(case, tmp_path, data):
    make, message = BAD_INPUTS[case]
    path = make(tmp_path, data[0])
    out = tmp_path / "out"
    with pytest.raises(InputError) as info:
        prepare_custom(dataset_cfg(path), out)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert files_in(out) == []


def test_bad_labels_and_options(tmp_path, data):
    x, edges = data
    path = _npy(tmp_path, x)
    bad = tmp_path / "e.csv"
    bad.write_text("sequence,sender,receiver,type\n0,7,1,1\n")
    with pytest.raises(InputError, match="unknown sender '7'"):
        prepare_custom(dataset_cfg(path, edges_path=str(bad)), tmp_path / "out")
    np.save(tmp_path / "e.npy", edges[:3])
    with pytest.raises(InputError, match=r"expected \(12, 4, 4\)"):
        prepare_custom(dataset_cfg(path, edges_path=str(tmp_path / "e.npy")), tmp_path / "out")
    with pytest.raises(InputError, match="layout must be"):
        prepare_custom(dataset_cfg(path, layout="NTSD"), tmp_path / "out")
    assert files_in(tmp_path / "out") == []


def test_metadata_records_the_input_and_outlives_it(tmp_path, csv_file):
    meta = prepare_custom(dataset_cfg(csv_file), tmp_path / "d")
    on_disk = json.loads((tmp_path / "d" / f"metadata{meta['suffix']}.json").read_text())
    assert on_disk["parameters"]["input"]["bytes"] == csv_file.stat().st_size
    assert on_disk["objects"] == ["0", "1", "2", "3"] and on_disk["features"] == FEATURES
    csv_file.unlink()  # e.g. evaluating a checkpoint later: the prepared files are enough
    assert prepare_custom(dataset_cfg(csv_file), tmp_path / "d")["created"] == meta["created"]
    with pytest.raises(InputError, match="no such file"):
        prepare_custom(dataset_cfg(csv_file), tmp_path / "elsewhere")
