"""How much a decoder gains from the true graph, per feature: the signal NRI's encoder learns from.

    python scripts/graph_signal.py --data-dir data/kuramoto_check2 --dataset kuramoto \
        --graphs true transposed full --epochs 2 --prediction-steps 1

For every graph variant, trains the MLP decoder alone (the given graph, no encoder) on the
training split and prints the validation MSE of each feature after every epoch. ``true`` gives the
recorded edges, ``transposed`` the same edges with sender and receiver swapped (a wrong but
equally dense graph: it tells whether edge direction matters), ``full`` every edge, ``empty``
none. If ``true`` is not clearly below ``full`` on some feature, a likelihood-trained encoder has
nothing to learn the graph from.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.nn import functional as F

from nri.data.datamodule import NRIDataModule
from nri.models.decoders import MLPDecoder
from nri.models.graph import adjacency_to_edges, edges_to_adjacency

DATASETS = {
    "kuramoto": {"name": "kuramoto", "suffix": "_kuramoto{n}", "format": "feat", "dims": 3},
    "springs": {"name": "springs", "suffix": "_springs{n}", "format": "locvel", "dims": 4},
    "charged": {"name": "charged", "suffix": "_charged{n}", "format": "locvel", "dims": 4},
}


def given_graph(labels: torch.Tensor, variant: str, num_atoms: int) -> torch.Tensor:
    """One-hot edges [B, E, 2] of a graph variant, from the recorded labels [B, E]."""
    if variant == "true":
        graph = labels
    elif variant == "transposed":
        graph = adjacency_to_edges(edges_to_adjacency(labels, num_atoms).transpose(1, 2))
    elif variant == "full":
        graph = torch.ones_like(labels)
    elif variant == "empty":
        graph = torch.zeros_like(labels)
    else:
        raise ValueError(f"unknown graph variant {variant!r}; use true, transposed, full or empty")
    return F.one_hot(graph.long().clamp(max=1), 2).float()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--dataset", choices=sorted(DATASETS), default="kuramoto")
    p.add_argument("--num-atoms", type=int, default=5)
    p.add_argument("--graphs", nargs="+", default=["true", "transposed", "full"])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--prediction-steps", type=int, default=1)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--train-fraction", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    spec = dict(DATASETS[args.dataset])
    spec["suffix"] = spec["suffix"].format(n=args.num_atoms)
    dataset = {**spec, "num_atoms": args.num_atoms, "edge_types": 2, "has_edges": True,
               "train_steps": 49, "test_burn_in": 49, "test_horizon": 20}
    dm = NRIDataModule(dataset, args.data_dir, batch_size=128, shuffle=True,
                       train_fraction=args.train_fraction)
    dm.load()
    for variant in args.graphs:
        torch.manual_seed(0)
        decoder = MLPDecoder(dataset["dims"], 2, args.hidden, skip_first=True)
        optimizer = torch.optim.Adam(decoder.parameters(), lr=args.lr)
        start = time.time()
        for epoch in range(args.epochs):
            decoder.train()
            for batch in dm.train_dataloader():
                x = batch["x"]
                preds = decoder(x, given_graph(batch["edges"], variant, args.num_atoms), args.prediction_steps)
                loss = F.mse_loss(preds, x[:, :, 1:])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            decoder.eval()
            sq_err, count = torch.zeros(dataset["dims"]), 0
            with torch.no_grad():
                for batch in dm.val_dataloader():
                    x = batch["x"][:, :, :49]
                    preds = decoder(x, given_graph(batch["edges"], variant, args.num_atoms),
                                    args.prediction_steps)
                    sq_err += (preds - x[:, :, 1:]).pow(2).sum(dim=(0, 1, 2))
                    count += preds[..., 0].numel()
            per_feature = " ".join(f"{v:.4g}" for v in (sq_err / count).tolist())
            print(f"graph {variant:<10} epoch {epoch + 1}: validation MSE per feature [{per_feature}] "
                  f"({time.time() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
