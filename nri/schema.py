"""The config schema: every option of the model group, the trainer and the top-level run settings,
with its type and default, stated once.

Registered in Hydra's ConfigStore on import (``model/model_schema``, ``trainer/trainer_schema``,
``train_schema``, and ``dataset/physics/<name>_physics`` from nri/data/sim/physics.py) and named
first in the defaults lists of ``conf/model/nri.yaml``, ``conf/trainer/default.yaml``,
``conf/train.yaml`` and the simulated ``conf/dataset/*.yaml``: a key the schema does not know, or a
value of the wrong type, is refused when Hydra composes the config. ``NRIModule`` merges the model settings
it is given onto ``ModelConfig``, so a module built in code gets the same defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from nri.data.sim.physics import ChargedPhysics, KuramotoPhysics, SpringsPhysics
from nri.errors import ConfigError


@dataclass
class TemperatureConfig:
    """Gumbel-softmax temperature, a function of the step (nri/models/schedules.py)."""

    kind: str = "constant"  # constant | exponential | cosine | linear
    tau: float = 0.5
    tau_final: float = 0.5
    anneal_steps: int = 1


@dataclass
class DynamicGraphConfig:
    """RNN decoder: re-encode the graph from the last ``window`` frames during roll-outs."""

    train: bool = False  # in training, during the free-running tail
    test: bool = False  # during the test forecast
    source: str = "truth"  # truth (recorded frames, the reference) | predictions (the model's own)
    window: int | None = "${oc.select:dataset.train_steps,null}"  # null: dataset.train_steps


@dataclass
class AdaptConfig:
    """Test-time adaptation: per sample, Adam steps on its edge logits against the ELBO of the frames
    the model is given, the weights fixed (nri/models/adaptation.py). Never in training."""

    steps: int = 0  # 0: off (the encoder's logits as they are)
    lr: float = 0.3
    tau: float = 0.5  # temperature of the relaxed edges the frozen decoder reads
    # also in validation (to choose steps and lr with nri.eval split=valid); each validation of a
    # training run would then take about steps times longer
    validation: bool = False


def _adam() -> dict[str, Any]:
    return {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 5.0e-4, "weight_decay": 0.0}


@dataclass
class ModelConfig:
    """NRI (learned) by default: the encoder infers the graph, the decoder predicts (ELBO)."""

    graph: str = "learned"  # learned | true | full | none (nri/models/edge_sources.py)
    objective: str = "elbo"  # elbo | nll | supervised (nri/models/objectives.py)
    skip_first: bool = True  # edge type 0 sends no message: pins type 0 to "no interaction"
    # output variance: one number or one per feature
    var: Any = "${oc.select:dataset.model_defaults.var,5.0e-5}"
    # truth re-fed every M steps (RNN: the free-running tail)
    prediction_steps: int = "${oc.select:dataset.model_defaults.prediction_steps,10}"
    hard: bool = False  # straight-through hard samples in training (evaluation is always hard)
    eval_sample: str = "argmax"  # edges in validation/test: argmax (deterministic) | gumbel (the reference)
    kl_weight: float = 1.0
    # training decodes each batch in this many chunks, each chunk's backward at once: one chunk's
    # decoder activations alive instead of the whole batch's, the same gradients
    # (nri/models/decoder_chunks.py); auto: the fewest chunks within decoder_budget_mb on a CPU,
    # measured on the first batch (1 on a GPU)
    decoder_chunks: Any = "auto"
    decoder_budget_mb: float | None = 512.0  # MiB for one chunk's decoder activations (null: 1 chunk)
    # undirected systems: none | hard (the two directions' logits tied) | soft (a penalty)
    symmetry: str = "none"
    symmetry_weight: float = 1.0  # weight of the soft symmetry penalty (nri/models/symmetry.py)
    prior: list[float] | None = None  # K probabilities, or null for uniform
    no_edge_prob: float | None = None  # sparsity prior: p(type 0) for any K
    temperature: TemperatureConfig = field(default_factory=TemperatureConfig)
    # a torch.optim class as a partial node: called with the parameters in configure_optimizers
    optimizer: Any = field(default_factory=_adam)
    # a torch.optim.lr_scheduler class as a partial node, called with the optimizer and stepped each
    # epoch; Hydra runs choose it from the group conf/model/scheduler/ (step, as the reference, unless
    # told), a module built in code without one keeps the learning rate constant
    scheduler: Any = None
    dynamic_graph: DynamicGraphConfig = field(default_factory=DynamicGraphConfig)
    adapt: AdaptConfig = field(default_factory=AdaptConfig)
    # candidate edges per sample (nri/models/candidate_graph.py): all (every pair) | knn | radius | given
    candidates: str = "all"
    candidate_k: int = 20  # knn: candidates per receiver, nearest by trajectory distance
    candidate_radius: float = 0.5  # radius: the largest trajectory distance (scaled features)
    candidate_k_max: int = 20  # radius: at most this many per receiver
    candidate_features: str = "positions"  # what the distance compares: positions | all
    monitor: str = "val/nll"  # one key for checkpoints, early stopping and sweep objectives
    monitor_mode: str = "min"


@dataclass
class TrainerConfig:
    """The pytorch_lightning.Trainer arguments the configs set (conf/trainer/default.yaml)."""

    _target_: str = "pytorch_lightning.Trainer"
    accelerator: str = "cpu"
    devices: Any = 1
    num_nodes: int = 1
    strategy: Any = "auto"
    sync_batchnorm: bool = False
    use_distributed_sampler: bool = True
    max_epochs: int = 500
    min_epochs: int = 1
    max_steps: int = -1
    max_time: str | None = None
    precision: Any = "32-true"
    log_every_n_steps: int = 20
    check_val_every_n_epoch: int | None = 1
    val_check_interval: Any = 1.0
    num_sanity_val_steps: int = 0
    deterministic: Any = False
    benchmark: bool | None = None
    default_root_dir: str | None = None
    enable_model_summary: bool = False
    enable_progress_bar: bool = True
    enable_checkpointing: bool | None = None
    limit_train_batches: Any = 1.0
    limit_val_batches: Any = None
    limit_test_batches: Any = None
    fast_dev_run: Any = False
    gradient_clip_val: float | None = None
    accumulate_grad_batches: int = 1
    profiler: Any = None


@dataclass
class RunSettings:
    """Top-level settings of ``python -m nri.train``."""

    task_name: str = "train"
    seed: int = 42
    train: bool = True  # fit the model (skipped automatically when it has no trainable parameters)
    test: bool = True  # evaluate the best checkpoint (or the current weights) on the test split
    ckpt_path: str | None = None  # resume training from this checkpoint
    compile: Any = False  # torch.compile the encoder and decoder: true, or default | max-autotune-no-cudagraphs
    keep_freed_memory: bool = False  # opt-in: glibc malloc keeps freed memory for reuse (nri/runtime.py)
    threads: int | None = None  # torch CPU threads (null = torch's default)


# the config groups and the top-level nodes of table runs; each group validates itself (model, trainer)
TOP_LEVEL_NODES = ("paths", "dataset", "encoder", "decoder", "model", "datamodule", "trainer", "logger",
                   "callbacks", "profile", "row", "real", "schedules")
TrainRunConfig = make_dataclass("TrainRunConfig", [(name, Any, None) for name in TOP_LEVEL_NODES],
                                bases=(RunSettings,))


def checked(schema: type, values: Any, prefix: str = "") -> dict[str, Any]:
    """``values`` merged onto ``schema``'s defaults, resolved to plain values.

    Catches what composition lets through (a key added with ``+``, a config built in code).
    Raises ConfigError naming ``prefix.key`` for a key the schema does not know or a wrongly typed value.
    """
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), values)
    except OmegaConfBaseException as err:
        key = f"{prefix}.{err.full_key}" if prefix else err.full_key
        raise ConfigError(f"{key}: {(err.msg or str(err)).splitlines()[0]}") from None
    return OmegaConf.to_container(merged, resolve=True)


# checkpoints written before model.scheduler became a partial node saved {name, step_size, gamma,
# t_max, eta_min}: the node each name meant, and which of its arguments came from which key
_LEGACY_SCHEDULERS = {
    "step": ("torch.optim.lr_scheduler.StepLR", {"step_size": "step_size", "gamma": "gamma"}),
    "cosine": ("torch.optim.lr_scheduler.CosineAnnealingLR", {"T_max": "t_max", "eta_min": "eta_min"}),
}


def upgraded(model: Any) -> Any:
    """Model settings with a legacy ``scheduler: {name: …}`` turned into the partial node it meant."""
    legacy = model.get("scheduler") if isinstance(model, dict) else None
    if not isinstance(legacy, dict) or "name" not in legacy:
        return model
    target = _LEGACY_SCHEDULERS.get(legacy["name"])
    node = None if target is None else {
        "_target_": target[0], "_partial_": True, **{arg: legacy[key] for arg, key in target[1].items()}}
    return {**model, "scheduler": node}


def register() -> None:
    store = ConfigStore.instance()
    store.store(group="model", name="model_schema", node=ModelConfig)
    store.store(group="trainer", name="trainer_schema", node=TrainerConfig)
    store.store(name="train_schema", node=TrainRunConfig)
    for name, physics in (("springs", SpringsPhysics), ("charged", ChargedPhysics),
                          ("kuramoto", KuramotoPhysics)):
        store.store(group="dataset/physics", name=f"{name}_physics", node=physics)


register()
