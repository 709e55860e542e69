"""The ground-truth physics as a decoder ("NRI (sim.)"): only the encoder learns.

The springs and charged simulators of nri/data/sim/simulate.py, rewritten in differentiable torch
(no in-place updates of tensors autograd needs). Features are un-normalised with the training
constants, integrated, and normalised again. One decoder step goes from frame k to frame k+1 of
the data: ``substeps`` repetitions of (kick; drift; wall reflection), which is the generator's
loop seen from a saved frame (a frame is stored after a drift and reflection, before the kick).
With the defaults (``substeps = sample_freq``, ``dt`` = the generator's) a step reproduces the
simulator; the reference used 1 x 0.1 for springs (``decoder.substeps=1 decoder.dt=0.1``).

The edge weights z [B, E, K] enter the force as
- springs: spring constant k * z[..., 1] (type 1 = "spring");
- charged: q_i q_j = 2 z[..., 1] - 1 (type 1 = like charges = repulsion, the label (e+1)/2).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nri.data.normalization import invert_normalization
from nri.models.decoders import markov_rollout
from nri.models.graph import edge2node, edge_index

SYSTEMS = ("springs", "charged")


class SimulationDecoder(nn.Module):
    """Parameter-free decoder that integrates the true physics of the dataset.

    Shapes:
        x: [B, N, T, D=4] (x, y, vx, vy), scaled; edges: [B, E, K] -> [B, N, T-1, D]
    """

    recurrent = False

    def __init__(self, dataset: dict[str, Any], normalization: dict[str, Any] | None = None,
                 substeps: int | None = None, dt: float | None = None,
                 clip_force: bool = True):
        super().__init__()
        name = dataset["name"]
        if name not in SYSTEMS:
            raise ValueError(f"decoder=sim simulates {SYSTEMS}; dataset {name!r} has no simulator")
        physics = dataset["physics"]  # the generator's constants (conf/dataset/<name>.yaml)
        self.system = name
        self.dt = float(dt if dt is not None else physics["dt"])
        self.substeps = int(substeps if substeps is not None else dataset["sample_freq"])
        self.box_size = float(physics["box_size"])
        self.strength = float(physics["interaction_strength"])
        self.max_force = 0.1 / self.dt if clip_force else None  # the generator's clip, ±0.1/dt
        self.normalization = normalization

    def _check(self, x: torch.Tensor) -> None:
        norm = self.normalization
        if norm is None or norm.get("kind") != "locvel":
            raise ValueError("decoder=sim needs the datamodule's locvel normalization constants "
                             f"(loc_min/loc_max/vel_min/vel_max); got {norm!r}")
        if x.shape[-1] != 4:
            raise ValueError(f"decoder=sim integrates 2-D positions and velocities (D=4); got D={x.shape[-1]}")

    def _scale(self, phys: torch.Tensor) -> torch.Tensor:
        """Inverse of ``invert_normalization`` for locvel data (torch, differentiable)."""
        n = self.normalization
        lo = phys.new_tensor([n["loc_min"]] * 2 + [n["vel_min"]] * 2)
        hi = phys.new_tensor([n["loc_max"]] * 2 + [n["vel_max"]] * 2)
        span = torch.where(hi - lo > 0, hi - lo, torch.ones_like(hi))
        return (phys - lo) * (2.0 / span) - 1.0

    def forces(self, loc: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Total (clipped) force on every object.

        Shapes:
            loc: [B, N, S, 2]; weight: [B, E, 1, 1] -> [B, N, S, 2]
        """
        n = loc.shape[1]
        senders, receivers = edge_index(n, loc.device)
        diff = loc[:, receivers] - loc[:, senders]  # [B, E, S, 2]: x_i - x_j, i = receiver
        if self.system == "springs":
            pair = -self.strength * weight * diff
        else:
            dist2 = diff.pow(2).sum(-1, keepdim=True)  # [B, E, S, 1]
            pair = self.strength * weight * diff / (dist2 * dist2.sqrt())
        force = edge2node(pair, n)  # [B, N, S, 2], summed over senders
        if self.max_force is not None:
            force = force.clamp(-self.max_force, self.max_force)
        return force

    def _reflect(self, loc: torch.Tensor, vel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Elastic walls at ±box_size: mirror the position, point the velocity inward."""
        hit = loc.abs() > self.box_size
        side = torch.sign(loc)
        loc = torch.where(hit, 2 * self.box_size * side - loc, loc)
        vel = torch.where(hit, -side * vel.abs(), vel)
        return loc, vel

    def single_step(self, x: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
        """Advance every state by one data frame.

        Shapes: x [B, N, S, 4] scaled; edges [B, E, K] -> [B, N, S, 4] scaled
        """
        phys = invert_normalization(x, self.normalization)
        loc, vel = phys[..., :2], phys[..., 2:]
        z = edges[..., 1]
        weight = (z if self.system == "springs" else 2 * z - 1)[:, :, None, None]  # [B, E, 1, 1]
        for _ in range(self.substeps):
            vel = vel + self.dt * self.forces(loc, weight)
            loc = loc + self.dt * vel
            loc, vel = self._reflect(loc, vel)
        return self._scale(torch.cat([loc, vel], dim=-1))

    def forward(self, x: torch.Tensor, edges: torch.Tensor, pred_steps: int = 1,
                burn_in_steps: int | None = None) -> torch.Tensor:
        """Shapes: x [B, N, T, 4]; edges [B, E, K] -> [B, N, T-1, 4]"""
        if burn_in_steps is not None:
            raise ValueError("the simulation decoder is Markovian: it uses pred_steps, not burn_in_steps")
        self._check(x)
        return markov_rollout(lambda s: self.single_step(s, edges), x, pred_steps)
