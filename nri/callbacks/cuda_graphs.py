"""One CUDA-graph generation per batch, for encoder and decoder compiled in a CUDA-graph mode.

torch.compile's CUDA-graph trees guess where an iteration begins: every call of a compiled
function starts a new one unless a backward is still pending. nri compiles the encoder and the
decoder apart, so in validation (no backward) the decoder's call starts a new iteration, and the
encoder's logits, read again after the decoder for the KL term, belong to an iteration whose
memory the next replay may overwrite ("accessing tensor output of CUDAGraphs that has been
overwritten by a subsequent run"). Marking the start of every batch instead makes the batch one
iteration: its tensors stay valid until the next batch begins.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch


class CudaGraphSteps(pl.Callback):
    """Calls ``torch.compiler.cudagraph_mark_step_begin()`` before every training, validation and
    test batch (a counter on the host; harmless without CUDA graphs)."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        torch.compiler.cudagraph_mark_step_begin()

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0) -> None:
        torch.compiler.cudagraph_mark_step_begin()

    def on_test_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0) -> None:
        torch.compiler.cudagraph_mark_step_begin()
