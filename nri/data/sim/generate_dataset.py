"""Write a simulated dataset in the reference layout: checked, chunked, parallel and atomic.

Files (in ``out_dir``, suffix ``_{name}{num_atoms}`` unless given):

- springs, charged: ``loc_{split}{suffix}.npy``, ``vel_…`` [S, T, 2, N], ``edges_…`` [S, N, N]
- kuramoto: ``feat_{split}{suffix}.npy`` [S, N, T, 3], ``edges_…`` [S, N, N]
- on a sparse graph family: ``edge_index_{split}{suffix}.npy`` [S, 2, M_max] instead of
  ``edges_…`` (nri/data/sim/sparse_dataset.py)
- ``metadata{suffix}.json``: generator, every parameter, package version, array shapes

Simulations are made in blocks of ``BLOCK_SIMS``; block b of split s draws from
``SeedSequence(seed, spawn_key=(s, b))``, so the bytes depend on the seed and the parameters
only, never on the number of worker processes.
"""

from __future__ import annotations

import inspect
import json
import logging
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
from nri.data.sim import simulate, sparse_dataset
from nri.data.sim.dataset_checks import already_written, check_physics, is_int
from nri.data.sim.sparse_edges import CONVENTION as EDGE_LIST_CONVENTION
from nri.data.sim.sparse_edges import EDGE_INDEX_KIND

__all__ = [
    "BLOCK_SIMS",
    "DatasetExistsError",
    "GENERATORS",
    "GenerationError",
    "dataset_paths",
    "physics_defaults",
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
                  suffix: str | None = None, graph: str = "dense") -> dict[str, Path]:
    """The files of a dataset, keyed ``{kind}_{split}`` (e.g. ``loc_train``) and ``metadata``."""
    generator = _generator(name)
    suffix = f"_{name}{num_atoms}" if suffix is None else suffix
    if not isinstance(suffix, str) or "/" in suffix or os.sep in suffix:
        raise GenerationError(f"suffix must be a plain file-name part, got {suffix!r}")
    out = Path(out_dir)
    paths = {f"{kind}_{split}": out / f"{kind}_{split}{suffix}.npy"
             for split in SPLITS
             for kind in sparse_dataset.array_kinds(generator.arrays, graph != "dense")}
    paths["metadata"] = out / f"metadata{suffix}.json"
    return paths


def physics_defaults(name: str, sparse: bool = False) -> dict[str, Any]:
    """The physics keywords, with their defaults, of ``name``'s dense or sparse-graph simulator."""
    defaults = _generator(name).physics_defaults
    return sparse_dataset.sparse_physics(name, defaults, {})[0] if sparse else defaults


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
    graph: str = "dense",
    mean_degree: float = 3.0,
    **physics: Any,
) -> dict[str, Path]:
    """Simulate and save train/valid/test splits; returns the dataset's paths.

    Sizes left as None take the dataset's defaults (``GENERATORS[name].sizes``, the values of
    conf/dataset/*.yaml); physics keywords not given take the simulator's defaults. If the
    directory already holds this dataset made with the same parameters, nothing is done. Files
    of a different dataset are replaced only with ``overwrite=True``. Every parameter is
    checked before anything is written; a bad one raises ``GenerationError``. ``graph`` other
    than ``"dense"`` draws every simulation's graph from that family with ``mean_degree`` and
    writes edge lists instead of ``edges`` (nri/data/sim/sparse_dataset.py); ``"dense"`` is the
    reference's generator, byte for byte.

    Shapes:
        loc_{split}, vel_{split}: [S_split, T_split, 2, N]; feat_{split}: [S_split, N, T_split, 3];
        edges_{split}: [S_split, N, N]; T = length // sample_freq - 1 (length_test for test)
        returns: {"loc_train": Path, …, "metadata": Path}
    """
    params = _checked_params(name, num_atoms, num_train, num_valid, num_test, length,
                             length_test, sample_freq, seed, dtype, workers, physics,
                             graph, mean_degree)
    out = Path(out_dir).expanduser().resolve()
    paths = dataset_paths(name, out, num_atoms, suffix, graph)
    stale = remove_stale_temporaries(paths.values())  # left by a generation killed before its renames
    if stale:
        log.warning("removed %d temporary file(s) left in %s by an interrupted generation", len(stale), out)
    if already_written(paths, params, overwrite):
        log.info("%s already exists with the same parameters in %s; nothing to do",
                 paths["metadata"].name, out)
        return paths

    generator = GENERATORS[name]
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    shapes = _split_shapes(generator, params)
    _generate(generator, params, paths, shapes, workers, progress)
    simulator = _simulator(name, params)
    metadata = {
        "metadata_version": _METADATA_VERSION,
        "generator": f"{simulator.__module__}.{simulator.__name__}",
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
        "conventions": _CONVENTIONS[name] + (f"; {EDGE_LIST_CONVENTION}" if "graph" in params
                                             else ""),
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


def _checked_params(name, num_atoms, num_train, num_valid, num_test, length, length_test,
                    sample_freq, seed, dtype, workers, physics, graph,
                    mean_degree) -> dict[str, Any]:
    generator = _generator(name)
    given = dict(num_train=num_train, num_valid=num_valid, num_test=num_test, length=length,
                 length_test=length_test, sample_freq=sample_freq)
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
              "seed": int(seed), "dtype": dtype, "block_sims": BLOCK_SIMS, "physics": resolved}
    if graph != "dense":  # dense datasets keep the reference's parameters (and metadata)
        params.update(sparse_dataset.graph_params(graph, mean_degree, num_atoms, BLOCK_SIMS))
    return params


