"""Own trajectories in, interaction graph out: train on dataset=custom, then nri.infer and nri.plot."""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

from nri.data.custom.prepare import prepare_from_config
from nri.data.custom.trajectories import InputError, write_long_csv
from nri.data.sim.simulate import simulate_springs
from nri.infer import infer
from nri.plot import main as plot_main
from nri.plot import plot_run
from nri.train import run

ROOT = Path(__file__).resolve().parents[1]
FEATURES = ["x", "y", "vx", "vy"]
N, FRAMES, K = 4, 20, 2
E = N * (N - 1)
TINY = ["encoder.hidden=16", "decoder.hidden=16", "trainer.max_epochs=2", "datamodule.batch_size=32",
        "model.prediction_steps=3", "dataset.window=12", "dataset.stride=4", "dataset.train_steps=9"]
PNG = b"\x89PNG\r\n\x1a\n"


def compose_cfg(name: str, overrides: list[str], run_dir: Path):
    """Compose ``conf/<name>.yaml`` as the command line would; ``${hydra:…}`` gives ``run_dir``."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(name, overrides=[*overrides, f"hydra.run.dir={run_dir}"], return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(run_dir)
    HydraConfig.instance().set_config(cfg)
    return cfg


def train_calls_prepare() -> bool:
    """Whether ``python -m nri.train dataset=custom`` prepares the data itself."""
    sources = [ROOT / "nri" / name for name in ("train.py", "build.py", "data/datamodule.py",
                                                "data/sources.py")]
    return any(re.search(r"prepare_from_config|dataset_fields", p.read_text())
               for p in sources if p.is_file())


needs_train_hook = pytest.mark.skipif(not train_calls_prepare(),
                                      reason="nri.train does not fill dataset=custom keys from the data yet "
                                             "(nri.data.custom.prepare.prepare_from_config)")


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    """Springs trajectories as a long CSV without labels, and as .npy with a separate labels file."""
    folder = tmp_path_factory.mktemp("system")
    loc, vel, edges = simulate_springs(24, N, (FRAMES + 1) * 100, 100, np.random.default_rng(0))
    x = np.concatenate([loc, vel], axis=2).transpose(0, 3, 1, 2)  # [S, T, 4, N] -> [S, N, T, 4]
    write_long_csv(folder / "system.csv", x, FEATURES)
    np.save(folder / "system.npy", x)
    np.save(folder / "system_edges.npy", edges)
    return {"dir": folder, "x": x, "edges": edges}


def train(folder: Path, name: str, *overrides: str) -> Path:
    run_dir = folder / name
    cfg = compose_cfg("train", ["dataset=custom", f"paths.data_dir={folder / 'data'}", *TINY, *overrides],
                      run_dir)
    prepare_from_config(cfg)
    run(cfg)
    return run_dir


@pytest.fixture(scope="module")
def csv_run(system):
    return train(system["dir"], "csv_run", f"dataset.path={system['dir'] / 'system.csv'}")


@pytest.fixture(scope="module")
def npy_run(system):
    d = system["dir"]
    return train(d, "npy_run", f"dataset.path={d / 'system.npy'}",
                 f"dataset.edges_path={d / 'system_edges.npy'}", "model.skip_first=false")


def infer_cfg(run_dir: Path, input_path: Path, out_dir: Path, *overrides: str):
    return compose_cfg("infer", [f"ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}",
                                 f"input={input_path}", f"out_dir={out_dir}", *overrides], out_dir)


def read_probability_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_csv_without_labels_trains_and_infers(system, csv_run, tmp_path):
    results = json.loads((csv_run / "metrics.json").read_text())
    assert results["dataset"]["has_edges"] is False and results["dataset"]["num_atoms"] == N
    assert not any("edge_acc" in k or "auroc" in k for k in results["metrics"])  # skipped, not faked
    assert "test/mse_1" in results["metrics"]

    out = tmp_path / "infer"
    files = infer(infer_cfg(csv_run, system["dir"] / "system.csv", out, "rollout=2"))
    expected = {"edge_probs.csv", "edge_probs.npy", "edge_probs_mean.npy", "graph.json", "graph.png",
                "graph_samples.png", "edge_probs.png", "samples.csv", "edge_index.csv", "summary.json",
                "README.txt", "rollout.npy", "rollout.png"}
    assert set(files) == expected and {p.name for p in out.iterdir()} == expected
    w = len(system["x"])  # one window of 9 + 2 frames per 20-frame sequence
    prob = np.load(out / "edge_probs.npy")
    assert prob.shape == (w, E, K)
    np.testing.assert_allclose(prob.sum(-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.load(out / "edge_probs_mean.npy"), prob.mean(0))
    rows = read_probability_csv(out / "edge_probs.csv")
    assert len(rows) == (w + 1) * E
    assert list(rows[0]) == ["sample", "sender", "receiver", "p_type0", "p_type1"]
    for row in rows:
        assert abs(float(row["p_type0"]) + float(row["p_type1"]) - 1.0) < 1e-4
    assert [r["sample"] for r in rows[-E:]] == ["mean"] * E
    assert (rows[0]["sender"], rows[0]["receiver"]) == ("1", "0")  # edge 0: receiver 0, sender 1

    graph = json.loads((out / "graph.json").read_text())
    assert graph["edge_type_identity"]["meaning"]["0"] == "no interaction"
    assert all(e["type"] != 0 and set(e) == {"sender", "receiver", "type", "prob"} for e in graph["edges"])
    assert len(graph["samples"]) == w
    assert "no interaction" in (out / "README.txt").read_text()
    rollout = np.load(out / "rollout.npy")
    assert rollout.shape == (w, N, 2, 4)
    # physical units: the forecast stays on the data's scale, not in [-1, 1]
    assert np.abs(rollout - system["x"][:, :, 9:11]).mean() < np.abs(system["x"]).mean()
    for png in ("graph.png", "graph_samples.png", "edge_probs.png", "rollout.png"):
        assert (out / png).read_bytes()[:8] == PNG
    assert len((out / "samples.csv").read_text().splitlines()) == w + 1


def test_npy_with_labels_reports_the_matching_permutation(system, npy_run, tmp_path):
    results = json.loads((npy_run / "metrics.json").read_text())
    assert "test/edge_acc" in results["metrics"]
    out = tmp_path / "infer"
    np.savez(tmp_path / "with_labels.npz", trajectories=system["x"], edges=system["edges"])
    infer(infer_cfg(npy_run, tmp_path / "with_labels.npz", out, "stride=5"))
    prob = np.load(out / "edge_probs.npy")
    assert prob.shape == (len(system["x"]) * 3, E, K)  # windows of 9 frames start at 0, 5, 10
    identity = json.loads((out / "summary.json").read_text())["edge_type_identity"]
    assert identity["skip_first"] is False and "unordered" in identity["note"]
    labels = identity["labels"]
    assert sorted(labels["best_permutation"].values()) == [0, 1]
    assert labels["accuracy_best_permutation"] >= labels["accuracy"] - 1e-12
    graph = json.loads((out / "graph.json").read_text())
    assert len(graph["edges"]) == E  # without skip_first every edge is listed with its type
    readme = (out / "README.txt").read_text()
    assert "unordered" in readme and "best matching" in readme


def test_infer_rejects_inputs_the_checkpoint_cannot_read(system, csv_run, tmp_path):
    x = system["x"]
    cases = {
        "three features": (x[..., :3], (),
                           "trained on 4 features per object (x, y, vx, vy) but the input gives 3"),
        "short sequences": (x[:, :, :8], (), "has 8 frames, fewer than the window of 9"),
        "rollout too long": (x, ("rollout=15",), "has 20 frames, fewer than the window of 24"),
        "one object": (x[:, :1], (), "at least 2"),
    }
    for name, (array, extra, message) in cases.items():
        np.save(tmp_path / "bad.npy", array)
        out = tmp_path / name
        with pytest.raises(InputError, match=re.escape(message)):
            infer(infer_cfg(csv_run, tmp_path / "bad.npy", out, *extra))
        assert not out.exists()
    with pytest.raises(InputError, match="no such checkpoint"):
        infer(infer_cfg(tmp_path, system["dir"] / "system.csv", tmp_path / "o"))


def run_module(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"}, timeout=600)


def test_infer_command_line_error(system, csv_run, tmp_path):
    bad = tmp_path / "ragged.csv"
    lines = (system["dir"] / "system.csv").read_text().splitlines()
    bad.write_text("\n".join(lines[:10] + lines[11:]) + "\n")
    proc = run_module("nri.infer", f"ckpt_path={csv_run / 'checkpoints' / 'best.ckpt'}", f"input={bad}",
                      cwd=tmp_path)
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "ragged data" in errors[0], proc.stderr
    runs = tmp_path / "outputs" / "infer" / "runs"
    assert not runs.exists() or not any(runs.iterdir())


@pytest.mark.slow
def test_infer_command_line(system, csv_run, tmp_path):
    proc = run_module("nri.infer", f"ckpt_path={csv_run / 'checkpoints' / 'best.ckpt'}",
                      f"input={system['dir'] / 'system.csv'}", "rollout=3", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = (tmp_path / "outputs" / "infer" / "runs").iterdir()
    assert json.loads((run_dir / "summary.json").read_text())["rollout"]["frames"] == 3


def test_plot_run(system, csv_run, npy_run, tmp_path, capsys):
    data_dir = system["dir"] / "data"
    written = plot_run(csv_run, out_dir=tmp_path / "p1", data_dir=data_dir, samples=2)
    assert sorted(p.name for p in written) == ["graphs.png", "learning_curves.png", "trajectories.png"]
    assert all(p.read_bytes()[:8] == PNG for p in written)
    assert len(plot_run(npy_run, data_dir=data_dir)) == 3
    assert (npy_run / "plots" / "graphs.png").is_file()
    with pytest.raises(SystemExit) as info:
        plot_main([f"run_dir={tmp_path / 'missing'}"])
    assert info.value.code == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert not (tmp_path / "missing").exists()


# ---------------------------------------------------------------------- the documented example
DOC = ROOT / "README.md"
SMALL = {  # the documented commands, shrunk for a test
    "scripts/springs_to_csv.py": ["--sequences", "24", "--frames", "20"],
    "nri.train": ["dataset.window=12", "dataset.train_steps=9", "trainer.max_epochs=1",
                  "encoder.hidden=16", "decoder.hidden=16"],
    "nri.infer": ["rollout=2"],
}


def documented_commands() -> list[list[str]]:
    """The shell commands between the example markers of README.md."""
    text = DOC.read_text()
    block = text.split("<!-- example:start -->")[1].split("<!-- example:end -->")[0]
    body = "\n".join(line for line in block.splitlines() if not line.startswith("```"))
    body = body.replace("\\\n", " ")
    return [shlex.split(line) for line in body.splitlines() if line.strip() and not line.startswith("#")]


def shrink(cmd: list[str]) -> list[str]:
    """Replace python by this interpreter, point scripts/ at the repo, and apply SMALL's values."""
    out = [sys.executable if cmd[0] == "python" else cmd[0]]
    out += [str(ROOT / a) if a.startswith("scripts/") else a for a in cmd[1:]]
    for key, extra in SMALL.items():
        if key in cmd:
            given = {a.split("=")[0] for a in extra if "=" in a}
            out = [a for a in out if a.split("=")[0] not in given] + extra
    return out


