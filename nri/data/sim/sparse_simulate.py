"""Springs and Kuramoto systems on sparse graphs: O(edges) work and memory per integration step.

The dense simulators (``nri.data.sim.simulate``) form all N(N-1)/2 pairs every step; here each
simulation's graph is a list of directed edges (receiver, sender) and the interaction is a gather
at the senders and a ``bincount`` sum at the receivers, over all simulations of a batch at once
(node s*N + i is node i of simulation s). The integrators keep the dense ones' order of operations
(springs: clamp; kick; drift, clamp, save, kick ...; Kuramoto: RK4) and frame indexing.

Physics scale with N and the mean degree d so that a system of 1,000 objects behaves like the
reference's 5 (docs/many_objects.md):

- box half-width and initial spread grow as sqrt(N / 5): the density of objects stays the
  reference's, and so do neighbour distances on geometric graphs;
- the spring constant (Kuramoto: the coupling) is divided by d / 2, the reference's mean degree
  at N = 5 and edge probability 0.5, so the total stiffness on an object stays the reference's.
"""

from __future__ import annotations

import math

import numpy as np

from nri.data.sim.frames import add_noise, num_frames
from nri.data.sim.graph_families import draw_graph, pairs_to_edge_index
from nri.data.sim.kuramoto import finish_kuramoto
from nri.data.sim.simulate import _random_directions, integrate_leapfrog

__all__ = ["REFERENCE_ATOMS", "REFERENCE_DEGREE", "pad_edge_lists", "scaled_physics",
           "simulate_kuramoto_sparse", "simulate_springs_sparse"]

REFERENCE_ATOMS = 5  # the reference's system size, at which the scaled physics equal the given ones
REFERENCE_DEGREE = 2.0  # mean degree of the reference's graphs: (5 - 1) * 0.5


def scaled_physics(num_atoms: int, mean_degree: float, *, box_size: float, loc_std: float,
                   strength: float) -> tuple[float, float, float]:
    """(box_size, loc_std, strength) for N objects at mean degree d; the inputs at N = 5, d = 2."""
    spread = math.sqrt(num_atoms / REFERENCE_ATOMS)
    return box_size * spread, loc_std * spread, strength * REFERENCE_DEGREE / mean_degree


def pad_edge_lists(edge_lists: list[np.ndarray], width: int | None = None) -> np.ndarray:
    """Stack per-simulation edge lists, padding with -1 to the longest (or ``width``).

    Shapes:
        edge_lists: S arrays [2, M_s] (receiver, sender) -> [S, 2, M_max] int32
    """
    width = max([e.shape[1] for e in edge_lists] + [0]) if width is None else width
    out = np.full((len(edge_lists), 2, width), -1, dtype=np.int32)
    for s, edges in enumerate(edge_lists):
        out[s, :, : edges.shape[1]] = edges
    return out


def _flat_edges(edge_lists: list[np.ndarray], num_atoms: int) -> tuple[np.ndarray, np.ndarray]:
    """Receivers and senders of all simulations in the flat node numbering s*N + i. Shapes: [E]"""
    offset = [e + s * num_atoms for s, e in enumerate(edge_lists)]
    flat = np.concatenate(offset, axis=1) if offset else np.zeros((2, 0), dtype=np.int64)
    return flat[0], flat[1]


def _gather_sum(values: np.ndarray, receivers: np.ndarray, senders: np.ndarray,
                size: int) -> np.ndarray:
    """Σ over edges into each receiver of the sender's value. Shapes: values [V] -> [V]"""
    return np.bincount(receivers, weights=values[senders], minlength=size)