# --------------------------------------------------------------------------------------------
# Generation


def _split_shapes(generator: Generator, params: dict[str, Any]) -> dict[str, dict]:
    shapes = {}
    for split in SPLITS:
        length = params["length_test" if split == "test" else "length"]
        frames = simulate.num_frames(length, params["sample_freq"])
        shapes[split] = generator.shapes(params[f"num_{split}"], params["num_atoms"], frames,
                                         params["physics"])
        if "graph" in params:  # edge lists: their width is known once they are drawn
            del shapes[split]["edges"]
    return shapes


def _tasks(params: dict[str, Any]) -> list[tuple[str, int, int, int, int]]:
    """(split, block, first simulation, count, length), longest blocks first."""
    tasks = []
    for split in SPLITS:
        length = params["length_test" if split == "test" else "length"]
        total = params[f"num_{split}"]
        per_block = params["block_sims"]
        for block, start in enumerate(range(0, total, per_block)):
            tasks.append((split, block, start, min(per_block, total - start), length))
    return sorted(tasks, key=lambda task: -task[3] * task[4])


def _simulate_block(name: str, params: dict[str, Any],
                    task: tuple[str, int, int, int, int]) -> tuple[str, int, tuple]:
    """Run one block (also the worker entry point, so it stays importable and picklable)."""
    split, block, start, count, length = task
    seq = np.random.SeedSequence(params["seed"], spawn_key=(SPLITS.index(split), block))
    on_graph = sparse_dataset.simulator_keywords(params) if "graph" in params else {}
    arrays = _simulator(name, params)(count, params["num_atoms"], length, params["sample_freq"],
                                      np.random.default_rng(seq), **params["physics"], **on_graph)
    return split, start, tuple(array if array.dtype.kind == "i"  # edge lists stay integers
                               else array.astype(params["dtype"], copy=False) for array in arrays)


def _simulator(name: str, params: dict[str, Any]) -> Callable[..., tuple[np.ndarray, ...]]:
    return sparse_dataset.SPARSE_SIMULATORS[name] if "graph" in params else GENERATORS[name].simulate


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
    kinds = sparse_dataset.array_kinds(generator.arrays, "graph" in params)
    edge_blocks: dict[str, list] = {split: [] for split in SPLITS}  # sparse graphs only
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
                for kind, array in zip(kinds, arrays, strict=True):
                    if kind == EDGE_INDEX_KIND:
                        edge_blocks[split].append((start, array))
                    else:
                        outputs[f"{kind}_{split}"][start:start + len(array)] = array
                bar.update(len(arrays[0]))
        for memmap in outputs.values():
            memmap.flush()
        outputs.clear()
        if EDGE_INDEX_KIND in kinds:
            for split, blocks in edge_blocks.items():
                key = f"{EDGE_INDEX_KIND}_{split}"
                temps[key] = temp_beside(paths[key])
                sparse_dataset.save_edge_lists(blocks, params[f"num_{split}"], temps[key])
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
