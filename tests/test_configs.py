"""Every option of every config group composes, and its parts instantiate."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import hydra
import pytest
import torch
from hydra.core.global_hydra import GlobalHydra
from hydra_utils import CONF, compose_cfg

from nri.build import build_module, build_trainer

GROUPS = ["dataset", "encoder", "decoder", "model", "trainer", "logger", "callbacks", "datamodule", "debug",
          "model/scheduler"]
NORM = {"kind": "locvel", "loc_min": -1.0, "loc_max": 1.0, "vel_min": -1.0, "vel_max": 1.0}


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (Path(CONF) / group).glob("*.yaml"))


@pytest.fixture(autouse=True)
def _clear_hydra():
    yield
    GlobalHydra.instance().clear()


CASES = [(g, o) for g in GROUPS for o in options(g)]


@pytest.mark.parametrize(("group", "option"), CASES, ids=[f"{g}={o}" for g, o in CASES])
def test_option_composes_and_instantiates(group, option, tmp_path):
    if (group, option) == ("encoder", "corr_lstm"):
        pytest.skip("Corr. (LSTM) loads a trained LSTM (single) checkpoint; tests/models/test_baselines.py covers it")
    overrides = [f"{group}={option}", f"paths.data_dir={tmp_path}"]
    if (group, option) == ("dataset", "custom"):  # what prepare_custom reads from the file
        overrides += ["dataset.path=trajectories.csv", "dataset.num_atoms=5", "dataset.dims=4",
                      "dataset.suffix=_custom", "dataset.has_edges=false"]
    if group == "model" and option in ("forecast",):
        overrides.append("decoder=lstm_single")
    cfg = compose_cfg("train", overrides, tmp_path)
    if group == "trainer" and cfg.trainer.get("accelerator") == "gpu":
        pytest.skip("GPU trainer configs are instantiated only where a GPU exists (tests marked gpu)")
    if group == "trainer" and cfg.trainer.get("strategy") == "ddp":
        cfg.trainer.accelerator = "cpu"
    datamodule = hydra.utils.instantiate(cfg.datamodule, _convert_="all")
    assert datamodule.ds["name"] == cfg.dataset.name
    module = build_module(cfg, NORM)
    assert module.graph in ("learned", "true", "full", "none")
    module.configure_optimizers()  # the optimizer and scheduler nodes instantiate
    trainer = build_trainer(cfg)
    assert trainer is not None


@pytest.mark.parametrize("option", options("experiment"))
def test_experiment_composes(option, tmp_path):
    cfg = compose_cfg("train", [f"experiment={option}", f"paths.data_dir={tmp_path}"], tmp_path)
    build_module(cfg, NORM)


@pytest.mark.parametrize(("overrides", "schedule"), [
    ([], torch.optim.lr_scheduler.StepLR),
    (["model/scheduler=cosine", "trainer.max_epochs=7"], torch.optim.lr_scheduler.CosineAnnealingLR),
    (["model.scheduler=null"], None),
    (["experiment=table1_springs", "row=nri_learned", "profile=quick"], torch.optim.lr_scheduler.CosineAnnealingLR),
    (["experiment=table1_springs", "row=supervised", "profile=paper"], torch.optim.lr_scheduler.StepLR),
])
def test_the_scheduler_comes_from_its_group_or_the_profile(overrides, schedule, tmp_path):
    cfg = compose_cfg("train", [*overrides, f"paths.data_dir={tmp_path}"], tmp_path)
    configured = build_module(cfg, NORM).configure_optimizers()
    if schedule is None:
        assert isinstance(configured, torch.optim.Adam)
        return
    scheduler = configured["lr_scheduler"]["scheduler"]
    assert type(scheduler) is schedule
    if schedule is torch.optim.lr_scheduler.CosineAnnealingLR:
        assert scheduler.T_max == cfg.trainer.max_epochs
    else:
        assert (scheduler.step_size, scheduler.gamma) == (200, 0.5)


def test_eval_and_generate_configs_compose(tmp_path):
    cfg = compose_cfg("eval", ["ckpt_path=x.ckpt"], tmp_path)
    assert cfg.split == "test"
    for name in options("dataset"):
        gen = compose_cfg("generate", [f"dataset={name}"], tmp_path)
        # a variant (springs_100) names the simulator it builds on
        assert gen.dataset.name == name or name.startswith(f"{gen.dataset.name}_")


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent namespace package is missing too
        return False


@pytest.mark.skipif(not _installed("hydra_plugins.hydra_optuna_sweeper"),
                    reason="the optional [optuna] extra is not installed")
def test_optuna_search_composes(tmp_path):
    cfg = compose_cfg("train", ["hparams_search=optuna", f"paths.data_dir={tmp_path}"], tmp_path)
    assert "optuna" in cfg.hydra.sweeper._target_.lower()
