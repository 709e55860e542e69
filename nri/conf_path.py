"""Where the Hydra config tree is, for every entry point.

A clone (and an editable install of it) reads the top-level ``conf/`` beside the package, so each
checkout runs with its own configs; a wheel has no such folder and reads the copy installed inside
the package as ``nri.conf`` (see setup.py).
"""

from __future__ import annotations

from pathlib import Path

_SOURCE_TREE = Path(__file__).resolve().parent.parent / "conf"
CONFIG_PATH = str(_SOURCE_TREE) if (_SOURCE_TREE / "train.yaml").is_file() else "pkg://nri.conf"
