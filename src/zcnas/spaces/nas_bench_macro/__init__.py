"""NAS-Bench-Macro: the ``SearchSpace`` (``space``, plain Python) and its torch network (``network``)."""
