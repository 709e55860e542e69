"""Figures: inferred versus true graph."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from nri.models.graph import edges_to_adjacency  # noqa: E402


def edge_heatmap_figure(prob: torch.Tensor, labels: torch.Tensor | None, num_atoms: int):
    """Probability of an interaction (1 - p(type 0)) per ordered pair, beside the true graph.

    Shapes: prob [E, K]; labels [E] or None
    """
    interact = 1.0 - prob[:, 0] if prob.shape[-1] > 1 else prob[:, 0]
    mat = edges_to_adjacency(interact[None].float(), num_atoms)[0].numpy()
    panels = [("inferred p(edge)", mat)]
    if labels is not None:
        panels.append(("true graph", edges_to_adjacency(labels[None].float(), num_atoms)[0].numpy()))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3))
    axes = [axes] if len(panels) == 1 else axes
    for ax, (title, m) in zip(axes, panels, strict=True):
        im = ax.imshow(m, vmin=0, vmax=1, cmap="viridis")
        ax.set_title(title)
        ax.set_xlabel("sender")
        ax.set_ylabel("receiver")
    fig.colorbar(im, ax=axes, shrink=0.8)
    return fig
