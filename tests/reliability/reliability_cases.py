"""Bad inputs and faults for the four commands, as data: what is given, what must come back.

Each :class:`Case` runs one command in a subprocess (``HYDRA_FULL_ERROR`` unset, as users have
it) inside its own folder, on tiny data made once by :func:`build_fixtures`. The test module
asserts the exit code, the message and the files left; ``python -m tests.reliability.table``
runs the same cases and writes ``docs/reliability.md``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SUFFIX = "_springs5"
# 64/32/32 simulations; 15 frames in train/valid, 25 in test
GENERATE_TINY = ["dataset=springs", "dataset.num_atoms=5", "dataset.num_train=64", "dataset.num_valid=32",
                 "dataset.num_test=32", "dataset.length=1600", "dataset.length_test=2600",
                 "dataset.sample_freq=100", "workers=1", "progress=false"]
TRAIN_TINY = ["dataset.num_train=64", "dataset.num_valid=32", "dataset.num_test=32", "dataset.length=1600",
              "dataset.length_test=2600", "dataset.train_steps=15", "dataset.test_burn_in=15",
              "dataset.test_horizon=9", "++encoder.hidden=16", "decoder.hidden=16", "datamodule.batch_size=16",
              "trainer.max_epochs=1", "trainer.enable_progress_bar=false", "model.prediction_steps=3",
              "threads=1"]


@dataclass(frozen=True)
class Fixtures:
    """Made once per session: tiny springs data, a checkpoint trained on it, a clean CSV."""

    data: Path
    ckpt: Path
    csv: Path


@dataclass(frozen=True)
class Case:
    id: str
    command: str  # generate | train | eval | infer
    given: str  # the bad input, in words (the table's first column)
    item: str  # which requirement it checks
    args: Callable[[Path, Fixtures], list[str]]  # overrides, given the case folder
    message: str  # a part of the one line that must come back
    code: int = 2
    setup: Callable[[Path, Fixtures], None] | None = None
    watched: str = "run"  # the folder (in the case folder) whose leftovers are checked
    # failures: exactly the files left there (empty: none, the folder is gone); successes: files that
    # must be among them
    left: tuple[str, ...] = ()


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    left: list[str] = field(default_factory=list)

    def errors(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if ln.startswith("error:")]

    def line(self, message: str) -> str:
        """The output line that holds ``message`` (the command's answer), or empty."""
        found = [ln for ln in (self.stderr + "\n" + self.stdout).splitlines() if message in ln]
        return found[0].strip() if found else ""


def child_env(extra_path: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HYDRA_FULL_ERROR", "NRI_DATA_DIR")}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (REPO, extra_path) if p is not None)
    return env


def run_command(command: str, args: list[str], cwd: Path, extra_path: Path | None = None,
                timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"nri.{command}", *args], cwd=cwd, env=child_env(extra_path),
                          capture_output=True, text=True, timeout=timeout)


def build_fixtures(root: Path) -> Fixtures:
    """Generate the tiny dataset, train one tiny checkpoint on it and write an input CSV."""
    root.mkdir(parents=True, exist_ok=True)
    data = root / "data"
    done = run_command("generate", [*GENERATE_TINY, f"paths.data_dir={data}",
                                    f"hydra.run.dir={root / 'generate_run'}"], root)
    assert done.returncode == 0, done.stderr
    done = run_command("train", [f"paths.data_dir={data}", *TRAIN_TINY, "logger=none", "test=false",
                                 f"hydra.run.dir={root / 'train_run'}"], root)
    assert done.returncode == 0, done.stderr
    csv = root / "input.csv"
    write_csv(csv, np.load(data / f"loc_test{SUFFIX}.npy")[0], np.load(data / f"vel_test{SUFFIX}.npy")[0])
    return Fixtures(data, root / "train_run" / "checkpoints" / "last.ckpt", csv)


def write_csv(path: Path, loc: np.ndarray, vel: np.ndarray, times: np.ndarray | None = None) -> None:
    """One sequence as the long CSV nri.infer reads. Shapes: loc, vel [T, 2, N]"""
    frames, _, objects = loc.shape
    times = np.arange(frames) if times is None else times
    rows = ["sequence,time,object,x,y,vx,vy"]
    rows += [f"0,{times[t]:g},{n}," + ",".join(f"{float(v):.17g}" for v in
                                             (loc[t, 0, n], loc[t, 1, n], vel[t, 0, n], vel[t, 1, n]))
             for t in range(frames) for n in range(objects)]
    path.write_text("\n".join(rows) + "\n")


def files_left(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def prepare_case(case: Case, base: Path, fx: Fixtures) -> dict:
    """Make the case's folder and files; returns its job for fork_runner.py."""
    folder = base / case.id
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    if case.setup is not None:
        case.setup(folder, fx)
    args = case.args(folder, fx)
    if not any(a.startswith(("hydra.run.dir=", "out_dir=")) for a in args):
        args.append(("out_dir=" if case.command == "infer" else "hydra.run.dir=") + str(folder / "run"))
    return {"command": case.command, "args": args, "cwd": str(folder),
            "stdout": str(folder / "stdout.txt"), "stderr": str(folder / "stderr.txt")}


def run_all(cases: list[Case], base: Path, fx: Fixtures) -> dict[str, Outcome]:
    """Run every case, each in its own process (forked from one interpreter: fork_runner.py)."""
    jobs = [prepare_case(case, base, fx) for case in cases]
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("fork_runner.py"))],
                          input=json.dumps(jobs), env=child_env(), capture_output=True, text=True,
                          timeout=1200)
    assert done.returncode == 0, done.stderr
    outcomes = {}
    for case, job, code in zip(cases, jobs, json.loads(done.stdout), strict=True):
        outcomes[case.id] = Outcome(code, Path(job["stdout"]).read_text(), Path(job["stderr"]).read_text(),
                                    files_left(Path(job["cwd"]) / case.watched))
    return outcomes


