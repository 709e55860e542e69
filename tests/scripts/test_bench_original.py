"""The side-by-side benchmark against the original code: its patcher, its parsing, and a whole run.

The original's code is not part of this repository, so the end-to-end run uses a stand-in written
here: a train.py with the original's command line and output format that only runs once the
torch 2.x patches are applied (indexing a 0-dim tensor, ``np.float``).
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from tests.script_loader import load_script

ROOT = Path(__file__).resolve().parents[2]
load_script("bench_train")  # bench_original imports both by these names
patches = load_script("original_patches")
bench = load_script("bench_original")

FAKE_TRAIN = '''\
import argparse
import time

import numpy as np
import torch

from modules import init_layers
from utils import softmax_first_axis, to_float

parser = argparse.ArgumentParser()
for flag in ("--epochs", "--batch-size", "--encoder-hidden", "--decoder-hidden"):
    parser.add_argument(flag, type=int)
for flag in ("--encoder", "--decoder", "--suffix"):
    parser.add_argument(flag)
parser.add_argument("--no-cuda", action="store_true")
args = parser.parse_args()
loc = np.load("data/loc_train" + args.suffix + ".npy")
layers = init_layers(args.encoder_hidden)


def train(epoch):
    t = time.time()
    loss = (torch.from_numpy(loc).float() ** 2).mean()
    stats = [DATA0, DATA0, DATA0, DATA0, DATA0, DATA0, DATA0, DATA0, DATA0]
    time.sleep(0.05 * (1 + epoch))
    nll_val = []
    nll_val.append(to_float(softmax_first_axis(torch.tensor([stats[0], 1.0])).sum()))
    print("Epoch: {:04d}".format(epoch), "nll_val: {:.4f}".format(nll_val[0]),
          "time: {:.4f}s".format(time.time() - t))


for epoch in range(args.epochs):
    train(epoch)
print("Optimization Finished!")
'''.replace("DATA0", "loss.data[0]")

FAKE_UTILS = '''\
import numpy as np
import torch.nn.functional as F


def to_float(x):
    return np.float(x)


def softmax_first_axis(trans_input):
    return F.softmax(trans_input)
'''

FAKE_MODULES = '''\
from torch import nn


def init_layers(hidden):
    layers = [nn.Linear(hidden, hidden) for _ in range(3)]
    nn.init.xavier_normal(layers[0].weight)
    nn.init.xavier_normal(layers[1].weight)
    nn.init.xavier_normal(layers[2].weight)
    return layers
'''


def fake_original(root: Path, train: str = FAKE_TRAIN) -> Path:
    root.mkdir()
    (root / "train.py").write_text(train)
    (root / "utils.py").write_text(FAKE_UTILS)
    (root / "modules.py").write_text(FAKE_MODULES)
    return root


def test_a_patch_applies_its_stated_number_of_times(tmp_path):
    (tmp_path / "a.py").write_text("x.old() + y.old()\nold = 1\n")
    patches.apply_patches(tmp_path, (patches.Patch("a.py", ".old()", ".new()", count=2),
                                     patches.Patch("a.py", "old = 1", "new = 1")))
    assert (tmp_path / "a.py").read_text() == "x.new() + y.new()\nnew = 1\n"


@pytest.mark.parametrize("text", ["nothing here\n", "old old old\n"])
def test_a_patch_that_does_not_match_exactly_stops_before_any_write(tmp_path, text):
    (tmp_path / "a.py").write_text("first\n")
    (tmp_path / "b.py").write_text(text)
    todo = (patches.Patch("a.py", "first", "FIRST"), patches.Patch("b.py", "old", "new", count=2))
    with pytest.raises(patches.PatchError, match=r"b.py: expected 2 occurrence\(s\) of 'old'"):
        patches.apply_patches(tmp_path, todo)
    assert (tmp_path / "a.py").read_text() == "first\n"  # nothing written half-way


def test_patches_refuse_a_directory_that_is_not_the_original(tmp_path):
    with pytest.raises(patches.PatchError, match="has no train.py"):
        patches.patched_copy(tmp_path, tmp_path / "copy")
    (tmp_path / "train.py").write_text("")
    with pytest.raises(patches.PatchError, match="utils.py is missing"):
        patches.apply_patches(tmp_path, (patches.Patch("utils.py", "a", "b"),))


def test_the_copy_is_patched_and_leaves_the_clone_alone(tmp_path):
    clone = fake_original(tmp_path / "clone")
    (clone / ".git").mkdir()
    (clone / "data").mkdir()
    (clone / "data" / "loc_train_springs5.npy").write_bytes(b"old data")
    copy = patches.patched_copy(clone, tmp_path / "copy")
    train = (copy / "train.py").read_text()
    assert ".data[0]" not in train and train.count(".item()") == 9 and "train_phase:" in train
    assert "dim=0" in (copy / "utils.py").read_text() and "np.float" not in (copy / "utils.py").read_text()
    assert (copy / "modules.py").read_text().count("xavier_normal_(") == 3
    assert not (copy / ".git").exists() and not list((copy / "data").iterdir()) and (copy / "logs").is_dir()
    assert (clone / "train.py").read_text() == FAKE_TRAIN


def test_the_timings_are_read_from_both_programs(tmp_path):
    out = ("Epoch: 0000 nll_train: 1.0 time: 9.5000s\ntrain_phase: 1.2500s\nBest model so far\n"
           "train_phase: 3.0000s\nEpoch: 0001 nll_train: 1.0 acc_val: 0.5 time: 4.2500s\n")
    assert bench.original_epoch_times(out, tmp_path) == (4.25, 3.0)
    with pytest.raises(bench.BenchError, match="no 'Epoch: 0001"):
        bench.original_epoch_times(out.split("train_phase: 3")[0], tmp_path)
    metrics = tmp_path / "run" / "csv" / "metrics.csv"
    metrics.parent.mkdir(parents=True)
    metrics.write_text("epoch,step,time/train_s,val/nll\n0,3,,\n0,3,10.5,2.0\n1,7,,\n1,7,16.0,1.0\n")
    assert bench.nri_epoch_time(tmp_path / "run") == pytest.approx(5.5)
    metrics.write_text("epoch,step,time/train_s\n0,3,10.5\n")
    with pytest.raises(bench.BenchError, match="lacks time/train_s"):
        bench.nri_epoch_time(tmp_path / "run")


def test_a_mismatched_original_stops_the_bench_with_one_line(tmp_path):
    clone = fake_original(tmp_path / "clone", FAKE_TRAIN.replace("loss.data[0]]", "0.0]"))
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_train.py"), "--original", str(clone),
                           "--num-train", "8"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: train.py: expected 9 occurrence(s) of '.data[0]' (indexing a 0-dim tensor fails since "
        "torch 0.4), found 8; the benchmark is written for the original at commit e63fcb0"]


@pytest.mark.parametrize(("flags", "message"), [(["--epochs", "1"], "--epochs must be at least 2"),
                                               (["--keep", "tests"], "--keep tests is not empty")])
def test_the_bench_refuses_bad_options(flags, message):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_original.py"), "--original", ".",
                           *flags], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and message in proc.stderr


@pytest.mark.slow
def test_the_bench_runs_both_programs_and_reports_medians(tmp_path):
    clone = fake_original(tmp_path / "clone")
    work, result = tmp_path / "work", tmp_path / "result.json"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_original.py"), "--original", str(clone),
                           "--pairs", "mlp/mlp", "--num-train", "16", "--num-test", "4", "--batch-size", "8",
                           "--hidden", "8", "--epochs", "2", "--rounds", "2", "--threads", "1",
                           "--keep", str(work), "--json", str(result)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    # the stand-in's own printed second-epoch times are what the table reports
    printed = [float(re.search(r"Epoch: 0001 .*time: ([0-9.]+)s", (work / f"original-mlp-mlp-{r}.log")
                               .read_text()).group(1)) for r in range(2)]
    pair = json.loads(result.read_text())["pairs"][0]
    assert [r["original_s"] for r in pair["rounds"]] == printed
    assert all(0.1 <= s < 5 for s in printed)  # it sleeps 0.1 s in its second epoch
    row = next(line for line in proc.stdout.splitlines() if line.startswith("| mlp/mlp"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert float(cells[1]) == pytest.approx(statistics.median(printed), abs=0.006)
    ratios = [r["original_s"] / r["nri_s"] for r in pair["rounds"]]
    assert cells[4] == f"{statistics.median(ratios):.2f}x"
    assert float(cells[5]) > 50 and float(cells[6]) > 50  # MB: torch is loaded in both
    assert len(re.findall(r"^# mlp/mlp round \d: original", proc.stdout, re.MULTILINE)) == 2
    assert "second message layer alone" in proc.stdout
