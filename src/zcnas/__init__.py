"""zcnas: training-free ("zero-cost") neural architecture search."""

import sys
import types

__version__ = "0.1.0"

__all__ = ["__version__", "build", "load_rosters", "score", "search", "train"]

#: the Python API (zcnas.api), imported on first use so that `import zcnas` stays cheap (no torch)
API = ("build", "score", "search", "train")
#: torch-free functions of the API, also imported on first use (their modules read pandas and pyarrow)
DATA_API = {"load_rosters": "zcnas.roster.frame"}


class _Package(types.ModuleType):
    """``zcnas.build`` and ``zcnas.search`` are API functions although submodules have their names
    (``zcnas/build.py``, the job config's builders; ``zcnas/search/``, the strategies): importing a
    submodule sets the package attribute of its name, which must not replace the function."""

    def __getattribute__(self, name: str):
        if name in API:
            from zcnas import api

            return getattr(api, name)
        if name in DATA_API:
            import importlib

            return getattr(importlib.import_module(DATA_API[name]), name)
        return super().__getattribute__(name)

    def __setattr__(self, name: str, value) -> None:
        if name in API and isinstance(value, types.ModuleType):
            return  # the submodule stays importable: sys.modules["zcnas.build"], `from zcnas.build import ...`
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
