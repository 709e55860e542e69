"""LightningDataModule over the .npy datasets that nri.generate (and the real-data preparers) write.

Two on-disk formats, both in the reference layout:

- ``locvel``: ``loc_{split}{suffix}.npy`` and ``vel_…`` [S, T, d, N]; loc and vel are each scaled to
  [-1, 1] with the scalar min/max of the training split (the reference's normalisation).
- ``feat``: ``feat_{split}{suffix}.npy`` [S, N, T, D]; each feature dimension is scaled to [-1, 1]
  with its own training min/max.

Edge labels ``edges_{split}{suffix}.npy`` [S, N, N] are optional; their off-diagonal entries, read
row-major (receiver = row), become [S, E] integer labels in [0, edge_types). A split whose labels
are all -1 or 1 is the charged simulation's product of charges and is mapped to {0, 1}; any other
negative or too large label is refused, naming the file. A dataset drawn on a sparse graph family
(``dataset.graph`` other than ``dense``) has edge lists ``edge_index_{split}{suffix}.npy``
[S, 2, M_max] instead (nri/data/sim/sparse_edges.py); batches then carry ``edge_index``
[B, 2, M_max] (row 0 receivers, row 1 senders, -1 padding) in place of ``edges``.

``dataset.num_train`` / ``num_valid`` / ``num_test`` smaller than a split's files select its first
samples; the sizes used travel in the checkpoint with the data folder and the normalisation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from nri.data.device_batches import DeviceBatches
from nri.data.errors import DatasetError
from nri.data.normalization import apply_normalization, fit_normalization
from nri.data.sim.sparse_edges import EDGE_INDEX_KIND
from nri.data.sources import prepare

SPLITS = ("train", "valid", "test")
SPLIT_SIZE_KEYS = {"train": "num_train", "valid": "num_valid", "test": "num_test"}
GENERATION_SIZES = ("num_train", "num_valid", "num_test", "length", "length_test", "sample_freq")
NPY_MAGIC = b"\x93NUMPY"


class TensorBatches(Dataset):
    """Samples held as tensors; ``__getitems__`` lets the DataLoader slice a whole batch at once.

    ``extras`` are per-sample tensors carried into the batch under their keys: ``edges`` (dense
    labels), ``edge_index`` (edge lists), ``candidate_index`` (given candidate edges).

    Shapes: x [S, N, T, D]; edges [S, E]; edge_index, candidate_index [S, 2, M_max]
    """

    def __init__(self, x: torch.Tensor, edges: torch.Tensor | None,
                 extras: dict[str, torch.Tensor] | None = None):
        self.x = x
        self.extras = dict(extras or {})
        if edges is not None:
            self.extras["edges"] = edges

    @property
    def edges(self) -> torch.Tensor | None:
        return self.extras.get("edges")

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.__getitems__([i])

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        idx = torch.as_tensor(indices, device=self.x.device)
        return {"x": self.x[idx], **{key: value[idx] for key, value in self.extras.items()}}

    def to(self, device: torch.device) -> TensorBatches:
        return TensorBatches(self.x.to(device), None,
                             {key: value.to(device) for key, value in self.extras.items()})


def _batch_collate(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return batch


def generate_hint(dataset: dict[str, Any]) -> str:
    name = dataset["name"]
    if name == "custom":
        return f"python -m nri.train dataset=custom dataset.path={dataset['path']}"
    if name in ("motion", "sports"):
        return f"python -m nri.generate dataset={name}"
    # the sizes too: nri.generate refuses a folder whose dataset was made with other ones
    sizes = "".join(f" dataset.{key}={dataset[key]}" for key in GENERATION_SIZES if key in dataset)
    return f"python -m nri.generate dataset={name} dataset.num_atoms={dataset['num_atoms']}{sizes}"


def _load(path: Path, dataset: dict[str, Any]) -> np.ndarray:
    if not path.exists():
        raise DatasetError(f"missing data file {path}; make the dataset with `{generate_hint(dataset)}` "
                           f"(add paths.data_dir={path.parent} if it lives elsewhere)")
    with open(path, "rb") as fh:
        if fh.read(len(NPY_MAGIC)) != NPY_MAGIC:
            raise DatasetError(f"{path} is not a .npy file (no NumPy header); regenerate it with "
                               f"`{generate_hint(dataset)}`")
    try:
        return np.load(path, allow_pickle=False)
    except Exception as err:  # corrupt or truncated file
        raise DatasetError(f"cannot read {path}: {str(err).splitlines()[0]}") from err


def edge_labels(adj: np.ndarray) -> np.ndarray:
    """Off-diagonal entries in edge order, as int64 labels.

    The charged simulation writes the product of two charges, -1 or 1; a split whose labels are
    all -1 or 1 (with at least one -1) is read as that convention, (x + 1) / 2. Every other
    split is read as it is (:func:`check_edge_labels` refuses what cannot be a label).

    Shapes: adj [S, N, N] -> [S, N(N-1)]
    """
    n = adj.shape[-1]
    off_diag = ~np.eye(n, dtype=bool)
    flat = adj[:, off_diag]  # row-major: receiver i, sender j
    if charge_products(flat):
        flat = (flat + 1) / 2
    return np.rint(flat).astype(np.int64)


def has_edge_lists(dataset: dict[str, Any]) -> bool:
    """Whether the dataset's labels are edge lists (a sparse graph family) rather than [S, N, N]."""
    return "graph" in dataset and dataset["graph"] != "dense"


