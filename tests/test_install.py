"""The console scripts work from any folder, in a wheel install and in an editable one.

Each install goes into a fresh virtual environment that sees this environment's packages
through a ``.pth`` file (so torch is not installed again) and is driven from a temporary folder
without ``PYTHONPATH``: what runs is the installed package and its packaged configs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["nri", "conf", "setup.py", "pyproject.toml", "README.md", "LICENSE"]
TINY_DATA = ["dataset=springs", "dataset.num_train=32", "dataset.num_valid=16", "dataset.num_test=16",
             "dataset.length=1600", "dataset.length_test=2600", "workers=1"]
TINY_MODEL = ["dataset.train_steps=15", "dataset.test_burn_in=15", "dataset.test_horizon=9",
              "encoder.hidden=16", "decoder.hidden=16", "datamodule.batch_size=16",
              "model.prediction_steps=3", "threads=1"]


def _copy_sources(dest: Path) -> Path:
    """The files a build reads, so that building leaves no ``build/`` or ``*.egg-info`` here."""
    dest.mkdir()
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def _fresh_venv(path: Path) -> Path:
    """A venv without pip whose ``.pth`` adds this environment's site-packages (torch & co)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # every site-packages folder this interpreter sees (its own, and any its .pth files add)
    parents = [p for p in sys.path if p.endswith(("site-packages", "dist-packages")) and Path(p).is_dir()]
    Path(purelib, "parent_env.pth").write_text("\n".join(parents) + "\n")
    return python


def _pip(venv_python: Path, *args: str) -> None:
    cmd = [sys.executable, "-m", "pip", "--python", str(venv_python), "install", "--no-deps",
           "--no-index", "--no-build-isolation", "--ignore-installed", "-q", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope="module", params=["wheel", "editable"])
def installed(request, tmp_path_factory) -> Path:
    """The ``bin/`` folder of a venv with nri installed as a wheel or editable."""
    pytest.importorskip("setuptools", reason="building nri without build isolation needs setuptools")
    base = tmp_path_factory.mktemp(request.param)
    sources = _copy_sources(base / "src")
    python = _fresh_venv(base / "venv")
    if request.param == "wheel":
        wheels = base / "wheels"
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                               "-q", "-w", str(wheels), str(sources)], capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        shutil.rmtree(sources)  # the wheel alone must suffice
        _pip(python, *map(str, wheels.glob("nri-*.whl")))
    else:
        _pip(python, "-e", str(sources))
    return python.parent


def _run(bin_dir: Path, script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run([str(bin_dir / script), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_installed_train_help_and_one_batch_from_any_folder(installed, tmp_path):
    help_run = _run(installed, "nri-train", "--help", cwd=tmp_path)
    assert help_run.returncode == 0, help_run.stderr[-3000:]
    assert "encoder: cnn" in help_run.stdout  # the config groups came from the packaged conf/

    gen = _run(installed, "nri-generate", *TINY_DATA, "paths.data_dir=data", cwd=tmp_path)
    assert gen.returncode == 0, gen.stderr[-3000:]
    train = _run(installed, "nri-train", "debug=fast", "paths.data_dir=data", *TINY_MODEL,
                 "hydra.run.dir=run", cwd=tmp_path)
    assert train.returncode == 0, train.stderr[-3000:]
    assert (tmp_path / "run" / "metrics.json").is_file()


@pytest.mark.slow
def test_installed_download_help(installed, tmp_path):
    proc = _run(installed, "nri-download", "--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "source_dir" in proc.stdout  # the packaged dataset config was composed


@pytest.mark.slow
def test_installed_plot_help(installed, tmp_path):
    proc = _run(installed, "nri-plot", "--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "run_dir" in proc.stdout


@pytest.mark.slow
def test_installed_infer_with_the_shipped_pretrained_model(installed, tmp_path):
    import numpy as np

    from nri.data.custom.trajectories import write_long_csv
    from nri.data.sim.simulate import simulate_springs

    loc, vel, _ = simulate_springs(4, 5, 5000, 100, np.random.default_rng(0))
    write_long_csv(tmp_path / "system.csv", np.concatenate([loc, vel], axis=2).transpose(0, 3, 1, 2),
                   ["x", "y", "vx", "vy"])
    proc = _run(installed, "nri-infer", "ckpt=springs5", "input=system.csv", "out_dir=out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "strongest edges" in proc.stdout and (tmp_path / "out" / "graph.png").is_file()