def test_documented_commands_are_the_ones_tested():
    cmds = documented_commands()
    assert [c[1:3] for c in cmds] == [["scripts/springs_to_csv.py", "data/my_system.csv"],
                                      ["-m", "nri.train"], ["-m", "nri.infer"], ["-m", "nri.plot"]]


@pytest.mark.slow
@needs_train_hook
def test_documented_example_runs(tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env.pop("NRI_DATA_DIR", None)  # the commands' relative data/ must land in tmp_path
    for cmd in documented_commands():
        proc = subprocess.run(shrink(cmd), cwd=tmp_path, capture_output=True, text=True, env=env,
                              timeout=600)
        assert proc.returncode == 0, f"{shlex.join(cmd)}\n{proc.stderr[-3000:]}"
    infer_dir = tmp_path / "outputs" / "my_system" / "infer"
    assert (infer_dir / "graph.png").is_file() and (infer_dir / "rollout.npy").is_file()
    summary = json.loads((infer_dir / "summary.json").read_text())
    assert "labels" in summary["edge_type_identity"]
    assert {p.name for p in (tmp_path / "outputs" / "my_system" / "plots").iterdir()} == {
        "learning_curves.png", "trajectories.png", "graphs.png"}


@needs_train_hook
def test_train_command_rejects_bad_data_with_one_line(tmp_path):
    (tmp_path / "bad.csv").write_text("sequence,time,object,x\n0,0,0,1\n0,0,1,2\n0,1,0,3\n")
    proc = run_module("nri.train", "dataset=custom", "dataset.path=bad.csv", "hydra.run.dir=run",
                      cwd=tmp_path)
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "ragged data" in errors[0], proc.stderr
    assert not (tmp_path / "data").exists()


def test_public_api_gives_what_nri_infer_writes(system, npy_run, tmp_path):
    import nri

    model = nri.load_model(npy_run / "checkpoints" / "best.ckpt")
    x = system["x"]  # [S, N, 20, 4]; the encoder reads the first train_steps = 9 frames
    prob = nri.infer_graph(model, x)
    assert prob.shape == (len(x), E, K)
    np.testing.assert_allclose(prob.sum(-1), 1.0, atol=1e-6)
    # one [N, T, D] sequence: the same numbers up to float32 rounding (a batch of 1 may take another kernel)
    np.testing.assert_allclose(nri.infer_graph(model, x[0]), prob[:1], rtol=1e-5, atol=1e-7)

    out = tmp_path / "infer"
    infer(infer_cfg(npy_run, system["dir"] / "system.npy", out))
    rows = read_probability_csv(out / "samples.csv")
    first = [int(r["sample"]) for r in rows if r["first_frame"] == "0"]  # each sequence's first window
    np.testing.assert_allclose(np.load(out / "edge_probs.npy")[first], prob, rtol=1e-5, atol=1e-7)

    with pytest.raises(InputError, match=r"T >= 9 frames and D = 4"):
        nri.infer_graph(model, x[:, :, :5])
    with pytest.raises(InputError, match="no such checkpoint"):
        nri.load_model(tmp_path / "missing.ckpt")


def test_plot_help_prints_the_usage_and_the_options(capsys):
    plot_main(["--help"])
    out = capsys.readouterr().out
    assert out.startswith("Pictures of a training run") and "'run_dir': '???'" in out


def test_infer_summary_names_the_input_the_strongest_edges_and_the_files(system, npy_run, tmp_path):
    from nri.infer_report import infer_summary

    out = tmp_path / "infer"
    files = infer(infer_cfg(npy_run, system["dir"] / "system.npy", out,
                            f"edges={system['dir'] / 'system_edges.npy'}", "rollout=2"))
    text = infer_summary(out, files, top=5)
    lines = text.splitlines()
    assert lines[0].startswith(f"[nri] input {system['dir'] / 'system.npy'}: {N} objects, "
                               f"{len(system['x'])} samples of 11 frames (the encoder reads 9)")
    edges = [line.split() for line in lines if " -> " in line]
    assert len(edges) == 5
    strengths = [float(e[3]) for e in edges]
    assert strengths == sorted(strengths, reverse=True)
    mean = np.load(out / "edge_probs_mean.npy")  # skip_first=false: the most likely type's probability
    assert strengths[0] == pytest.approx(mean.max(), abs=5e-4)
    assert any(line.startswith("[nri] against the given edges: accuracy ") for line in lines)
    assert lines[-1].startswith(f"[nri] wrote {len(files)} files to {out}: README.txt, ")


def test_graph_is_drawn_on_a_circle_when_positions_carry_no_structure():
    from nri.viz import infer as viz

    rng = np.random.default_rng(0)
    spread = viz.circle_positions(5) * 2.0
    centred = rng.normal(scale=0.01, size=(5, 2))  # every object averages to the middle
    assert viz.positions_carry_structure(spread, extent=4.0)
    assert not viz.positions_carry_structure(centred, extent=4.0)
    assert viz.positions_carry_structure(centred, extent=None)  # no range to compare with
    crowded = np.array([[0.0, 0.0], [0.001, 0.0], [1.0, 1.0], [2.0, 0.0], [0.0, 2.0]])
    assert not viz.positions_carry_structure(crowded, extent=None)  # two nodes on top of each other
    prob = np.full((20, 2), 0.5)
    on_circle = viz.graph_figure(prob, centred, list(range(5)), True, "t", ["x", "y"], extent=4.0)
    at_positions = viz.graph_figure(prob, spread, list(range(5)), True, "t", ["x", "y"], extent=4.0)
    assert not on_circle.axes[0].axison and at_positions.axes[0].get_xlabel() == "mean x"
    panels = viz.graphs_figure(np.stack([prob, prob]), np.stack([centred, spread]), list(range(5)), True,
                               ["a", "b"], ["x", "y"], extents=[4.0, 4.0])
    assert [ax.axison for ax in panels.axes[:2]] == [False, True]


def test_learning_curves_put_a_split_of_another_scale_on_its_own_axis():
    from nri.viz import infer as viz

    epochs = np.arange(5.0)
    curves = {"mse": {"train": (epochs, np.linspace(1e-2, 1e-3, 5)), "val": (epochs, np.linspace(3e-5, 2e-5, 5))},
              "edge_acc": {"train": (epochs, np.linspace(0.5, 0.9, 5)), "val": (epochs, np.linspace(0.5, 0.8, 5))}}
    fig = viz.learning_curves_figure(curves)
    mse_ax, acc_ax = fig.axes[0], fig.axes[1]
    twins = [ax for ax in fig.axes[2:] if ax.get_ylabel() == "val"]  # the right-hand axes come last
    assert len(twins) == 1 and mse_ax.get_ylabel() == "train" and acc_ax.get_ylabel() == ""
    ((_, val_values),) = [line.get_data() for line in twins[0].get_lines()]
    np.testing.assert_allclose(val_values, curves["mse"]["val"][1])
