"""Checks of a user's trajectories against the model that will read them (``nri.infer``).

A value far outside the range the model was trained on saturates every edge probability of its
sample, and a gap in the time stamps is read as one frame; neither shows in the output, so the
first is refused and the second is said.
"""

from __future__ import annotations

import sys

import numpy as np

from nri.data.custom.trajectories import Trajectories
from nri.data.errors import InputError

# scaled values lie in [-1, 1] on the training range; this many ranges away is no extrapolation
SANE_SCALED_MAGNITUDE = 1e3
# relative spread of the time steps within a sequence above which they count as irregular
TIME_STEP_TOLERANCE = 0.01


def check_scaled_range(scaled: np.ndarray, raw: np.ndarray, traj: Trajectories, index: np.ndarray) -> None:
    """Refuse windows with a value the model cannot have learned anything about.

    Shapes: scaled, raw [W, N, L, D] (scaled to the training range / in the input's units); index [W, 2]
    """
    with np.errstate(invalid="ignore", over="ignore"):
        magnitude = np.abs(scaled.astype(np.float64))
    bad = ~np.isfinite(magnitude) | (magnitude > SANE_SCALED_MAGNITUDE)
    if not bad.any():
        return
    w, n, t, d = np.argwhere(bad)[0]
    sequence = traj.sequence_ids[index[w, 0]]
    raise InputError(f"{traj.source}: value {raw[w, n, t, d]:g} of feature {traj.features[d]} (sequence "
                     f"{sequence}, object {traj.objects[n]}) lies more than {SANE_SCALED_MAGNITUDE:g} "
                     "training ranges outside what the model was trained on; check the units or the file")


def warn_irregular_times(traj: Trajectories) -> None:
    """One warning line when a sequence's time stamps are not equally spaced."""
    for sequence, times in zip(traj.sequence_ids, traj.times, strict=True):
        steps = np.diff(np.asarray(times, dtype=np.float64))
        if len(steps) < 2:
            continue
        typical = np.median(steps)
        if typical > 0 and np.abs(steps - typical).max() > TIME_STEP_TOLERANCE * typical:
            print(f"warning: {traj.source}: sequence {sequence} has irregular time steps (from "
                  f"{steps.min():g} to {steps.max():g}); nri.infer treats its frames as equally spaced",
                  file=sys.stderr)
            return
