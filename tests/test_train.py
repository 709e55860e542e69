"""End-to-end training through the real Hydra composition, on tiny springs data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hydra.core.global_hydra import GlobalHydra
from hydra_utils import compose_cfg, tiny_train_cfg

from nri.data.datamodule import DatasetError
from nri.train import run


@pytest.fixture(autouse=True)
def _clear_hydra():
    yield
    GlobalHydra.instance().clear()


@pytest.mark.parametrize("encoder", ["mlp", "cnn"])
@pytest.mark.parametrize("decoder", ["mlp", "rnn"])
def test_tiny_training_run_for_every_encoder_and_decoder(tiny_springs, tmp_path, encoder, decoder):
    cfg = tiny_train_cfg(tiny_springs, tmp_path, f"encoder={encoder}", f"decoder={decoder}", "logger=csv")
    results = run(cfg)
    assert 0.0 <= results["test/edge_acc"] <= 1.0
    assert len(results["test/mse"]) == 9 and all(np.isfinite(results["test/mse"]))
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["metrics"]["test/edge_acc"] == pytest.approx(results["test/edge_acc"])
    assert (tmp_path / "checkpoints" / "last.ckpt").exists()
    assert (tmp_path / "checkpoints" / "best.ckpt").exists()


def test_metrics_file_records_training_scalars_and_time(tiny_springs, tmp_path):
    import csv

    cfg = tiny_train_cfg(tiny_springs, tmp_path, "logger=csv", "trainer.max_epochs=3", "test=false")
    run(cfg)
    with open(tmp_path / "csv" / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("time/train_s")]
    seconds = [float(r["time/train_s"]) for r in rows]
    assert len(seconds) == 3 and seconds[0] > 0 and seconds == sorted(seconds), seconds
    assert all(r["val/edge_acc"] for r in rows)  # logged beside the validation metrics
    with open(tmp_path / "csv" / "metrics.csv") as f:
        every = list(csv.DictReader(f))
    epochs = [r for r in every if r.get("train/nll_epoch")]
    assert [int(r["epoch"]) for r in epochs] == [0, 1, 2]  # one epoch mean per epoch
    assert {"train/kl_epoch", "train/tau_epoch", "train/loss_epoch"} <= set(every[0])
    assert len([r for r in every if r.get("train/nll_step")]) == 3 * 64 // 16  # log_every_n_steps=1


@pytest.mark.slow
def test_training_learns_the_springs_graph(tmp_path_factory, tmp_path):
    """A few epochs on a thousand simulations already beat chance clearly."""
    from tiny_data import write_tiny_springs

    data = write_tiny_springs(tmp_path_factory.mktemp("learn"), sizes={
        "train": (1000, 2000), "valid": (100, 2000), "test": (100, 4000)})
    cfg = tiny_train_cfg(data, tmp_path, "dataset.train_steps=19", "dataset.test_burn_in=19",
                         "encoder.hidden=64", "decoder.hidden=64", "trainer.max_epochs=25",
                         "model.optimizer.lr=2e-3", "datamodule.batch_size=32", "logger=none",
                         "model.prediction_steps=10")
    results = run(cfg)
    assert results["test/edge_acc"] > 0.65, results  # chance is 0.5 (2000 test edges)


def test_resume_continues_step_count_and_temperature(tiny_springs, tmp_path):
    common = ["model.temperature.kind=exponential", "model.temperature.tau=2.0",
              "model.temperature.tau_final=0.5", "model.temperature.anneal_steps=20", "logger=none",
              "test=false"]
    first = tiny_train_cfg(tiny_springs, tmp_path / "a", *common, "trainer.max_epochs=2")
    run(first)
    ckpt = tmp_path / "a" / "checkpoints" / "last.ckpt"
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    steps_per_epoch = 64 // 16
    assert state["global_step"] == 2 * steps_per_epoch
    second = tiny_train_cfg(tiny_springs, tmp_path / "b", *common, "trainer.max_epochs=3",
                            f"ckpt_path={ckpt}")
    results = run(second)
    assert results["global_step"] == 3 * steps_per_epoch
    resumed = torch.load(tmp_path / "b" / "checkpoints" / "last.ckpt", map_location="cpu",
                         weights_only=True)
    assert resumed["epoch"] == 2
    from nri.models.schedules import temperature

    # the temperature is a function of the step, so the resumed run is where a straight run would be
    assert temperature(resumed["global_step"], "exponential", 2.0, 0.5, 20) == pytest.approx(
        temperature(3 * steps_per_epoch, "exponential", 2.0, 0.5, 20))
    assert "optimizer_states" in resumed and resumed["lr_schedulers"]


def test_eval_from_checkpoint_reproduces_test_metrics(tiny_springs, tmp_path):
    from nri.eval import evaluate

    cfg = tiny_train_cfg(tiny_springs, tmp_path / "train", "logger=none", "trainer.max_epochs=2")
    trained = run(cfg)
    best = json.loads((tmp_path / "train" / "metrics.json").read_text())["best_ckpt"]
    ecfg = compose_cfg("eval", [f"ckpt_path={best}", f"data_dir={tiny_springs}",
                                "trainer.enable_progress_bar=false"], tmp_path / "eval")
    torch.manual_seed(1)
    evaluated = evaluate(ecfg)
    assert evaluated["test/edge_acc"] == pytest.approx(trained["test/edge_acc"])
    np.testing.assert_allclose(evaluated["test/mse"], trained["test/mse"], rtol=1e-4)


def test_eval_overrides_only_evaluation_settings():
    from types import SimpleNamespace

    from nri.eval import apply_protocol_overrides

    module = SimpleNamespace(cfg={"eval_sample": "argmax", "var": 5e-5,
                                  "dynamic_graph": {"test": False, "source": "truth", "window": 49}})
    apply_protocol_overrides(module, {"dynamic_graph": {"test": True}, "eval_sample": "gumbel"})
    assert module.cfg["dynamic_graph"] == {"test": True, "source": "truth", "window": 49}
    assert module.cfg["eval_sample"] == "gumbel"
    with pytest.raises(DatasetError, match="may only set eval_sample, dynamic_graph.*got var"):
        apply_protocol_overrides(module, {"var": 1.0})
    assert module.cfg["var"] == 5e-5


def test_missing_data_names_the_generate_command(tmp_path):
    cfg = tiny_train_cfg(tmp_path / "nothing", tmp_path / "run")
    with pytest.raises(DatasetError, match="python -m nri.generate dataset=springs dataset.num_atoms=5"):
        run(cfg)


def test_wrong_num_atoms_is_named(tiny_springs, tmp_path):
    cfg = tiny_train_cfg(tiny_springs, tmp_path, "dataset.num_atoms=5", "dataset.suffix=_springs5",
                         "dataset.dims=4")
    cfg.dataset.num_atoms = 7
    with pytest.raises(DatasetError, match="has 5 objects.*num_atoms=7"):
        run(cfg)


def test_nan_and_bad_shapes_are_named(tiny_springs, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(tiny_springs, bad)
    loc = np.load(bad / "loc_train_springs5.npy")
    loc[3, 2, 0, 1] = np.nan
    np.save(bad / "loc_train_springs5.npy", loc)
    with pytest.raises(DatasetError, match="NaN or inf in 1 sample"):
        run(tiny_train_cfg(bad, tmp_path / "r1"))
    np.save(bad / "loc_train_springs5.npy", loc[:, :, :, :, None])
    with pytest.raises(DatasetError, match=r"expected \[S, T, d, N\]"):
        run(tiny_train_cfg(bad, tmp_path / "r2"))


def test_unknown_encoder_name_is_one_clear_error(tiny_springs, tmp_path):
    cfg = tiny_train_cfg(tiny_springs, tmp_path)
    cfg.encoder.name = "transformer"
    with pytest.raises(ValueError, match="unknown encoder name 'transformer'"):
        run(cfg)


def test_compile_setting_reaches_torch_compile_as_its_mode(tiny_springs, tmp_path, monkeypatch):
    from nri.build import build_module, compile_mode

    assert compile_mode(False) is False and compile_mode(None) is False
    assert compile_mode(True) is None  # torch's default mode
    seen = []
    monkeypatch.setattr(torch, "compile", lambda module, mode=None: seen.append(mode) or module)
    cfg = tiny_train_cfg(tiny_springs, tmp_path, "compile=max-autotune-no-cudagraphs")
    build_module(cfg, None)
    assert seen == ["max-autotune-no-cudagraphs"] * 2  # encoder and decoder


@pytest.mark.parametrize(("setting", "message"), [
    ("fastest", "compile='fastest': use false, true, or a torch.compile mode"),
    ("reduce-overhead", "compile='reduce-overhead' replays CUDA graphs, which nri.train does not support"),
])
def test_unsupported_compile_modes_are_refused_before_any_work(tmp_path, setting, message):
    cfg = tiny_train_cfg(tmp_path / "no_data_needed", tmp_path / "run", f"compile={setting}")
    with pytest.raises(ValueError, match=message):
        run(cfg)
    assert not (tmp_path / "run").exists()


def test_cpu_optimizer_keeps_the_default_implementation():
    from tiny_data import TINY_DATASET

    from nri.models.module import NRIModule

    module = NRIModule(TINY_DATASET, {}, {"name": "mlp", "hidden": 8}, {"name": "mlp", "hidden": 8})
    assert module.configure_optimizers().defaults["fused"] is None  # fused only on a GPU
