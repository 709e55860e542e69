"""Batched simulators for the synthetic NRI systems: springs, charged particles, Kuramoto.

The Kuramoto oscillators live in :mod:`nri.data.sim.kuramoto` and are exported here as well, so
that this module names every simulator.

Springs and charged particles follow the reference generator (REFERENCE.md §1.1) step for step:
balls in a box of half-width ``box_size`` with elastic walls, initial positions ~ N(0, loc_std²),
initial speed exactly ``vel_norm`` in a uniformly random direction, time step ``dt``, total force
on a ball clipped to ±0.1/dt per component, and the integrator order

    clamp(initial state); kick; for step in 1 .. length-1: drift; clamp; [save]; kick

where a frame is saved when ``step % sample_freq == 0``. The reference allocates
``length // sample_freq - 1`` frames and overwrites the initial state with the first kept frame,
so frame k (k = 0 .. T-1) is the state after the drift and wall clamp of integration step
``(k + 1) * sample_freq`` and before that step's kick. Steps after the last kept frame cannot
change the output and are skipped.

Kuramoto oscillators (not in the reference) are integrated with classic RK4 and sampled with
the same frame indexing.

Every simulator works on a batch of S simulations at once, float64 throughout; each integration
step is a handful of array operations over all S (stored simulations-last inside, [N, 2, S], so
every operation runs over long contiguous rows). Pairwise forces go through a fixed
pair-incidence matrix, so gathering differences and scattering forces are two small dense matrix
products shared by all simulations instead of a batched product per simulation.

The random draws (graph and initial state) are separated from the deterministic integration
(``run_*``), so the same initial states can be integrated alone or in any batch.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from nri.data.sim.frames import add_noise, num_frames
from nri.data.sim.kuramoto import (
    kuramoto_initial_state,
    run_kuramoto,
    scale_per_oscillator,
    simulate_kuramoto,
)
from nri.data.sim.physics import ChargedPhysics, SpringsPhysics

__all__ = [
    "charged_initial_state",
    "integrate_leapfrog",
    "kuramoto_initial_state",
    "num_frames",
    "run_charged",
    "run_kuramoto",
    "run_springs",
    "scale_per_oscillator",
    "simulate_charged",
    "simulate_kuramoto",
    "simulate_springs",
    "springs_initial_state",
]


def _pair_incidence(num_atoms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unordered pairs i < j and the matrix that maps node values to pair differences.

    Shapes:
        returns: rows [P], cols [P], incidence [P, N] with +1 at (p, i) and -1 at (p, j),
        P = N(N-1)/2. ``incidence @ x`` gives x_i - x_j per pair; ``incidence.T @ f`` adds
        +f_p to node i and -f_p to node j.
    """
    rows, cols = np.triu_indices(num_atoms, k=1)
    pairs = np.arange(rows.size)
    incidence = np.zeros((rows.size, num_atoms))
    incidence[pairs, rows] = 1.0
    incidence[pairs, cols] = -1.0
    return rows, cols, incidence


def _random_directions(rng: np.random.Generator, num_sims: int, num_atoms: int) -> np.ndarray:
    """Isotropic unit vectors (a normalised Gaussian draw, as the reference does).

    Shapes:
        returns: [S, 2, N]
    """
    vel = rng.standard_normal((num_sims, 2, num_atoms))
    return vel / np.sqrt((vel**2).sum(axis=1, keepdims=True))


def _initial_motion(rng: np.random.Generator, num_sims: int, num_atoms: int, loc_std: float,
                    vel_norm: float) -> tuple[np.ndarray, np.ndarray]:
    """Positions ~ N(0, loc_std²) and speed ``vel_norm`` in a random direction, drawn in that order.

    Shapes:
        returns: loc0 [S, 2, N], vel0 [S, 2, N]
    """
    loc0 = rng.standard_normal((num_sims, 2, num_atoms)) * loc_std
    return loc0, _random_directions(rng, num_sims, num_atoms) * vel_norm


