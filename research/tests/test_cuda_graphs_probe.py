"""research/cuda_graphs_probe.py: its stages run (here on the CPU, uncompiled) and say so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(ROOT / "research" / "cuda_graphs_probe.py")


def test_stages_run_and_report_on_the_cpu():
    proc = subprocess.run([sys.executable, SCRIPT, "--device", "cpu", "--mode", "none"], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "== fit without validation: ok" in proc.stdout
    assert "test from the best checkpoint: ok, edge accuracy" in proc.stdout
    assert proc.stdout.rstrip().endswith("failed stages: none")


def test_unknown_mode_is_refused():
    proc = subprocess.run([sys.executable, SCRIPT, "--mode", "fastest"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and "invalid choice: 'fastest'" in proc.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal where no GPU is present")
def test_cuda_without_a_gpu_is_refused():
    proc = subprocess.run([sys.executable, SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and "torch sees no CUDA device" in proc.stderr
