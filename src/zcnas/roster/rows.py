"""The ``Roster`` type: one row per architecture, and the metadata that says what scored it.

Columns: ``index`` (the space's integer index; -1 in a space without one, such as NAS-Bench-101,
where ``arch`` alone names the architecture), ``arch`` (canonical string), ``score`` (float64, may
be non-finite), ``finite`` (False for NaN/inf scores), ``seconds`` (time spent scoring that row, or
the recorded cost for benchmark-backed metrics) and ``source`` (``computed``, ``shared`` when
copied from an isomorphic cell, ``imported``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import pandas as pd

from zcnas.errors import DataError
from zcnas.roster.identity import check_space, describe_space, registry_space, space_fix, space_identity
from zcnas.roster.validate import COLUMNS, NO_INDEX, check_rows
from zcnas.spaces import SearchSpace


@dataclass
class Roster:
    rows: pd.DataFrame
    meta: dict = field(default_factory=dict)
    #: the space the rows were checked in (the job's); None: the built-in one ``meta`` names
    in_space: SearchSpace | None = field(default=None, repr=False, compare=False)

    @classmethod
    def empty(cls, meta: dict) -> "Roster":
        """No rows yet (of whatever space ``meta`` records)."""
        return cls(typed_rows(pd.DataFrame({c: [] for c in ("index", "arch", "score", "seconds", "source")})), dict(meta))

    def __len__(self) -> int:
        return len(self.rows)

    def read_in(self, space: SearchSpace, name: object) -> "Roster":
        """This roster checked in the job's ``space`` (its recorded space must be it, its rows of it),
        which it is read in from then on."""
        check_space(self.meta, space, name)
        if self.in_space is not space:
            check_rows(self.rows, name, space)
            self.in_space = space
        return self

    @property
    def indices(self) -> set[int]:
        return set(int(i) for i in self.rows["index"])

    @property
    def keys(self) -> set[int | str]:
        """What names a row: the index, or the arch string in a space without an index (index -1)."""
        indexed = self.in_space.indexed if self.in_space is not None else not (self.rows["index"] == NO_INDEX).any()
        return self.indices if indexed else set(self.rows["arch"].astype(str))

    def scores(self) -> dict[int, float]:
        return dict(zip(self.rows["index"].astype(int), self.rows["score"].astype(float)))

    def seconds(self) -> dict[int, float]:
        return dict(zip(self.rows["index"].astype(int), self.rows["seconds"].astype(float)))

    @property
    def space(self) -> SearchSpace:
        if self.in_space is not None:
            return self.in_space
        space = registry_space(self.meta)
        if space is None:  # a user's space: only the job's configuration may load its class
            identity = space_identity(self.meta)
            raise DataError(f"a roster of {self.meta.get('metric')} is of a user's space {describe_space(identity)}, "
                            f"which this job did not configure; {space_fix(identity)}")
        return space

    def score_array(self) -> np.ndarray:
        """Scores by the space's index (NaN where an architecture is missing); spaces with an index only."""
        size = self.space.size
        if size is None:
            raise DataError(f"space {self.space.name} has no index: align scores by architecture (scores_by_arch)")
        out = np.full(size, np.nan)
        out[self.rows["index"].to_numpy(dtype=int)] = self.rows["score"].to_numpy(dtype=float)
        return out

    def scores_by_arch(self) -> dict[str, float]:
        return dict(zip(self.rows["arch"].astype(str), self.rows["score"].astype(float)))

    def scores_for(self, archs: list[str]) -> np.ndarray:
        """Scores aligned with ``archs`` (canonical strings), NaN where missing."""
        by_arch = self.scores_by_arch()
        return np.array([by_arch.get(a, np.nan) for a in archs], dtype=float)


def make_rows(records: Iterable[tuple[int | str, float, float, str]], space: SearchSpace) -> pd.DataFrame:
    """Rows from (key, score, seconds, source) records; the key is the space's index, or the canonical
    architecture string in a space without one."""
    records = list(records)
    if space.rows_by_index:
        archs = space.index_strings()
        index = [int(r[0]) for r in records]
        arch = [archs[i] for i in index]
    elif space.indexed:
        index = [int(r[0]) for r in records]
        arch = [space.format(space.from_index(i)) for i in index]
    else:
        index = [NO_INDEX] * len(records)
        arch = [str(r[0]) for r in records]
    return typed_rows(pd.DataFrame({"index": index, "arch": arch,
                                "score": [float(r[1]) for r in records], "seconds": [float(r[2]) for r in records],
                                "source": [r[3] for r in records]}))


def typed_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The roster columns with their types; ``finite`` is derived from the score, never trusted."""
    frame = frame.astype({"index": "int64", "arch": "string", "score": "float64", "seconds": "float64",
                          "source": "string"})
    frame["finite"] = np.isfinite(frame["score"].to_numpy())
    return frame[list(COLUMNS)].reset_index(drop=True)
