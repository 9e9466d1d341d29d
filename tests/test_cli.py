"""The runner end to end through the real CLI: a synflow random search and its result file."""

import json

import pytest

from cli import run_cli

pytestmark = pytest.mark.integration


def result_files(root):
    return sorted(root.rglob("result.json"))


def test_synflow_random_search_reports_test_accuracy(tmp_path, benchmark_csv):
    proc = run_cli(tmp_path, "metric=synflow", "search=random", "search.n=12", "seed=3",
                   "benchmark=table", f"benchmark.path={benchmark_csv}")
    assert "best architecture:" in proc.stdout and "test accuracy (200 epochs)" in proc.stdout
    (path,) = result_files(tmp_path / "outputs")
    assert "metric=synflow" in str(path) and "seed=3" in str(path)
    result = json.loads(path.read_text())
    assert result["status"] == "ok" and result["visited"] == 12 and len(result["trace"]["index"]) == 12
    best = result["best"]
    import pandas as pd
    table = pd.read_csv(benchmark_csv)
    assert table.loc[best["index"], "arch"] == best["arch"]
    assert best["test_accuracy"] == table.loc[best["index"], "cifar10_test_acc"]
    assert best["rank"] == 1 + (table["cifar10_test_acc"] > best["test_accuracy"]).sum()
    assert result["trace"]["best_score"][-1] == best["score"] == max(result["trace"]["score"])
    assert result["config"]["seed"] == 3
    # the same job again is recognized as done and not recomputed
    again = run_cli(tmp_path, "metric=synflow", "search=random", "search.n=12", "seed=3",
                    "benchmark=table", f"benchmark.path={benchmark_csv}")
    assert "already done" in again.stdout
    assert json.loads(path.read_text())["started"] == result["started"]


def test_seeded_job_is_exactly_repeatable(tmp_path):
    a = run_cli(tmp_path / "a", "search.n=6", "benchmark=none")
    b = run_cli(tmp_path / "b", "search.n=6", "benchmark=none")
    ra, rb = (json.loads(result_files(p)[0].read_text()) for p in (tmp_path / "a", tmp_path / "b"))
    assert ra["trace"]["index"] == rb["trace"]["index"] and ra["trace"]["score"] == rb["trace"]["score"]
    assert "accuracies are unavailable" in a.stdout and a.stdout.count("accuracies are unavailable") == 1
    assert "test accuracy: unavailable" in b.stdout


def test_a_finished_result_of_another_configuration_is_kept_and_the_job_reruns(compose_cfg, tmp_path, capsys):
    from zcnas.jobs import config_changes
    from zcnas.runner import run_job

    job = tmp_path / "job"  # one folder, two configurations: as after editing an experiment file
    first = run_job(compose_cfg("search.n=6", "benchmark=none"), job)
    same = run_job(compose_cfg("search.n=6", "benchmark=none", "progress=true", "hardware.threads=1"), job)
    assert same["started"] == first["started"] and "already done" in capsys.readouterr().out
    second = run_job(compose_cfg("search.n=4", "benchmark=none"), job)
    out = capsys.readouterr().out
    assert "holds a result of another configuration (search.n differs)" in out
    assert len(second["trace"]["index"]) == 4 and second["started"] != first["started"]
    kept = list(job.glob("result.superseded-*.json"))
    assert len(kept) == 1 and json.loads(kept[0].read_text())["started"] == first["started"]
    # where the project lives and how a job runs are not its configuration; keys only one side has are
    # ignored; the files its scores come from are (tests/test_cli_errors.py)
    assert config_changes({"seed": 1, "paths": {"root_dir": "/a"}, "hardware": {"threads": 1}},
                          {"seed": 1, "paths": {"root_dir": "/b"}, "hardware": {"threads": 2}, "new": 2}) == []
    assert config_changes({"metric": {"members": ["a", "b"]}}, {"metric": {"members": ["a", "c"]}}) == ["metric.members"]


@pytest.mark.parametrize("args, message", [
    (["metric=nope"], "error: unknown metric 'nope'; valid: "),
    (["dataset=mnist"], "error: unknown dataset 'mnist'; valid: ImageNet16-120, cifar10, cifar100"),
    (["search=nope"], "error: unknown search 'nope'; valid: "),
    (["search.n=0"], "error: search.n must be a positive integer"),
    (["seed=abc"], "error: seed must be an integer >= 0"),
    (["task=score", "metric=val12", "indices=['|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|conv~2|']"],
     "error: unknown operation 'conv' in '|nor_conv_3x3~0|"),
    (["task=nope"], "error: unknown task 'nope'; valid: "),
    (["benchmark=table", "benchmark.path=/nonexistent/table.csv"], "error: benchmark table not found: /nonexistent/table.csv"),
])
def test_bad_input_gives_one_line_errors(tmp_path, args, message):
    proc = run_cli(tmp_path, *args, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
