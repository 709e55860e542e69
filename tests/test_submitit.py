"""The SLURM path (``hydra/launcher=submitit_slurm``) through its local twin, ``submitit_local``:
the same launcher plugin pickles each job of a sweep and runs it in its own process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hydra_utils import TINY_OVERRIDES

pytest.importorskip("hydra_plugins.hydra_submitit_launcher",
                    reason="the submitit launcher is not installed (pip install -e '.[slurm]')")


@pytest.mark.slow
def test_two_job_sweep_through_the_submitit_launcher(tiny_springs, tmp_path):
    cmd = [sys.executable, "-m", "nri.train", "-m", "hydra/launcher=submitit_local",
           "hydra.launcher.timeout_min=10", f"hydra.sweep.dir={tmp_path}", "debug=fast",
           f"paths.data_dir={tiny_springs}", *TINY_OVERRIDES, "threads=1", "seed=1,2"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    # submitit keeps each job's logs (and its pickled call) under .submitit/
    assert list((tmp_path / ".submitit").glob("*/*_result.pkl")), "submitit ran no job"
    for job, seed in (("0", 1), ("1", 2)):
        metrics = json.loads((tmp_path / job / "metrics.json").read_text())["metrics"]
        assert 0 <= metrics["test/edge_acc"] <= 1
        assert f"seed={seed}" in (tmp_path / job / ".hydra" / "overrides.yaml").read_text()
