"""What every command (train, eval, generate, infer, plot) shares: a user's mistake becomes one line,
and a failed command leaves no empty run folder.

A bad config value, a missing or malformed data file, or an impossible dataset request is not a
bug: it is printed as ``error: <message>`` on stderr and the command exits with status 2, without
a traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from hydra.experimental.callback import Callback

from nri.data.errors import DatasetError, GenerationError
from nri.errors import ConfigError
from nri.run_dir import remove_if_empty, unwritable_reason

USER_ERRORS: tuple[type[BaseException], ...] = (ConfigError, DatasetError, GenerationError)
EXIT_USER_ERROR = 2

F = TypeVar("F", bound=Callable)


def fail(message: object) -> NoReturn:
    """Print ``error: <first line of message>`` on stderr and exit with status 2."""
    lines = str(message).strip().splitlines() or [type(message).__name__]
    print(f"error: {lines[0]}", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)


def exits_on_user_error(*also: type[BaseException]) -> Callable[[F], F]:
    """Decorate a command's entry point: the user errors (and ``also``) end it through :func:`fail`."""
    caught = USER_ERRORS + also

    def wrap(entry: F) -> F:
        @functools.wraps(entry)
        def run(*args, **kwargs):
            try:
                return entry(*args, **kwargs)
            except caught as err:
                remove_if_empty()  # the run folder Hydra made, when the command wrote nothing into it
                fail(err)

        return run  # type: ignore[return-value]

    return wrap


class RunDirCheck(Callback):
    """A Hydra callback (``conf/hydra/default.yaml``): a run or sweep folder that cannot be made
    ends the command with one line before Hydra tries to make it."""

    def on_run_start(self, config: Any, **kwargs: Any) -> None:
        folder = config.hydra.run.dir
        # nri.infer names its run folder out_dir
        self._check(folder, "out_dir" if config.get("out_dir") == folder else "hydra.run.dir")

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        self._check(config.hydra.sweep.dir, "hydra.sweep.dir")

    @staticmethod
    def _check(folder: str, key: str) -> None:
        reason = unwritable_reason(folder)
        if reason:
            fail(f"{key}={folder}: {reason}; set {key} to a folder you can write to")
