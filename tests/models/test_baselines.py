"""The rows of the paper's tables other than NRI: simulation decoder, forecasters, correlations."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hydra.core.global_hydra import GlobalHydra
from table_helpers import compose_job
from torch.nn import functional as F

from nri.data.datamodule import edge_labels
from nri.data.normalization import apply_normalization, fit_normalization, invert_normalization
from nri.data.sim import simulate
from nri.errors import ConfigError
from nri.models.baselines import LSTMJoint, LSTMSingle, StaticDecoder
from nri.models.correlation import CorrelationEncoder, pair_correlation
from nri.models.graph import adjacency_to_edges, edges_to_adjacency
from nri.models.simulation import SimulationDecoder
from nri.registry import build_decoder
from nri.train import run

B, N, T, D = 3, 5, 12, 4

PHYSICS = {
    "springs": (simulate.simulate_springs, {"box_size": 5.0, "interaction_strength": 0.1, "dt": 0.001}),
    "charged": (simulate.simulate_charged, {"box_size": 5.0, "interaction_strength": 1.0, "dt": 0.001}),
}


@pytest.fixture(autouse=True)
def _clear_hydra():
    yield
    GlobalHydra.instance().clear()


def simulated(name: str, sims: int = 6, length: int = 1500):
    """A simulator's trajectories, scaled like the datamodule does, with one-hot true edges.

    Shapes: -> feats [S, N, T, 4] (physical units), x [S, N, T, 4] (scaled), edges [S, E, 2]
    """
    sim, physics = PHYSICS[name]
    loc, vel, adj = sim(sims, N, length, 100, np.random.default_rng(1))
    feats = np.concatenate([loc, vel], axis=2).transpose(0, 3, 1, 2)  # [S, T, 4, N] -> [S, N, T, 4]
    dataset = {"name": name, "format": "locvel", "dims": 4, "sample_freq": 100, "physics": physics}
    norm = fit_normalization(feats, dataset)
    lo, span = norm["loc_min"], norm["loc_max"] - norm["loc_min"]
    vlo, vspan = norm["vel_min"], norm["vel_max"] - norm["vel_min"]
    x = np.concatenate([(feats[..., :2] - lo) * 2 / span - 1, (feats[..., 2:] - vlo) * 2 / vspan - 1], -1)
    edges = F.one_hot(torch.from_numpy(edge_labels(adj)), 2).double()
    return feats, torch.from_numpy(x), edges, dataset, norm


@pytest.mark.parametrize("name", ["springs", "charged"])
def test_simulation_decoder_reproduces_the_simulator(name):
    feats, x, edges, dataset, norm = simulated(name)
    dec = SimulationDecoder(dataset, norm)
    assert not list(dec.parameters())
    pred = invert_normalization(dec(x, edges, 1), norm).numpy()  # float64 throughout
    np.testing.assert_allclose(pred, feats[:, :, 1:], rtol=0, atol=1e-9)
    # multi-step roll-outs follow the simulator too; float32 (the training dtype) stays close
    far = invert_normalization(dec(x, edges, 5), norm).numpy()
    np.testing.assert_allclose(far, feats[:, :, 1:], rtol=0, atol=1e-8)
    pred32 = invert_normalization(dec(x.float(), edges.float(), 1).double(), norm).numpy()
    np.testing.assert_allclose(pred32, feats[:, :, 1:], rtol=0, atol=2e-3)


@pytest.mark.parametrize("name", ["springs", "charged"])
def test_simulation_decoder_passes_gradients_to_the_edges(name):
    _, x, edges, dataset, norm = simulated(name, sims=2, length=500)
    dec = SimulationDecoder(dataset, norm, substeps=10, dt=0.01)
    soft = torch.full_like(edges, 0.5, requires_grad=True)
    loss = (dec(x, soft, 2) - x[:, :, 1:]).pow(2).sum()
    loss.backward()
    assert torch.isfinite(soft.grad).all() and soft.grad[..., 1].abs().sum() > 0


def test_simulation_decoder_refuses_other_systems_and_missing_constants():
    with pytest.raises(ValueError, match="no simulator"):
        SimulationDecoder({"name": "kuramoto"})
    dec = SimulationDecoder(simulated("springs", sims=1, length=200)[3])
    with pytest.raises(ValueError, match="normalization"):
        dec(torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 2), 1)


def test_static_has_no_parameters_and_copies_the_last_frame_fed():
    dec = build_decoder({"name": "static"}, {"dims": D})
    assert isinstance(dec, StaticDecoder) and not list(dec.parameters()) and dec.recurrent
    x = torch.randn(B, N, T, D)
    assert torch.equal(dec(x, None, 1), x[:, :, :-1])
    burn = dec(x, None, burn_in_steps=4)
    assert torch.equal(burn[:, :, :5], x[:, :, :5])
    assert torch.equal(burn[:, :, 5:], x[:, :, 4:5].expand(-1, -1, T - 6, -1))
    every3 = dec(x, None, 3)
    assert torch.equal(every3[:, :, 4], x[:, :, 3]) and torch.equal(every3[:, :, 5], x[:, :, 3])


def permute_edges(values: torch.Tensor, perm: torch.Tensor, n: int) -> torch.Tensor:
    adj = edges_to_adjacency(values, n)  # [B, N, N, F]
    return adjacency_to_edges(adj[:, perm][:, :, perm].movedim(-1, 1)).movedim(1, -1)


def test_lstm_single_is_permutation_equivariant():
    dec = LSTMSingle(D, hidden=16).eval()
    x = torch.randn(B, N, T, D)
    perm = torch.randperm(N)
    out = dec(x, None, burn_in_steps=6)
    assert out.shape == (B, N, T - 1, D)
    assert torch.allclose(dec(x[:, perm], None, burn_in_steps=6), out[:, perm], atol=1e-6)


@pytest.mark.parametrize("dec", [LSTMSingle(D, hidden=16), LSTMJoint(D, N, hidden=8)])
def test_lstm_burn_in_feeds_truth_then_its_own_predictions(dec):
    dec.eval()
    x = torch.randn(B, N, T, D)
    out = dec(x, None, burn_in_steps=5)
    later = x.clone()
    later[:, :, 7:] = 0  # frames after the burn-in (inputs 0..5, then frame 6 is only a target)
    assert torch.allclose(dec(later, None, burn_in_steps=5), out)
    # the same roll-out one frame at a time, feeding back each prediction
    state, preds = None, []
    for s in range(T - 1):
        frame = x[:, :, s: s + 1] if s <= 5 else preds[-1]
        pred, state = dec._step(frame, state)
        preds.append(pred)
    assert torch.allclose(torch.cat(preds, dim=2), out, atol=1e-6)


def test_lstm_joint_needs_its_object_count():
    with pytest.raises(ValueError, match="built for 5 objects"):
        LSTMJoint(D, 5, hidden=4)(torch.randn(1, 4, T, D), None, 1)


def test_pair_correlation_and_corr_encoder():
    t = torch.linspace(0, 6, 40)
    h = torch.stack([torch.sin(t), 2 * torch.sin(t) + 1, -torch.sin(t)], 0)  # 3 objects
    corr = pair_correlation(h[None, :, :, None])[0, :, 0]  # edges (0,1) (0,2) (1,0) (1,2) (2,0) (2,1)
    assert torch.allclose(corr, torch.tensor([1.0, -1, 1, -1, -1, -1]), atol=1e-5)
    enc = CorrelationEncoder(D, 2)
    x = torch.randn(B, N, T, D)
    perm = torch.randperm(N)
    logits = enc(x)
    assert logits.shape == (B, N * (N - 1), 2)
    assert torch.allclose(enc(x[:, perm]), permute_edges(logits, perm, N), atol=1e-5)


# --------------------------------------------------------------------------------------------
# Each row trains a few steps through the real composition (experiment + row + profile).

TINY = ["dataset.train_steps=9", "dataset.test_burn_in=9", "dataset.test_horizon=10",
        "datamodule.batch_size=16", "logger=csv", "trainer.max_epochs=1", "trainer.log_every_n_steps=1",
        "model.prediction_steps=3", "profile.nri.encoder_hidden=16", "profile.nri.decoder_hidden=16",
        "profile.supervised.hidden=16", "profile.lstm.hidden=16", "profile.lstm.joint_hidden=4",
        "profile.nri.epochs=1", "profile.sim.epochs=1", "profile.supervised.epochs=1",
        "profile.lstm.epochs=1", "profile.corr.epochs=1"]


def row_run(row: str, data, out, block: str = "table2_springs", *extra: str):
    run_dir = out / "springs5" / row / "seed42"
    cfg = compose_job([f"experiment={block}", f"row={row}", f"paths.data_dir={data}",
                       f"profile.out_dir={out}", *TINY, *extra], run_dir)
    assert cfg.row.id == row
    return run(cfg), run_dir


@pytest.mark.parametrize("row", ["static", "lstm_single", "lstm_joint", "nri_full_graph",
                                 "nri_true_graph", "supervised", "corr_path", "nri_sim",
                                 "mpm_history", "history_symmetry"])
def test_every_row_trains_and_tests(row, tiny_springs, tmp_path):
    block = "table2_springs" if row in ("static", "lstm_single", "lstm_joint") else "table1_springs"
    extra = {"nri_sim": ["decoder.substeps=10", "decoder.dt=0.01"],
             "mpm_history": ["decoder.history=4"], "history_symmetry": ["decoder.history=4"]}.get(row, [])
    results, run_dir = row_run(row, tiny_springs, tmp_path, block, *extra)
    written = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    if row in ("supervised", "corr_path", "nri_sim", "mpm_history", "history_symmetry"):
        assert 0.0 <= written["test/edge_acc"] <= 1.0
    if row not in ("supervised", "corr_path"):
        assert len(written["test/mse"]) == 10 and np.isfinite(written["test/mse"]).all()
    assert (written["global_step"] == 0) == (row == "static")  # Static has nothing to train


def test_static_row_scores_the_copy_of_the_last_frame(tiny_springs, tmp_path):
    results, _ = row_run("static", tiny_springs, tmp_path)
    from tiny_data import TINY_DATASET

    from nri.data.datamodule import read_split

    feats, _ = read_split(tiny_springs, "test", TINY_DATASET)
    train, _ = read_split(tiny_springs, "train", TINY_DATASET)
    x = apply_normalization(feats, fit_normalization(train, TINY_DATASET))
    expected = ((x[:, :, 10:20] - x[:, :, 9:10]) ** 2).mean(axis=(0, 1, 3))
    np.testing.assert_allclose(results["test/mse"], expected, rtol=1e-4)


def test_corr_lstm_reads_the_lstm_single_run(tiny_springs, tmp_path):
    with pytest.raises(ConfigError, match="row=lstm_single"):  # refused before any data is read
        row_run("corr_lstm", tiny_springs, tmp_path, "table1_springs")
    GlobalHydra.instance().clear()
    row_run("lstm_single", tiny_springs, tmp_path)
    GlobalHydra.instance().clear()
    results, run_dir = row_run("corr_lstm", tiny_springs, tmp_path, "table1_springs")
    assert 0.0 <= results["test/edge_acc"] <= 1.0
    lstm = torch.load(tmp_path / "springs5" / "lstm_single" / "seed42" / "checkpoints" / "best.ckpt",
                      map_location="cpu", weights_only=True)["state_dict"]
    corr = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu",
                      weights_only=True)["state_dict"]
    # the labels never reached the LSTM: its weights are the forecaster's, unchanged
    for key, value in lstm.items():
        if key.startswith("decoder."):
            assert torch.equal(corr["encoder.lstm." + key[len("decoder."):]], value)
