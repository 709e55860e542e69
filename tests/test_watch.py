"""What a person sees of a run: the epoch lines in the console and train.log, output that stays
readable when redirected, the summary table of train and eval, what metrics.json records, the
TensorBoard hparams, and the harmless warnings filtered."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

from nri.quiet import DropHarmless, quiet
from nri.report import config_tree, data_record, epoch_line, metric_order, metrics_table
from nri.tensorboard import final_metrics

ROOT = Path(__file__).resolve().parents[1]
TINY = ["dataset.train_steps=15", "dataset.test_burn_in=15", "dataset.test_horizon=9",
        "encoder.hidden=16", "decoder.hidden=16", "datamodule.batch_size=16", "model.prediction_steps=3",
        "trainer.max_epochs=2", "threads=1"]
ESCAPE = "\x1b["


def run_module(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m module args`` with stdout and stderr redirected (not a terminal)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.fixture(scope="module")
def tiny_run(tiny_springs, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("watch") / "run"
    proc = run_module("nri.train", f"paths.data_dir={tiny_springs}", *TINY, f"hydra.run.dir={run_dir}",
                      cwd=run_dir.parent)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run_dir, proc


def table_rows(text: str, header: str) -> list[str]:
    """The metric names of the table that starts at ``header``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        parts = line.split()
        if len(parts) != 2:
            break
        rows.append(parts[0])
    return rows


# ----------------------------------------------------------------------------- a real (tiny) run
def test_train_log_holds_one_line_per_epoch(tiny_run):
    run_dir, proc = tiny_run
    log = (run_dir / "train.log").read_text()
    epochs = [line for line in log.splitlines() if "[nri]" in line and "] - epoch " in line]
    assert len(epochs) == 2, log
    assert "epoch 1/2 step 4 | loss " in epochs[0] and "| val_nll " in epochs[0] and "edge_acc " in epochs[0]
    assert "epoch 2/2 step 8" in epochs[1]
    assert "data: " in log and "train 64, valid 32, test 32 samples" in log


def test_redirected_output_is_plain_lines(tiny_run):
    _, proc = tiny_run
    for stream in (proc.stdout, proc.stderr):
        assert ESCAPE not in stream and "\r" not in stream
    assert sum(line.startswith("[nri] epoch ") for line in proc.stdout.splitlines()) == 2
    noise = ("LeafSpec", "litlogger", "GPU available", "log_every_n_steps", "was configured so")
    assert not [n for n in noise if n in proc.stdout + proc.stderr], proc.stdout + proc.stderr


def test_train_and_eval_end_with_the_same_table(tiny_run, tiny_springs):
    run_dir, proc = tiny_run
    expected = ["edge_acc", "edge_acc_perm", "auroc", "auprc", "f1", "candidate_recall", "mse_1", "mse_9"]
    assert table_rows(proc.stdout, "test metric") == expected
    ev = run_module("nri.eval", f"ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}",
                    f"paths.data_dir={tiny_springs}", f"hydra.run.dir={run_dir.parent / 'eval'}",
                    cwd=run_dir.parent)
    assert ev.returncode == 0, ev.stderr[-3000:]
    assert table_rows(ev.stdout, "test metric") == expected
    assert ESCAPE not in ev.stdout + ev.stderr
    recorded = json.loads((run_dir.parent / "eval" / "metrics.json").read_text())
    assert recorded["data"]["split_sizes"] == {"train": 64, "valid": 32, "test": 32}


def test_metrics_json_records_the_data_used(tiny_run, tiny_springs):
    run_dir, _ = tiny_run
    data = json.loads((run_dir / "metrics.json").read_text())["data"]
    assert data["data_dir"] == str(tiny_springs)
    assert data["split_sizes"] == {"train": 64, "valid": 32, "test": 32}
    assert data["metadata"] is None  # the fixture writes the arrays only
    tree = (run_dir / "config_tree.txt").read_text()
    assert "├─ dataset\n│  ├─ physics\n│  │  ├─ box_size: 5.0\n" in tree and "│  ├─ name: springs\n│  ├─ num_atoms: 5\n" in tree


