"""Kuramoto oscillators (not in the reference generator): coupled phases integrated with classic
RK4 and sampled with the springs' frame indexing (:func:`nri.data.sim.frames.num_frames`).

The random draws (graph, frequencies, initial phases) are separated from the deterministic
integration (``run_kuramoto``), so the same initial states can be integrated alone or in any batch.
Each function takes the fields of ``KuramotoPhysics`` (nri/data/sim/physics.py) as keywords; those
not given take their defaults there.
"""

from __future__ import annotations

import numpy as np

from nri.data.sim.frames import add_noise, num_frames
from nri.data.sim.physics import KuramotoPhysics


def kuramoto_initial_state(num_sims: int, num_atoms: int, rng: np.random.Generator, **physics
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw natural frequencies ω ~ U[low, high), phases φ₀ ~ U[0, 2π) and a coupling graph.

    ``edges[s, i, j] = 1`` iff oscillator j drives oscillator i (row = receiver, the edge order
    of the models). Each ordered pair i ≠ j is drawn independently with probability
    ``coupling_prob`` when ``directed``; otherwise the lower triangle is drawn and mirrored.

    Shapes:
        returns: phase0 [S, N], omega [S, N], edges [S, N, N] float64 in {0, 1}, zero diagonal
    """
    p = KuramotoPhysics(**physics)
    omega = rng.uniform(p.omega_low, p.omega_high, size=(num_sims, num_atoms))
    phase0 = rng.uniform(0.0, 2 * np.pi, size=(num_sims, num_atoms))
    drawn = rng.random((num_sims, num_atoms, num_atoms)) < p.coupling_prob
    if p.directed:
        drawn &= ~np.eye(num_atoms, dtype=bool)
    else:
        drawn = np.tril(drawn, k=-1)
        drawn |= drawn.transpose(0, 2, 1)
    return phase0, omega, drawn.astype(np.float64)


def _kuramoto_rate(phase: np.ndarray, omega: np.ndarray, coupling: np.ndarray) -> np.ndarray:
    """dφ_i/dt = ω_i + Σ_j K_ij sin(φ_j - φ_i), simulations on the last axis.

    Expanding sin(φ_j - φ_i) = sin φ_j cos φ_i - cos φ_j sin φ_i needs 2N sines, not N².

    Shapes:
        phase, omega: [N, S]; coupling: [N, N, S] (receiver, sender, simulation; already times
        the coupling strength)
        returns: [N, S]
    """
    sin, cos = np.sin(phase), np.cos(phase)
    drive_sin = np.einsum("ijs,js->is", coupling, sin)  # [N, S]: Σ_j K_ij sin φ_j
    drive_cos = np.einsum("ijs,js->is", coupling, cos)
    return omega + cos * drive_sin - sin * drive_cos


def run_kuramoto(phase0: np.ndarray, omega: np.ndarray, edges: np.ndarray, length: int,
                 sample_freq: int, **physics) -> np.ndarray:
    """Integrate Kuramoto systems with classic RK4 from given initial phases (deterministic).

    Frames use the same indexing as the particle systems: frame k holds the state after
    integration step (k + 1) * sample_freq. Features per oscillator are the exact phase
    velocity dφ/dt from the ODE, sin φ, and ω.

    Shapes:
        phase0, omega: [S, N]; edges: [S, N, N] with edges[s, i, j] = 1 iff j drives i
        returns: feat [S, N, T, 3] float64 with feat[..., 0] = dφ/dt, [..., 1] = sin φ,
        [..., 2] = ω; with_phase: [S, N, T, 4] with the unwrapped φ at [..., 2], ω at [..., 3];
        T = length // sample_freq - 1
    """
    p = KuramotoPhysics(**physics)
    dt, with_phase = p.dt, p.with_phase
    num_sims, num_atoms = phase0.shape
    if omega.shape != phase0.shape or edges.shape != (num_sims, num_atoms, num_atoms):
        raise ValueError(f"expected phase0, omega [S, N] and edges [S, N, N]; got "
                         f"{phase0.shape}, {omega.shape}, {edges.shape}")
    frames = num_frames(length, sample_freq)
    # [S, N, N] -> [N, N, S] and [S, N] -> [N, S]: simulations on the last, contiguous axis
    coupling = np.ascontiguousarray(np.transpose(edges, (1, 2, 0)) * p.coupling_strength,
                                    dtype=np.float64)
    phase = np.ascontiguousarray(phase0.T, dtype=np.float64)
    omega_t = np.ascontiguousarray(omega.T, dtype=np.float64)
    out = np.empty((frames, 2 + int(with_phase), num_atoms, num_sims))
    half = 0.5 * dt
    for step in range(1, frames * sample_freq + 1):
        k1 = _kuramoto_rate(phase, omega_t, coupling)
        k2 = _kuramoto_rate(phase + half * k1, omega_t, coupling)
        k3 = _kuramoto_rate(phase + half * k2, omega_t, coupling)
        k4 = _kuramoto_rate(phase + dt * k3, omega_t, coupling)
        phase += (dt / 6.0) * (k1 + 2.0 * (k2 + k3) + k4)
        if step % sample_freq == 0:
            frame = step // sample_freq - 1
            out[frame, 0] = _kuramoto_rate(phase, omega_t, coupling)
            out[frame, 1] = np.sin(phase)
            if with_phase:
                out[frame, 2] = phase
    feat = np.empty((num_sims, num_atoms, frames, out.shape[1] + 1))
    feat[..., :-1] = out.transpose(3, 2, 0, 1)  # [T, C, N, S] -> [S, N, T, C]
    feat[..., -1] = omega[:, :, None]
    return feat


def simulate_kuramoto(num_sims: int, num_atoms: int, length: int, sample_freq: int,
                      rng: np.random.Generator, **physics) -> tuple[np.ndarray, np.ndarray]:
    """Simulate ``num_sims`` Kuramoto systems (graph, ω, φ₀, trajectory, scaling, noise).

    ``rate_scaling="per_oscillator"`` rescales each oscillator's dφ/dt to [-1, 1] over its own
    trajectory, as the authors' Kuramoto generator does; an oscillator that nothing drives has a
    constant rate and gets 0. This removes ω (a separate feature) from the rate and leaves the
    coupling's modulation at full scale; with the raw rate (``"none"``), ω ∈ [1, 10) dwarfs it.
    The scale is taken over the first ``scaling_length`` integration
    steps (the test length by default, as the authors), so a training trajectory is the start of
    a test-length one, scaled the same way.

    ``with_phase`` adds the unwrapped phase, scaled to [-1, 1] per oscillator over the same
    window, as a fourth feature before ω (the authors' generator writes it; the paper lists three).

    Shapes:
        returns: feat [S, N, T, D] (dφ/dt, sin φ, [φ,] ω; D = 3 or 4), edges [S, N, N] with
        edges[s, i, j] = 1 iff j drives i; both float64; T = length // sample_freq - 1
    """
    p = KuramotoPhysics(**physics)
    if p.rate_scaling not in ("per_oscillator", "none"):
        raise ValueError(f"rate_scaling must be 'per_oscillator' or 'none', got {p.rate_scaling!r}")
    phase0, omega, edges = kuramoto_initial_state(num_sims, num_atoms, rng, **physics)
    window = max(length, p.scaling_length) if p.rate_scaling == "per_oscillator" else length
    if p.with_phase:
        window = max(length, p.scaling_length)
    feat = run_kuramoto(phase0, omega, edges, window, sample_freq, **physics)
    return finish_kuramoto(feat, length, sample_freq, rng, p.rate_scaling, p.with_phase,
                           p.noise_var), edges


def finish_kuramoto(feat: np.ndarray, length: int, sample_freq: int, rng: np.random.Generator,
                    rate_scaling: str, with_phase: bool, noise_var: float) -> np.ndarray:
    """Scale per oscillator, cut the window to ``length``'s frames, add noise.

    Shapes:
        feat: [S, N, T_window, D] -> [S, N, T, D], T = length // sample_freq - 1
    """
    if rate_scaling == "per_oscillator":
        feat[..., 0] = scale_per_oscillator(feat[..., 0])
    if with_phase:
        feat[..., 2] = scale_per_oscillator(feat[..., 2])
    feat = np.ascontiguousarray(feat[:, :, :num_frames(length, sample_freq)])
    add_noise((feat,), noise_var, rng)
    return feat


def scale_per_oscillator(series: np.ndarray) -> np.ndarray:
    """Min/max-scale each oscillator's series to [-1, 1] over time; a constant series gives 0.

    Shapes:
        series: [S, N, T]; returns: [S, N, T]
    """
    low = series.min(axis=-1, keepdims=True)
    high = series.max(axis=-1, keepdims=True)
    span = high - low
    # A rate that no other oscillator drives is ω to rounding; 1e-9 relative is far below any
    # coupling effect (|Σ sin| reaches ~1 for one coupled neighbour).
    flat = span <= 1e-9 * np.maximum(1.0, np.abs(high))
    scaled = 2.0 * (series - low) / np.where(flat, 1.0, span) - 1.0
    return np.where(flat, 0.0, scaled)
