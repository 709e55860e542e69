"""Pictures of real-data samples with inferred edges: a motion skeleton and a basketball court.

Figures are drawn with the Agg canvas directly (no pyplot state), saved as PNG and returned so
callers can also log them, e.g. ``SummaryWriter.add_figure``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

MIN_DRAWN_PROB = 0.05  # thinner edges only clutter the picture
MAX_LINE_WIDTH = 4.0


def _new_figure(size: tuple[float, float]) -> tuple[Figure, object]:
    fig = Figure(figsize=size, dpi=100)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def _save(fig: Figure, path: str | os.PathLike) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")


def _draw_edges(ax, points: np.ndarray, edges_prob: np.ndarray | None, color: str) -> None:
    """One line per pair, width ∝ the larger of the two directed probabilities."""
    if edges_prob is None:
        return
    prob = np.asarray(edges_prob, dtype=np.float64)
    if prob.shape != (len(points), len(points)):
        raise ValueError(f"edges_prob must be [{len(points)}, {len(points)}], got {prob.shape}")
    sym = np.maximum(prob, prob.T)
    for i in range(len(points)):
        for j in range(i + 1, len(points)):
            if sym[i, j] >= MIN_DRAWN_PROB:
                ax.plot(
                    points[[i, j], 0],
                    points[[i, j], 1],
                    color=color,
                    alpha=0.7,
                    linewidth=MAX_LINE_WIDTH * float(sym[i, j]),
                    zorder=2,
                )


def plot_skeleton(
    loc: np.ndarray,
    edges_prob: np.ndarray | None,
    skeleton_adj: np.ndarray,
    path: str | os.PathLike,
    frame: int = 0,
    view: tuple[int, int] = (0, 1),
    title: str | None = None,
) -> Figure:
    """Draw one frame of a skeleton (grey bones) with inferred edges (red, width ∝ probability).

    ``view`` picks the coordinate axes shown horizontally and vertically (CMU data: y is up).

    Shapes:
        loc: [N, T, 3] (``frame`` is drawn) or [N, 3].
        edges_prob: [N, N] edge probabilities (row receiver, column sender) or None.
        skeleton_adj: [N, N] 0/1 bone adjacency.
    """
    loc = np.asarray(loc, dtype=np.float64)
    points = loc[:, frame] if loc.ndim == 3 else loc
    if points.ndim != 2 or points.shape[1] < 2:
        raise ValueError(f"loc must be [N, T, 3] or [N, 3], got {loc.shape}")
    points = points[:, list(view)]
    adj = np.asarray(skeleton_adj)
    fig, ax = _new_figure((5, 6))
    for i, j in zip(*np.nonzero(np.triu(adj + adj.T)), strict=True):
        ax.plot(points[[i, j], 0], points[[i, j], 1], color="0.55", linewidth=1.5, zorder=1)
    _draw_edges(ax, points, edges_prob, "tab:red")
    ax.scatter(points[:, 0], points[:, 1], s=12, color="black", zorder=3)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("xyz"[view[0]])
    ax.set_ylabel("xyz"[view[1]])
    ax.set_title(title or "skeleton (grey) and inferred edges (red)")
    _save(fig, path)
    return fig


def _draw_court(ax, length: float, width: float) -> None:
    """NBA court lines (94 × 50 ft), scaled to a court of ``length`` × ``width`` units."""
    scale = np.array([length / 94.0, width / 50.0])

    def line(points_ft) -> None:
        pts = np.asarray(points_ft, dtype=np.float64) * scale
        ax.plot(pts[:, 0], pts[:, 1], color="0.6", linewidth=1.0, zorder=0)

    def arc(center, radius, deg_from, deg_to) -> None:
        t = np.radians(np.linspace(deg_from, deg_to, 90))
        line(np.stack([center[0] + radius * np.cos(t), center[1] + radius * np.sin(t)], 1))

    line([(0, 0), (94, 0), (94, 50), (0, 50), (0, 0)])
    line([(47, 0), (47, 50)])
    arc((47, 25), 6.0, 0, 360)
    # three-point line: straight 14 ft from the baseline, 3 ft inside the sidelines, then an
    # arc of 23.75 ft around the hoop
    theta = np.degrees(np.arcsin(22.0 / 23.75))
    for base, hoop_x, side in ((0.0, 5.25, 1.0), (94.0, 88.75, -1.0)):
        key_end = base + side * 19.0
        line([(base, 17), (key_end, 17), (key_end, 33), (base, 33)])
        arc((hoop_x, 25), 0.75, 0, 360)
        for y in (3.0, 47.0):
            line([(base, y), (base + side * 14.0, y)])
        mid = 0.0 if side > 0 else 180.0
        arc((hoop_x, 25), 23.75, mid - theta, mid + theta)


def plot_court(
    loc: np.ndarray,
    edges_prob: np.ndarray | None,
    path: str | os.PathLike,
    court: tuple[float, float] = (1.0, 1.0),
    title: str | None = None,
) -> Figure:
    """Draw a full court, each object's track (dot at its last position) and inferred edges
    between the last positions (width ∝ probability).

    Objects 0–4 and 5–9 are drawn as the two teams, object 10 (if any) as the ball.
    ``court`` is the court's (length, width) in ``loc`` units: (1, 1) for the unit square,
    (94, 50) for feet.

    Shapes:
        loc: [N, T, 2] positions.
        edges_prob: [N, N] edge probabilities (row receiver, column sender) or None.
    """
    loc = np.asarray(loc, dtype=np.float64)
    if loc.ndim != 3 or loc.shape[2] != 2:
        raise ValueError(f"loc must be [N, T, 2], got {loc.shape}")
    colors = ["tab:red"] * 5 + ["tab:blue"] * 5 + ["tab:orange"]
    fig, ax = _new_figure((9, 5.2))
    _draw_court(ax, *court)
    last = loc[:, -1]
    _draw_edges(ax, last, edges_prob, "black")
    for n, track in enumerate(loc):
        color = colors[n] if n < len(colors) else "tab:gray"
        ax.plot(track[:, 0], track[:, 1], color=color, linewidth=1.0, alpha=0.6, zorder=1)
        ax.scatter(track[-1, 0], track[-1, 1], s=30, color=color, zorder=3)
        ax.annotate(str(n), track[-1], fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlim(-0.03 * court[0], 1.03 * court[0])
    ax.set_ylim(-0.03 * court[1], 1.03 * court[1])
    ax.set_aspect(50.0 * court[0] / (94.0 * court[1]))  # draw feet as feet on both axes
    ax.set_title(title or "tracks and inferred edges (black)")
    _save(fig, path)
    return fig
