"""The command line around Hydra: every mistake is one line and exit status 2.

``run.py`` hands its Hydra entry point to ``main``, which

1. moves ``-m`` before the overrides (Hydra's parser wants it there) and rewrites overrides Hydra's grammar would reject although their meaning is plain: a value
   starting with ``~`` (a home folder) is expanded, and a value holding ``=`` (a file name) is
   quoted;
2. checks what Hydra reports over many lines: unknown group options, ``hardware=slurm`` where
   SLURM is not installed;
3. runs Hydra with its own error printing off, so a composition error, an unknown key or an
   unwritable output folder reaches us and is said in one line;
4. says nothing when the reader of its output goes away (``run.py --help | head``).

A sweep with failed jobs exits with status 1 after its summary (``zcnas.callbacks.SweepReport``).
Group choices are read with Hydra's own override parser, so ``metric=choice(synflow,params)`` and
``metric=glob(s*)`` are checked like ``metric=synflow,params``.

``hardware=slurm`` (or ``slurm_gpu``) without ``-m`` is refused: only a sweep goes through the
launcher, so a single run would run here, not on the cluster.  A sweep SLURM does not take (sbatch
fails: no reachable controller) is one line too.

Debug switch: ``ZCNAS_DEBUG=1`` in the environment, or ``hydra.verbose=true`` on the command line,
shows the traceback behind a one-line error (the error line is still printed last).

Exit status: 0 done, 1 a sweep with failed jobs (or a bug: then the traceback is shown),
2 bad input, 130/143 interrupted (SIGINT/SIGTERM).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path
from typing import Callable

from zcnas.config import GROUPS, group_options

MULTIRUN_FLAGS = ("-m", "--multirun")


def normalize_override(arg: str) -> str:
    """``key=~/x`` -> ``key=/home/me/x``; ``key=a=b`` -> ``key='a=b'``; anything else unchanged."""
    key, sep, value = arg.partition("=")
    # quotes, lists and dicts are Hydra syntax the user wrote on purpose: leave them to Hydra
    if not sep or arg.startswith("-") or key.lstrip("+~") in GROUPS or value[:1] in ("'", '"', "[", "{"):
        return arg
    if value.startswith("~"):
        value = os.path.expanduser(value)
    if "=" in value or value.startswith("~"):
        value = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return f"{key}={value}"


def group_choices(arg: str, options: list[str]) -> tuple[str, list[str], bool] | None:
    """``(group, the options it chooses, whether it is a sweep)`` for a group override in Hydra's
    grammar, else None.

    ``metric=synflow``, ``metric=synflow,params``, ``metric=choice(synflow,params)``,
    ``metric=glob(s*)`` (matched against ``options``), ``metric=[a,b]``; ``null`` chooses nothing.
    An override Hydra cannot parse is None too: Hydra reports it (``explain``).
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import Glob

    try:
        override = OverridesParser.create().parse_override(arg)
        if override.key_or_group not in GROUPS or override.is_delete():
            return None
        value = override.value()
        if isinstance(value, Glob):
            chosen = value.filter(options)
        elif override.is_sweep_override():
            chosen = list(override.sweep_string_iterator())
        else:
            chosen = [str(v) for v in (value if isinstance(value, list) else [value]) if v is not None]
    except Exception:
        return None
    return override.key_or_group, [c for c in chosen if c != "null"], override.is_sweep_override()


