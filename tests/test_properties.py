"""Properties of parsers, id remapping, splits, training windows and metrics, on random inputs (hypothesis).

Complements the examples in ``test_data_core.py`` and ``test_metrics.py``: parsers round-trip exactly,
dense ids are a bijection that never uses PAD, splits label every row once with the counts of their
definitions, training batches hold only earlier training items of their user (the leakage guard), and
metrics are bounded, monotone in k where defined and independent of how users are batched.
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import examples
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from recframe.data import interactions as ix
from recframe.data.datamodule import RecDataModule
from recframe.data.s3rec import s3rec
from recframe.data.splits import SPLITS, TEST, TRAIN, VALID
from recframe.data.table import csv
from recframe.metrics import RankingMetrics, ranking_metrics, target_ranks
from recframe.metrics.functional import METRICS

SETTINGS = settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---- parsers round-trip ------------------------------------------------------------------------------------

# Ids as a user's file may hold them: plain integers, zero-padded codes, names. A column with any value that is
# not a plain integer is read as text (the policy of recframe/data/table.py).
raw_ids = st.one_of(
    st.integers(0, 10**12).map(str),
    st.from_regex(r"0[0-9]{1,3}", fullmatch=True),
    st.from_regex(r"[A-Za-z][A-Za-z0-9_.-]{0,6}", fullmatch=True),
)
rows = st.tuples(
    raw_ids,
    raw_ids,
    st.floats(-1e6, 1e6, width=32, allow_subnormal=False),
    st.integers(-(2**40), 2**40),
)


def as_read(tokens: list[str]) -> list:
    """What the csv loader should return for an id column written as ``tokens``."""
    if all(re.fullmatch(r"0|[1-9][0-9]{0,17}", t) for t in tokens):
        return [int(t) for t in tokens]
    return tokens


@given(
    st.lists(rows, min_size=1, max_size=30),
    st.sampled_from([",", "\t", ";", "|", "::"]),
    st.booleans(),
    st.permutations(range(4)),
)
@SETTINGS
def test_csv_round_trip(data, sep, header, order):
    names = ["user", "item", "rating", "timestamp"]
    fields = [[u, i, repr(float(r)), str(t)] for u, i, r, t in data]
    cols = [names[k] for k in order]  # the columns in any order
    lines = [sep.join(cols)] if header else []
    lines += [sep.join(f[k] for k in order) for f in fields]
    role = {n: n for n in names} if header else {names[k]: str(order.index(k)) for k in range(4)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.csv"
        path.write_text("\n".join(lines) + "\n")
        log = csv(str(path), **role, sep=sep, header=header)
    assert log.user.tolist() == as_read([f[0] for f in fields])
    assert log.item.tolist() == as_read([f[1] for f in fields])
    assert log.rating.tolist() == [float(np.float32(r)) for _, _, r, _ in data]
    assert log.timestamp.tolist() == [t for *_, t in data]


@given(
    st.dictionaries(st.integers(0, 10**6), st.lists(st.integers(0, 10**9), min_size=1, max_size=8), min_size=1),
    st.sampled_from([" ", "\t", "  "]),
    st.sampled_from(["\n", "\r\n"]),
)
@SETTINGS
def test_s3rec_round_trip(sequences, space, newline):
    text = newline.join(space.join(map(str, [u, *items])) for u, items in sequences.items()) + newline
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "Rand.txt").write_text(text, newline="")
        log = s3rec("Rand", tmp)
    assert log.user.tolist() == [u for u, items in sequences.items() for _ in items]
    assert log.item.tolist() == [i for items in sequences.values() for i in items]
    assert log.timestamp.tolist() == [p for items in sequences.values() for p in range(len(items))]
    assert (log.rating == 1).all()


# ---- id remapping ---------------------------------------------------------------------------------------------


def make_log(users, items, times=None) -> ix.Interactions:
    return ix.Interactions(
        user=np.asarray(users),
        item=np.asarray(items),
        rating=np.ones(len(users), dtype=np.float32),
        timestamp=np.asarray(np.arange(len(users)) if times is None else times, dtype=np.int64),
        name="prop",
    )


id_kinds = st.sampled_from(
    [st.integers(0, 50), st.from_regex(r"[a-c][0-9]{0,2}", fullmatch=True), st.integers(-5, 5).map(str)]
)


@given(id_kinds.flatmap(lambda ids: st.lists(st.tuples(ids, ids), min_size=1, max_size=40)))
@SETTINGS
def test_encode_is_a_dense_bijection_that_never_uses_pad(pairs):
    log = make_log([u for u, _ in pairs], [i for _, i in pairs])
    log = ix.Interactions(**{**log.__dict__, "items": pd.DataFrame({"x": 1.0}, index=np.unique(log.item))})
    enc = ix.encode(log)
    for dense, ids, raw in ((enc.user, enc.users, log.user), (enc.item, enc.items, log.item)):
        n = ids.size - 1
        assert np.array_equal(np.unique(dense), np.arange(1, n + 1))  # dense 1..n, every id used, PAD never
        assert (ids.raw[1:] > ids.raw[:-1]).all()  # dense ids follow the sorted raw ids
        assert ids.decode(ids.encode(raw)).tolist() == raw.tolist()
        assert ids.encode(ids.decode(np.arange(1, n + 1))).tolist() == list(range(1, n + 1))
        with pytest.raises(KeyError, match="out of range"):
            ids.decode(np.array([ix.PAD]))
    decoded = zip(enc.users.decode(enc.user).tolist(), enc.items.decode(enc.item).tolist(), strict=True)
    assert Counter(decoded) == Counter(zip(log.user.tolist(), log.item.tolist(), strict=True))
    assert enc.item_info["x"].isna().tolist() == [True] + [False] * (enc.n_items - 1)  # row 0 is PAD


# ---- splits -----------------------------------------------------------------------------------------------------


@st.composite
def logs(draw, min_len: int = 1, max_users: int = 6) -> ix.Interactions:
    """Users with ``min_len``..12 events over items 1..15, tied timestamps, rows in any order."""
    users, items, times = [], [], []
    for u in range(draw(st.integers(1, max_users))):
        n = draw(st.integers(min_len, 12))
        users += [10 * u + 3] * n
        items += draw(st.lists(st.integers(1, 15), min_size=n, max_size=n))
        times += draw(st.lists(st.integers(0, 20), min_size=n, max_size=n))
    order = draw(st.permutations(range(len(users))))
    return make_log(np.array(users)[order], np.array(items)[order], np.array(times)[order])


ratios = st.tuples(st.sampled_from([0.0, 0.1, 0.2, 0.25]), st.sampled_from([0.0, 0.1, 0.15, 0.3])).map(
    lambda r: (1 - r[0] - r[1], r[0], r[1])
)


def recbole_counts(n: int, r: tuple[float, float, float]) -> list[int]:
    """RecBole's ``_calcu_split_ids`` for one user of ``n`` events: [train, valid, test]."""
    cnt = [int(r[i] * n) for i in range(3)]
    cnt[0] = n - sum(cnt[1:])
    for i in (1, 2):
        if cnt[0] <= 1:
            break
        if 0 < r[-i] * n < 1:
            cnt[-i] += 1
            cnt[0] -= 1
    return cnt


