"""Write files so that a reader never sees a half-written one: the package's only file writer.

Every writer puts its bytes in a temporary file in the target's own directory (same file
system, so the final ``os.replace`` is atomic) and renames it only once the bytes are out.
Datasets, figures, ``metrics.json`` and inference outputs all go through here.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np


def temp_beside(path: Path) -> Path:
    """An empty temporary file, readable by others, in ``path``'s directory (made if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(name, 0o644)  # mkstemp makes 0600 files; datasets should be readable by others
    return Path(name)


def remove_stale_temporaries(finals: Iterable[Path]) -> list[Path]:
    """Remove the temporaries an interrupted writer left beside ``finals``; returns what it removed.

    They are the hidden ``.<name>.<random>.tmp`` files of :func:`temp_beside`: a run killed before
    its renames leaves them (they can be as large as the dataset), and nothing else writes them.
    """
    removed = []
    for final in finals:
        final = Path(final)
        if not final.parent.is_dir():
            continue
        for tmp in final.parent.glob(f".{glob_escape(final.name)}.*.tmp"):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def _write_npy(tmp: Path, array: np.ndarray) -> None:
    # np.save on a path would append ".npy" to the temp name; a file handle avoids that.
    with open(tmp, "wb") as fh:
        np.save(fh, np.asarray(array), allow_pickle=False)


def _write_text(tmp: Path, text: str | bytes) -> None:
    if isinstance(text, bytes):
        tmp.write_bytes(text)
    else:
        tmp.write_text(text, encoding="utf-8")


def atomic_save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """Save ``array`` as ``.npy`` at ``path``, atomically.

    Shapes:
        array: any shape; stored as given (no pickling).
    """
    atomic_write_all({Path(path): array}, {})


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``, atomically."""
    atomic_write_all({}, {Path(path): text})


def atomic_write_json(path: str | os.PathLike, payload: Mapping) -> None:
    """Write ``payload`` as pretty, key-sorted JSON to ``path``, atomically."""
    atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=True, default=str))


def atomic_write_all(arrays: Mapping[Path, np.ndarray], texts: Mapping[Path, str | bytes]) -> None:
    """Write a group of files: every one goes to a temp name first, then all are renamed.

    If any write fails nothing is renamed and the temporaries are removed. The texts are
    renamed last, so a metadata file written through ``texts`` only ever appears after the
    arrays it describes; when there are arrays, existing text files are removed before the
    first array is renamed, so a crash between renames leaves no stale metadata vouching for
    a mix of old and new arrays.

    ``texts`` may also hold ``bytes`` (written as they are, e.g. PNG images).

    Shapes:
        arrays: path -> array of any shape.
    """
    pending: list[tuple[Path, Path]] = []
    try:
        for path, array in arrays.items():
            tmp = temp_beside(Path(path))
            pending.append((tmp, Path(path)))
            _write_npy(tmp, array)
        for path, text in texts.items():
            tmp = temp_beside(Path(path))
            pending.append((tmp, Path(path)))
            _write_text(tmp, text)
    except BaseException:
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)
        raise
    rename_into_place(pending, stale=list(texts) if arrays else [])


def rename_into_place(pending: Iterable[tuple[Path, Path]], stale: Iterable[Path] = ()) -> None:
    """Remove the ``stale`` files, then rename every (temporary, final) pair, in order.

    For writers that fill their temporaries themselves (e.g. memory-mapped arrays from
    :func:`temp_beside`); each rename is atomic, the group is not, hence the stale files
    (metadata describing the old group) go first.
    """
    for path in stale:
        Path(path).unlink(missing_ok=True)
    for tmp, final in pending:
        os.replace(tmp, final)
