"""Per-epoch time and peak memory of ``nri.train`` side by side with the original NRI code.

    git clone https://github.com/ethanfetaya/NRI ../NRI      # measured at commit e63fcb0
    python scripts/bench_original.py --original ../NRI        # the paper's size (a few hours on 2 cores)
    python scripts/bench_original.py --original ../NRI --num-train 256 --epochs 2 --rounds 1
    make bench ORIGINAL=../NRI                                # the same, with ARGS="..." passed on

The clone is copied to a temporary directory and patched there for torch 2.x
(scripts/original_patches.py); nothing of it is stored here. One springs5 dataset is simulated with
``python -m nri.generate`` into the copy's ``data/`` folder, where the original's train.py reads
it, and both programs train on it: for every encoder/decoder pair the original's ``train.py`` and
``python -m nri.train model=paper`` with their defaults otherwise, each in a fresh process, in
alternating order, for several rounds. Each program's second epoch is timed by the program itself,
training and validation included: the original prints its epoch time, nri.train logs
``time/train_s`` after every validation (metrics.csv). Peak RSS is each process's own
(``wait4``). The table gives medians over the rounds (peak RSS: the largest).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from bench_train import make_data, matmul_bound
from original_patches import PatchError, patched_copy

PAIRS = ["mlp/mlp", "cnn/mlp", "mlp/rnn"]
TIMED_EPOCH = 1  # the second epoch: the first one pays for warm-up (allocator, caches, imports)
_EPOCH_LINE = re.compile(r"^Epoch: (\d+) .*time: ([0-9.]+)s", re.MULTILINE)
_TRAIN_PHASE_LINE = re.compile(r"^train_phase: ([0-9.]+)s", re.MULTILINE)


class BenchError(RuntimeError):
    """A run failed or its output lacks the timing the benchmark reads."""


def run_process(cmd: list[str], cwd: Path, env: dict, log: Path, timeout: float | None) -> float:
    """Run ``cmd`` with its output in ``log``; returns the peak RSS in MB of that process alone."""
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        timer = threading.Timer(timeout, proc.kill) if timeout else None
        if timer:
            timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            if timer:
                timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = log.read_text()[-2000:]
        raise BenchError(f"{' '.join(cmd[:4])} … exited with {proc.returncode} (log: {log}):\n{tail}")
    return usage.ru_maxrss / 1024  # KiB on Linux


def original_epoch_times(output: str, log: Path) -> tuple[float, float]:
    """(whole epoch, its training loop) in seconds for the timed epoch, from the original's output."""
    epochs = {int(n): float(s) for n, s in _EPOCH_LINE.findall(output)}
    phases = [float(s) for s in _TRAIN_PHASE_LINE.findall(output)]
    if TIMED_EPOCH not in epochs or len(phases) <= TIMED_EPOCH:
        raise BenchError(f"no 'Epoch: {TIMED_EPOCH:04d} … time: …s' and 'train_phase:' line for the "
                         f"timed epoch in {log}")
    return epochs[TIMED_EPOCH], phases[TIMED_EPOCH]


def nri_epoch_time(run_dir: Path) -> float:
    """Seconds of the timed epoch, training and validation, from the run's logged ``time/train_s``."""
    files = sorted(run_dir.rglob("metrics.csv"))
    if not files:
        raise BenchError(f"no metrics.csv under {run_dir}: did nri.train run with a csv logger?")
    clock = {}
    with files[0].open() as f:
        for row in csv.DictReader(f):
            if row.get("time/train_s"):
                clock[int(row["epoch"])] = float(row["time/train_s"])
    if TIMED_EPOCH not in clock or TIMED_EPOCH - 1 not in clock:
        raise BenchError(f"{files[0]} lacks time/train_s for epochs {TIMED_EPOCH - 1} and {TIMED_EPOCH}")
    return clock[TIMED_EPOCH] - clock[TIMED_EPOCH - 1]


def original_command(args: argparse.Namespace, encoder: str, decoder: str) -> list[str]:
    return [sys.executable, "train.py", "--no-cuda", "--epochs", str(args.epochs),
            "--batch-size", str(args.batch_size), "--encoder-hidden", str(args.hidden),
            "--decoder-hidden", str(args.hidden), "--encoder", encoder, "--decoder", decoder,
            "--suffix", "_springs5"]


def nri_command(args: argparse.Namespace, encoder: str, decoder: str, data_dir: Path,
                run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "nri.train", "model=paper", f"encoder={encoder}", f"decoder={decoder}",
            f"paths.data_dir={data_dir}", f"trainer.max_epochs={args.epochs}", f"threads={args.threads}",
            f"datamodule.batch_size={args.batch_size}", f"encoder.hidden={args.hidden}",
            f"decoder.hidden={args.hidden}", "test=false", f"hydra.run.dir={run_dir}"]


def second_layer_bound_s(args: argparse.Namespace, gflops: float, edges: int = 20, edge_types: int = 2,
                         predicted_frames: int = 48) -> float:
    """Seconds an epoch needs for the MLP decoder's second message layer alone.

    Any implementation computes, for every predicted frame of every sample, an [E, H] x [H, H]
    product per edge type: in training forward and backward (about 3x the forward FLOPs), in
    validation forward only. At this machine's measured GEMM speed that time bounds the epoch
    from below.
    """
    flops_per_pass = predicted_frames * edges * edge_types * 2 * args.hidden ** 2
    return (3 * args.num_train + args.num_valid) * flops_per_pass / (gflops * 1e9)


def machine_line(threads: int) -> str:
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        model = names[0] if names else model
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{model}, {os.cpu_count()} cores, {threads} threads per run, load average {load}"


