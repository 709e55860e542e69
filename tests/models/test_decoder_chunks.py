"""model.decoder_chunks: the training step decoded in chunks gives the whole batch's loss and gradients."""

from __future__ import annotations

import pytest
import torch
from tiny_data import TINY_DATASET

from nri.models.decoder_chunks import chunk_slices
from nri.models.module import NRIModule


def test_chunk_slices_cover_the_batch_once():
    assert chunk_slices(10, 3) == [slice(0, 3), slice(3, 7), slice(7, 10)]
    assert chunk_slices(2, 5) == [slice(0, 1), slice(1, 2)]
    assert chunk_slices(7, 1) == [slice(0, 7)]


def _step(encoder: str, decoder: str, chunks: int, model: dict | None = None):
    """Loss, logged scalars and every parameter's gradient of one float64 training step."""
    torch.manual_seed(0)
    module = NRIModule(TINY_DATASET, {"decoder_chunks": chunks, **(model or {})},
                       {"name": encoder, "hidden": 16}, {"name": decoder, "hidden": 16}).double()
    module.train()
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(6, 5, 15, 4, generator=generator, dtype=torch.float64)
    edges = torch.randint(0, 2, (6, 20), generator=generator)
    torch.manual_seed(2)  # the same Gumbel noise in both runs
    log = module.step_loss({"x": x, "edges": edges})
    log["train/loss"].backward()
    grads = {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}
    stats = {n: b.clone() for n, b in module.named_buffers() if "running" in n}
    return log, grads, stats


@pytest.mark.parametrize("encoder,decoder", [("mlp", "mlp"), ("cnn", "mlp"), ("mlp", "rnn"), ("mpm", "history")])
def test_chunked_step_equals_the_whole_batch(encoder, decoder):
    whole_log, whole_grads, whole_stats = _step(encoder, decoder, 1)
    log, grads, stats = _step(encoder, decoder, 4)
    for key in ("train/loss", "train/nll", "train/mse", "train/kl"):
        torch.testing.assert_close(log[key], whole_log[key], rtol=1e-12, atol=1e-14)
    assert not log["train/mse"].requires_grad
    assert grads.keys() == whole_grads.keys()
    assert any(n.startswith("encoder.") for n in grads) and any(n.startswith("decoder.") for n in grads)
    for name, g in whole_grads.items():
        torch.testing.assert_close(grads[name], g, rtol=1e-10, atol=1e-12, msg=name)
    for name, s in whole_stats.items():  # the encoder's batch norm saw the whole batch once
        torch.testing.assert_close(stats[name], s, rtol=0, atol=0, msg=name)


def test_chunked_step_with_the_soft_symmetry_prior():
    whole_log, whole_grads, _ = _step("mlp", "mlp", 1, {"symmetry": "soft"})
    log, grads, _ = _step("mlp", "mlp", 3, {"symmetry": "soft"})
    torch.testing.assert_close(log["train/loss"], whole_log["train/loss"], rtol=1e-12, atol=1e-14)
    for name, g in whole_grads.items():
        torch.testing.assert_close(grads[name], g, rtol=1e-10, atol=1e-12, msg=name)


def test_evaluation_decodes_the_whole_batch():
    module = NRIModule(TINY_DATASET, {"decoder_chunks": 4}, {"name": "mlp", "hidden": 8},
                       {"name": "mlp", "hidden": 8})
    assert module.decoder_chunks(32) == 4
    with torch.no_grad():
        assert module.decoder_chunks(32) == 1


@pytest.mark.parametrize(("settings", "message"), [
    ({"decoder_chunks": 0}, "model.decoder_chunks must be auto or a positive integer, got 0"),
    ({"decoder_chunks": "many"}, "model.decoder_chunks must be auto or a positive integer, got 'many'"),
    ({"decoder_budget_mb": 0}, "model.decoder_budget_mb must be positive or null, got 0"),
])
def test_bad_chunk_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        NRIModule(TINY_DATASET, settings, {"name": "mlp", "hidden": 8}, {"name": "mlp", "hidden": 8})


def test_a_bad_chunk_setting_stops_nri_train_before_any_work(tmp_path):
    from hydra_utils import tiny_train_cfg

    from nri.train import run

    cfg = tiny_train_cfg(tmp_path / "no_data_needed", tmp_path / "run", "model.decoder_chunks=0")
    with pytest.raises(ValueError, match="model.decoder_chunks must be auto or a positive integer, got 0"):
        run(cfg)
    assert not (tmp_path / "run").exists()


def test_auto_measures_the_decoders_bytes_per_sample():
    from nri.models.decoder_chunks import chunks_within_budget, decoder_bytes_per_sample

    x = torch.randn(6, 5, 15, 4)
    edges = torch.full((6, 20, 2), 0.5)
    small, large = (decoder_bytes_per_sample(
        NRIModule(TINY_DATASET, {}, {"name": "mlp", "hidden": 8}, {"name": "mlp", "hidden": h}), x, edges)
        for h in (32, 64))
    frames = 14  # 15 frames, 14 predicted
    assert small >= 20 * frames * 32 * 4  # one [E, T-1, H] float32 message tensor at least
    assert 1.6 < large / small < 2.4
    assert chunks_within_budget(128, 4 * 2**20, 512) == 1
    assert chunks_within_budget(128, 6.5 * 2**20, 512) == 2  # 78 samples a chunk
    assert chunks_within_budget(128, 2**30, 512) == 128  # one sample a chunk at least


def test_a_run_under_a_small_budget_decodes_in_chunks_and_learns_the_same(tiny_springs, tmp_path, capsys):
    from hydra.core.global_hydra import GlobalHydra
    from hydra_utils import tiny_train_cfg

    from nri.train import run

    common = ["trainer.max_epochs=2", "logger=none", "threads=1"]
    whole = run(tiny_train_cfg(tiny_springs, tmp_path / "whole", *common, "model.decoder_chunks=1"))
    GlobalHydra.instance().clear()
    assert "in chunks" not in capsys.readouterr().out
    chunked = run(tiny_train_cfg(tiny_springs, tmp_path / "chunked", *common, "model.decoder_budget_mb=0.05"))
    GlobalHydra.instance().clear()
    out = capsys.readouterr().out
    assert "[nri] training decodes each batch of 16 in" in out and "model.decoder_budget_mb=0.05" in out
    assert whole.keys() == chunked.keys()
    for key, value in whole.items():
        if key.endswith("_s") or key.endswith("_mb"):  # times and memory
            continue
        assert chunked[key] == pytest.approx(value, rel=1e-4), key
