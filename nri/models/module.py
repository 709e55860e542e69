"""The LightningModule: NRI's ELBO, its graph-given and supervised variants, and the baselines.

One module serves every row of the paper's tables along two axes, each a small strategy object:
``model.graph`` says where the edges come from (nri/models/edge_sources.py) and
``model.objective`` what is minimised (nri/models/objectives.py). Settings and their defaults are
``nri.schema.ModelConfig``.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import hydra
import pytorch_lightning as pl
import torch
from torch.nn import functional as F

from nri import losses
from nri.metrics import EdgeMetrics, ForecastMSE
from nri.models.adaptation import adapt_edge_logits
from nri.models.candidate_graph import (
    CandidateGraph,
    candidate_scores,
    on_all_pairs,
    true_edge_lists,
)
from nri.models.decoder_chunks import (
    check_decoder_chunks,
    chunks_within_budget,
    decoder_bytes_per_sample,
)
from nri.models.edge_sources import edge_source
from nri.models.objectives import candidates_of, objective
from nri.models.schedules import temperature
from nri.models.symmetry import check_symmetry_mode, tie_directions
from nri.models.train_log import TrainScalars
from nri.registry import build_decoder, build_encoder
from nri.schema import ModelConfig, checked, upgraded
from nri.sparse_metrics import SparseEdgeMetrics


def model_settings(model: dict[str, Any]) -> dict[str, Any]:
    """``model`` merged onto the schema's defaults, as plain values (ConfigError for a bad key or type)."""
    settings = checked(ModelConfig, upgraded(model), "model")
    check_decoder_chunks(settings["decoder_chunks"], settings["decoder_budget_mb"])
    return settings