def _reflect(loc: np.ndarray, vel: np.ndarray, box_size: float) -> None:
    """Elastic walls at ±box_size, in place: mirror the position, point the velocity inward.

    Shapes:
        loc, vel: any shape, the same for both, float64
    """
    # The common case, no ball of the batch beyond a wall, costs two read-only reductions.
    if loc.max() <= box_size and loc.min() >= -box_size:
        return
    hit = np.nonzero(np.abs(loc) > box_size)
    pos = loc[hit]
    if np.any(np.abs(pos) >= 3 * box_size):
        raise FloatingPointError(
            f"a ball left the box by more than twice its size (|x| = {np.abs(pos).max():.3g});"
            " lower dt or the initial velocities"
        )
    side = np.sign(pos)
    loc[hit] = 2 * box_size * side - pos
    vel[hit] = -side * np.abs(vel[hit])


def _check_state(loc0: np.ndarray, vel0: np.ndarray, edges: np.ndarray) -> tuple[int, int]:
    if loc0.ndim != 3 or loc0.shape[1] != 2 or vel0.shape != loc0.shape:
        raise ValueError(f"loc0 and vel0 must both be [S, 2, N]; got {loc0.shape}, {vel0.shape}")
    num_sims, _, num_atoms = loc0.shape
    if edges.shape != (num_sims, num_atoms, num_atoms):
        raise ValueError(f"edges must be [S, N, N] = {(num_sims, num_atoms, num_atoms)}; "
                         f"got {edges.shape}")
    return num_sims, num_atoms


def _pair_strengths(loc0: np.ndarray, vel0: np.ndarray, edges: np.ndarray,
                    interaction_strength: float) -> np.ndarray:
    """Check a batch of initial states and scale its pairs' edge values (pairs i < j).

    Shapes:
        loc0, vel0: [S, 2, N]; edges: [S, N, N] -> [P, S] float64, P = N(N-1)/2
    """
    _, num_atoms = _check_state(loc0, vel0, edges)
    rows, cols, _ = _pair_incidence(num_atoms)
    return interaction_strength * edges[:, rows, cols].T  # [S, N, N] -> [P, S]


