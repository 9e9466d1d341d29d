"""zcnas: training-free ("zero-cost") neural architecture search on NATS-Bench."""

__version__ = "0.1.0"
