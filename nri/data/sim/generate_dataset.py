"""Write a simulated dataset in the reference layout: checked, chunked, parallel and atomic.

Files (in ``out_dir``, suffix ``_{name}{num_atoms}`` unless given):

- springs, charged: ``loc_{split}{suffix}.npy``, ``vel_…`` [S, T, 2, N], ``edges_…`` [S, N, N]
- kuramoto: ``feat_{split}{suffix}.npy`` [S, N, T, 3], ``edges_…`` [S, N, N]
- ``metadata{suffix}.json``: generator, every parameter, package version, array shapes

Simulations are made in blocks of ``BLOCK_SIMS``; block b of split s draws from
``SeedSequence(seed, spawn_key=(s, b))``, so the bytes depend on the seed and the parameters
only, never on the number of worker processes.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from nri.atomic import atomic_write_text, remove_stale_temporaries, rename_into_place, temp_beside
from nri.data.errors import DatasetExistsError, GenerationError
from nri.data.sim import simulate

__all__ = [
    "BLOCK_SIMS",
    "DatasetExistsError",
    "GENERATORS",
    "GenerationError",
    "dataset_paths",
    "write_dataset",
]

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
BLOCK_SIMS = 2500
# Jobs smaller than this many simulation steps run in-process: a pool costs more than it saves.
# Larger ones always use worker processes, even just one, because only there is BLAS held to a
# single thread; a multi-threaded BLAS on these small matrix products is several times slower.
_POOL_MIN_SIM_STEPS = 20_000_000
_METADATA_VERSION = 1


@dataclass(frozen=True)
class Generator:
    """How to make one kind of dataset.

    Shapes:
        simulate(num_sims, num_atoms, length, sample_freq, rng, **physics) -> arrays in the
        order of ``arrays``: loc/vel [S, T, 2, N] and edges [S, N, N], or feat [S, N, T, 3]
        and edges [S, N, N].
    """

    simulate: Callable[..., tuple[np.ndarray, ...]]
    arrays: tuple[str, ...]
    sizes: dict[str, int]  # default num_train … sample_freq

    @property
    def physics_defaults(self) -> dict[str, Any]:
        params = inspect.signature(self.simulate).parameters.values()
        return {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY}

    def shapes(self, num_sims: int, num_atoms: int, frames: int,
               physics: dict[str, Any] | None = None) -> dict[str, tuple[int, ...]]:
        feat_dims = 4 if (physics or {}).get("with_phase") else 3
        series = ((num_sims, num_atoms, frames, feat_dims) if "feat" in self.arrays
                  else (num_sims, frames, 2, num_atoms))
        return {kind: ((num_sims, num_atoms, num_atoms) if kind == "edges" else series)
                for kind in self.arrays}


_PARTICLE_SIZES = dict(num_train=50_000, num_valid=10_000, num_test=10_000,
                       length=5000, length_test=10_000, sample_freq=100)
GENERATORS: dict[str, Generator] = {
    "springs": Generator(simulate.simulate_springs, ("loc", "vel", "edges"), _PARTICLE_SIZES),
    "charged": Generator(simulate.simulate_charged, ("loc", "vel", "edges"), _PARTICLE_SIZES),
    "kuramoto": Generator(simulate.simulate_kuramoto, ("feat", "edges"),
                          dict(_PARTICLE_SIZES, length=500, length_test=1000, sample_freq=10)),
}


def dataset_paths(name: str, out_dir: str | os.PathLike, num_atoms: int,
                  suffix: str | None = None) -> dict[str, Path]:
    """The files of a dataset, keyed ``{kind}_{split}`` (e.g. ``loc_train``) and ``metadata``."""
    generator = _generator(name)
    suffix = f"_{name}{num_atoms}" if suffix is None else suffix
    if not isinstance(suffix, str) or "/" in suffix or os.sep in suffix:
        raise GenerationError(f"suffix must be a plain file-name part, got {suffix!r}")
    out = Path(out_dir)
    paths = {f"{kind}_{split}": out / f"{kind}_{split}{suffix}.npy"
             for split in SPLITS for kind in generator.arrays}
    paths["metadata"] = out / f"metadata{suffix}.json"
    return paths


def write_dataset(
    name: str,
    out_dir: str | os.PathLike,
    num_atoms: int = 5,
    num_train: int | None = None,
    num_valid: int | None = None,
    num_test: int | None = None,
    length: int | None = None,
    length_test: int | None = None,
    sample_freq: int | None = None,
    seed: int = 42,
    dtype: str = "float32",
    overwrite: bool = False,
    workers: int | None = None,
    suffix: str | None = None,
    progress: bool | None = None,
    **physics: Any,
) -> dict[str, Path]:
    """Simulate and save train/valid/test splits; returns the dataset's paths.

    Sizes left as None take the dataset's defaults (``GENERATORS[name].sizes``, the values of
    conf/dataset/*.yaml); physics keywords not given take the simulator's defaults. If the
    directory already holds this dataset made with the same parameters, nothing is done. Files
    of a different dataset are replaced only with ``overwrite=True``. Every parameter is
    checked before anything is written; a bad one raises ``GenerationError``.

    Shapes:
        loc_{split}, vel_{split}: [S_split, T_split, 2, N]; feat_{split}: [S_split, N, T_split, 3];
        edges_{split}: [S_split, N, N]; T = length // sample_freq - 1 (length_test for test)
        returns: {"loc_train": Path, …, "metadata": Path}
    """
    params = _checked_params(name, num_atoms, num_train, num_valid, num_test, length,
                             length_test, sample_freq, seed, dtype, workers, physics)
    out = Path(out_dir).expanduser().resolve()
    paths = dataset_paths(name, out, num_atoms, suffix)
    stale = remove_stale_temporaries(paths.values())  # left by a generation killed before its renames
    if stale:
        log.warning("removed %d temporary file(s) left in %s by an interrupted generation", len(stale), out)
    if _already_written(paths, params, overwrite):
        log.info("%s already exists with the same parameters in %s; nothing to do",
                 paths["metadata"].name, out)
        return paths

    generator = GENERATORS[name]
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    shapes = _split_shapes(generator, params)
    _generate(generator, params, paths, shapes, workers, progress)
    metadata = {
        "metadata_version": _METADATA_VERSION,
        "generator": f"{generator.simulate.__module__}.{generator.simulate.__name__}",
        "dataset": name,
        "suffix": _suffix(paths),
        "parameters": params,
        "nri_version": _package_version(),
        "numpy_version": np.__version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 2),
        "shapes": {split: {kind: list(shape) for kind, shape in shapes[split].items()}
                   for split in SPLITS},
        "files": {key: path.name for key, path in paths.items() if key != "metadata"},
        "conventions": _CONVENTIONS[name],
    }
    atomic_write_text(paths["metadata"], json.dumps(metadata, indent=2) + "\n")
    log.info("wrote %s to %s in %.1f s", _suffix(paths).lstrip("_"), out, metadata["seconds"])
    return paths


_CONVENTIONS = {
    "springs": "loc/vel [S, T, 2, N]; frame k is integration step (k+1)*sample_freq; "
               "edges[s, i, j] in {0, 1}, symmetric, zero diagonal",
    "charged": "loc/vel [S, T, 2, N]; frame k is integration step (k+1)*sample_freq; "
               "edges = q q^T in {-1, +1} (+1 on the diagonal); +1 = like charges (repel)",
    "kuramoto": "feat [S, N, T, 3] = (dphi/dt, sin phi, omega); frame k is integration step "
                "(k+1)*sample_freq; edges[s, i, j] = 1 iff oscillator j drives i (row = receiver)",
}


# --------------------------------------------------------------------------------------------
# Checks


def _generator(name: str) -> Generator:
    if name not in GENERATORS:
        raise GenerationError(f"unknown dataset {name!r}; choose one of {', '.join(GENERATORS)}")
    return GENERATORS[name]


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _checked_params(name, num_atoms, num_train, num_valid, num_test, length, length_test,
                    sample_freq, seed, dtype, workers, physics) -> dict[str, Any]:
    generator = _generator(name)
    given = dict(num_train=num_train, num_valid=num_valid, num_test=num_test, length=length,
                 length_test=length_test, sample_freq=sample_freq)
    sizes = {key: generator.sizes[key] if value is None else value
             for key, value in given.items()}
    if not _is_int(num_atoms) or num_atoms < 2:
        raise GenerationError(f"num_atoms must be an integer >= 2, got {num_atoms!r}")
    for key, value in sizes.items():
        if not _is_int(value) or value <= 0:
            raise GenerationError(f"{key} must be a positive integer, got {value!r}")
    for key in ("length", "length_test"):
        if sizes[key] % sizes["sample_freq"] or sizes[key] < 2 * sizes["sample_freq"]:
            raise GenerationError(
                f"{key}={sizes[key]} must be a multiple of sample_freq={sizes['sample_freq']} "
                f"and at least twice it (frames kept = {key} / sample_freq - 1)"
            )
    if not _is_int(seed) or seed < 0:
        raise GenerationError(f"seed must be a non-negative integer, got {seed!r}")
    if dtype not in ("float32", "float64"):
        raise GenerationError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    if workers is not None and (not _is_int(workers) or workers < 1):
        raise GenerationError(f"workers must be a positive integer or None, got {workers!r}")
    defaults = generator.physics_defaults
    unknown = sorted(set(physics) - set(defaults))
    if unknown:
        raise GenerationError(f"unknown physics parameter(s) {', '.join(unknown)} for {name}; "
                              f"expected some of {', '.join(sorted(defaults))}")
    resolved = {key: physics.get(key, default) for key, default in defaults.items()}
    if "scaling_length" in defaults and "scaling_length" not in physics:
        resolved["scaling_length"] = sizes["length_test"]  # the authors' window: the test length
    _check_physics(resolved, sizes["sample_freq"])
    return {"num_atoms": int(num_atoms), **{k: int(v) for k, v in sizes.items()},
            "seed": int(seed), "dtype": dtype, "block_sims": BLOCK_SIMS, "physics": resolved}


def _check_physics(physics: dict[str, Any], sample_freq: int) -> None:
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
            if not _is_int(value) or value < 2 * sample_freq or value % sample_freq:
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


def _already_written(paths: dict[str, Path], params: dict[str, Any], overwrite: bool) -> bool:
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
            changed = _differences(old, params)
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


def _differences(old: Any, new: dict[str, Any]) -> str:
    """The first few parameters that differ, as ``key: old -> new``."""
    if not isinstance(old, dict):
        return "metadata unreadable"
    flat_old = {**old, **(old.get("physics") or {})}
    flat_new = {**new, **new["physics"]}
    keys = sorted(k for k in set(flat_old) | set(flat_new)
                  if k != "physics" and flat_old.get(k) != flat_new.get(k))
    return ", ".join(f"{k}: {flat_old.get(k)!r} -> {flat_new.get(k)!r}" for k in keys[:4])


# --------------------------------------------------------------------------------------------
# Generation


def _split_shapes(generator: Generator, params: dict[str, Any]) -> dict[str, dict]:
    shapes = {}
    for split in SPLITS:
        length = params["length_test" if split == "test" else "length"]
        frames = simulate.num_frames(length, params["sample_freq"])
        shapes[split] = generator.shapes(params[f"num_{split}"], params["num_atoms"], frames,
                                         params["physics"])
    return shapes


def _tasks(params: dict[str, Any]) -> list[tuple[str, int, int, int, int]]:
    """(split, block, first simulation, count, length), longest blocks first."""
    tasks = []
    for split in SPLITS:
        length = params["length_test" if split == "test" else "length"]
        total = params[f"num_{split}"]
        for block, start in enumerate(range(0, total, BLOCK_SIMS)):
            tasks.append((split, block, start, min(BLOCK_SIMS, total - start), length))
    return sorted(tasks, key=lambda task: -task[3] * task[4])


def _simulate_block(name: str, params: dict[str, Any],
                    task: tuple[str, int, int, int, int]) -> tuple[str, int, tuple]:
    """Run one block (also the worker entry point, so it stays importable and picklable)."""
    split, block, start, count, length = task
    seq = np.random.SeedSequence(params["seed"], spawn_key=(SPLITS.index(split), block))
    arrays = GENERATORS[name].simulate(count, params["num_atoms"], length,
                                       params["sample_freq"], np.random.default_rng(seq),
                                       **params["physics"])
    return split, start, tuple(array.astype(params["dtype"], copy=False) for array in arrays)


def _worker_block(args):
    return _simulate_block(*args)


def _generate(generator: Generator, params: dict[str, Any], paths: dict[str, Path],
              shapes: dict[str, dict], workers: int | None, progress: bool | None) -> None:
    tasks = _tasks(params)
    sim_steps = sum(task[3] * task[4] for task in tasks)
    # 0 workers: run in this process
    workers = 0 if sim_steps < _POOL_MIN_SIM_STEPS else min(workers or _cpu_count(), len(tasks))
    show = sys.stderr.isatty() if progress is None else progress
    temps: dict[str, Path] = {}
    try:
        outputs = {}
        for split in SPLITS:
            for kind, shape in shapes[split].items():
                key = f"{kind}_{split}"
                temps[key] = temp_beside(paths[key])
                outputs[key] = np.lib.format.open_memmap(temps[key], mode="w+",
                                                         dtype=params["dtype"], shape=shape)
        total = sum(params[f"num_{split}"] for split in SPLITS)
        with tqdm(total=total, unit="sim", disable=not show, dynamic_ncols=True,
                  desc=_suffix(paths).lstrip("_")) as bar:
            for split, start, arrays in _run_blocks(generator, params, tasks, workers):
                for kind, array in zip(generator.arrays, arrays, strict=True):
                    outputs[f"{kind}_{split}"][start:start + len(array)] = array
                bar.update(len(arrays[0]))
        for memmap in outputs.values():
            memmap.flush()
        outputs.clear()
    except BaseException:
        for temp in temps.values():
            temp.unlink(missing_ok=True)
        raise
    # The old metadata goes first: a crash between renames must not leave it vouching for
    # a mix of old and new arrays.
    rename_into_place([(temp, paths[key]) for key, temp in temps.items()], stale=[paths["metadata"]])


def _run_blocks(generator: Generator, params, tasks, workers: int):
    name = next(key for key, value in GENERATORS.items() if value is generator)
    if workers == 0:
        for task in tasks:
            yield _simulate_block(name, params, task)
        return
    if sys.platform == "linux":
        context = multiprocessing.get_context("forkserver")
        # Workers fork from a server that has only this module loaded: they start fast and
        # never re-run the caller's script (``__main__``), guarded or not.
        context.set_forkserver_preload([__name__])
    else:
        context = multiprocessing.get_context("spawn")
    with _single_threaded_blas(), context.Pool(workers) as pool:
        yield from pool.imap_unordered(_worker_block, [(name, params, task) for task in tasks])


class _single_threaded_blas:
    """Start worker processes with one BLAS thread each: the pool already fills the cores."""

    _VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

    def __enter__(self):
        self._saved = {var: os.environ.get(var) for var in self._VARS}
        os.environ.update({var: "1" for var in self._VARS})

    def __exit__(self, *exc):
        for var, value in self._saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def _suffix(paths: dict[str, Path]) -> str:
    return paths["metadata"].name[len("metadata"):-len(".json")]


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _package_version() -> str:
    try:
        from nri import __version__

        return __version__
    except ImportError:
        return "unknown"
