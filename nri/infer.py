"""Infer the interaction graph of your own trajectories with a trained model.

    python -m nri.infer ckpt_path=outputs/.../checkpoints/best.ckpt input=my_system.csv [rollout=10]
    python -m nri.infer ckpt=springs5 input=my_system.csv     # a pretrained model (nri/pretrained/)

The input is read like ``dataset=custom`` data (.npy/.npz [S, N, T, D] or a long CSV), cut into
windows of the encoder's length (``dataset.train_steps`` of the checkpoint, plus ``rollout``
frames), scaled with the checkpoint's normalisation constants and encoded. The files written into
``out_dir`` (default: outputs/infer/runs/<time>) are described in the README.txt written next to them.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf

from nri.atomic import atomic_write_all
from nri.cli import exits_on_user_error
from nri.conf_path import CONFIG_PATH
from nri.data.custom.trajectories import Trajectories
from nri.data.errors import DatasetError, InputError
from nri.infer_report import infer_summary
from nri.inference import edge_list, object_label, run_inference, type_identity
from nri.models.graph import edge_index
from nri.pretrained import choose_checkpoint
from nri.quiet import quiet
from nri.viz import infer as viz


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
        "graph.png             the mean graph over the objects' mean positions (first two features),",
        "                      or on a circle when those carry no structure; arrow width = probability",
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


def output_files(res: dict[str, Any], cfg: DictConfig, out: Path) -> tuple[dict, dict, dict]:
    """The arrays, texts and figures to write, by path, from :func:`run_inference`'s result."""
    traj, raw, prob, pred = res["traj"], res["raw"], res["prob"], res["pred"]
    objects, skip_first, steps = traj.objects, res["skip_first"], res["steps"]
    mean = prob.mean(0)
    identity = type_identity(skip_first, prob, res["labels"])
    summary = {
        "input": str(traj.source), "ckpt_path": str(cfg.ckpt_path),
        "objects": [object_label(o) for o in objects], "features": traj.features, "samples": len(prob),
        "window": raw.shape[2], "encoder_frames": steps, "stride": res["stride"],
        "edge_types": int(prob.shape[-1]), "trained_num_atoms": int(res["dataset"]["num_atoms"]),
        "edge_type_identity": identity,
    }
    positions = raw[..., :2].mean(axis=2) if traj.dims >= 2 else None  # [W, N, 2]
    extents = np.ptp(raw[..., :2], axis=(1, 2)).max(-1) if traj.dims >= 2 else None  # [W] spatial range
    shown = min(len(prob), int(cfg.plot_samples))
    titles = [f"sample {i}" for i in range(shown)]
    axes = traj.features[:2]
    figures = {
        "graph.png": viz.graph_figure(mean, None if positions is None else positions.mean(0), objects,
                                      skip_first, f"mean over {len(prob)} samples", axes,
                                      None if extents is None else float(extents.mean())),
        "graph_samples.png": viz.graphs_figure(prob[:shown], None if positions is None
                                               else positions[:shown], objects, skip_first, titles,
                                               axes, None if extents is None else extents[:shown]),
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
    out = Path(cfg.out_dir).expanduser()
    arrays, texts, figures = output_files(run_inference(cfg), cfg, out)
    pngs = {path: viz.png_bytes(fig) for path, fig in figures.items()}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_all(arrays, {**pngs, **texts})
    return {p.name: p for p in [*arrays, *texts, *pngs]}


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="infer")
@exits_on_user_error()
def main(cfg: DictConfig) -> None:
    quiet()
    try:
        choose_checkpoint(cfg)
        missing = [k for k in ("ckpt_path", "input") if OmegaConf.is_missing(cfg, k)]
        if missing:
            raise InputError(f"give {' and '.join(f'{k}=…' for k in missing)}, e.g. python -m nri.infer "
                             "ckpt=springs5 (or ckpt_path=outputs/<run>/checkpoints/best.ckpt) "
                             "input=my_system.csv")
        files = infer(cfg)
    except DatasetError:
        try:  # Hydra made out_dir before the call; leave no empty folder behind
            Path(cfg.out_dir).expanduser().rmdir()
        except OSError:
            pass
        raise
    print(infer_summary(next(iter(files.values())).parent, files))


if __name__ == "__main__":
    main()
