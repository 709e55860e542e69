"""The real-data comparisons: experiment configs, one short run per row, pictures and the report."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.core.global_hydra import GlobalHydra
from hydra_utils import compose_cfg

from nri.callbacks.real import draw_sample, strongest_pairs
from nri.train import run
from tests.script_loader import load_script

ROOT = Path(__file__).resolve().parents[1]
REAL = Path(os.environ.get("NRI_REAL_DATA_DIR", ROOT.parent / "shared" / "data"))
needs_motion = pytest.mark.skipif(not (REAL / "motion" / "35.asf").is_file(),
                                  reason=f"real motion data not found under {REAL}")
needs_sports = pytest.mark.skipif(not (REAL / "sports").is_dir(),
                                  reason=f"real sports data not found under {REAL}")
EXPERIMENTS = ("motion_compare", "motion_paper", "sports_compare", "sports_paper")
MOTION_ROWS = ("static", "lstm_joint", "nri_full_graph", "nri_true_graph", "nri_learned")
TINY = ["profile.nri.encoder_hidden=8", "profile.nri.decoder_hidden=8", "profile.lstm.joint_hidden=2",
        "datamodule.batch_size=2", "datamodule.eval_batch_size=2", "threads=1"]


@pytest.fixture(autouse=True)
def _clear_hydra():
    yield
    GlobalHydra.instance().clear()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """Prepared once for the module: every run's datamodule reuses the files."""
    return tmp_path_factory.mktemp("real_data")


def _cfg(experiment: str, row: str, run_dir: Path, *extra: str):
    return compose_cfg("train", [f"experiment={experiment}", f"row={row}", *extra], run_dir)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_row_of_the_sweep_composes(experiment, tmp_path):
    rows = compose_cfg("train", [f"experiment={experiment}"], tmp_path).hydra.sweeper.params.row
    dataset = experiment.split("_")[0]
    for row in rows.split(","):
        cfg = _cfg(experiment, row, tmp_path)
        assert cfg.dataset.name == dataset and cfg.row.id == row
        expected = {"static": "static", "lstm_joint": "lstm_joint"}.get(row, "rnn")
        assert cfg.decoder.name == expected, (row, cfg.decoder)
        assert cfg.hydra.sweep.subdir == f"{row}/seed{cfg.seed}"
        assert "real_graph" in cfg.callbacks and "model_checkpoint" in cfg.callbacks
    if dataset == "sports":  # 40 frames of truth + 9 predicted fit the 49-step windows
        assert cfg.dataset.test_burn_in + cfg.dataset.test_horizon + 1 == 49
    if experiment.endswith("paper"):
        assert cfg.profile.nri.decoder_hidden == 256 and "seed" in cfg.hydra.sweeper.params


@needs_motion
@pytest.mark.parametrize("row", MOTION_ROWS)
def test_fast_dev_run_per_motion_row(row, data_dir, tmp_path):
    extra = []
    if row == "nri_learned":  # the module's own dynamic graph must match the callback's
        extra = ["model.dynamic_graph.test=true", "model.dynamic_graph.source=predictions"]
    cfg = _cfg("motion_compare", row, tmp_path, f"paths.data_dir={data_dir}", *TINY, "debug=fast", *extra)
    results = run(cfg)
    written = json.loads((tmp_path / "metrics.json").read_text())["metrics"]
    assert len(written["test/mse"]) == 40 and np.isfinite(written["test/mse"]).all()
    if row == "nri_learned":
        assert written["test/dynamic_predictions/mse"] == pytest.approx(written["test/mse"], rel=1e-6)
        assert len(written["test/dynamic_truth/mse"]) == 40
        assert results["test/dynamic_truth/mse_40"] == pytest.approx(written["test/dynamic_truth/mse"][-1])
        assert (tmp_path / "figures" / "val_graph.png").stat().st_size > 0
    else:
        assert "test/dynamic_truth/mse" not in written


