"""Writing a prepared recorded dataset: its arrays and a metadata file, all in place or none."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from nri import __version__
from nri.atomic import atomic_write_all


def write_prepared(arrays: dict[Path, np.ndarray], outputs: dict[str, Path], *, generator: str,
                   dataset: str, suffix: str, parameters: dict[str, Any], source: Path,
                   sources: list[dict[str, Any]], **described: Any) -> dict[str, Path]:
    """Write ``arrays`` and ``outputs["metadata"]`` atomically; returns ``outputs``.

    The metadata holds what every preparer records (generator, parameters, versions, files, the
    source files read) followed by ``described``, the dataset's own fields, in the order given.
    """
    metadata = {
        "generator": generator,
        "dataset": dataset,
        "suffix": suffix,
        "parameters": parameters,
        "nri_version": __version__,
        "numpy_version": np.__version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "files": {k: p.name for k, p in outputs.items() if k != "metadata"},
        "source_dir": str(source),
        "sources": sources,
        **described,
    }
    outputs["metadata"].parent.mkdir(parents=True, exist_ok=True)
    atomic_write_all(arrays, {outputs["metadata"]: json.dumps(metadata, indent=2) + "\n"})
    return outputs
