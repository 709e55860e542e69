"""Write dataset files so that a reader never sees a half-written one, and only once.

Every writer puts its bytes in a temporary file in the target's own directory (same file
system, so the final ``os.replace`` is atomic) and renames it only once the bytes are out.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np


def _temp_beside(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(name, 0o644)  # mkstemp makes 0600 files; datasets should be readable by others
    return Path(name)


def _write_npy(tmp: Path, array: np.ndarray) -> None:
    # np.save on a path would append ".npy" to the temp name; a file handle avoids that.
    with open(tmp, "wb") as fh:
        np.save(fh, np.asarray(array), allow_pickle=False)


def _write_text(tmp: Path, text: str) -> None:
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)


def atomic_save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """Save ``array`` as ``.npy`` at ``path``, atomically.

    Shapes:
        array: any shape; stored as given (no pickling).
    """
    atomic_write_all({Path(path): array}, {})


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``, atomically."""
    atomic_write_all({}, {Path(path): text})


def atomic_write_all(arrays: Mapping[Path, np.ndarray], texts: Mapping[Path, str]) -> None:
    """Write a group of files: every one goes to a temp name first, then all are renamed.

    If any write fails nothing is renamed and the temporaries are removed. The texts are
    renamed last, so a metadata file written through ``texts`` only ever appears after the
    arrays it describes; when there are arrays, existing text files are removed before the
    first array is renamed, so a crash between renames leaves no stale metadata vouching for
    a mix of old and new arrays.

    Shapes:
        arrays: path -> array of any shape.
    """
    pending: list[tuple[Path, Path]] = []
    try:
        for path, array in arrays.items():
            tmp = _temp_beside(Path(path))
            pending.append((tmp, Path(path)))
            _write_npy(tmp, array)
        for path, text in texts.items():
            tmp = _temp_beside(Path(path))
            pending.append((tmp, Path(path)))
            _write_text(tmp, text)
    except BaseException:
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)
        raise
    if arrays:
        for path in texts:
            Path(path).unlink(missing_ok=True)
    for tmp, final in pending:
        os.replace(tmp, final)


def reuse_existing(
    metadata_path: Path, parameters: dict, outputs: list[Path], overwrite: bool
) -> bool:
    """Whether a dataset described by ``metadata_path`` can be reused as it is.

    True when the metadata records exactly ``parameters`` (compared as JSON) and every
    output exists. Unless ``overwrite``, raises ``FileExistsError`` when the metadata records
    other parameters, or when outputs exist without metadata to compare with. Returns False
    (build) otherwise.
    """
    if overwrite:
        return False
    if not metadata_path.is_file():
        present = [p.name for p in outputs if p != metadata_path and p.is_file()]
        if present:
            raise FileExistsError(
                f"{metadata_path.parent} already holds {present[0]} but no {metadata_path.name} "
                "to compare parameters with; pass overwrite=True to replace it"
            )
        return False
    try:
        recorded = json.loads(metadata_path.read_text(encoding="utf-8")).get("parameters")
    except (OSError, ValueError, AttributeError):
        recorded = None
    wanted = json.loads(json.dumps(parameters))
    if recorded != wanted:
        changed = sorted(
            k for k in set(wanted) | set(recorded or {}) if (recorded or {}).get(k) != wanted.get(k)
        )
        raise FileExistsError(
            f"{metadata_path} was written with other parameters (differing: {changed}); "
            "pass overwrite=True to rebuild it, or choose another dataset suffix"
        )
    return all(p.is_file() for p in outputs)