def simulate_springs_sparse(num_sims: int, num_atoms: int, length: int, sample_freq: int,
                            rng: np.random.Generator, *, graph: str, mean_degree: float,
                            box_size: float, loc_std: float, vel_norm: float,
                            interaction_strength: float, dt: float, noise_var: float
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Springs on graphs of family ``graph`` (``nri.data.sim.graph_families``) with mean degree d.

    The physics have the meaning (and, through ``nri.data.sim.generate_dataset``, the defaults) of
    ``simulate_springs``'s, scaled as ``scaled_physics`` says.

    Per simulation the draws are: initial positions, velocity directions, then the graph (the
    geometric family joins the closest initial positions). Force on ball i:
    -k Σ_j A_ij (x_i - x_j) = -k (deg_i x_i - Σ_j A_ij x_j), clipped to ±0.1/dt per component.

    Shapes:
        returns: loc [S, T, 2, N], vel [S, T, 2, N] float64, edge_index [S, 2, M_max] int32
        (receiver, sender; both directions of every spring; -1 padding), T = length//sample_freq - 1
    """
    box, spread, k = scaled_physics(num_atoms, mean_degree, box_size=box_size, loc_std=loc_std,
                                    strength=interaction_strength)
    loc0 = rng.standard_normal((num_sims, 2, num_atoms)) * spread
    vel0 = _random_directions(rng, num_sims, num_atoms) * vel_norm
    edge_lists = [pairs_to_edge_index(draw_graph(graph, num_atoms, mean_degree, rng, loc0[s].T))
                  for s in range(num_sims)]
    loc, vel = run_springs_sparse(loc0, vel0, edge_lists, length, sample_freq, box_size=box,
                                  interaction_strength=k, dt=dt)
    add_noise((loc, vel), noise_var, rng)
    return loc, vel, pad_edge_lists(edge_lists)


def run_springs_sparse(loc0: np.ndarray, vel0: np.ndarray, edge_lists: list[np.ndarray],
                       length: int, sample_freq: int, *, box_size: float,
                       interaction_strength: float, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Integrate springs from given states on given graphs (deterministic; physics as given).

    Shapes:
        loc0, vel0: [S, 2, N]; edge_lists: S arrays [2, M_s] (receiver, sender), both directions
        returns: loc, vel [S, T, 2, N] float64
    """
    num_sims, _, num_atoms = loc0.shape
    size = num_sims * num_atoms
    receivers, senders = _flat_edges(edge_lists, num_atoms)
    degree = np.bincount(receivers, minlength=size).astype(np.float64)
    frames = num_frames(length, sample_freq)
    max_force = 0.1 / dt
    loc = np.ascontiguousarray(loc0.transpose(1, 0, 2).reshape(2, size), dtype=np.float64)
    vel = np.ascontiguousarray(vel0.transpose(1, 0, 2).reshape(2, size), dtype=np.float64)
    out_loc = np.empty((frames, 2, size))
    out_vel = np.empty((frames, 2, size))
    force = np.empty_like(loc)

    def kick() -> None:
        for c in range(2):
            np.multiply(degree, loc[c], out=force[c])
            force[c] -= _gather_sum(loc[c], receivers, senders, size)
        np.multiply(force, -interaction_strength, out=force)
        np.clip(force, -max_force, max_force, out=force)
        np.multiply(force, dt, out=force)
        np.add(vel, force, out=vel)

    integrate_leapfrog(loc, vel, kick, out_loc, out_vel, sample_freq, box_size, dt)

    def back(out: np.ndarray) -> np.ndarray:  # [T, 2, S*N] -> [S, T, 2, N]
        return np.ascontiguousarray(out.reshape(frames, 2, num_sims, num_atoms).transpose(2, 0, 1, 3))

    return back(out_loc), back(out_vel)


def simulate_kuramoto_sparse(num_sims: int, num_atoms: int, length: int, sample_freq: int,
                             rng: np.random.Generator, *, graph: str, mean_degree: float,
                             dt: float, omega_low: float, omega_high: float,
                             coupling_strength: float, directed: bool, rate_scaling: str,
                             scaling_length: int, with_phase: bool, noise_var: float
                             ) -> tuple[np.ndarray, np.ndarray]:
    """Kuramoto oscillators on a sparse graph; features, scaling and physics (meaning and, through
    ``nri.data.sim.generate_dataset``, defaults) as ``simulate_kuramoto``.

    ``directed``: each pair of the drawn graph couples one way, in a random direction (mean
    in-degree d / 2); otherwise both ways. The knn family places the oscillators uniformly in the
    square [-sqrt(N/5), sqrt(N/5)]² to build the geometric graph. Coupling: k · 2 / d.

    Shapes:
        returns: feat [S, N, T, D] float64 (dφ/dt, sin φ, [φ,] ω), edge_index [S, 2, M_max]
        int32 (receiver, sender: the sender drives the receiver; -1 padding)
    """
    omega = rng.uniform(omega_low, omega_high, size=(num_sims, num_atoms))
    phase0 = rng.uniform(0.0, 2 * np.pi, size=(num_sims, num_atoms))
    _, half_width, coupling = scaled_physics(num_atoms, mean_degree, box_size=1.0, loc_std=1.0,
                                             strength=coupling_strength)
    edge_lists = []
    for _ in range(num_sims):
        places = rng.uniform(-half_width, half_width, size=(num_atoms, 2))
        pairs = draw_graph(graph, num_atoms, mean_degree, rng, places)
        if directed:
            flip = rng.random(pairs.shape[0]) < 0.5
            pairs = np.where(flip[:, None], pairs[:, ::-1], pairs)
            order = np.lexsort((pairs[:, 1], pairs[:, 0]))
            edge_lists.append(np.ascontiguousarray(pairs[order].T))
        else:
            edge_lists.append(pairs_to_edge_index(pairs))
    window = max(length, scaling_length) if (rate_scaling == "per_oscillator" or with_phase) else length
    feat = _run_kuramoto_sparse(phase0, omega, edge_lists, window, sample_freq, dt, coupling,
                                with_phase)
    return (finish_kuramoto(feat, length, sample_freq, rng, rate_scaling, with_phase, noise_var),
            pad_edge_lists(edge_lists))


def _run_kuramoto_sparse(phase0: np.ndarray, omega: np.ndarray, edge_lists: list[np.ndarray],
                         length: int, sample_freq: int, dt: float, coupling: float,
                         with_phase: bool) -> np.ndarray:
    """RK4 of dφ_i/dt = ω_i + c Σ_{j→i} sin(φ_j - φ_i). Shapes: phase0, omega [S, N] -> [S, N, T, C]"""
    num_sims, num_atoms = phase0.shape
    size = num_sims * num_atoms
    receivers, senders = _flat_edges(edge_lists, num_atoms)
    frames = num_frames(length, sample_freq)
    phase = phase0.reshape(size).astype(np.float64)
    omega_flat = omega.reshape(size).astype(np.float64)

    def rate(p: np.ndarray) -> np.ndarray:
        sin, cos = np.sin(p), np.cos(p)  # sin(φ_j - φ_i) = sin φ_j cos φ_i - cos φ_j sin φ_i
        drive_sin = _gather_sum(sin, receivers, senders, size)
        drive_cos = _gather_sum(cos, receivers, senders, size)
        return omega_flat + coupling * (cos * drive_sin - sin * drive_cos)

    out = np.empty((frames, 2 + int(with_phase), size))
    half = 0.5 * dt
    for step in range(1, frames * sample_freq + 1):
        k1 = rate(phase)
        k2 = rate(phase + half * k1)
        k3 = rate(phase + half * k2)
        k4 = rate(phase + dt * k3)
        phase = phase + (dt / 6.0) * (k1 + 2.0 * (k2 + k3) + k4)
        if step % sample_freq == 0:
            frame = step // sample_freq - 1
            out[frame, 0], out[frame, 1] = rate(phase), np.sin(phase)
            if with_phase:
                out[frame, 2] = phase
    feat = np.empty((num_sims, num_atoms, frames, out.shape[1] + 1))
    feat[..., :-1] = out.reshape(frames, -1, num_sims, num_atoms).transpose(2, 3, 0, 1)
    feat[..., -1] = omega[:, :, None]
    return feat
