"""scripts/bench_train.py: nri's training-step throughput, timed over exactly the steps it names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_times_exactly_the_timed_steps_with_micro_batches(tmp_path):
    """The clock starts once, at the first micro-batch of the first timed step."""
    import json

    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from bench_train import make_data
    finally:
        sys.path.pop(0)
    make_data(tmp_path, 40)
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_train.py"), "--one", "mlp/mlp",
                           "--data-dir", str(tmp_path), "--steps", "3", "--warmup", "2", "--batch-size", "8",
                           "--hidden", "16", "--micro-batches", "4"],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["micro_batches"] == 4 and result["timed_samples"] == 3 * 8
    assert result["clock_starts"] == 1


def test_bench_rejects_micro_batches_that_do_not_split_the_batch():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_train.py"), "--batch-size", "8",
                           "--micro-batches", "cnn/mlp=3"], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert proc.returncode == 2 and "does not split into 3 equal micro-batches" in proc.stderr


def test_bench_rejects_zero_repeats():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_train.py"), "--repeats", "0"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and "--repeats must be at least 1" in proc.stderr


def test_bench_rejects_a_compile_mode_without_compile_and_a_bad_pair():
    cases = [(["--compile-mode", "default"], "--compile-mode needs --compile"),
             (["--pairs", "mlp/foo"], "pair 'mlp/foo': give ENCODER/DECODER")]
    for flags, message in cases:
        proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_train.py"), *flags],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr[-500:]


@pytest.mark.slow
def test_bench_reports_the_median_of_its_rounds():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_train.py"), "--pairs", "mlp/mlp",
                           "--steps", "1", "--warmup", "1", "--batch-size", "8", "--hidden", "16",
                           "--num-train", "40", "--micro-batches", "2", "--repeats", "2"],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = next(line for line in proc.stdout.splitlines() if line.startswith("| mlp/mlp"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    # pair, micro-batches, decoder chunks, samples/s, …
    assert len(cells) == 6 and cells[1] == "2" and cells[2] == "1" and float(cells[3]) > 0
    assert "# medians of 2 rounds" in proc.stdout