@given(logs(), ratios, st.integers(0, 3))
@SETTINGS
def test_splits_label_every_row_once_with_their_counts(log, r, seed):
    enc = ix.encode(log)
    users = np.unique(enc.user)
    for name, kwargs in [
        ("leave_one_out", {}),
        ("temporal", {"ratios": r}),
        ("ratio", {"ratios": r, "seed": seed}),
        ("ratio", {"ratios": r, "order": "time"}),
    ]:
        stage = SPLITS.get(name)(enc, **kwargs)
        assert stage.shape == (len(enc),) and np.isin(stage, [TRAIN, VALID, TEST]).all()
        if name == "temporal":
            cuts = np.floor(np.cumsum(r)[:2] * len(enc)).astype(int)
            assert np.bincount(stage, minlength=3).tolist() == [cuts[0], cuts[1] - cuts[0], len(enc) - cuts[1]]
            for earlier, later in ((TRAIN, VALID), (VALID, TEST), (TRAIN, TEST)):
                if (stage == earlier).any() and (stage == later).any():
                    assert enc.timestamp[stage == earlier].max() <= enc.timestamp[stage == later].min()
        for u in users:
            s, t = stage[enc.user == u], enc.timestamp[enc.user == u]
            if name == "leave_one_out":
                n = len(s)
                assert np.bincount(s, minlength=3).tolist() == ([n - 2, 1, 1] if n >= 3 else [n, 0, 0])
                if n >= 3:  # no test (or validation) event precedes a training event of the same user
                    assert t[s == TEST].min() >= t[s != TEST].max() and t[s == VALID].min() >= t[s == TRAIN].max()
            if name == "ratio":
                assert np.bincount(s, minlength=3).tolist() == recbole_counts(len(s), r)
                if kwargs.get("order") == "time":
                    assert (np.diff(s) >= 0).all()


