"""Run the real CLI (``python run.py ...``) in a subprocess with outputs redirected."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(tmp_path: Path, *args: str, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "run.py"), f"paths.output_dir={tmp_path}/outputs",
           f"paths.multirun_dir={tmp_path}/multirun", "progress=false", *args]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "HYDRA_FULL_ERROR": "0"})
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def one_line_error(proc: subprocess.CompletedProcess, status: int = 2) -> str:
    """The one ``error:`` line of a refused run (exit ``status``, no traceback)."""
    assert proc.returncode == status, f"exit {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    lines = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr and len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    return lines[0]
