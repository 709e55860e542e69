"""What a model minimises: the decoder's Gaussian NLL, the ELBO (NLL + KL of the edge posterior),
or the encoder's cross-entropy on the true edges (``model.objective``: nll | elbo | supervised).

Each objective returns the step's scalars by name; ``<split>/loss`` is the one minimised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch.nn import functional as F

from nri import losses, metrics
from nri.models.candidate_graph import true_edge_lists
from nri.models.candidates import candidate_labels
from nri.models.decoder_chunks import chunked_decoder_loss, prediction_losses
from nri.models.graph import CandidateEdges
from nri.models.symmetry import symmetry_penalty

if TYPE_CHECKING:
    from nri.models.module import NRIModule

Batch = dict[str, torch.Tensor]


def candidates_of(batch: Batch) -> CandidateEdges | None:
    """The batch's candidate edges (set by the module), None for all pairs."""
    return batch["candidates"] if "candidates" in batch else None


class Objective:
    name: str
    needs_decoder = True
    needs_encoder = False

    def training(self, module: NRIModule, batch: Batch, logits: torch.Tensor | None) -> dict:
        raise NotImplementedError

    def validation(self, module: NRIModule, batch: Batch, logits: torch.Tensor | None) -> dict:
        raise NotImplementedError


class NLL(Objective):
    """The decoder's Gaussian NLL given the edge source's edges."""

    name = "nll"

    def training(self, module, batch, logits):
        x = batch["x"]
        steps = module.cfg["prediction_steps"]
        burn_in = x.shape[2] - steps if module.recurrent else None
        edges = module.edge_source.train_edges(module, batch, logits)
        graph_fn = None
        if logits is not None and module.recurrent and module.cfg["dynamic_graph"]["train"]:
            graph_fn = module.graph_fn(x, hard=module.cfg["hard"])
        candidates = candidates_of(batch)
        chunks = module.decoder_chunks(x.shape[0])
        if chunks > 1 and graph_fn is None and candidates is None:
            def loss_of_chunk(rows, edges_rows):
                preds = module.decode(x[rows], edges_rows, steps, burn_in)
                return prediction_losses(preds, x[rows, :, 1:], module.variance)

            nll, mse = chunked_decoder_loss(loss_of_chunk, edges, module.decoder_parameters(),
                                            x.shape[0], chunks)
        else:
            preds = module.decode(x, edges, steps, burn_in, graph_fn, candidates=candidates)
            nll, mse = prediction_losses(preds, x[:, :, 1:], module.variance)
        return {"train/nll": nll, "train/mse": mse, "train/loss": nll}

    def validation(self, module, batch, logits):
        x = batch["x"]
        edges = module.edge_source.eval_edges(module, batch, logits)
        preds = module.decode(x, edges, 1, candidates=candidates_of(batch))
        nll = losses.gaussian_nll(preds, x[:, :, 1:], module.variance)
        return {"val/nll": nll, "val/mse": F.mse_loss(preds, x[:, :, 1:]), "val/loss": nll}


class ELBO(NLL):
    """NLL + kl_weight * KL(q(edges | x) || prior); validation reports the KL to a uniform prior."""

    name = "elbo"
    needs_encoder = True

    def training(self, module, batch, logits):
        log = super().training(module, batch, logits)
        candidates = candidates_of(batch)
        mask = candidates.mask if candidates is not None else None
        kl = losses.kl_categorical(logits.softmax(-1), module.prior(), module.num_atoms, mask=mask)
        log["train/loss"] = log["train/nll"] + float(module.cfg["kl_weight"]) * kl
        log["train/kl"] = kl
        log["train/tau"] = module.tau
        if module.symmetry == "soft":
            asymmetry = symmetry_penalty(logits, module.num_atoms)
            log["train/loss"] = log["train/loss"] + float(module.cfg["symmetry_weight"]) * asymmetry
            log["train/symmetry"] = asymmetry
        if "edges" in batch and candidates is None:
            log["train/edge_acc"] = metrics.edge_accuracy(logits, batch["edges"])
        return log

    def validation(self, module, batch, logits):
        log = super().validation(module, batch, logits)
        candidates = candidates_of(batch)
        mask = candidates.mask if candidates is not None else None
        kl = losses.kl_categorical(logits.softmax(-1), None, module.num_atoms, mask=mask)
        log["val/kl"] = kl
        log["val/loss"] = log["val/nll"] + kl
        return log


class Supervised(Objective):
    """The encoder alone: cross-entropy of its logits on the true edge types (on candidate edges:
    edge or not, over the real slots)."""

    name = "supervised"
    needs_decoder = False
    needs_encoder = True

    def training(self, module, batch, logits):
        ce, acc = self._scores(module, batch, logits)
        return {"train/ce": ce, "train/edge_acc": acc, "train/loss": ce}

    def validation(self, module, batch, logits):
        ce, _ = self._scores(module, batch, logits)
        return {"val/ce": ce, "val/loss": ce}

    @staticmethod
    def _scores(module, batch, logits) -> tuple[torch.Tensor, torch.Tensor]:
        candidates = candidates_of(batch)
        if candidates is None:
            labels = batch["edges"]
            ce = F.cross_entropy(logits.reshape(-1, module.edge_types), labels.reshape(-1))
            return ce, metrics.edge_accuracy(logits, labels)
        true = true_edge_lists(batch, module.num_atoms)
        labels = candidate_labels(candidates, true).long()  # [B, E]
        keep = candidates.mask if candidates.mask is not None else torch.ones_like(labels, dtype=torch.bool)
        ce = F.cross_entropy(logits[keep], labels[keep])
        return ce, (logits[keep].argmax(-1) == labels[keep]).float().mean()


OBJECTIVES: dict[str, type[Objective]] = {cls.name: cls for cls in (ELBO, NLL, Supervised)}


def objective(name: str) -> Objective:
    if name not in OBJECTIVES:
        raise ValueError(f"model.objective must be one of {tuple(OBJECTIVES)}, got {name!r}")
    return OBJECTIVES[name]()
