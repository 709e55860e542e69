"""Checks of a dataset's parameters, and of what its folder already holds, before writing."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from nri.data.errors import DatasetExistsError, GenerationError
from nri.data.sim import sparse_dataset

__all__ = ["already_written", "check_physics", "checked_params", "is_int"]


def is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_physics(physics: dict[str, Any], sample_freq: int) -> None:
    for key, value in physics.items():
        if key in ("directed", "with_phase"):
            if not isinstance(value, bool):
                raise GenerationError(f"{key} must be true or false, got {value!r}")
            continue
        if key == "rate_scaling":
            if value not in ("per_oscillator", "none"):
                raise GenerationError(
                    f"rate_scaling must be 'per_oscillator' or 'none', got {value!r}")
            continue
        if key == "scaling_length":
            if not is_int(value) or value < 2 * sample_freq or value % sample_freq:
                raise GenerationError(
                    f"scaling_length must be an integer multiple of sample_freq={sample_freq} "
                    f"and at least twice it, got {value!r}")
            physics[key] = int(value)
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise GenerationError(f"{key} must be a number, got {value!r}")
        physics[key] = float(value)
        if not math.isfinite(value):
            raise GenerationError(f"{key} must be finite, got {value!r}")
        if key in ("dt", "box_size") and value <= 0:
            raise GenerationError(f"{key} must be positive, got {value!r}")
        if key in ("loc_std", "vel_norm", "noise_var") and value < 0:
            raise GenerationError(f"{key} must be non-negative, got {value!r}")
        if key.endswith("_prob") and not 0 <= value <= 1:
            raise GenerationError(f"{key} must lie in [0, 1], got {value!r}")
    if "omega_low" in physics and physics["omega_low"] >= physics["omega_high"]:
        raise GenerationError(f"omega_low ({physics['omega_low']}) must be below omega_high "
                              f"({physics['omega_high']})")


def already_written(paths: dict[str, Path], params: dict[str, Any], overwrite: bool) -> bool:
    """True if the same dataset is complete on disk; raises if another one is in the way."""
    meta_path = paths["metadata"]
    arrays = [path for key, path in paths.items() if key != "metadata"]
    if meta_path.exists():
        try:
            old = json.loads(meta_path.read_text(encoding="utf-8")).get("parameters")
        except (OSError, ValueError, AttributeError):
            old = None
        if old == json.loads(json.dumps(params)):
            if all(path.exists() for path in arrays):
                return True
            return False  # same parameters, files missing: regenerating rewrites the same bytes
        if not overwrite:
            changed = differences(old, params)
            raise DatasetExistsError(
                f"{meta_path} describes a dataset with other parameters ({changed}); "
                "pass overwrite=true to replace it"
            )
        return False
    present = [path.name for path in arrays if path.exists()]
    if present and not overwrite:
        raise DatasetExistsError(
            f"{meta_path.parent} already holds {present[0]} (no {meta_path.name} to compare "
            "parameters with); pass overwrite=true to replace it"
        )
    return False


def differences(old: Any, new: dict[str, Any]) -> str:
    """The first few parameters that differ, as ``key: old -> new``."""
    if not isinstance(old, dict):
        return "metadata unreadable"
    flat_old = {**old, **(old.get("physics") or {})}
    flat_new = {**new, **new["physics"]}
    keys = sorted(k for k in set(flat_old) | set(flat_new)
                  if k != "physics" and flat_old.get(k) != flat_new.get(k))
    return ", ".join(f"{k}: {flat_old.get(k)!r} -> {flat_new.get(k)!r}" for k in keys[:4])


def checked_params(name: str, generator, num_atoms: int, given: dict[str, int | None], seed: int,
                   dtype: str, workers: int | None, physics: dict[str, Any], graph: str,
                   mean_degree: float, block_sims: int) -> dict[str, Any]:
    """Every parameter of a dataset, checked and completed from ``generator``'s defaults.

    ``given`` holds the sizes (num_train … sample_freq); None takes the generator's. Raises
    GenerationError naming the first bad parameter.
    """
    sizes = {key: generator.sizes[key] if value is None else value
             for key, value in given.items()}
    if not is_int(num_atoms) or num_atoms < 2:
        raise GenerationError(f"num_atoms must be an integer >= 2, got {num_atoms!r}")
    for key, value in sizes.items():
        if not is_int(value) or value <= 0:
            raise GenerationError(f"{key} must be a positive integer, got {value!r}")
    for key in ("length", "length_test"):
        if sizes[key] % sizes["sample_freq"] or sizes[key] < 2 * sizes["sample_freq"]:
            raise GenerationError(
                f"{key}={sizes[key]} must be a multiple of sample_freq={sizes['sample_freq']} "
                f"and at least twice it (frames kept = {key} / sample_freq - 1)"
            )
    if not is_int(seed) or seed < 0:
        raise GenerationError(f"seed must be a non-negative integer, got {seed!r}")
    if dtype not in ("float32", "float64"):
        raise GenerationError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    if workers is not None and (not is_int(workers) or workers < 1):
        raise GenerationError(f"workers must be a positive integer or None, got {workers!r}")
    defaults = generator.physics_defaults
    if graph != "dense":
        defaults, physics = sparse_dataset.sparse_physics(name, defaults, physics)
    unknown = sorted(set(physics) - set(defaults))
    if unknown:
        raise GenerationError(f"unknown physics parameter(s) {', '.join(unknown)} for {name}; "
                              f"expected some of {', '.join(sorted(defaults))}")
    resolved = {key: physics.get(key, default) for key, default in defaults.items()}
    if "scaling_length" in defaults and "scaling_length" not in physics:
        resolved["scaling_length"] = sizes["length_test"]  # the authors' window: the test length
    check_physics(resolved, sizes["sample_freq"])
    params = {"num_atoms": int(num_atoms), **{k: int(v) for k, v in sizes.items()},
              "seed": int(seed), "dtype": dtype, "block_sims": block_sims, "physics": resolved}
    if graph != "dense":  # dense datasets keep the reference's parameters (and metadata)
        params.update(sparse_dataset.graph_params(graph, mean_degree, num_atoms, block_sims))
    return params
