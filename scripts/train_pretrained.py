"""Train the pretrained models shipped in nri/pretrained/: simulate, train, keep the best checkpoint.

    python scripts/train_pretrained.py springs5        # or: make pretrained

For each name, ``nri.generate`` simulates the sizes of ``conf/experiment/pretrained_<name>.yaml``
into ``--data-root/<name>``, ``nri.train experiment=pretrained_<name>`` trains on them into
``--runs-root/<name>``, and the best checkpoint (lowest val/nll) is copied into
``nri/pretrained/<name>.ckpt`` without its optimiser state and data folder, with ``<name>.json``
beside it: the test metrics, the data, the settings and the commands that made it.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

import torch
from omegaconf import OmegaConf

from nri.atomic import atomic_write_json
from nri.checkpoints import DATAMODULE_STATE, read_checkpoint
from nri.pretrained import PRETRAINED_DIR

ROOT = Path(__file__).resolve().parents[1]
DATASETS = {"springs5": "springs"}  # name -> the dataset option it is simulated with
# what inference, evaluation and nri/checkpoints.py's checks read; the rest (optimiser, loops,
# callbacks) only serves a resume, which a shipped model does not offer
KEPT = ("epoch", "global_step", "pytorch-lightning_version", "state_dict", "hparams_name",
        "hyper_parameters", DATAMODULE_STATE)


def commands(name: str, data_dir: Path, run_dir: Path) -> list[list[str]]:
    sizes = OmegaConf.load(ROOT / "conf" / "experiment" / f"pretrained_{name}.yaml").dataset
    generate = ["-m", "nri.generate", f"dataset={DATASETS[name]}", f"paths.data_dir={data_dir}",
                *(f"dataset.{k}={sizes[k]}" for k in ("num_train", "num_valid", "num_test"))]
    train = ["-m", "nri.train", f"experiment=pretrained_{name}", f"paths.data_dir={data_dir}",
             f"hydra.run.dir={run_dir}"]
    return [generate, train]


def ship(name: str, run_dir: Path, made_by: list[str]) -> Path:
    """Copy the run's best checkpoint, slimmed, into nri/pretrained/ with its metrics beside it."""
    record = json.loads((run_dir / "metrics.json").read_text())
    ckpt = torch.load(record["best_ckpt"], map_location="cpu", weights_only=True)
    slim = {key: ckpt[key] for key in KEPT if key in ckpt}
    slim[DATAMODULE_STATE] = {**ckpt[DATAMODULE_STATE], "data_dir": None}
    out = PRETRAINED_DIR / f"{name}.ckpt"
    part = out.with_suffix(".ckpt.part")
    torch.save(slim, part)
    read_checkpoint(part)  # weights-only loading and the weight checks, before it replaces the old one
    part.replace(out)
    data = record["data"]
    atomic_write_json(PRETRAINED_DIR / f"{name}.json", {
        "name": name, "made_by": made_by, "metrics": record["metrics"],
        "data": {"split_sizes": data["split_sizes"], "metadata": data["metadata"]},
        "dataset": record["dataset"], "encoder": record["encoder"], "decoder": record["decoder"],
        "model": record["config"], "seed": record["seed"]})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=sorted(DATASETS), choices=sorted(DATASETS))
    parser.add_argument("--data-root", type=Path, default=Path("data/pretrained"))
    parser.add_argument("--runs-root", type=Path, default=Path("outputs/pretrained"))
    args = parser.parse_args()
    for name in args.names:
        data_dir, run_dir = args.data_root / name, args.runs_root / name  # recorded as given
        cmds = commands(name, data_dir, run_dir)
        for cmd in cmds:
            print("[nri] $ python " + shlex.join(cmd), flush=True)
            subprocess.run([sys.executable, *cmd], check=True)
        out = ship(name, run_dir, ["python " + shlex.join(c) for c in cmds])
        metrics = json.loads(out.with_suffix(".json").read_text())["metrics"]
        print(f"[nri] {out} ({out.stat().st_size / 1e6:.2f} MB): test/edge_acc "
              f"{metrics['test/edge_acc']:.4f}, test/mse_1 {metrics['test/mse_1']:.3g}")


if __name__ == "__main__":
    main()
