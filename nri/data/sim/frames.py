"""What every simulator shares: which integration steps become frames, and observation noise."""

from __future__ import annotations

import numpy as np


def num_frames(length: int, sample_freq: int) -> int:
    """Frames kept from a trajectory of ``length`` integration steps (the reference's T_save)."""
    return length // sample_freq - 1


def add_noise(arrays: tuple[np.ndarray, ...], noise_var: float, rng: np.random.Generator):
    """Add Gaussian noise to each array in place.

    Shapes: arrays of any shape, each changed in place.
    """
    # As in the reference, ``noise_var`` multiplies a standard normal draw (it acts as the std).
    if noise_var > 0:
        for array in arrays:
            array += rng.standard_normal(array.shape) * noise_var
