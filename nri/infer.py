"""Infer the interaction graph of your own trajectories with a trained model.

    python -m nri.infer ckpt_path=outputs/.../checkpoints/best.ckpt input=my_system.csv [rollout=10]

The input is read like ``dataset=custom`` data (.npy/.npz [S, N, T, D] or a long CSV), cut into
windows of the encoder's length (``dataset.train_steps`` of the checkpoint, plus ``rollout``
frames), scaled with the checkpoint's normalisation constants and encoded. The files written into
``out_dir`` (default: outputs/infer/runs/<time>) are described in the README.txt written next to them.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch.nn import functional as F

from nri import metrics
from nri.conf_path import CONFIG_PATH
from nri.data.atomic import atomic_write_all
from nri.data.datamodule import DatasetError, edge_labels
from nri.data.normalization import apply_normalization, invert_normalization
from nri.data.trajectories import (
    InputError,
    Trajectories,
    csv_header,
    cut_windows,
    read_edges,
    read_trajectories,
)
from nri.models.graph import edge_index
from nri.models.module import NRIModule


def load_model(ckpt_path: str | Path, need_encoder: bool = True) -> NRIModule:
    """The checkpoint's module in eval mode on the CPU (with an encoder, unless told otherwise)."""
    path = Path(ckpt_path).expanduser()
    if not path.is_file():
        raise InputError(f"{path}: no such checkpoint")
    try:
        module = NRIModule.load_from_checkpoint(path, map_location="cpu")
    except Exception as err:  # not a checkpoint, or one of another model
        raise InputError(f"{path}: cannot load the checkpoint ({type(err).__name__}: {err})") from None
    if need_encoder and module.encoder is None:
        raise InputError(f"{path}: this model (graph={module.graph!r}) has no encoder to infer a graph")
    if not module.hparams.get("normalization"):
        raise InputError(f"{path}: the checkpoint carries no normalisation constants")
    return module.eval()


def read_input(cfg: DictConfig, dataset: dict[str, Any]) -> Trajectories:
    """Read ``cfg.input`` with the checkpoint's feature columns when a CSV has them.

    Shapes: returns sequences [N, T_s, D] with D = the checkpoint's dataset.dims.
    """
    features = list(cfg.features) if cfg.get("features") else None
    trained = dataset.get("feature_names")
    if features is None and trained and str(cfg.input).lower().endswith(".csv"):
        header = csv_header(cfg.input)
        if all(f in header for f in trained):
            features = list(trained)
    columns = OmegaConf.to_container(cfg.columns) if cfg.get("columns") else None
    traj = read_trajectories(cfg.input, layout=cfg.get("layout", "SNTD"), features=features,
                             columns=columns, key=cfg.get("key"))
    dims = int(dataset["dims"])
    if traj.dims != dims:
        names = f" ({', '.join(trained)})" if trained else ""
        raise InputError(f"{traj.source}: the checkpoint was trained on {dims} features per object"
                         f"{names} but the input gives {traj.dims} ({', '.join(traj.features)}); choose "
                         "the columns with features=[…]")
    if cfg.get("edges"):
        traj.edges = read_edges(cfg.edges, traj)
    return traj


