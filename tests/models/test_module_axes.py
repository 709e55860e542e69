"""NRIModule's two axes, its torchmetrics metrics, its optimiser from config, and compile + RNN."""

from __future__ import annotations

import functools

import pytest
import torch
from hydra_utils import tiny_train_cfg
from tiny_data import TINY_DATASET

from nri import metrics
from nri.metrics import EdgeMetrics, ForecastMSE
from nri.models.module import NRIModule

MLP = {"name": "mlp", "hidden": 8}
RNN = {"name": "rnn", "hidden": 8}


@pytest.mark.parametrize("k", [2, 3])
def test_edge_metrics_equal_the_confusion_count_and_auroc_functions(k):
    gen = torch.Generator().manual_seed(k)
    batches = [(torch.randn(6, 20, k, generator=gen).round(decimals=1),  # rounding makes ties
                torch.randint(0, k, (6, 20), generator=gen)) for _ in range(4)]
    metric = EdgeMetrics(k)
    for logits, labels in batches:
        metric.update(logits, labels)
    got = metric.compute()
    counts = sum(metrics.confusion_counts(lg.argmax(-1), lb, k) for lg, lb in batches)
    perm, acc_perm = metrics.best_permutation(counts)
    assert got["acc"] == float(counts.diagonal().sum()) / float(counts.sum())
    assert got["acc_perm"] == acc_perm and got["perm"] == perm
    if k == 2:
        scores = torch.cat([lg.softmax(-1)[..., 1].reshape(-1) for lg, _ in batches])
        labels = torch.cat([lb.reshape(-1) for _, lb in batches])
        assert got["auroc"] == metrics.auroc(scores, labels)
    else:
        assert "auroc" not in got


def test_forecast_mse_weighs_samples_equally_across_batches():
    gen = torch.Generator().manual_seed(0)
    pairs = [(torch.randn(b, 5, 4, 2, generator=gen), torch.randn(b, 5, 4, 2, generator=gen))
             for b in (3, 7, 1)]
    metric = ForecastMSE(4)
    for p, t in pairs:
        metric.update(p, t)
    expected = sum(metrics.mse_per_horizon(p, t) * p.shape[0] for p, t in pairs) / 11.0
    assert torch.equal(metric.compute(), expected)
    preds = torch.cat([p for p, _ in pairs])
    targets = torch.cat([t for _, t in pairs])
    torch.testing.assert_close(metric.compute(), metrics.mse_per_horizon(preds, targets))


@pytest.mark.parametrize(("graph", "objective", "message"), [
    ("true", "elbo", "objective=elbo needs the learned graph"),
    ("none", "supervised", "objective=supervised needs the learned graph"),
    ("sometimes", "nll", "model.graph must be one of"),
    ("learned", "mse", "model.objective must be one of"),
])
def test_axis_combinations_without_meaning_are_refused(graph, objective, message):
    with pytest.raises(ValueError, match=message):
        NRIModule(TINY_DATASET, {"graph": graph, "objective": objective}, MLP, MLP)


@pytest.mark.parametrize(("graph", "objective", "has_encoder", "has_decoder"), [
    ("learned", "elbo", True, True), ("true", "nll", False, True), ("full", "nll", False, True),
    ("none", "nll", False, True), ("learned", "supervised", True, False)])
def test_each_combination_builds_what_it_needs(graph, objective, has_encoder, has_decoder):
    module = NRIModule(TINY_DATASET, {"graph": graph, "objective": objective}, MLP, MLP)
    assert (module.encoder is not None, module.decoder is not None) == (has_encoder, has_decoder)


