"""What a run shows a person: the composed config as a tree, one line per validation epoch, the
final metrics as a table, and the record of which data a run read (for ``metrics.json``)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytorch_lightning.utilities import rank_zero_only

# the order in which a table lists a split's metrics; others follow alphabetically, lists are left out
EDGE_METRICS = ("edge_acc", "edge_acc_perm", "auroc", "auprc", "f1", "candidate_recall")
LOSS_METRICS = ("loss", "nll", "kl", "ce", "mse")
HORIZON = re.compile(r"(.*?)mse_(\d+)$")
KEY_HORIZONS = (1, 10, 20)  # the forecast horizons a table shows (and each series' last); all are in metrics.json
# the validation epoch line: metric name -> short label
EPOCH_LINE = {"train/loss_epoch": "loss", "val/loss": "val_loss", "val/nll": "val_nll",
              "val/mse": "val_mse", "val/ce": "val_ce", "val/edge_acc": "edge_acc",
              "val/auroc": "auroc"}
SPLIT_SIZES = ("train", "valid", "test")

log = logging.getLogger("nri")


def config_tree(cfg: Any, indent: str = "") -> str:
    """A nested config as an indented tree, one ``key: value`` per leaf (``hydra`` left out)."""
    lines = []
    items = [(k, v) for k, v in cfg.items() if k != "hydra"]
    for i, (key, value) in enumerate(items):
        last = i == len(items) - 1
        branch, follow = ("└─ ", "   ") if last else ("├─ ", "│  ")
        if isinstance(value, Mapping) and value:
            lines.append(f"{indent}{branch}{key}")
            lines.append(config_tree(value, indent + follow))
        else:
            lines.append(f"{indent}{branch}{key}: {value}")
    return "\n".join(line for line in lines if line)


def config_choices(choices: Mapping[str, Any]) -> str:
    """Hydra's group choices as ``dataset=springs encoder=mlp …`` (Hydra's own groups left out)."""
    return " ".join(f"{group}={choice}" for group, choice in choices.items()
                    if choice is not None and not group.startswith("hydra"))


def metric_order(name: str) -> tuple:
    """Sort key: by split, then edge metrics, losses, forecast MSE by horizon, then the rest."""
    split, _, quantity = name.rpartition("/")
    if quantity in EDGE_METRICS:
        return split, 0, EDGE_METRICS.index(quantity), ""
    if quantity in LOSS_METRICS:
        return split, 1, LOSS_METRICS.index(quantity), ""
    horizon = HORIZON.fullmatch(quantity)
    if horizon:
        return split, 2, int(horizon.group(2)), horizon.group(1)
    return split, 3, 0, quantity


def shown_horizon(name: str, names: list[str]) -> bool:
    """Whether a table shows ``name``: any non-horizon metric, a key horizon, or a series' last."""
    match = HORIZON.fullmatch(name)
    if match is None:
        return True
    series, h = match.group(1), int(match.group(2))
    last = max(int(m.group(2)) for m in map(HORIZON.fullmatch, names) if m and m.group(1) == series)
    return h in KEY_HORIZONS or h == last


def metrics_table(results: Mapping[str, Any], prefix: str = "test/") -> str:
    """The numeric ``prefix…`` metrics as a two-column table, in :func:`metric_order`."""
    rows = [(k[len(prefix):], float(v)) for k, v in results.items()
            if k.startswith(prefix) and isinstance(v, int | float) and not isinstance(v, bool)]
    if not rows:
        return f"no {prefix.rstrip('/')} metrics"
    rows = [row for row in rows if shown_horizon(row[0], [name for name, _ in rows])]
    rows.sort(key=lambda row: metric_order(row[0]))
    label = f"{prefix.rstrip('/')} metric"
    width = max(len(label), *(len(name) for name, _ in rows))
    head = f"{label:<{width}}  value"
    lines = [head, "-" * (width + 12)]
    lines += [f"{name:<{width}}  {value:.6g}" for name, value in rows]
    return "\n".join(lines)


def epoch_line(epoch: int, epochs: int | None, step: int, metrics: Mapping[str, Any]) -> str:
    """``epoch 3/30 step 120 | loss 1.23 | val_nll 0.0456 | edge_acc 0.912`` from the logged
    metrics (``epochs``: the planned number, None or -1 when training stops by steps or time)."""
    of = f"/{epochs}" if epochs is not None and epochs > 0 else ""
    parts = [f"epoch {epoch}{of} step {step}"]
    for key, label in EPOCH_LINE.items():
        if key in metrics:
            parts.append(f"{label} {float(metrics[key]):.4g}")
    return " | ".join(parts)


def data_record(datamodule: Any) -> dict[str, Any]:
    """Which data a run read: the folder, the samples per split actually used, the dataset's metadata.

    The metadata is the ``metadata{suffix}.json`` that ``nri.generate`` (or the custom-data
    preparation) writes next to the arrays; ``None`` where there is none or it cannot be read.
    ``datamodule`` is an :class:`~nri.data.datamodule.NRIDataModule` whose splits are loaded.
    """
    data_dir = Path(datamodule.data_dir)
    meta_path = data_dir / f"metadata{datamodule.ds['suffix']}.json"
    try:
        metadata = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        metadata = None
    sizes = {split: len(datamodule.splits[split]) for split in SPLIT_SIZES if split in datamodule.splits}
    return {"data_dir": str(data_dir), "split_sizes": sizes,
            "metadata_file": str(meta_path) if metadata is not None else None, "metadata": metadata}


@rank_zero_only
def announce(cfg: Any, datamodule: Any, out_dir: Path) -> None:
    """At the start of a run: log the config choices and the data; write ``config_tree.txt``."""
    from hydra.core.hydra_config import HydraConfig

    from nri.atomic import atomic_write_text
    from nri.plain import plain

    resolved = {key: plain(value) for key, value in cfg.items() if key != "hydra"}
    atomic_write_text(out_dir / "config_tree.txt", config_tree(resolved) + "\n")
    if HydraConfig.initialized():
        log.info("config: %s", config_choices(HydraConfig.get().runtime.choices))
    log.info("config tree: %s", out_dir / "config_tree.txt")
    record = data_record(datamodule)
    sizes = ", ".join(f"{split} {n}" for split, n in record["split_sizes"].items())
    log.info("data: %s (%s samples)", record["data_dir"], sizes)


@rank_zero_only
def show_results(results: Mapping[str, Any], split: str, out_dir: Path) -> None:
    """At the end of a run: the ``split`` metrics as a table, and where they are recorded."""
    log.info("%s\n%s", f"{split} results ({out_dir / 'metrics.json'}):", metrics_table(results, f"{split}/"))