@torch.no_grad()
def edge_probabilities(module: NRIModule, x: torch.Tensor, steps: int, batch_size: int) -> np.ndarray:
    """Posterior edge-type probabilities from the first ``steps`` frames of each window.

    Shapes: x [W, N, L, D] scaled, L >= steps -> [W, E, K] float64
    """
    out = [module.encode(x[i: i + batch_size, :, :steps]).softmax(-1).double()
           for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy()


@torch.no_grad()
def forecast(module: NRIModule, x: torch.Tensor, prob: np.ndarray, steps: int, horizon: int,
             batch_size: int) -> np.ndarray:
    """The decoder's ``horizon``-frame forecast after the encoder's frames, on the most likely graph.

    Shapes: x [W, N, steps + horizon, D] scaled; prob [W, E, K] -> [W, N, horizon, D] scaled
    """
    edges = F.one_hot(torch.from_numpy(prob.argmax(-1)), prob.shape[-1]).to(x.dtype)
    out = [module.forecast(x[i: i + batch_size], edges[i: i + batch_size], steps - 1, horizon)
           for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy()


def _label(name: str) -> int | str:
    return int(name) if name.lstrip("-").isdigit() else name


def edge_list(prob: np.ndarray, objects: list[str], skip_first: bool) -> list[dict[str, Any]]:
    """The most likely type of every edge; edges of type 0 are left out when it means no interaction.

    Shapes: prob [E, K]
    """
    senders, receivers = (t.tolist() for t in edge_index(len(objects)))
    types = prob.argmax(-1)
    pairs = enumerate(zip(senders, receivers, strict=True))
    return [{"sender": _label(objects[s]), "receiver": _label(objects[r]), "type": int(types[e]),
             "prob": round(float(prob[e, types[e]]), 6)}
            for e, (s, r) in pairs if not (skip_first and types[e] == 0)]


def type_identity(skip_first: bool, prob: np.ndarray, labels: np.ndarray | None) -> dict[str, Any]:
    """What the edge-type numbers mean, and how they match the labels when there are some.

    Shapes: prob [W, E, K]; labels [W, E] or None
    """
    k = prob.shape[-1]
    if skip_first:
        info: dict[str, Any] = {
            "skip_first": True,
            "meaning": {"0": "no interaction", **{str(t): f"interaction of type {t}" for t in range(1, k)}},
            "note": "type 0 sends no message in the decoder, so it is 'no interaction'; the types "
                    "1..K-1 are interchangeable and carry no fixed meaning",
        }
    else:
        info = {"skip_first": False,
                "note": "edge types are unordered: relabelling them gives the same model, so no type "
                        "means 'no interaction' by itself; match them to known labels to name them"}
    if labels is not None:
        counts = metrics.confusion_counts(torch.from_numpy(prob.argmax(-1)), torch.from_numpy(labels), k)
        perm, acc = metrics.best_permutation(counts)
        info["labels"] = {
            "accuracy": float(counts.diagonal().sum()) / max(float(counts.sum()), 1.0),
            "best_permutation": {f"type {p}": int(perm[p]) for p in range(k)},
            "accuracy_best_permutation": acc,
            "note": "best_permutation maps each predicted type to the label it matches most often",
        }
    return info


def graph_json(graph: dict[str, Any]) -> str:
    """JSON with one line per edge, so that the file reads like an edge list."""
    def edges(items: list[dict[str, Any]], indent: str) -> str:
        return "[\n" + ",\n".join(indent + json.dumps(e) for e in items) + "]" if items else "[]"

    head = {k: v for k, v in graph.items() if k not in ("edges", "samples")}
    samples = ",\n".join(f'  {{"sample": {s["sample"]}, "edges": {edges(s["edges"], "    ")}}}'
                          for s in graph["samples"])
    body = json.dumps(head, indent=1)[:-2]  # reopen the object after its last key
    return f'{body},\n "edges": {edges(graph["edges"], "  ")},\n "samples": [\n{samples}]\n}}\n'


def probability_csv(prob: np.ndarray, mean: np.ndarray, objects: list[str]) -> str:
    """Rows ``sample, sender, receiver, p_type0, …``; the aggregate rows have sample ``mean``.

    Shapes: prob [W, E, K]; mean [E, K]
    """
    senders, receivers = (t.tolist() for t in edge_index(len(objects)))
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["sample", "sender", "receiver", *(f"p_type{k}" for k in range(prob.shape[-1]))])
    for sample, rows in [*enumerate(prob), ("mean", mean)]:
        for e, (s, r) in enumerate(zip(senders, receivers, strict=True)):
            out.writerow([sample, objects[s], objects[r], *(f"{p:.6g}" for p in rows[e])])
    return buf.getvalue()


def samples_csv(traj: Trajectories, index: np.ndarray, length: int) -> str:
    """Where each sample (window) comes from. Shapes: index [W, 2] (sequence, first frame)"""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["sample", "sequence", "first_frame", "frames", "first_time"])
    for w, (s, start) in enumerate(index.tolist()):
        out.writerow([w, traj.sequence_ids[s], start, length, f"{traj.times[s][start]:g}"])
    return buf.getvalue()


