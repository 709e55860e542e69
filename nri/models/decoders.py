"""Decoders: the next state of every object, given the current states and the edge types.

Every decoder has the same call: ``decoder(x, edges, pred_steps, burn_in_steps=None)`` with
x [B, N, T, D] and edges [B, E, K] (soft or hard samples), returning predictions of frames
1..T-1, i.e. [B, N, T-1, D]. Ground truth is re-fed every ``pred_steps`` frames, or, when
``burn_in_steps`` is given, for the first ``burn_in_steps + 1`` inputs and never after.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from nri.models.graph import CandidateEdges, edge2node, edge_index, node2edge
from nri.models.messages import TypedMessages

GraphFn = Callable[[int, torch.Tensor], torch.Tensor]


def maybe_checkpointed(fn: Callable[..., torch.Tensor], enabled: bool, *args: torch.Tensor):
    """``fn(*args)``; with ``enabled`` and grad on, its activations are recomputed in backward.

    Checkpointing one decoder step keeps only the step's inputs for the backward pass instead of
    every intermediate (the per-edge messages dominate): less memory for one more forward pass.
    """
    if enabled and torch.is_grad_enabled():
        return checkpoint(fn, *args, use_reentrant=False)
    return fn(*args)


def readout(in_dims: int, hidden: int, out_dims: int, dropout: float) -> nn.Sequential:
    """The decoders' per-node output MLP: two ReLU hidden layers with dropout, then linear.

    Shapes:
        [..., in_dims] -> [..., out_dims]
    """
    return nn.Sequential(
        nn.Linear(in_dims, hidden), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(hidden, out_dims),
    )


def markov_rollout(step: Callable[..., torch.Tensor], x: torch.Tensor, pred_steps: int,
                   with_previous: bool = False, first_prev: torch.Tensor | None = None) -> torch.Tensor:
    """Roll a one-step model forward from every ``pred_steps``-th ground-truth frame.

    With ``with_previous`` the step also gets the frame before each input: ``step(state, prev)``,
    the ground truth before a start point and the previous input after it; before frame 0,
    ``first_prev`` (the frame before x, when x is a window of a longer trajectory) or else frame 0
    itself (no change).

    Shapes:
        x: [B, N, T, D]; first_prev: [B, N, D]; step: [B, N, S, D] (, [B, N, S, D]) -> [B, N, S, D]
        -> predictions [B, N, T-1, D]
    """
    b, n, t, d = x.shape
    state = x[:, :, 0::pred_steps]  # [B, N, S, D] start points, S = ceil(T / M)
    prev = None
    if with_previous:
        before = x[:, :, pred_steps - 1::pred_steps][:, :, : state.shape[2] - 1]
        first = x[:, :, :1] if first_prev is None else first_prev.unsqueeze(2)
        prev = torch.cat([first, before], dim=2)
    preds = []
    for _ in range(pred_steps):
        new = step(state, prev) if with_previous else step(state)
        prev, state = state, new
        preds.append(state)
    out = torch.stack(preds, dim=3)  # [B, N, S, M, D]: start s, step m predicts frame s*M + m + 1
    return out.reshape(b, n, -1, d)[:, :, : t - 1]


class MLPDecoder(nn.Module):
    """Markovian GNN decoder: typed edge messages, summed at the receiver, residual update.

    ``delta_inputs`` (feature indices) also feeds each object's change of those features since
    the previous frame, for states that do not determine their own next value: Kuramoto's sin φ
    leaves the sign of cos φ open, which its change since the last frame gives (feed only such
    features: the change of a graph-driven feature lets the decoder extrapolate it without the
    graph). With ``candidates`` the messages run on those edges only (edges then [B, N*k, K]).

    Shapes:
        x: [B, N, T, D]; edges: [B, E, K] -> [B, N, T-1, D]
    """

    recurrent = False  # Markovian: each step reads only the frame before it

    def __init__(self, dims: int, edge_types: int, hidden: int, dropout: float = 0.0,
                 skip_first: bool = False, msg_hidden: int | None = None,
                 checkpoint: bool = False, delta_inputs: list[int] | None = None):
        super().__init__()
        msg_hidden = msg_hidden or hidden
        self.skip_first = skip_first
        self.checkpoint = checkpoint
        self.delta_inputs = [int(i) for i in (delta_inputs or [])]
        bad = [i for i in self.delta_inputs if not 0 <= i < dims]
        if bad:
            raise ValueError(f"decoder.delta_inputs {bad} are not feature indices of a "
                             f"{dims}-feature dataset; give indices in [0, {dims - 1}]")
        in_dims = dims + len(self.delta_inputs)
        self.messages = TypedMessages(2 * in_dims, msg_hidden, msg_hidden,
                                      edge_types - int(skip_first), "relu", dropout)
        self.out = readout(in_dims + msg_hidden, hidden, dims, dropout)

    def single_step(self, x: torch.Tensor, edges: torch.Tensor, prev: torch.Tensor | None = None,
                    candidates: CandidateEdges | None = None) -> torch.Tensor:
        """Shapes: x [B, N, S, D]; edges [B, E, K]; prev (with delta_inputs) [B, N, S, D] -> [B, N, S, D]"""
        n = x.shape[1]
        weights = edges[..., int(self.skip_first):]
        inp = x
        if self.delta_inputs:
            if prev is None:
                raise ValueError("a decoder with delta_inputs needs the previous frame (prev)")
            inp = torch.cat([x, (x - prev)[..., self.delta_inputs]], dim=-1)
        # the input has only a few features, so forming edge features first is cheaper than from_nodes
        if candidates is None:
            senders, receivers = edge_index(n, x.device)
            msg = self.messages(node2edge(inp, senders, receivers), weights)  # [B, E, S, H]
            agg = edge2node(msg, n)  # [B, N, S, H], summed
        else:
            agg = candidates.edge2node(self.messages(candidates.node2edge(inp), weights))
        return x + self.out(torch.cat([inp, agg], dim=-1))

    def forward(self, x: torch.Tensor, edges: torch.Tensor, pred_steps: int = 1,
                burn_in_steps: int | None = None, prev_frame: torch.Tensor | None = None,
                candidates: CandidateEdges | None = None) -> torch.Tensor:
        """``prev_frame`` [B, N, D]: the frame before x's first (used with delta_inputs only)."""
        if burn_in_steps is not None:
            # Markovian: from the last ground-truth input the roll-out is a plain multi-step one.
            raise ValueError("the MLP decoder uses pred_steps, not burn_in_steps")
        if self.delta_inputs:
            return markov_rollout(
                lambda s, p: maybe_checkpointed(self.single_step, self.checkpoint, s, edges, p,
                                                candidates),
                x, pred_steps, with_previous=True, first_prev=prev_frame)
        return markov_rollout(
            lambda s: maybe_checkpointed(self.single_step, self.checkpoint, s, edges, None,
                                         candidates),
            x, pred_steps)


