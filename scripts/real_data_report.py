"""Table and plot of forecast MSE vs horizon for the real-data comparisons (motion, sports).

    python scripts/real_data_report.py                      # every dataset under outputs/real/
    python scripts/real_data_report.py --dataset motion --runs outputs/real --out outputs/real

Every ``metrics.json`` under ``<runs>/<dataset>/`` is one job of ``experiment=<dataset>_compare``;
its row comes from ``row`` in the job's ``.hydra/config.yaml``. NRI (learned) jobs that ran the
``DynamicGraphTest`` callback also give the rows "dynamic graph" (``test/dynamic_<source>/mse``).
Seeds are averaged (mean ± std when there are several). Writes ``<out>/<dataset>_mse.md`` (MSE at
the chosen horizons, in normalised units) and ``<out>/<dataset>_mse.png`` (MSE vs horizon).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from collections import defaultdict
from pathlib import Path

import yaml

HORIZONS = {"motion": (1, 10, 20, 30, 40), "sports": (1, 5, 9)}
ORDER = ("static", "lstm_single", "lstm_joint", "nri_full_graph", "nri_true_graph", "nri_learned",
         "nri_learned_dynamic_truth", "nri_learned_dynamic_predictions")
NAMES = {"nri_learned": "NRI (learned, static graph)",
         "nri_learned_dynamic_truth": "NRI (learned, dynamic graph: window of truth)",
         "nri_learned_dynamic_predictions": "NRI (learned, dynamic graph: window of predictions)"}
DATASET_NAMES = {("motion", "nri_true_graph"): "NRI (skeleton graph)"}
DYNAMIC = ("truth", "predictions")


def _job_row(path: Path, payload: dict) -> dict | None:
    row = payload.get("row")
    config = path.parent / ".hydra" / "config.yaml"
    if row is None and config.exists():
        row = (yaml.safe_load(config.read_text()) or {}).get("row")
    if not row:
        return None
    return row if isinstance(row, dict) else {"id": str(row), "name": str(row)}


def read_runs(runs: Path, dataset: str) -> list[dict]:
    """One record per (job, curve): row id and name, seed, the MSE list and the job's facts."""
    records = []
    for path in sorted((runs / dataset).rglob("metrics.json")):
        payload = json.loads(path.read_text())
        if (payload.get("dataset") or {}).get("name", dataset) != dataset:
            continue
        row = _job_row(path, payload)
        m = payload.get("metrics") or {}
        if row is None or not m.get("test/mse"):
            continue
        facts = {"seed": payload.get("seed"), "epochs": m.get("epochs"),
                 "train_time_s": m.get("train_time_s"), "path": path}
        name = DATASET_NAMES.get((dataset, row["id"]), NAMES.get(row["id"], row.get("name", row["id"])))
        records.append({**facts, "row": row["id"], "name": name, "mse": list(m["test/mse"])})
        for source in DYNAMIC:
            mse = m.get(f"test/dynamic_{source}/mse")
            if mse:
                rid = f"{row['id']}_dynamic_{source}"
                records.append({**facts, "row": rid, "name": NAMES.get(rid, rid), "mse": list(mse)})
    return records


def aggregate(records: list[dict]) -> list[dict]:
    """Rows in table order; per horizon the mean and std over seeds."""
    by_row: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_row[r["row"]].append(r)
    rank = {rid: i for i, rid in enumerate(ORDER)}
    out = []
    for rid in sorted(by_row, key=lambda k: (rank.get(k, len(rank)), k)):
        runs = by_row[rid]
        length = min(len(r["mse"]) for r in runs)
        per_h = [[r["mse"][h] for r in runs] for h in range(length)]
        out.append({"row": rid, "name": runs[0]["name"], "seeds": len(runs),
                    "mean": [statistics.fmean(v) for v in per_h],
                    "std": [statistics.pstdev(v) if len(v) > 1 else 0.0 for v in per_h],
                    "epochs": runs[0]["epochs"],
                    "train_time_s": statistics.fmean(r["train_time_s"] or 0.0 for r in runs)})
    return out


def _fmt(mean: float, std: float, seeds: int) -> str:
    if not math.isfinite(mean):
        return "—"
    return f"{mean:.3e}" + (f" ± {std:.1e}" if seeds > 1 else "")


def markdown(rows: list[dict], horizons: tuple[int, ...]) -> str:
    """MSE at ``horizons`` per row, the best value of each column in bold."""
    head = ["Model"] + [f"MSE @ {h}" for h in horizons] + ["epochs", "train time (s)"]
    best = {h: min((r["mean"][h - 1] for r in rows if len(r["mean"]) >= h), default=None)
            for h in horizons}
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" + "---:|" * (len(head) - 1)]
    for r in rows:
        cells = [r["name"]]
        for h in horizons:
            if len(r["mean"]) < h:
                cells.append("—")
                continue
            text = _fmt(r["mean"][h - 1], r["std"][h - 1], r["seeds"])
            cells.append(f"**{text}**" if r["mean"][h - 1] == best[h] else text)
        trained = r["epochs"] and r["train_time_s"]
        cells += [str(r["epochs"]) if trained else "—", f"{r['train_time_s']:.0f}" if trained else "—"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], dataset: str, path: Path) -> None:
    """MSE vs horizon, one line per row, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in rows:
        steps = range(1, len(r["mean"]) + 1)
        style = "--" if "dynamic" in r["row"] else "-"
        ax.plot(steps, r["mean"], style, marker="o", markersize=2.5, label=r["name"])
    ax.set_yscale("log")
    ax.set_xlabel("prediction step")
    ax.set_ylabel("MSE (normalised units)")
    ax.set_title(f"{dataset}: test MSE vs horizon")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(runs: Path, out: Path, dataset: str) -> list[dict] | None:
    rows = aggregate(read_runs(runs, dataset))
    if not rows:
        print(f"{dataset}: no finished runs under {runs / dataset}")
        return None
    length = max(len(r["mean"]) for r in rows)
    horizons = tuple(h for h in HORIZONS.get(dataset, range(1, length + 1)) if h <= length)
    table = markdown(rows, horizons)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{dataset}_mse.md").write_text(table)
    plot(rows, dataset, out / f"{dataset}_mse.png")
    print(f"{dataset}: {out / f'{dataset}_mse.md'}, {out / f'{dataset}_mse.png'}\n{table}")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("outputs/real"))
    parser.add_argument("--out", type=Path, default=None, help="default: --runs")
    parser.add_argument("--dataset", nargs="*", default=None,
                        help="datasets to report (default: every folder under --runs)")
    args = parser.parse_args(argv)
    datasets = args.dataset or sorted(p.name for p in args.runs.iterdir() if p.is_dir())
    for dataset in datasets:
        report(args.runs, args.out or args.runs, dataset)


if __name__ == "__main__":
    main()
