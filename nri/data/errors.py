"""Every error the data layer raises, in one module that imports nothing of the package.

Each message is one line that names the file or key that is wrong and what to do about it;
the command-line wrapper (``nri.cli``) prints it as ``error: …`` and exits with status 2.
"""

from __future__ import annotations

import os


class DatasetError(ValueError):
    """A dataset on disk is missing or does not have the expected content."""


class InputError(DatasetError):
    """A user's trajectories, edge labels or checkpoint cannot be used as given."""


class GenerationError(ValueError):
    """A dataset request that cannot be carried out; the message is one actionable line."""


class DatasetExistsError(GenerationError):
    """A different dataset already occupies the target files."""


class MocapFormatError(ValueError):
    """A malformed ASF or AMC file; the message names the file and the line."""

    def __init__(self, path: str | os.PathLike, line: int | None, message: str):
        where = f"{path}" if line is None else f"{path}, line {line}"
        super().__init__(f"{where}: {message}")
