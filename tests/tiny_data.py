"""Tiny springs datasets made by the simulators, for tests (the fixtures in conftest.py use them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nri.data.sim.simulate import simulate_springs

TINY = {"train": (64, 1600), "valid": (32, 1600), "test": (32, 2600)}  # sims, integration steps


def write_tiny_springs(directory: Path, num_atoms: int = 5, seed: int = 0,
                       sizes: dict | None = None) -> Path:
    """Springs data in the reference layout; frames = length / 100 - 1 (15 train/valid, 25 test)."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for split, (sims, length) in (sizes or TINY).items():
        loc, vel, edges = simulate_springs(sims, num_atoms, length, 100, rng)
        np.save(directory / f"loc_{split}_springs{num_atoms}.npy", loc.astype(np.float32))
        np.save(directory / f"vel_{split}_springs{num_atoms}.npy", vel.astype(np.float32))
        np.save(directory / f"edges_{split}_springs{num_atoms}.npy", edges)
    return directory


TINY_DATASET = {
    "name": "springs", "num_atoms": 5, "suffix": "_springs5", "format": "locvel", "dims": 4,
    "edge_types": 2, "has_edges": True, "train_steps": 15, "test_burn_in": 15, "test_horizon": 9,
}
