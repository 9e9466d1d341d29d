"""``make bench``'s parts: bench/bench.py --compete (busy loops started and always stopped), the
speed targets in its report, and bench/summary.py's side-by-side summary of two passes."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared_data import shared_data_dir

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"


def load_script(name: str):
    """A bench/ script as a module, without putting bench/ on sys.path for the whole session."""
    spec = importlib.util.spec_from_file_location(f"zcnas_bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


summary = load_script("summary")
BusyLoops = load_script("compete").BusyLoops


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_busy_loops_run_and_are_stopped_even_on_an_exception():
    with pytest.raises(KeyboardInterrupt):
        with BusyLoops(2) as busy:
            pids = busy.pids
            assert len(pids) == 2 and busy.running() == 2
            time.sleep(0.3)
            assert busy.cpu_seconds() is None or busy.cpu_seconds() > 0  # they spin
            raise KeyboardInterrupt
    assert all(gone(pid) for pid in pids)
    assert busy.running() == 0
    busy.stop()  # idempotent


def test_busy_loops_exit_when_their_parent_is_killed(tmp_path):
    # the parent dies without running its finally (SIGKILL): each loop notices and exits by itself
    script = (f"import sys, time; sys.path.insert(0, {str(BENCH)!r})\n"
              "from compete import BusyLoops\n"
              "busy = BusyLoops(1).start()\n"
              "print(busy.pids[0], flush=True)\n"
              "time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(parent.stdout.readline())
        assert not gone(pid)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 10
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
        try:  # an orphan is reaped by init; should we be its subreaper, reap it here
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    assert gone(pid)


@pytest.mark.slow
def test_bench_with_a_competing_loop_writes_targets_and_stops_the_loop(tmp_path):
    data = shared_data_dir()
    proc = subprocess.run(
        [sys.executable, str(BENCH / "bench.py"), "--quick", "--sample", "2", "--metrics", "synflow",
         "--searches", "none", "--compete", "1", "--data-dir", str(data), "--out", str(tmp_path), "--tag", "t"],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "t.json").read_text())
    meta = report["meta"]
    assert meta["compete"] == 1 and len(meta["compete_pids"]) == 1
    assert meta["compete_running_at_end"] == 1  # the loop ran through the measurement
    assert all(gone(pid) for pid in meta["compete_pids"])  # ... and was stopped with the process
    assert meta["threads"] == 1 and meta["threads_setting"] == "1" and meta["threads_why"] == "given"
    t = report["targets"]
    assert t["compete"] == 1 and t["target"] == 1.0
    syn = t["metrics"]["synflow"]
    assert syn["target"] == 1.0 and isinstance(syn["met"], bool)
    per_arch = report["per_arch"][0]
    assert syn["engine"] == per_arch["engine"]["median_s"] and syn["reference"] == per_arch["reference"]["median_s"]
    assert syn["ratio"] == pytest.approx(syn["reference"] / syn["engine"])
    assert syn["met"] == (syn["ratio"] >= 1.0)
    assert t["all_met"] is False  # hook_logdet and snip were not measured
    assert "1 competing busy loop" in proc.stdout and "targets (" in proc.stdout
    assert ("synflow" in proc.stdout) and ("NOT met" in proc.stdout or " met" in proc.stdout)


def test_an_idle_pass_waits_for_the_load_of_the_pass_before_it(monkeypatch, capsys):
    """make bench runs its passes back to back: an idle pass waits until the thread policy would use
    every core again, and says how long it waited (or that it measured a busy machine anyway)."""
    import zcnas.threads as threads

    bench = load_script("bench")
    loads = iter([1.6, 0.9, 0.3])  # the previous pass's load average decaying
    monkeypatch.setattr(threads, "usable_cpus", lambda: 2)
    monkeypatch.setattr(threads, "other_load", lambda: next(loads))
    waited = bench.wait_for_idle(60, poll=0.01)
    assert waited["idle"] is True and waited["other_load"] == 0.3 and waited["seconds"] < 60
    assert "for the machine to be idle: other load 0.3" in capsys.readouterr().out

    monkeypatch.setattr(threads, "other_load", lambda: 1.7)  # never idle: gives up, says so
    waited = bench.wait_for_idle(0.05, poll=0.01)
    assert waited["idle"] is False and waited["other_load"] == 1.7
    assert "still busy after 0 s; measuring anyway" in capsys.readouterr().out
    assert bench.wait_for_idle(0) is None  # no wait asked: nothing recorded


def fake_report(compete: int, threads: int, medians: dict[str, tuple[float, float]], load1: float = 0.1) -> dict:
    return {"meta": {"compete": compete, "threads": threads, "cores": 2, "threads_setting": "auto",
                     "threads_why": f"zcnas policy: load {load1} on 2 of 2 cores", "omp_wait_policy": None,
                     "load_start": [load1, 0.2, 0.3], "compete_running_at_end": compete},
            "per_arch": [{"metric": m, "engine": {"median_s": e, "n": 5}, "reference": {"median_s": r, "n": 5},
                          "load_before": [load1, 0, 0], "load_after": [load1, 0, 0]}
                         for m, (e, r) in medians.items()]}


def test_targets_idle_4x_and_loaded_1x():
    idle = summary.compute_targets(fake_report(0, 2, {"synflow": (0.01, 0.05), "hook_logdet": (0.3, 1.0),
                                                      "snip": (0.25, 1.0), "grad_norm": (1.0, 1.0)}))
    assert idle["target"] == 4.0 and set(idle["metrics"]) == {"synflow", "hook_logdet", "snip"}
    assert [idle["metrics"][m]["met"] for m in ("synflow", "hook_logdet", "snip")] == [True, False, True]
    assert idle["metrics"]["hook_logdet"]["ratio"] == pytest.approx(1.0 / 0.3)
    assert idle["all_met"] is False and idle["notes"] == []
    loaded = summary.compute_targets(fake_report(1, 1, {"synflow": (0.05, 0.05), "hook_logdet": (0.9, 1.0),
                                                        "snip": (1.1, 1.0)}, load1=2.0))
    assert loaded["target"] == 1.0
    assert [loaded["metrics"][m]["met"] for m in ("synflow", "hook_logdet", "snip")] == [True, True, False]
    text = summary.format_targets(loaded)
    assert "beside 1 competing busy loop" in text and "NOT met" in text and "every target met: no" in text
    assert "1 torch thread(s) (--threads auto: zcnas policy: load 2.0 on 2 of 2 cores)" in text
    # an idle pass that got 1 thread is flagged: the target is stated for 2 threads at idle
    flagged = summary.compute_targets(fake_report(0, 1, {"synflow": (0.01, 0.05)}, load1=1.2))
    assert any("stated for 2 threads" in n for n in flagged["notes"])
    assert any("not measured: hook_logdet, snip" in n for n in flagged["notes"])


def test_summary_prints_two_passes_side_by_side(tmp_path, capsys):
    idle = fake_report(0, 2, {"synflow": (0.01, 0.05), "hook_logdet": (0.3, 1.0), "snip": (0.2, 1.0)})
    idle["targets"] = summary.compute_targets(idle)
    loaded = fake_report(1, 1, {"synflow": (0.05, 0.04), "hook_logdet": (0.9, 1.0), "snip": (0.8, 1.0)}, load1=2.0)
    (tmp_path / "p_idle.json").write_text(json.dumps(idle))
    (tmp_path / "p_compete1.json").write_text(json.dumps(loaded))  # no stored targets: evaluated by summary.py
    assert summary.main([str(tmp_path / "p_idle.json"), str(tmp_path / "p_compete1.json")]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "p_idle (>= 4x)" in out and "p_compete1 (>= 1x)" in out
    assert lines["synflow"].split()[1:] == ["5.00x", "met", "0.80x", "NOT", "met"]
    assert lines["hook_logdet"].split()[1:] == ["3.33x", "NOT", "met", "1.11x", "met"]
    assert lines["snip"].split()[1:] == ["5.00x", "met", "1.25x", "met"]
    assert "p_idle: idle" in out and "p_compete1: beside 1 competing busy loop(s); 1 torch thread(s)" in out
    # a missing pass is an error, the others are still printed
    assert summary.main([str(tmp_path / "p_idle.json"), str(tmp_path / "missing.json")]) == 1
    assert "p_idle (>= 4x)" in capsys.readouterr().out


def fused_report(fused: float, hook: float, singles: float, identical: int, cells: int = 4) -> dict:
    return {"meta": {"cells": cells, "metrics": ["hook_logdet", "synflow"], "batch_size": 128, "dataset": "cifar10",
                     "threads": 2, "threads_setting": "auto", "threads_why": "zcnas policy: load 0.1 on 0 of 2 cores",
                     "load_before": [0.1, 0.2, 0.3]},
            "median_s": {"fused": fused, "hook_logdet": hook, "sum_of_singles": singles},
            "fused_over_hook_logdet": fused / hook, "singles_over_fused": singles / fused,
            "identical": {"hook_logdet": cells, "synflow": identical}}


def test_summary_prints_the_fused_engine_targets_after_the_passes(tmp_path, capsys):
    """make bench ends with bench/fused.py's report: both fused-engine targets, the thread policy, and whether
    every fused score equals its single-metric one."""
    (tmp_path / "p_fused.json").write_text(json.dumps(fused_report(0.6, 0.25, 3.0, identical=4)))
    (tmp_path / "q_fused.json").write_text(json.dumps(fused_report(1.0, 0.25, 2.0, identical=3)))
    assert summary.main([str(tmp_path / "p_fused.json"), str(tmp_path / "q_fused.json")]) == 0
    out = capsys.readouterr().out
    p, q = out.split("fused engine (q_fused)")
    assert "fused engine (p_fused): 2 proxies" in p and "--threads auto: zcnas policy" in p
    assert "fused / hook_logdet alone     2.40  (target <= 3: met)" in p
    assert "sum of singles / fused        5.00  (target >= 4: met)" in p
    assert "single-metric score: yes" in p
    assert "4.00  (target <= 3: NOT met)" in q and "2.00  (target >= 4: NOT met)" in q
    assert "single-metric score: NO (synflow)" in q


def test_fused_bench_runs_as_make_bench_runs_it(tmp_path):
    """bench/fused.py with make bench's arguments (fewer cells and metrics), then summary.py on its report."""
    data = shared_data_dir()
    run = subprocess.run([sys.executable, str(BENCH / "fused.py"), "--threads", "auto", "--wait-idle", "1",
                          "--cells", "1", "--metrics", "hook_logdet,synflow,params", "--data-dir", str(data),
                          "--out", str(tmp_path), "--tag", "t_fused"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "torch thread(s) (zcnas policy:" in run.stdout and "for the machine to be idle" in run.stdout
    report = json.loads((tmp_path / "t_fused.json").read_text())
    assert set(report["meta"]["waited_idle"]) == {"seconds", "other_load", "idle"}
    assert report["identical"] == {"hook_logdet": 1, "synflow": 1, "params": 1}
    assert report["meta"]["threads_setting"] == "auto" and report["meta"]["threads_why"].startswith("zcnas policy")
    shown = subprocess.run([sys.executable, str(BENCH / "summary.py"), str(tmp_path / "t_fused.json")],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "fused engine (t_fused): 3 proxies" in shown.stdout
