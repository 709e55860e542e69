"""Pictures of a training run: ``python -m nri.plot run_dir=outputs/train/runs/<time>``.

Writes into ``<run_dir>/plots`` (or ``out_dir=…``):

- ``learning_curves.png``: the epoch metrics of ``csv/metrics.csv`` (Lightning's CSVLogger);
- ``trajectories.png``: a few test samples, true (solid) against the model's forecast (dashed),
  from ``checkpoints/best.ckpt`` (or ``ckpt=…``);
- ``graphs.png``: the inferred graph of the same samples beside the true one when there is one.

The test data is read from ``data_dir=…``, by default the run's own ``paths.data_dir`` (from
``.hydra/config.yaml``, relative to the directory the run was started from).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException
from torch.nn import functional as F

from nri import metrics
from nri.atomic import atomic_write_all
from nri.cli import exits_on_user_error, fail
from nri.data.custom.trajectories import InputError
from nri.data.datamodule import edge_labels, read_split
from nri.data.normalization import apply_normalization, invert_normalization
from nri.inference import load_model
from nri.quiet import quiet

OPTIONS = {"run_dir": "???", "out_dir": None, "data_dir": None, "ckpt": None, "samples": 3}


def learning_curves(path: Path) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Epoch-level ``train/*_epoch`` and ``val/*`` columns of a CSVLogger file, by quantity.

    Shapes: returns curves[quantity][split] = (epochs [M], values [M])
    """
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    series: dict[str, dict[str, tuple[list[float], list[float]]]] = {}
    for column in rows[0].keys() if rows else []:
        split, _, name = column.partition("/")
        if split == "train" and name.endswith("_epoch"):
            name = name[: -len("_epoch")]
        elif split != "val":
            continue
        xs, ys = [], []
        for row in rows:
            if row.get(column) not in (None, "") and row.get("epoch") not in (None, ""):
                xs.append(float(row["epoch"]))
                ys.append(float(row[column]))
        if xs:
            series.setdefault(name, {})[split] = (np.asarray(xs), np.asarray(ys))
    return series


def run_data_dir(run_dir: Path) -> Path | None:
    """The run's ``paths.data_dir`` from its saved Hydra config, or None when it cannot be told."""
    config, hydra_file = run_dir / ".hydra" / "config.yaml", run_dir / ".hydra" / "hydra.yaml"
    if not config.is_file():
        return None
    try:
        data_dir = OmegaConf.select(OmegaConf.load(config), "paths.data_dir")
        cwd = OmegaConf.select(OmegaConf.load(hydra_file), "hydra.runtime.cwd") \
            if hydra_file.is_file() else None
    except OmegaConfBaseException:
        return None
    if data_dir is None:
        return None
    path = Path(data_dir).expanduser()
    return path if path.is_absolute() or cwd is None else Path(cwd) / path


def _checkpoint(run_dir: Path, ckpt: str | None) -> Path | None:
    if ckpt:
        return Path(ckpt).expanduser()
    found = [run_dir / "checkpoints" / name for name in ("best.ckpt", "last.ckpt")]
    return next((p for p in found if p.is_file()), None)


@torch.no_grad()
def forecast_test_samples(module, data_dir: Path, count: int) -> dict[str, Any]:
    """Forecast and edge probabilities of the first ``count`` test samples, as in testing.

    Shapes: returns true [B, N, T', D] and pred [B, N, H, D] in data units (T' = burn-in + H + 1),
    prob [B, E, K] or None, labels [B, E] or None.
    """
    ds, norm = dict(module.hparams["dataset"]), dict(module.hparams["normalization"])
    feats, edges = read_split(data_dir, "test", ds)
    feats = feats[:count]
    labels = edge_labels(edges[:count]) if edges is not None else None
    x = torch.from_numpy(apply_normalization(feats, norm))
    steps, burn_in = int(ds["train_steps"]), int(ds["test_burn_in"])
    horizon = min(int(ds["test_horizon"]), x.shape[2] - burn_in - 1)
    prob, given = None, None
    if module.graph == "learned":
        logits = module.encode(x[:, :, :steps] if burn_in >= steps else x[:, :, :burn_in])
        prob = logits.softmax(-1).double().numpy()
        given = F.one_hot(logits.argmax(-1), logits.shape[-1]).to(x.dtype)
    elif module.graph in ("true", "full"):
        batch = {"x": x} if labels is None else {"x": x, "edges": torch.from_numpy(labels)}
        given = module.given_edges(batch)
    out = {"prob": prob, "labels": labels, "true": feats[:, :, : burn_in + horizon + 1],
           "start": burn_in + 1, "pred": None}
    if module.decoder is not None and horizon >= 1:
        pred = module.forecast(x, given, burn_in, horizon).numpy()
        out["pred"] = invert_normalization(pred, norm)
    return out


