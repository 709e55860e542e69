"""The pretrained models shipped in nri/pretrained/: small, valid checkpoints, loadable by name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra_utils import compose_cfg, tiny_train_cfg
from script_loader import load_script
from tiny_data import write_tiny_springs

import nri
from nri.checkpoints import DATAMODULE_STATE, read_checkpoint
from nri.data.datamodule import edge_labels
from nri.data.errors import InputError
from nri.data.sim.simulate import simulate_springs
from nri.pretrained import PRETRAINED_DIR, checkpoint_file, names

ROOT = Path(__file__).resolve().parents[1]
SPRINGS5 = PRETRAINED_DIR / "springs5.ckpt"
SIZE_LIMIT = 2_000_000  # bytes: it ships in every install


def run_module(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=300)


def test_springs5_is_small_passes_the_checks_and_records_its_test_metrics():
    assert "springs5" in names()
    assert SPRINGS5.stat().st_size < SIZE_LIMIT
    ckpt = read_checkpoint(SPRINGS5)  # weights-only loading and the weight checks
    assert "optimizer_states" not in ckpt
    assert ckpt[DATAMODULE_STATE]["data_dir"] is None  # no folder of the machine that trained it
    card = json.loads(SPRINGS5.with_suffix(".json").read_text())
    assert card["metrics"]["test/edge_acc"] >= 0.9
    assert card["data"]["split_sizes"]["train"] == ckpt["hyper_parameters"]["dataset"]["num_train"]
    assert any("experiment=pretrained_springs5" in cmd for cmd in card["made_by"])


def test_load_model_by_name_finds_the_springs_of_new_simulations():
    model = nri.load_model("springs5")
    loc, vel, edges = simulate_springs(20, 5, 5000, 100, np.random.default_rng(7))
    x = np.concatenate([loc, vel], axis=2).transpose(0, 3, 1, 2)  # [S, T, 4, N] -> [S, N, T, 4]
    prob = nri.infer_graph(model, x)  # [S, E, 2]; type 0 = no interaction (skip_first)
    accuracy = (prob.argmax(-1) == edge_labels(edges)).mean()  # edges [S, N, N] -> labels [S, E]
    assert accuracy > 0.85


def test_unknown_name_lists_the_known_ones(tmp_path):
    with pytest.raises(InputError, match="the pretrained models are springs5"):
        nri.load_model("springs50")
    assert checkpoint_file("springs5") == SPRINGS5
    missing = tmp_path / "run" / "best.ckpt"
    assert checkpoint_file(missing) == missing  # a path stays a path (its loader says it is missing)

    proc = run_module("nri.infer", "ckpt=nosuch", "input=x.csv", cwd=tmp_path)
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: nosuch: no such checkpoint file or pretrained model; the pretrained models "
                      f"are {', '.join(names())}, or give the path of a .ckpt file"], proc.stderr


def test_nri_infer_with_ckpt_springs5_from_any_folder_prints_the_true_springs(tmp_path):
    script = ROOT / "scripts" / "springs_to_csv.py"
    made = subprocess.run([sys.executable, str(script), "system.csv", "--sequences", "6", "--frames", "49",
                           "--edges-out", "springs.csv"], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert made.returncode == 0, made.stderr
    proc = run_module("nri.infer", "ckpt=springs5", "input=system.csv", "edges=springs.csv", "out_dir=out",
                      cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    true = {(int(r.split(",")[1]), int(r.split(",")[2]))
            for r in (tmp_path / "springs.csv").read_text().splitlines()[1:]}
    listed = [line.split() for line in proc.stdout.splitlines() if " -> " in line]
    strongest = {(int(s), int(r)) for s, _, r, *_ in listed[:len(true)]}
    assert strongest == true, proc.stdout
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["ckpt_path"] == str(SPRINGS5)


def test_nri_eval_with_ckpt_springs5_on_generated_data(tmp_path):
    from nri.eval import evaluate

    data = write_tiny_springs(tmp_path / "data", sizes={"train": (32, 5000), "valid": (16, 5000),
                                                         "test": (32, 10000)})
    cfg = compose_cfg("eval", ["ckpt=springs5", f"data_dir={data}", "trainer.enable_progress_bar=false"],
                      tmp_path / "eval")
    torch.manual_seed(0)
    results = evaluate(cfg)
    assert results["test/edge_acc"] > 0.85
    assert cfg.ckpt_path == str(SPRINGS5)


def test_ckpt_and_ckpt_path_naming_two_checkpoints_is_refused(tmp_path):
    from nri.errors import ConfigError
    from nri.pretrained import choose_checkpoint

    cfg = compose_cfg("infer", ["ckpt=springs5", "ckpt_path=other.ckpt", "input=x.csv"], tmp_path)
    with pytest.raises(ConfigError, match="name two checkpoints"):
        choose_checkpoint(cfg)


def test_train_pretrained_ships_a_slim_checkpoint_with_its_card(tiny_springs, tmp_path, monkeypatch):
    from nri.train import run

    script = load_script("train_pretrained")
    data, runs = Path("data/pretrained/springs5"), Path("outputs/pretrained/springs5")
    generate, train = script.commands("springs5", data, runs)
    assert "dataset.num_train=5000" in generate and "experiment=pretrained_springs5" in train

    run(tiny_train_cfg(tiny_springs, tmp_path / "run", "logger=none"))
    monkeypatch.setattr(script, "PRETRAINED_DIR", tmp_path / "shipped")
    (tmp_path / "shipped").mkdir()
    out = script.ship("tiny", tmp_path / "run", ["python -m nri.train …"])
    full = torch.load(json.loads((tmp_path / "run" / "metrics.json").read_text())["best_ckpt"],
                      weights_only=True)
    slim = read_checkpoint(out)
    assert "optimizer_states" in full and "optimizer_states" not in slim
    assert slim[DATAMODULE_STATE]["data_dir"] is None
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["made_by"] == ["python -m nri.train …"] and "test/edge_acc" in card["metrics"]
    assert sorted(p.name for p in (tmp_path / "shipped").iterdir()) == ["tiny.ckpt", "tiny.json"]  # no .part
