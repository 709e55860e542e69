"""The table experiments: their jobs compose and run, the planner orders them, the tables build."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hydra.core.global_hydra import GlobalHydra
from table_helpers import compose_job

from nri.build import build_module
from nri.data.sim.generate_dataset import write_dataset
from nri.train import run
from tests.script_loader import load_script

ROOT = Path(__file__).resolve().parents[2]
BLOCKS = [f"table{t}_{d}" for t in (1, 2) for d in ("springs", "charged", "kuramoto")]
NORM = {"kind": "locvel", "loc_min": -1.0, "loc_max": 1.0, "vel_min": -1.0, "vel_max": 1.0}


@pytest.fixture(scope="module")
def jobs_script():
    return load_script("table_jobs")


@pytest.fixture(scope="module")
def tables_script():
    return load_script("make_tables")


@pytest.fixture(autouse=True)
def _clear_hydra():
    yield
    GlobalHydra.instance().clear()


# --------------------------------------------------------------------------------------------
# Aggregation


def fake_run(root: Path, row: str, dataset: str, objects: int, seed: int, metrics: dict) -> None:
    run_dir = root / f"{dataset}{objects}" / row / f"seed{seed}"
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "config.yaml").write_text(f"row:\n  id: {row}\n  name: whatever\nseed: {seed}\n")
    payload = {"metrics": metrics, "dataset": {"name": dataset, "num_atoms": objects}, "seed": seed}
    (run_dir / "metrics.json").write_text(json.dumps(payload))


def test_tables_average_seeds_and_show_missing_cells(tables_script, tmp_path):
    runs, out = tmp_path / "runs", tmp_path / "tables"
    fake_run(runs, "nri_learned", "springs", 5, 1, {"test/edge_acc": 0.98, "test/edge_acc_perm": 0.98,
                                                     "test/mse_1": 1e-7, "test/mse_10": 1e-5, "test/mse_20": 3e-5})
    fake_run(runs, "nri_learned", "springs", 5, 2, {"test/edge_acc": 0.96, "test/edge_acc_perm": 0.96,
                                                     "test/mse_1": 3e-7, "test/mse_10": 3e-5, "test/mse_20": 5e-5})
    fake_run(runs, "corr_path", "springs", 5, 1, {"test/edge_acc": 0.4, "test/edge_acc_perm": 0.6})
    fake_run(runs, "mpm_history", "charged", 5, 1, {"test/edge_acc": 0.684, "test/edge_acc_perm": 0.684})
    fake_run(runs, "static", "charged", 5, 1, {"test/mse_1": 2e-4, "test/mse_10": 1e-2, "test/mse_20": 4e-2})
    (runs / "not_a_table_run").mkdir()
    (runs / "not_a_table_run" / "metrics.json").write_text(json.dumps({"metrics": {}}))
    tables_script.main(["--runs", str(runs), "--out", str(out)])

    t1 = (out / "table1.md").read_text()
    assert "| Model | Springs-5 |" in t1  # only the columns that have runs
    assert "| NRI (learned) | 97.0 ± 1.0 (paper 99.9 ± 0.0) |" in t1
    assert "| Corr. (path) | 60.0 (paper ≈52) |" in t1  # one seed: no spread; best type matching
    assert "| NRI (sim.) | — (paper n/f) |" in t1
    assert "| Supervised | — (paper 99.9) |" in t1
    assert "| History + symmetry | — (paper n/f) | — (paper n/f) |" in t1  # a row beyond NRI
    assert "| RI + history + symmetry | — (paper n/f) | 68.4 (paper 93.3 (NRI-MPM)) |" in t1
    t2 = (out / "table2.md").read_text()
    assert "Springs-5 (1 step) | Springs-5 (10 steps) | Springs-5 (20 steps) | Charged-5 (1 step)" in t2
    assert "| NRI (learned) | 2.00e-07 ± 1.00e-07 (paper 3.12e-8) | 2.00e-05 ± 1.00e-05 (paper n/f) |" in t2
    assert "| Static | — (paper n/f) | — (paper n/f) | — (paper n/f) | 2.00e-04 (paper n/f) |" in t2
    with open(out / "table1.csv") as fh:
        rows = {(r["row"], r["dataset"]): r for r in csv.DictReader(fh)}
    assert rows[("nri_learned", "springs")]["seeds"] == "2"
    assert rows[("supervised", "springs")]["mean"] == "" and rows[("supervised", "springs")]["seeds"] == "0"

    tables_script.main(["--runs", str(runs), "--out", str(out), "--accuracy", "raw"])
    assert "| Corr. (path) | 40.0 (paper ≈52) |" in (out / "table1.md").read_text()


# --------------------------------------------------------------------------------------------
# Jobs and their plan


def test_planner_runs_needed_rows_first_and_shared_runs_once(jobs_script, tmp_path):
    out = tmp_path / "out"
    extra = [f"profile.out_dir={out}", "seed=1,2"]
    with jobs_script.configs():
        jobs = [j for b in ("table1_springs", "table2_springs") for j in jobs_script.block_jobs(b, "quick", extra)]
    assert len(jobs) == (5 + 6) * 2
    assert {j.row for j in jobs} == {"corr_path", "corr_lstm", "nri_sim", "nri_learned", "supervised",
                                     "static", "lstm_single", "lstm_joint", "nri_full_graph", "nri_true_graph"}
    assert jobs[0].run_dir == out / "springs5" / "corr_path" / "seed1"
    assert jobs[0].dataset["num_train"] == 50000 and jobs[0].data_dir.name == "quick"
    plan = jobs_script.launches(jobs, force=False)
    same = ["dataset.num_atoms=5", "seed=1,2", f"profile.out_dir={out}"]
    assert plan == [["experiment=table1_springs", "row=lstm_single", *same],
                    ["experiment=table1_springs", "row=corr_path,corr_lstm,nri_sim,nri_learned,supervised", *same],
                    # NRI (learned) runs once, for table 1
                    ["experiment=table2_springs", "row=static,lstm_joint,nri_full_graph,nri_true_graph", *same]]
    for job in jobs:  # finished runs are not run again
        if job.row in ("lstm_single", "nri_learned", "corr_path") or job.overrides[1] == "seed=1":
            (job.run_dir).mkdir(parents=True, exist_ok=True)
            (job.run_dir / "metrics.json").write_text("{}")
    plan = jobs_script.launches(jobs, force=False)
    same = ["dataset.num_atoms=5", "seed=2", f"profile.out_dir={out}"]
    assert plan == [["experiment=table1_springs", "row=corr_lstm,nri_sim,supervised", *same],
                    ["experiment=table2_springs", "row=static,lstm_joint,nri_full_graph,nri_true_graph", *same]]


class _FakeProcess:
    """A job that finishes after ``polls`` polls with ``code``, writing metrics.json on success."""

    def __init__(self, run_dir: Path, polls: int, code: int):
        self.run_dir, self.polls, self.code = run_dir, polls, code

    def poll(self):
        self.polls -= 1
        if self.polls > 0:
            return None
        if self.code == 0:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "metrics.json").write_text("{}")
        return self.code


def _springs_jobs(jobs_script, out):
    with jobs_script.configs():
        return [j for b in ("table1_springs", "table2_springs")
                for j in jobs_script.block_jobs(b, "quick", [f"profile.out_dir={out}", "threads=1"])]


def test_parallel_queue_holds_each_pending_run_once_largest_first(jobs_script, tmp_path):
    jobs = _springs_jobs(jobs_script, tmp_path / "out")
    queue = jobs_script.job_queue(jobs, force=False)
    assert len(queue) == len({j.run_dir for j in jobs}) == 10  # NRI (learned), LSTM (single) once
    costs = [j.cost for j in queue]
    assert costs == sorted(costs, reverse=True)
    assert {j.row for j in queue[:3]} == {"nri_learned", "nri_full_graph", "nri_true_graph"}  # 17 x 50k
    assert queue[-1].row == "static" and queue[-1].cost == 0  # copies the last frame: nothing to train
    done = next(j for j in queue if j.row == "lstm_single")
    done.run_dir.mkdir(parents=True)
    (done.run_dir / "metrics.json").write_text("{}")
    assert "lstm_single" not in {j.row for j in jobs_script.job_queue(jobs, force=False)}
    assert len(jobs_script.job_queue(jobs, force=True)) == 10
    cmd = jobs_script.train_command("quick", queue[0])
    assert cmd[1:5] == ["-m", "nri.train", "-m", "profile=quick"] and "threads=1" in cmd


def test_parallel_runs_respect_workers_and_needed_rows(jobs_script, tmp_path):
    queue = jobs_script.job_queue(_springs_jobs(jobs_script, tmp_path / "out"), force=False)
    started, running = [], []

    def launch(cmd, log):
        run_dir = log.parent
        job = next(j for j in queue if j.run_dir == run_dir)
        assert all((d.run_dir / "metrics.json").exists() for d in job.deps), f"{job.row} started before its needs"
        running[:] = [p for p in running if p.polls > 0]
        assert len(running) < 2, "more jobs at once than workers"
        assert cmd == jobs_script.train_command("quick", job)
        started.append(job.row)
        proc = _FakeProcess(run_dir, polls=1 + len(started) % 3, code=0)
        running.append(proc)
        return proc

    jobs_script.run_parallel(queue, "quick", workers=2, launch=launch, poll_s=0)
    assert sorted(started) == sorted(j.row for j in queue)
    assert started.index("corr_lstm") > started.index("lstm_single")


def test_parallel_run_stops_starting_jobs_after_a_failure(jobs_script, tmp_path):
    queue = jobs_script.job_queue(_springs_jobs(jobs_script, tmp_path / "out"), force=False)
    started = []

    def launch(cmd, log):
        started.append(log.parent)
        return _FakeProcess(log.parent, polls=1, code=1 if len(started) == 1 else 0)

    with pytest.raises(SystemExit, match=r"failed: .*exit 1; see .*console.log"):
        jobs_script.run_parallel(queue, "quick", workers=2, launch=launch, poll_s=0)
    assert len(started) == 2  # the second was already running; nothing started after the failure


def test_parallel_must_be_positive(jobs_script, capsys, monkeypatch):
    def make_data(*_):
        raise AssertionError("data made before the arguments were checked")

    monkeypatch.setattr(jobs_script, "make_data", make_data)
    with pytest.raises(SystemExit):
        jobs_script.main(["--profile", "quick", "--parallel", "0", "table1_springs"])
    assert "--parallel must be at least 1, got 0" in capsys.readouterr().err


@pytest.mark.parametrize("block", BLOCKS)
def test_paper_profile_spans_rows_objects_and_seeds(block, tmp_path):
    cfg = compose_job([f"experiment={block}", "profile=paper"], tmp_path)
    params = cfg.hydra.sweeper.params
    assert params["dataset.num_atoms"] == "5,10" and params.seed == "1,2,3"
    rows = params.row.split(",")
    assert "nri_learned" in rows and len(rows) == {"1": 5, "2": 6}[block[5]] - (block == "table1_kuramoto")
    assert cfg.hydra.sweep.dir.endswith("outputs/tables/paper") and cfg.trainer.max_epochs == 500
    assert cfg.dataset.name == block.split("_")[1] and cfg.dataset.num_train == 50000


def test_quick_profile_sizes_the_encoder_per_dataset(tmp_path):
    """A dataset's budget may set its encoder size (Kuramoto's small CNN); the others keep the default."""
    def encoder(dataset, *extra):
        cfg = compose_job([f"experiment=table1_{dataset}", "profile=quick", "row=nri_learned", *extra], tmp_path)
        return cfg.encoder.name, cfg.encoder.hidden, cfg.trainer.max_epochs

    assert encoder("springs") == ("mlp", 128, 17)
    assert encoder("kuramoto") == ("cnn", 64, 85)
    assert encoder("kuramoto", "profile.budget.kuramoto.encoder_hidden=32")[1] == 32
    assert encoder("kuramoto", "profile.nri.encoder_hidden=16")[1] == 16  # the profile-wide key still rules



def test_kuramoto_nri_decoders_read_the_change_of_sin_phase(tmp_path):
    """Kuramoto's NRI rows feed the decoder sin φ's change (dataset.model_defaults); the others do not."""
    def delta_inputs(block, row):
        cfg = compose_job([f"experiment={block}", "profile=quick", f"row={row}"], tmp_path)
        return cfg.decoder.delta_inputs

    for row in ("nri_learned", "nri_true_graph", "nri_full_graph"):
        assert list(delta_inputs("table2_kuramoto", row)) == [1]
        assert delta_inputs("table2_springs", row) is None
    module = build_module(compose_job(["experiment=table1_kuramoto", "profile=quick", "row=nri_learned"],
                                      tmp_path), None)
    assert module.decoder.delta_inputs == [1]


@pytest.mark.slow
def test_every_paper_job_composes(jobs_script, tmp_path):
    """All jobs of both tables under the paper profile (rows x 5/10 objects x 3 seeds)."""
    with jobs_script.configs():
        jobs = [job for block in BLOCKS for job in jobs_script.block_jobs(block, "paper", [])]
    assert len(jobs) == (5 + 5 + 4 + 6 * 3) * 2 * 3
    assert {j.run_dir.parts[-4] for j in jobs} == {"paper"}
    assert {(j.dataset["name"], j.dataset["num_atoms"], j.dataset["num_train"]) for j in jobs} == {
        (d, n, 50000) for d in ("springs", "charged", "kuramoto") for n in (5, 10)}
    # the planner's shortcut (plain values set on a composed config) agrees with a full composition
    for job in jobs[:: len(jobs) // 3]:
        cfg = compose_job([f"experiment={job.block}", "profile=paper", *job.overrides], tmp_path)
        assert cfg.row.id == job.row and cfg.seed == int(job.overrides[1].split("=")[1])
        assert Path(cfg.hydra.sweep.dir) / cfg.hydra.sweep.subdir == job.run_dir
        assert cfg.trainer.max_epochs == (50 if job.row.startswith("corr") else 500)
        assert cfg.datamodule.batch_size == 128
        if job.row != "corr_lstm":  # needs a trained LSTM (single) checkpoint
            build_module(cfg, NORM if job.dataset["format"] == "locvel" else None)


# --------------------------------------------------------------------------------------------
# One pass of every job


# (length, length_test, sample_freq) and the frames the encoder sees: the Kuramoto rows use the
# CNN encoder, which needs at least 14
TINY_SIZES = {"springs": (1000, 2500, 100), "charged": (1000, 2500, 100), "kuramoto": (150, 300, 10)}
TINY_STEPS = {"springs": 9, "charged": 9, "kuramoto": 14}
TINY = ["dataset.test_horizon=10", "datamodule.batch_size=8", "datamodule.eval_batch_size=8", "logger=csv", "model.prediction_steps=3",
        "profile.nri.encoder_hidden=16", "profile.nri.decoder_hidden=16", "profile.supervised.hidden=16",
        "profile.lstm.hidden=16", "profile.lstm.joint_hidden=4"]


@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS)
def test_fast_dev_run_of_every_paper_job(jobs_script, block, tmp_path):
    """Every row x object count of a block under the paper profile, on tiny data (one seed)."""
    name = block.split("_")[1]
    length, length_test, freq = TINY_SIZES[name]
    data, out = tmp_path / "data", tmp_path / "out"
    for n in (5, 10):
        write_dataset(name, data, n, num_train=16, num_valid=8, num_test=8, length=length,
                      length_test=length_test, sample_freq=freq, seed=0, progress=False)
    with jobs_script.configs():
        steps = TINY_STEPS[name]
        jobs = jobs_script.block_jobs(block, "paper", [f"paths.data_dir={data}", f"profile.out_dir={out}",
                                                       "seed=1", f"dataset.train_steps={steps}",
                                                       f"dataset.test_burn_in={steps}", *TINY])
    assert len(jobs) == len({j.row for j in jobs}) * 2
    for job in jobs:
        for dep in job.deps:  # Corr. (LSTM) reads a real checkpoint: train its LSTM a step
            one = ["trainer.max_epochs=1", "++trainer.limit_train_batches=1", "++trainer.limit_val_batches=1"]
            run(compose_job([f"experiment={block}", "profile=paper", *dep.overrides, *one], dep.run_dir))
        extra = ["decoder.substeps=5"] if job.row == "nri_sim" else []
        cfg = compose_job([f"experiment={block}", "profile=paper", *job.overrides, *extra,
                           "++trainer.fast_dev_run=true"], job.run_dir)
        results = run(cfg)
        assert (job.run_dir / "metrics.json").exists(), job
        assert "test/edge_acc" in results or "test/mse_1" in results, (job, results)
