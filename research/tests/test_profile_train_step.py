"""research/profile_train_step.py: a step time and a profile, and a clear refusal of bad input."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(ROOT / "research" / "profile_train_step.py")


def test_prints_the_step_time_and_the_profile():
    proc = subprocess.run([sys.executable, SCRIPT, "--steps", "3", "--top", "5"], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    head = re.search(r"# mlp/mlp, hidden 8, batch 8, \d+ threads: ([\d.]+) ms per training step "
                     r"\(([\d.]+) ms under cProfile\)", proc.stdout)
    assert head and float(head.group(1)) > 0 and float(head.group(2)) > 0, proc.stdout[:500]
    assert "Ordered by: cumulative time" in proc.stdout and "(fit)" in proc.stdout  # Lightning's fit on top


def test_refuses_sizes_below_one():
    for flag in ("--steps", "--hidden", "--batch-size"):
        proc = subprocess.run([sys.executable, SCRIPT, flag, "0"], capture_output=True, text=True,
                              cwd=ROOT, timeout=120)
        assert proc.returncode == 2 and f"{flag} must be at least 1, got 0" in proc.stderr


def test_refuses_a_malformed_or_unknown_pair():
    for pair in ("mlp", "mlp/foo"):
        proc = subprocess.run([sys.executable, SCRIPT, "--pair", pair], capture_output=True, text=True,
                              cwd=ROOT, timeout=120)
        assert proc.returncode == 2 and f"pair '{pair}': give ENCODER/DECODER" in proc.stderr
