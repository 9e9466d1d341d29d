"""zcnas entry point: ``python run.py metric=synflow search=random dataset=cifar10 seed=0``."""

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from zcnas.config import check_group_overrides, register_resolvers

register_resolvers()


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    from zcnas.runner import run_job

    hc = HydraConfig.get()
    run_job(cfg, hc.runtime.output_dir, multirun=hc.mode == RunMode.MULTIRUN)


if __name__ == "__main__":
    problem = check_group_overrides(sys.argv[1:])
    if problem:
        sys.exit(f"error: {problem}")
    main()
