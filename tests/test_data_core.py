"""Interactions, filters, id maps, splits, histories, batches and the DataModule on small logs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from recframe.data import interactions as ix
from recframe.data.batching import BatchIndexSampler
from recframe.data.datamodule import RecDataModule
from recframe.data.histories import Histories
from recframe.data.splits import SPLITS, TEST, TRAIN, VALID
from recframe.data.synthetic import synthetic


def make_log(users, items, times=None, ratings=None, name="tiny") -> ix.Interactions:
    users, items = np.asarray(users), np.asarray(items)
    return ix.Interactions(
        user=users,
        item=items,
        rating=np.asarray(ratings if ratings is not None else np.ones(len(users)), dtype=np.float32),
        timestamp=np.asarray(times if times is not None else np.arange(len(users)), dtype=np.int64),
        name=name,
    )


logs = st.lists(st.tuples(st.integers(1, 6), st.integers(1, 9), st.integers(0, 5)), min_size=1, max_size=60).map(
    lambda rows: make_log([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
)


# ---- Interactions, filters, ids ----------------------------------------------------------------


def test_nan_rating_is_rejected_with_row():
    with pytest.raises(ValueError, match=r"non-finite ratings \(first at row 1"):
        make_log([1, 2], [1, 2], ratings=[1.0, float("nan")])


def test_min_rating_and_report():
    log = make_log([1, 1, 2, 2], [1, 2, 1, 3], ratings=[5, 2, 4, 1])
    out, report = ix.min_rating(log, 4)
    assert sorted(zip(out.user, out.item, strict=True)) == [(1, 1), (2, 1)]
    assert (report.interactions_removed, report.items_removed) == (2, 2)


def test_filter_that_empties_the_log_names_itself():
    with pytest.raises(ValueError, match="min_rating=6 removed all"):
        ix.min_rating(make_log([1], [1], ratings=[5]), 6)


def brute_force_k_core(users, items, user_min, item_min) -> list[int]:
    """The rows of the largest core, by the definition: drop one under-threshold user or item at a time."""
    rows = list(range(len(users)))
    while True:
        u_count, i_count = {}, {}
        for r in rows:
            u_count[users[r]] = u_count.get(users[r], 0) + 1
            i_count[items[r]] = i_count.get(items[r], 0) + 1
        weak_users = [u for u, c in u_count.items() if c < user_min]
        weak_items = [i for i, c in i_count.items() if c < item_min]
        if weak_users:
            rows = [r for r in rows if users[r] != weak_users[0]]
        elif weak_items:
            rows = [r for r in rows if items[r] != weak_items[0]]
        else:
            return rows


@given(logs, st.integers(1, 4), st.integers(1, 4))
@settings(max_examples=examples(80), deadline=None)
def test_k_core_is_the_largest_core(log, user_min, item_min):
    """The rows kept are exactly the brute-force core, in their order; an empty core is an error."""
    expected = brute_force_k_core(log.user.tolist(), log.item.tolist(), user_min, item_min)
    if not expected:
        with pytest.raises(ValueError, match="removed all"):
            ix.k_core(log, user_min, item_min)
        return
    out, report = ix.k_core(log, user_min, item_min)
    assert out.user.tolist() == log.user[expected].tolist() and out.item.tolist() == log.item[expected].tolist()
    assert out.timestamp.tolist() == log.timestamp[expected].tolist()
    assert report.interactions_removed == len(log) - len(out)
    assert (report.users_removed, report.items_removed) == (log.n_users - out.n_users, log.n_items - out.n_items)


def test_k_core_hand_example_cascades():
    # users 1-3 rated items 1 and 2 (a 2-core); user 4 rated item 1 and item 3, which nobody else rated:
    # round 1 drops item 3, which leaves user 4 with one row; round 2 drops user 4.
    log = make_log([1, 1, 2, 2, 3, 3, 4, 4], [1, 2, 1, 2, 1, 2, 1, 3])
    out, report = ix.k_core(log, 2, 2)
    assert sorted(zip(out.user.tolist(), out.item.tolist(), strict=True)) == [(u, i) for u in (1, 2, 3) for i in (1, 2)]
    assert (report.interactions_removed, report.users_removed, report.items_removed) == (2, 1, 1)
    assert report.detail == "2 rounds"
    same, unchanged = ix.k_core(out, 2, 2)
    assert len(same) == 6 and unchanged.detail == "0 rounds"
    with pytest.raises(ValueError, match=r"k_core\(user>=4, item>=2\) removed all 8 interactions of tiny"):
        ix.k_core(log, 4, 2)


@pytest.mark.parametrize(("policy", "kept"), [("keep", 5), ("first", 3), ("last", 3)])
def test_duplicates_policies(policy, kept):
    log = make_log([1, 1, 1, 2, 2], [7, 7, 8, 7, 7], times=[1, 2, 3, 4, 5])
    out, report = ix.duplicates(log, policy)
    assert len(out) == kept
    assert "2 repeated" in report.detail
    if policy == "first":
        assert sorted(out.timestamp.tolist()) == [1, 3, 4]
    if policy == "last":
        assert sorted(out.timestamp.tolist()) == [2, 3, 5]


def test_duplicates_error_and_unknown_policy():
    log = make_log([1, 1], [7, 7])
    with pytest.raises(ValueError, match="duplicate"):
        ix.duplicates(log, "error")
    with pytest.raises(ValueError, match="known"):
        ix.duplicates(log, "drop")


@given(logs)
@settings(max_examples=examples(50), deadline=None)
def test_encode_round_trip_and_order(log):
    enc = ix.encode(log)
    assert sorted(zip(enc.users.decode(enc.user), enc.items.decode(enc.item), strict=True)) == sorted(
        zip(log.user, log.item, strict=True)
    )
    assert enc.user.min() >= 1 and enc.item.min() >= 1
    assert enc.n_items == len(np.unique(log.item)) + 1
    key = enc.user * 10**6 + enc.timestamp
    assert (np.diff(key) >= 0).all()


def test_id_map_errors():
    ids = ix.IdMap(np.array([3, 10, 20]))
    assert ids.encode(np.array([20, 3])).tolist() == [3, 1]
    with pytest.raises(KeyError, match="unknown item id 11"):
        ids.encode(np.array([3, 11]))
    with pytest.raises(KeyError, match="out of range"):
        ids.decode(np.array([0]))


def test_side_tables_follow_dense_ids():
    log = make_log([5, 9], ["b", "a"])
    log = ix.Interactions(
        **{**log.__dict__, "items": __import__("pandas").DataFrame({"title": ["A", "B"]}, index=["a", "b"])}
    )
    enc = ix.encode(log)
    assert enc.item_info["title"].tolist()[1:] == ["A", "B"] and enc.item_info["title"].isna()[0]


# ---- splits --------------------------------------------------------------------------------------


@given(logs)
@settings(max_examples=examples(60), deadline=None)
def test_splits_partition_and_respect_time(log):
    enc = ix.encode(log)
    for name, kwargs in [("leave_one_out", {}), ("temporal", {}), ("ratio", {"seed": 1}), ("ratio", {"order": "time"})]:
        stage = SPLITS.get(name)(enc, **kwargs)
        assert stage.shape == (len(enc),) and set(np.unique(stage)) <= {TRAIN, VALID, TEST}
        if name == "temporal" and (stage == TEST).any() and (stage == TRAIN).any():
            assert enc.timestamp[stage == TRAIN].max() <= enc.timestamp[stage == TEST].min()
        if name == "leave_one_out" or kwargs.get("order") == "time":
            for u in np.unique(enc.user):
                s = stage[enc.user == u]
                assert (np.diff(s) >= 0).all()  # train, then val, then test within each user


def test_leave_one_out_positions_and_short_users():
    enc = ix.encode(make_log([1] * 4 + [2] * 2, [1, 2, 3, 4, 5, 6]))
    stage = SPLITS.get("leave_one_out")(enc)
    assert stage.tolist() == [TRAIN, TRAIN, VALID, TEST, TRAIN, TRAIN]


def test_ratio_counts_follow_recbole():
    enc = ix.encode(make_log([1] * 10 + [2] * 3, [*range(1, 11), 1, 2, 3]))
    stage = SPLITS.get("ratio")(enc, ratios=[0.8, 0.1, 0.1], seed=3)
    u1, u2 = stage[:10], stage[10:]
    assert (np.bincount(u1, minlength=3) == [8, 1, 1]).all()
    assert (np.bincount(u2, minlength=3) == [1, 1, 1]).all()  # 0.3 events bumped to one


def test_bad_ratios():
    enc = ix.encode(make_log([1, 1], [1, 2]))
    with pytest.raises(ValueError, match="summing to 1"):
        SPLITS.get("ratio")(enc, ratios=[0.5, 0.1])


def test_empty_split_names_the_stage_and_filters():
    with pytest.raises(ValueError, match="left the val set of tiny empty"):
        RecDataModule(make_log([1, 1, 2, 2], [1, 2, 3, 4]), sequential=True)


# ---- histories and batches ------------------------------------------------------------------------


@pytest.fixture
def hist() -> Histories:
    # user 1: [10, 11, 12, 13, 14], user 2: [20], user 3: [30, 31, 32]
    return Histories.from_rows(np.array([1] * 5 + [2] + [3] * 3), np.array([10, 11, 12, 13, 14, 20, 30, 31, 32]), 4)


def test_histories_last_padded_flat(hist):
    assert hist.last(np.array([1, 3, 2]), 3).tolist() == [[12, 13, 14], [30, 31, 32], [20, 0, 0]]
    assert hist.padded(np.array([3, 2])).tolist() == [[30, 31, 32], [20, 0, 0]]
    rows, items = hist.flat(np.array([3, 2, 1]))
    assert rows.tolist() == [0, 0, 0, 1, 2, 2, 2, 2, 2]
    assert items.tolist() == [30, 31, 32, 20, 10, 11, 12, 13, 14]


def test_windows_last_and_all(hist):
    users, starts, lengths = hist.windows(max_len=2, mode="last")
    assert users.tolist() == [1, 3] and lengths.tolist() == [3, 3]
    users, starts, lengths = hist.windows(max_len=2, mode="all")
    windows = [hist.items[s : s + n].tolist() for s, n in zip(starts, lengths, strict=True)]
    assert sorted(windows) == sorted([[12, 13, 14], [10, 11, 12], [30, 31, 32]])
    labels = sorted(x for w in windows for x in w[1:])
    assert labels == [11, 12, 13, 14, 31, 32]  # every item after the first is a label exactly once


@given(st.integers(1, 50), st.integers(1, 9), st.integers(1, 4))
@settings(max_examples=examples(40), deadline=None)
def test_eval_sampler_covers_each_index_once_across_ranks(n, batch_size, world):
    seen = []
    for rank in range(world):
        sampler = BatchIndexSampler(n, batch_size, shuffle=False, rank=rank, world_size=world, even=False)
        batches = list(sampler)
        assert len(sampler) == len(batches)
        seen += [int(i) for b in batches for i in b]
    assert sorted(seen) == list(range(n))
    for rank in range(world):
        sampler = BatchIndexSampler(n, batch_size, shuffle=True, rank=rank, world_size=world)
        assert len(sampler) == len(list(sampler))


@given(st.integers(1, 60), st.integers(1, 9), st.integers(1, 4), st.booleans(), st.integers(0, 3))
@settings(max_examples=examples(60), deadline=None)
def test_train_sampler_shards_split_the_epoch(n, batch_size, world, bucketed, epoch):
    """even=True: equal shards that together cover every index, overlapping only in the wrap-around."""
    lengths = np.random.default_rng(n).integers(1, 9, n) if bucketed else None
    shards = []
    for rank in range(world):
        sampler = BatchIndexSampler(
            n, batch_size, shuffle=True, seed=3, rank=rank, world_size=world, even=True, lengths=lengths
        )
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler) and all(1 <= len(b) <= batch_size for b in batches)
        shards.append([int(i) for b in batches for i in b])
    per_rank = -(-n // world)
    assert [len(s) for s in shards] == [per_rank] * world
    everything = [i for s in shards for i in s]
    assert sorted(set(everything)) == list(range(n))  # the epoch is covered
    repeats = len(everything) - n
    assert repeats == per_rank * world - n <= world - 1
    for a in range(world):
        assert len(set(shards[a])) == len(shards[a])  # no rank sees an example twice
        for b in range(a + 1, world):
            assert len(set(shards[a]) & set(shards[b])) <= repeats  # disjoint apart from the wrap-around


def test_train_sampler_even_shards_and_epoch_shuffles():
    lens = [len(list(BatchIndexSampler(10, 3, shuffle=True, rank=r, world_size=3))) for r in range(3)]
    assert lens == [2, 2, 2]  # 4 examples each: 10 wrapped to 12
    s = BatchIndexSampler(50, 50, shuffle=True, seed=1)
    first = next(iter(s)).tolist()
    assert sorted(first) == list(range(50)) and first != list(range(50))
    s.set_epoch(1)
    assert next(iter(s)).tolist() != first
    s.set_epoch(0)
    assert next(iter(s)).tolist() == first
    assert next(iter(BatchIndexSampler(50, 50, shuffle=True, seed=2))).tolist() != first  # the seed matters
    resumed = BatchIndexSampler(50, 7, shuffle=True, seed=1)
    whole = [b.tolist() for b in resumed]
    resumed.start_batch = 3
    assert [b.tolist() for b in resumed] == whole[3:]
    assert [b.tolist() for b in resumed] == whole


def test_length_buckets_cut_sorted_runs_and_shuffle_them():
    """With lengths, a bucket (here the whole epoch: 10 batches < BUCKET) is sorted by length before it is
    cut, so batches hold disjoint length ranges; the batch order is still shuffled per epoch."""
    from recframe.data.batching import batch_loader

    lengths = np.random.default_rng(0).integers(1, 30, 50)
    loader = batch_loader(list(range(50)), 5, train=True, seed=4, lengths=lengths)
    batches = list(loader.sampler)
    assert sorted(int(i) for b in batches for i in b) == list(range(50))
    spans = sorted((lengths[b].min(), lengths[b].max()) for b in batches)
    assert all(hi <= lo for (_, hi), (lo, _) in itertools.pairwise(spans))  # sorted runs
    assert [lengths[b].min() for b in batches] != sorted(lengths[b].min() for b in batches)  # shuffled
    plain = list(batch_loader(list(range(50)), 5, train=True, seed=4).sampler)
    assert sum(np.ptp(lengths[b]) for b in batches) < sum(np.ptp(lengths[b]) for b in plain)


def test_synthetic_side_tables_are_indexed_by_raw_id():
    log = synthetic(n_users=12, n_items=9, seed=1)
    assert log.items.index.tolist() == list(range(1, 10)) and log.items.title.tolist()[-1] == "Item 9"
    assert log.users.index.tolist() == list(range(1, 13))
    assert set(log.item) <= set(log.items.index) and set(log.user) <= set(log.users.index)


def test_datamodule_batches_have_no_leakage():
    log = synthetic(n_users=60, n_items=40, seed=3)
    dm = RecDataModule(log, sequential=True, max_len=8, batch_size=16, eval_batch_size=7, train_windows="all")
    enc, stage = dm.log_, dm.stage
    for batch in dm.train_dataloader():
        h, y = batch["history"], batch["labels"]
        assert ((y != 0) == (h != 0)).all()  # every input position has a label, no label without input
        assert torch.equal(h[:, 1:][h[:, 1:] != 0], y[:, :-1][h[:, 1:] != 0])  # labels are the next inputs
    for name, stage_code in (("val", VALID), ("test", TEST)):
        ds = dm.eval_dataset(name)
        batch = ds[np.arange(len(ds))]
        for row, user in enumerate(batch["user"].tolist()):
            before = enc.item[(enc.user == user) & (stage < stage_code)].tolist()
            target = enc.item[(enc.user == user) & (stage == stage_code)].tolist()
            seen = batch["seen_items"][batch["seen_rows"] == row].tolist()
            assert seen == before
            assert batch["history"][row][batch["history"][row] != 0].tolist() == before[-8:]
            assert sorted(batch["targets"][row][batch["targets"][row] != 0].tolist()) == sorted(set(target))


def test_pairs_cover_every_training_interaction():
    dm = RecDataModule(synthetic(n_users=30, n_items=20, seed=1), sequential=False, batch_size=64)
    pairs = sorted(
        (int(u), int(i)) for b in dm.train_dataloader() for u, i in zip(b["user"], b["labels"][:, 0], strict=True)
    )
    enc, train = dm.log_, dm.stage == TRAIN
    assert pairs == sorted(zip(enc.user[train].tolist(), enc.item[train].tolist(), strict=True))


def test_synthetic_is_deterministic_and_has_side_info():
    a, b = synthetic(seed=5, n_users=50), synthetic(seed=5, n_users=50)
    assert np.array_equal(a.item, b.item) and not np.array_equal(a.item, synthetic(seed=6, n_users=50).item)
    assert {"group", "gender"} <= set(a.users.columns) and {"title", "genre"} <= set(a.items.columns)


def test_fingerprint_mismatch_is_refused_and_match_accepted():
    log = synthetic(n_users=30, n_items=20, seed=1)
    dm = RecDataModule(log, sequential=True)
    RecDataModule(log, sequential=True, fingerprint=dm.fingerprint)
    with pytest.raises(ValueError, match="does not match the expected fingerprint"):
        RecDataModule(log, sequential=True, fingerprint={**dm.fingerprint, "items": 12101})