def searchpath_folders(args: list[str]) -> list[Path]:
    """The folders of ``hydra.searchpath=[file://...]``: Hydra looks for config options there too."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    for arg in args:
        if arg.partition("=")[0] == "hydra.searchpath":
            try:
                value = OverridesParser.create().parse_override(arg).value()
            except Exception:
                return []  # Hydra reports it
            paths = value if isinstance(value, list) else [value]
            return [Path(str(p)[len("file://"):]) for p in paths if str(p).startswith("file://")]
    return []


def check_overrides(args: list[str], config_dir: Path) -> str | None:
    """A one-line problem with the command line that Hydra would report at length, or None."""
    multirun = any(a in MULTIRUN_FLAGS for a in args)
    folders = [config_dir, *searchpath_folders(args)]  # a user's own options count too (docs/plugins.md)
    for arg in args:
        key = arg.partition("=")[0].lstrip("+~")
        if arg.startswith("-") or key not in GROUPS:
            continue
        valid = sorted({option for folder in folders for option in group_options(key, folder)})
        parsed = group_choices(arg, valid)
        if parsed is None:
            continue
        group, chosen, swept = parsed
        if not chosen and "glob(" in arg:
            return f"{arg} matches no {group}; valid: {', '.join(valid)}"
        if group == "hardware" and swept:
            # the launcher is chosen once per sweep, before its jobs exist
            return f"hardware chooses where a sweep runs and cannot be swept ({arg}); give one, e.g. hardware={(chosen or ['local'])[0]}"
        for option in chosen:
            if option not in valid:
                return f"unknown {group} {option!r}; valid: {', '.join(valid)}"
            if group == "hardware" and option.startswith("slurm") and not multirun:
                # a single run never goes through the launcher: it would run here, not on the cluster
                return (f"hardware={option} submits -m sweeps to SLURM; add -m to submit this job "
                        f"(python run.py -m hardware={option} ...), or leave hardware={option} out to run it here")
            if group == "hardware" and option.startswith("slurm") and multirun:
                missing = [tool for tool in ("sbatch", "srun") if shutil.which(tool) is None]
                if missing:
                    return (f"hardware={option} needs SLURM, but {' and '.join(missing)} "
                            f"{'is' if len(missing) == 1 else 'are'} not on PATH; run the sweep's jobs "
                            "as local processes with hardware=submitit_local, or see docs/slurm.md")
    return None


def explain(exc: BaseException, args: list[str]) -> str:
    """One line for an error Hydra or OmegaConf raised while composing or preparing a job."""
    from hydra.errors import MissingConfigException, OverrideParseException
    from omegaconf.errors import OmegaConfBaseException

    from zcnas.errors import ZcnasError, write_error

    text = str(exc).strip()
    cause = exc.__cause__ or exc.__context__
    link: BaseException | None = exc
    while link is not None:  # raised by one of our resolvers, wrapped by OmegaConf
        if isinstance(link, ZcnasError):
            return str(link)
        link = link.__cause__ or link.__context__
    match = re.search(r"Could not override '([^']+)'", text)
    if match:
        key = match.group(1)
        parent, _, leaf = key.rpartition(".")
        if leaf == "target" and parent:  # a plug-in's class is Hydra's _target_ (space=custom space._target_=...)
            value = next((a.partition("=")[2] for a in args if a.partition("=")[0].lstrip("+~") == key), "module.Class")
            return f"unknown setting {key}: a class path is {parent}._target_ (Hydra's key), e.g. {parent}._target_={value}"
        if leaf == "kind" and parent in ("dataset", "benchmark"):  # groups that once chose a reader by kind
            from zcnas.plugins import names

            given = next((a.partition("=")[2] for a in args if a.partition("=")[0].lstrip("+~") == key), None)
            choices = [n for n in names(parent) if n != "custom"]
            value = given if given in choices else choices[0]
            own = f"{parent}=custom " if "custom" in names(parent) else ""
            return (f"unknown setting {key}: a {parent} option names its class by {parent}._target_; choose the "
                    f"option ({parent}={value}) among {', '.join(choices)}, or your own class "
                    f"({own}{parent}._target_=module.Class)")
        return f"unknown setting {key}{valid_keys(key, args)}{optional_hint(key)}"
    match = re.search(r"Could not append to config. An item is already at '([^']+)'", text)
    if match:
        return f"{match.group(1)} already exists: set it without the leading '+'"
    if isinstance(exc, OverrideParseException):
        first = text.splitlines()[0] if text else "unparsable"
        return (f"cannot parse the command line ({first}); quote a value with special characters, "
                "e.g. key='value with ( ) [ ] , or spaces'")
    if isinstance(exc, MissingConfigException):
        return text.splitlines()[0]
    if isinstance(exc, OSError):
        return write_error(exc)
    if isinstance(exc, OmegaConfBaseException) or isinstance(cause, OmegaConfBaseException):
        lines = [line for line in text.splitlines() if line.strip()]
        first = lines[0] if lines else type(exc).__name__
        why = [line for line in str(cause or "").splitlines() if line.strip()]
        return f"invalid configuration: {first}" + (f" ({why[0].strip()})" if why and why[0] not in first else "")
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def optional_hint(key: str) -> str:
    """How to give a key that a component reads although no YAML sets it (``zcnas.schema.OPTIONAL_KEYS``)."""
    from zcnas.schema import OPEN_MAPPINGS, OPTIONAL_KEYS

    parent = key.rpartition(".")[0]
    optional = key in OPTIONAL_KEYS or parent in OPEN_MAPPINGS or any(key.startswith(k + ".") for k in OPTIONAL_KEYS)
    return f"; it is optional: add it with +{key}=..." if optional else "; check its spelling"


def explain_submitit(exc: BaseException) -> str:
    """One line for a sweep SLURM would not take (sbatch failed: no controller, a bad partition)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    why = lines[-1] if lines else type(exc).__name__  # sbatch's own message comes last
    return (f"SLURM did not take the sweep's jobs ({why}); check the cluster with sinfo and the settings in "
            "conf/local/default.yaml, or run the jobs as local processes with hardware=submitit_local")


