"""Train with torch.compile's CUDA-graph mode under nri.train's Trainer, one stage at a time, to
find where it fails.

    python research/cuda_graphs_probe.py                          # reduce-overhead on the GPU
    python research/cuda_graphs_probe.py --device cpu --mode none # the stages alone, quickly

nri.train refuses compile=reduce-overhead: on an H200 (2026-11-27) training through it in that mode
failed with an exception from inside Lightning, while the bare training steps of
scripts/bench_train.py ran. This probe builds what nri.train builds (datamodule, module, Trainer
with the default callbacks) on tiny springs data made here, compiles the encoder and decoder in
the given mode, and runs two stages, each with a fresh module: a fit without validation (what the
bench does), then a fit with validation after every epoch followed by a test from the best
checkpoint. By default the Trainer gets the fix of ``build_trainer(cuda_graphs=True)`` (a
CUDA-graph step mark before every batch, evaluation under no_grad); ``--without-fix`` builds it
as before, to see the original failure. It prints each step's outcome and the full traceback of
a failure; the exit status says whether any stage failed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' tiny-data and config helpers

MODES = ("reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs", "default", "none")


def build(cfg, mode: str, fix: bool):
    import torch

    from nri.build import build_datamodule, build_module, build_trainer

    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    datamodule.setup("fit")
    module = build_module(cfg, datamodule.normalization)  # cfg.compile is false: compiled here
    if mode != "none":
        module.encoder = torch.compile(module.encoder, mode=mode)
        module.decoder = torch.compile(module.decoder, mode=mode)
    return datamodule, module, build_trainer(cfg, cuda_graphs=fix)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", default="reduce-overhead", choices=MODES, help="torch.compile mode")
    p.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    p.add_argument("--without-fix", action="store_true",
                   help="build the Trainer as nri.train does for other modes (no step marks, inference_mode)")
    args = p.parse_args()
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda, but torch sees no CUDA device; run it on a GPU machine, or use --device cpu")
    from hydra.core.global_hydra import GlobalHydra

    from tests.hydra_utils import tiny_train_cfg
    from tests.tiny_data import write_tiny_springs

    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        data = write_tiny_springs(Path(tmp) / "data")
        trainer = ["trainer=gpu", "datamodule.data_on_device=true"] if args.device == "cuda" else []

        def cfg_for(stage: str, *extra: str):
            GlobalHydra.instance().clear()
            return tiny_train_cfg(data, Path(tmp) / stage, *trainer, "logger=none", "trainer.max_epochs=2",
                                  *extra)

        def fit_only():
            cfg = cfg_for("fit_only", "+trainer.limit_val_batches=0")
            datamodule, module, fit_trainer = build(cfg, args.mode, not args.without_fix)
            fit_trainer.fit(module, datamodule=datamodule)

        def fit_and_test():
            cfg = cfg_for("fit_validate_test")
            datamodule, module, fit_trainer = build(cfg, args.mode, not args.without_fix)
            fit_trainer.fit(module, datamodule=datamodule)
            print("  fit with validation: ok")
            fit_trainer.test(module, datamodule=datamodule, ckpt_path=fit_trainer.checkpoint_callback.best_model_path,
                             verbose=False)
            accuracy = float(fit_trainer.callback_metrics["test/edge_acc"])
            print(f"  test from the best checkpoint: ok, edge accuracy {accuracy:.3f}")

        for name, stage in (("fit without validation", fit_only),
                            ("fit with validation, then test from the checkpoint", fit_and_test)):
            print(f"== {name} (mode {args.mode}, {args.device})", flush=True)
            try:
                stage()
                print(f"== {name}: ok", flush=True)
            except Exception:
                failed.append(name)
                print(f"== {name}: FAILED", flush=True)
                traceback.print_exc(file=sys.stdout)
    print("failed stages: " + ("; ".join(failed) if failed else "none"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
