"""Shared fixtures: the benchmark table and Hydra config composition."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from shared_data import shared_data_dir
from zcnas.config import CONFIG_DIR, register_resolvers

register_resolvers()


@pytest.fixture(scope="session")
def benchmark_csv():
    return shared_data_dir() / "nats_tss" / "nats_tss_benchmark.csv"


@pytest.fixture(scope="session")
def table_benchmark(benchmark_csv):
    from zcnas.benchmark import TableBenchmark

    return TableBenchmark(benchmark_csv)


@pytest.fixture
def compose_cfg(tmp_path):
    """Compose the real config with overrides; every output goes under tmp_path."""

    def _compose(*overrides: str):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            cfg = compose(
                config_name="config",
                overrides=[f"paths.output_dir={tmp_path}/outputs", f"paths.multirun_dir={tmp_path}/multirun",
                           "progress=false", *overrides],
                return_hydra_config=False,
            )
        GlobalHydra.instance().clear()
        return cfg

    return _compose