def readme(identity: dict[str, Any], rollout: int) -> str:
    lines = [
        "Edge types inferred by nri.infer",
        "",
        "A sample is one window of the input (samples.csv says which sequence and frames).",
        "An edge is an ordered pair sender -> receiver: the sender acts on the receiver.",
        "",
        "edge_probs.csv        sample, sender, receiver, p_type0, ...; rows with sample 'mean' average",
        "                      the samples",
        "edge_probs.npy        [S, E, K] probabilities; edge e = (receiver i, sender j), the off-diagonal",
        "                      pairs of an N x N matrix read row by row (edge_index.csv lists them)",
        "edge_probs_mean.npy   [E, K] mean over the samples",
        "graph.json            the most likely type of each edge, for the mean and for every sample",
        "graph.png             the mean graph over the objects' mean positions (first two features);",
        "                      arrow width = probability",
        "graph_samples.png     the same for the first samples",
        "edge_probs.png        the mean probabilities as [receiver, sender] matrices",
        "summary.json          input, checkpoint, windows and the edge-type identity below",
    ]
    if rollout:
        lines += [f"rollout.npy           [S, N, {rollout}, D] the decoder's forecast after the encoder's "
                  "frames, in the input's units",
                  "rollout.png           forecast (dashed) against the input (solid)"]
    lines += ["", "Edge types:", f"  {identity['note']}."]
    if identity["skip_first"]:
        lines.append("  graph.json lists only the edges whose most likely type is not 0.")
    if "labels" in identity:
        lab = identity["labels"]
        lines.append(f"  With the given labels: accuracy {lab['accuracy']:.4f}; best matching "
                     f"{lab['best_permutation']} (accuracy {lab['accuracy_best_permutation']:.4f}).")
    return "\n".join(lines) + "\n"


def edge_index_csv(objects: list[str]) -> str:
    senders, receivers = (t.tolist() for t in edge_index(len(objects)))
    pairs = enumerate(zip(senders, receivers, strict=True))
    return "edge,sender,receiver\n" + "".join(f"{e},{objects[s]},{objects[r]}\n" for e, (s, r) in pairs)


def run_inference(cfg: DictConfig) -> dict[str, Any]:
    """Read and check the input, encode every window and, with ``rollout``, forecast.

    Shapes: returns raw [W, N, L, D] (input units), index [W, 2], prob [W, E, K], labels [W, E] or
    None, pred [W, N, rollout, D] (input units) or None; L = train_steps + rollout.
    """
    module = load_model(cfg.ckpt_path)
    ds, norm = dict(module.hparams["dataset"]), dict(module.hparams["normalization"])
    traj = read_input(cfg, ds)
    steps, rollout = int(ds["train_steps"]), int(cfg.get("rollout") or 0)
    if rollout < 0:
        raise InputError(f"rollout must be >= 0, got {rollout}")
    if rollout and module.decoder is None:
        raise InputError(f"{cfg.ckpt_path}: rollout needs a decoder and this model has none")
    length = steps + rollout
    stride = int(cfg.get("stride") or length)
    raw, index = cut_windows(traj, length, stride)
    labels = None
    if traj.edges is not None:
        labels = edge_labels(traj.edges[index[:, 0]])
        if labels.max(initial=0) >= int(ds.get("edge_types", 2)):
            raise InputError(f"edge labels go up to type {labels.max()} but the model has "
                             f"{ds.get('edge_types', 2)} edge types")
    batch = int(cfg.get("batch_size", 256))
    x = torch.from_numpy(apply_normalization(raw, norm))
    prob = edge_probabilities(module, x, steps, batch)
    pred = None
    if rollout:
        pred = invert_normalization(forecast(module, x, prob, steps, rollout, batch), norm)
    return {"traj": traj, "raw": raw, "index": index, "prob": prob, "labels": labels, "pred": pred,
            "steps": steps, "rollout": rollout, "stride": stride, "dataset": ds,
            "skip_first": bool(module.hparams["model"].get("skip_first", False))}


