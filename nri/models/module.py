"""The LightningModule: NRI's ELBO, its graph-given and supervised variants, and the baselines.

One module serves every row of the paper's tables; ``model.graph`` says where the edges come from
and ``model.objective`` what is minimised:

- graph ``learned`` + objective ``elbo``: NRI (an encoder infers the graph, a decoder predicts)
- graph ``true`` / ``full`` + objective ``nll``: the decoder given the true graph / every edge of type 1
- graph ``none`` + objective ``nll``: forecasting baselines that use no graph (LSTM, Static)
- graph ``learned`` + objective ``supervised``: the encoder alone, cross-entropy on the true edges
"""

from __future__ import annotations

import math
from typing import Any

import pytorch_lightning as pl
import torch
from torch.nn import functional as F

from nri import losses, metrics
from nri.models.schedules import temperature
from nri.models.train_log import TrainScalars
from nri.registry import build_decoder, build_encoder

GRAPHS = ("learned", "true", "full", "none")
OBJECTIVES = ("elbo", "nll", "supervised")


class NRIModule(pl.LightningModule):
    """Shapes of a batch: ``x`` [B, N, T, D] (scaled features), optional ``edges`` [B, E] labels."""

    def __init__(self, dataset: dict[str, Any], model: dict[str, Any],
                 encoder: dict[str, Any] | None = None, decoder: dict[str, Any] | None = None,
                 normalization: dict[str, Any] | None = None):
        super().__init__()
        self.save_hyperparameters()
        self.ds = dict(dataset)
        self.cfg = dict(model)
        self.graph = self.cfg.get("graph", "learned")
        self.objective = self.cfg.get("objective", "elbo")
        if self.graph not in GRAPHS:
            raise ValueError(f"model.graph must be one of {GRAPHS}, got {self.graph!r}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"model.objective must be one of {OBJECTIVES}, got {self.objective!r}")
        self.num_atoms = int(self.ds["num_atoms"])
        self.edge_types = int(self.ds.get("edge_types", 2))
        self.skip_first = bool(self.cfg.get("skip_first", False))
        context = {
            "dims": int(self.ds["dims"]),
            "timesteps": int(self.ds["train_steps"]),
            "edge_types": self.edge_types,
            "num_atoms": self.num_atoms,
            "skip_first": self.skip_first,
            "normalization": normalization,
            "dataset_name": self.ds.get("name"),
            "dataset": self.ds,
        }
        needs_encoder = self.graph == "learned"
        needs_decoder = self.objective != "supervised"
        self.encoder = build_encoder(encoder, context) if needs_encoder else None
        self.decoder = build_decoder(decoder, context) if needs_decoder else None
        if needs_encoder and encoder is None or needs_decoder and decoder is None:
            raise ValueError(f"graph={self.graph!r} / objective={self.objective!r} needs "
                             f"{'an encoder' if needs_encoder else ''} {'a decoder' if needs_decoder else ''}")
        log_prior = losses.make_log_prior(self.edge_types, self.cfg.get("prior"),
                                          self.cfg.get("no_edge_prob"))
        self.register_buffer("log_prior", log_prior if log_prior is not None else torch.empty(0),
                             persistent=False)
        var = losses.parse_variance(self.cfg.get("var", 5e-5), int(self.ds["dims"]))
        self.register_buffer("variance", torch.as_tensor(var, dtype=torch.float32), persistent=False)
        self._train_scalars = TrainScalars()
        self._reset_eval_state()

    # ------------------------------------------------------------------ graph
    @property
    def recurrent(self) -> bool:
        return bool(getattr(self.decoder, "recurrent", False)) or type(self.decoder).__name__ == "RNNDecoder"

    @property
    def tau(self) -> float:
        t = self.cfg.get("temperature", {}) or {}
        return temperature(self.global_step, t.get("kind", "constant"), float(t.get("tau", 0.5)),
                           float(t.get("tau_final", t.get("tau", 0.5))), int(t.get("anneal_steps", 1)))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Shapes: x [B, N, T, D] -> logits [B, E, K]"""
        return self.encoder(x)

    def sample_edges(self, logits: torch.Tensor, hard: bool) -> torch.Tensor:
        """Gumbel-softmax sample (straight-through one-hot when ``hard``).

        Shapes: logits [B, E, K] -> [B, E, K]
        """
        return F.gumbel_softmax(logits, tau=self.tau, hard=hard, dim=-1)

    def eval_edges(self, logits: torch.Tensor) -> torch.Tensor:
        """Edges used in validation and test: the most likely type (``eval_sample: argmax``, the
        default, deterministic) or a hard Gumbel sample as the reference drew (``gumbel``).

        Shapes: logits [B, E, K] -> one-hot [B, E, K]
        """
        if self.cfg.get("eval_sample", "argmax") == "gumbel":
            return self.sample_edges(logits, hard=True)
        return F.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)

    def given_edges(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """Edges for the graph-given variants: the true graph, or every edge of type 1.

        Shapes: -> [B, E, K] one-hot, or None for graph ``none``
        """
        x = batch["x"]
        e = self.num_atoms * (self.num_atoms - 1)
        if self.graph == "true":
            if "edges" not in batch:
                raise ValueError("model.graph=true needs edge labels, and this dataset has none")
            return F.one_hot(batch["edges"].clamp(max=self.edge_types - 1), self.edge_types).to(x.dtype)
        if self.graph == "full":
            full = x.new_zeros(x.shape[0], e, self.edge_types)
            full[..., 1] = 1.0
            return full
        return None

    # --------------------------------------------------------------- training
    def _decode(self, x: torch.Tensor, edges: torch.Tensor | None, pred_steps: int,
                burn_in_steps: int | None = None, graph_fn=None,
                prev_frame: torch.Tensor | None = None) -> torch.Tensor:
        """``prev_frame`` [B, N, D]: the frame before x's first, for decoders that read changes."""
        if self.recurrent:
            kwargs = {"graph_fn": graph_fn} if graph_fn is not None else {}
            return self.decoder(x, edges, pred_steps, burn_in_steps, **kwargs)
        kwargs = {"prev_frame": prev_frame} if prev_frame is not None else {}
        return self.decoder(x, edges, pred_steps, **kwargs)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x = batch["x"]
        b = x.shape[0]
        log = {}
        if self.objective == "supervised":
            logits = self.encode(x[:, :, : self.ds["train_steps"]])
            loss = F.cross_entropy(logits.reshape(-1, self.edge_types), batch["edges"].reshape(-1))
            log["train/ce"] = loss
            log["train/edge_acc"] = metrics.edge_accuracy(logits, batch["edges"])
        else:
            m = int(self.cfg.get("prediction_steps", 10))
            burn_in = x.shape[2] - m if self.recurrent else None
            graph_fn = None
            if self.graph == "learned":
                logits = self.encode(x[:, :, : self.ds["train_steps"]])
                edges = self.sample_edges(logits, hard=bool(self.cfg.get("hard", False)))
                if self.recurrent and (self.cfg.get("dynamic_graph") or {}).get("train", False):
                    graph_fn = self._graph_fn(x, hard=bool(self.cfg.get("hard", False)))
            else:
                edges = self.given_edges(batch)
            preds = self._decode(x, edges, m, burn_in, graph_fn)
            nll = losses.gaussian_nll(preds, x[:, :, 1:], self.variance)
            loss = nll
            log["train/nll"] = nll
            log["train/mse"] = F.mse_loss(preds, x[:, :, 1:])
            if self.graph == "learned":
                prob = logits.softmax(-1)
                kl = losses.kl_categorical(prob, self._log_prior(), self.num_atoms)
                loss = nll + float(self.cfg.get("kl_weight", 1.0)) * kl
                log["train/kl"] = kl
                log["train/tau"] = self.tau
                if "edges" in batch:
                    log["train/edge_acc"] = metrics.edge_accuracy(logits, batch["edges"])
        log["train/loss"] = loss
        self._train_scalars.add(self, log, b)
        return loss

    def on_train_epoch_end(self) -> None:
        self._train_scalars.epoch_end(self)

    def _log_prior(self) -> torch.Tensor | None:
        return self.log_prior if self.log_prior.numel() else None

    def _graph_fn(self, x: torch.Tensor, hard: bool = True):
        """Re-encode the graph from the last ``window`` frames: ground truth or the model's own inputs.

        With source ``truth`` the encoder reads the recorded frames (the reference's test
        behaviour); with ``predictions`` it reads what the decoder was fed, i.e. its own
        predictions once the burn-in is over.
        """
        dyn = self.cfg.get("dynamic_graph") or {}
        window = int(dyn.get("window", self.ds["train_steps"]))
        source = dyn.get("source", "truth")
        if source not in ("truth", "predictions"):
            raise ValueError(f"model.dynamic_graph.source must be truth or predictions, got {source!r}")

        def fn(step: int, history: torch.Tensor) -> torch.Tensor:
            frames = x[:, :, max(step - window, 0): step] if source == "truth" else history[:, :, -window:]
            if frames.shape[2] < window:  # too early for a full window: keep the encoder's input size
                frames = x[:, :, :window]
            logits = self.encode(frames)
            return self.sample_edges(logits, hard=hard) if self.training else self.eval_edges(logits)

        return fn

    # ------------------------------------------------------------- evaluation
    def _reset_eval_state(self) -> None:
        self._counts = None
        self._scores: list[torch.Tensor] = []
        self._labels: list[torch.Tensor] = []
        self._mse_sum = None
        self._mse_n = 0
        self.last_val_example: dict[str, torch.Tensor] | None = None

    def _edge_stats(self, logits: torch.Tensor, labels: torch.Tensor) -> None:
        counts = metrics.confusion_counts(logits.argmax(-1), labels, self.edge_types)
        self._counts = counts if self._counts is None else self._counts + counts
        if self.edge_types == 2:
            self._scores.append(logits.softmax(-1)[..., 1].reshape(-1).float().cpu())
            self._labels.append(labels.reshape(-1).cpu())

    def _log_edge_metrics(self, split: str) -> dict[str, float]:
        if self._counts is None:
            return {}
        counts = self.all_gather(self._counts)
        counts = counts.sum(0) if counts.dim() == 3 else counts
        raw = float(counts.diagonal().sum()) / max(float(counts.sum()), 1.0)
        perm, acc_perm = metrics.best_permutation(counts.cpu())
        out = {f"{split}/edge_acc": raw, f"{split}/edge_acc_perm": acc_perm}
        if self._scores:
            out[f"{split}/auroc"] = metrics.auroc(self._gather_1d(torch.cat(self._scores)),
                                                  self._gather_1d(torch.cat(self._labels)))
        self.edge_permutation = perm
        for k, v in out.items():
            if not math.isnan(v):
                self.log(k, v, rank_zero_only=True)
        return out

    def _gather_1d(self, values: torch.Tensor) -> torch.Tensor:
        """Every rank's values, concatenated (ranks may hold different counts); CPU.

        Shapes:
            values: [n_rank] -> [sum of n over ranks]
        """
        if self.trainer.world_size <= 1:
            return values
        size = torch.tensor([values.numel()], device=self.device)
        sizes = self.all_gather(size).reshape(-1).tolist()
        padded = values.new_zeros(max(sizes)).to(self.device)
        padded[: values.numel()] = values.to(self.device)
        gathered = self.all_gather(padded).cpu()  # [world, max n]
        return torch.cat([gathered[rank, :n] for rank, n in enumerate(sizes)])

    def on_validation_epoch_start(self) -> None:
        self._reset_eval_state()

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        x = batch["x"]
        b = x.shape[0]
        log = {}
        logits = None
        if self.graph == "learned":
            logits = self.encode(x[:, :, : self.ds["train_steps"]])
            if "edges" in batch:
                self._edge_stats(logits, batch["edges"])
            if self.last_val_example is None:
                self.last_val_example = {
                    "prob": logits[0].softmax(-1).detach().cpu(), "x": x[0].detach().cpu(),
                    "edges": batch["edges"][0].detach().cpu() if "edges" in batch else None}
        if self.objective == "supervised":
            ce = F.cross_entropy(logits.reshape(-1, self.edge_types), batch["edges"].reshape(-1))
            log["val/ce"] = ce
            log["val/loss"] = ce
        else:
            edges = self.eval_edges(logits) if logits is not None else self.given_edges(batch)
            preds = self._decode(x, edges, 1)
            nll = losses.gaussian_nll(preds, x[:, :, 1:], self.variance)
            log["val/nll"] = nll
            log["val/mse"] = F.mse_loss(preds, x[:, :, 1:])
            loss = nll
            if logits is not None:
                kl = losses.kl_categorical(logits.softmax(-1), None, self.num_atoms)
                log["val/kl"] = kl
                loss = nll + kl
            log["val/loss"] = loss
        self.log_dict(log, on_epoch=True, batch_size=b, sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        self._log_edge_metrics("val")

    def on_test_epoch_start(self) -> None:
        self._reset_eval_state()

    def forecast(self, x: torch.Tensor, edges: torch.Tensor | None, burn_in: int, horizon: int,
                 graph_fn=None) -> torch.Tensor:
        """Predict ``horizon`` frames after frame ``burn_in`` (0-based), fed ground truth up to it.

        Shapes: x [B, N, T, D] with T > burn_in + horizon -> [B, N, horizon, D]
        """
        if self.recurrent:
            out = self._decode(x[:, :, : burn_in + horizon + 1], edges, 1, burn_in, graph_fn)
            return out[:, :, burn_in: burn_in + horizon]
        # a decoder that reads changes since the previous frame gets the one before the window
        reads_changes = bool(getattr(self.decoder, "delta_inputs", None)) and burn_in > 0
        return self._decode(x[:, :, burn_in: burn_in + horizon + 1], edges, horizon,
                            prev_frame=x[:, :, burn_in - 1] if reads_changes else None)

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        x = batch["x"]
        burn_in = int(self.ds["test_burn_in"])
        horizon = int(self.ds["test_horizon"])
        if x.shape[2] < burn_in + horizon + 1:
            raise ValueError(f"test trajectories have {x.shape[2]} frames but test_burn_in={burn_in} "
                             f"+ test_horizon={horizon} needs {burn_in + horizon + 1}")
        logits = None
        if self.graph == "learned":
            logits = self.encode(x[:, :, : self.ds["train_steps"]] if burn_in >= self.ds["train_steps"]
                                 else x[:, :, :burn_in])
            if "edges" in batch:
                self._edge_stats(logits, batch["edges"])
        if self.decoder is None:
            return
        edges = self.eval_edges(logits) if logits is not None else self.given_edges(batch)
        dyn = self.cfg.get("dynamic_graph") or {}
        graph_fn = self._graph_fn(x) if (dyn.get("test") and logits is not None and self.recurrent) else None
        preds = self.forecast(x, edges, burn_in, horizon, graph_fn)
        mse = metrics.mse_per_horizon(preds, x[:, :, burn_in + 1: burn_in + horizon + 1])
        self._mse_sum = mse * x.shape[0] if self._mse_sum is None else self._mse_sum + mse * x.shape[0]
        self._mse_n += x.shape[0]

    def on_test_epoch_end(self) -> None:
        self.test_results: dict[str, Any] = self._log_edge_metrics("test")
        if self._mse_sum is not None:
            total = self.all_gather(self._mse_sum)
            total = total.sum(0) if total.dim() == 2 else total
            n = self.all_gather(torch.tensor(float(self._mse_n), device=self.device)).sum()
            mse = (total / n).cpu()
            for h, v in enumerate(mse.tolist(), start=1):
                self.log(f"test/mse_{h}", v, rank_zero_only=True)
            self.test_results["test/mse"] = mse.tolist()

    # ------------------------------------------------------------- optimiser
    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        if not params:
            return None
        opt_cfg = self.cfg.get("optimizer", {}) or {}
        # on a GPU, one fused kernel instead of a few per parameter group: less host time per step
        fused = True if all(p.is_cuda for p in params) else None
        optimizer = torch.optim.Adam(params, lr=float(opt_cfg.get("lr", 5e-4)),
                                     weight_decay=float(opt_cfg.get("weight_decay", 0.0)), fused=fused)
        sched = self.cfg.get("scheduler", {}) or {}
        kind = sched.get("name", "step")
        if kind in (None, "none"):
            return optimizer
        if kind == "step":
            scheduler = torch.optim.lr_scheduler.StepLR(
                optimizer, step_size=int(sched.get("step_size", 200)), gamma=float(sched.get("gamma", 0.5)))
        elif kind == "cosine":
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizer, T_max=int(sched.get("t_max", self.trainer.max_epochs or 1)),
                eta_min=float(sched.get("eta_min", 0.0)))
        else:
            raise ValueError(f"unknown model.scheduler.name {kind!r}; choose step, cosine or none")
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