def _read_edge_lists(path: Path, dataset: dict[str, Any], num_sims: int) -> np.ndarray:
    """The first ``num_sims`` edge lists of a file with at least that many.

    Shapes: -> [S, 2, M_max] int64 (receivers, senders; -1 padding)
    """
    lists = _load(path, dataset)
    n = int(dataset["num_atoms"])
    if lists.ndim != 3 or lists.shape[0] < num_sims or lists.shape[1] != 2 or lists.dtype.kind != "i":
        raise DatasetError(f"{path} has shape {lists.shape} and dtype {lists.dtype}; expected "
                           f"integer edge lists [{num_sims}, 2, M_max]")
    lists = lists[:num_sims]
    if lists.size and (lists.min() < -1 or lists.max() >= n):
        raise DatasetError(f"{path} names objects outside [0, {n}) (or padding other than -1)")
    return lists.astype(np.int64, copy=False)


def charge_products(flat: np.ndarray) -> bool:
    """Whether labels follow the charged convention: every value -1 or 1, some -1."""
    return bool(flat.size) and bool(np.isin(flat, (-1, 1)).all()) and bool((flat == -1).any())


def check_edge_labels(adj: np.ndarray, path: Path, edge_types: int) -> None:
    """Refuse labels that are not integers in [0, edge_types) (after the charged convention).

    Shapes: adj [S, N, N]
    """
    off_diag = ~np.eye(adj.shape[-1], dtype=bool)
    flat = adj[:, off_diag]
    if not flat.size or charge_products(flat):
        return
    if not np.isfinite(flat).all() or (flat != np.rint(flat)).any():
        raise DatasetError(f"{path} holds edge labels that are not whole numbers; labels are types "
                           f"0..{edge_types - 1}")
    low, high = flat.min(), flat.max()
    if low < 0 or high >= edge_types:
        bad = low if low < 0 else high
        raise DatasetError(f"{path} holds edge label {bad:g} but dataset.edge_types={edge_types} allows "
                           f"0..{edge_types - 1} (or all -1/1 for charge products); fix the labels or "
                           "set dataset.edge_types")


def check_finite(feats: np.ndarray, source: Path | tuple[Path, Path]) -> None:
    """Refuse NaN or inf, naming the file that holds it (loc or vel for the locvel format).

    Shapes: feats [S, N, T, D]; with two files, the first D/2 features come from the first
    """
    bad = ~np.isfinite(feats)
    if not bad.any():
        return
    if isinstance(source, tuple):
        half = feats.shape[-1] // 2
        source = source[0] if bad[..., :half].any() else source[1]
    samples = int(bad.any(axis=(1, 2, 3)).sum())
    raise DatasetError(f"{source} contains NaN or inf in {samples} sample(s); regenerate or clean it")