class RNNDecoder(nn.Module):
    """Non-Markovian GNN decoder: messages between GRU hidden states (the reference's RNNDecoder).

    Aggregated messages are divided by D, the feature count, as the reference does; it is a
    constant scale the network absorbs.

    Shapes:
        x: [B, N, T, D]; edges: [B, E, K] -> [B, N, T-1, D]
    """

    recurrent = True  # takes the burn-in path: fed truth for burn_in steps, then its own output

    def __init__(self, dims: int, edge_types: int, hidden: int, dropout: float = 0.0,
                 skip_first: bool = False, checkpoint: bool = False):
        super().__init__()
        self.skip_first = skip_first
        self.checkpoint = checkpoint
        self.hidden = hidden
        self.dims = dims
        num_msg_types = edge_types - int(skip_first)
        self.messages = TypedMessages(2 * hidden, hidden, hidden, num_msg_types, "tanh", dropout)
        self.msg_norm = float(num_msg_types)
        # the three gates' input and message projections, each fused into one matmul: [r | i | n]
        self.message_gates = nn.Linear(hidden, 3 * hidden, bias=False)
        self.input_gates = nn.Linear(dims, 3 * hidden)
        self.out = readout(hidden, hidden, dims, dropout)

    def init_hidden(self, x: torch.Tensor) -> torch.Tensor:
        """Shapes: x [B, N, T, D] -> hidden [B, N, H] (zeros)"""
        return x.new_zeros(x.shape[0], x.shape[1], self.hidden)

    def step(self, ins: torch.Tensor, hidden: torch.Tensor, edges: torch.Tensor,
             candidates: CandidateEdges | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One GRU-style step (on ``candidates``' edges when given, edges then [B, N*k, K]).

        Shapes:
            ins: [B, N, D]; hidden: [B, N, H]; edges: [B, E, K] -> (pred [B, N, D], hidden [B, N, H])
        """
        n = ins.shape[1]
        weights = edges[..., int(self.skip_first):]
        if candidates is None:
            senders, receivers = edge_index(n, ins.device)
            msg = self.messages.from_nodes(hidden, senders, receivers, weights) / self.msg_norm
            agg = edge2node(msg, n) / self.dims  # [B, N, H]
        else:
            msg = self.messages.from_nodes(hidden, candidates.senders, candidates.receivers,
                                           weights) / self.msg_norm
            agg = candidates.edge2node(msg) / self.dims  # [B, N, H]
        in_r, in_i, in_n = self.input_gates(ins).chunk(3, dim=-1)
        msg_r, msg_i, msg_n = self.message_gates(agg).chunk(3, dim=-1)
        r = torch.sigmoid(in_r + msg_r)
        i = torch.sigmoid(in_i + msg_i)
        cand = torch.tanh(in_n + r * msg_n)
        hidden = (1 - i) * cand + i * hidden
        return ins + self.out(hidden), hidden

    def forward(self, x: torch.Tensor, edges: torch.Tensor, pred_steps: int = 1,
                burn_in_steps: int | None = None, graph_fn: GraphFn | None = None,
                candidates: CandidateEdges | None = None) -> torch.Tensor:
        """Run over the whole sequence (on ``candidates``' edges when given).

        ``graph_fn(step, history)`` (optional) returns new edges [B, E, K] before each step after
        the burn-in, given the inputs fed so far (history [B, N, step, D]): the dynamic graph.
        """
        t = x.shape[2]
        hidden = self.init_hidden(x)
        preds: list[torch.Tensor] = []
        inputs: list[torch.Tensor] = []
        for s in range(t - 1):
            if burn_in_steps is not None:
                use_truth = s <= burn_in_steps
            else:
                use_truth = s % pred_steps == 0
            ins = x[:, :, s] if use_truth else preds[-1]
            inputs.append(ins)
            if graph_fn is not None and burn_in_steps is not None and s > burn_in_steps:
                edges = graph_fn(s, torch.stack(inputs[:-1], dim=2))
            pred, hidden = maybe_checkpointed(self.step, self.checkpoint, ins, hidden, edges,
                                              candidates)
            preds.append(pred)
        return torch.stack(preds, dim=2)  # [B, N, T-1, D]
