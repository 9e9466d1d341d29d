"""The hardware study (``task=hw_study``): accuracy-latency Pareto fronts of NATS-Bench on
HW-NAS-Bench's devices, and what zero-cost searches find under latency budgets."""
