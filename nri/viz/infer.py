"""Figures for ``nri.infer`` and ``nri.plot``: inferred graphs, probability matrices, trajectories
and learning curves.

Figures use the Agg canvas directly (no pyplot state); :func:`png_bytes` renders one so that the
callers can write every file only after all of them were made.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from nri.models.graph import edge_index

MIN_DRAWN = 0.05  # fainter edges only clutter the picture
# mean positions spread over less than this fraction of the trajectories' extent are noise (centred
# data: every object averages to the middle), and nodes closer than this fraction of the spread overlap
MIN_SPREAD = 0.1
MIN_SEPARATION = 0.05
MAX_WIDTH = 5.0
TYPE_COLORS = ("tab:blue", "tab:red", "tab:green", "tab:purple", "tab:orange", "tab:brown")


def new_figure(rows: int = 1, cols: int = 1, size: tuple[float, float] = (4.0, 4.0)):
    fig = Figure(figsize=(size[0] * cols, size[1] * rows), dpi=80, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    return fig, axes


def png_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def edge_matrix(values: np.ndarray, num_atoms: int) -> np.ndarray:
    """Edge values as an N x N matrix, entry [receiver, sender]; the diagonal is NaN.

    Shapes: values [E] -> [N, N]
    """
    senders, receivers = (t.numpy() for t in edge_index(num_atoms))
    mat = np.full((num_atoms, num_atoms), np.nan)
    mat[receivers, senders] = values
    return mat


def shown_types(num_types: int, skip_first: bool) -> list[int]:
    """The edge types worth drawing: all but type 0 ("no interaction") when ``skip_first``."""
    return list(range(1 if skip_first and num_types > 1 else 0, num_types))


def draw_graph(ax, prob: np.ndarray, positions: np.ndarray, objects: Sequence[str],
               skip_first: bool, title: str = "", axis_names: Sequence[str] | None = None) -> None:
    """Arrows sender -> receiver over the objects; width = probability of the most likely drawn type.

    Shapes: prob [E, K]; positions [N, 2]
    """
    n = len(positions)
    senders, receivers = (t.numpy() for t in edge_index(n))
    types = shown_types(prob.shape[1], skip_first)
    best = np.asarray(types)[prob[:, types].argmax(-1)]
    strength = prob[np.arange(len(prob)), best]
    span = np.ptp(positions, axis=0).max() or 1.0
    for e in np.argsort(strength):
        if strength[e] < MIN_DRAWN:
            continue
        ax.annotate("", xy=positions[receivers[e]], xytext=positions[senders[e]],
                    arrowprops={"arrowstyle": "-|>", "color": TYPE_COLORS[best[e] % len(TYPE_COLORS)],
                                "lw": MAX_WIDTH * float(strength[e]),
                                "alpha": 0.35 + 0.6 * float(strength[e]),
                                "shrinkA": 9, "shrinkB": 9, "connectionstyle": "arc3,rad=0.12"})
    ax.scatter(positions[:, 0], positions[:, 1], s=260, c="white", edgecolors="black", zorder=3)
    for i, name in enumerate(objects):
        ax.text(positions[i, 0], positions[i, 1], str(name), ha="center", va="center", fontsize=8,
                zorder=4)
    pad = 0.15 * span
    ax.set_xlim(positions[:, 0].min() - pad, positions[:, 0].max() + pad)
    ax.set_ylim(positions[:, 1].min() - pad, positions[:, 1].max() + pad)
    ax.set_aspect("equal", adjustable="box")
    handles = [ax.plot([], [], color=TYPE_COLORS[k % len(TYPE_COLORS)], lw=2)[0] for k in types]
    ax.legend(handles, [f"type {k}" for k in types], fontsize=7, loc="best")
    ax.set_title(title, fontsize=9)
    if axis_names is None:
        ax.set_axis_off()
    else:
        ax.set_xlabel(f"mean {axis_names[0]}")
        ax.set_ylabel(f"mean {axis_names[1]}")


def circle_positions(n: int) -> np.ndarray:
    """Shapes: -> [N, 2] points on the unit circle (for data without two spatial features)"""
    angle = 2 * np.pi * np.arange(n) / n
    return np.stack([np.cos(angle), np.sin(angle)], axis=1)


def positions_carry_structure(positions: np.ndarray, extent: float | None) -> bool:
    """Whether nodes drawn at ``positions`` show something: spread over at least ``MIN_SPREAD`` of
    the data's ``extent`` (when given) and no two closer than ``MIN_SEPARATION`` of that spread.

    Shapes: positions [N, 2]
    """
    spread = float(np.ptp(positions, axis=0).max()) if len(positions) > 1 else 0.0
    if spread <= 0 or (extent is not None and spread < MIN_SPREAD * extent):
        return False
    gaps = np.linalg.norm(positions[:, None] - positions[None], axis=-1)[np.triu_indices(len(positions), 1)]
    return bool(gaps.min() >= MIN_SEPARATION * spread)


def layout(positions: np.ndarray | None, extent: float | None) -> np.ndarray | None:
    """``positions`` where they carry structure, else None (the caller draws a circle)."""
    if positions is None or not positions_carry_structure(positions, extent):
        return None
    return positions


def graph_figure(prob: np.ndarray, positions: np.ndarray | None, objects: Sequence[str],
                 skip_first: bool, title: str, axis_names: Sequence[str] | None = None,
                 extent: float | None = None) -> Figure:
    """One graph drawn over the objects' positions, or on a circle when there are none or they
    carry no structure (see :func:`positions_carry_structure`; ``extent``: the data's spatial range).

    Shapes: prob [E, K]; positions [N, 2] or None
    """
    fig, axes = new_figure(size=(4.6, 4.6))
    positions = layout(positions, extent)
    pos = circle_positions(len(objects)) if positions is None else positions
    draw_graph(axes[0, 0], prob, pos, objects, skip_first, title,
               None if positions is None else axis_names)
    return fig


def graphs_figure(probs: np.ndarray, positions: np.ndarray | None, objects: Sequence[str],
                  skip_first: bool, titles: Sequence[str], axis_names: Sequence[str] | None = None,
                  extents: Sequence[float] | None = None) -> Figure:
    """Several samples' graphs side by side, each laid out as :func:`graph_figure` does.

    Shapes: probs [B, E, K]; positions [B, N, 2] or None; extents [B] or None
    """
    b = len(probs)
    fig, axes = new_figure(1, b, size=(3.6, 3.6))
    for i in range(b):
        own = layout(None if positions is None else positions[i],
                     None if extents is None else extents[i])
        pos = circle_positions(len(objects)) if own is None else own
        draw_graph(axes[0, i], probs[i], pos, objects, skip_first, titles[i],
                   None if own is None else axis_names)
    return fig


def prob_heatmap_figure(prob: np.ndarray, objects: Sequence[str], skip_first: bool,
                        labels: np.ndarray | None = None) -> Figure:
    """One [receiver, sender] matrix per drawn edge type, and the labels' matrix when given.

    Shapes: prob [E, K]; labels [E] or None
    """
    n = len(objects)
    types = shown_types(prob.shape[1], skip_first)
    panels = [(f"p(type {k})", edge_matrix(prob[:, k], n), 1.0) for k in types]
    if labels is not None:
        panels.append(("label type", edge_matrix(labels.astype(float), n), max(1, prob.shape[1] - 1)))
    fig, axes = new_figure(1, len(panels), size=(3.4, 3.2))
    ticks = np.arange(n)
    for ax, (title, mat, vmax) in zip(axes[0], panels, strict=True):
        im = ax.imshow(mat, vmin=0, vmax=vmax, cmap="viridis")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("sender")
        ax.set_ylabel("receiver")
        if n <= 20:
            ax.set_xticks(ticks, [str(o) for o in objects], fontsize=7, rotation=90)
            ax.set_yticks(ticks, [str(o) for o in objects], fontsize=7)
        fig.colorbar(im, ax=ax, shrink=0.8)
    if skip_first:
        fig.suptitle("type 0 = no interaction (not shown)", fontsize=8)
    return fig


def trajectories_figure(true: np.ndarray, pred: np.ndarray, start: int,
                        feature_names: Sequence[str], titles: Sequence[str]) -> Figure:
    """True trajectories (solid) and the forecast from frame ``start`` on (dashed), per sample.

    Two or more features are drawn as paths in the plane of the first two; one feature over time.

    Shapes: true [B, N, T, D]; pred [B, N, H, D], forecasting frames start … start + H - 1
    """
    b, n, t, d = true.shape
    h = pred.shape[2]
    fig, axes = new_figure(1, b, size=(3.8, 3.6))
    for i in range(b):
        ax = axes[0, i]
        for o in range(n):
            color = f"C{o % 10}"
            path = np.concatenate([true[i, o, start - 1: start], pred[i, o]], axis=0) if start > 0 \
                else pred[i, o]
            if d >= 2:
                ax.plot(true[i, o, :, 0], true[i, o, :, 1], color=color, lw=1, alpha=0.8)
                ax.plot(path[:, 0], path[:, 1], color=color, lw=1.5, ls="--")
                ax.plot(*true[i, o, 0, :2], "o", color=color, ms=3)
            else:
                ax.plot(np.arange(t), true[i, o, :, 0], color=color, lw=1, alpha=0.8)
                ax.plot(np.arange(start - (start > 0), start + h), path[:, 0], color=color, ls="--")
        ax.set_title(titles[i], fontsize=9)
        ax.set_xlabel(feature_names[0] if d >= 2 else "frame")
        ax.set_ylabel(feature_names[1] if d >= 2 else feature_names[0])
    fig.suptitle("solid: data, dashed: forecast", fontsize=8)
    return fig


SCALE_RATIO = 10.0  # splits whose typical values differ by more than this get their own y axis


def split_axes(ax, series: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, object]:
    """The axis each split is drawn on: one shared axis, or a right-hand twin for a split whose
    values are more than ``SCALE_RATIO`` times larger or smaller than the first split's.

    Shapes: series[split] = (epochs [M], values [M])
    """
    scale = {split: float(np.median(np.abs(y))) for split, (_, y) in series.items()}
    first = next(iter(series))
    axes, twin = {}, None
    for split in series:
        lo, hi = sorted((scale[first], scale[split]))
        if split != first and (lo == 0 or hi / lo > SCALE_RATIO) and hi > 0:
            twin = twin or ax.twinx()
            axes[split] = twin
        else:
            axes[split] = ax
    return axes


def learning_curves_figure(curves: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]]
                           ) -> Figure:
    """One panel per quantity (loss, nll, …), one line per split, over epochs; a split on another
    scale (the training loss sums a multi-step forecast, validation scores one step) gets its
    own right-hand axis, labelled with the split.

    Shapes: curves[quantity][split] = (epochs [M], values [M])
    """
    names = list(curves)
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = new_figure(rows, cols, size=(3.8, 3.0))
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    for ax, name in zip(axes.flat, names, strict=False):
        series = curves[name]
        placed = split_axes(ax, series)
        log_scale = name in ("loss", "nll") and all((y > 0).all() for _, y in series.values())
        lines = []
        for i, (split, (x, y)) in enumerate(series.items()):
            target = placed[split]
            lines += target.plot(x, y, color=f"C{i}", marker="." if len(x) < 30 else None, label=split)
            if log_scale:
                target.set_yscale("log")
            if target is not ax:
                target.set_ylabel(split, color=f"C{i}", fontsize=8)
                target.tick_params(axis="y", which="both", labelcolor=f"C{i}", labelsize=7)
        if len(set(map(id, placed.values()))) > 1:
            ax.set_ylabel(next(iter(series)), color="C0", fontsize=8)
            ax.tick_params(axis="y", which="both", labelcolor="C0")
        ax.tick_params(which="both", labelsize=7)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.legend(lines, [line.get_label() for line in lines], fontsize=7)
    return fig


def graph_comparison_figure(score: np.ndarray, labels: np.ndarray | None, num_atoms: int,
                            score_title: str) -> Figure:
    """Per sample (column): an inferred edge score in [0, 1] above the true graph (label > 0).

    Shapes: score [B, E]; labels [B, E] or None
    """
    b = len(score)
    rows = [("inferred", score)] + ([("true", (labels > 0).astype(float))] if labels is not None else [])
    fig, axes = new_figure(len(rows), b, size=(2.8, 2.6))
    for r, (name, values) in enumerate(rows):
        for i in range(b):
            ax = axes[r, i]
            im = ax.imshow(edge_matrix(values[i], num_atoms), vmin=0, vmax=1, cmap="viridis")
            ax.set_title(f"sample {i}: {name}", fontsize=8)
            ax.set_xlabel("sender", fontsize=8)
            ax.set_ylabel("receiver", fontsize=8)
    fig.colorbar(im, ax=axes, shrink=0.7)
    fig.suptitle(f"inferred: {score_title}", fontsize=8)
    return fig