# ---------------------------------------------------------------------------- bad files
def copy_data(folder: Path, fx: Fixtures) -> Path:
    return Path(shutil.copytree(fx.data, folder / "data"))


def edit_array(name: str, change: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path, Fixtures], None]:
    """A setup that copies the data and rewrites ``name`` (e.g. ``edges_train``) through ``change``."""
    def setup(folder: Path, fx: Fixtures) -> None:
        path = copy_data(folder, fx) / f"{name}{SUFFIX}.npy"
        np.save(path, change(np.load(path)))
    return setup


def with_value(index: tuple, value: float) -> Callable[[np.ndarray], np.ndarray]:
    def change(array: np.ndarray) -> np.ndarray:
        array = array.copy()
        array[index] = value
        return array
    return change


def text_as_npy(name: str) -> Callable[[Path, Fixtures], None]:
    def setup(folder: Path, fx: Fixtures) -> None:
        (copy_data(folder, fx) / f"{name}{SUFFIX}.npy").write_text("sample,x,y\n0,1.0,2.0\n")
    return setup


def empty_split(split: str) -> Callable[[Path, Fixtures], None]:
    def setup(folder: Path, fx: Fixtures) -> None:
        data = copy_data(folder, fx)
        for kind in ("loc", "vel", "edges"):
            path = data / f"{kind}_{split}{SUFFIX}.npy"
            np.save(path, np.load(path)[:0])
    return setup


def truncated_ckpt(folder: Path, fx: Fixtures) -> None:
    (folder / "bad.ckpt").write_bytes(fx.ckpt.read_bytes()[:2000])


def foreign_ckpt(folder: Path, fx: Fixtures) -> None:
    import torch

    torch.save({"weights": torch.zeros(3)}, folder / "bad.ckpt")


def old_version_ckpt(folder: Path, fx: Fixtures) -> None:
    import torch

    ckpt = torch.load(fx.ckpt, map_location="cpu", weights_only=True)
    del ckpt["hyper_parameters"]["normalization"]
    torch.save(ckpt, folder / "old.ckpt")


def renamed_weights_ckpt(folder: Path, fx: Fixtures) -> None:
    import torch

    ckpt = torch.load(fx.ckpt, map_location="cpu", weights_only=True)
    ckpt["state_dict"] = {k.replace("encoder.", "edge_encoder."): v for k, v in ckpt["state_dict"].items()}
    torch.save(ckpt, folder / "old.ckpt")


def text_ckpt(folder: Path, fx: Fixtures) -> None:
    (folder / "bad.ckpt").write_text("hello\n")


