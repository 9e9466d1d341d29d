"""NATS-Bench's topology search space (TSS), the paper's space: its cells (``cells``), networks
(``network``), HW-NAS-Bench costs (``hw_costs``) and the ``SearchSpace`` over them (``space``)."""
