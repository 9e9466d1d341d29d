"""Rosters: format, merge, CSV import, shard selection, and the scoring job's resume."""

import math

import numpy as np
import pandas as pd
import pytest

from zcnas.errors import ConfigError, DataError
from zcnas.roster import Roster, import_csv, make_rows, merge_rosters, read_roster, write_roster
from zcnas.runner import run_job
from zcnas.tasks.score import select_indices
from zcnas.spaces.nats_tss.cells import arch_from_index
from zcnas.spaces.nats_tss.space import NATS_TSS

META = {"metric": "synflow", "dataset": "cifar10", "seed": 0, "batch_size": None, "settings": {"name": "synflow"}}


def test_round_trip_keeps_types_flags_and_metadata(tmp_path):
    roster = Roster(make_rows([(5, 1.5, 0.1, "computed"), (2, -math.inf, 0.2, "computed"), (9, math.nan, 0.0, "shared")], NATS_TSS), META)
    write_roster(tmp_path / "r.parquet", roster)
    back = read_roster(tmp_path / "r.parquet")
    assert back.meta == META
    assert list(back.rows["index"]) == [2, 5, 9]
    assert list(back.rows["finite"]) == [False, True, False]
    assert back.rows["arch"][1] == str(arch_from_index(5))
    assert back.scores()[5] == 1.5 and back.scores()[2] == -math.inf
    assert not list(tmp_path.glob(".*tmp"))  # the atomic write left no temporary file


def test_corrupt_or_missing_roster(tmp_path):
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 broken")
    with pytest.raises(DataError, match="not a readable parquet"):
        read_roster(tmp_path / "bad.parquet")
    with pytest.raises(DataError, match="roster not found"):
        read_roster(tmp_path / "none.parquet")


def test_merge_deduplicates_and_refuses_other_datasets():
    a = Roster(make_rows([(1, 1.0, 0, "computed"), (2, 2.0, 0, "computed")], NATS_TSS), META)
    b = Roster(make_rows([(2, 2.0, 0, "computed"), (3, 3.0, 0, "computed")], NATS_TSS), META)
    merged = merge_rosters([("a", a), ("b", b)])
    assert list(merged.rows["index"]) == [1, 2, 3]
    other = Roster(make_rows([(4, 1.0, 0, "computed")], NATS_TSS), {**META, "dataset": "cifar100"})
    with pytest.raises(ConfigError, match="dataset='cifar100'.*cannot be mixed") as err:
        merge_rosters([("a", a), ("c100", other)])
    assert "\n" not in str(err.value)


def test_merge_records_every_device_the_rows_came_from():
    cpu = Roster(make_rows([(1, 1.0, 0, "computed")], NATS_TSS), {**META, "device": "cpu"})
    gpu = Roster(make_rows([(2, 2.0, 0, "computed")], NATS_TSS), {**META, "device": "cuda (NVIDIA H200)"})
    assert merge_rosters([("gpu", gpu), ("cpu", cpu)]).meta["device"] == "cpu + cuda (NVIDIA H200)"
    assert merge_rosters([("cpu", cpu), ("cpu2", cpu)]).meta["device"] == "cpu"
    assert "device" not in merge_rosters([("old", Roster(make_rows([(3, 3.0, 0, "computed")], NATS_TSS), META))]).meta


def test_import_csv_by_index_and_by_arch(tmp_path):
    by_index = tmp_path / "i.csv"
    pd.DataFrame({"index": [3, 7], "jacov": [0.5, -1.0], "t": [1.0, 2.0]}).to_csv(by_index, index=False)
    roster = import_csv(by_index, "jacov", "jacov", "cifar10", seconds_column="t", space=NATS_TSS)
    assert roster.scores() == {3: 0.5, 7: -1.0} and roster.seconds()[7] == 2.0
    by_arch = tmp_path / "a.csv"
    pd.DataFrame({"arch": [str(arch_from_index(11))], "s": ["-inf"]}).to_csv(by_arch, index=False)
    roster = import_csv(by_arch, "s", "x", "cifar10", space=NATS_TSS)
    assert roster.scores() == {11: -math.inf} and not roster.rows["finite"][0]


@pytest.mark.parametrize("frame, column, message", [
    (pd.DataFrame({"index": [1]}), "score", "no score column 'score'"),
    (pd.DataFrame({"name": ["x"], "score": [1.0]}), "score", "needs an 'index' or 'arch' column"),
    (pd.DataFrame({"index": [99999], "score": [1.0]}), "score", "line 2, column .index.: .*an integer 0..15624"),
    (pd.DataFrame({"index": [1, 1], "score": [1.0, 2.0]}), "score", "more than once"),
])
def test_import_csv_errors(tmp_path, frame, column, message):
    path = tmp_path / "x.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=message):
        import_csv(path, column, "m", "cifar10", space=NATS_TSS)


def test_bad_arch_in_import_says_what_is_wrong(tmp_path):
    path = tmp_path / "x.csv"
    pd.DataFrame({"arch": ["|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|"], "s": [1.0]}).to_csv(path, index=False)
    with pytest.raises(Exception, match="unknown operation 'conv'"):
        import_csv(path, "s", "m", "cifar10", space=NATS_TSS)


