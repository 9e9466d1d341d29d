"""Rosters: a persistent table of scores, one row per architecture, and what scored them.

A roster is a parquet file whose rows are the scores (``rows``: the ``Roster`` type and its
columns) and whose metadata (key ``zcnas``) says which metric, dataset, seed, batch size, space and
code version produced them, so a roster is self-describing.  The package, by idea:

- ``identity``: the metadata keys that must agree for rosters to be used together, and the space
  a roster records (``space_meta``);
- ``rows``: the ``Roster`` type, and rows built from scored records (``make_rows``);
- ``validate``: every field and row checked before any use (a roster is data, never code);
- ``io``: written atomically (``write_roster``), read checked (``read_roster``);
- ``merge``: shards and resumed chunks merged, identities and scores compared;
- ``csv_import``: a roster from a CSV of scores (``task=import``);
- ``frame``: any number of rosters as one tidy DataFrame (``zcnas.load_rosters``).

The names below are the ones users, tasks and studies import (``from zcnas.roster import ...``).
"""

from zcnas.roster.csv_import import import_csv
from zcnas.roster.frame import load_rosters
from zcnas.roster.identity import (IDENTITY_DEFAULTS, IDENTITY_KEYS, check_space, decode_options, describe_space,
                                   encode_options, identity_conflict, registry_space, space_fix, space_identity,
                                   space_identity_meta, space_meta)
from zcnas.roster.io import read_roster, read_roster_meta, write_roster
from zcnas.roster.merge import check_compatible, merge_rosters, overlap, score_conflicts
from zcnas.roster.rows import Roster, make_rows
from zcnas.roster.validate import COLUMNS, NO_INDEX

__all__ = ["COLUMNS", "IDENTITY_DEFAULTS", "IDENTITY_KEYS", "NO_INDEX", "Roster", "check_compatible", "check_space",
           "decode_options", "describe_space", "encode_options", "identity_conflict", "import_csv", "load_rosters",
           "make_rows", "merge_rosters", "overlap", "read_roster", "read_roster_meta", "registry_space",
           "score_conflicts", "space_fix", "space_identity", "space_identity_meta", "space_meta", "write_roster"]
