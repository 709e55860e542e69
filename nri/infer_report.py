"""What ``nri.infer`` tells a person when it is done: the input, the strongest edges, the files.

It reads what was written (``summary.json``, ``edge_probs_mean.npy``, ``edge_index.csv``), so the
text always agrees with the files.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

TOP_EDGES = 8  # edges listed, strongest first


def top_edges(prob: np.ndarray, pairs: list[tuple[str, str]], skip_first: bool, top: int
              ) -> list[tuple[str, str, str, float]]:
    """The ``top`` edges by strength: p(interaction) = 1 - p(type 0) with ``skip_first``, else the
    probability of the most likely type. Returns (sender, receiver, type label, strength).

    Shapes: prob [E, K]
    """
    k = prob.shape[-1]
    if skip_first and k > 1:
        strength = 1.0 - prob[:, 0]
        best = 1 + prob[:, 1:].argmax(-1)
        labels = ["interaction" if k == 2 else f"type {b}" for b in best]
    else:
        best = prob.argmax(-1)
        strength = prob[np.arange(len(prob)), best]
        labels = [f"type {b}" for b in best]
    order = np.argsort(-strength, kind="stable")[:top]
    return [(pairs[e][0], pairs[e][1], labels[e], float(strength[e])) for e in order]


def infer_summary(out_dir: Path, files: Iterable[str], top: int = TOP_EDGES) -> str:
    """The lines ``nri.infer`` prints after writing ``files`` into ``out_dir``."""
    summary = json.loads((out_dir / "summary.json").read_text())
    prob = np.load(out_dir / "edge_probs_mean.npy")
    with open(out_dir / "edge_index.csv", newline="") as fh:
        pairs = [(row["sender"], row["receiver"]) for row in csv.DictReader(fh)]
    identity = summary["edge_type_identity"]
    skip_first = bool(identity["skip_first"])
    lines = [f"[nri] input {summary['input']}: {len(summary['objects'])} objects, {summary['samples']} "
             f"samples of {summary['window']} frames (the encoder reads {summary['encoder_frames']})"]
    measure = "p(interaction) = 1 - p(type 0)" if skip_first else "p(most likely type); types unordered"
    lines.append(f"[nri] strongest edges, mean over the samples ({measure}):")
    width = max(len(f"{s} -> {r}") for s, r in pairs)
    for sender, receiver, label, strength in top_edges(prob, pairs, skip_first, top):
        lines.append(f"        {f'{sender} -> {receiver}':<{width}}  {strength:.3f}  {label}")
    labels = identity.get("labels")
    if labels:
        lines.append(f"[nri] against the given edges: accuracy {labels['accuracy']:.3f} "
                     f"(best type matching {labels['accuracy_best_permutation']:.3f})")
    if "rollout" in summary:
        mse = summary["rollout"]["mse_per_step"]
        lines.append(f"[nri] forecast of {len(mse)} frames: MSE {mse[0]:.3g} (first) to {mse[-1]:.3g} (last)")
    names = sorted(files)
    lines.append(f"[nri] wrote {len(names)} files to {out_dir}: {', '.join(names)} (README.txt there "
                 "says what each holds)")
    return "\n".join(lines)
