"""Which architectures a score job scores: the whole space, a seeded sample or an explicit list,
then its shard (whole isomorphism classes per shard with ``share_isomorphic=true``)."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import numpy as np
from omegaconf import DictConfig

from zcnas.build import build_benchmark, build_space
from zcnas.errors import ConfigError
from zcnas.spaces import SearchSpace


def select_indices(sample: int | None, seed: int, shard: int, num_shards: int,
                   indices: list[int] | None = None, classes=None, *, space: SearchSpace,
                   table_archs: list[str] | None = None) -> list:
    """The architectures of one scoring job, in ascending order of their keys (the space's index, or
    the canonical string in a space without one; ``table_archs``: such a space's "whole space").

    With ``classes`` (key -> class id), shards split whole classes: the
    classes, in order of their lowest selected index, are dealt round-robin
    (cost varies along the index order, so contiguous runs would not balance),
    and a shard holds every selected member of its classes.
    """
    if isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 1:
        raise ConfigError(f"num_shards must be a positive integer, got {num_shards!r}")
    if isinstance(shard, bool) or not isinstance(shard, int) or not 0 <= shard < num_shards:
        raise ConfigError(f"shard must be an integer in 0..{num_shards - 1} (num_shards={num_shards}), got {shard!r}")
    if indices is not None:
        # a string is a Sequence too, but iterating it would read 'abc' as the architecture 'a'
        if isinstance(indices, str) or not isinstance(indices, Sequence):
            raise ConfigError("indices must be a list of NATS-Bench indices or architecture strings, "
                              f"e.g. indices=[0,1,2], got {indices!r}")
        if not indices:
            raise ConfigError("indices must name at least one architecture, e.g. indices=[0,1,2] "
                              "(or leave it null to score a sample or the whole space)")
        # bad entries raise a one-line ArchError
        keys = [space.key(space.to_arch(i)) for i in indices]
        # the same architecture twice (also as index and string) is a mistake in the list, not a weight
        seen: dict = {}
        for given, key in zip(indices, keys):
            if key in seen:
                again = "" if str(seen[key]) == str(given) else f" (as {seen[key]!r} and {given!r})"
                raise ConfigError(f"indices names the architecture {given!r} more than once{again}; "
                                  "list each architecture once")
            seen[key] = given
        chosen = sorted(keys)
    elif sample is not None:
        size = space.size if space.indexed else len(table_archs or ()) or None
        if isinstance(sample, bool) or not isinstance(sample, int) or sample < 1 or (space.indexed and sample > size):
            most = f"1..{space.size}" if space.indexed else ">= 1"
            raise ConfigError(f"sample must be an integer in {most} (or null for the whole space), got {sample!r}")
        if space.indexed:  # NATS-Bench TSS: the same draw as always
            chosen = sorted(int(i) for i in np.random.default_rng(seed).choice(space.size, sample, replace=False))
        else:
            chosen = sorted(distinct_sample(space, sample, seed))
    elif space.indexed:
        chosen = list(range(space.size))
    elif table_archs:
        chosen = sorted(table_archs)
    else:
        raise ConfigError(f"space {space.name} cannot be enumerated and has no ground-truth table: give sample=N "
                          "or indices=[<architecture strings>]")
    if classes is None:
        return [chosen[i] for i in np.array_split(np.arange(len(chosen)), num_shards)[shard]]
    of = classes.__getitem__ if isinstance(classes, Mapping) else classes  # key -> class: a dict or a function
    order = list(dict.fromkeys(of(i) for i in chosen))  # classes by their lowest selected key
    mine = set(order[shard::num_shards])
    return [i for i in chosen if of(i) in mine]


def distinct_sample(space: SearchSpace, n: int, seed: int) -> list[str]:
    """``n`` distinct architectures (canonical strings) from the space's sampler, seeded."""
    rng, found = random.Random(seed), {}
    for _ in range(100 * n):
        arch = space.format(space.sample(rng))
        found.setdefault(arch, None)
        if len(found) == n:
            return list(found)
    raise ConfigError(f"space {space.name}: {100 * n} draws gave only {len(found)} distinct architectures; "
                      f"ask for fewer than sample={n}")


def job_selection(cfg: DictConfig, share: bool):
    """(space, benchmark, key -> identity class or None, keys of this shard) of a score job."""
    space = build_space(cfg)
    benchmark = build_benchmark(cfg, space)
    table_archs = None
    if not space.indexed and cfg.get("sample") is None and cfg.get("indices") is None and benchmark.available:
        table_archs = benchmark.archs  # the architectures with ground truth
    rep = space.identity_classes() if share else None
    indices = select_indices(cfg.get("sample"), int(cfg.seed), cfg.shard, cfg.num_shards,
                             cfg.get("indices"), classes=rep, space=space, table_archs=table_archs)
    return space, benchmark, rep, indices
