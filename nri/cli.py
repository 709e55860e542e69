"""What every command (train, eval, generate, infer, plot) shares: a user's mistake becomes one line.

A bad config value, a missing or malformed data file, or an impossible dataset request is not a
bug: it is printed as ``error: <message>`` on stderr and the command exits with status 2, without
a traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import NoReturn, TypeVar

from nri.data.errors import DatasetError, GenerationError
from nri.errors import ConfigError

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
                fail(err)

        return run  # type: ignore[return-value]

    return wrap
