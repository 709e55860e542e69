"""research/kuramoto_identifiability.py: the Kuramoto graph read off the trajectories by least squares."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.script_loader import load_script

ROOT = Path(__file__).resolve().parents[2]


def _script():
    return load_script("kuramoto_identifiability", "research")


def test_the_rate_is_explained_by_the_recorded_drivers():
    """With the simulator's phases the fit recovers every edge — and only in the recorded direction:
    the rate feature and the edge labels agree on who drives whom."""
    ki = _script()
    rate, _, phase, edges = ki.simulate(num_sims=100, num_atoms=5, seed=3)
    off = ~np.eye(5, dtype=bool)
    found = ki.fit_graph(rate, np.sin(phase), np.cos(phase))
    assert (found == edges)[:, off].mean() > 0.995
    transposed = edges.transpose(0, 2, 1)
    assert (found == transposed)[:, off].mean() < 0.8


def test_cos_from_sin_recovers_cos_of_an_increasing_phase():
    ki = _script()
    phase = np.linspace(0.0, 4 * np.pi, 400)
    cos = ki.cos_from_sin(np.sin(phase))
    interior = np.abs(np.cos(phase)) > 0.05  # the sign flips are located to one sample
    np.testing.assert_allclose(cos[interior], np.cos(phase)[interior], atol=1e-6)


def test_main_prints_both_readings_and_rejects_bad_sizes(capsys):
    ki = _script()
    results = ki.main(["--num-sims", "20"])
    assert set(results) == {"phases", "features"}
    assert results["phases"] > 0.99 and results["features"] > 0.8
    assert "features  edge accuracy" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        ki.main(["--num-atoms", "1"])


def test_a_config_without_per_oscillator_scaling_is_refused(tmp_path, monkeypatch):
    ki = _script()
    raw = (ROOT / "conf" / "dataset" / "kuramoto.yaml").read_text().replace(
        "rate_scaling: per_oscillator", "rate_scaling: none")
    (tmp_path / "kuramoto.yaml").write_text(raw)
    monkeypatch.setattr(ki, "CONFIG", tmp_path / "kuramoto.yaml")
    with pytest.raises(ValueError, match="rate_scaling='none'"):
        ki.simulate(num_sims=2, num_atoms=3, seed=0)
