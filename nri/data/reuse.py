"""Whether a prepared dataset on disk can be reused: its metadata must record the same parameters."""

from __future__ import annotations

import json
from pathlib import Path


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
