"""User-facing errors.

Every error a user can cause (a bad name, a malformed architecture string, a
missing file, an invalid hyperparameter) is raised as a ``ZcnasError``.  The
runner prints these as one line, ``error: <message>``, and exits with status 2
instead of showing a traceback.  Messages say what is wrong and how to fix it.
"""


class ZcnasError(Exception):
    """Base class of errors caused by the user's input or environment."""


class ArchError(ZcnasError, ValueError):
    """A malformed or invalid architecture string or index."""


class ConfigError(ZcnasError, ValueError):
    """An invalid configuration value (unknown name, out-of-range hyperparameter)."""


class DataError(ZcnasError):
    """A missing, corrupt or unsuitable data file."""


class BenchmarkError(ZcnasError):
    """A missing or unusable benchmark (accuracy table, nats_bench directory)."""


class MetricError(ZcnasError):
    """A metric cannot score the given model or input."""
