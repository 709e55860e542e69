"""Candidate edges through NRIModule and ``python -m nri.train``: all-pairs candidates give today's
numbers, a sparse dataset trains end to end, memory follows the edges."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra_utils import tiny_train_cfg
from tiny_data import TINY_DATASET
from torch.nn import functional as F

from nri.data.sim.generate_dataset import write_dataset
from nri.models.module import NRIModule
from nri.models.objectives import candidates_of
from nri.train import run

ROOT = Path(__file__).resolve().parents[2]
MLP = {"name": "mlp", "hidden": 8}


def _metrics(tiny_springs, run_dir, *extra):
    cfg = tiny_train_cfg(tiny_springs, run_dir, "threads=1", "datamodule.shuffle=false",
                         "callbacks.edge_heatmap=null", *extra)
    return run(cfg)


@pytest.mark.parametrize("decoder", ["mlp", "rnn"])
def test_all_pairs_as_candidates_reproduce_todays_metrics(tiny_springs, tmp_path, decoder):
    today = _metrics(tiny_springs, tmp_path / "all", f"decoder={decoder}", "decoder.hidden=16")
    # the N - 1 = 4 nearest of 5 objects are every pair, in edge_index's order, on the candidate path
    candidates = _metrics(tiny_springs, tmp_path / "knn", f"decoder={decoder}", "decoder.hidden=16",
                          "model.candidates=knn", "model.candidate_k=4")
    for key in ("val/nll", "val/kl", "test/edge_acc", "test/mse_1", "test/mse_9",
                "test/candidate_recall"):
        assert candidates[key] == today[key], key
    for key in ("test/auroc", "test/auprc", "test/f1"):
        assert candidates[key] == pytest.approx(today[key], abs=1e-6), key
    assert today["test/candidate_recall"] == 1.0


@pytest.mark.parametrize("chosen", [
    ("model.candidates=knn", "model.candidate_k=8"),
    pytest.param(("model.candidates=radius", "model.candidate_radius=0.3", "model.candidate_k_max=8"),
                 marks=pytest.mark.slow),
    pytest.param(("model.candidates=given", "datamodule.candidate_lists=edge_index"),
                 marks=pytest.mark.slow)])
def test_a_sparse_dataset_trains_end_to_end(tmp_path, chosen):
    data = tmp_path / "data"
    write_dataset("springs", data, num_atoms=30, num_train=16, num_valid=4, num_test=4,
                  length=1000, length_test=1600, graph="knn", mean_degree=3.0, seed=1,
                  suffix="_springs30_knn")
    overrides = [
        f"paths.data_dir={data}", f"hydra.run.dir={tmp_path / 'run'}", "dataset.num_atoms=30",
        "dataset.graph=knn", "dataset.suffix=_springs30_knn", "dataset.train_steps=9",
        "dataset.test_burn_in=9", "dataset.test_horizon=5", *chosen, "encoder.hidden=16", "decoder.hidden=16", "datamodule.batch_size=4",
        "trainer.max_epochs=1", "trainer.enable_progress_bar=false", "threads=1",
        "model.prediction_steps=3"]
    out = subprocess.run([sys.executable, "-m", "nri.train", *overrides], cwd=ROOT,
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())["metrics"]
    for key in ("val/candidate_recall", "test/candidate_recall", "test/auroc", "test/auprc",
                "test/f1", "test/edge_acc", "test/mse_5"):
        assert key in metrics, key
    assert 0.0 <= metrics["test/auroc"] <= 1.0
    if "model.candidates=given" in chosen:  # the true graph given as the candidates
        assert metrics["test/candidate_recall"] == 1.0
    else:
        assert 0.3 < metrics["test/candidate_recall"] <= 1.0


def _saved_for_backward(module: NRIModule, n: int) -> int:
    """Elements autograd keeps for the backward pass of one training step on n objects."""
    saved = []

    def keep(tensor):
        saved.append(tensor.numel())
        return tensor

    batch = module.with_candidates({"x": torch.randn(2, n, 15, 4)}, 15)
    with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
        edges = F.gumbel_softmax(module._logits(batch, 15), tau=0.5)
        module.decode(batch["x"], edges, 3, candidates=candidates_of(batch))
    return sum(saved)


@pytest.mark.parametrize(("candidates", "low", "high"), [("knn", 3.5, 4.5), ("all", 14.0, 18.0)])
def test_memory_grows_with_the_edges(candidates, low, high):
    sizes = []
    for n in (20, 80):
        ds = {**TINY_DATASET, "num_atoms": n}
        module = NRIModule(ds, {"candidates": candidates, "candidate_k": 5}, MLP, MLP)
        sizes.append(_saved_for_backward(module, n))
    # 4x the objects: 4x the candidate edges (fixed k), ~16x the pairs
    assert low < sizes[1] / sizes[0] < high


def test_candidates_need_encoders_and_decoders_that_take_them():
    with pytest.raises(ValueError, match="runs on all pairs only"):
        NRIModule(TINY_DATASET, {"candidates": "knn", "candidate_k": 3}, MLP,
                  {"name": "history", "hidden": 8, "history": 3, "memory": None})
    with pytest.raises(ValueError, match="dynamic_graph"):
        NRIModule(TINY_DATASET, {"candidates": "knn", "dynamic_graph": {"test": True}}, MLP,
                  {"name": "rnn", "hidden": 8})
    with pytest.raises(ValueError, match="needs model.graph=learned"):
        NRIModule(TINY_DATASET, {"candidates": "knn", "graph": "true", "objective": "nll"}, MLP, MLP)
    with pytest.raises(ValueError, match="model.candidates must be one of"):
        NRIModule(TINY_DATASET, {"candidates": "nearest"}, MLP, MLP)


def test_edge_lists_on_all_pairs_report_accuracy_and_auroc_over_all_pairs():
    module = NRIModule(TINY_DATASET, {}, MLP, MLP)
    module.log = lambda *args, **kwargs: None  # no trainer attached
    batch = {"x": torch.randn(3, 5, 15, 4),
             "edge_index": torch.tensor([[[0, 1, -1], [1, 0, -1]]] * 3)}  # 0 <-> 1, padded
    logits = module._logits(batch, 15)
    module._update_edge_metrics(batch, logits)
    out = module._log_edge_metrics("val")
    dense = torch.zeros(3, 20, dtype=torch.long)
    dense[:, [4, 0]] = 1  # edge order: (receiver 1, sender 0) is edge 4, (0, 1) edge 0
    expected = (logits.argmax(-1) == dense).float().mean()
    assert out["val/edge_acc"] == pytest.approx(float(expected))
    assert {"val/auroc", "val/auprc", "val/f1", "val/candidate_recall"} <= set(out)


def test_supervised_on_all_pairs_as_candidates_is_todays_loss():
    batch = {"x": torch.randn(3, 5, 15, 4), "edges": torch.randint(0, 2, (3, 20))}
    losses = []
    for model in ({"objective": "supervised"},
                  {"objective": "supervised", "candidates": "knn", "candidate_k": 4}):
        torch.manual_seed(0)
        module = NRIModule(TINY_DATASET, model, MLP, None)
        with_candidates = module.with_candidates(batch, 15)
        losses.append(module.objective.training(module, with_candidates,
                                                module._logits(with_candidates, 15)))
    assert torch.equal(losses[0]["train/ce"], losses[1]["train/ce"])
    assert torch.equal(losses[0]["train/edge_acc"], losses[1]["train/edge_acc"])
