"""Make the data of the paper's table blocks and run their jobs that have no results yet.

    python scripts/table_jobs.py --profile quick table1_springs table2_springs
    python scripts/table_jobs.py --profile paper --dry-run table1_charged -- hydra/launcher=submitit_slurm

A block is an experiment config (conf/experiment/<block>.yaml) whose ``hydra.sweeper.params``,
with the profile's, span its jobs (rows x object counts x seeds). For each block this

1. writes the datasets its jobs read (``nri.generate`` with the job's dataset config, so the
   profile's sizes; a dataset already on disk with the same parameters is left alone);
2. launches ``python -m nri.train -m experiment=<block> profile=<profile> row=…`` for the rows that
   have a job without ``metrics.json``: first the rows they need (``row.needs``, e.g. Corr. (LSTM)
   reads the LSTM (single) run) as a multirun of their own, so that it also holds under parallel
   launchers, then the rest.

With ``--parallel N`` (N > 1) step 2 instead runs every job as its own ``nri.train`` process, N
at a time on this machine (give ``threads=1`` after ``--`` on a small CPU): a job starts once the
jobs it needs have results, the largest first (epochs x training simulations), and its console
output goes to ``<run dir>/console.log``.

Arguments after ``--`` go to every composition and launch (``seed=1,2`` replaces the profile's
seeds, ``threads=1``, ``hydra/launcher=…``). Training itself is ``nri.train``'s; this only plans.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

import nri.schema  # noqa: F401  (registers the config schemas that conf/ extends)

CONF = Path(__file__).resolve().parents[1] / "conf"


@dataclass
class Job:
    block: str
    overrides: tuple[str, ...]  # the swept key=value pairs of this job, row included
    row: str
    run_dir: Path
    dataset: dict  # resolved dataset config
    data_dir: Path
    deps: list[Job] = field(default_factory=list)  # jobs of the rows this one needs
    cost: float = 0.0  # epochs x training simulations: the order of --parallel, largest first

    @property
    def done(self) -> bool:
        return (self.run_dir / "metrics.json").exists()


def configs():
    """The context in which the functions below compose (``with configs(): ...``)."""
    GlobalHydra.instance().clear()
    return initialize_config_dir(config_dir=str(CONF), version_base="1.3")


def compose_train(overrides: list[str]) -> DictConfig:
    return compose("train", overrides=overrides, return_hydra_config=True)


def block_jobs(block: str, profile: str, extra: list[str]) -> list[Job]:
    """Every job of a block, in the order the basic sweeper launches them (inside ``configs()``).

    As with the basic sweeper, every override is an axis of the sweep (most have one value), and
    one given in ``extra`` replaces the block's or profile's axis of the same key.
    """
    base = [f"experiment={block}", f"profile={profile}"]
    first = compose_train(base)
    params = OmegaConf.to_container(first.hydra.sweeper.params) or {}
    parser = OverridesParser.create()
    axes = {}
    for o in parser.parse_overrides([f"{k}={v}" for k, v in params.items()] + list(extra)):
        key = o.get_key_element()
        axes[key] = ([f"{key}={v}" for v in o.sweep_string_iterator()] if o.is_sweep_override()
                     else [o.input_line])
    composer = _Composer(base, set(first.hydra.runtime.choices))
    return [composer.job(block, combo) for combo in product(*axes.values())]


class _Composer:
    """Composes jobs once per choice of config groups; plain values are then set in place.

    Every job of a block sets the same keys, so no value of an earlier job survives into a later.
    """

    def __init__(self, base: list[str], groups: set[str]):
        self.base = base
        self.groups = groups
        self.cache: dict[tuple[str, ...], DictConfig] = {}

    def compose(self, combo: tuple[str, ...]) -> DictConfig:
        parsed = OverridesParser.create().parse_overrides(list(combo))
        choices = tuple(o.input_line for o in parsed if o.get_key_element() in self.groups)
        if choices not in self.cache:
            self.cache[choices] = compose_train([*self.base, *choices])
        cfg = self.cache[choices]
        with read_write(cfg), open_dict(cfg):
            for o in parsed:
                if o.get_key_element() not in self.groups:
                    OmegaConf.update(cfg, o.get_key_element(), o.value(), merge=True)
        return cfg

    def job(self, block: str, combo: tuple[str, ...]) -> Job:
        cfg = self.compose(combo)
        job = Job(block, combo, cfg.row.id, Path(cfg.hydra.sweep.dir) / cfg.hydra.sweep.subdir,
                  OmegaConf.to_container(cfg.dataset, resolve=True), Path(cfg.paths.data_dir).resolve(),
                  cost=_cost(cfg))
        for need in cfg.row.get("needs") or ():
            job.deps.append(self.job(block, (*_without_row(combo), f"row={need}")))
        return job


def _cost(cfg: DictConfig) -> float:
    """Epochs x training simulations (0 for a row that trains nothing): only orders --parallel."""
    if not cfg.row.get("trains", True):
        return 0.0
    return float(cfg.trainer.max_epochs or 1) * float(cfg.dataset.get("num_train") or 1)


def make_data(jobs: list[Job], dry_run: bool) -> None:
    """Write the simulated datasets the jobs read (skipped by write_dataset when present)."""
    from nri.data.sim.generate_dataset import GENERATORS
    from nri.generate import run as generate

    seen = set()
    for job in jobs:
        dataset, data_dir = job.dataset, str(job.data_dir)
        key = (data_dir, dataset["suffix"])
        if dataset["name"] not in GENERATORS or key in seen:
            continue
        seen.add(key)
        print(f"[tables] data {dataset['suffix'].lstrip('_')} ({dataset['num_train']} train) in {data_dir}")
        if dry_run:
            continue
        gen = compose("generate", overrides=[f"dataset={dataset['name']}"])
        with open_dict(gen):
            gen.dataset = dataset
            gen.paths.data_dir = data_dir
        generate(gen)


def launches(jobs: list[Job], force: bool) -> list[list[str]]:
    """Multirun override lists: needed rows first, then the others.

    Done jobs are left out (unless ``force``), and a run shared by two blocks (NRI (learned) is
    in both tables) runs once.
    """
    todo = {}
    for job in jobs:
        todo.setdefault(job.run_dir, job)
    pending = [job for job in todo.values() if force or not job.done]
    first: dict[Path, Job] = {}
    for job in pending:
        for dep in job.deps:
            if force or not dep.done:
                first.setdefault(dep.run_dir, dep)
    rest = [job for job in pending if job.run_dir not in first]
    return _group(list(first.values())) + _group(rest)


def job_queue(jobs: list[Job], force: bool) -> list[Job]:
    """The jobs to run, needed ones included, each run dir once, largest first."""
    todo: dict[Path, Job] = {}
    for job in jobs:
        for candidate in (*job.deps, job):
            if force or not candidate.done:
                todo.setdefault(candidate.run_dir, candidate)
    return sorted(todo.values(), key=lambda j: -j.cost)


def train_command(profile: str, job: Job) -> list[str]:
    return [sys.executable, "-m", "nri.train", "-m", f"profile={profile}", f"experiment={job.block}",
            *job.overrides]


def _launch(cmd: list[str], log: Path) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)


def run_parallel(queue: list[Job], profile: str, workers: int, launch=_launch, poll_s: float = 5.0) -> None:
    """Run the queue ``workers`` jobs at a time; a job waits for the jobs it needs.

    On a failure nothing new starts; the running jobs finish and SystemExit names the failed ones.
    """
    waiting = list(queue)
    queued = {job.run_dir for job in queue}
    finished: set[Path] = set()
    running: dict[Path, subprocess.Popen] = {}
    failed: list[str] = []

    def ready(job: Job) -> bool:
        return all(d.run_dir in finished or (d.run_dir not in queued and d.done) for d in job.deps)

    while waiting or running:
        while not failed and len(running) < workers:
            job = next((j for j in waiting if ready(j)), None)
            if job is None:
                break
            waiting.remove(job)
            cmd = train_command(profile, job)
            print(f"[tables] start {shlex.join(cmd[1:])} (log: {job.run_dir / 'console.log'})", flush=True)
            running[job.run_dir] = launch(cmd, job.run_dir / "console.log")
        if not running:
            if waiting and not failed:
                names = ", ".join(str(j.run_dir) for j in waiting)
                raise SystemExit(f"[tables] jobs wait for runs that never finished: {names}")
            break
        time.sleep(poll_s)
        for run_dir, proc in list(running.items()):
            code = proc.poll()
            if code is None:
                continue
            del running[run_dir]
            if code == 0:
                finished.add(run_dir)
                print(f"[tables] done {run_dir}", flush=True)
            else:
                failed.append(f"{run_dir} (exit {code}; see {run_dir / 'console.log'})")
    if failed:
        raise SystemExit("[tables] failed: " + "; ".join(failed))


def _without_row(overrides: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(o for o in overrides if not o.startswith("row="))


def _group(jobs: list[Job]) -> list[list[str]]:
    """One multirun per block and set of non-row values: rows that share them run together."""
    by_block: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    rows: dict[str, list[str]] = defaultdict(list)
    for job in jobs:
        for o in _without_row(job.overrides):
            key, _, value = o.partition("=")
            by_block[job.block][key].add(value)
        if job.row not in rows[job.block]:
            rows[job.block].append(job.row)
    out = []
    for block, axes in by_block.items():
        swept = [f"{key}={','.join(sorted(values, key=_natural))}" for key, values in axes.items()]
        out.append([f"experiment={block}", f"row={','.join(rows[block])}", *swept])
    return out


def _natural(value: str):
    return (0, int(value), "") if value.lstrip("-").isdigit() else (1, 0, value)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("blocks", nargs="+", help="experiment names, e.g. table1_springs")
    parser.add_argument("--profile", default="quick", help="conf/profile/<name>.yaml (quick | paper)")
    parser.add_argument("--force", action="store_true", help="rerun jobs that already have results")
    parser.add_argument("--no-data", action="store_true", help="do not make the datasets")
    parser.add_argument("--dry-run", action="store_true", help="print what would run")
    parser.add_argument("--parallel", type=int, default=1, metavar="N",
                        help="run jobs as separate processes, N at a time (default 1: one multirun per block)")
    args = parser.parse_args(argv)
    if args.parallel < 1:
        parser.error(f"--parallel must be at least 1, got {args.parallel}")

    with configs():
        jobs = [job for block in args.blocks for job in block_jobs(block, args.profile, extra)]
        if not args.no_data:
            make_data(jobs, args.dry_run)
    if args.parallel > 1:
        queue = job_queue(jobs, args.force)
        if not queue:
            print(f"[tables] all {len(jobs)} jobs of {' '.join(args.blocks)} have results")
        elif args.dry_run:
            for job in queue:
                print("[tables] " + shlex.join(train_command(args.profile, job)[1:]))
        else:
            run_parallel(queue, args.profile, args.parallel)
        return
    commands = launches(jobs, args.force)
    if not commands:
        print(f"[tables] all {len(jobs)} jobs of {' '.join(args.blocks)} have results")
    for overrides in commands:
        cmd = [sys.executable, "-m", "nri.train", "-m", f"profile={args.profile}", *overrides]
        print("[tables] " + shlex.join(cmd[1:]), flush=True)
        if not args.dry_run:
            subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
