"""Where a Kuramoto encoder errs: edge accuracy split by the pair's natural frequencies and the
receiver's in-degree.

    python research/kuramoto_edge_errors.py \
        --ckpt outputs/tables/quick/kuramoto5/nri_learned/seed1/checkpoints/best.ckpt \
        --data-dir data/quick

Reads the checkpoint's encoder, infers the most likely edge type of every ordered pair from the
first ``dataset.train_steps`` frames of each test simulation (as the test metric does), matches the
two learned types to the labels the better way round (the tables' edge accuracy), and prints the
accuracy overall, on true edges and on non-edges, then by

- ``|ωi - ωj|``, the gap between the two oscillators' natural frequencies (rad per time unit, read
  from the unscaled ω feature): pairs of similar frequency tend to lock, so sin(φj - φi) hardly
  moves within the window and a coupling leaves little trace in the receiver's rate;
- the receiver's true in-degree: a receiver driven by several oscillators shows their sum.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nri.data.datamodule import DatasetError, edge_labels, read_split  # noqa: E402
from nri.data.normalization import apply_normalization  # noqa: E402
from nri.inference import edge_probabilities, load_model  # noqa: E402
from nri.models.graph import edge_index  # noqa: E402

OMEGA_FEATURE = 2  # (dφ/dt, sin φ, ω)
GAP_BINS = (0.0, 0.5, 1.5, 3.0, np.inf)


def breakdown(prob_edge: np.ndarray, labels: np.ndarray, omega: np.ndarray,
              gap_bins: tuple[float, ...] = GAP_BINS) -> dict[str, list[tuple[str, int, float]]]:
    """Accuracy of thresholded edge probabilities, overall and by group.

    Returns {"overall" | "by_gap" | "by_in_degree": [(group, edges in it, accuracy), ...]}; a group
    with no edges is left out. The predicted type is flipped when that matches the labels better.

    Shapes:
        prob_edge [S, E] (probability of the type read as "edge"), labels [S, E] in {0, 1},
        omega [S, N] natural frequencies, E = N(N-1) in ``edge_index`` order
    """
    if prob_edge.shape != labels.shape or labels.shape[0] != omega.shape[0]:
        raise ValueError(f"shapes disagree: probabilities {prob_edge.shape}, labels {labels.shape}, "
                         f"omega {omega.shape} (want [S, E], [S, E], [S, N])")
    n = omega.shape[1]
    if labels.shape[1] != n * (n - 1):
        raise ValueError(f"{labels.shape[1]} edges per simulation, but {n} objects have {n * (n - 1)}")
    pred = (prob_edge > 0.5).astype(np.int64)
    if (pred == labels).mean() < 0.5:
        pred = 1 - pred
    right = pred == labels
    senders, receivers = (t.numpy() for t in edge_index(n))
    gap = np.abs(omega[:, senders] - omega[:, receivers])
    in_degree = np.zeros(omega.shape, dtype=np.int64)
    for e, r in enumerate(receivers):
        in_degree[:, r] += labels[:, e]
    receiver_degree = in_degree[:, receivers]

    def row(name: str, mask: np.ndarray) -> list[tuple[str, int, float]]:
        return [(name, int(mask.sum()), float(right[mask].mean()))] if mask.any() else []

    out: dict[str, list[tuple[str, int, float]]] = {"overall": [], "by_gap": [], "by_in_degree": []}
    out["overall"] += row("all pairs", np.ones_like(right))
    out["overall"] += row("true edges", labels == 1)
    out["overall"] += row("non-edges", labels == 0)
    for lo, hi in zip(gap_bins[:-1], gap_bins[1:], strict=True):
        name = f"|Δω| in [{lo:g}, {hi:g})"
        out["by_gap"] += row(name, (gap >= lo) & (gap < hi))
        out["by_gap"] += row(f"  true edges with {name}", (gap >= lo) & (gap < hi) & (labels == 1))
    for d in range(n):
        out["by_in_degree"] += row(f"receiver in-degree {d}", receiver_degree == d)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", required=True, help="a Kuramoto NRI (learned) or Supervised checkpoint")
    parser.add_argument("--data-dir", required=True, help="the folder with feat_/edges_<split>_kuramoto<N>.npy")
    parser.add_argument("--split", default="test", choices=["train", "valid", "test"])
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args(argv)

    try:  # a missing or foreign checkpoint, a missing data file: one line, no traceback
        module = load_model(args.ckpt)
        dataset = dict(module.hparams["dataset"])
        if dataset.get("name") != "kuramoto":
            sys.exit(f"{args.ckpt}: trained on {dataset.get('name')!r}; this breakdown reads Kuramoto's ω")
        feats, adj = read_split(Path(args.data_dir), args.split, dataset)  # Kuramoto has edge labels
    except DatasetError as err:  # InputError included
        sys.exit(f"error: {err}")
    x = torch.from_numpy(apply_normalization(feats, module.hparams["normalization"], dataset))
    prob = edge_probabilities(module, x, int(dataset["train_steps"]), args.batch_size)
    omega = feats[:, :, 0, OMEGA_FEATURE].astype(np.float64)
    # any type but 0 read as an edge (with skip_first type 0 sends no message); breakdown() flips
    # the reading if the labels match the other way round
    result = breakdown(1.0 - prob[..., 0], edge_labels(adj), omega)
    print(f"{args.ckpt}: {len(feats)} {args.split} simulations")
    for rows in result.values():
        for name, count, acc in rows:
            print(f"  {name:<42} {count:>7} pairs  accuracy {100 * acc:5.1f}%")


if __name__ == "__main__":
    main()
