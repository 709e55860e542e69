"""The physics of each simulated system, with its defaults (the reference's values), stated once.

The simulators (:mod:`nri.data.sim.simulate`, :mod:`nri.data.sim.kuramoto`) take these fields as
keywords and fill the ones not given from here; the dataset writer records every field in the
dataset's metadata, and ``dataset.physics.*`` on the command line sets any of them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SpringsPhysics:
    """Balls in a box joined by random unit springs (REFERENCE.md §1.1)."""

    box_size: float = 5.0  # half-width of the box; walls are elastic
    loc_std: float = 0.5  # initial positions ~ N(0, loc_std²)
    vel_norm: float = 0.5  # initial speed, in a uniformly random direction
    interaction_strength: float = 0.1  # spring constant
    dt: float = 0.001  # integration time step
    noise_var: float = 0.0  # observation noise (it multiplies a standard normal, as the reference)
    edge_prob: float = 0.5  # probability that a pair is joined by a spring


@dataclass
class ChargedPhysics:
    """Charged particles (charges ±1) in a box, Coulomb forces (REFERENCE.md §1.1)."""

    box_size: float = 5.0
    loc_std: float = 1.0
    vel_norm: float = 0.5
    interaction_strength: float = 1.0  # Coulomb constant
    dt: float = 0.001
    noise_var: float = 0.0
    charge_prob: float = 0.5  # probability of a +1 charge (else -1)


@dataclass
class KuramotoPhysics:
    """Phase oscillators dφ_i/dt = ω_i + Σ_j k_ij sin(φ_j − φ_i) (REFERENCE.md §2)."""

    dt: float = 0.01  # RK4 time step
    omega_low: float = 1.0  # natural frequencies ω ~ U[omega_low, omega_high)
    omega_high: float = 10.0
    coupling_prob: float = 0.5  # probability that j drives i
    coupling_strength: float = 1.0
    directed: bool = True  # k_ij drawn per ordered pair (as the authors); false = symmetric
    rate_scaling: str = "per_oscillator"  # dφ/dt scaled to [-1, 1] per oscillator | none (raw)
    scaling_length: int = 1000  # steps the scale is taken over (the test length, as the authors)
    with_phase: bool = False  # add the scaled unwrapped phase as a 4th feature (then dims: 4)
    noise_var: float = 0.0