def a_file_named(name: str) -> Callable[[Path, Fixtures], None]:
    def setup(folder: Path, fx: Fixtures) -> None:
        (folder / name).write_text("not a folder\n")
    return setup


def stale_temporaries(folder: Path, fx: Fixtures) -> None:
    data = copy_data(folder, fx)
    (data / f".loc_train{SUFFIX}.npy.k3j2a.tmp").write_bytes(b"\0" * 4096)
    (data / f".edges_test{SUFFIX}.npy.x81qz.tmp").write_bytes(b"\0" * 4096)


def csv_with(value: float | None = None, times: np.ndarray | None = None) -> Callable[[Path, Fixtures], None]:
    def setup(folder: Path, fx: Fixtures) -> None:
        loc = np.load(fx.data / f"loc_test{SUFFIX}.npy")[0]
        vel = np.load(fx.data / f"vel_test{SUFFIX}.npy")[0]
        if value is not None:
            loc = loc.astype(np.float64)
            loc[3, 0, 2] = value
        write_csv(folder / "input.csv", loc, vel, times)
    return setup


# ---------------------------------------------------------------------------- arguments
def train(*extra: str, data: str = "shared") -> Callable[[Path, Fixtures], list[str]]:
    """nri.train on the shared data (``data="shared"``), the case's copy (``"copy"``) or a path."""
    def args(folder: Path, fx: Fixtures) -> list[str]:
        where = {"shared": fx.data, "copy": folder / "data"}.get(data, folder / data)
        return [f"paths.data_dir={where}", *TRAIN_TINY, *(e.format(folder=folder, ckpt=fx.ckpt) for e in extra)]
    return args


def command(*extra: str) -> Callable[[Path, Fixtures], list[str]]:
    """Arguments with ``{folder}``, ``{data}``, ``{ckpt}`` and ``{csv}`` filled in."""
    def args(folder: Path, fx: Fixtures) -> list[str]:
        return [e.format(folder=folder, data=fx.data, ckpt=fx.ckpt, csv=fx.csv) for e in extra]
    return args


def generate(*extra: str) -> Callable[[Path, Fixtures], list[str]]:
    def args(folder: Path, fx: Fixtures) -> list[str]:
        return [*GENERATE_TINY, f"paths.data_dir={folder / 'data'}", *(e.format(folder=folder) for e in extra)]
    return args


VALIDATION = "validation at the boundary"
DATA = "data checks"
CKPT = "checkpoints"
LEFT = "nothing left behind"
ALREADY = "already good (kept)"

