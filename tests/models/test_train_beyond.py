"""Tiny real training runs of the relation-interaction encoder and the history decoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hydra.core.global_hydra import GlobalHydra
from hydra_utils import tiny_train_cfg

from nri.train import run


@pytest.fixture(autouse=True)
def _clear_hydra():
    yield
    GlobalHydra.instance().clear()


@pytest.mark.parametrize("overrides", [
    ("encoder=mpm", "decoder=mlp"),
    ("encoder=mpm", "encoder.front_end=cnn", "decoder=mlp"),
    ("encoder=mlp", "decoder=history", "decoder.history=4"),
    ("model=supervised", "encoder=mpm"),
    ("encoder=mpm", "decoder=history", "model.symmetry=hard"),
    ("model.symmetry=soft", "model.symmetry_weight=2.0"),
])
def test_tiny_training_run(tiny_springs, tmp_path, overrides):
    cfg = tiny_train_cfg(tiny_springs, tmp_path, *overrides, "logger=none", "threads=1")
    results = run(cfg)
    assert 0.0 <= results["test/edge_acc"] <= 1.0
    if "model=supervised" not in overrides:
        assert len(results["test/mse"]) == 9 and all(np.isfinite(results["test/mse"]))
    assert (tmp_path / "checkpoints" / "last.ckpt").exists()


def test_hard_symmetry_ties_the_modules_edge_distributions(tiny_springs, tmp_path):
    from nri.build import build_module
    from nri.models.symmetry import reverse_edges

    cfg = tiny_train_cfg(tiny_springs, tmp_path, "model.symmetry=hard", "logger=none")
    module = build_module(cfg, None).eval()
    x = torch.randn(3, 5, 15, 4)
    prob = module.encode(x).softmax(-1)
    assert torch.equal(prob, prob[:, reverse_edges(5)])
    cfg = tiny_train_cfg(tiny_springs, tmp_path, "logger=none")
    free = build_module(cfg, None).eval().encode(x).softmax(-1)
    assert not torch.allclose(free, free[:, reverse_edges(5)])


def test_soft_symmetry_adds_its_penalty_to_the_training_loss(tiny_springs, tmp_path):
    cfg = tiny_train_cfg(tiny_springs, tmp_path, "model.symmetry=soft", "logger=csv", "threads=1",
                         "trainer.max_epochs=1")
    run(cfg)
    header = next((tmp_path / "csv").rglob("metrics.csv")).read_text().splitlines()[0]
    assert "train/symmetry_epoch" in header or "train/symmetry_step" in header


def test_hard_symmetry_on_directed_training_graphs_is_refused(tiny_springs, tmp_path):
    import shutil

    from nri.errors import ConfigError

    data = tmp_path / "data"
    shutil.copytree(tiny_springs, data)
    edges = np.load(data / "edges_train_springs5.npy")
    edges[0, 0, 1], edges[0, 1, 0] = 1, 0  # one coupling that runs one way only
    np.save(data / "edges_train_springs5.npy", edges)
    with pytest.raises(ConfigError, match=r"model.symmetry=hard .* use model.symmetry=none"):
        run(tiny_train_cfg(data, tmp_path / "run", "model.symmetry=hard", "logger=none"))
    assert not (tmp_path / "run" / "checkpoints").exists()
    assert not (tmp_path / "run" / "metrics.json").exists()
    # the same data trains without the tie
    run(tiny_train_cfg(data, tmp_path / "free", "logger=none", "trainer.max_epochs=1"))
    assert (tmp_path / "free" / "metrics.json").exists()


@pytest.mark.parametrize(("experiment", "symmetry"), [
    ("table1_charged", "hard"), ("table1_springs", "hard"), ("table1_kuramoto", "none")])
@pytest.mark.parametrize("row", ["history_symmetry", "mpm_history"])
def test_symmetry_rows_tie_directions_only_where_the_dataset_is_undirected(tmp_path, experiment, symmetry, row):
    from hydra_utils import compose_cfg

    cfg = compose_cfg("train", [f"experiment={experiment}", f"row={row}"], tmp_path)
    assert cfg.model.symmetry == symmetry
