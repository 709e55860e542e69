"""Gumbel-softmax temperature as a pure function of the optimisation step.

Being a function of ``global_step`` alone, the temperature of a resumed run continues exactly
where it stopped.
"""

from __future__ import annotations

import math

KINDS = ("constant", "exponential", "cosine", "linear")


def temperature(step: int, kind: str = "constant", tau: float = 0.5, tau_final: float = 0.5,
                anneal_steps: int = 1) -> float:
    """Temperature at ``step``: from ``tau`` to ``tau_final`` over ``anneal_steps`` steps.

    ``constant`` always returns ``tau``; ``exponential`` decays geometrically, ``cosine`` follows a
    half cosine and ``linear`` a straight line; all stay at ``tau_final`` after ``anneal_steps``.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown temperature schedule {kind!r}; choose one of {KINDS}")
    if kind == "constant":
        return tau
    if tau <= 0 or tau_final <= 0:
        raise ValueError(f"temperatures must be positive, got tau={tau}, tau_final={tau_final}")
    frac = min(max(step, 0) / max(anneal_steps, 1), 1.0)
    if kind == "exponential":
        return tau * (tau_final / tau) ** frac
    if kind == "cosine":
        return tau_final + 0.5 * (tau - tau_final) * (1 + math.cos(math.pi * frac))
    return tau + (tau_final - tau) * frac