def run_pair(args, pair: str, work: Path, copy: Path, env: dict) -> dict:
    encoder, decoder = pair.split("/")
    rounds = []
    for r in range(args.rounds):
        tag = f"{encoder}-{decoder}-{r}"
        order = ("original", "nri") if r % 2 == 0 else ("nri", "original")
        result = {}
        for who in order:
            if who == "original":
                log = work / f"original-{tag}.log"
                rss = run_process(original_command(args, encoder, decoder), copy, env, log, args.timeout)
                epoch, train_phase = original_epoch_times(log.read_text(), log)
                result.update(original_s=epoch, original_train_s=train_phase, original_rss_mb=rss)
            else:
                run_dir = work / f"nri-{tag}"
                rss = run_process(nri_command(args, encoder, decoder, copy / "data", run_dir), Path.cwd(),
                                  env, work / f"nri-{tag}.log", args.timeout)
                result.update(nri_s=nri_epoch_time(run_dir), nri_rss_mb=rss)
        result["speed_up"] = result["original_s"] / result["nri_s"]
        print(f"# {pair} round {r + 1}: original {result['original_s']:.2f} s, nri.train "
              f"{result['nri_s']:.2f} s, {result['speed_up']:.2f}x", flush=True)
        rounds.append(result)
    med = {key: statistics.median(r[key] for r in rounds)
           for key in ("original_s", "original_train_s", "nri_s", "speed_up")}
    med.update(original_rss_mb=max(r["original_rss_mb"] for r in rounds),
               nri_rss_mb=max(r["nri_rss_mb"] for r in rounds), pair=pair, rounds=rounds)
    return med


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--original", required=True, type=Path, help="a clone of github.com/ethanfetaya/NRI")
    p.add_argument("--pairs", nargs="+", default=PAIRS, choices=[*PAIRS, "cnn/rnn"], help="encoder/decoder pairs")
    p.add_argument("--num-train", type=int, default=5000, help="training simulations")
    p.add_argument("--num-valid", type=int, default=None, help="validation simulations (default: num-train / 5)")
    p.add_argument("--num-test", type=int, default=128,
                   help="test simulations (the original tests after training; not timed)")
    p.add_argument("--epochs", type=int, default=2, help="epochs per run; the second one is timed")
    p.add_argument("--rounds", type=int, default=3, help="rounds per pair, each in fresh processes")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--threads", type=int, default=2, help="CPU threads of every run")
    p.add_argument("--timeout", type=float, default=None, help="seconds before a run is killed")
    p.add_argument("--keep", type=Path, default=None,
                   help="work in this new directory (the copy, data, logs, runs) instead of a temp dir")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args(argv)
    if args.epochs <= TIMED_EPOCH:
        p.error(f"--epochs must be at least {TIMED_EPOCH + 1}: epoch {TIMED_EPOCH + 1} is the one timed")
    if args.rounds < 1:
        p.error(f"--rounds must be at least 1, got {args.rounds}")
    if args.keep and args.keep.exists() and any(args.keep.iterdir()):
        p.error(f"--keep {args.keep} is not empty; give a new or empty directory")
    if args.num_valid is None:
        args.num_valid = max(1, args.num_train // 5)
    return args


def print_table(args: argparse.Namespace, results: list[dict], machine: str) -> None:
    print(f"# nri.train vs the original NRI code: springs5, {args.num_train} train / {args.num_valid} valid "
          f"simulations, batch {args.batch_size}, hidden {args.hidden}, epoch {TIMED_EPOCH + 1} of "
          f"{args.epochs} (training + validation), medians of {args.rounds} round(s)")
    print(f"# machine: {machine}")
    print("| pair | original: epoch (s) | its training loop (s) | nri.train: epoch (s) | speed-up | "
          "peak RSS original (MB) | peak RSS nri.train (MB) |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['pair']} | {r['original_s']:.2f} | {r['original_train_s']:.2f} | {r['nri_s']:.2f} | "
              f"{r['speed_up']:.2f}x | {r['original_rss_mb']:.0f} | {r['nri_rss_mb']:.0f} |")


def print_bound(args: argparse.Namespace, results: list[dict]) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    gflops = matmul_bound(args.batch_size, args.hidden)["gemm_gflops"]
    bound_s = second_layer_bound_s(args, gflops)
    out = {"gemm_gflops": gflops, "second_layer_epoch_s": bound_s}
    for r in results:
        if r["pair"].endswith("/mlp"):
            out[r["pair"]] = r["original_s"] / bound_s
            print(f"# {r['pair']}: the MLP decoder's second message layer alone needs {bound_s:.2f} s per "
                  f"epoch at this machine's {gflops:.0f} GFLOP/s ({args.threads} threads): no "
                  f"implementation beats the original by more than {out[r['pair']]:.2f}x")
    return out


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               PYTHONUNBUFFERED="1")
    with tempfile.TemporaryDirectory(prefix="bench-original-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        try:
            copy = patched_copy(args.original.resolve(), work / "original")
            machine_before = machine_line(args.threads)
            make_data(copy / "data", args.num_train, args.num_valid, args.num_test)
            results = [run_pair(args, pair, work, copy, env) for pair in args.pairs]
        except (PatchError, BenchError) as err:
            raise SystemExit(f"error: {err}") from None
    print_table(args, results, f"{machine_before}; at the end: {machine_line(args.threads)}")
    bound = print_bound(args, results)
    if args.json:
        args.json.write_text(json.dumps({"pairs": results, "second_layer_bound": bound}, indent=2))


if __name__ == "__main__":
    main()
