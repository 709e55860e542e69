"""Write example input for ``dataset=custom`` and ``nri.infer``: springs trajectories as a long CSV.

    python scripts/springs_to_csv.py data/my_system.csv --sequences 300 --objects 5 --frames 60 \
        --edges-out data/my_system_edges.csv

Every sequence is a recording of one system: the same objects joined by the same springs (drawn
once from the seed), started from a new random state. The CSV has the columns
``sequence,time,object,x,y,vx,vy`` and no labels; ``--edges-out`` writes the springs separately as
``sequence,sender,receiver,type`` rows, for checking what ``nri.infer`` finds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from nri.atomic import atomic_write_text
from nri.data.custom.trajectories import write_long_csv
from nri.data.sim.simulate import run_springs, springs_initial_state

SAMPLE_FREQ = 100


def simulate_one_system(sequences: int, objects: int, frames: int, seed: int
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Shapes: returns x [S, N, T, 4] (x, y, vx, vy) and the springs [N, N] (0/1, symmetric)"""
    rng = np.random.default_rng(seed)
    loc0, vel0, edges = springs_initial_state(sequences, objects, rng)
    edges = np.broadcast_to(edges[0], edges.shape).copy()  # one graph for every recording
    loc, vel = run_springs(loc0, vel0, edges, (frames + 1) * SAMPLE_FREQ, SAMPLE_FREQ)
    x = np.concatenate([loc, vel], axis=2).transpose(0, 3, 1, 2)  # [S, T, 4, N] -> [S, N, T, 4]
    return x, edges[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="CSV file to write")
    parser.add_argument("--sequences", type=int, default=300)
    parser.add_argument("--objects", type=int, default=5)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--edges-out", type=Path, default=None,
                        help="also write the springs as sequence,sender,receiver,type rows")
    args = parser.parse_args()
    x, springs = simulate_one_system(args.sequences, args.objects, args.frames, args.seed)
    write_long_csv(args.out, x, ["x", "y", "vx", "vy"])
    if args.edges_out is not None:
        receivers, senders = np.nonzero(springs)
        rows = [f"{s},{j},{i},1\n" for s in range(args.sequences)
                for i, j in zip(receivers.tolist(), senders.tolist(), strict=True)]
        atomic_write_text(args.edges_out, "sequence,sender,receiver,type\n" + "".join(rows))
    print(f"wrote {args.out}: {args.sequences} sequences x {args.frames} frames x {args.objects} objects; "
          f"springs between {[(int(i), int(j)) for i, j in zip(*np.nonzero(np.triu(springs)), strict=True)]}")


if __name__ == "__main__":
    main()
