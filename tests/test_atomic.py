"""nri.atomic, the package's one file writer: all or nothing, no temporaries left behind."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nri.atomic import atomic_write_all, atomic_write_json


def test_json_is_sorted_and_replaces_the_old_file(tmp_path):
    path = tmp_path / "deep" / "metrics.json"
    atomic_write_json(path, {"b": 1, "a": [1.5, "x"]})
    atomic_write_json(path, {"b": 2, "a": None})
    assert path.read_text() == json.dumps({"a": None, "b": 2}, indent=2, sort_keys=True)
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]


def test_a_failed_group_writes_nothing_and_keeps_the_old_files(tmp_path):
    old = tmp_path / "a.npy"
    np.save(old, np.zeros(3))
    with pytest.raises(ValueError):  # object arrays are refused (no pickling)
        atomic_write_all({old: np.ones(3), tmp_path / "b.npy": np.array([{}], dtype=object)},
                         {tmp_path / "meta.json": "{}", tmp_path / "pic.png": b"\x89PNG"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy"]
    np.testing.assert_array_equal(np.load(old), np.zeros(3))


def test_bytes_and_texts_land_after_the_arrays(tmp_path):
    atomic_write_all({tmp_path / "x.npy": np.arange(4)}, {tmp_path / "x.png": b"\x89PNG", tmp_path / "x.txt": "é"})
    assert (tmp_path / "x.png").read_bytes() == b"\x89PNG"
    assert (tmp_path / "x.txt").read_text(encoding="utf-8") == "é"
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), np.arange(4))
