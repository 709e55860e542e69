"""A bad config (unknown key, wrongly typed value) as one line on stderr and exit status 2, for
the entry points, instead of Hydra's multi-line report."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from hydra.errors import ConfigCompositionException
from omegaconf.errors import OmegaConfBaseException

USAGE_ERROR = 2


class ConfigError(ValueError):
    """A setting the schema refuses; the message names the key."""


def config_error_line(err: BaseException) -> str:
    """One line naming the offending key and what was wrong with it."""
    cause = err if isinstance(err, OmegaConfBaseException) else err.__cause__
    if isinstance(cause, OmegaConfBaseException):
        message = (cause.msg or str(cause)).splitlines()[0]
        key = cause.full_key
        return f"bad config: {key}: {message}" if key and key not in message else f"bad config: {message}"
    return f"bad config: {str(err).splitlines()[0]}"


def exit_on_config_error(main: Callable[[], object]) -> None:
    """Run a ``hydra.main`` function; a config Hydra or the schema refuses ends the process with one
    line. ``HYDRA_FULL_ERROR=1`` set by the user keeps Hydra's full report."""
    if os.environ.get("HYDRA_FULL_ERROR"):
        main()
        return
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let the exception reach this frame instead of Hydra's printer
    try:
        main()
    except (ConfigCompositionException, OmegaConfBaseException, ConfigError) as err:
        print(config_error_line(err), file=sys.stderr)
        sys.exit(USAGE_ERROR)