def test_shards_partition_the_selection():
    full = select_indices(None, 0, 0, 1, space=NATS_TSS)
    assert full == list(range(15625))
    sample = select_indices(100, 4, 0, 1, space=NATS_TSS)
    assert len(sample) == len(set(sample)) == 100 and sample == select_indices(100, 4, 0, 1, space=NATS_TSS)
    assert sample != select_indices(100, 5, 0, 1, space=NATS_TSS)
    shards = [select_indices(100, 4, i, 7, space=NATS_TSS) for i in range(7)]
    assert sum(shards, []) == sample
    for bad in [dict(shard=7, num_shards=7), dict(shard=-1, num_shards=2), dict(shard=0, num_shards=0)]:
        with pytest.raises(ConfigError):
            select_indices(None, 0, **bad, space=NATS_TSS)
    with pytest.raises(ConfigError, match="sample must be"):
        select_indices(0, 0, 0, 1, space=NATS_TSS)


def test_shards_split_whole_isomorphism_classes():
    from zcnas.spaces.nats_tss.cells import representatives
    rep = representatives()
    shards = [select_indices(None, 0, i, 4, classes=rep, space=NATS_TSS) for i in range(4)]
    assert sorted(sum(shards, [])) == list(range(15625))
    owners = [{rep[i] for i in shard} for shard in shards]
    assert sum(len(o) for o in owners) == len(set(rep.values())) == 6466  # no class in two shards
    assert max(map(len, owners)) - min(map(len, owners)) <= 1  # balanced in classes
    sample = select_indices(300, 2, 0, 1, space=NATS_TSS)
    assert sorted(sum((select_indices(300, 2, i, 3, classes=rep, space=NATS_TSS) for i in range(3)), [])) == sample


def test_score_job_resumes_from_chunks_without_rescoring(compose_cfg, tmp_path):
    cfg = compose_cfg("task=score", "metric=val12", "benchmark=auto", "indices=[0,1,2,3,4,5,6]", "checkpoint_every=2")
    first = run_job(cfg, tmp_path / "job")
    assert first["status"] == "ok" and first["scored_now"] == 7
    full = read_roster(tmp_path / "job" / "roster.parquet")
    assert first["computed"] == 7 and full.meta["metric"] == "val12"
    assert full.meta["device"] == "cpu"  # the roster says where it was scored
    # simulate a job killed after three chunks: drop the final files and the last chunk
    chunks = sorted((tmp_path / "job" / "chunks").glob("part-*.parquet"))
    assert len(chunks) == 4
    chunks[-1].unlink()
    (tmp_path / "job" / "roster.parquet").unlink()
    (tmp_path / "job" / "result.json").unlink()
    second = run_job(cfg, tmp_path / "job")
    assert second["resumed_rows"] == 6 and second["scored_now"] == 1
    again = read_roster(tmp_path / "job" / "roster.parquet")
    pd.testing.assert_frame_equal(again.rows, full.rows)


def test_score_job_shares_isomorphic_scores(compose_cfg, tmp_path):
    from zcnas.spaces.nats_tss.cells import representatives
    rep = representatives()
    members = [i for i in range(15625) if rep[i] == rep[next(j for j in range(15625) if rep[j] != j)]][:3]
    cfg = compose_cfg("task=score", "metric=synflow", f"indices={members}", "share_isomorphic=true")
    result = run_job(cfg, tmp_path / "job")
    rows = read_roster(tmp_path / "job" / "roster.parquet").rows
    assert rows["score"].nunique() == 1 and result["shared"] == len(members) - 1
    assert np.isfinite(rows["score"]).all()
    assert list(rows["source"]) == ["computed"] + ["shared"] * (len(members) - 1)
    # a search reading this roster charges a shared cell what its class's computed member cost
    from zcnas.metrics.from_roster import charge_shared_rows
    roster = read_roster(tmp_path / "job" / "roster.parquet")
    assert (rows["seconds"].iloc[1:] == 0).all() and rows["seconds"].iloc[0] > 0
    charged = charge_shared_rows(roster)
    assert [charged[i] for i in members] == [rows["seconds"].iloc[0]] * len(members)


def test_sharded_sharing_scores_each_class_once_and_resumes(compose_cfg, tmp_path):
    from zcnas.spaces.nats_tss.cells import representatives
    rep = representatives()
    # three classes with several members each, interleaved in index order
    reps = [r for r in sorted(set(rep.values())) if sum(1 for v in rep.values() if v == r) >= 3][:3]
    members = sorted(i for i in range(15625) if rep[i] in reps)
    args = ("task=score", "metric=synflow", f"indices={members}", "share_isomorphic=true", "checkpoint_every=1")
    parts = []
    for shard in range(2):
        cfg = compose_cfg(*args, "num_shards=2", f"shard={shard}")
        run_job(cfg, tmp_path / f"s{shard}")
        parts.append(read_roster(tmp_path / f"s{shard}" / "roster.parquet").rows)
    rows = pd.concat(parts).sort_values("index")
    assert list(rows["index"]) == members
    computed = rows[rows["source"] == "computed"]
    assert sorted(rep[i] for i in computed["index"]) == sorted(reps)  # each class computed once, on its first member
    assert all(rep[i] == i for i in computed["index"])
    by_class = rows.groupby(rows["index"].map(rep))["score"].nunique()
    assert (by_class == 1).all()
    # resume: drop all but the first chunk of shard 0; the class already computed is not recomputed
    job = tmp_path / "s0"
    chunks = sorted((job / "chunks").glob("part-*.parquet"))
    for extra in chunks[1:]:
        extra.unlink()
    (job / "roster.parquet").unlink()
    (job / "result.json").unlink()
    again = run_job(compose_cfg(*args, "num_shards=2", "shard=0"), job)
    assert again["resumed_rows"] == 1
    pd.testing.assert_frame_equal(read_roster(job / "roster.parquet").rows.drop(columns="seconds"),
                                  parts[0].reset_index(drop=True).drop(columns="seconds"))