def test_optimizer_and_scheduler_come_from_config():
    model = {"optimizer": {"_target_": "torch.optim.SGD", "lr": 0.1, "weight_decay": 0.01},
             "scheduler": None}
    module = NRIModule(TINY_DATASET, model, MLP, MLP)
    optimizer = module.configure_optimizers()
    assert isinstance(optimizer, torch.optim.SGD)
    assert optimizer.defaults["lr"] == 0.1 and optimizer.defaults["weight_decay"] == 0.01
    cosine = NRIModule(TINY_DATASET, {"scheduler": {"_target_": "torch.optim.lr_scheduler.CosineAnnealingLR",
                                                    "_partial_": True, "T_max": 7, "eta_min": 1e-5}}, MLP, MLP)
    scheduler = cosine.configure_optimizers()["lr_scheduler"]["scheduler"]
    assert isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR)
    assert (scheduler.T_max, scheduler.eta_min) == (7, 1e-5)


def test_a_legacy_scheduler_setting_becomes_the_node_it_meant():
    """Checkpoints from before the partial node saved ``scheduler: {name, step_size, ...}``."""
    legacy = {"name": "cosine", "step_size": 200, "gamma": 0.5, "t_max": 9, "eta_min": 0.0}
    scheduler = NRIModule(TINY_DATASET, {"scheduler": legacy}, MLP, MLP).configure_optimizers()
    assert type(scheduler["lr_scheduler"]["scheduler"]) is torch.optim.lr_scheduler.CosineAnnealingLR
    assert scheduler["lr_scheduler"]["scheduler"].T_max == 9
    constant = NRIModule(TINY_DATASET, {"scheduler": {**legacy, "name": "none"}}, MLP, MLP)
    assert isinstance(constant.configure_optimizers(), torch.optim.Adam)


def test_checkpoint_keeps_plain_hyperparameters_and_loads(tmp_path):
    module = NRIModule(TINY_DATASET, {"kl_weight": 0.5}, MLP, MLP)
    path = tmp_path / "m.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams),
                "pytorch-lightning_version": "2.6.0"}, path)
    saved = torch.load(path, weights_only=True)["hyper_parameters"]  # plain values only
    assert saved["model"] == {"kl_weight": 0.5}
    loaded = NRIModule.load_from_checkpoint(path, map_location="cpu")
    assert loaded.cfg == module.cfg and loaded.cfg["optimizer"]["_target_"] == "torch.optim.Adam"
    for (name, a), (_, b) in zip(module.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def _rnn_batch():
    torch.manual_seed(0)
    return {"x": torch.randn(2, 5, 25, 4), "edges": torch.randint(0, 2, (2, 20))}


def _compiled_rnn_module(tiny_springs, tmp_path, monkeypatch, backend: str | None):
    from nri.build import build_module

    if backend is not None:  # a fast backend: the wrapper, hence the lost class name, is the same
        monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend=backend))
    cfg = tiny_train_cfg(tiny_springs, tmp_path, "decoder=rnn", "compile=true")
    return build_module(cfg, None)


def _check_recurrent_path(module):
    assert type(module.decoder).__name__ != "RNNDecoder"  # torch.compile's wrapper
    assert module.recurrent
    eager = type(module.decoder._orig_mod)  # the same weights, uncompiled
    assert eager.recurrent
    module.eval()
    batch = _rnn_batch()
    with torch.no_grad():
        edges = module.eval_edges(module.encode(batch["x"][:, :, :15]))
        compiled = module.forecast(batch["x"], edges, 15, 9)
        reference = module.decoder._orig_mod(batch["x"][:, :, :25], edges, 1, 15)[:, :, 15:24]
    torch.testing.assert_close(compiled, reference)


def test_compiled_rnn_decoder_takes_the_recurrent_path(tiny_springs, tmp_path, monkeypatch):
    _check_recurrent_path(_compiled_rnn_module(tiny_springs, tmp_path, monkeypatch, "eager"))


@pytest.mark.slow
def test_compiled_rnn_decoder_with_inductor_takes_the_recurrent_path(tiny_springs, tmp_path, monkeypatch):
    _check_recurrent_path(_compiled_rnn_module(tiny_springs, tmp_path, monkeypatch, None))