class NRIModule(pl.LightningModule):
    """Shapes of a batch: ``x`` [B, N, T, D] (scaled features), optional ``edges`` [B, E] labels."""

    def __init__(self, dataset: dict[str, Any], model: dict[str, Any],
                 encoder: dict[str, Any] | None = None, decoder: dict[str, Any] | None = None,
                 normalization: dict[str, Any] | None = None):
        super().__init__()
        self.save_hyperparameters()
        self.ds = dict(dataset)
        self.cfg = model_settings(model)
        self.edge_source = edge_source(self.cfg["graph"])
        self.objective = objective(self.cfg["objective"])
        self.graph = self.edge_source.name
        self.skip_first = bool(self.cfg["skip_first"])
        self.symmetry = check_symmetry_mode(self.cfg["symmetry"])
        if self.objective.needs_encoder and not self.edge_source.needs_encoder:
            raise ValueError(f"model.objective={self.objective.name} needs the learned graph, "
                             f"not model.graph={self.graph}")
        self.num_atoms = int(self.ds["num_atoms"])
        self.edge_types = int(self.ds["edge_types"])
        context = {
            "dims": int(self.ds["dims"]), "timesteps": int(self.ds["train_steps"]),
            "edge_types": self.edge_types, "num_atoms": self.num_atoms,
            "skip_first": self.cfg["skip_first"], "normalization": normalization,
            "dataset_name": self.ds["name"], "dataset": self.ds,
        }
        for part, needed, cfg in (("an encoder", self.edge_source.needs_encoder, encoder),
                                  ("a decoder", self.objective.needs_decoder, decoder)):
            if needed and cfg is None:
                raise ValueError(f"model.graph={self.graph} / model.objective={self.objective.name} "
                                 f"needs {part}")
        self.encoder = build_encoder(encoder, context) if self.edge_source.needs_encoder else None
        self.decoder = build_decoder(decoder, context) if self.objective.needs_decoder else None
        # read from the class, before any torch.compile wrapper hides it
        self.recurrent = bool(type(self.decoder).recurrent) if self.decoder is not None else False
        self.candidate_graph = CandidateGraph(self.cfg, self.ds)
        if not self.candidate_graph.all_pairs:
            self._check_candidate_support()
        # a Markov decoder that also keeps a memory of past frames (nri/models/history_decoder.py)
        self.reads_history = bool(getattr(type(self.decoder), "reads_history", False))
        log_prior = losses.make_log_prior(self.edge_types, self.cfg["prior"], self.cfg["no_edge_prob"])
        self.register_buffer("log_prior", log_prior if log_prior is not None else torch.empty(0),
                             persistent=False)
        var = losses.parse_variance(self.cfg["var"], int(self.ds["dims"]))
        self.register_buffer("variance", torch.as_tensor(var, dtype=torch.float32), persistent=False)
        self.edge_metrics = EdgeMetrics(self.edge_types)
        self.sparse_edge_metrics = SparseEdgeMetrics()  # AUROC, AUPRC, F1 over all pairs
        self.forecast_mse = ForecastMSE(self.ds["test_horizon"])
        self._train_scalars = TrainScalars()
        self.last_val_example: dict[str, torch.Tensor] | None = None
        self._decoder_sample_bytes: float | None = None  # measured for decoder_chunks: auto

    # ------------------------------------------------------------------ graph
    @property
    def tau(self) -> float:
        t = self.cfg["temperature"]
        return temperature(self.global_step, t["kind"], float(t["tau"]), float(t["tau_final"]),
                           int(t["anneal_steps"]))

    def prior(self) -> torch.Tensor | None:
        """The log prior over edge types, None for uniform. Shapes: -> [K] or None"""
        return self.log_prior if self.log_prior.numel() else None

    def encode(self, x: torch.Tensor, candidates=None) -> torch.Tensor:
        """The encoder's logits, both directions of a pair tied under ``symmetry: hard``.

        Shapes: x [B, N, T, D] -> logits [B, E, K] (E = N k on ``candidates``)
        """
        if candidates is not None:
            return self.encoder(x, candidates)
        logits = self.encoder(x)
        return tie_directions(logits, x.shape[1]) if self.symmetry == "hard" else logits

    def _check_candidate_support(self) -> None:
        kind = self.candidate_graph.kind
        if self.graph != "learned":
            raise ValueError(f"model.candidates={kind} needs model.graph=learned, got "
                             f"model.graph={self.graph}")
        if self.symmetry != "none":  # it pairs the directions of the all-pairs edge order
            raise ValueError(f"model.candidates={kind} needs model.symmetry=none, got {self.symmetry}")
        dynamic = self.cfg["dynamic_graph"]
        if dynamic["train"] or dynamic["test"]:  # re-encoding would need the roll-out's candidates
            raise ValueError(f"model.candidates={kind} needs model.dynamic_graph.train and .test false")
        for net in (self.encoder, self.decoder):
            if net is None:  # the supervised objective has no decoder
                continue
            net = getattr(net, "_orig_mod", net)  # under torch.compile
            if "candidates" not in inspect.signature(net.forward).parameters:
                raise ValueError(f"model.candidates={kind}: the {type(net).__name__} runs on all "
                                 f"pairs only; use encoder=mlp or cnn and decoder=mlp or rnn (or model.candidates=all)")

    def edge_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's logits for every pair from the frames of ``x``; with candidate edges, the
        pairs that are not candidates are type 0 for certain (for inference at modest N).

        Shapes: x [B, N, T, D] -> [B, N(N-1), K]
        """
        batch = self.with_candidates({"x": x}, x.shape[2])
        candidates = candidates_of(batch)
        logits = self.encode(x, candidates)
        return logits if candidates is None else on_all_pairs(logits, candidates)

    def with_candidates(self, batch: dict[str, Any], frames: int) -> dict[str, Any]:
        """The batch with its candidate edges from its first ``frames`` frames under
        ``candidates`` (the batch itself for all pairs)."""
        if self.candidate_graph.all_pairs:
            return batch
        return {**batch, "candidates": self.candidate_graph.build(batch, frames)}

    def sample_edges(self, logits: torch.Tensor, hard: bool) -> torch.Tensor:
        """Gumbel-softmax sample (straight-through one-hot when ``hard``).

        Shapes: logits [B, E, K] -> [B, E, K]
        """
        return F.gumbel_softmax(logits, tau=self.tau, hard=hard, dim=-1)

    def eval_edges(self, logits: torch.Tensor) -> torch.Tensor:
        """Edges used in validation and test: the most likely type (``eval_sample: argmax``,
        deterministic) or a hard Gumbel sample as the reference drew (``gumbel``).

        Shapes: logits [B, E, K] -> one-hot [B, E, K]
        """
        if self.cfg["eval_sample"] == "gumbel":
            return self.sample_edges(logits, hard=True)
        return F.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)

    def given_edges(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """Edges of the graph-given variants (true graph, every edge of type 1), None otherwise.

        Shapes: -> [B, E, K] one-hot, or None
        """
        return self.edge_source.given(self, batch)

    def graph_fn(self, x: torch.Tensor, hard: bool = True, source: str | None = None):
        """Re-encode the graph from the last ``window`` frames: ground truth or the model's own inputs.

        With source ``truth`` the encoder reads the recorded frames (the reference's test
        behaviour); with ``predictions`` it reads what the decoder was fed, i.e. its own
        predictions once the burn-in is over.
        """
        dyn = self.cfg["dynamic_graph"]
        window = int(dyn["window"] or self.ds["train_steps"])
        source = source or dyn["source"]
        if source not in ("truth", "predictions"):
            raise ValueError(f"model.dynamic_graph.source must be truth or predictions, got {source!r}")

        def fn(step: int, history: torch.Tensor) -> torch.Tensor:
            frames = x[:, :, max(step - window, 0): step] if source == "truth" else history[:, :, -window:]
            if frames.shape[2] < window:  # too early for a full window: keep the encoder's input size
                frames = x[:, :, :window]
            logits = self.encode(frames)
            return self.sample_edges(logits, hard=hard) if self.training else self.eval_edges(logits)

        return fn

    def _logits(self, batch: dict[str, Any], frames: int) -> torch.Tensor | None:
        """The encoder's logits on the first ``frames`` frames, None without an encoder."""
        if not self.edge_source.needs_encoder:
            return None
        return self.encode(batch["x"][:, :, :frames], candidates_of(batch))

    def _eval_logits(self, batch: dict[str, Any], frames: int, adapt_here: bool) -> torch.Tensor | None:
        """Validation and test logits: the encoder's, refined per sample on the same ``frames``
        frames where ``adapt_here`` and ``model.adapt.steps`` > 0 (both directions re-tied under
        hard symmetry).

        Shapes: batch["x"] [B, N, T, D] -> [B, E, K] or None
        """
        logits = self._logits(batch, frames)
        adapt = self.cfg["adapt"]
        if logits is None or int(adapt["steps"]) == 0 or not adapt_here:
            return logits
        # adaptation lowers the ELBO: it needs the encoder's logits and a decoder to score them
        scores_edges = self.objective.needs_encoder and self.objective.needs_decoder
        if not scores_edges or candidates_of(batch) is not None:
            raise ValueError("model.adapt.steps > 0 needs model.objective=elbo on all pairs "
                             f"(model.candidates=all); got objective={self.objective.name}, "
                             f"candidates={self.candidate_graph.kind}")
        steps = int(self.cfg["prediction_steps"])

        def decode(x: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:  # as in training
            return self.decode(x, edges, steps, x.shape[2] - steps if self.recurrent else None)

        adapted = adapt_edge_logits(logits, batch["x"][:, :, :frames], decode, self.variance,
                                    int(adapt["steps"]), float(adapt["lr"]), float(adapt["tau"]),
                                    float(self.cfg["kl_weight"]), self.prior())
        return tie_directions(adapted, self.num_atoms) if self.symmetry == "hard" else adapted

    # --------------------------------------------------------------- decoding
    def decoder_chunks(self, batch_size: int) -> int:
        """How many chunks the training step decodes a batch of ``batch_size`` in (1: at once;
        ``auto`` before its first measurement, and always in evaluation)."""
        setting = self.cfg["decoder_chunks"]
        if not torch.is_grad_enabled():
            return 1
        if setting != "auto":
            return int(setting)
        if self._decoder_sample_bytes is None:
            return 1
        return chunks_within_budget(batch_size, self._decoder_sample_bytes, float(self.cfg["decoder_budget_mb"]))

    def _measure_decoder_chunks(self, batch: dict[str, torch.Tensor]) -> None:
        """``decoder_chunks: auto``: measure the decoder's training bytes per sample once, on the
        first batch (not on a GPU, where host time and not memory limits the step)."""
        if (self.cfg["decoder_chunks"] != "auto" or self._decoder_sample_bytes is not None
                or self.cfg["decoder_budget_mb"] is None or self.decoder is None
                or self.device.type == "cuda" or not self.candidate_graph.all_pairs
                or (self.recurrent and self.cfg["dynamic_graph"]["train"])):
            return
        x = batch["x"]
        edges = None
        if self.edge_source.needs_encoder:  # a sample of the right shape; its values do not matter
            edges = torch.full((x.shape[0], self.num_atoms * (self.num_atoms - 1), self.edge_types),
                               1.0 / self.edge_types, dtype=x.dtype, device=x.device)
        else:
            edges = self.edge_source.train_edges(self, batch, None)
        self._decoder_sample_bytes = decoder_bytes_per_sample(self, x, edges)
        chunks = self.decoder_chunks(x.shape[0])
        if chunks > 1:
            print(f"[nri] training decodes each batch of {x.shape[0]} in {chunks} chunks: "
                  f"{self._decoder_sample_bytes / 2**20:.2f} MiB a sample within "
                  f"model.decoder_budget_mb={float(self.cfg['decoder_budget_mb']):g}")

    def decoder_parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in self.decoder.parameters() if p.requires_grad]

    def decode(self, x: torch.Tensor, edges: torch.Tensor | None, pred_steps: int,
               burn_in_steps: int | None = None, graph_fn=None,
               prev_frame: torch.Tensor | None = None, candidates=None) -> torch.Tensor:
        """``prev_frame`` [B, N, D]: the frame before x's first, for decoders that read changes;
        ``candidates``: the edges ``edges`` are on (None: all pairs).

        Shapes: x [B, N, T, D] -> [B, N, T-1, D]
        """
        on_candidates = {"candidates": candidates} if candidates is not None else {}
        if self.recurrent:
            kwargs = {"graph_fn": graph_fn} if graph_fn is not None else {}
            return self.decoder(x, edges, pred_steps, burn_in_steps, **kwargs, **on_candidates)
        kwargs = {"prev_frame": prev_frame} if prev_frame is not None else {}
        return self.decoder(x, edges, pred_steps, **kwargs, **on_candidates)

    def forecast(self, x: torch.Tensor, edges: torch.Tensor | None, burn_in: int, horizon: int,
                 graph_fn=None, candidates=None) -> torch.Tensor:
        """Predict ``horizon`` frames after frame ``burn_in`` (0-based), fed ground truth up to it.

        Shapes: x [B, N, T, D] with T > burn_in + horizon -> [B, N, horizon, D]
        """
        if self.recurrent:
            out = self.decode(x[:, :, : burn_in + horizon + 1], edges, 1, burn_in, graph_fn,
                              candidates=candidates)
            return out[:, :, burn_in: burn_in + horizon]
        if self.reads_history:  # its memory starts at frame 0, not at the burn-in
            out = self.decoder(x[:, :, : burn_in + horizon + 1], edges, horizon, burn_in_steps=burn_in)
            return out[:, :, burn_in: burn_in + horizon]
        # a decoder that reads changes since the previous frame gets the one before the window
        reads_changes = bool(getattr(self.decoder, "delta_inputs", None)) and burn_in > 0
        return self.decode(x[:, :, burn_in: burn_in + horizon + 1], edges, horizon,
                           prev_frame=x[:, :, burn_in - 1] if reads_changes else None,
                           candidates=candidates)

    # ------------------------------------------------------------------ steps
    def step_loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor | float]:
        """The training computation alone: the step's scalars by name, ``train/loss`` minimised.

        No logging and no host synchronisation, so the whole step is one ``torch.compile`` graph.
        Shapes: batch["x"] [B, N, T, D] -> 0-d tensors (and the temperature as a number)
        """
        batch = self.with_candidates(batch, self.ds["train_steps"])
        logits = self._logits(batch, self.ds["train_steps"])
        return self.objective.training(self, batch, logits)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        self._measure_decoder_chunks(batch)
        log = self.step_loss(batch)
        self._train_scalars.add(self, log, batch["x"].shape[0])
        return log["train/loss"]

    def on_train_epoch_end(self) -> None:
        self._train_scalars.epoch_end(self)

    def on_validation_epoch_start(self) -> None:
        self.edge_metrics.reset()
        self.sparse_edge_metrics.reset()
        self.last_val_example = None

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        x = batch["x"]
        batch = self.with_candidates(batch, self.ds["train_steps"])
        logits = self._eval_logits(batch, self.ds["train_steps"], bool(self.cfg["adapt"]["validation"]))
        all_pairs = candidates_of(batch) is None
        if logits is not None:
            self._update_edge_metrics(batch, logits)
            if self.last_val_example is None and all_pairs:
                self.last_val_example = {
                    "prob": logits[0].softmax(-1).detach().cpu(), "x": x[0].detach().cpu(),
                    "edges": batch["edges"][0].detach().cpu() if "edges" in batch else None}
        log = self.objective.validation(self, batch, logits)
        self.log_dict(log, on_epoch=True, batch_size=x.shape[0], sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        self._log_edge_metrics("val")

    def on_test_epoch_start(self) -> None:
        self.edge_metrics.reset()
        self.sparse_edge_metrics.reset()
        self.forecast_mse.reset()

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        x = batch["x"]
        burn_in = int(self.ds["test_burn_in"])
        horizon = int(self.ds["test_horizon"])
        if x.shape[2] < burn_in + horizon + 1:
            raise ValueError(f"test trajectories have {x.shape[2]} frames but test_burn_in={burn_in} "
                             f"+ test_horizon={horizon} needs {burn_in + horizon + 1}")
        frames = min(burn_in, self.ds["train_steps"])
        batch = self.with_candidates(batch, frames)
        logits = self._eval_logits(batch, frames, adapt_here=True)
        if logits is not None:
            self._update_edge_metrics(batch, logits)
        if self.decoder is None:
            return
        edges = self.edge_source.eval_edges(self, batch, logits)
        dynamic = self.cfg["dynamic_graph"]["test"] and logits is not None and self.recurrent
        preds = self.forecast(x, edges, burn_in, horizon, self.graph_fn(x) if dynamic else None,
                              candidates=candidates_of(batch))
        self.forecast_mse.update(preds, x[:, :, burn_in + 1: burn_in + horizon + 1])

    def on_test_epoch_end(self) -> None:
        self.test_results: dict[str, Any] = self._log_edge_metrics("test")
        if self.forecast_mse.update_called:
            mse = self.forecast_mse.compute()
            for h, v in enumerate(mse.tolist(), start=1):
                self.log(f"test/mse_{h}", v, rank_zero_only=True)
            self.test_results["test/mse"] = mse.tolist()

    def _update_edge_metrics(self, batch: dict[str, Any], logits: torch.Tensor) -> None:
        candidates = candidates_of(batch)
        if "edges" in batch and candidates is None:
            self.edge_metrics.update(logits, batch["edges"])
        true = true_edge_lists(batch, self.num_atoms)
        if true is not None:
            self.sparse_edge_metrics.update(**candidate_scores(logits, candidates, true,
                                                               self.num_atoms))

    def _log_edge_metrics(self, split: str) -> dict[str, float]:
        out: dict[str, float] = {}
        if self.edge_metrics.update_called:  # all pairs: accuracy with and without relabelling
            values = self.edge_metrics.compute()
            self.edge_permutation = values["perm"]
            out = {f"{split}/edge_acc": values["acc"], f"{split}/edge_acc_perm": values["acc_perm"]}
            if "auroc" in values:
                out[f"{split}/auroc"] = values["auroc"]
        if self.sparse_edge_metrics.update_called:
            sparse = self.sparse_edge_metrics.compute()
            names = {"auprc": "auprc", "f1": "f1", "candidate_recall": "candidate_recall"}
            if not self.edge_metrics.update_called:  # candidates or edge lists: all pairs from here
                names.update(acc="edge_acc", auroc="auroc")
            out.update({f"{split}/{name}": sparse[key] for key, name in names.items()})
        for k, v in out.items():
            if not math.isnan(v):
                self.log(k, v, rank_zero_only=True)
        return out

    # ------------------------------------------------------------- optimiser
    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        if not params:
            return None
        make_optimizer = hydra.utils.instantiate(self.cfg["optimizer"])
        # on a GPU, one fused kernel instead of a few per parameter group: less host time per step
        fused = {"fused": True} if all(p.is_cuda for p in params) else {}
        optimizer = make_optimizer(params, **fused)
        if self.cfg["scheduler"] is None:
            return optimizer
        scheduler = hydra.utils.instantiate(self.cfg["scheduler"])(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