def _leapfrog(
    loc0: np.ndarray,
    vel0: np.ndarray,
    pair_weight,
    length: int,
    sample_freq: int,
    box_size: float,
    dt: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The reference integrator for a pairwise central force.

    ``pair_weight(diff)`` returns w with the force on i from j equal to w_ij (x_i - x_j); the
    force on j from i is the opposite (Newton's third law, true of both systems). Inside, the
    simulations are the last (contiguous) axis, so every operation runs over long rows.

    Shapes:
        loc0, vel0: [S, 2, N]
        pair_weight: [P, 2, S] pair differences x_i - x_j -> weights broadcastable to [P, 2, S]
        returns: loc, vel [S, T, 2, N] float64, T = length // sample_freq - 1
    """
    num_sims, _, num_atoms = loc0.shape
    _, _, incidence = _pair_incidence(num_atoms)
    incidence_t = np.ascontiguousarray(incidence.T)
    frames = num_frames(length, sample_freq)
    max_force = 0.1 / dt

    loc = np.ascontiguousarray(np.transpose(loc0, (2, 1, 0)), dtype=np.float64)  # [N, 2, S]
    vel = np.ascontiguousarray(np.transpose(vel0, (2, 1, 0)), dtype=np.float64)
    out_loc = np.empty((frames, num_atoms, 2, num_sims))
    out_vel = np.empty((frames, num_atoms, 2, num_sims))

    # Preallocated work arrays: the step loop allocates nothing on the common path.
    loc_rows = loc.reshape(num_atoms, 2 * num_sims)  # view: [N, 2, S] -> [N, 2S]
    diff = np.empty((incidence.shape[0], 2 * num_sims))
    diff3 = diff.reshape(incidence.shape[0], 2, num_sims)  # view: [P, 2S] -> [P, 2, S]
    force = np.empty((num_atoms, 2 * num_sims))
    force3 = force.reshape(num_atoms, 2, num_sims)

    def kick() -> None:
        np.matmul(incidence, loc_rows, out=diff)  # [P, N] @ [N, 2S]: x_i - x_j per pair
        np.multiply(diff3, pair_weight(diff3), out=diff3)  # [P, 2, S]: force on i from j
        np.matmul(incidence_t, diff, out=force)  # [N, P] @ [P, 2S]: total force per ball
        np.clip(force, -max_force, max_force, out=force)
        np.multiply(force3, dt, out=force3)
        np.add(vel, force3, out=vel)

    integrate_leapfrog(loc, vel, kick, out_loc, out_vel, sample_freq, box_size, dt)
    # [T, N, 2, S] -> [S, T, 2, N]
    return (np.ascontiguousarray(out_loc.transpose(3, 0, 2, 1)),
            np.ascontiguousarray(out_vel.transpose(3, 0, 2, 1)))


def integrate_leapfrog(loc: np.ndarray, vel: np.ndarray, kick, out_loc: np.ndarray,
                      out_vel: np.ndarray, sample_freq: int, box_size: float, dt: float) -> None:
    """The reference's step order, in place: clamp; kick; then drift, clamp, [save], kick.

    ``kick()`` adds one time step's clipped force to ``vel``. Frame k of ``out_loc``/``out_vel``
    is the state after step (k + 1) * sample_freq's drift and clamp.

    Shapes:
        loc, vel: any layout, the same for both; out_loc, out_vel: [T, *loc.shape]
    """
    frames = out_loc.shape[0]
    scratch = np.empty_like(loc)
    _reflect(loc, vel, box_size)
    kick()
    frame = 0
    for step in range(1, frames * sample_freq + 1):
        np.multiply(vel, dt, out=scratch)
        np.add(loc, scratch, out=loc)
        _reflect(loc, vel, box_size)
        if step % sample_freq == 0:
            out_loc[frame] = loc
            out_vel[frame] = vel
            frame += 1
            if frame == frames:
                break
        kick()


# --------------------------------------------------------------------------------------------
# Springs and charged particles: each takes the fields of its physics (nri/data/sim/physics.py) as
# keywords; those not given take their defaults there.


def _simulate_particles(physics: SpringsPhysics | ChargedPhysics, initial_state, run,
                        num_sims: int, num_atoms: int, length: int, sample_freq: int,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw graphs and initial states, integrate, add observation noise.

    Shapes:
        returns: loc [S, T, 2, N], vel [S, T, 2, N], edges [S, N, N] (all float64),
        T = length // sample_freq - 1
    """
    fields = asdict(physics)
    loc0, vel0, edges = initial_state(num_sims, num_atoms, rng, **fields)
    loc, vel = run(loc0, vel0, edges, length, sample_freq, **fields)
    add_noise((loc, vel), physics.noise_var, rng)
    return loc, vel, edges


def springs_initial_state(num_sims: int, num_atoms: int, rng: np.random.Generator, **physics
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw spring graphs and initial states.

    Each unordered pair gets a unit spring with probability ``edge_prob`` (drawn on the lower
    triangle and mirrored; no self-springs).

    Shapes:
        returns: loc0 [S, 2, N], vel0 [S, 2, N], edges [S, N, N] float64 in {0, 1},
        symmetric with zero diagonal
    """
    p = SpringsPhysics(**physics)
    lower = np.tril(rng.random((num_sims, num_atoms, num_atoms)) < p.edge_prob, k=-1)
    edges = (lower | lower.transpose(0, 2, 1)).astype(np.float64)
    return (*_initial_motion(rng, num_sims, num_atoms, p.loc_std, p.vel_norm), edges)


def run_springs(loc0: np.ndarray, vel0: np.ndarray, edges: np.ndarray, length: int,
                sample_freq: int, **physics) -> tuple[np.ndarray, np.ndarray]:
    """Integrate springs systems from given initial states (deterministic).

    Force on ball i: -k Σ_j edges[i, j] (x_i - x_j) (Hooke's law, zero rest length).

    Shapes:
        loc0, vel0: [S, 2, N]; edges: [S, N, N] symmetric
        returns: loc, vel [S, T, 2, N] float64, T = length // sample_freq - 1
    """
    p = SpringsPhysics(**physics)
    weight = _pair_strengths(loc0, vel0, edges, -p.interaction_strength)  # [P, S]
    weight = np.ascontiguousarray(np.repeat(weight[:, None, :], 2, axis=1))  # [P, 2, S]
    return _leapfrog(loc0, vel0, lambda diff: weight, length, sample_freq, p.box_size, p.dt)


def simulate_springs(num_sims: int, num_atoms: int, length: int, sample_freq: int,
                     rng: np.random.Generator, **physics) -> tuple[np.ndarray, ...]:
    """Simulate ``num_sims`` springs systems (graph, initial state, trajectory, noise); shapes as ``_simulate_particles``."""
    return _simulate_particles(SpringsPhysics(**physics), springs_initial_state, run_springs,
                               num_sims, num_atoms, length, sample_freq, rng)


def charged_initial_state(num_sims: int, num_atoms: int, rng: np.random.Generator, **physics
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw charges (+1 with probability ``charge_prob``, else -1) and initial states.

    ``edges = q qᵀ`` exactly as the reference stores it: +1 for like charges (repulsion),
    -1 for opposite charges (attraction), and +1 on the diagonal.

    Shapes:
        returns: loc0 [S, 2, N], vel0 [S, 2, N], edges [S, N, N] float64 in {-1, +1}
    """
    p = ChargedPhysics(**physics)
    charges = np.where(rng.random((num_sims, num_atoms)) < p.charge_prob, 1.0, -1.0)
    edges = charges[:, :, None] * charges[:, None, :]
    return (*_initial_motion(rng, num_sims, num_atoms, p.loc_std, p.vel_norm), edges)


def run_charged(loc0: np.ndarray, vel0: np.ndarray, edges: np.ndarray, length: int,
                sample_freq: int, **physics) -> tuple[np.ndarray, np.ndarray]:
    """Integrate charged-particle systems from given initial states (deterministic).

    Force on ball i: k Σ_{j≠i} edges[i, j] (x_i - x_j) / ‖x_i - x_j‖³ (Coulomb; like charges
    repel). Only pairs i ≠ j are formed, which is what the reference's nonzero diagonal distance
    and zeroed self-force amount to; the diagonal of ``edges`` is ignored.

    Shapes:
        loc0, vel0: [S, 2, N]; edges: [S, N, N] symmetric
        returns: loc, vel [S, T, 2, N] float64, T = length // sample_freq - 1
    """
    p = ChargedPhysics(**physics)
    strength = _pair_strengths(loc0, vel0, edges, p.interaction_strength)  # [P, S]
    dist2 = np.empty(strength.shape)
    scratch = np.empty(strength.shape)
    weight = np.empty((strength.shape[0], 1, strength.shape[1]))

    def pair_weight(diff: np.ndarray) -> np.ndarray:
        # [P, 2, S] -> [P, 1, S]: k q_i q_j / r³
        np.multiply(diff[:, 0], diff[:, 0], out=dist2)
        np.multiply(diff[:, 1], diff[:, 1], out=scratch)
        np.add(dist2, scratch, out=dist2)
        np.sqrt(dist2, out=scratch)
        np.multiply(scratch, dist2, out=scratch)
        np.divide(strength, scratch, out=weight[:, 0])
        return weight

    return _leapfrog(loc0, vel0, pair_weight, length, sample_freq, p.box_size, p.dt)


def simulate_charged(num_sims: int, num_atoms: int, length: int, sample_freq: int,
                     rng: np.random.Generator, **physics) -> tuple[np.ndarray, ...]:
    """Simulate ``num_sims`` charged-particle systems (charges, initial state, trajectory, noise); shapes as ``_simulate_particles``."""
    return _simulate_particles(ChargedPhysics(**physics), charged_initial_state, run_charged,
                               num_sims, num_atoms, length, sample_freq, rng)
