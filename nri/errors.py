"""The error a bad configuration value raises; import-free, so any module can raise it.

Data errors live in :mod:`nri.data.errors`; the command-line wrapper (:mod:`nri.cli`) turns
either kind into one ``error: …`` line and exit status 2.
"""


class ConfigError(ValueError):
    """A config value (or combination of values) that cannot be used; the message names the key,
    the value found and what is allowed."""
