"""Motion capture preprocessing: ASF/AMC parsing, forward kinematics, windows, caching, plot."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from nri.data.real.amc import (
    MocapFormatError,
    euler_matrices,
    forward_kinematics,
    parse_amc,
    parse_asf,
)
from nri.data.real.motion import prepare_motion, window_starts

ROOT = Path(__file__).resolve().parents[2]
REAL = Path(os.environ.get("NRI_REAL_DATA_DIR", ROOT.parent / "shared" / "data"))
MOTION = REAL / "motion"
ASF_TO_METRES = 0.056444  # CMU: (1 / 0.45) inch per ASF unit
FRAME_RATE = 120.0

needs_real = pytest.mark.skipif(
    not (MOTION / "35.asf").is_file(), reason=f"real motion data not found under {MOTION}"
)


def dataset_cfg(real_data_dir=REAL, **overrides):
    root = OmegaConf.create(
        {
            "paths": {"real_data_dir": str(real_data_dir)},
            "dataset": OmegaConf.load(ROOT / "conf" / "dataset" / "motion.yaml"),
        }
    )
    for key, value in overrides.items():
        OmegaConf.update(root, f"dataset.{key}", value, merge=False)
    return root.dataset


@pytest.fixture(scope="module")
def skeleton():
    return parse_asf(MOTION / "35.asf")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    out = tmp_path_factory.mktemp("motion")
    return prepare_motion(dataset_cfg(), REAL, out), out


def test_euler_xyz_is_rz_ry_rx():
    a, b, c = 0.3, -0.7, 1.1
    rx = euler_matrices(np.array([a, 0, 0]))
    ry = euler_matrices(np.array([0, b, 0]))
    rz = euler_matrices(np.array([0, 0, c]))
    assert np.allclose(euler_matrices(np.array([a, b, c])), rz @ ry @ rx)
    assert np.allclose(ry @ np.array([1.0, 0, 0]), [np.cos(b), 0, -np.sin(b)])


TINY_ASF = """:units
  length 1.0
  angle deg
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name a
     direction 1 0 0
     length 2
     axis 0 0 90 XYZ
    dof rx
  end
:hierarchy
  begin
    root a
  end
