"""The inference core: load a trained model, infer edge-type probabilities, forecast.

Nothing here writes a file: ``nri.infer`` (the command) writes what this computes, and the public
API (``nri.load_model``, ``nri.infer_graph``) comes from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch.nn import functional as F

from nri import metrics
from nri.checkpoints import read_checkpoint
from nri.data.custom.edge_labels import read_edges
from nri.data.custom.trajectories import (
    Trajectories,
    csv_header,
    cut_windows,
    read_trajectories,
)
from nri.data.datamodule import edge_labels
from nri.data.errors import InputError
from nri.data.normalization import apply_normalization, invert_normalization
from nri.input_checks import check_scaled_range, warn_irregular_times
from nri.models.graph import edge_index
from nri.models.module import NRIModule
from nri.pretrained import checkpoint_file


def load_model(ckpt_path: str | Path, need_encoder: bool = True) -> NRIModule:
    """The checkpoint's module in eval mode on the CPU (with an encoder, unless told otherwise).

    ``ckpt_path`` is a checkpoint file or the name of a pretrained model (``"springs5"``).
    """
    path = checkpoint_file(ckpt_path)
    if not path.is_file():
        raise InputError(f"{path}: no such checkpoint")
    read_checkpoint(path)  # one line for a truncated, foreign or incompatible file
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
    features = list(cfg.features) if cfg.features else None
    trained = dataset.get("feature_names")
    if features is None and trained and str(cfg.input).lower().endswith(".csv"):
        header = csv_header(cfg.input)
        if all(f in header for f in trained):
            features = list(trained)
    columns = OmegaConf.to_container(cfg.columns) if cfg.columns else None
    traj = read_trajectories(cfg.input, layout=cfg.layout, features=features,
                             columns=columns, key=cfg.key)
    dims = int(dataset["dims"])
    if traj.dims != dims:
        names = f" ({', '.join(trained)})" if trained else ""
        raise InputError(f"{traj.source}: the checkpoint was trained on {dims} features per object"
                         f"{names} but the input gives {traj.dims} ({', '.join(traj.features)}); choose "
                         "the columns with features=[…]")
    if cfg.edges:
        traj.edges = read_edges(cfg.edges, traj)
    warn_irregular_times(traj)
    return traj


@torch.no_grad()
def edge_probabilities(module: NRIModule, x: torch.Tensor, steps: int, batch_size: int) -> np.ndarray:
    """Posterior edge-type probabilities from the first ``steps`` frames of each window.

    Shapes: x [W, N, L, D] scaled, L >= steps -> [W, E, K] float64
    """
    out = [module.edge_logits(x[i: i + batch_size, :, :steps]).softmax(-1).double()
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


def object_label(name: str) -> int | str:
    return int(name) if name.lstrip("-").isdigit() else name


def edge_list(prob: np.ndarray, objects: list[str], skip_first: bool) -> list[dict[str, Any]]:
    """The most likely type of every edge; edges of type 0 are left out when it means no interaction.

    Shapes: prob [E, K]
    """
    senders, receivers = (t.tolist() for t in edge_index(len(objects)))
    types = prob.argmax(-1)
    pairs = enumerate(zip(senders, receivers, strict=True))
    return [{"sender": object_label(objects[s]), "receiver": object_label(objects[r]), "type": int(types[e]),
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


def run_inference(cfg: DictConfig) -> dict[str, Any]:
    """Read and check the input, encode every window and, with ``rollout``, forecast.

    Shapes: returns raw [W, N, L, D] (input units), index [W, 2], prob [W, E, K], labels [W, E] or
    None, pred [W, N, rollout, D] (input units) or None; L = train_steps + rollout.
    """
    module = load_model(cfg.ckpt_path)
    ds, norm = dict(module.hparams["dataset"]), dict(module.hparams["normalization"])
    traj = read_input(cfg, ds)
    steps, rollout = int(ds["train_steps"]), int(cfg.rollout)
    if rollout < 0:
        raise InputError(f"rollout must be >= 0, got {rollout}")
    if rollout and module.decoder is None:
        raise InputError(f"{cfg.ckpt_path}: rollout needs a decoder and this model has none")
    length = steps + rollout
    stride = int(cfg.stride or length)
    raw, index = cut_windows(traj, length, stride)
    labels = None
    if traj.edges is not None:
        labels = edge_labels(traj.edges[index[:, 0]])
        if labels.max(initial=0) >= int(ds["edge_types"]):
            raise InputError(f"edge labels go up to type {labels.max()} but the model has "
                             f"{ds['edge_types']} edge types")
    batch = int(cfg.batch_size)
    scaled = apply_normalization(raw, norm)
    check_scaled_range(scaled, raw, traj, index)
    x = torch.from_numpy(scaled)
    prob = edge_probabilities(module, x, steps, batch)
    pred = None
    if rollout:
        pred = invert_normalization(forecast(module, x, prob, steps, rollout, batch), norm)
    return {"traj": traj, "raw": raw, "index": index, "prob": prob, "labels": labels, "pred": pred,
            "steps": steps, "rollout": rollout, "stride": stride, "dataset": ds,
            "skip_first": bool(module.skip_first)}


def infer_graph(model: NRIModule, trajectories: np.ndarray | torch.Tensor,
                batch_size: int = 256) -> np.ndarray:
    """Edge-type probabilities of trajectories given in the units the model was trained on.

    Each sequence is scaled with the checkpoint's normalisation constants and encoded from its
    first ``dataset.train_steps`` frames.

    Shapes: trajectories [S, N, T, D] (or [N, T, D], one sequence), T >= train_steps -> [S, E, K]
    """
    raw = np.asarray(trajectories, dtype=np.float64)
    if raw.ndim == 3:
        raw = raw[None]
    dataset = model.hparams["dataset"]
    steps, dims = int(dataset["train_steps"]), int(dataset["dims"])
    if raw.ndim != 4 or raw.shape[2] < steps or raw.shape[3] != dims:
        raise InputError(f"trajectories have shape {tuple(raw.shape)}; this model needs [S, N, T, D] "
                         f"with T >= {steps} frames and D = {dims} features")
    x = torch.from_numpy(apply_normalization(raw, dict(model.hparams["normalization"])))
    return edge_probabilities(model, x, steps, batch_size)
