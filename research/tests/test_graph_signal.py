"""research/graph_signal.py: the decoder-given-a-graph diagnostic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nri.models.graph import adjacency_to_edges
from tests.script_loader import load_script

ROOT = Path(__file__).resolve().parents[2]


def _script():
    return load_script("graph_signal", "research")


def test_graph_variants():
    gs = _script()
    adj = torch.zeros(1, 3, 3)
    adj[0, 0, 2] = 1  # oscillator 2 drives 0
    labels = adjacency_to_edges(adj)
    assert torch.equal(gs.given_graph(labels, "true", 3)[..., 1], labels)
    assert torch.equal(gs.given_graph(labels, "transposed", 3)[..., 1], adjacency_to_edges(adj.transpose(1, 2)))
    assert gs.given_graph(labels, "full", 3)[..., 1].sum() == 6
    assert gs.given_graph(labels, "empty", 3)[..., 1].sum() == 0
    with pytest.raises(ValueError, match="unknown graph variant"):
        gs.given_graph(labels, "random", 3)


def test_prints_one_mse_per_feature_and_graph(tmp_path):
    subprocess.run([sys.executable, "-m", "nri.generate", "dataset=kuramoto", "dataset.num_train=32",
                    "dataset.num_valid=16", "dataset.num_test=16", f"paths.data_dir={tmp_path}"],
                   check=True, cwd=ROOT, capture_output=True)
    proc = subprocess.run([sys.executable, str(ROOT / "research" / "graph_signal.py"), "--data-dir", str(tmp_path),
                           "--graphs", "true", "full", "--epochs", "1", "--hidden", "8"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("graph ")]
    assert "after 1 epochs" in lines[0]
    assert len(lines) == 2
    for line in lines:
        values = line.split("[")[1].split("]")[0].split()
        assert len(values) == 3 and all(float(v) >= 0 for v in values)


def test_unknown_graph_variant_stops_before_training(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "research" / "graph_signal.py"), "--data-dir", str(tmp_path),
                           "--graphs", "true", "random"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode != 0 and "unknown graph variant 'random'" in proc.stderr
