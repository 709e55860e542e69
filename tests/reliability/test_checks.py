"""The checks behind the failure cases, in process: labels, sizes, random state, run folders, ranges."""

from __future__ import annotations

import io
import os
import random

import numpy as np
import pytest
import torch

from nri.atomic import remove_stale_temporaries, temp_beside
from nri.callbacks.random_state import capture, restore
from nri.checkpoints import config_differences, describe, flatten
from nri.data.datamodule import check_edge_labels, edge_labels
from nri.data.errors import DatasetError
from nri.errors import ConfigError
from nri.run_dir import holds_nothing, remove_if_empty, unwritable_reason
from nri.validate import require_int


def adjacency(values: list[int], n: int = 3) -> np.ndarray:
    adj = np.zeros((1, n, n))
    adj[0][~np.eye(n, dtype=bool)] = values
    return adj


def test_charge_products_map_to_0_1_and_other_labels_stay():
    assert edge_labels(adjacency([-1, 1, 1, -1, -1, 1])).tolist() == [[0, 1, 1, 0, 0, 1]]
    assert edge_labels(adjacency([0, 1, 1, 0, 0, 1])).tolist() == [[0, 1, 1, 0, 0, 1]]
    assert edge_labels(adjacency([1, 1, 1, 1, 1, 1])).tolist() == [[1] * 6]  # like charges: same either way


def test_a_lone_negative_or_too_large_label_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "edges_train_x.npy"
    check_edge_labels(adjacency([0, 1, 1, 0, 0, 1]), path, 2)
    check_edge_labels(adjacency([-1, 1, 1, -1, 1, 1]), path, 2)
    with pytest.raises(DatasetError, match="edges_train_x.npy holds edge label -1"):
        check_edge_labels(adjacency([0, -1, 1, 0, 0, 1]), path, 2)
    with pytest.raises(DatasetError, match="holds edge label 7 but dataset.edge_types=2"):
        check_edge_labels(adjacency([0, 7, 1, 0, 0, 1]), path, 2)
    check_edge_labels(adjacency([0, 2, 1, 0, 0, 1]), path, 3)
    with pytest.raises(DatasetError, match="not whole numbers"):
        check_edge_labels(adjacency([0, 0.5, 1, 0, 0, 1]), path, 2)


def test_random_state_round_trips_through_a_weights_only_checkpoint():
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    buffer = io.BytesIO()
    torch.save(capture(), buffer)
    first = (torch.rand(4).tolist(), np.random.rand(4).tolist(), random.random(), np.random.randn())
    buffer.seek(0)
    restore(torch.load(buffer, weights_only=True))
    assert (torch.rand(4).tolist(), np.random.rand(4).tolist(), random.random(), np.random.randn()) == first


@pytest.mark.parametrize("value", [0, -3, "abc", 1.5, True])
def test_sizes_must_be_whole_and_large_enough(value):
    with pytest.raises(ConfigError, match=f"datamodule.batch_size={value}"):
        require_int(value, "datamodule.batch_size", 1, "a positive batch size")


def test_checkpoint_differences_are_named_by_key():
    saved = {"dataset": {"num_atoms": 5}, "encoder": {"name": "cnn", "hidden": 16}, "decoder": None,
             "model": {"eval_sample": "argmax", "lr": 1e-3}}
    asked = {"dataset": {"num_atoms": 5}, "encoder": {"name": "mlp", "hidden": 16}, "decoder": None,
             "model": {"eval_sample": "gumbel", "lr": 1e-3}}
    from omegaconf import OmegaConf

    assert config_differences(saved, OmegaConf.create(asked)) == ["encoder.name"]  # eval_sample may change
    assert describe("encoder.name", "cnn") == "encoder=cnn"
    assert flatten({"a": {"b": 1}}, "x") == {"x.a.b": 1}
    # a null in the run's config is filled from the data later: not a difference
    asked["dataset"]["num_atoms"] = None
    asked["encoder"]["name"] = "cnn"
    assert config_differences(saved, OmegaConf.create(asked)) == []


def test_an_empty_run_folder_is_removed_and_one_with_results_kept(tmp_path):
    empty = tmp_path / "empty"
    (empty / ".hydra").mkdir(parents=True)
    (empty / ".hydra" / "config.yaml").write_text("a: 1\n")
    (empty / "csv").mkdir()
    (empty / "train.log").write_text("")
    assert holds_nothing(empty)
    remove_if_empty(empty)
    assert not empty.exists()
    kept = tmp_path / "kept"
    (kept / "checkpoints").mkdir(parents=True)
    (kept / "checkpoints" / "last.ckpt").write_bytes(b"x")
    remove_if_empty(kept)
    assert kept.exists()


def test_unwritable_folders_are_explained(tmp_path):
    assert unwritable_reason(tmp_path / "new" / "deeper") is None
    (tmp_path / "file").write_text("")
    assert "is a file, not a folder" in unwritable_reason(tmp_path / "file" / "run")


@pytest.mark.skipif(os.geteuid() == 0, reason="permission bits do not bind root")
def test_a_read_only_folder_is_explained(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    assert "is not writable" in unwritable_reason(locked / "run")


def test_stale_temporaries_are_removed_for_their_targets_only(tmp_path):
    target = tmp_path / "loc_train_x.npy"
    stale = temp_beside(target)
    other = temp_beside(tmp_path / "loc_train_y.npy")
    assert remove_stale_temporaries([target]) == [stale]
    assert not stale.exists() and other.exists()


def test_resuming_on_changed_data_is_refused(tmp_path):
    from nri.data.datamodule import NRIDataModule

    module = NRIDataModule({"name": "springs"}, str(tmp_path))
    module.normalization = {"kind": "locvel", "loc_min": -1.0, "loc_max": 1.0, "vel_min": -1.0, "vel_max": 1.0}
    module.splits = {"train": object()}  # scaled already
    module.load_state_dict({"normalization": dict(module.normalization)})
    with pytest.raises(DatasetError, match="is not what the checkpoint was trained on"):
        module.load_state_dict({"normalization": {**module.normalization, "loc_max": 2.0}})
