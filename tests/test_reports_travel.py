"""Reports travel: a study's report names the files it read relative to the project root (or the
shared data folder), and a file elsewhere by its name and content hash, never by an absolute path,
so a checkout at another path regenerates the committed reports byte for byte.  Small rosters are
cut from the committed ones, in tmp_path."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cli import ROOT, run_cli
from shared_data import shared_data_dir
from test_reports_kept import files, small_rosters
from zcnas.studies.portable import PathNames

TEXT_FILES = (".md", ".csv")


def report_text(folder: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(folder.iterdir()) if p.suffix in TEXT_FILES)


# --- how a path is named -------------------------------------------------------------------------

def test_a_file_under_the_root_is_named_relative_to_it(tmp_path):
    names = PathNames(tmp_path / "project", tmp_path / "shared" / "data")
    assert names.name(tmp_path / "project" / "results" / "rosters" / "r.parquet") == "results/rosters/r.parquet"
    # a ".." inside the path is folded first
    assert names.name(tmp_path / "project" / "results" / ".." / "results" / "x.csv") == "results/x.csv"


def test_a_file_under_the_shared_data_folder_is_named_by_its_place_beside_the_project(tmp_path):
    names = PathNames(tmp_path / "project", tmp_path / "shared" / "data")
    table = tmp_path / "project" / ".." / "shared" / "data" / "nats_tss" / "t.csv"
    assert names.name(table) == "../shared/data/nats_tss/t.csv"
    elsewhere = PathNames(tmp_path / "project", tmp_path / "mounted")  # ZCNAS_SHARED_DATA=/somewhere
    assert elsewhere.name(tmp_path / "mounted" / "nats_tss" / "t.csv") == "../shared/data/nats_tss/t.csv"


def test_a_file_elsewhere_is_named_by_its_name_and_content_hash(tmp_path):
    roster = tmp_path / "outside" / "r.parquet"
    roster.parent.mkdir()
    roster.write_bytes(b"some roster")
    named = PathNames(tmp_path / "project").name(roster)
    assert named == f"r.parquet (sha256 {hashlib.sha256(b'some roster').hexdigest()[:12]})"
    assert str(tmp_path) not in named
    assert PathNames(tmp_path / "project").name(tmp_path / "outside") == "outside"  # a folder: its name


def test_a_benchmark_is_described_with_its_path_named(tmp_path):
    class Table:
        path = tmp_path / "project" / ".." / "shared" / "data" / "t.csv"
        description = f"table {path}"

    assert PathNames(tmp_path / "project", tmp_path / "shared" / "data").describe(Table()) == \
        "table ../shared/data/t.csv"


# --- the reports ---------------------------------------------------------------------------------

@pytest.mark.integration
def test_a_correlation_report_holds_no_absolute_path(tmp_path):
    rosters = small_rosters(tmp_path / "rosters", ["hook_logdet", "synflow"], 200)
    report = tmp_path / "report"
    run_cli(tmp_path, "task=correlate", f"rosters=[{rosters}/*.parquet]", f"report_dir={report}")
    text = report_text(report)
    assert "synflow_cifar10.parquet (sha256 " in text and "combined" in text
    for absolute in {str(tmp_path), str(tmp_path.resolve()), str(ROOT), str(Path.home())} - {"/"}:
        assert absolute not in text
    assert "table ../shared/data/nats_tss/nats_tss_benchmark.csv" in text


@pytest.mark.integration
def test_a_checkout_at_another_path_regenerates_the_same_report(tmp_path):
    shared = shared_data_dir()
    reports = []
    for checkout in (tmp_path / "here", tmp_path / "elsewhere" / "clone"):
        small_rosters(checkout / "results" / "rosters", ["hook_logdet", "synflow"], 150)
        report = checkout / "results" / "correlation"
        run_cli(tmp_path, f"paths.root_dir={checkout}", f"paths.shared_data={shared}",
                f"rosters=[{checkout}/results/rosters/*.parquet]", "task=correlate", f"report_dir={report}")
        reports.append(files(report))
    assert reports[0] == reports[1]  # byte for byte, figures included
    assert "results/rosters/hook_logdet_cifar10.parquet" in reports[0]["table1.md"].decode()