# ---- training batches: the leakage guard -----------------------------------------------------------------------

SPLIT_CASES = [
    ("leave_one_out", {}),
    ("temporal", {"ratios": [0.6, 0.2, 0.2]}),
    ("ratio", {"ratios": [0.6, 0.2, 0.2], "order": "time"}),
    ("ratio", {"ratios": [0.6, 0.2, 0.2], "seed": 1}),  # random order: eval rows sit between training rows
]


def datamodule(log: ix.Interactions, **kwargs) -> RecDataModule:
    """A DataModule, or a rejected example when the random log leaves a stage or the training set empty."""
    try:
        return RecDataModule(log, **kwargs)
    except ValueError as err:
        if "empty" not in str(err):
            raise
    assume(False)


def user_rows(dm: RecDataModule) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per dense user: items in time order and the stage of each."""
    enc = dm.log_
    return {int(u): (enc.item[enc.user == u], dm.stage[enc.user == u]) for u in np.unique(enc.user)}


@given(logs(min_len=2), st.sampled_from(SPLIT_CASES), st.sampled_from(["last", "all"]), st.integers(1, 5))
@SETTINGS
def test_training_windows_hold_only_earlier_training_items_of_their_user(log, split, mode, max_len):
    dm = datamodule(
        log, sequential=True, split=split[0], split_args=split[1], max_len=max_len, train_windows=mode, batch_size=3
    )
    assume(len(dm.train_dataset()) > 0)
    per_user = user_rows(dm)
    labels: dict[int, list[int]] = {u: [] for u in per_user}
    windows = Counter()
    for batch in dm.train_dataloader():
        for u, h, y in zip(batch["user"].tolist(), batch["history"].numpy(), batch["labels"].numpy(), strict=True):
            items, stage = per_user[u]
            train_pos = np.flatnonzero(stage == TRAIN)
            seq = items[train_pos]  # the user's training items, oldest first
            L = int((h != 0).sum())
            assert 1 <= L <= max_len and (h[:L] != 0).all() and (h[L:] == 0).all()  # right-padded
            assert ((y != 0) == (h != 0)).all()  # one label per input position
            # some run of consecutive training items gives the inputs, the next ones the labels
            starts = [
                s
                for s in range(len(seq) - L)
                if (seq[s : s + L] == h[:L]).all() and (seq[s + 1 : s + L + 1] == y[:L]).all()
            ]
            assert starts, f"window {h[:L]} -> {y[:L]} is not a run of user {u}'s training items {seq}"
            if split[1].get("seed") is None:  # time-ordered protocols: before every evaluation event
                evaluated = np.flatnonzero(stage != TRAIN)
                assert not len(evaluated) or train_pos[starts[0] + L] < evaluated.min()
            labels[u] += y[:L].tolist()
            windows[u] += 1
    for u, (items, stage) in per_user.items():
        seq = items[stage == TRAIN]
        if len(seq) < 2:
            assert windows[u] == 0
        elif mode == "all":  # every training item after the first is a label exactly once
            assert Counter(labels[u]) == Counter(seq[1:].tolist())
        else:  # one window: the most recent max_len labels
            assert windows[u] == 1 and labels[u] == seq[1:][-max_len:].tolist()


@given(logs(min_len=2), st.sampled_from(SPLIT_CASES))
@SETTINGS
def test_training_pairs_are_exactly_the_training_rows(log, split):
    dm = datamodule(log, sequential=False, split=split[0], split_args=split[1], batch_size=4)
    pairs = Counter(
        (u, i)
        for b in dm.train_dataloader()
        for u, i in zip(b["user"].tolist(), b["labels"][:, 0].tolist(), strict=True)
    )
    train = dm.stage == TRAIN
    assert pairs == Counter(zip(dm.log_.user[train].tolist(), dm.log_.item[train].tolist(), strict=True))


# ---- metrics ---------------------------------------------------------------------------------------------------


@st.composite
def ranked(draw) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores with ties and masked items (PAD at -inf), and 1..3 distinct targets per user."""
    B, I = draw(st.integers(1, 8)), draw(st.integers(4, 14))
    values = draw(st.lists(st.integers(-1, 3), min_size=B * I, max_size=B * I))
    scores = torch.tensor(values, dtype=torch.float32).view(B, I)
    scores[scores < 0] = float("-inf")  # seen items masked
    scores[:, 0] = float("-inf")
    M = draw(st.integers(1, 3))
    targets = torch.zeros(B, M, dtype=torch.long)
    for b in range(B):
        chosen = draw(st.lists(st.integers(1, I - 1), min_size=1, max_size=M, unique=True))
        targets[b, : len(chosen)] = torch.tensor(chosen)
    return scores, targets