def test_tensorboard_has_hparams_with_the_final_metrics(tiny_run):
    run_dir, _ = tiny_run
    hparams, images = {}, set()
    for path in (run_dir / "tensorboard").glob("events.out.tfevents.*"):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                plugin = value.metadata.plugin_data
                if plugin.plugin_name == "hparams":
                    hparams[value.tag] = plugin.content
                if plugin.plugin_name == "images":  # the loader migrates images to tensors
                    images.add(value.tag)
    assert "_hparams_/experiment" in hparams and "_hparams_/session_start_info" in hparams
    from tensorboard.plugins.hparams import plugin_data_pb2

    experiment = plugin_data_pb2.HParamsPluginData.FromString(hparams["_hparams_/experiment"])
    metrics = {m.name.tag for m in experiment.experiment.metric_infos}
    assert {"test/edge_acc", "test/mse_1", "val/nll"} <= metrics
    params = {h.name for h in experiment.experiment.hparam_infos}
    assert "encoder/hidden" in params and "dataset/num_atoms" in params
    assert {"val/edges", "val/trajectory"} <= images


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_a_terminal_gets_the_bar_with_loss_and_validation_metrics(tiny_springs, tmp_path):
    import fcntl
    import pty
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # the child: stdout is a 150-column terminal
        fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 150, 0, 0))
        os.environ["PYTHONPATH"] = str(ROOT)
        os.chdir(tmp_path)
        os.execv(sys.executable, [sys.executable, "-m", "nri.train", f"paths.data_dir={tiny_springs}", *TINY,
                                  "trainer.max_epochs=1", "logger=none", "callbacks.progress_bar.refresh_rate=1",
                                  f"hydra.run.dir={tmp_path / 'run'}"])
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    text = out.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text[-2000:]
    bar = [part for part in text.split("\r") if part.startswith("Epoch 1/1: 100%")]
    assert bar and "loss=" in bar[-1] and "val_nll=" in bar[-1] and "edge_acc=" in bar[-1], text[-2000:]
    assert "[nri] epoch 1/1 step 4 | loss " in text


# ----------------------------------------------------------------------------- the pieces
def test_table_lists_edge_metrics_then_key_horizons():
    results = {f"test/mse_{h}": 0.1 * h for h in range(1, 21)}
    results.update({"test/auroc": 0.9, "test/edge_acc_perm": 0.8, "test/edge_acc": 0.7,
                    "test/mse": [0.1] * 20, "val/nll": 3.0, "train_time_s": 5.0})
    rows = [line.split()[0] for line in metrics_table(results, "test/").splitlines()[2:]]
    assert rows == ["edge_acc", "edge_acc_perm", "auroc", "mse_1", "mse_10", "mse_20"]
    assert metric_order("test/mse_2") < metric_order("test/mse_10")  # by number, not text
    assert metrics_table({"val/nll": 1.0}, "test/") == "no test metrics"


def test_epoch_line_is_short_and_names_the_metrics():
    line = epoch_line(3, 30, 120, {"train/loss_epoch": 1.23456, "val/nll": 0.0456, "val/edge_acc": 0.912})
    assert line == "epoch 3/30 step 120 | loss 1.235 | val_nll 0.0456 | edge_acc 0.912"
    assert epoch_line(1, -1, 5, {}) == "epoch 1 step 5"


def test_config_tree_nests_groups():
    tree = config_tree({"seed": 1, "model": {"lr": 0.1, "temperature": {"tau": 0.5}}, "hydra": {"x": 1}})
    assert tree.splitlines() == ["├─ seed: 1", "└─ model", "   ├─ lr: 0.1", "   └─ temperature",
                                 "      └─ tau: 0.5"]


def test_data_record_reads_the_metadata(tmp_path):
    (tmp_path / "metadata_springs5.json").write_text(json.dumps({"generator": "springs", "seed": 3}))

    class Loaded:
        data_dir = tmp_path
        ds = {"suffix": "_springs5"}
        splits = {"train": [0] * 7, "valid": [0] * 2, "test": [0] * 3}

    record = data_record(Loaded())
    assert record["metadata"] == {"generator": "springs", "seed": 3}
    assert record["split_sizes"] == {"train": 7, "valid": 2, "test": 3}
    Loaded.ds = {"suffix": "_other"}
    assert data_record(Loaded())["metadata"] is None


def test_final_metrics_are_the_scalar_results():
    assert final_metrics({"test/mse": [1.0], "test/mse_1": 0.5, "val/nll": 2, "epochs": 3}) == {
        "test/mse_1": 0.5, "val/nll": 2.0}


def test_quiet_filters_only_the_known_warnings_and_notices(caplog):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet()
        warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated, use …", FutureWarning, stacklevel=1)
        warnings.warn("something else", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["something else"]
    notices = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    assert any(isinstance(f, DropHarmless) for f in notices.filters)
    with caplog.at_level(logging.INFO):
        notices.info("GPU available: False, used: False")
        notices.info("Restoring states from the checkpoint path at x.ckpt")
    assert [r.getMessage() for r in caplog.records] == ["Restoring states from the checkpoint path at x.ckpt"]
