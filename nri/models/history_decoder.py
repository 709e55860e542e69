"""A decoder that reads each object's recent past, for systems whose state does not fix its future.

A Markov decoder maps frame t to frame t+1. Where the features do not determine the next step
(charged particles' accelerations change fast between frames; Kuramoto's sin φ leaves cos φ open)
a recurrent memory of the recent frames helps. This decoder keeps the Markov decoders' call and
roll-out (ground truth re-fed every ``pred_steps`` frames), but before each start point a GRU
reads up to ``history`` earlier ground-truth frames of every object, and during the roll-out it
keeps reading the decoder's own predictions. Messages between objects are computed from the
current state together with that memory (spatio-temporal messages), so they see motion, not
just positions.
"""

from __future__ import annotations

import torch
from torch import nn

from nri.models.decoders import maybe_checkpointed, readout
from nri.models.graph import edge2node, edge_index
from nri.models.messages import TypedMessages


class HistoryDecoder(nn.Module):
    """GNN decoder whose nodes carry a GRU memory of the frames before the one they predict from.

    Only frames up to the one a prediction starts from are read: the prediction of frame t+1 uses
    ground truth up to the last re-feed point at or before t and the decoder's own predictions
    after it. Frames before the start of x (or before ``history`` frames back) are skipped, not
    padded: the memory simply starts later.

    Shapes:
        x: [B, N, T, D]; edges: [B, E, K] -> [B, N, T-1, D]
    """

    recurrent = False
    # a forecast after a burn-in should hand over the frames before it (``burn_in_steps``), not
    # only the window that starts at the burn-in frame, or the memory starts empty
    reads_history = True

    def __init__(self, dims: int, edge_types: int, hidden: int, history: int = 10,
                 memory: int | None = None, dropout: float = 0.0, skip_first: bool = False,
                 checkpoint: bool = False):
        super().__init__()
        if history < 0:
            raise ValueError(f"decoder.history must be >= 0 frames, got {history}")
        self.history = history
        self.skip_first = skip_first
        self.checkpoint = checkpoint
        memory = memory or hidden
        self.memory_cell = nn.GRUCell(dims, memory)
        node_features = dims + memory
        self.messages = TypedMessages(2 * node_features, hidden, hidden,
                                      edge_types - int(skip_first), "relu", dropout)
        self.out = readout(node_features + hidden, hidden, dims, dropout)

    def remember(self, frame: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """Shapes: frame [B, N, S, D]; memory [B, N, S, M] -> [B, N, S, M]"""
        lead = frame.shape[:-1]
        flat = self.memory_cell(frame.reshape(-1, frame.shape[-1]),
                                memory.reshape(-1, memory.shape[-1]))
        return flat.reshape(*lead, -1)

    def single_step(self, state: torch.Tensor, memory: torch.Tensor, edges: torch.Tensor
                    ) -> torch.Tensor:
        """Shapes: state [B, N, S, D]; memory [B, N, S, M] (already read ``state``) -> [B, N, S, D]"""
        n = state.shape[1]
        senders, receivers = edge_index(n, state.device)
        nodes = torch.cat([state, memory], dim=-1)  # [B, N, S, D+M]
        msg = self.messages.from_nodes(nodes, senders, receivers,
                                       edges[..., int(self.skip_first):])  # [B, E, S, H]
        agg = edge2node(msg, n)  # [B, N, S, H]
        return state + self.out(torch.cat([nodes, agg], dim=-1))

    def warm_memory(self, x: torch.Tensor, starts: torch.Tensor) -> torch.Tensor:
        """The memory at each start point after reading the ``history`` frames before it.

        Shapes:
            x: [B, N, T, D]; starts: [S] frame indices -> memory [B, N, S, M]
        """
        b, n = x.shape[:2]
        memory = x.new_zeros(b, n, starts.shape[0], self.memory_cell.hidden_size)
        for back in range(self.history, 0, -1):
            frames = starts - back
            real = frames >= 0  # [S]; a start too close to frame 0 begins its memory later
            if not bool(real.any()):
                continue
            read = self.remember(x.index_select(2, frames.clamp(min=0)), memory)
            memory = torch.where(real.reshape(1, 1, -1, 1), read, memory)
        return memory

    def forward(self, x: torch.Tensor, edges: torch.Tensor, pred_steps: int = 1,
                burn_in_steps: int | None = None, prev_frame: torch.Tensor | None = None
                ) -> torch.Tensor:
        """``burn_in_steps`` (as the recurrent decoders take it): ground truth for inputs
        0..burn_in_steps, each predicting one frame, then one free-running tail whose memory has
        read the ``history`` frames before it. ``prev_frame`` [B, N, D], the frame before x,
        is read as history when given.

        Shapes:
            x: [B, N, T, D]; edges: [B, E, K] -> [B, N, T-1, D]
        """
        if prev_frame is not None:
            x = torch.cat([prev_frame.unsqueeze(2), x], dim=2)
        t = x.shape[2]
        first = int(prev_frame is not None)  # predictions start from x's own frame 0
        if burn_in_steps is None:
            starts = torch.arange(first, t - 1, pred_steps, device=x.device)
            return self.rollout(x, starts, pred_steps, edges)[:, :, : t - 1 - first]
        # one-step predictions while ground truth is fed, then one free-running tail
        start = first + burn_in_steps
        tail = self.rollout(x, torch.tensor([start], device=x.device), t - 1 - start, edges)
        if burn_in_steps == 0:
            return tail
        fed = self.rollout(x, torch.arange(first, start, device=x.device), 1, edges)
        return torch.cat([fed, tail], dim=2)

    def rollout(self, x: torch.Tensor, starts: torch.Tensor, steps: int, edges: torch.Tensor
                ) -> torch.Tensor:
        """``steps`` predictions from each ground-truth start frame, with the memory before it.

        Shapes:
            x: [B, N, T, D]; starts: [S] -> [B, N, S * steps, D], start s's step m at s * steps + m
        """
        b, n, _, d = x.shape
        memory = self.warm_memory(x, starts)
        state = x.index_select(2, starts)  # [B, N, S, D]
        preds = []
        for _ in range(steps):
            memory = self.remember(state, memory)
            state = maybe_checkpointed(self.single_step, self.checkpoint, state, memory, edges)
            preds.append(state)
        return torch.stack(preds, dim=3).reshape(b, n, -1, d)  # [B, N, S, M, D] -> [B, N, S*M, D]