def read_split(data_dir: Path, split: str, dataset: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None]:
    """Read one split as unscaled features and edges, checking shapes and values.

    Shapes: -> features [S, N, T, D] (float32), edges [S, N, N] (edge lists: [S, 2, M_max]) or None
    """
    suffix = dataset["suffix"]
    fmt = dataset["format"]
    n_expected = int(dataset["num_atoms"])
    if fmt == "locvel":
        loc_path = data_dir / f"loc_{split}{suffix}.npy"
        vel_path = data_dir / f"vel_{split}{suffix}.npy"
        loc, vel = _load(loc_path, dataset), _load(vel_path, dataset)
        for arr, path in ((loc, loc_path), (vel, vel_path)):
            if arr.ndim != 4:
                raise DatasetError(f"{path} has shape {arr.shape}; expected [S, T, d, N] (4 dims)")
        if loc.shape != vel.shape:
            raise DatasetError(f"{loc_path} has shape {loc.shape} but {vel_path} has {vel.shape}; "
                               "they must match")
        if loc.shape[-1] != n_expected:
            raise DatasetError(f"{loc_path} has {loc.shape[-1]} objects (shape {loc.shape}, [S, T, d, N]) "
                               f"but dataset.num_atoms={n_expected}")
        feats = np.concatenate([loc, vel], axis=2).transpose(0, 3, 1, 2)  # [S,T,2d,N] -> [S,N,T,2d]
        first = loc_path
    elif fmt == "feat":
        first = data_dir / f"feat_{split}{suffix}.npy"
        feats = _load(first, dataset)
        if feats.ndim != 4:
            raise DatasetError(f"{first} has shape {feats.shape}; expected [S, N, T, D] (4 dims)")
        if feats.shape[1] != n_expected:
            raise DatasetError(f"{first} has {feats.shape[1]} objects (shape {feats.shape}, [S, N, T, D]) "
                               f"but dataset.num_atoms={n_expected}")
    else:
        raise DatasetError(f"unknown dataset.format {fmt!r}; use locvel or feat")
    if feats.shape[-1] != int(dataset["dims"]):
        raise DatasetError(f"{first} gives {feats.shape[-1]} features per object but dataset.dims="
                           f"{dataset['dims']}")
    if not np.issubdtype(feats.dtype, np.floating):
        raise DatasetError(f"{first} has dtype {feats.dtype}; expected floating point")
    check_finite(feats, first if fmt == "feat" else (loc_path, vel_path))
    edges = None
    edge_path = data_dir / f"edges_{split}{suffix}.npy"
    if dataset["has_edges"] and has_edge_lists(dataset):
        edges = _read_edge_lists(data_dir / f"{EDGE_INDEX_KIND}_{split}{suffix}.npy", dataset,
                                 feats.shape[0])
    elif dataset["has_edges"]:
        edges = _load(edge_path, dataset)
        if edges.shape != (feats.shape[0], n_expected, n_expected):
            raise DatasetError(f"{edge_path} has shape {edges.shape}; expected "
                               f"{(feats.shape[0], n_expected, n_expected)} [S, N, N]")
        check_edge_labels(edges, edge_path, int(dataset["edge_types"]))
    return feats.astype(np.float32, copy=False), edges


