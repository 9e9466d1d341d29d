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


class Interrupted(BaseException):
    """The job was asked to stop: the runner raises it from its SIGTERM handler.

    A BaseException, like the KeyboardInterrupt that SIGINT raises, so that no
    ``except Exception`` on the way up swallows it.  The runner catches both at
    the top, prints one line that says to relaunch the same command, and exits
    130 (SIGINT) or 143 (SIGTERM).

    Contract for jobs that save work on the way out (the scoring loop): they
    save it, then raise an exception of the same type (KeyboardInterrupt or
    Interrupted) whose message says what was saved, e.g.
    "12 rows scored by this run saved in <job>/chunks, 40 of 100 done"; the
    runner puts ``str(exc)`` in its line.
    """


def write_error(exc: OSError, where: object = "the output folder") -> str:
    """One line for an OSError while writing outputs (a folder that is a file, read-only, full)."""
    import errno

    if exc.errno == errno.EISDIR and exc.filename:  # a folder where the job writes a file
        return (f"cannot write {exc.filename}: a folder is in its place; move that folder away, or choose "
                "another output folder with paths.output_dir=... (single runs) or paths.multirun_dir=... (sweeps)")
    return (f"cannot write {exc.filename or where}: {exc.strerror or exc}; choose a writable folder with "
            "paths.output_dir=... (single runs) or paths.multirun_dir=... (sweeps)")


def debug_enabled() -> bool:
    """The debug switch: ``ZCNAS_DEBUG=1`` (``hydra.verbose=true`` on the command line sets it too)
    shows the traceback behind a one-line error."""
    import os

    return os.environ.get("ZCNAS_DEBUG") == "1"
