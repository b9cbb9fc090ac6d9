"""Feedback -> model update: reading feedback files, growing id tables, and the recorded update run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from recframe.data.synthetic import synthetic
from recframe.training.feedback import read_feedback, with_feedback

SMALL = ["dataset.n_users=150", "dataset.n_items=40", "trainer.enable_progress_bar=false", "logger.name=none"]


@pytest.fixture(scope="module")
def parent_run(tmp_path_factory) -> Path:
    from recframe.training.fitting import fit

    root = tmp_path_factory.mktemp("update-runs")
    run, _ = fit("default", [*SMALL, "trainer.max_epochs=2", f"run.dir={root}"], echo=lambda *a, **k: None)
    return run.dir


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("user,thing\n1,2\n", "missing column(s) ['item']"),
        ("user,item\n1,2\nx,3\n", ":3: user id 'x' is not an integer"),
        ("user,item,rating\n1,2,4\n1,3,nan\n", ":3: rating 'nan' is not a finite number"),
        ("user,item,score\n1,2,4\n", "unknown column(s) ['score']"),
        ("user,item\n1,\n", ":2: empty item"),
    ],
)
def test_malformed_feedback_names_file_and_line(tmp_path, text, message):
    path = write(tmp_path / "fb.csv", text)
    with pytest.raises(ValueError) as err:
        read_feedback(path, synthetic(n_users=20, n_items=10))
    assert str(err.value).startswith(str(path)) and message in str(err.value)


def test_feedback_rows_append_after_each_user_with_new_items_described(tmp_path):
    log = synthetic(n_users=20, n_items=10)
    path = write(tmp_path / "fb.csv", "user,item,title,genres\n3,500,Brand New,genre1\n3,2,,\n77,500,,\n")
    merged = with_feedback(log, path)
    assert len(merged) == len(log) + 3
    last3 = log.timestamp[log.user == 3].max()
    added = merged.timestamp[len(log) :]
    assert list(added[:2]) == [last3 + 1, last3 + 2]  # after user 3's history, in file order
    assert merged.items.loc[500, "title"] == "Brand New" and merged.items.loc[500, "genre"] == "genre1"
    assert 77 in merged.users.index


def test_a_transcript_becomes_one_new_user_with_likes_and_dislikes(tmp_path):
    log = synthetic(n_users=20, n_items=10)
    lines = [
        {"started": "x"},
        {"speaker": "seeker", "text": "/like 3", "feedback": "liked", "item": "3"},
        {"speaker": "seeker", "text": "/dislike 4", "feedback": "disliked", "item": "4"},
    ]
    path = write(tmp_path / "chat.jsonl", "".join(json.dumps(r) + "\n" for r in lines))
    rows = read_feedback(path, log)
    assert rows["user"].nunique() == 1 and rows["user"].iloc[0] == log.user.max() + 1
    assert rows["item"].tolist() == [3, 4] and rows["rating"].tolist() == [5.0, 1.0]
    with pytest.raises(ValueError, match=r"chat2.jsonl:1: not JSON"):
        read_feedback(write(tmp_path / "chat2.jsonl", "{oops\n"), log)


@pytest.mark.slow
def test_warm_start_copies_every_known_row_through_the_raw_ids(parent_run, tmp_path):
    from recframe.training import engine
    from recframe.training.feedback import warm_start
    from recframe.training.fitting import saved_config

    experiment, cfg = saved_config(parent_run)
    parent_data = engine.build_data(cfg)
    parent = engine.build_module(cfg, parent_data, experiment)
    ckpt = engine.resolve_checkpoint(str(parent_run))
    parent.load_state_dict(torch.load(ckpt, weights_only=True)["state_dict"])
    # raw item 0 sorts before every existing id, so every parent item moves up one dense id
    feedback = write(tmp_path / "fb.csv", "user,item\n1,0\n9999,0\n9999,1\n9999,2\n")
    grown_cfg = {**cfg, "update": {"parent": None, "feedback": str(feedback)}}
    data = engine.build_data(grown_cfg)
    grown = engine.build_module(grown_cfg, data, experiment)
    warm_start(grown, ckpt, parent_data, data)
    old_w, new_w = parent.backbone.item_embeddings(), grown.backbone.item_embeddings()
    moved = torch.as_tensor(data.log_.items.encode(parent_data.log_.items.raw))
    assert torch.equal(moved, torch.arange(2, data.log_.items.size))
    assert torch.allclose(new_w[moved], old_w[1:]) and not torch.allclose(new_w[1], old_w[1])


@pytest.mark.slow
def test_update_adds_a_new_item_and_its_recommendations_change(parent_run, tmp_path):
    from recframe.training.feedback import update

    # 30 new users go from item 1 to a brand-new item 777 (then 2, 3: their validation and test);
    # 10 more end on 1 -> 777, so 777 is their held-out test item: the update has to learn it
    histories = [(5000 + u, (1, 777, 2, 3)) for u in range(30)] + [(6000 + u, (4, 5, 1, 777)) for u in range(10)]
    rows = ["user,item,title"] + [f"{u},{i},{'New film' if i == 777 else ''}" for u, h in histories for i in h]
    feedback = write(tmp_path / "fb.csv", "\n".join(rows) + "\n")
    run, record = update(str(parent_run), str(feedback), epochs=5, overrides=SMALL[2:], echo=lambda *a, **k: None)
    assert record["new_users"] == 40 and record["new_items"] == 1 and record["rows"] == 160
    assert record["before"]["events"] == 40  # each feedback user's last row is its test event
    # before: the 10 users whose test item is 777 cannot be hit (the parent has never seen it)
    assert record["after"]["hr@5"] - record["before"]["hr@5"] >= 0.15
    saved = json.loads((run.dir / "run.json").read_text())
    assert saved["parent"] == str(parent_run) and saved["update"]["feedback_sha256"] == record["feedback_sha256"]
    metrics = json.loads((run.dir / "metrics.json").read_text())
    assert metrics["feedback/after/hr@20"] == record["after"]["hr@20"]


@pytest.mark.slow
def test_a_malformed_feedback_file_writes_no_run(parent_run, tmp_path):
    from recframe.training.feedback import update

    root = parent_run.parent
    before = sorted(root.iterdir())
    with pytest.raises(ValueError, match=r"fb.csv:2: item id 'abc' is not an integer"):
        update(str(parent_run), str(write(tmp_path / "fb.csv", "user,item\n1,abc\n")), echo=lambda *a, **k: None)
    assert sorted(root.iterdir()) == before


def test_plain_runs_hash_as_before_the_update_section():
    from recframe.experiments.config import load_config
    from recframe.experiments.results import config_hash

    cfg = load_config("default")
    without = {k: v for k, v in cfg.items() if k != "update"}
    assert config_hash(cfg) == config_hash(without)
    assert config_hash({**cfg, "update": {"parent": "runs/x", "feedback": "f.csv"}}) != config_hash(cfg)
    assert cfg["update"] == {"parent": None, "feedback": None}


@pytest.mark.slow
def test_a_sequential_run_can_be_talked_to(parent_run):
    from recframe.conversation.profile import HistoryProfile
    from recframe.conversation.session import Conversation, unfaithful

    conv = Conversation.load(str(parent_run), k=5)
    assert isinstance(conv.profile, HistoryProfile)
    recs = conv.say("I liked Item 5 and Item 7")
    assert len(recs) == 5 and {"5", "7"}.isdisjoint(r.item for r in recs)
    history = torch.tensor([[conv.catalogue.dense["5"], conv.catalogue.dense["7"]]])
    with torch.no_grad():
        expected = conv.profile.backbone.score({"history": history, "user": torch.zeros(1, dtype=torch.long)})[0]
    assert [r.score for r in recs] == pytest.approx([float(expected[conv.catalogue.dense[r.item]]) for r in recs])
    assert all(unfaithful(conv, r) == [] for r in recs)
    gone = recs[0].item
    assert gone not in {r.item for r in conv.dislike(gone)}
