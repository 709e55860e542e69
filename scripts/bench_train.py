"""Training throughput (samples/s) and peak memory of NRI, per encoder/decoder pair.

    python scripts/bench_train.py                      # CPU, batch 128, hidden 256, springs5
    python scripts/bench_train.py --device cuda --compile --precision bf16-mixed --data-on-device
    python scripts/bench_train.py --original ../NRI    # whole epochs next to a clone of the original
                                                       # (scripts/bench_original.py; its options)

Each pair runs in its own process so that its peak RSS is its own. The figure is measured over
full Lightning training steps (data loading, forward, backward, optimiser) after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nri.runtime import keep_freed_memory

PAIRS = ["mlp/mlp", "cnn/mlp", "mlp/rnn"]
SPRINGS5 = {"name": "springs", "num_atoms": 5, "suffix": "_springs5", "format": "locvel", "dims": 4,
            "edge_types": 2, "has_edges": True, "train_steps": 49, "test_burn_in": 49, "test_horizon": 20}


def make_data(directory: Path, num_train: int, num_valid: int = 128, num_test: int = 128) -> None:
    """Simulate springs5 into ``directory`` with ``python -m nri.generate`` (seed 0)."""
    cmd = [sys.executable, "-m", "nri.generate", "dataset=springs", f"dataset.num_train={num_train}",
           f"dataset.num_valid={num_valid}", f"dataset.num_test={num_test}", "seed=0",
           f"paths.data_dir={directory}", f"hydra.run.dir={Path(directory) / '.generate'}"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"making the benchmark's data failed:\n{proc.stderr[-2000:]}")


def run_one(args: argparse.Namespace) -> dict:
    import pytorch_lightning as pl
    import torch

    from nri.data.datamodule import NRIDataModule
    from nri.models.module import NRIModule

    if args.malloc == "ours":
        keep_freed_memory()  # as nri.train does (its `keep_freed_memory` setting)
    torch.manual_seed(0)
    enc, dec = args.one.split("/")
    dataset = SPRINGS5
    micro_batches = args.micro_batches_by_pair[None]
    # One optimiser step = micro_batches loader batches of batch_size / micro_batches each
    # (Lightning's gradient accumulation): the same step size, a fraction of the activations.
    dm = NRIDataModule(dataset, args.data_dir, batch_size=args.batch_size // micro_batches,
                       shuffle=True, data_on_device=args.data_on_device)
    dm.load()
    model = {"skip_first": args.skip_first, "prediction_steps": 10,
             "decoder_chunks": args.decoder_chunks}
    decoder = {"name": dec, "hidden": args.hidden}
    if args.checkpoint:
        decoder["checkpoint"] = True
    module = NRIModule(dataset, model, {"name": enc, "hidden": args.hidden}, decoder,
                       dm.normalization)
    if args.compile:
        module.encoder = torch.compile(module.encoder, mode=args.compile_mode)
        module.decoder = torch.compile(module.decoder, mode=args.compile_mode)

    class Clock(pl.Callback):
        def __init__(self):
            self.start = None
            self.starts = 0  # how often the clock was started: once, or the timing is wrong
            self.samples = 0

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            # once: with micro-batches every loader batch of the first timed step sees this step
            if self.start is None and trainer.global_step == args.warmup:
                if args.device == "cuda":
                    torch.cuda.synchronize()
                self.start = time.perf_counter()
                self.starts += 1

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if self.start is not None:
                self.samples += batch["x"].shape[0]

    clock = Clock()
    trainer = pl.Trainer(accelerator="gpu" if args.device == "cuda" else "cpu", devices=1,
                         precision=args.precision, max_steps=args.warmup + args.steps,
                         accumulate_grad_batches=micro_batches,
                         limit_val_batches=0, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=[clock])
    trainer.fit(module, datamodule=dm)
    if args.device == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - clock.start
    rate = clock.samples / elapsed
    chunks = module.decoder_chunks(args.batch_size // micro_batches)  # as the steps chose them
    out = {"pair": args.one, "micro_batches": micro_batches, "decoder_chunks": chunks,
           "timed_samples": clock.samples,
           "clock_starts": clock.starts,
           "samples_per_s": rate,
           "epoch_50k_s": 50000 / rate,
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if args.device == "cuda":
        out["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def matmul_bound(batch_size: int, hidden: int, num_atoms: int = 5, frames: int = 49,
                 pred_steps: int = 10, edge_types: int = 2) -> dict:
    """This machine's float32 GEMM speed on the MLP decoder's main product, and what it implies.

    The second message layer of the MLP decoder is a [rows, H] x [H, H] product per edge type for
    rows = batch x edges x start points, once per predicted step; forward and backward cost about
    3x the forward FLOPs. Its time alone bounds mlp/mlp training from above at any implementation.
    """
    import torch

    edges = num_atoms * (num_atoms - 1)
    starts = -(-frames // pred_steps)
    rows = batch_size * edges * starts
    a, w = torch.randn(rows, hidden), torch.randn(hidden, hidden)
    for _ in range(3):
        a @ w
    reps = 20
    start = time.perf_counter()
    for _ in range(reps):
        a @ w
    per_gemm = (time.perf_counter() - start) / reps
    gflops = 2 * rows * hidden * hidden / per_gemm / 1e9
    batch_s = 3 * per_gemm * edge_types * pred_steps
    return {"gemm_gflops": gflops, "max_samples_per_s": batch_size / batch_s}


def _median_run(runs: list[dict]) -> dict:
    """The run with the median rate, with the largest peak RSS of all (a bound, not a typical value)."""
    ordered = sorted(runs, key=lambda r: r["samples_per_s"])
    out = dict(ordered[(len(ordered) - 1) // 2])
    if len(ordered) % 2 == 0:
        out["samples_per_s"] = statistics.median(r["samples_per_s"] for r in runs)
        out["epoch_50k_s"] = 50000 / out["samples_per_s"]
    out["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return out


def check_pair(parser: argparse.ArgumentParser, pair: str) -> tuple[str, str]:
    """'mlp/rnn' -> ('mlp', 'rnn'), or a usage error naming the encoders and decoders there are."""
    from nri.registry import DECODERS, ENCODERS

    encoder, sep, decoder = pair.partition("/")
    if not sep or encoder not in ENCODERS or decoder not in DECODERS:
        parser.error(f"pair {pair!r}: give ENCODER/DECODER, an encoder of {sorted(ENCODERS)} and a decoder "
                     f"of {sorted(DECODERS)}")
    return encoder, decoder


def _chunks(value: str) -> str | int:
    if value == "auto":
        return value
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"auto or a positive integer, got {value!r}")
    return int(value)


def parse_micro_batches(parser: argparse.ArgumentParser, items: list[str]) -> dict:
    """'4 cnn/mlp=8' -> {None: 4, 'cnn/mlp': 8} (None: every other pair; 1 if not given)."""
    out: dict = {None: 1}
    for item in items:
        pair, _, count = item.rpartition("=")
        if not count.isdigit() or int(count) < 1:
            parser.error(f"--micro-batches takes N or PAIR=N with N a positive integer, got {item!r}")
        out[pair or None] = int(count)
    return out


def _common_flags(args: argparse.Namespace) -> list[str]:
    flags = []
    for name in ("batch_size", "hidden", "steps", "warmup", "device", "precision", "malloc",
                 "decoder_chunks"):
        flags += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    if args.compile_mode:
        flags += ["--compile-mode", args.compile_mode]
    return flags + [f for f, on in (("--compile", args.compile), ("--data-on-device", args.data_on_device),
                                    ("--skip-first", args.skip_first),
                                    ("--checkpoint", args.checkpoint)) if on]


def _run_child(flags: list[str], what: str) -> dict:
    """Run one measurement in a fresh process (its peak RSS is its own); its last line is JSON."""
    proc = subprocess.run([sys.executable, __file__] + flags, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"benchmark of {what} failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    if "--original" in sys.argv[1:]:
        from bench_original import main as bench_original

        bench_original(sys.argv[1:])
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", nargs="+", default=PAIRS, help="encoder/decoder pairs")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--steps", type=int, default=20, help="timed steps after the warm-up")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=1,
                   help="rounds per pair (each in fresh processes); medians are reported")
    p.add_argument("--num-train", type=int, default=2000)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--precision", default="32-true")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--compile-mode", default=None, choices=["default", "reduce-overhead", "max-autotune",
                                                            "max-autotune-no-cudagraphs"],
                   help="torch.compile mode (reduce-overhead: CUDA graphs on a GPU)")
    p.add_argument("--data-on-device", action="store_true")
    p.add_argument("--skip-first", action="store_true", help="reference default is off")
    p.add_argument("--checkpoint", action="store_true",
                   help="recompute decoder activations in backward (less memory, more time)")
    p.add_argument("--malloc", choices=["ours", "none"], default="ours",
                   help="tune glibc's malloc to keep freed memory as nri.train does (nri/runtime.py), "
                        "or not")
    p.add_argument("--micro-batches", nargs="+", default=["1"], metavar="N|PAIR=N",
                   help="split each batch into N micro-batches (gradient accumulation): one count "
                        "for every pair, and/or per pair, e.g. '4 cnn/mlp=8'")
    p.add_argument("--decoder-chunks", type=_chunks, default="auto",
                   help="model.decoder_chunks: auto (nri's default) or decode each training batch "
                        "in this many chunks")
    p.add_argument("--data-dir", default=None, help="existing springs5 data (else a temp set is made)")
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    args.micro_batches_by_pair = parse_micro_batches(p, args.micro_batches)
    for count in args.micro_batches_by_pair.values():
        if args.batch_size % count:
            p.error(f"--batch-size {args.batch_size} does not split into {count} equal micro-batches")
    if args.repeats < 1:
        p.error(f"--repeats must be at least 1, got {args.repeats}")
    for pair in args.pairs:
        check_pair(p, pair)  # before any data is made
    if args.compile_mode and not args.compile:
        p.error("--compile-mode needs --compile")
    if args.one:
        print(json.dumps(run_one(args)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        if args.data_dir is None:
            args.data_dir = tmp
            make_data(Path(tmp), args.num_train)
        results = []
        for pair in args.pairs:
            micro = str(args.micro_batches_by_pair.get(pair, args.micro_batches_by_pair[None]))
            flags = (["--one", pair, "--data-dir", str(args.data_dir), "--micro-batches", micro]
                     + _common_flags(args))
            results.append(_median_run([_run_child(flags, pair) for _ in range(args.repeats)]))

    import torch

    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    if args.device == "cuda":
        machine = torch.cuda.get_device_name(0)
    print(f"# nri training throughput: batch {args.batch_size}, hidden {args.hidden}, springs5, "
          f"{args.device} ({machine}), precision {args.precision}, compile {args.compile}"
          f"{f' ({args.compile_mode})' if args.compile and args.compile_mode else ''}, "
          f"decoder checkpointing {args.checkpoint}, malloc keeps freed memory: {args.malloc}")
    extra = (" peak GPU (MB) |" if args.device == "cuda" else "")
    print("| encoder/decoder | micro-batches | decoder chunks | samples/s | 50k-sim epoch (s) | peak RSS (MB) |"
          + extra)
    print("|---|---|---|---|---|---|" + "---|" * extra.count("|"))
    for r in results:
        line = (f"| {r['pair']} | {r['micro_batches']} | {r['decoder_chunks']} | {r['samples_per_s']:.0f} | "
                f"{r['epoch_50k_s']:.1f} | {r['peak_rss_mb']:.0f} |")
        if args.device == "cuda":
            line += f" {r['peak_gpu_mb']:.0f} |"
        print(line)
    if args.repeats > 1:
        print(f"# medians of {args.repeats} rounds (peak RSS: the largest)")
    if args.device == "cpu":
        bound = matmul_bound(args.batch_size, args.hidden)
        print(f"# float32 GEMM on this machine: {bound['gemm_gflops']:.0f} GFLOP/s; the MLP decoder's "
              f"second message layer alone (forward + backward, K = 2) allows at most "
              f"{bound['max_samples_per_s']:.0f} samples/s at this size")
    if args.json:
        Path(args.json).write_text(json.dumps({"pairs": results}, indent=2))


if __name__ == "__main__":
    main()