"""


def test_fk_applies_bone_axis_as_c_r_cinv(tmp_path):
    asf = tmp_path / "t.asf"
    asf.write_text(TINY_ASF)
    amc = tmp_path / "t.amc"
    amc.write_text(
        ":FULLY-SPECIFIED\n:DEGREES\n"
        "1\nroot 1 2 3 0 0 0\na 0\n"
        "2\nroot 1 2 3 0 0 0\na 90\n"  # rx about the bone frame's x (= global y, since C = Rz 90)
        "3\nroot 1 2 3 0 0 90\na 0\n"  # root rz 90 turns the bone from +x to +y
    )
    sk = parse_asf(asf)
    pos = forward_kinematics(sk, parse_amc(amc, sk))
    assert pos.shape == (3, 2, 3)
    assert np.allclose(pos[:, 0], [1, 2, 3])
    assert np.allclose(pos[:, 1], [[3, 2, 3], [1, 2, 1], [1, 4, 3]])


@needs_real
def test_skeleton_has_31_joints_and_30_bones(skeleton):
    assert skeleton.num_joints == 31 and skeleton.names[0] == "root"
    assert len(skeleton.bones()) == 30
    adj = skeleton.adjacency()
    assert (adj == adj.T).all() and adj.sum() == 60 and np.trace(adj) == 0


@needs_real
@pytest.mark.parametrize("trial", ["35_01", "35_28"])
def test_bone_lengths_are_constant_and_match_the_asf(skeleton, trial):
    pos = forward_kinematics(skeleton, parse_amc(MOTION / f"{trial}.amc", skeleton))
    assert pos.shape[1:] == (31, 3)
    for parent, child in skeleton.bones():
        length = np.linalg.norm(pos[:, child] - pos[:, parent], axis=-1)
        assert length.std() <= 1e-6 * length.mean()
        assert np.allclose(length, skeleton.lengths[child], rtol=1e-9)


@needs_real
@pytest.mark.parametrize("trial", ["35_01", "35_13", "35_30"])
def test_root_walks_at_a_human_speed(skeleton, trial):
    pos = forward_kinematics(skeleton, parse_amc(MOTION / f"{trial}.amc", skeleton))
    horizontal = pos[:, 0, [0, 2]] * ASF_TO_METRES  # y is up in CMU data
    speed = np.linalg.norm(np.diff(horizontal, axis=0), axis=-1).mean() * FRAME_RATE
    assert 0.5 < speed < 2.5, speed
    height = (pos[:, :, 1].max(axis=1) - pos[:, :, 1].min(axis=1)).mean() * ASF_TO_METRES
    assert 1.4 < height < 2.1, height


def test_window_starts_follow_the_recipe():
    assert window_starts(357, 50) == [0, 50, 100, 150, 200, 250, 300]
    assert window_starts(150, 50) == [0, 50]  # start must stay below n - L
    assert window_starts(50, 50) == []


@needs_real
def test_prepared_dataset_has_recipe_counts_and_layout(prepared, skeleton):
    outputs, _ = prepared
    expected = {"train": (92, 50), "valid": (33, 50), "test": (27, 100)}
    for split, (count, steps) in expected.items():
        loc = np.load(outputs[f"loc_{split}"])
        vel = np.load(outputs[f"vel_{split}"])
        edges = np.load(outputs[f"edges_{split}"])
        assert loc.shape == vel.shape == (count, steps, 3, 31)
        assert loc.dtype == vel.dtype == np.float32
        assert edges.shape == (count, 31, 31)
        assert (edges == skeleton.adjacency()).all()
        # within a window vel is the per-frame displacement of loc
        assert np.allclose(vel[:, 1:], loc[:, 1:] - loc[:, :-1], atol=1e-3)
    meta = json.loads(outputs["metadata"].read_text())
    assert meta["parameters"]["window"] == {"train": 50, "valid": 50, "test": 100}
    assert meta["nri_version"] and len(meta["sources"]) == 24
    assert meta["shapes"]["test"]["loc"] == [27, 100, 3, 31]


def test_config_keys_resolve():
    cfg = OmegaConf.to_container(dataset_cfg(), resolve=True)
    assert cfg["suffix"] == "_motion35" and cfg["num_atoms"] == 31 and cfg["dims"] == 6
    assert cfg["has_edges"] is True and cfg["edge_types"] == 2
    assert cfg["test_burn_in"] + cfg["test_horizon"] <= cfg["window"]["test"]
    assert cfg["train_steps"] <= cfg["window"]["train"]
    assert cfg["source_dir"] == f"{REAL}/motion"


@needs_real
def test_preprocessing_runs_once(tmp_path):
    cfg = dataset_cfg(trials={"train": [1], "valid": [13], "test": [28]})
    outputs = prepare_motion(cfg, REAL, tmp_path)
    stamp = {k: p.stat().st_mtime_ns for k, p in outputs.items()}
    again = prepare_motion(cfg, REAL, tmp_path)
    assert again == outputs
    assert {k: p.stat().st_mtime_ns for k, p in again.items()} == stamp
    other = dataset_cfg(trials={"train": [2], "valid": [13], "test": [28]})
    with pytest.raises(FileExistsError, match="trials"):
        prepare_motion(other, REAL, tmp_path)
    prepare_motion(other, REAL, tmp_path, overwrite=True)
    assert json.loads(outputs["metadata"].read_text())["parameters"]["trials"]["train"] == [2]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left


@needs_real
def test_asf_without_bonedata_is_rejected(tmp_path):
    text = (MOTION / "35.asf").read_text()
    start, stop = text.index(":bonedata"), text.index(":hierarchy")
    bad = tmp_path / "35.asf"
    bad.write_text(text[:start] + text[stop:])
    with pytest.raises(MocapFormatError, match=r"35\.asf.*no :bonedata"):
        parse_asf(bad)


@needs_real
def test_amc_with_wrong_channel_count_names_file_and_line(tmp_path, skeleton):
    lines = (MOTION / "35_01.amc").read_text().splitlines()
    k = next(i for i, s in enumerate(lines) if s.startswith("rtibia"))
    lines[k] += " 1.0"
    bad = tmp_path / "35_01.amc"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        MocapFormatError, match=rf"35_01\.amc, line {k + 1}: .*'rtibia' has 2 values"
    ):
        parse_amc(bad, skeleton)


@needs_real
def test_amc_with_a_missing_joint_line_is_rejected(tmp_path, skeleton):
    lines = (MOTION / "35_01.amc").read_text().splitlines()
    k = next(i for i, s in enumerate(lines) if s.startswith("lfoot"))
    bad = tmp_path / "35_01.amc"
    bad.write_text("\n".join(lines[:k] + lines[k + 1 :]) + "\n")
    with pytest.raises(MocapFormatError, match=r"frame 1 has 28 channel lines, expected 29"):
        parse_amc(bad, skeleton)


def test_missing_motion_files_raise_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"35\.asf, 35_01\.amc.*NRI_REAL_DATA_DIR"):
        prepare_motion(dataset_cfg(tmp_path), tmp_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@needs_real
def test_plot_skeleton_writes_png(prepared, tmp_path):
    from nri.viz.real import plot_skeleton

    outputs, _ = prepared
    loc = np.load(outputs["loc_valid"])[0].transpose(2, 0, 1)  # [N, T, 3]
    adj = np.load(outputs["edges_valid"])[0]
    prob = np.random.default_rng(0).random((31, 31))
    fig = plot_skeleton(loc, prob, adj, tmp_path / "skel.png", view=(2, 1))
    assert (tmp_path / "skel.png").stat().st_size > 1000
    assert fig.axes
