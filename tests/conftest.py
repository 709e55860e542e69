"""Shared fixtures: tiny datasets made by the simulators in temporary directories."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_data import write_tiny_springs


@pytest.fixture(scope="session")
def tiny_springs(tmp_path_factory) -> Path:
    return write_tiny_springs(tmp_path_factory.mktemp("springs"))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` run only where CUDA is available."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