@needs_motion
def test_skeleton_picture_is_logged_to_tensorboard(data_dir, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = _cfg("motion_compare", "nri_learned", tmp_path, f"paths.data_dir={data_dir}", *TINY,
               "logger=tensorboard", "trainer.max_epochs=1", "++trainer.limit_train_batches=1",
               "++trainer.limit_val_batches=1", "test=false")
    run(cfg)
    assert (tmp_path / "figures" / "val_graph.png").stat().st_size > 0
    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"images": 0}).Reload()
    assert "val/graph" in events.Tags()["images"]


@needs_sports
def test_fast_dev_run_sports_learned(data_dir, tmp_path):
    cfg = _cfg("sports_compare", "nri_learned", tmp_path, f"paths.data_dir={data_dir}", *TINY, "debug=fast")
    run(cfg)
    written = json.loads((tmp_path / "metrics.json").read_text())["metrics"]
    assert len(written["test/mse"]) == 9 and len(written["test/dynamic_truth/mse"]) == 9
    assert (tmp_path / "figures" / "val_graph.png").stat().st_size > 0


def test_court_and_skeleton_pictures_are_written(tmp_path):
    torch.manual_seed(0)
    n, e = 10, 90
    x = torch.rand(n, 12, 4) * 2 - 1
    prob = torch.softmax(torch.randn(e, 2), -1)
    norm = {"kind": "locvel", "loc_min": 0.0, "loc_max": 1.0, "vel_min": -0.1, "vel_max": 0.1}
    fig = draw_sample({"name": "sports"}, x, prob, None, norm, tmp_path / "court.png")
    assert fig is not None and (tmp_path / "court.png").stat().st_size > 0
    bones = torch.zeros(e, dtype=torch.long)
    bones[:9] = 1
    fig = draw_sample({"name": "motion"}, torch.rand(n, 12, 6), prob, bones, None, tmp_path / "skel.png")
    assert fig is not None and (tmp_path / "skel.png").stat().st_size > 0
    assert draw_sample({"name": "springs"}, x, prob, None, norm, tmp_path / "none.png") is None


def test_strongest_pairs_keeps_the_top_pairs_both_ways():
    p = np.array([[0, 0.9, 0.1], [0.2, 0, 0.3], [0.5, 0.05, 0]])
    kept = strongest_pairs(p, 2)
    assert kept[0, 1] == 0.9 and kept[1, 0] == 0.2  # pair (0, 1): max 0.9
    assert kept[2, 0] == 0.5 and kept[0, 2] == 0.1  # pair (0, 2): max 0.5
    assert kept[1, 2] == 0 and kept[2, 1] == 0      # pair (1, 2): max 0.3, dropped


def _report_module():
    return load_script("real_data_report")


def test_report_table_and_plot(tmp_path):
    report = _report_module()
    curves = {"static": [1e-4 * h for h in range(1, 10)], "nri_learned": [5e-5 * h for h in range(1, 10)]}
    for row, mse in curves.items():
        job = tmp_path / "sports" / row / "seed1"
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "config.yaml").write_text(f"row:\n  id: {row}\n  name: {row.upper()}\n")
        metrics = {"test/mse": mse, "epochs": 2, "train_time_s": 10.0}
        if row == "nri_learned":
            metrics["test/dynamic_truth/mse"] = [4e-5 * h for h in range(1, 10)]
        (job / "metrics.json").write_text(json.dumps({"metrics": metrics, "dataset": {"name": "sports"},
                                                      "seed": 1}))
    report.main(["--runs", str(tmp_path), "--out", str(tmp_path / "out")])
    table = (tmp_path / "out" / "sports_mse.md").read_text()
    assert "MSE @ 9" in table and "MSE @ 10" not in table
    assert "STATIC" in table and "NRI (learned, static graph)" in table and "dynamic graph: window of truth" in table
    assert "9.000e-04" in table and "**3.600e-04**" in table
    assert (tmp_path / "out" / "sports_mse.png").stat().st_size > 0