def valid_keys(key: str, args: list[str]) -> str:
    """``" (valid keys of search: m, n, name, ...)"`` for an unknown ``search.nn``; empty if unknown."""
    parent, _, _ = key.rpartition(".")
    try:
        from hydra import compose, initialize_config_dir
        from hydra.core.global_hydra import GlobalHydra
        from omegaconf import DictConfig, OmegaConf

        from zcnas.config import CONFIG_DIR

        # one job's group choices: a sweep over a group (a,b or choice(...)) would not compose
        choices = [a for a in args if a.partition("=")[0].lstrip("+~") in GROUPS and "," not in a and "(" not in a]
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            cfg = compose(config_name="config", overrides=choices)
        node = OmegaConf.select(cfg, parent) if parent else cfg
        GlobalHydra.instance().clear()
    except Exception:
        return ""
    if not isinstance(node, DictConfig):
        return ""
    return f" (valid keys of {parent or 'the top level'}: {', '.join(sorted(str(k) for k in node.keys()))})"


def main(hydra_main: Callable[[], None], config_dir: Path) -> None:
    """Run ``hydra_main`` (run.py's ``@hydra.main`` function) over ``sys.argv``, see module doc."""
    args = [normalize_override(a) for a in sys.argv[1:]]
    # Hydra's parser takes -m only before the overrides; users write it anywhere
    args = [a for a in args if a in MULTIRUN_FLAGS] + [a for a in args if a not in MULTIRUN_FLAGS]
    problem = check_overrides(args, config_dir)
    if problem:
        _exit(problem)
    sys.argv[1:] = args
    if "hydra.verbose=true" in args:  # Hydra's own debug switch shows our tracebacks too
        os.environ["ZCNAS_DEBUG"] = "1"
    debug = os.environ.get("ZCNAS_DEBUG") == "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra re-raises instead of printing; we say it in one line
    if not debug and any(a in MULTIRUN_FLAGS for a in args) and any(a.startswith("hardware=slurm") for a in args):
        sys.stderr = _WithoutSubmititEcho(sys.stderr)
    try:
        hydra_main()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        _exit("interrupted; relaunch the same command to resume (finished jobs are kept)", status=130)
    except BrokenPipeError:
        _reader_gone()
    except Exception as exc:
        from hydra.errors import HydraException
        from omegaconf.errors import OmegaConfBaseException

        if not debug and type(exc).__module__.startswith("submitit"):  # sbatch failed: no cluster reachable
            _exit(explain_submitit(exc))
        if debug or not isinstance(exc, (HydraException, OmegaConfBaseException, OSError)):
            raise  # a bug: the traceback helps to report it
        _exit(explain(exc, args))
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _reader_gone()


class _WithoutSubmititEcho:
    """``sys.stderr`` less what submitit copies there from a failed sbatch: the failure reaches us as
    an exception holding the same text, and ``explain_submitit`` says it in one line."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            caller = sys._getframe(1).f_globals.get("__name__")
        except ValueError:  # written from C (the interpreter's own error printing)
            caller = None
        if caller == "submitit.core.utils":
            return len(text)
        return self._stream.write(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _reader_gone() -> None:
    """Whoever read our output stopped (``run.py --help | head``): nothing is wrong, say nothing."""
    # later writes, and the flush at exit, go nowhere instead of raising again
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(0)


def _exit(message: str, status: int = 2) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(status)
