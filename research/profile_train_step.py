"""Where a training step's host time goes: cProfile over Lightning training steps on the CPU.

    python research/profile_train_step.py                        # mlp/mlp, hidden 8, batch 8
    python research/profile_train_step.py --pair mlp/rnn --hidden 256 --batch-size 128 --top 60

A narrow model at a small batch leaves little arithmetic, so what the step costs is the host's
work: Python, operator dispatch and Lightning, which a GPU step pays as well (README, "On a GPU").
Prints the time per step with and without the profiler, then the largest cumulative entries.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))  # bench_train's helpers
from bench_train import SPRINGS5, check_pair, make_data  # noqa: E402


def fit_steps(module, datamodule, steps: int, profile: cProfile.Profile | None = None) -> float:
    """Seconds per step of ``steps`` Lightning training steps (a fresh Trainer each time: it counts
    from step 0; no validation, logging or checkpoints)."""
    import pytorch_lightning as pl

    trainer = pl.Trainer(accelerator="cpu", max_steps=steps, limit_val_batches=0,
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    start = time.perf_counter()
    if profile is not None:
        profile.enable()
    trainer.fit(module, datamodule=datamodule)
    if profile is not None:
        profile.disable()
    return (time.perf_counter() - start) / steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pair", default="mlp/mlp", help="encoder/decoder")
    p.add_argument("--hidden", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--steps", type=int, default=120, help="timed steps (after 20 warm-up steps)")
    p.add_argument("--top", type=int, default=45, help="cumulative-time entries to print")
    args = p.parse_args()
    for flag in ("steps", "hidden", "batch_size"):
        if getattr(args, flag) < 1:
            p.error(f"--{flag.replace('_', '-')} must be at least 1, got {getattr(args, flag)}")
    encoder, decoder = check_pair(p, args.pair)
    import torch

    from nri.data.datamodule import NRIDataModule
    from nri.models.module import NRIModule

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        make_data(Path(tmp), num_train=max(256, 4 * args.batch_size))
        dm = NRIDataModule(SPRINGS5, tmp, batch_size=args.batch_size, shuffle=True)
        dm.load()
        module = NRIModule(SPRINGS5, {"skip_first": True, "prediction_steps": 10},
                           {"name": encoder, "hidden": args.hidden}, {"name": decoder, "hidden": args.hidden},
                           dm.normalization)
        fit_steps(module, dm, 20)  # warm-up
        plain = fit_steps(module, dm, args.steps)
        profile = cProfile.Profile()
        profiled = fit_steps(module, dm, args.steps, profile)
    print(f"# {args.pair}, hidden {args.hidden}, batch {args.batch_size}, {torch.get_num_threads()} threads: "
          f"{plain * 1e3:.1f} ms per training step ({profiled * 1e3:.1f} ms under cProfile)")
    pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