def interaction_score(prob: np.ndarray, labels: np.ndarray | None, skip_first: bool
                      ) -> tuple[np.ndarray, str]:
    """p(some interaction) per edge, with the edge types matched to the labels when possible.

    Shapes: prob [B, E, K]; labels [B, E] or None -> [B, E]
    """
    k = prob.shape[-1]
    if labels is not None and not skip_first:
        counts = metrics.confusion_counts(torch.from_numpy(prob.argmax(-1)), torch.from_numpy(labels), k)
        perm, _ = metrics.best_permutation(counts)
        none = perm.index(0) if 0 in perm else 0
        return 1.0 - prob[..., none], f"1 - p(type {none}) (type {none} matched to label 0)"
    if skip_first or k == 1:
        return 1.0 - prob[..., 0], "p(interaction) = 1 - p(type 0)"
    return prob[..., 1], "p(type 1) (types unordered)"


def plot_run(run_dir: str | Path, out_dir: str | Path | None = None, data_dir: str | Path | None = None,
             ckpt: str | None = None, samples: int = 3) -> list[Path]:
    """Make the run's pictures; returns the files written, and notes what had to be skipped."""
    from nri.viz import infer as viz

    run_dir = Path(run_dir).expanduser()
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: no such run directory")
    out = Path(out_dir).expanduser() if out_dir else run_dir / "plots"
    figures, skipped = {}, []
    metrics_csv = run_dir / "csv" / "metrics.csv"
    curves = learning_curves(metrics_csv) if metrics_csv.is_file() else {}
    if curves:
        figures["learning_curves.png"] = viz.learning_curves_figure(curves)
    else:
        skipped.append(f"learning curves (no epoch metrics in {metrics_csv})")
    ckpt_path = _checkpoint(run_dir, ckpt)
    data = Path(data_dir).expanduser() if data_dir else run_data_dir(run_dir)
    if ckpt_path is None:
        skipped.append(f"test samples (no checkpoint in {run_dir / 'checkpoints'}; pass ckpt=…)")
    elif data is None:
        skipped.append("test samples (pass data_dir=… where the run's dataset lives)")
    else:
        module = load_model(ckpt_path, need_encoder=False)
        res = forecast_test_samples(module, data, int(samples))
        ds = module.hparams["dataset"]
        names = ds.get("feature_names") or [f"feature {i}" for i in range(int(ds["dims"]))]
        titles = [f"test sample {i}" for i in range(len(res["true"]))]
        if res["pred"] is not None:
            figures["trajectories.png"] = viz.trajectories_figure(res["true"], res["pred"], res["start"],
                                                                  names, titles)
        if res["prob"] is not None:
            skip_first = bool(module.skip_first)
            score, title = interaction_score(res["prob"], res["labels"], skip_first)
            figures["graphs.png"] = viz.graph_comparison_figure(score, res["labels"],
                                                                int(ds["num_atoms"]), title)
    if not figures:
        raise InputError(f"{run_dir}: nothing to plot: " + "; ".join(skipped))
    pngs = {out / name: viz.png_bytes(fig) for name, fig in figures.items()}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_all({}, pngs)
    for note in skipped:
        print(f"[nri] skipped {note}")
    return list(pngs)


@exits_on_user_error()
def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    quiet()
    if {"-h", "--help"} & set(argv):
        print(__doc__.strip())
        print(f"\nOptions (key=value) and their defaults: {OPTIONS}")
        return
    defaults = OmegaConf.create(OPTIONS)
    OmegaConf.set_struct(defaults, True)
    try:
        cfg = OmegaConf.merge(defaults, OmegaConf.from_cli(argv))
        if OmegaConf.is_missing(cfg, "run_dir"):
            raise InputError("give the training run: python -m nri.plot run_dir=outputs/train/runs/<time>")
        files = plot_run(cfg.run_dir, cfg.out_dir, cfg.data_dir, cfg.ckpt, int(cfg.samples))
    except OmegaConfBaseException as err:
        fail(f"{str(err).splitlines()[0]}; options are {sorted(OPTIONS)}")
    print(f"[nri] wrote {', '.join(p.name for p in files)} to {files[0].parent}")


if __name__ == "__main__":
    main()
