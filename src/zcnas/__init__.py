"""zcnas: training-free ("zero-cost") neural architecture search on NATS-Bench."""

__version__ = "0.1.0"

__all__ = ["__version__", "score"]


def __getattr__(name: str):
    # zcnas.score is imported on first use, so that `import zcnas` stays cheap (no torch).
    if name == "score":
        from zcnas.api import score

        return score
    raise AttributeError(f"module 'zcnas' has no attribute {name!r}")
