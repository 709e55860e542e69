"""A bad config (unknown key, wrongly typed value) as one line on stderr and exit status 2, for
the entry points, instead of Hydra's multi-line report."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from hydra.errors import ConfigCompositionException
from omegaconf.errors import OmegaConfBaseException

from nri.errors import ConfigError

USAGE_ERROR = 2




def config_error_line(err: BaseException) -> str:
    """One line naming the offending key and what was wrong with it.

    Hydra and OmegaConf report over several lines (where, what, ``full_key: ...``); the parts are
    joined here. Shapes: -> ``bad config: [In 'file':] key: message``
    """
    cause = err if isinstance(err, OmegaConfBaseException) else err.__cause__
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if isinstance(cause, OmegaConfBaseException):
        lines += [line.strip() for line in str(cause).splitlines() if line.strip()]
    key = next((line.partition("full_key:")[2].strip() for line in lines if line.startswith("full_key:")), "")
    parts = [line for line in lines if not line.startswith(("full_key:", "object_type=", "reference_type="))
             and not line.endswith("raised while composing config:")]
    if not key or not parts:  # e.g. an unknown group option: Hydra's first line says it all
        return f"bad config: {lines[0] if lines else type(err).__name__}"
    where = str(err).partition(":")[0] if str(err).startswith("In '") else ""
    return ": ".join(p for p in ("bad config", where, key, parts[-1]) if p)


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
