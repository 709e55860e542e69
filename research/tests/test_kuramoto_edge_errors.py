"""research/kuramoto_edge_errors.py: a Kuramoto encoder's edge accuracy split by frequency gap and in-degree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.hydra_utils import tiny_train_cfg
from tests.script_loader import load_script

ROOT = Path(__file__).resolve().parents[2]


def _script():
    return load_script("kuramoto_edge_errors", "research")


def _groups(rows):
    return {name.strip(): (count, acc) for name, count, acc in rows}


def test_breakdown_counts_pairs_per_gap_and_in_degree():
    ke = _script()
    # 3 objects, edges in edge_index order: (s0->r1), (s0->r2), (s1->r0), (s1->r2), (s2->r0), (s2->r1)
    # as the dataset's labels are: receiver-major over the off-diagonal
    from nri.models.graph import edge_index
    senders, receivers = (t.tolist() for t in edge_index(3))
    labels = np.zeros((1, 6), dtype=np.int64)
    drivers_of_0 = [e for e, r in enumerate(receivers) if r == 0]
    labels[0, drivers_of_0] = 1                      # object 0 is driven by 1 and 2; nothing else
    prob = labels.astype(float) * 0.9 + 0.05
    wrong = drivers_of_0[0]
    prob[0, wrong] = 0.2                             # one true edge missed
    omega = np.array([[1.0, 1.2, 5.0]])
    out = ke.breakdown(prob, labels, omega, gap_bins=(0.0, 1.0, np.inf))
    overall = _groups(out["overall"])
    assert overall["all pairs"] == (6, pytest.approx(5 / 6))
    assert overall["true edges"] == (2, pytest.approx(0.5))
    assert overall["non-edges"] == (4, pytest.approx(1.0))
    gaps = _groups(out["by_gap"])
    near = [e for e in range(6) if abs(omega[0, senders[e]] - omega[0, receivers[e]]) < 1.0]
    assert gaps["|Δω| in [0, 1)"][0] == len(near) == 2   # the pair (0, 1) both ways
    degree = _groups(out["by_in_degree"])
    assert degree["receiver in-degree 2"] == (2, pytest.approx(0.5))
    assert degree["receiver in-degree 0"] == (4, pytest.approx(1.0))
    assert "receiver in-degree 1" not in degree      # empty groups are left out


def test_breakdown_matches_the_types_the_better_way_round():
    ke = _script()
    labels = np.array([[1, 0, 0, 1, 1, 0]])
    out = ke.breakdown(1.0 - labels.astype(float), labels, np.zeros((1, 3)))
    assert _groups(out["overall"])["all pairs"] == (6, pytest.approx(1.0))


def test_breakdown_rejects_mismatched_shapes():
    ke = _script()
    with pytest.raises(ValueError, match="shapes disagree"):
        ke.breakdown(np.zeros((2, 6)), np.zeros((2, 6)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="4 objects have 12"):
        ke.breakdown(np.zeros((2, 6)), np.zeros((2, 6), dtype=np.int64), np.zeros((2, 4)))


def test_main_reads_a_trained_kuramoto_checkpoint(tmp_path):
    from nri.train import run

    data = tmp_path / "data"
    subprocess.run([sys.executable, "-m", "nri.generate", "dataset=kuramoto", "dataset.num_train=32",
                    "dataset.num_valid=16", "dataset.num_test=16", f"paths.data_dir={data}"],
                   check=True, cwd=ROOT, capture_output=True)
    run_dir = tmp_path / "run"
    run(tiny_train_cfg(data, run_dir, "dataset=kuramoto", "encoder=cnn", "test=false"))
    proc = subprocess.run([sys.executable, str(ROOT / "research" / "kuramoto_edge_errors.py"),
                           "--ckpt", str(run_dir / "checkpoints" / "best.ckpt"), "--data-dir", str(data)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "16 test simulations" in proc.stdout
    assert "320 pairs" in proc.stdout                 # 16 simulations x 20 ordered pairs
    assert "receiver in-degree" in proc.stdout and "|Δω| in [0, 0.5)" in proc.stdout
    proc = subprocess.run([sys.executable, str(ROOT / "research" / "kuramoto_edge_errors.py"),
                           "--ckpt", str(run_dir / "checkpoints" / "best.ckpt"), "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: missing data file") and "python -m nri.generate dataset=kuramoto" in proc.stderr


def test_main_refuses_a_checkpoint_of_another_dataset(tiny_springs, tmp_path):
    from nri.train import run

    ke = _script()
    run_dir = tmp_path / "springs_run"
    run(tiny_train_cfg(tiny_springs, run_dir, "test=false"))
    with pytest.raises(SystemExit, match="trained on 'springs'; this breakdown reads Kuramoto's ω"):
        ke.main(["--ckpt", str(run_dir / "checkpoints" / "best.ckpt"), "--data-dir", str(tiny_springs)])


def test_main_names_a_missing_checkpoint_in_one_line(tmp_path):
    with pytest.raises(SystemExit, match=r"^error: .*nowhere\.ckpt: no such checkpoint$"):
        _script().main(["--ckpt", str(tmp_path / "nowhere.ckpt"), "--data-dir", str(tmp_path)])