def output_files(res: dict[str, Any], cfg: DictConfig, out: Path) -> tuple[dict, dict, dict]:
    """The arrays, texts and figures to write, by path, from :func:`run_inference`'s result."""
    from nri import viz_infer as viz

    traj, raw, prob, pred = res["traj"], res["raw"], res["prob"], res["pred"]
    objects, skip_first, steps = traj.objects, res["skip_first"], res["steps"]
    mean = prob.mean(0)
    identity = type_identity(skip_first, prob, res["labels"])
    summary = {
        "input": str(traj.source), "ckpt_path": str(cfg.ckpt_path),
        "objects": [_label(o) for o in objects], "features": traj.features, "samples": len(prob),
        "window": raw.shape[2], "encoder_frames": steps, "stride": res["stride"],
        "edge_types": int(prob.shape[-1]), "trained_num_atoms": int(res["dataset"]["num_atoms"]),
        "edge_type_identity": identity,
    }
    positions = raw[..., :2].mean(axis=2) if traj.dims >= 2 else None  # [W, N, 2]
    shown = min(len(prob), int(cfg.get("plot_samples", 4)))
    titles = [f"sample {i}" for i in range(shown)]
    axes = traj.features[:2]
    figures = {
        "graph.png": viz.graph_figure(mean, None if positions is None else positions.mean(0), objects,
                                      skip_first, f"mean over {len(prob)} samples", axes),
        "graph_samples.png": viz.graphs_figure(prob[:shown], None if positions is None
                                               else positions[:shown], objects, skip_first, titles,
                                               axes),
        "edge_probs.png": viz.prob_heatmap_figure(mean, objects, skip_first),
    }
    arrays = {"edge_probs.npy": prob, "edge_probs_mean.npy": mean}
    if pred is not None:
        arrays["rollout.npy"] = pred
        mse = ((pred - raw[:, :, steps:]) ** 2).mean(axis=(0, 1, 3))
        summary["rollout"] = {"frames": res["rollout"], "first_frame": steps, "mse_per_step": mse.tolist()}
        figures["rollout.png"] = viz.trajectories_figure(raw[:shown], pred[:shown], steps, traj.features,
                                                         titles)
    graph = {"edge_type_identity": identity, "objects": summary["objects"],
             "edges": edge_list(mean, objects, skip_first),
             "samples": [{"sample": i, "edges": edge_list(p, objects, skip_first)}
                         for i, p in enumerate(prob)]}
    texts = {
        "edge_probs.csv": probability_csv(prob, mean, objects),
        "samples.csv": samples_csv(traj, res["index"], raw.shape[2]),
        "edge_index.csv": edge_index_csv(objects),
        "graph.json": graph_json(graph),
        "summary.json": json.dumps(summary, indent=2) + "\n",
        "README.txt": readme(identity, res["rollout"]),
    }
    return ({out / k: v for k, v in arrays.items()}, {out / k: v for k, v in texts.items()},
            {out / k: v for k, v in figures.items()})


def infer(cfg: DictConfig) -> dict[str, Path]:
    """Everything is read, checked and computed before the first file is written; returns the files."""
    from nri.viz_infer import png_bytes, write_files

    out = Path(cfg.out_dir).expanduser()
    arrays, texts, figures = output_files(run_inference(cfg), cfg, out)
    pngs = {path: png_bytes(fig) for path, fig in figures.items()}
    out.mkdir(parents=True, exist_ok=True)
    write_files(pngs)
    atomic_write_all(arrays, texts)
    return {p.name: p for p in [*arrays, *texts, *pngs]}


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="infer")
def main(cfg: DictConfig) -> None:
    try:
        missing = [k for k in ("ckpt_path", "input") if OmegaConf.is_missing(cfg, k)]
        if missing:
            raise InputError(f"give {' and '.join(f'{k}=…' for k in missing)}, e.g. python -m nri.infer "
                             "ckpt_path=outputs/<run>/checkpoints/best.ckpt input=my_system.csv")
        files = infer(cfg)
    except DatasetError as err:
        try:  # Hydra made out_dir before the call; leave no empty folder behind
            Path(cfg.out_dir).expanduser().rmdir()
        except OSError:
            pass
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    print(f"[nri] wrote {len(files)} files to {next(iter(files.values())).parent}")


if __name__ == "__main__":
    main()
