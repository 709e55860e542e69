#!/usr/bin/env bash
# The charged-5 ablation of docs/beyond_nri.md: NRI (learned) and the NRI-MPM mechanisms, each left
# out in turn, on the quick profile's charged-5 data (50k simulations), 10 epochs each (a third of
# the quick profile's NRI budget), one seed, one thread per run, two runs at a time (about 1 h 40 min
# on the 2-core machine):
#
#   bash scripts/ablation_charged.sh [OUT_DIR]     # default outputs/beyond/charged5_e10
#
# Each arm writes OUT_DIR/<arm>/ (metrics.json, csv/metrics.csv, console.log) and time.txt (wall
# time, peak RSS). PYTHON picks the interpreter (default .venv/bin/python); EPOCHS the budget.
set -eu
out=${1:-outputs/beyond/charged5_e10}
py=${PYTHON:-.venv/bin/python}
epochs=${EPOCHS:-10}
"$py" -m nri.generate dataset=charged dataset.num_train=50000 dataset.num_valid=2000 \
    dataset.num_test=2000 paths.data_dir=data/quick

lane() {  # lane ARM "OVERRIDES" [ARM "OVERRIDES" ...]: the arms one after another
  while [ $# -gt 0 ]; do
    local arm=$1 args=$2
    shift 2
    mkdir -p "$out/$arm"
    # shellcheck disable=SC2086  # the overrides are words
    /usr/bin/time -f "$arm wall %e s peak %M KB" -o "$out/$arm/time.txt" \
      "$py" -m nri.train experiment=table1_charged $args threads=1 trainer.max_epochs="$epochs" \
      logger=csv hydra.run.dir="$out/$arm" > "$out/$arm/console.log" 2>&1
  done
}
lane full "row=mpm_history" no_symmetry "row=mpm_history model.symmetry=none" &
lane nri "row=nri_learned" no_history "row=mpm_history decoder=mlp" \
  no_relation "row=nri_learned decoder=history model.symmetry=hard" &
wait
"$py" - "$out" <<'PY'
import json, sys
from pathlib import Path
for arm in ("nri", "full", "no_relation", "no_history", "no_symmetry"):
    m = json.loads((Path(sys.argv[1]) / arm / "metrics.json").read_text())["metrics"]
    print(f"{arm:12s} test edge acc {100 * m['test/edge_acc_perm']:.1f}%  "
          f"AUROC {m['test/auroc']:.3f}  MSE@20 {m['test/mse_20']:.2e}")
PY