CASES: list[Case] = [
    # nri.generate
    Case("generate-one-atom", "generate", "`dataset.num_atoms=1`", ALREADY,
         generate("dataset.num_atoms=1"), "num_atoms"),
    Case("generate-negative-size", "generate", "`dataset.num_train=-5`", ALREADY,
         generate("dataset.num_train=-5"), "num_train"),
    Case("generate-unknown-dataset", "generate", "`dataset=bouncing`", ALREADY,
         command("dataset=bouncing"), "unknown dataset 'bouncing'"),
    Case("generate-data-dir-is-a-file", "generate", "`paths.data_dir` below a file (cannot be made)", LEFT,
         command(*GENERATE_TINY, "paths.data_dir={folder}/blocker/data"), "is a file, not a folder",
         setup=a_file_named("blocker")),
    Case("generate-run-dir-is-a-file", "generate", "`hydra.run.dir` below a file (read-only output)", LEFT,
         command(*GENERATE_TINY, "paths.data_dir={folder}/data", "hydra.run.dir={folder}/blocker/run"),
         "hydra.run.dir=", setup=a_file_named("blocker")),
    Case("generate-stale-temporaries", "generate",
         "a data folder with the hidden `.tmp` files of a killed generation", LEFT, generate(),
         "removed 2 temporary file(s)", code=0, setup=stale_temporaries, watched="data",
         left=tuple(sorted([f"{k}_{s}{SUFFIX}.npy" for k in ("loc", "vel", "edges")
                            for s in ("train", "valid", "test")] + [f"metadata{SUFFIX}.json"]))),
    # nri.train: config values
    Case("train-batch-size-0", "train", "`datamodule.batch_size=0`", VALIDATION,
         train("datamodule.batch_size=0"), "datamodule.batch_size=0: expected a positive batch size"),
    Case("train-edge-types-1", "train", "`dataset.edge_types=1`", VALIDATION,
         train("dataset.edge_types=1"), "dataset.edge_types=1: expected an integer >= 2"),
    Case("train-negative-num-train", "train", "`dataset.num_train=-5`", VALIDATION,
         train("dataset.num_train=-5"), "dataset.num_train=-5: expected a positive number"),
    Case("train-forecast-default-decoder", "train", "`model=forecast` with the default decoder (mlp)",
         VALIDATION, train("model=forecast"), "model.graph=none (e.g. model=forecast) with decoder=mlp"),
    Case("train-corr-lstm-no-checkpoint", "train", "`encoder=corr_lstm` without `encoder.checkpoint`",
         VALIDATION, train("encoder=corr_lstm", "model=supervised"), "encoder=corr_lstm needs encoder.checkpoint"),
    Case("train-corr-lstm-missing-checkpoint", "train", "`encoder.checkpoint` that does not exist",
         VALIDATION, train("encoder=corr_lstm", "model=supervised", "encoder.checkpoint={folder}/none.ckpt"),
         "none.ckpt: no such file"),
    Case("train-run-dir-is-a-file", "train", "`hydra.run.dir` below a file (read-only output)", LEFT,
         train("hydra.run.dir={folder}/blocker/run"), "is a file, not a folder",
         setup=a_file_named("blocker")),
    # nri.train: data files
    Case("train-missing-data", "train", "no dataset in `paths.data_dir`", DATA,
         train(data="nothing"), "dataset.num_train=64 dataset.num_valid=32 dataset.num_test=32"),
    Case("train-edge-label-7", "train", "an edge label 7 in `edges_train` (K = 2)", DATA,
         train(data="copy"), f"edges_train{SUFFIX}.npy holds edge label 7",
         setup=edit_array("edges_train", with_value((0, 0, 1), 7))),
    Case("train-one-negative-label", "train", "a single -1 in `edges_valid` (others 0/1)", DATA,
         train(data="copy"), f"edges_valid{SUFFIX}.npy holds edge label -1",
         setup=edit_array("edges_valid", with_value((2, 1, 3), -1))),
    Case("train-inf-in-vel", "train", "`inf` in `vel_valid`", DATA,
         train(data="copy"), f"vel_valid{SUFFIX}.npy contains NaN or inf",
         setup=edit_array("vel_valid", with_value((1, 2, 0, 3), np.inf))),
    Case("train-nan-in-loc", "train", "NaN in `loc_train`", ALREADY,
         train(data="copy"), f"loc_train{SUFFIX}.npy contains NaN or inf",
         setup=edit_array("loc_train", with_value((0, 0, 0, 0), np.nan))),
    Case("train-text-as-npy", "train", "a text file saved as `loc_test….npy`", DATA,
         train(data="copy"), "is not a .npy file", setup=text_as_npy("loc_test")),
    Case("train-empty-train", "train", "an empty training split (0 simulations)", DATA,
         train(data="copy"), "the train split", setup=empty_split("train")),
    Case("train-empty-valid", "train", "an empty validation split", DATA,
         train(data="copy"), "the valid split", setup=empty_split("valid")),
    Case("train-empty-test", "train", "an empty test split", DATA,
         train(data="copy"), "the test split", setup=empty_split("test")),
    Case("train-short-test", "train", "test trajectories shorter than the test protocol", DATA,
         train("dataset.test_horizon=20"), "dataset.test_horizon=20 needs 36"),
    Case("train-num-train-subset", "train", "`dataset.num_train=10` with 64 in the files", DATA,
         train("dataset.num_train=10", "logger=none", "test=false", "callbacks.model_checkpoint=null"),
         "using the first 10 of the 64 train samples", code=0, left=("metrics.json",)),
    # nri.train: resume
    Case("train-resume-truncated", "train", "resume from a truncated `.ckpt`", CKPT,
         train("ckpt_path={folder}/bad.ckpt"), "is not a checkpoint of nri", setup=truncated_ckpt),
    Case("train-resume-foreign", "train", "resume from a torch file that is no checkpoint", CKPT,
         train("ckpt_path={folder}/bad.ckpt"), "is not a checkpoint of nri", setup=foreign_ckpt),
    Case("train-resume-other-encoder", "train", "resume a `encoder=mlp` checkpoint with `encoder=cnn`", CKPT,
         train("encoder=cnn", "trainer.max_epochs=2", "ckpt_path={ckpt}"),
         "was made with encoder=mlp, this run asks for encoder=cnn"),
    Case("train-resume-other-data", "train", "resume `last.ckpt` on another data folder", CKPT,
         train("trainer.max_epochs=2", "ckpt_path={ckpt}", data="copy"), "resume with paths.data_dir=",
         setup=copy_data),
    Case("train-resume-old-version", "train", "resume from a checkpoint without normalisation constants",
         CKPT, train("ckpt_path={folder}/old.ckpt"), "was written by an incompatible version",
         setup=old_version_ckpt),
    # nri.eval
    Case("eval-missing-checkpoint", "eval", "a checkpoint that does not exist", ALREADY,
         command("ckpt_path={folder}/none.ckpt"), "does not exist"),
    Case("eval-truncated", "eval", "a truncated `.ckpt`", CKPT,
         command("ckpt_path={folder}/bad.ckpt"), "is not a checkpoint of nri", setup=truncated_ckpt),
    Case("eval-text-file", "eval", "a text file given as the checkpoint", CKPT,
         command("ckpt_path={folder}/bad.ckpt"), "is not a checkpoint of nri",
         setup=text_ckpt),
    Case("eval-old-version", "eval", "a checkpoint of an older layout (no normalisation constants)", CKPT,
         command("ckpt_path={folder}/old.ckpt"), "was written by an incompatible version",
         setup=old_version_ckpt),
    Case("eval-renamed-weights", "eval", "a checkpoint whose weight names this version does not have", CKPT,
         command("ckpt_path={folder}/old.ckpt"), "do not fit this version's model",
         setup=renamed_weights_ckpt),
    Case("eval-run-dir-is-a-file", "eval", "`hydra.run.dir` below a file (read-only output)", LEFT,
         command("ckpt_path={ckpt}", "hydra.run.dir={folder}/blocker/run"), "is a file, not a folder",
         setup=a_file_named("blocker")),
    Case("eval-checkpoint-data", "eval", "no `data_dir`: the checkpoint's data folder is used", CKPT,
         command("ckpt_path={ckpt}"), "the checkpoint's data folder", code=0, left=("metrics.json",)),
    # nri.infer
    Case("infer-1e39", "infer", "a CSV with one value of 1e39", "inference inputs",
         command("ckpt_path={ckpt}", "input={folder}/input.csv"), "value 1e+39 of feature x",
         setup=csv_with(value=1e39)),
    Case("infer-1e300", "infer", "a CSV with one value of 1e300", "inference inputs",
         command("ckpt_path={ckpt}", "input={folder}/input.csv"), "value 1e+300 of feature x",
         setup=csv_with(value=1e300)),
    Case("infer-irregular-times", "infer", "a CSV whose time stamps jump by 1000 once", "inference inputs",
         command("ckpt_path={ckpt}", "input={folder}/input.csv"), "irregular time steps (from 1 to 992)",
         code=0, setup=csv_with(times=np.r_[np.arange(10), np.arange(10, 25) + 991.0]),
         left=("README.txt", "edge_index.csv", "edge_probs.csv", "edge_probs.npy", "edge_probs.png",
               "edge_probs_mean.npy", "graph.json", "graph.png", "graph_samples.png", "samples.csv",
               "summary.json")),
    Case("infer-truncated", "infer", "a truncated `.ckpt`", CKPT,
         command("ckpt_path={folder}/bad.ckpt", "input={csv}"), "is not a checkpoint of nri",
         setup=truncated_ckpt),
    Case("infer-out-dir-is-a-file", "infer", "`out_dir` below a file (read-only output)", LEFT,
         command("ckpt_path={ckpt}", "input={csv}", "out_dir={folder}/blocker/out"), "is a file, not a folder",
         setup=a_file_named("blocker")),
    Case("infer-missing-input", "infer", "an input file that does not exist", ALREADY,
         command("ckpt_path={ckpt}", "input={folder}/none.csv"), "none.csv"),
]
