"""The benchmark's original-code formulation computes the same functions as nri's decoders.

``make bench --baseline`` reports nri's speed-up over scripts/reference_formulation.py; the
comparison only means something if both do the same arithmetic, which these tests pin down by
copying nri's weights into the original formulation and comparing outputs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nri.models.decoders import MLPDecoder, RNNDecoder
from tests.script_loader import load_script

ROOT = Path(__file__).resolve().parents[1]
B, N, T, D, H, K = 3, 4, 12, 4, 16, 2


def _reference():
    return load_script("reference_formulation")


def _copy_messages(ours, fc1_list, fc2_list):
    for k in range(K):
        fc1_list[k].weight.copy_(ours.messages.fc1.weight[k * H:(k + 1) * H])
        fc1_list[k].bias.copy_(ours.messages.fc1.bias[k * H:(k + 1) * H])
        fc2_list[k].weight.copy_(ours.messages.w2[k].t())
        fc2_list[k].bias.copy_(ours.messages.b2[k])


def _copy_out(ours, ref):
    for mine, theirs in zip((ours.out[0], ours.out[3], ours.out[6]), (ref.out_fc1, ref.out_fc2, ref.out_fc3),
                            strict=True):
        theirs.load_state_dict(mine.state_dict())


def _paired(ours_cls, ref_name):
    """nri's decoder and the original formulation's, sharing messages and output layers."""
    ref_mod = _reference()
    torch.manual_seed(0)
    ours = ours_cls(D, K, H).eval()
    ref = getattr(ref_mod, ref_name)(D, K, H).eval()
    _copy_messages(ours, ref.msg_fc1, ref.msg_fc2)
    _copy_out(ours, ref)
    x = torch.randn(B, N, T, D)
    edges = torch.softmax(torch.randn(B, N * (N - 1), K), -1)
    return ours, ref, x, edges, ref_mod.one_hot_relations(N)


@torch.no_grad()
def test_mlp_decoder_equals_the_original_formulation():
    ours, ref, x, edges, (rel_rec, rel_send) = _paired(MLPDecoder, "DenseMLPDecoder")
    assert torch.allclose(ours(x, edges, 4), ref(x, edges, rel_rec, rel_send, 4), atol=1e-5)


@torch.no_grad()
def test_rnn_decoder_equals_the_original_formulation():
    ours, ref, x, edges, (rel_rec, rel_send) = _paired(RNNDecoder, "DenseRNNDecoder")
    w_r, w_i, w_h = ours.message_gates.weight.chunk(3, dim=0)
    for theirs, w in zip((ref.hidden_r, ref.hidden_i, ref.hidden_h), (w_r, w_i, w_h), strict=True):
        theirs.weight.copy_(w)
    for j, theirs in enumerate((ref.input_r, ref.input_i, ref.input_n)):
        theirs.weight.copy_(ours.input_gates.weight[j * H:(j + 1) * H])
        theirs.bias.copy_(ours.input_gates.bias[j * H:(j + 1) * H])
    assert torch.allclose(ours(x, edges, burn_in_steps=7), ref(x, edges, rel_rec, rel_send, 7), atol=1e-5)


@pytest.mark.slow
def test_bench_reports_the_speed_up_over_the_original_formulation():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_train.py"), "--pairs", "mlp/mlp",
                           "--baseline", "--steps", "1", "--warmup", "1", "--batch-size", "8",
                           "--hidden", "16", "--num-train", "40", "--micro-batches", "2",
                           "--repeats", "2"],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = next(line for line in proc.stdout.splitlines() if line.startswith("| mlp/mlp"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert len(cells) == 8 and cells[1] == "2"  # pair, micro-batches, ..., speed-up
    assert cells[-1].endswith("x") and float(cells[-1][:-1]) > 0
    by_round = next(line for line in proc.stdout.splitlines() if "speed-up by round" in line)
    ratios = [float(x[:-1]) for x in by_round.split(":")[1].split()]
    assert len(ratios) == 2 and min(ratios) <= float(cells[-1][:-1]) <= max(ratios)


@pytest.mark.slow
def test_bench_times_exactly_the_timed_steps_with_micro_batches(tmp_path):
    """The clock starts once, at the first micro-batch of the first timed step."""
    import json

    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from bench_train import make_data
    finally:
        sys.path.pop(0)
    make_data(tmp_path, 40)
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_train.py"), "--one", "mlp/mlp",
                           "--data-dir", str(tmp_path), "--steps", "3", "--warmup", "2", "--batch-size", "8",
                           "--hidden", "16", "--micro-batches", "4"],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["micro_batches"] == 4 and result["timed_samples"] == 3 * 8
    assert result["clock_starts"] == 1


def test_bench_rejects_micro_batches_that_do_not_split_the_batch():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_train.py"), "--batch-size", "8",
                           "--micro-batches", "cnn/mlp=3"], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert proc.returncode == 2 and "does not split into 3 equal micro-batches" in proc.stderr


def test_bench_rejects_zero_repeats():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_train.py"), "--repeats", "0"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and "--repeats must be at least 1" in proc.stderr


def test_bench_refuses_the_baseline_on_a_gpu():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_train.py"), "--baseline",
                           "--device", "cuda"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and "CPU-only" in proc.stderr


def test_bench_rejects_a_compile_mode_without_compile_and_a_bad_pair():
    cases = [(["--compile-mode", "default"], "--compile-mode needs --compile"),
             (["--pairs", "mlp/foo"], "pair 'mlp/foo': give ENCODER/DECODER")]
    for flags, message in cases:
        proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_train.py"), *flags],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr[-500:]
