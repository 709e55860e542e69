"""The run folder: refused in one line when it cannot be made, removed when a failed run leaves it empty.

Hydra makes the run folder (and writes ``.hydra/``) before a command starts, so a command that
stops on a bad input would leave a folder with nothing of its own in it; :func:`remove_if_empty`
takes it away again. :func:`unwritable_reason` lets ``nri.cli.RunDirCheck`` (a Hydra callback) refuse a run folder that
cannot be made before Hydra tries, instead of Hydra's traceback.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from nri.errors import ConfigError

HYDRA_RECORD = ".hydra"


def unwritable_reason(folder: str | os.PathLike) -> str | None:
    """Why ``folder`` cannot be made or written, or None when it can."""
    path = Path(folder).expanduser().absolute()
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is a file, not a folder"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{probe} is not writable"
    return None


def require_writable(folder: str | os.PathLike, key: str) -> None:
    """ConfigError naming ``key`` when ``folder`` cannot be made or written."""
    reason = unwritable_reason(folder)
    if reason:
        raise ConfigError(f"{key}={folder}: {reason}; choose a folder you can write to")


def holds_nothing(folder: Path) -> bool:
    """Only Hydra's record, its log files and empty folders: nothing a command wrote."""
    for item in folder.rglob("*"):
        top = item.relative_to(folder).parts[0]
        if top == HYDRA_RECORD or item.is_dir():
            continue
        if item.parent == folder and item.suffix == ".log":
            continue
        return False
    return True


def remove_if_empty(folder: str | os.PathLike | None = None) -> None:
    """Remove the run folder (Hydra's, by default) if the failed command left nothing of its own."""
    if folder is None:
        from hydra.core.hydra_config import HydraConfig

        if not HydraConfig.initialized():
            return
        folder = HydraConfig.get().runtime.output_dir
    path = Path(folder)
    if path.is_dir() and holds_nothing(path):
        shutil.rmtree(path, ignore_errors=True)
