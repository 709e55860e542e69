"""Is the Kuramoto graph in the data? A least-squares fit that reads it off the trajectories.

    python research/kuramoto_identifiability.py --num-sims 2000

Simulates Kuramoto systems with the package's generator and the physics of
``conf/dataset/kuramoto.yaml`` (ω ~ U[1, 10), directed couplings with p = 0.5, RK4 at dt = 0.01, a
frame every 10 steps, the phase velocity scaled per oscillator over the test-length window) and, for every oscillator i, fits its phase
velocity over the encoder's 49 frames by least squares on a constant and sin(φⱼ − φᵢ) for every
other oscillator j. The model is exact: the scaled rate is a_i + b_i Σⱼ kᵢⱼ sin(φⱼ − φᵢ), so every
driver of i gets the same coefficient b_i > 0 and every other oscillator 0; an edge j → i is read as
present when its coefficient exceeds half the largest of row i. Printed: the edge accuracy of this
fit with

- ``phases``: the simulator's phases φ;
- ``features``: only what a dataset file holds, (scaled dφ/dt, sin φ, ω): cos φ is rebuilt as
  ±√(1 − sin²φ) with the sign of the central difference of sin φ (φ mostly increases).

A physics-aware reader recovers the graph from the saved frames; NRI's encoder and decoder must
learn to (their accuracy is in the README's Kuramoto section).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from nri.data.sim.simulate import kuramoto_initial_state, run_kuramoto, scale_per_oscillator

CONFIG = Path(__file__).resolve().parents[1] / "conf" / "dataset" / "kuramoto.yaml"


def dataset_config() -> DictConfig:
    """conf/dataset/kuramoto.yaml with its interpolations resolved (the defaults nri.generate uses)."""
    return OmegaConf.create({"dataset": OmegaConf.load(CONFIG)}).dataset


def simulate(num_sims: int, num_atoms: int, seed: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The dataset's physics (from its config), keeping the phases.

    Shapes:
        returns: rate [S, N, T] (scaled per oscillator), sin_phase [S, N, T], phase [S, N, T],
        edges [S, N, N] (edges[s, i, j] = 1 iff j drives i), T = the encoder's frames (49)
    """
    cfg = dataset_config()
    phys = cfg.physics
    if phys.rate_scaling != "per_oscillator":
        raise ValueError(f"{CONFIG} has rate_scaling={phys.rate_scaling!r}; this fit assumes "
                         "'per_oscillator' (the coefficients are then equal per receiver)")
    rng = np.random.default_rng(seed)
    phase0, omega, edges = kuramoto_initial_state(
        num_sims, num_atoms, rng, omega_low=phys.omega_low, omega_high=phys.omega_high,
        coupling_prob=phys.coupling_prob, directed=phys.directed)
    window = max(cfg.length, phys.scaling_length)  # the steps the rate scale is taken over
    feat = run_kuramoto(phase0, omega, edges, window, cfg.sample_freq, dt=phys.dt,
                        coupling_strength=phys.coupling_strength, with_phase=True)  # rate, sin φ, φ, ω
    frames = cfg.train_steps
    rate = scale_per_oscillator(feat[..., 0])[..., :frames]
    return rate, feat[..., 1][..., :frames], feat[..., 2][..., :frames], edges


def cos_from_sin(sin_phase: np.ndarray) -> np.ndarray:
    """cos φ from a series of sin φ: magnitude √(1 − sin²), sign of sin φ's central difference.

    Shapes:
        sin_phase: [..., T] -> [..., T]
    """
    slope = np.gradient(sin_phase, axis=-1)
    return np.where(slope >= 0, 1.0, -1.0) * np.sqrt(np.clip(1.0 - sin_phase ** 2, 0.0, 1.0))


def fit_graph(rate: np.ndarray, sin_phase: np.ndarray, cos_phase: np.ndarray) -> np.ndarray:
    """Least-squares fit of each rate on a constant and sin(φⱼ − φᵢ); thresholded coefficients.

    Shapes:
        rate, sin_phase, cos_phase: [S, N, T] -> edges [S, N, N] in {0, 1} (zero diagonal)
    """
    num_sims, num_atoms, frames = rate.shape
    # sin(φj − φi) = sin φj cos φi − cos φj sin φi: [S, i, j, T]
    pair_sin = (sin_phase[:, None, :, :] * cos_phase[:, :, None, :]
                - cos_phase[:, None, :, :] * sin_phase[:, :, None, :])
    edges = np.zeros((num_sims, num_atoms, num_atoms))
    for i in range(num_atoms):
        others = [j for j in range(num_atoms) if j != i]
        design = np.concatenate([np.ones((num_sims, frames, 1)),
                                 pair_sin[:, i, others].transpose(0, 2, 1)], axis=-1)  # [S, T, N]
        coef = _lstsq(design, rate[:, i])  # [S, N]: constant, then one per other oscillator
        weights = coef[:, 1:]  # [S, N-1]
        largest = weights.max(axis=1, keepdims=True)
        present = (weights > 0.5 * largest) & (largest > 1e-6)
        edges[:, i, others] = present
    return edges


def _lstsq(design: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Batched least squares via the pseudo-inverse. Shapes: [S, T, P], [S, T] -> [S, P]"""
    return np.einsum("spt,st->sp", np.linalg.pinv(design), target)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-sims", type=int, default=2000)
    parser.add_argument("--num-atoms", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.num_sims < 1 or args.num_atoms < 2:
        parser.error("--num-sims must be >= 1 and --num-atoms >= 2")
    rate, sin_phase, phase, edges = simulate(args.num_sims, args.num_atoms, args.seed)
    off_diagonal = ~np.eye(args.num_atoms, dtype=bool)
    results = {}
    for name, cos_phase in (("phases", np.cos(phase)), ("features", cos_from_sin(sin_phase))):
        sin_used = np.sin(phase) if name == "phases" else sin_phase
        found = fit_graph(rate, sin_used, cos_phase)
        results[name] = float((found == edges)[:, off_diagonal].mean())
        print(f"{name:9s} edge accuracy {100 * results[name]:.2f}% "
              f"({args.num_sims * off_diagonal.sum()} edges)")
    return results


if __name__ == "__main__":
    main()