KS = [1, 5, 10]


@given(ranked())
@SETTINGS
def test_metrics_are_bounded_and_monotone_in_k(case):
    scores, targets = case
    ranks = target_ranks(scores, targets)
    valid = ranks[targets != 0]
    assert (valid >= 1).all() and (valid <= scores.shape[1]).all()
    for row in ranks:
        assert len(set(row[row > 0].tolist())) == int((row > 0).sum())  # distinct ranks per user
    values = ranking_metrics(ranks, KS)
    for name in METRICS:
        assert ((values[name] >= 0) & (values[name] <= 1 + 1e-12)).all(), name
    for name in ("hr", "recall", "mrr"):
        assert (values[name].diff(dim=1) >= 0).all(), name  # HR@1 <= HR@5 <= HR@10, ...
    single = (targets != 0).sum(1) == 1  # NDCG is monotone in k when each user has one target (leave-one-out)
    assert (values["ndcg"][single].diff(dim=1) >= 0).all()


@given(ranked(), st.data())
@SETTINGS
def test_metrics_ignore_item_labels_and_target_order(case, data):
    scores, targets = case
    I = scores.shape[1]
    relabel = torch.tensor([0, *data.draw(st.permutations(range(1, I)))])  # item k becomes relabel[k]; PAD stays
    moved = torch.empty_like(scores)
    moved[:, relabel] = scores
    order = torch.tensor(data.draw(st.permutations(range(targets.shape[1]))))
    shuffled = relabel[targets][:, order]
    shuffled = shuffled.gather(1, torch.argsort((shuffled == 0).int(), dim=1, stable=True))  # PAD back to the end
    expected = ranking_metrics(target_ranks(scores, targets), KS)
    got = ranking_metrics(target_ranks(moved, shuffled), KS)
    for name in METRICS:
        assert torch.allclose(got[name], expected[name], atol=1e-12), name


@given(ranked(), st.data())
@SETTINGS
def test_ranking_metrics_do_not_depend_on_batching(case, data):
    scores, targets = case
    ranks = target_ranks(scores, targets)
    whole = RankingMetrics(KS)
    whole.update(ranks)
    expected = whole.compute()
    order = torch.tensor(data.draw(st.permutations(range(len(ranks)))))
    cuts = sorted(data.draw(st.sets(st.integers(1, max(len(ranks) - 1, 1)), max_size=4)))
    metric = RankingMetrics(KS)
    for chunk in np.split(order.numpy(), [c for c in cuts if c < len(ranks)]):
        metric.update(ranks[torch.from_numpy(chunk)])
    got = metric.compute()
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key].item() == pytest.approx(value.item(), abs=1e-12), key
    per_user = ranking_metrics(ranks, metric.ks)
    assert got["ndcg@10"].item() == pytest.approx(per_user["ndcg"][:, metric.ks.index(10)].mean().item(), abs=1e-12)
