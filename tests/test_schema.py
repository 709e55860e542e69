"""The config schema: one home for the defaults, bad keys and types refused with one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra_utils import compose_cfg
from tiny_data import TINY_DATASET

from nri.config_errors import ConfigError
from nri.models.module import NRIModule, model_settings

ROOT = Path(__file__).resolve().parents[1]
ENC = {"name": "mlp", "hidden": 8}


def _train(tmp_path: Path, *overrides: str, config_dir: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env["PYTHONPATH"] = str(ROOT)
    extra = ["--config-dir", str(config_dir)] if config_dir else []
    return subprocess.run([sys.executable, "-m", "nri.train", *extra, f"paths.data_dir={tmp_path}",
                           f"hydra.run.dir={tmp_path / 'run'}", *overrides],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


@pytest.mark.parametrize(("override", "named"), [
    ("+model.kl_wieght=1", "model.kl_wieght"),
    ("model.kl_weight=abc", "model.kl_weight"),
    ("trainer.max_epochs=abc", "trainer.max_epochs"),
    ("+trainer.max_epoch=3", "trainer.max_epoch"),
    ("threads=many", "threads"),
    ("+seeed=1", "seeed"),
])
def test_bad_key_or_type_is_refused_with_one_line(tmp_path, override, named):
    proc = _train(tmp_path, override)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and "Traceback" not in proc.stderr, proc.stderr


def test_typo_in_an_experiment_file_is_refused_with_one_line(tmp_path):
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    (tmp_path / "conf" / "experiment" / "typo.yaml").write_text(
        "# @package _global_\nmodel:\n  kl_wieght: 0.5\n")
    proc = _train(tmp_path, "experiment=typo", config_dir=tmp_path / "conf")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "kl_wieght" in lines[0], proc.stderr


def test_module_built_in_code_gets_the_composed_defaults(tmp_path):
    """The same settings whether a module is built from {} or from the composed YAML (skip_first
    included, which once differed)."""
    composed = compose_cfg("train", [], tmp_path)
    from nri.plain import plain

    from_yaml = plain(composed.model)
    in_code = model_settings({})
    for key in ("skip_first", "kl_weight", "hard", "eval_sample", "temperature", "optimizer"):
        assert in_code[key] == from_yaml[key], key
    # the schedule is a config group's choice (conf/model/nri.yaml); a module in code has none
    assert from_yaml["scheduler"]["_target_"] == "torch.optim.lr_scheduler.StepLR" and in_code["scheduler"] is None
    assert in_code["skip_first"] is True
    assert NRIModule(TINY_DATASET, {}, ENC, ENC).cfg["skip_first"] is True


def test_module_refuses_an_unknown_model_option():
    with pytest.raises(ConfigError, match="model.kl_wieght"):
        NRIModule(TINY_DATASET, {"kl_wieght": 1.0}, ENC, ENC)
    with pytest.raises(ConfigError, match="model.hard"):
        NRIModule(TINY_DATASET, {"hard": "sometimes"}, ENC, ENC)
