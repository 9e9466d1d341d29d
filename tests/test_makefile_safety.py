"""Make variables and script arguments are data: no shell ever evaluates what a user passes.

The real targets run here (``make run``, ``make tables``, ...) with an injected ``touch`` that
must not happen; ``STAMP`` points at a fresh file of the test's own so that nothing is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


def make(tmp_path: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    stamp = tmp_path / "installed"
    stamp.touch()  # newer than setup.cfg: the install recipe does not run
    env = {k: v for k, v in os.environ.items()
           if k not in ("ARGS", "SWEEP", "SCORE_SWEEP", "EXPERIMENT", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    return subprocess.run(["make", "--no-print-directory", *args, f"STAMP={stamp}", f"PY={sys.executable}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def one_line_error(proc) -> str:
    """The program's one error line (make adds its own 'make: *** ... Error 2' after it)."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if not line.startswith("make: ***")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.mark.integration
@pytest.mark.parametrize("variable, target", [("SWEEP", "tables"), ("SWEEP", "figure2"),
                                              ("SCORE_SWEEP", "merge"), ("EXPERIMENT", "grid")])
@pytest.mark.parametrize("payload", ["x; touch {pwned};", "x`touch {pwned}`", "x && touch {pwned}",
                                     "../../x", "x/y", ".."])
def test_a_name_variable_is_a_plain_name_or_refused(tmp_path, variable, target, payload):
    pwned = tmp_path / "pwned"
    value = payload.format(pwned=pwned)
    proc = make(tmp_path, target, f"{variable}={value}")
    line = one_line_error(proc)
    assert line == f"error: {variable} must be a plain name (letters, digits, '._-'), got {value!r}"
    assert not pwned.exists()


@pytest.mark.integration
@pytest.mark.parametrize("target", ["run", "table1", "grid", "tables", "merge", "table-ensembles", "hw-study",
                                    "test-fast"])
def test_args_are_split_into_arguments_never_run(tmp_path, target):
    """``;`` is a character of an argument: the program gets ``x;``, ``touch``, ... and refuses them."""
    pwned = tmp_path / "pwned"
    for args in (f"search.n=3; touch {pwned}", f"x=$(touch {pwned})", f"x=`touch {pwned}` | touch {pwned}"):
        proc = make(tmp_path, target, f"ARGS={args}")
        assert proc.returncode != 0, proc.stdout + proc.stderr
        assert not pwned.exists(), f"make {target} ARGS={args!r} ran the shell command"
        if target == "run" and ";" in args:
            assert one_line_error(proc).startswith("error: cannot parse the command line")


@pytest.mark.integration
def test_args_still_pass_quoted_overrides(tmp_path):
    """Quoting groups words as a shell would (a folder with a space), and a real run works."""
    roster = ROOT / "results" / "rosters" / "synflow_cifar10.parquet"
    out = tmp_path / "a b"
    proc = make(tmp_path, "run", f"ARGS=metric.roster={roster} search.n=3 hardware.threads=1 progress=false "
                                 f"'paths.output_dir={out}'")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list(out.rglob("result.json")), proc.stdout


def test_unbalanced_quotes_in_args_are_one_line(tmp_path):
    proc = make(tmp_path, "run", "ARGS=search.n='3")
    assert "ARGS cannot be split into arguments" in one_line_error(proc)


def test_report_targets_name_their_report_folder(tmp_path):
    """Ad-hoc studies write into their job folder; the Makefile targets say where results/ wants them."""
    expected = {"table1": "results/correlation", "table-ensembles": "results/ensembles", "hw-study": "results/hw",
                "table-spaces": "results/correlation/nas_bench_macro"}
    for target, folder in expected.items():
        proc = make(tmp_path, "-n", target)
        assert proc.returncode == 0 and f"report_dir={ROOT / folder}" in proc.stdout, (target, proc.stdout)


# ---------------------------------------------------------------- bench/score_rosters.sh

@pytest.mark.parametrize("env, expected", [
    ({}, "error: unknown metric '../../name'"),
    ({"DATASETS": "cifar10 ../../x"}, "error: unknown metric '../../name'"),
])
def test_score_rosters_checks_the_metric_before_writing(tmp_path, env, expected):
    rosters = tmp_path / "a" / "b" / "rosters"
    proc = subprocess.run(["bash", str(ROOT / "bench" / "score_rosters.sh"), "../../name"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PY": sys.executable, "ROSTERS": str(rosters), "OUT": str(tmp_path / "o"),
                               **env})
    assert proc.returncode == 2 and proc.stderr.startswith(expected), proc.stderr
    assert list(tmp_path.rglob("*")) == []  # no log, no folder, inside ROSTERS or outside it


def test_score_rosters_checks_the_datasets_before_writing(tmp_path):
    proc = subprocess.run(["bash", str(ROOT / "bench" / "score_rosters.sh"), "synflow"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PY": sys.executable, "ROSTERS": str(tmp_path / "a" / "rosters"),
                               "OUT": str(tmp_path / "o"), "DATASETS": "cifar10 ../../x"})
    assert proc.returncode == 2 and proc.stderr.startswith("error: unknown dataset '../../x' in DATASETS"), proc.stderr
    assert list(tmp_path.rglob("*")) == []


@pytest.mark.integration
@pytest.mark.parametrize("target, variable", [("run", "ARGS"), ("tables", "SWEEP"), ("bench", "BENCH_TAG"),
                                              ("bench", "FUSED_CELLS")])
def test_make_functions_in_a_value_are_never_expanded(tmp_path, target, variable):
    """``$(shell ...)`` typed into a variable is text: make neither runs it when it exports the
    variable nor when it checks it."""
    pwned = tmp_path / "pwned"
    proc = make(tmp_path, target, f"{variable}=x$(shell touch {pwned})")
    assert proc.returncode != 0 and not pwned.exists(), proc.stdout + proc.stderr


@pytest.mark.parametrize("target, args, expected", [
    ("grid", (), "run.py -m experiment=paper"),
    ("grid", ("EXPERIMENT=tiny",), "run.py -m experiment=tiny"),
    ("tables", (), f"sweep_dir={ROOT}/multirun_outputs/paper "),
    ("merge", (), f"{ROOT}/multirun_outputs/score/**/roster.parquet"),
])
def test_the_name_variables_default_to_the_documented_sweeps(tmp_path, target, args, expected):
    """What the programs receive (a stand-in interpreter prints it): the defaults, or the value given."""
    stand_in = tmp_path / "python"
    stand_in.write_text(f'#!/bin/sh\nif [ "$1" = scripts/make_args.py ]; then exec {sys.executable} "$@"; fi\n'
                        'echo "$@"\n')
    stand_in.chmod(0o755)
    stamp = tmp_path / "installed"
    stamp.touch()
    env = {k: v for k, v in os.environ.items()
           if k not in ("ARGS", "SWEEP", "SCORE_SWEEP", "EXPERIMENT", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    proc = subprocess.run(["make", "--no-print-directory", target, *args, f"STAMP={stamp}", f"PY={stand_in}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert expected in proc.stdout, proc.stdout
