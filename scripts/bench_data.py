"""Time the dataset generators and measure their peak memory.

    python scripts/bench_data.py                       # full springs5, charged5, kuramoto5 sets
    python scripts/bench_data.py --dataset springs --scale 0.1

Each dataset is written with ``write_dataset`` into a temporary directory (removed afterwards)
with the default sizes times ``--scale``. One markdown table row per dataset: simulations per
second, simulation steps per second, the wall time (and projected to the full set when scaled),
the CPU time of this process and its workers (less sensitive than wall time to other load on a
shared machine), and the peak resident memory of this process and all its children together,
sampled every 50 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np

from nri.data.sim.generate_dataset import GENERATORS, SPLITS, write_dataset


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _descendants(root: int) -> set[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = set(), [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _cpu_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, ValueError, IndexError):
        return 0


class TreeMonitor:
    """Samples this process tree in a background thread (Linux /proc): the peak of the summed
    RSS, and the CPU time of every process seen (workers are the forkserver's children, which
    ``getrusage`` does not report)."""

    def __init__(self, interval: float = 0.05):
        self.interval, self.peak = interval, 0
        self._ticks: dict[int, int] = {}
        self._start_ticks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        me = os.getpid()
        pids = {me} | _descendants(me)
        self.peak = max(self.peak, sum(_rss_bytes(pid) for pid in pids))
        for pid in pids:
            ticks = _cpu_ticks(pid)
            self._start_ticks.setdefault(pid, ticks)
            self._ticks[pid] = max(self._ticks.get(pid, 0), ticks)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    @property
    def cpu_seconds(self) -> float:
        ticks = sum(self._ticks[pid] - self._start_ticks[pid] for pid in self._ticks)
        return ticks / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> TreeMonitor:
        self._sample()  # the starting CPU counts of the processes that already exist
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def bench(name: str, scale: float, num_atoms: int, workers: int | None, dtype: str,
          root: Path) -> dict:
    sizes = dict(GENERATORS[name].sizes)
    for split in SPLITS:
        sizes[f"num_{split}"] = max(1, round(sizes[f"num_{split}"] * scale))
    sims = sum(sizes[f"num_{split}"] for split in SPLITS)
    steps = sum(sizes[f"num_{split}"] * sizes["length_test" if split == "test" else "length"]
                for split in SPLITS)
    out = root / name
    with TreeMonitor() as monitor:
        started = time.perf_counter()
        write_dataset(name, out, num_atoms=num_atoms, workers=workers, dtype=dtype,
                      overwrite=True, **sizes)
        seconds = time.perf_counter() - started
    disk = sum(p.stat().st_size for p in out.iterdir())
    shutil.rmtree(out)
    return dict(dataset=f"{name}{num_atoms}", sims=sims, steps=steps, seconds=seconds,
                full_seconds=seconds / scale, cpu=monitor.cpu_seconds, peak=monitor.peak,
                disk=disk)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", nargs="+", default=list(GENERATORS), choices=GENERATORS)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of the default 50k/10k/10k simulations (default 1)")
    parser.add_argument("--num-atoms", type=int, default=5)
    parser.add_argument("--workers", type=int, default=None, help="default: every core")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--dir", type=Path, default=None,
                        help="scratch directory (default: a new temporary one)")
    args = parser.parse_args()
    if not 0 < args.scale <= 1:
        parser.error("--scale must lie in (0, 1]")

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# {date.today()} · {cores} cores · {_cpu_model()} · numpy {np.__version__} · "
          f"scale {args.scale:g} · {args.dtype} · load average at start {load:.1f}")
    print("| dataset | simulations | sims/s | M steps/s | time (s) | full set (s) "
          "| CPU time (s) | peak RSS (MiB) | disk (MiB) |")
    print("|---|---|---|---|---|---|---|---|---|")
    root = Path(tempfile.mkdtemp(prefix="nri-bench-", dir=args.dir))
    try:
        for name in args.dataset:
            r = bench(name, args.scale, args.num_atoms, args.workers, args.dtype, root)
            print(f"| {r['dataset']} | {r['sims']} | {r['sims'] / r['seconds']:.0f} "
                  f"| {r['steps'] / r['seconds'] / 1e6:.1f} | {r['seconds']:.1f} "
                  f"| {r['full_seconds']:.0f} | {r['cpu']:.1f} | {r['peak'] / 2**20:.0f} "
                  f"| {r['disk'] / 2**20:.0f} |", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
