"""Time per training epoch and peak RSS against the number of objects N, on candidate edges and
(where it fits) on all pairs, at a fixed mean degree and a fixed number of simulated object-steps.

    python scripts/scale_many_objects.py                              # N = 25 … 1000, small sizes
    python scripts/scale_many_objects.py --atoms 25 50 100 --all-pairs-up-to 100 --out DIR

For every N, in fresh processes: ``nri.generate`` writes springs on the knn graph family with mean
degree 3 and ``--object-sims / N`` training simulations (so S N is the same for every N), then
``nri.train`` runs ``--epochs`` epochs with k = ``--k`` nearest-by-trajectory candidates (and once
with all pairs for N up to ``--all-pairs-up-to``) at batches of about ``--batch-objects`` objects,
then the test. One markdown row per run: seconds per epoch (train + validation, from metrics.json's
``train_time_s``), the training process's peak RSS (``/usr/bin/time``), edges per sample, test
AUROC; and the slope of log(time per epoch) against log N for each path. The rows go to
``--out``/scaling.json; ``--plot PNG`` draws them (``--from-json`` redraws a saved run).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]


def _run(cmd: list[str]) -> tuple[str, float]:
    """Run ``cmd`` under /usr/bin/time -v; returns its output and its peak RSS in MB."""
    out = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True,
                         cwd=_ROOT, env={**os.environ, "HYDRA_FULL_ERROR": "1"})
    if out.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
    return out.stdout, rss_kb / 1024


def _dataset_args(n: int, args) -> list[str]:
    sims = max(2, args.object_sims // n)
    return [f"dataset.num_atoms={n}", "dataset.graph=knn", "dataset.mean_degree=3.0",
            f"dataset.suffix=_springs{n}_knn_scale", f"dataset.num_train={sims}",
            f"dataset.num_valid={max(1, sims // 4)}", f"dataset.num_test={max(1, sims // 4)}",
            f"dataset.length={args.length}", f"dataset.length_test={args.length_test}",
            f"dataset.train_steps={args.length // 100 - 1}",
            f"dataset.test_burn_in={args.length // 100 - 1}", "dataset.test_horizon=5"]


def one_run(n: int, candidates: str, args) -> dict:
    data_dir = Path(args.out) / "data"
    dataset = _dataset_args(n, args)
    _run([sys.executable, "-m", "nri.generate", *dataset, f"paths.data_dir={data_dir}",
          f"hydra.run.dir={Path(args.out) / 'generate' / str(n)}"])
    run_dir = Path(args.out) / "train" / f"{n}_{candidates}"
    batch = max(1, args.batch_objects // n)
    chosen = (["model.candidates=knn", f"model.candidate_k={min(args.k, n - 1)}"]
              if candidates == "knn" else ["model.candidates=all"])
    _, rss = _run([sys.executable, "-m", "nri.train", *dataset, *chosen,
                   f"paths.data_dir={data_dir}", f"hydra.run.dir={run_dir}",
                   f"trainer.max_epochs={args.epochs}", f"datamodule.batch_size={batch}",
                   f"datamodule.eval_batch_size={batch}", f"encoder.hidden={args.hidden}",
                   f"decoder.hidden={args.hidden}", f"threads={args.threads}",
                   "trainer.enable_progress_bar=false", "callbacks.edge_heatmap=null"])
    metrics = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    edges = n * (n - 1) if candidates == "all" else n * min(args.k, n - 1)
    return {"n": n, "candidates": candidates, "edges": edges, "rss_mb": rss,
            "epoch_s": metrics["train_time_s"] / max(1, metrics["epochs"]),
            "auroc": metrics.get("test/auroc", float("nan"))}


def slope(rows: list[dict]) -> float:
    """Least-squares slope of log(seconds per epoch) against log N."""
    xs = [math.log(r["n"]) for r in rows]
    ys = [math.log(r["epoch_s"]) for r in rows]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / \
        max(sum((x - mx) ** 2 for x in xs), 1e-12)


def plot(rows: list[dict], path: str, label: dict[str, str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for path_kind, marker in (("knn", "o-"), ("all", "s--")):
        chosen = [r for r in rows if r["candidates"] == path_kind]
        if not chosen:
            continue
        n = [r["n"] for r in chosen]
        axes[0].loglog(n, [r["epoch_s"] for r in chosen], marker, label=label[path_kind])
        axes[1].loglog(n, [r["rss_mb"] for r in chosen], marker, label=label[path_kind])
    for ax, title in zip(axes, ("seconds per epoch", "peak RSS (MB)"), strict=True):
        ax.set_xlabel("objects N")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--atoms", type=int, nargs="+", default=[25, 50, 100, 200, 500, 1000])
    parser.add_argument("--all-pairs-up-to", type=int, default=200)
    parser.add_argument("--object-sims", type=int, default=2000, help="training simulations x N")
    parser.add_argument("--length", type=int, default=2000, help="integration steps (/100 frames)")
    parser.add_argument("--length-test", type=int, default=3000)
    parser.add_argument("--batch-objects", type=int, default=400)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="outputs/scale_many_objects")
    parser.add_argument("--plot", help="write a PNG of time and memory against N")
    parser.add_argument("--from-json", help="draw --plot from a saved scaling.json, run nothing")
    args = parser.parse_args()
    label = {"knn": f"knn k={args.k}", "all": "all pairs"}
    if args.from_json:
        plot(json.loads(Path(args.from_json).read_text()), args.plot, label)
        return
    print(f"springs, knn graph, mean degree 3; S N = {args.object_sims} training object-"
          f"simulations of {args.length} steps; batches of ~{args.batch_objects} objects; hidden "
          f"{args.hidden}; {args.threads} thread(s)\n")
    print("| N | candidates | edges per sample | s per epoch | peak RSS (MB) | test AUROC |")
    print("|---|---|---|---|---|---|", flush=True)
    rows = []
    for n in args.atoms:
        for candidates in ("knn", "all") if n <= args.all_pairs_up_to else ("knn",):
            row = one_run(n, candidates, args)
            rows.append(row)
            print(f"| {n} | {label[candidates]} | {row['edges']} | {row['epoch_s']:.2f} | "
                  f"{row['rss_mb']:.0f} | {row['auroc']:.3f} |", flush=True)
    for path in ("knn", "all"):
        chosen = [r for r in rows if r["candidates"] == path]
        if len(chosen) > 1:
            print(f"\nslope of log(s per epoch) on log N, {label[path]}: {slope(chosen):.2f}")
    (Path(args.out) / "scaling.json").write_text(json.dumps(rows, indent=1) + "\n")
    if args.plot:
        plot(rows, args.plot, label)


if __name__ == "__main__":
    main()
