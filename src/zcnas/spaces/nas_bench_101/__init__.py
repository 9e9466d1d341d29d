"""NAS-Bench-101: the ``SearchSpace`` (``space``, plain Python), its torch network (``network``) and
the reader of the official data file (``tfrecord``)."""
