"""Basketball preprocessing: play-respecting windows, ball option, mirroring, errors, caching."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from nri.atomic import atomic_write_all
from nri.data.real.sports import (
    example_bounds,
    prepare_sports,
    source_files,
    split_coords,
    window_starts,
)

ROOT = Path(__file__).resolve().parents[2]
REAL = Path(os.environ.get("NRI_REAL_DATA_DIR", ROOT.parent / "shared" / "data"))
SPORTS = REAL / "sports"
GAMES = {"train": 5, "valid": 4, "test": 5}
STEP = 0.001  # synthetic per-frame displacement inside an example

needs_stops = pytest.mark.skipif(
    not (SPORTS / "example_stop_idxs_train__with_5_games.npy").is_file(),
    reason=f"real sports stop idxs not found under {SPORTS}",
)
needs_players = pytest.mark.skipif(
    not (SPORTS / "player_coords_train__with_5_games.npy").is_file(),
    reason=f"real player coords not found under {SPORTS}",
)


def dataset_cfg(real_data_dir=REAL, **overrides):
    root = OmegaConf.create(
        {
            "paths": {"real_data_dir": str(real_data_dir)},
            "dataset": OmegaConf.load(ROOT / "conf" / "dataset" / "sports.yaml"),
        }
    )
    for key, value in overrides.items():
        OmegaConf.update(root, f"dataset.{key}", value, merge=False)
    return root.dataset


# example lengths per split; with windows of 50: train (stride 10) 0+2+0+1+8, valid/test 1+2
LENGTHS = {"train": [3, 60, 49, 50, 120], "valid": [1, 50, 100], "test": [70, 101, 5]}


def write_fake_sports(folder: Path, lengths=LENGTHS) -> Path:
    """Arrays in the shipped layout: object k of example e sits at (0.1 + 0.05 e, 0.05 k) and
    moves by STEP in x and 2·STEP in y per frame, so any window crossing a play shows a jump."""
    sports = folder / "sports"
    sports.mkdir(parents=True)
    for split, lens in lengths.items():
        rows = []
        for e, n in enumerate(lens):
            t = np.arange(n)[:, None]
            k = np.arange(11)[None, :]
            rows.append(
                np.stack([0.1 + 0.05 * e + STEP * t + 0 * k, 0.05 * k + 2 * STEP * t], axis=-1)
            )
        coords = np.concatenate(rows)  # [T, 11, 2]
        total = len(coords)
        stops = np.concatenate([[-1], np.cumsum(lens) - 1])
        stops[-1] = total  # the shipped files end one past the last row
        files = source_files(sports, split, GAMES[split])
        np.save(files["players"], coords[:, :10])
        np.save(files["ball"], np.concatenate([coords[:, 10], np.full((total, 1), 3.0)], 1))
        np.save(files["stops"], stops.astype(np.int64))
    return folder


@pytest.fixture
def fake(tmp_path):
    return write_fake_sports(tmp_path / "real")


def test_example_bounds_read_shipped_convention():
    assert example_bounds(np.array([-1, 2, 5, 10]), 10).tolist() == [[0, 3], [3, 6], [6, 10]]
    assert example_bounds(np.array([-1, 2, 5, 9]), 10).tolist() == [[0, 3], [3, 6], [6, 10]]
    for bad, match in [
        ([0, 5, 9], "start with -1"),
        ([-1, 5, 5, 9], "increase"),
        ([-1, 5, 7], "end at 7"),
        ([-1, 5, 12], "end at 12"),
    ]:
        with pytest.raises(ValueError, match=match):
            example_bounds(np.array(bad), 10, "stops.npy")
    with pytest.raises(ValueError, match="integer"):
        example_bounds(np.array([-1.0, 9.0]), 10)


def test_windows_stay_inside_known_examples():
    lens = LENGTHS["train"]
    stops = np.concatenate([[-1], np.cumsum(lens) - 1])
    bounds = example_bounds(stops, sum(lens))
    starts = window_starts(bounds, 50, 10)
    offsets = np.concatenate([[0], np.cumsum(lens)])
    expected = (
        [offsets[1] + s for s in (0, 10)]
        + [offsets[3]]
        + [offsets[4] + s for s in range(0, 71, 10)]
    )
    assert starts.tolist() == expected
    assert window_starts(bounds, 50, 50).tolist() == [
        offsets[1],
        offsets[3],
        offsets[4],
        offsets[4] + 50,
    ]


@needs_stops
def test_real_stop_idxs_give_the_recipe_window_counts():
    """The ball timeline has the same rows as the player coordinates, so it fixes T."""
    expected = {"train": (1535, 355), "valid": (160, 160), "test": (202, 202)}
    for split, (strided, disjoint) in expected.items():
        files = source_files(SPORTS, split, GAMES[split])
        rows = len(np.load(files["ball"]))
        bounds = example_bounds(np.load(files["stops"]), rows, files["stops"])
        assert bounds[0, 0] == 0 and bounds[-1, 1] == rows
        assert (bounds[1:, 0] == bounds[:-1, 1]).all()
        stride = 10 if split == "train" else 50
        starts = window_starts(bounds, 50, stride)
        assert len(starts) == strided
        assert len(window_starts(bounds, 50, 50)) == disjoint
        first = np.searchsorted(bounds[:, 1], starts, side="right")
        last = np.searchsorted(bounds[:, 1], starts + 49, side="right")
        assert (first == last).all()  # a window's first and last row share an example


@needs_players
def test_real_dataset_windows_have_no_play_jumps(tmp_path):
    outputs = prepare_sports(dataset_cfg(), REAL, tmp_path)
    meta = json.loads(outputs["metadata"].read_text())
    assert {s: c["windows"] for s, c in meta["counts"].items()} == {
        "train": 1535,
        "valid": 160,
        "test": 202,
    }
    for split in ("train", "valid", "test"):
        vel = np.load(outputs[f"vel_{split}"])
        assert vel.shape[1:] == (49, 2, 10)
        # players move < 0.15 court lengths per 0.2 s inside plays; most play changes jump more
        assert np.linalg.norm(vel, axis=2).max() < 0.15


def test_synthetic_windows_shapes_and_no_crossing(fake, tmp_path):
    outputs = prepare_sports(dataset_cfg(fake), fake, tmp_path / "out")
    assert set(outputs) == {
        "loc_train",
        "vel_train",
        "loc_valid",
        "vel_valid",
        "loc_test",
        "vel_test",
        "metadata",
    }
    counts = {"train": 11, "valid": 3, "test": 3}
    for split, count in counts.items():
        loc = np.load(outputs[f"loc_{split}"])
        vel = np.load(outputs[f"vel_{split}"])
        assert loc.shape == vel.shape == (count, 49, 2, 10)
        assert loc.dtype == np.float32
        assert np.allclose(vel[:, :, 0], STEP, atol=1e-6)  # a crossing would jump by 0.05
        assert np.allclose(vel[:, :, 1], 2 * STEP, atol=1e-6)
    assert not list((tmp_path / "out").glob("edges_*"))
    meta = json.loads(outputs["metadata"].read_text())
    assert meta["parameters"]["include_ball"] is False and meta["nri_version"]
    assert meta["shapes"]["train"]["loc"] == [11, 49, 2, 10]


def test_ball_option_adds_an_eleventh_object(fake, tmp_path):
    cfg = dataset_cfg(fake, include_ball=True)
    assert cfg.num_atoms == 11 and cfg.suffix == "_sports11"
    outputs = prepare_sports(cfg, fake, tmp_path)
    loc = np.load(outputs["loc_valid"])
    assert loc.shape == (3, 49, 2, 11)
    assert outputs["loc_valid"].name == "loc_valid_sports11.npy"
    ball = np.load(source_files(fake / "sports", "valid", 4)["ball"])
    start = 1  # first valid window: the 50-row example after the 1-row one
    assert np.allclose(loc[0, :, :, 10], ball[start + 1 : start + 50, :2], atol=1e-6)


def test_mirroring_reflects_training_windows_only(fake, tmp_path):
    plain = prepare_sports(dataset_cfg(fake), fake, tmp_path / "plain")
    mirrored = prepare_sports(dataset_cfg(fake, mirror=True), fake, tmp_path / "mirror")
    loc, vel = np.load(plain["loc_train"]), np.load(plain["vel_train"])
    mloc, mvel = np.load(mirrored["loc_train"]), np.load(mirrored["vel_train"])
    n = len(loc)
    assert len(mloc) == 2 * n
    assert np.array_equal(mloc[:n], loc)
    assert np.allclose(mloc[n:, :, 0], loc[:, :, 0])
    assert np.allclose(mloc[n:, :, 1], 1.0 - loc[:, :, 1], atol=1e-6)
    assert np.allclose(mvel[n:, :, 0], vel[:, :, 0])
    assert np.allclose(mvel[n:, :, 1], -vel[:, :, 1])
    assert np.array_equal(np.load(mirrored["loc_test"]), np.load(plain["loc_test"]))


def test_missing_player_coords_say_what_to_do(fake, tmp_path):
    missing = source_files(fake / "sports", "valid", 4)["players"]
    missing.unlink()
    with pytest.raises(
        FileNotFoundError, match=r"player_coords_val__with_4_games\.npy.*NRI_REAL_DATA_DIR"
    ):
        prepare_sports(dataset_cfg(fake), fake, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_malformed_sources_are_named(fake, tmp_path):
    files = source_files(fake / "sports", "test", 5)
    np.save(files["players"], np.zeros((176, 9, 2)))
    with pytest.raises(ValueError, match=r"player_coords_test__with_5_games\.npy.*\(T, 10, 2\)"):
        prepare_sports(dataset_cfg(fake), fake, tmp_path)
    np.save(files["players"], np.zeros((176, 10, 2)))
    np.save(files["stops"], np.array([-1, 69, 170]))
    with pytest.raises(ValueError, match=r"example_stop_idxs_test__with_5_games\.npy.*end at 170"):
        prepare_sports(dataset_cfg(fake), fake, tmp_path)
    np.save(files["ball"], np.zeros((100, 3)))
    with pytest.raises(ValueError, match=r"ball_coords_test.*do not match"):
        split_coords(files, include_ball=True)
    with pytest.raises(ValueError, match="num_atoms"):
        prepare_sports(dataset_cfg(fake, num_atoms=11), fake, tmp_path)
    assert not list(tmp_path.glob("*.npy"))


def test_preprocessing_runs_once(fake, tmp_path):
    outputs = prepare_sports(dataset_cfg(fake), fake, tmp_path)
    stamp = {k: p.stat().st_mtime_ns for k, p in outputs.items()}
    assert prepare_sports(dataset_cfg(fake), fake, tmp_path) == outputs
    assert {k: p.stat().st_mtime_ns for k, p in outputs.items()} == stamp
    with pytest.raises(FileExistsError, match="train_stride"):
        prepare_sports(dataset_cfg(fake, train_stride=5), fake, tmp_path)
    prepare_sports(dataset_cfg(fake, train_stride=5), fake, tmp_path, overwrite=True)
    assert len(np.load(outputs["loc_train"])) == 0 + 3 + 0 + 1 + 15
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_files_without_metadata_are_not_overwritten_silently(fake, tmp_path):
    (tmp_path / "loc_train_sports10.npy").write_bytes(b"someone else's")
    with pytest.raises(FileExistsError, match="loc_train_sports10.npy"):
        prepare_sports(dataset_cfg(fake), fake, tmp_path)
    prepare_sports(dataset_cfg(fake), fake, tmp_path, overwrite=True)
    assert np.load(tmp_path / "loc_train_sports10.npy").shape == (11, 49, 2, 10)


def test_a_failed_group_write_leaves_nothing(tmp_path):
    good, bad = tmp_path / "a.npy", tmp_path / "b.npy"
    with pytest.raises(ValueError):
        atomic_write_all(
            {good: np.zeros(3), bad: np.array([object()])}, {tmp_path / "m.json": "{}"}
        )
    assert list(tmp_path.iterdir()) == []


def test_config_keys_resolve():
    cfg = OmegaConf.to_container(dataset_cfg(), resolve=True)
    assert cfg["num_atoms"] == 10 and cfg["suffix"] == "_sports10"
    assert cfg["dims"] == 4 and cfg["has_edges"] is False and cfg["format"] == "locvel"
    # the forecast feeds frames 0..test_burn_in as truth and predicts test_horizon more frames
    assert cfg["test_burn_in"] + 1 + cfg["test_horizon"] == cfg["window_length"] - 1
    assert cfg["source_dir"] == f"{REAL}/sports"


def test_plot_court_writes_png(fake, tmp_path):
    from nri.viz.real import plot_court

    outputs = prepare_sports(dataset_cfg(fake, include_ball=True), fake, tmp_path)
    loc = np.load(outputs["loc_test"])[0].transpose(2, 0, 1)  # [N, T, 2]
    prob = np.random.default_rng(0).random((11, 11))
    fig = plot_court(loc, prob, tmp_path / "court.png")
    assert (tmp_path / "court.png").stat().st_size > 1000
    assert fig.axes
