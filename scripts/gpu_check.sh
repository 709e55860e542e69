#!/usr/bin/env bash
# Every GPU check in one pass on one CUDA machine (539 s on one H200, 2026-11-27; README, "On a GPU"):
#
#   bash scripts/gpu_check.sh OUT_DIR          # PYTHON=... picks the interpreter (default python3)
#
#  1. the tests marked `gpu` (bf16 training with the data on the device, torch.compile, GPU = CPU);
#  2. `scripts/bench_train.py --device cuda`: the three encoder/decoder pairs at the paper's size
#     (batch 128, hidden 256), bf16, data on the device;
#  3. the springs_fast recipe on the full springs5 set (generated here) with trainer=gpu, for at
#     most TRAIN_MINUTES (default 3): validation accuracy and training time at every epoch;
#  4. mlp/mlp compiled (default mode, then CUDA graphs: reduce-overhead), then eager at batch 1024;
#  5. with CUDA_GRAPHS_PROBE=1, research/cuda_graphs_probe.py with and without the Trainer's
#     CUDA-graph fix: whether training through nri.train's Trainer works with CUDA graphs
#     (about 4 more minutes; pair it with TRAIN_MINUTES=1).
# Every step has its own time limit and a failed step does not stop the next; the exit status
# says whether any failed. OUT_DIR gets gpu_check.log (everything), the benchmark JSON files,
# and train_metrics.csv / train_result.json of step 3.
set -u
out=${1:?usage: bash scripts/gpu_check.sh OUT_DIR}
py=${PYTHON:-python3}
train_minutes=${TRAIN_MINUTES:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" HYDRA_FULL_ERROR=1 PYTHONUNBUFFERED=1
mkdir -p "$out"
log="$out/gpu_check.log"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()

step() {  # step NAME SECONDS COMMAND... : run it under a time limit, log all, show its last lines
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS rc
  echo "=== $name (limit ${limit} s): $*" | tee -a "$log"
  timeout "$limit" "$@" 2>&1 | tee -a "$log" | tail -n "${SHOW_LINES:-12}"
  rc=${PIPESTATUS[0]}
  echo "=== $name: exit $rc after $((SECONDS - t0)) s" | tee -a "$log"
  [ "$rc" -eq 0 ] || failed+=("$name")
}

cd "$root"
step machine 60 bash -c "nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; \
  $py -c 'import torch, pytorch_lightning as pl, hydra, omegaconf; \
print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, \"| lightning\", pl.__version__, \
\"| hydra\", hydra.__version__, \"| omegaconf\", omegaconf.__version__); \
assert torch.cuda.is_available(), \"no CUDA device visible to torch\"'"

# The full springs5 set is made on the CPU cores while the tests use the GPU.
"$py" -m nri.generate dataset=springs paths.data_dir="$work/springs5" hydra.run.dir="$work/generate" \
  >"$work/generate.log" 2>&1 &
generate_pid=$!

step tests 240 "$py" -m pytest -q -m gpu -p no:cacheprovider tests

bench=("$py" scripts/bench_train.py --device cuda --precision bf16-mixed --data-on-device
       --num-train 2048 --steps 100 --warmup 5)
step bench 180 "${bench[@]}" --json "$out/bench_bf16.json"

t0=$SECONDS
wait "$generate_pid"
echo "=== generate springs5: exit $? ($((SECONDS - t0)) s waited)" | tee -a "$log"
cat "$work/generate.log" >>"$log"
step train $((train_minutes * 60 + 90)) "$py" -m nri.train experiment=springs_fast \
  paths.data_dir="$work/springs5" trainer=gpu datamodule.data_on_device=true logger=csv \
  trainer.max_time="$(printf "00:00:%02d:00" "$train_minutes")" hydra.run.dir="$work/train"
cp "$work/train/csv/metrics.csv" "$out/train_metrics.csv" 2>/dev/null
cp "$work/train/metrics.json" "$out/train_result.json" 2>/dev/null
step train-summary 60 "$py" - "$work/train/csv/metrics.csv" <<'EOF'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r.get("time/train_s") and r.get("val/edge_acc")]
first = next((r for r in rows if float(r["val/edge_acc"]) >= 0.99), None)
for r in rows:
    print(f"epoch {int(r['epoch']) + 1:2d}  {float(r['time/train_s']):7.1f} s  "
          f"validation edge accuracy {100 * float(r['val/edge_acc']):.2f}%")
print("first >= 99%:", f"epoch {int(first['epoch']) + 1} at {float(first['time/train_s']):.1f} s"
      if first else "not reached")
EOF

step bench-compiled 180 "${bench[@]}" --pairs mlp/mlp --compile --json "$out/bench_compiled.json"
step bench-cudagraphs 180 "${bench[@]}" --pairs mlp/mlp --compile --compile-mode reduce-overhead \
  --json "$out/bench_cudagraphs.json"
step bench-batch1024 120 "${bench[@]}" --pairs mlp/mlp --batch-size 1024 --num-train 8192 --steps 30 \
  --json "$out/bench_batch1024.json"

if [ "${CUDA_GRAPHS_PROBE:-0}" = 1 ]; then
  SHOW_LINES=60 step cuda-graphs-probe 300 "$py" research/cuda_graphs_probe.py --mode reduce-overhead
  SHOW_LINES=60 step cuda-graphs-probe-without-fix 300 "$py" research/cuda_graphs_probe.py \
    --mode reduce-overhead --without-fix
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]} (details in $log)"
  exit 1
fi
echo "all GPU checks passed"