class NRIDataModule(pl.LightningDataModule):
    """Train/valid/test loaders of scaled features ``x`` [B, N, T, D] and labels ``edges`` [B, E]."""

    def __init__(self, dataset: dict[str, Any], data_dir: str, batch_size: int = 128,
                 eval_batch_size: int | None = None, shuffle: bool = True, num_workers: int = 0,
                 data_on_device: bool = False, train_fraction: float = 1.0,
                 normalization: dict[str, Any] | None = None, real_data_dir: str | None = None,
                 memory_budget_mb: float | None = None, candidate_lists: str | None = None):
        super().__init__()
        self.ds = dict(dataset)
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.batch_size = int(batch_size)
        self.eval_batch_size = int(eval_batch_size or batch_size)
        self.shuffle = shuffle
        self.num_workers = num_workers
        self.data_on_device = data_on_device
        self.train_fraction = float(train_fraction)
        # given (e.g. from a checkpoint) or fitted on the training split in setup()
        self.normalization: dict[str, Any] | None = normalization
        self.splits: dict[str, TensorBatches] = {}
        self.sizes: dict[str, int] = {}  # samples used per split, filled by load()
        # whether some training graph has an edge (i, j) of another type than (j, i); None: no
        # dense edge labels to tell (filled by load())
        self.directed_edges: bool | None = None
        self.real_data_dir = real_data_dir
        self.memory_budget_mb = memory_budget_mb  # None: evaluate in batches of eval_batch_size
        # file prefix of per-sample candidate edge lists [S, 2, M_max] (model.candidates=given)
        self.candidate_lists = candidate_lists

    def prepare_data(self) -> None:
        """Datasets made from files (motion, sports, custom) are prepared once and cached."""
        prepare(self.ds, self.real_data_dir, self.data_dir)

    def check_files(self) -> None:
        """Fail early, naming the command that makes the data, if a split is missing."""
        fmt = self.ds["format"]
        prefixes = ["loc", "vel"] if fmt == "locvel" else ["feat"]
        if self.ds["has_edges"]:
            prefixes.append(EDGE_INDEX_KIND if has_edge_lists(self.ds) else "edges")
        if self.candidate_lists:
            prefixes.append(self.candidate_lists)
        for split in SPLITS:
            for p in prefixes:
                path = self.data_dir / f"{p}_{split}{self.ds['suffix']}.npy"
                if not path.exists():
                    raise DatasetError(f"missing data file {path}; make the dataset with "
                                       f"`{generate_hint(self.ds)}` (or set paths.data_dir)")

    def setup(self, stage: str | None = None) -> None:
        if not self.splits:
            self.load()
        if self.data_on_device and self.trainer is not None:
            device = self.trainer.strategy.root_device
            self.splits = {k: v.to(device) for k, v in self.splits.items()}

    def load(self) -> None:
        """Read, check and scale all splits into memory."""
        self.check_files()
        raw = {s: self.first_samples(s, *read_split(self.data_dir, s, self.ds)) for s in SPLITS}
        train_x = raw["train"][0]
        if self.train_fraction < 1.0:
            keep = max(1, int(round(train_x.shape[0] * self.train_fraction)))
            raw["train"] = (train_x[:keep], None if raw["train"][1] is None else raw["train"][1][:keep])
        self.sizes = {split: int(feats.shape[0]) for split, (feats, _) in raw.items()}
        train_edges = raw["train"][1]
        if train_edges is not None and not has_edge_lists(self.ds):
            self.directed_edges = bool((train_edges != np.swapaxes(train_edges, 1, 2)).any())
        if self.normalization is None:
            self.normalization = fit_normalization(raw["train"][0], self.ds)
        self.check_protocol({split: feats.shape[2] for split, (feats, _) in raw.items()})
        for split, (feats, edges) in raw.items():
            x = torch.from_numpy(apply_normalization(feats, self.normalization, self.ds))
            extras = {}
            if edges is not None and has_edge_lists(self.ds):
                extras[EDGE_INDEX_KIND] = torch.from_numpy(edges)
            elif edges is not None:
                extras["edges"] = torch.from_numpy(edge_labels(edges))
            if self.candidate_lists:
                path = self.data_dir / f"{self.candidate_lists}_{split}{self.ds['suffix']}.npy"
                extras["candidate_index"] = torch.from_numpy(_read_edge_lists(path, self.ds, x.shape[0]))
            self.splits[split] = TensorBatches(x, None, extras)

    def first_samples(self, split: str, feats: np.ndarray, edges: np.ndarray | None
                      ) -> tuple[np.ndarray, np.ndarray | None]:
        """The first ``dataset.num_<split>`` samples when the files hold more; an empty split is refused.

        Shapes: feats [S, N, T, D], edges [S, N, N] or None -> the same with S <= num_<split>
        """
        key = SPLIT_SIZE_KEYS[split]
        held = feats.shape[0]
        if held == 0:
            raise DatasetError(f"the {split} split in {self.data_dir} (suffix {self.ds['suffix']}) holds no "
                               f"samples; {split} needs at least one (regenerate with `"
                               f"{generate_hint(self.ds)}`)")
        wanted = self.ds.get(key)  # only simulated datasets state their sizes
        if wanted is None or int(wanted) == held:
            return feats, edges
        if int(wanted) > held:
            print(f"[nri] dataset.{key}={wanted} but the {split} files in {self.data_dir} hold {held} "
                  f"samples: using all {held} (the checkpoint records the sizes used)")
            return feats, edges
        print(f"[nri] dataset.{key}={wanted}: using the first {wanted} of the {held} {split} samples "
              f"in {self.data_dir}")
        return feats[: int(wanted)], None if edges is None else edges[: int(wanted)]

    def check_protocol(self, frames: dict[str, int]) -> None:
        """Trajectories long enough for the training window and the test protocol (before training)."""
        for split, count in frames.items():
            if count < self.ds["train_steps"]:
                raise DatasetError(f"{split} trajectories in {self.data_dir} have {count} frames but "
                                   f"dataset.train_steps={self.ds['train_steps']}")
        burn_in, horizon = self.ds["test_burn_in"], self.ds["test_horizon"]
        if horizon is not None and frames["test"] < burn_in + horizon + 1:
            raise DatasetError(f"test trajectories in {self.data_dir} have {frames['test']} frames but "
                               f"dataset.test_burn_in={burn_in} + dataset.test_horizon={horizon} needs "
                               f"{burn_in + horizon + 1}; lower them or generate longer test trajectories")

    def _loader(self, split: str, shuffle: bool, batch_size: int) -> DataLoader:
        return DataLoader(self.splits[split], batch_size=batch_size, shuffle=shuffle,
                          collate_fn=_batch_collate, num_workers=self.num_workers,
                          persistent_workers=self.num_workers > 0)

    def train_dataloader(self) -> DataLoader | DeviceBatches:
        if self.data_on_device and self.splits["train"].x.device.type != "cpu":
            return self.device_batches()
        return self._loader("train", self.shuffle, self.batch_size)

    def device_batches(self) -> DeviceBatches:
        """Training batches drawn on the data's device, this process's shard under DDP."""
        world, rank = (self.trainer.world_size, self.trainer.global_rank) if self.trainer else (1, 0)
        return DeviceBatches(self.splits["train"], self.batch_size, self.shuffle, num_shards=world, shard=rank)

    def val_dataloader(self) -> DataLoader:
        return self._loader("valid", False, self.evaluation_batch_size("valid"))

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False, self.evaluation_batch_size("test"))

    def evaluation_batch_size(self, split: str) -> int:
        """``eval_batch_size``, lowered to fit ``memory_budget_mb`` for the trainer's model."""
        module = self.trainer.lightning_module if self.trainer is not None else None
        if self.memory_budget_mb is None or module is None:
            return self.eval_batch_size
        from nri.eval_budget import batch_within_budget

        return batch_within_budget(module, self.splits[split], split, self.memory_budget_mb, self.eval_batch_size)

    def state_dict(self) -> dict[str, Any]:
        """Saved in checkpoints: resume and nri.eval read the data folder and the sizes used from it."""
        return {"normalization": self.normalization, "data_dir": str(self.data_dir), "sizes": self.sizes}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from a checkpoint; data already scaled with other constants is refused (a resume on
        data that changed since the checkpoint would mix two normalisations)."""
        saved = state.get("normalization")
        if saved is not None and self.splits and saved != self.normalization:
            raise DatasetError(f"the data in {self.data_dir} is not what the checkpoint was trained on "
                               f"(its normalisation {saved} differs from this data's {self.normalization}); "
                               "resume on the checkpoint's data")
        if saved is not None:
            self.normalization = saved
