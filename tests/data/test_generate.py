"""Dataset writing: layout, metadata, determinism, checks, overwrite protection, atomicity, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nri
from nri.data.sim import generate_dataset as gd
from nri.data.sim.generate_dataset import DatasetExistsError, GenerationError, write_dataset

REPO = Path(__file__).resolve().parents[2]
TINY = dict(num_atoms=5, num_train=64, num_valid=32, num_test=32, length=1000,
            length_test=2000, sample_freq=100)


def _tiny(name="springs", out=None, **kwargs):
    return write_dataset(name, out, **{**TINY, **kwargs})


def _snapshot(directory: Path) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(directory.iterdir())}


# --------------------------------------------------------------------------------------------
# Layout and metadata


def test_springs_layout_and_metadata(tmp_path):
    paths = _tiny("springs", tmp_path, seed=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{k}_{s}_springs5.npy" for k in ("loc", "vel", "edges") for s in gd.SPLITS]
        + ["metadata_springs5.json"]
    )
    for split, sims, frames in (("train", 64, 9), ("valid", 32, 9), ("test", 32, 19)):
        loc, vel = np.load(paths[f"loc_{split}"]), np.load(paths[f"vel_{split}"])
        edges = np.load(paths[f"edges_{split}"])
        assert loc.shape == vel.shape == (sims, frames, 2, 5)
        assert edges.shape == (sims, 5, 5)
        assert loc.dtype == vel.dtype == edges.dtype == np.float32
    meta = json.loads(paths["metadata"].read_text())
    assert meta["generator"] == "nri.data.sim.simulate.simulate_springs"
    assert meta["nri_version"] == nri.__version__
    assert meta["suffix"] == "_springs5"
    params = meta["parameters"]
    assert params["seed"] == 3 and params["dtype"] == "float32" and params["num_train"] == 64
    assert params["physics"] == {"box_size": 5.0, "loc_std": 0.5, "vel_norm": 0.5,
                                 "interaction_strength": 0.1, "dt": 0.001, "noise_var": 0.0,
                                 "edge_prob": 0.5}
    assert meta["shapes"]["test"]["loc"] == [32, 19, 2, 5]


def test_charged_and_kuramoto_layout(tmp_path):
    charged = _tiny("charged", tmp_path)
    edges = np.load(charged["edges_train"])
    assert set(np.unique(edges)) == {-1.0, 1.0} and (np.diagonal(edges, 0, 1, 2) == 1).all()
    kuramoto = _tiny("kuramoto", tmp_path, length=200, length_test=400, sample_freq=10,
                     dtype="float64")
    assert kuramoto["feat_train"].name == "feat_train_kuramoto5.npy"
    feat = np.load(kuramoto["feat_test"])
    assert feat.shape == (32, 5, 39, 3) and feat.dtype == np.float64
    assert np.load(kuramoto["edges_valid"]).shape == (32, 5, 5)
    meta = json.loads(kuramoto["metadata"].read_text())
    assert meta["parameters"]["physics"]["directed"] is True
    assert "receiver" in meta["conventions"]


def test_float32_is_the_rounded_float64_data(tmp_path):
    single = _tiny("springs", tmp_path / "a", dtype="float32")
    double = _tiny("springs", tmp_path / "b", dtype="float64")
    np.testing.assert_array_equal(np.load(single["vel_test"]),
                                  np.load(double["vel_test"]).astype(np.float32))


# --------------------------------------------------------------------------------------------
# Determinism


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path):
    a = _tiny("charged", tmp_path / "a", seed=5)
    b = _tiny("charged", tmp_path / "b", seed=5)
    c = _tiny("charged", tmp_path / "c", seed=6)
    for key in a:
        if key != "metadata":
            assert a[key].read_bytes() == b[key].read_bytes(), key
    assert a["loc_train"].read_bytes() != c["loc_train"].read_bytes()


def test_worker_count_does_not_change_bytes(tmp_path, monkeypatch):
    # Small blocks; in-process first, then pools of one and two worker processes.
    monkeypatch.setattr(gd, "BLOCK_SIMS", 16)
    runs = {}
    for label, min_steps, workers in (("inline", 10**12, None), ("one", 0, 1), ("two", 0, 2)):
        monkeypatch.setattr(gd, "_POOL_MIN_SIM_STEPS", min_steps)
        runs[label] = _tiny("springs", tmp_path / label, workers=workers)
    for key in runs["inline"]:
        if key != "metadata":
            data = runs["inline"][key].read_bytes()
            assert data == runs["one"][key].read_bytes() == runs["two"][key].read_bytes(), key


# --------------------------------------------------------------------------------------------
# Parameter checks: a ValueError subclass with a clear message, and nothing written


@pytest.mark.parametrize("overrides, message", [
    (dict(name="gravity"), "unknown dataset 'gravity'; choose one of springs, charged, kuramoto"),
    (dict(num_atoms=1), "num_atoms must be an integer >= 2, got 1"),
    (dict(num_train=0), "num_train must be a positive integer, got 0"),
    (dict(num_valid=-3), "num_valid must be a positive integer, got -3"),
    (dict(num_test=2.5), "num_test must be a positive integer, got 2.5"),
    (dict(sample_freq=300), "length=1000 must be a multiple of sample_freq=300"),
    (dict(length_test=2050), "length_test=2050 must be a multiple of sample_freq=100"),
    (dict(length=100), "length=100 must be a multiple of sample_freq=100 and at least twice it"),
    (dict(dtype="float16"), "dtype must be 'float32' or 'float64', got 'float16'"),
    (dict(seed=-1), "seed must be a non-negative integer, got -1"),
    (dict(workers=0), "workers must be a positive integer or None, got 0"),
    (dict(spring_constant=1.0), "unknown physics parameter(s) spring_constant for springs"),
    (dict(edge_prob=1.5), "edge_prob must lie in [0, 1], got 1.5"),
    (dict(dt=0.0), "dt must be positive, got 0.0"),
    (dict(noise_var=-0.1), "noise_var must be non-negative, got -0.1"),
])
def test_bad_parameters_raise_before_any_write(tmp_path, overrides, message):
    out = tmp_path / "never"
    kwargs = {**TINY, **overrides}
    name = kwargs.pop("name", "springs")
    with pytest.raises(GenerationError) as info:
        write_dataset(name, out, **kwargs)
    assert isinstance(info.value, ValueError)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert not out.exists()


def test_kuramoto_frequency_range_checked(tmp_path):
    with pytest.raises(GenerationError, match="omega_low .* must be below omega_high"):
        _tiny("kuramoto", tmp_path / "never", sample_freq=10, omega_low=5.0, omega_high=2.0)
    assert not (tmp_path / "never").exists()


# --------------------------------------------------------------------------------------------
# Overwrite protection


def test_same_parameters_do_no_work(tmp_path, monkeypatch):
    _tiny("springs", tmp_path)
    before = _snapshot(tmp_path)

    def fail(*args, **kwargs):
        raise AssertionError("should not simulate")

    monkeypatch.setattr(gd, "_generate", fail)
    paths = _tiny("springs", tmp_path, workers=1)  # workers do not change the data
    assert paths["metadata"].exists()
    assert _snapshot(tmp_path) == before


def test_other_parameters_refused_without_overwrite(tmp_path):
    _tiny("springs", tmp_path, seed=1)
    before = _snapshot(tmp_path)
    with pytest.raises(DatasetExistsError, match=r"other parameters \(seed: 1 -> 2\); pass "
                                                 r"overwrite=true to replace it"):
        _tiny("springs", tmp_path, seed=2)
    assert _snapshot(tmp_path) == before
    paths = _tiny("springs", tmp_path, seed=2, overwrite=True)
    assert json.loads(paths["metadata"].read_text())["parameters"]["seed"] == 2
    assert paths["loc_train"].read_bytes() != before["loc_train_springs5.npy"][1]


def test_files_without_metadata_are_protected(tmp_path):
    np.save(tmp_path / "loc_train_springs5.npy", np.zeros((2, 49, 2, 5)))  # e.g. reference data
    with pytest.raises(DatasetExistsError, match="already holds loc_train_springs5.npy"):
        _tiny("springs", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loc_train_springs5.npy"]
    _tiny("springs", tmp_path, overwrite=True)
    assert np.load(tmp_path / "loc_train_springs5.npy").shape == (64, 9, 2, 5)


def test_missing_file_with_same_parameters_is_rewritten(tmp_path):
    paths = _tiny("springs", tmp_path)
    expected = paths["vel_valid"].read_bytes()
    paths["vel_valid"].unlink()
    _tiny("springs", tmp_path)
    assert paths["vel_valid"].read_bytes() == expected


# --------------------------------------------------------------------------------------------
# Atomic writes


def test_no_temporary_files_left(tmp_path):
    _tiny("springs", tmp_path)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".") or "tmp" in p.name]


def test_failure_midway_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(gd, "BLOCK_SIMS", 16)
    real = gd._simulate_block
    calls = []

    def flaky(name, params, task):
        calls.append(task)
        if len(calls) == 3:
            raise RuntimeError("simulated crash")
        return real(name, params, task)

    monkeypatch.setattr(gd, "_simulate_block", flaky)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _tiny("springs", tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_failed_overwrite_keeps_the_old_dataset(tmp_path, monkeypatch):
    _tiny("springs", tmp_path, seed=1)
    before = _snapshot(tmp_path)

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(gd, "_simulate_block", crash)
    with pytest.raises(RuntimeError):
        _tiny("springs", tmp_path, seed=2, overwrite=True)
    assert _snapshot(tmp_path) == before


# --------------------------------------------------------------------------------------------
# Hydra entry point


def _cli(tmp_path, *args):
    env = {**os.environ, "PYTHONPATH": str(REPO), "HYDRA_FULL_ERROR": "1"}
    env.pop("NRI_DATA_DIR", None)
    return subprocess.run([sys.executable, "-m", "nri.generate", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_writes_then_skips(tmp_path):
    args = ["dataset=charged", "dataset.num_atoms=3", "dataset.num_train=8", "dataset.num_valid=4",
            "dataset.num_test=4", "dataset.length=500", "dataset.length_test=1000",
            "paths.data_dir=data", "seed=1"]
    first = _cli(tmp_path, *args)
    assert first.returncode == 0, first.stderr
    assert np.load(tmp_path / "data" / "loc_test_charged3.npy").shape == (4, 9, 2, 3)
    assert (tmp_path / "outputs" / "generate").is_dir()
    again = _cli(tmp_path, *args)
    assert again.returncode == 0 and "already exists" in again.stdout + again.stderr


@pytest.mark.parametrize("args, message", [
    (["dataset=springs", "dataset.num_atoms=1"], "error: num_atoms must be an integer >= 2"),
    (["dataset=custom", "dataset.path=missing.csv"], "error:"),
    (["dataset=gravity"], "error: unknown dataset 'gravity'"),
])
def test_cli_errors_are_one_line_with_status_2(tmp_path, args, message):
    result = _cli(tmp_path, *args, "paths.data_dir=data")
    assert result.returncode == 2
    assert result.stderr.strip().startswith(message) and "\n" not in result.stderr.strip()
    assert not (tmp_path / "data").exists()


def test_cli_dataset_override_parsing():
    from nri.generate import _dataset_overrides

    assert _dataset_overrides(["seed=1", "dataset=charged"]) == ["charged"]
    assert _dataset_overrides(["dataset=springs,kuramoto"]) == ["springs", "kuramoto"]
    assert _dataset_overrides(["+dataset=gravity"]) == ["gravity"]
    assert _dataset_overrides(["dataset.num_atoms=10", "dataset=glob(*)"]) == []
