"""The evaluation batch size that keeps validation and test within ``datamodule.memory_budget_mb``.

Evaluation runs without autograd, so the memory it needs grows with the batch: the decoder's
messages of every frame of every sample are alive at once (about 7 MiB a sample for
``model=paper`` mlp/mlp on springs5, 3.4 GiB at a batch of 512, more than a whole training step
of 128). The bytes per sample depend on the model and the data, so they are measured, not
guessed: one evaluation step runs on the split's first 2 and then 4 samples while a dispatch mode
adds up the storage of every tensor it creates and subtracts it again when the storage is freed.
The difference between the two peaks, per sample, is what each further sample costs; the batch
is the budget divided by it, never more than ``datamodule.eval_batch_size``.

Metrics do not depend on the batch size beyond float rounding: edge counts and forecast errors
are summed over samples, and the validation losses are batch means that Lightning weights by
batch size. The probe runs on a copy of the random state, so it draws no number the run would
have drawn.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

if TYPE_CHECKING:
    from nri.models.module import NRIModule

PROBE_SAMPLES = (2, 4)


class PeakBytes(TorchDispatchMode):
    """The most bytes that tensors created inside the mode held at once (views counted once)."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._held: set[int] = set()

    def _freed(self, key: int, nbytes: int) -> None:
        self._held.discard(key)
        self.live -= nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for value in tree_leaves(out):
            if not isinstance(value, torch.Tensor):
                continue
            storage = value.untyped_storage()
            key = id(storage)
            if key in self._held:
                continue
            self._held.add(key)
            self.live += storage.nbytes()
            self.peak = max(self.peak, self.live)
            weakref.finalize(storage, self._freed, key, storage.nbytes())
        return out


def evaluation_step(module: NRIModule, split: str) -> Callable[[dict[str, torch.Tensor]], object]:
    """The computation of one validation or test step, without logging or metric state."""
    if split == "valid":
        def valid(batch):
            batch = module.with_candidates(batch, module.ds["train_steps"])
            return module.objective.validation(module, batch, module._logits(batch, module.ds["train_steps"]))

        return valid

    def test(batch):
        module.test_step(batch, 0)
        module.edge_metrics.reset()
        module.forecast_mse.reset()

    return test


def marginal_bytes(run: Callable[[int], object], largest: int) -> float:
    """Peak bytes each further sample adds to ``run(n)`` (one step on the first n samples): the
    peaks at 2 and 4 samples under ``PeakBytes``, their difference per sample (at most ``largest``
    samples; the peak over the samples when the difference says nothing)."""
    sizes = [min(n, largest) for n in PROBE_SAMPLES]
    peaks = []
    for n in sizes:
        with PeakBytes() as counter:
            run(n)
        peaks.append(counter.peak)
    if sizes[1] > sizes[0] and peaks[1] > peaks[0]:
        return (peaks[1] - peaks[0]) / (sizes[1] - sizes[0])
    return peaks[1] / sizes[1]


def bytes_per_sample(module: NRIModule, samples, split: str) -> float:
    """Peak bytes each further sample adds to one evaluation step of ``split`` (valid or test).

    ``samples`` is the split's dataset (``__getitems__`` of a list of indices gives a batch).
    """
    step = evaluation_step(module, split)
    was_training = module.training
    devices = [module.device] if module.device.type == "cuda" else []
    batches = {n: {k: v.to(module.device) for k, v in samples.__getitems__(list(range(n))).items()}
               for n in {min(n, len(samples)) for n in PROBE_SAMPLES}}
    module.eval()
    try:
        with torch.random.fork_rng(devices=devices), torch.no_grad(), \
                torch.compiler.set_stance("force_eager"):
            return marginal_bytes(lambda n: step(batches[n]), len(samples))
    finally:
        module.train(was_training)


def batch_within_budget(module: NRIModule, samples, split: str, budget_mb: float, largest: int) -> int:
    """The largest evaluation batch, at most ``largest``, whose tensors fit ``budget_mb`` MiB."""
    per_sample = bytes_per_sample(module, samples, split)
    chosen = max(1, min(largest, int(budget_mb * 2**20 // max(per_sample, 1.0))))
    if chosen < largest and len(samples) > chosen:
        print(f"[nri] {split} in batches of {chosen}: {per_sample / 2**20:.2f} MiB a sample within "
              f"datamodule.memory_budget_mb={budget_mb:g}")
    return chosen
