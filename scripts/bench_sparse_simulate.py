"""Time and peak memory of the springs simulators on sparse graphs against the dense one.

    python scripts/bench_sparse_simulate.py                         # N = 100 and 1000
    python scripts/bench_sparse_simulate.py --atoms 100 1000 --sims 10 --length 5000

Each case runs in a fresh process (so its peak RSS is its own) and simulates ``--sims``
trajectories of ``--length`` integration steps in one block. The dense simulator is run only
where its pair-incidence matrix (N(N-1)/2 x N float64) stays below 1 GiB. One markdown row each.
``--recall`` prints instead the candidate recall of k-nearest-by-trajectory candidates (positions
over the 49 frames of a training trajectory) per graph family; ``--model K`` (``all`` or a k) the
time and peak RSS of one training step of the MLP encoder and MLP decoder on random inputs
(B = 8, T = 49, D = 4, hidden 64, 10-step roll-outs, one thread) on those candidates.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

_CHILD = r"""
import json, resource, sys, time
import numpy as np
from nri.data.sim.generate_dataset import physics_defaults
from nri.data.sim.simulate import simulate_springs
from nri.data.sim.sparse_simulate import simulate_springs_sparse
family, n, sims, length = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(0)
start = time.perf_counter()
if family == "dense":
    loc, vel, edges = simulate_springs(sims, n, length, 100, rng)
else:
    loc, vel, edges = simulate_springs_sparse(sims, n, length, 100, rng, graph=family,
                                              mean_degree=3.0,
                                              **physics_defaults("springs", sparse=True))
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "max_speed": float(np.abs(vel).max()), "max_pos": float(np.abs(loc).max())}))
"""

_MODEL_CHILD = r"""
import resource, sys, time, torch
torch.set_num_threads(1)
from nri.models.candidates import NearestByTrajectory
from nri.models.decoders import MLPDecoder
from nri.models.encoders import MLPEncoder
n, k = int(sys.argv[1]), sys.argv[2]
x = torch.randn(8, n, 49, 4)
encoder, decoder = MLPEncoder(49, 4, 64, 2), MLPDecoder(4, 2, 64)
start = time.perf_counter()
candidates = None if k == "all" else NearestByTrajectory(int(k))(x)
logits = encoder(x, candidates)
out = decoder(x, torch.nn.functional.gumbel_softmax(logits, 0.5), 10, candidates=candidates)
((out - x[:, :, 1:]) ** 2).mean().backward()
print(f"| {n} | {k} | {logits.shape[1]} | {time.perf_counter() - start:.2f} | "
      f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} |")
"""


def recall_table(atoms: list[int], families: list[str], sims: int, length: int) -> None:
    import numpy as np
    import torch

    from nri.data.sim.generate_dataset import physics_defaults
    from nri.data.sim.sparse_simulate import simulate_springs_sparse
    from nri.models.candidates import NearestByTrajectory, candidate_recall

    ks = (5, 10, 20)
    print("| N | graph | " + " | ".join(f"recall k={k}" for k in ks) + " |")
    print("|---|---|" + "---|" * len(ks))
    for n in atoms:
        for family in families:
            loc, _, padded = simulate_springs_sparse(
                sims, n, length, 100, np.random.default_rng(0), graph=family, mean_degree=3.0,
                **physics_defaults("springs", sparse=True))
            x = torch.from_numpy(loc).permute(0, 3, 1, 2).float()  # [S, T, 2, N] -> [S, N, T, 2]
            true = [torch.from_numpy(e[:, e[0] >= 0].astype(np.int64)) for e in padded]
            recalls = [float(candidate_recall(NearestByTrajectory(k)(x), true)) for k in ks]
            print(f"| {n} | {family} | " + " | ".join(f"{r:.3f}" for r in recalls) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--atoms", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--families", nargs="+",
                        default=["dense", "erdos_renyi", "barabasi_albert", "knn", "lattice"])
    parser.add_argument("--sims", type=int, default=10)
    parser.add_argument("--length", type=int, default=5000)
    parser.add_argument("--recall", action="store_true")
    parser.add_argument("--model", help="candidates of the model step: all or k")
    args = parser.parse_args()
    if args.model:
        print("| N | candidates | edges per sample | seconds per step | peak RSS (MB) |")
        print("|---|---|---|---|---|", flush=True)
        for n in args.atoms:
            subprocess.run([sys.executable, "-c", _MODEL_CHILD, str(n), args.model], check=True)
        return
    if args.recall:
        recall_table(args.atoms, [f for f in args.families if f != "dense"], args.sims, args.length)
        return
    print(f"{args.sims} simulations x {args.length} steps, mean degree 3 (dense: edge_prob 0.5)\n")
    print("| N | graph | seconds | ms per sim-step x 1000 objects | peak RSS (MB) | max abs vel |")
    print("|---|---|---|---|---|---|")
    for n in args.atoms:
        for family in args.families:
            if family == "dense" and n * (n - 1) / 2 * n * 8 > 2**30:
                print(f"| {n} | dense | - | - | - | (pair incidence over 1 GiB) |")
                continue
            out = subprocess.run([sys.executable, "-c", _CHILD, family, str(n), str(args.sims),
                                  str(args.length)], check=True, capture_output=True, text=True)
            res = json.loads(out.stdout.strip().splitlines()[-1])
            per = res["seconds"] / (args.sims * args.length) * 1000 / n * 1000
            print(f"| {n} | {family} | {res['seconds']:.2f} | {per:.3f} | {res['rss_mb']:.0f} | "
                  f"{res['max_speed']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
