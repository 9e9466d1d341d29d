"""Hydra/OmegaConf glue: resolvers used by ``conf/`` and the project root."""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import OmegaConf

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = PROJECT_ROOT / "conf"


def register_resolvers() -> None:
    # ${zcnas_or:a,b}: a unless empty, else b (a single run with no overrides goes to ".../default").
    if not OmegaConf.has_resolver("zcnas_or"):
        OmegaConf.register_new_resolver("zcnas_or", lambda value, fallback: value if value else fallback)
    os.environ.setdefault("ZCNAS_ROOT", str(PROJECT_ROOT))
