"""How much a decoder gains from the true graph, per feature: the signal NRI's encoder learns from.

    python research/graph_signal.py --data-dir data/kuramoto_check2 --dataset kuramoto \
        --graphs true transposed full --epochs 2 --prediction-steps 1

For every graph variant, trains the MLP decoder alone on the training split — ``NRIModule`` with
``graph: true`` and ``objective: nll`` (the NRI (true graph) row), fed the variant's edges in
place of the recorded ones — and prints the validation MSE of each feature after training. ``true`` gives the
recorded edges, ``transposed`` the same edges with sender and receiver swapped (a wrong but
equally dense graph: it tells whether edge direction matters), ``full`` every edge, ``empty``
none. If ``true`` is not clearly below ``full`` on some feature, a likelihood-trained encoder has
nothing to learn the graph from.
"""

from __future__ import annotations

import argparse
import time

import pytorch_lightning as pl
import torch
from torch.nn import functional as F

from nri.data.datamodule import NRIDataModule
from nri.models.graph import adjacency_to_edges, edges_to_adjacency
from nri.models.module import NRIModule

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


def per_feature_mse(module: NRIModule, loader, prediction_steps: int) -> torch.Tensor:
    """Validation MSE of each feature of the module's decoder, given the batches' edges. Shapes: -> [D]"""
    module.eval()
    sq_err, count = None, 0
    with torch.no_grad():
        for batch in loader:
            x = batch["x"][:, :, :49]
            preds = module.decoder(x, module.given_edges({**batch, "x": x}), prediction_steps)
            err = (preds - x[:, :, 1:]).pow(2).sum(dim=(0, 1, 2))
            sq_err = err if sq_err is None else sq_err + err
            count += preds[..., 0].numel()
    return sq_err / count


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
    p.add_argument("--delta-inputs", type=int, nargs="*", default=None,
                   help="features whose change since the previous frame the decoder also reads")
    args = p.parse_args()
    for variant in args.graphs:  # fail before any training
        given_graph(torch.zeros(1, 2), variant, 2)
    if args.threads:
        torch.set_num_threads(args.threads)
    spec = dict(DATASETS[args.dataset])
    spec["suffix"] = spec["suffix"].format(n=args.num_atoms)
    dataset = {**spec, "num_atoms": args.num_atoms, "edge_types": 2, "has_edges": True,
               "train_steps": 49, "test_burn_in": 49, "test_horizon": 20}
    dm = NRIDataModule(dataset, args.data_dir, batch_size=128, shuffle=True,
                       train_fraction=args.train_fraction)
    dm.load()
    recorded = {split: batches.edges for split, batches in dm.splits.items()}
    for variant in args.graphs:
        for split, labels in recorded.items():
            dm.splits[split].edges = given_graph(labels, variant, args.num_atoms).argmax(-1)
        pl.seed_everything(0, verbose=False)
        module = NRIModule(dataset, {"graph": "true", "objective": "nll", "skip_first": True,
                                     "prediction_steps": args.prediction_steps,
                                     "optimizer": {"lr": args.lr}},
                           None, {"name": "mlp", "hidden": args.hidden,
                                                   "delta_inputs": args.delta_inputs}, dm.normalization)
        start = time.time()
        pl.Trainer(max_epochs=args.epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0
                   ).fit(module, datamodule=dm)
        mse = per_feature_mse(module, dm.val_dataloader(), args.prediction_steps)
        per_feature = " ".join(f"{v:.4g}" for v in mse.tolist())
        print(f"graph {variant:<10} after {args.epochs} epochs: validation MSE per feature "
              f"[{per_feature}] ({time.time() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
