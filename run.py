"""zcnas entry point: ``python run.py metric=synflow search=random dataset=cifar10 seed=0``."""

import os
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

# results go to the checkout this file is in (not the one an editable install points at)
os.environ.setdefault("ZCNAS_ROOT", str(Path(__file__).resolve().parent))

from zcnas.config import register_resolvers  # noqa: E402

register_resolvers()


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    from zcnas.runner import run_job

    hc = HydraConfig.get()
    run_job(cfg, hc.runtime.output_dir, multirun=hc.mode == RunMode.MULTIRUN)


if __name__ == "__main__":
    from zcnas import cli

    cli.main(main, Path(__file__).resolve().parent / "conf")
