"""The thread policy (zcnas.threads): the cores other processes leave free, at least 1; explicit settings win."""

from __future__ import annotations

import os

import pytest

from zcnas import threads
from zcnas.errors import ConfigError


@pytest.mark.parametrize("cpus, load, total, expected", [
    (2, 0.0, 2, 2),     # idle: every core
    (2, 0.3, 2, 2),
    (2, 0.9, 2, 1),     # one core mostly busy
    (2, 2.0, 2, 1),     # one competing process per core: never more than 1
    (2, 7.0, 2, 1),     # heavily loaded: still 1
    (16, 0.0, 16, 16),
    (16, 4.0, 16, 12),
    (16, 40.0, 64, 6),  # a 16-CPU affinity on a 64-core node loaded with 40: a quarter of it is ours
    (1, 0.0, 8, 1),
    (2.5, 0.0, 8, 2),   # a fractional cgroup quota
])
def test_auto_threads(cpus, load, total, expected):
    assert threads.auto_threads(cpus, load, total) == expected


def test_auto_threads_stays_within_the_usable_cpus():
    for load in (0.0, 0.5, 1.0, 3.0, 100.0):
        n = threads.auto_threads(None, load, None)
        assert 1 <= n <= max(1, int(threads.usable_cpus()))


def test_explicit_settings_win(monkeypatch):
    monkeypatch.setattr(threads, "_auto", None)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads.resolve_threads(5) == (5, "hardware.threads")
    assert threads.resolve_threads("4") == (4, "hardware.threads")
    assert threads.resolve_threads("auto") == (3, "OMP_NUM_THREADS")
    assert threads.resolve_threads(None) == (3, "OMP_NUM_THREADS")
    for bad in (0, -2, "many"):
        with pytest.raises(ConfigError, match="hardware.threads"):
            threads.resolve_threads(bad)


def test_auto_is_decided_once_per_process(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "_auto", None)
    monkeypatch.setattr(threads, "usable_cpus", lambda: 2)
    monkeypatch.setattr(threads, "other_load", lambda: 0.0)
    n, why = threads.resolve_threads("auto")
    assert n == 2 and why.startswith("load 0.0 on 2 ")
    monkeypatch.setattr(threads, "other_load", lambda: 5.0)  # this process's own earlier jobs
    assert threads.resolve_threads("auto")[0] == 2


def test_other_load_is_a_non_negative_number():
    assert threads.other_load() >= 0.0


def test_a_process_caught_running_once_is_not_load(monkeypatch):
    # the median of the readings: a shell command seen in one reading of five does not take an
    # idle machine's second thread; a CPU-bound process, running in most readings, does
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (0.2, 0.3, 0.4))
    readings = iter([1, 0, 0, 0, 0])
    monkeypatch.setattr(threads, "running_others", lambda: next(readings))
    assert threads.other_load(interval=0) == 0.2
    assert threads.auto_threads(cpus=2, load=0.2, total=2) == 2
    readings = iter([1, 1, 0, 1, 1])
    assert threads.other_load(interval=0) == 1.0
    assert threads.auto_threads(cpus=2, load=1.0, total=2) == 1
    monkeypatch.setattr(threads, "running_others", lambda: None)  # no /proc: the load average alone
    assert threads.other_load(interval=0) == 0.2



def test_configure_hardware_logs_and_sets_the_threads(compose_cfg, capsys):
    import torch

    from zcnas.build import configure_hardware

    before = torch.get_num_threads()
    try:
        assert configure_hardware(compose_cfg("hardware.threads=1")) == "cpu"
        assert torch.get_num_threads() == 1
        assert "[zcnas] torch threads: 1 (hardware.threads)" in capsys.readouterr().out
        configure_hardware(compose_cfg())  # the default, auto
        out = capsys.readouterr().out
        assert "[zcnas] torch threads: " in out and 1 <= torch.get_num_threads() <= (os.cpu_count() or 1)
    finally:
        torch.set_num_threads(before)
