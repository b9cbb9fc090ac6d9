"""Conversational data, the turn-level protocol, its baselines and ``evaluate-conversation``."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import wandb_summary

from recframe.backbones import BACKBONES
from recframe.conversation.datamodule import ConversationDataModule
from recframe.conversation.dialogue import (
    DISLIKED,
    LIKED,
    RECOMMENDER,
    SEEKER,
    UNKNOWN,
    Dialogue,
    Dialogues,
    Utterance,
    mentioned,
    render,
)
from recframe.conversation.redial import parse_dialogue, read_dialogues
from recframe.conversation.synthetic import synthetic_dialogues
from recframe.conversation.turns import context_lines, recommendation_turns

CATALOGUE = pd.DataFrame(
    {
        "title": ["Alien (1979)", "Aliens (1986)", "Heat (1995)", "Up (2009)", "Jaws (1975)"],
        "genres": [["horror"], ["horror", "action"], ["crime"], ["comedy"], ["horror"]],
        "plot": ["space horror", "space marines", "bank heist", "a flying house", "a shark"],
    },
    index=pd.Index(["11", "12", "13", "14", "15"], name="item"),
)


def hand_dialogue(cid: str = "d1") -> Dialogue:
    """Seeker names Alien; the recommender suggests Aliens and Heat, later repeats Alien and adds Jaws."""
    return Dialogue(
        cid,
        (
            Utterance(SEEKER, "I loved @11 but hated @13", ("11", "13")),
            Utterance(RECOMMENDER, "Try @12 or @13", ("12", "13")),
            Utterance(SEEKER, "seen it", ()),
            Utterance(RECOMMENDER, "then @11 again, or @15", ("11", "15")),
            Utterance(RECOMMENDER, "bye", ()),
        ),
        {"11": LIKED, "13": DISLIKED},
    )


def hand_data(**kwargs) -> ConversationDataModule:
    dialogues = Dialogues(
        {"train": [hand_dialogue("a"), hand_dialogue("b")], "val": [hand_dialogue("v")], "test": [hand_dialogue("t")]},
        CATALOGUE,
        "hand",
    )
    return ConversationDataModule(dialogues, **kwargs)


def test_mentions_and_render():
    assert mentioned("like @11 and @15, mail me @home") == ("11", "15")
    assert render("like @11 and @15", CATALOGUE["title"]) == "like Alien (1979) and Jaws (1975)"
    with pytest.raises(KeyError, match="@99"):
        render("what about @99", CATALOGUE["title"])


def test_turns_targets_context_and_new_targets():
    turns = recommendation_turns(hand_dialogue())
    assert [t.index for t in turns] == [1, 3]  # "bye" mentions nothing
    first, second = turns
    assert first.mentioned == ("11", "13") and first.mentioned_by == (SEEKER, SEEKER)
    assert first.targets == ("12", "13") and first.new_targets == ("12",)  # Heat was named by the seeker
    assert first.sentiment == (LIKED, DISLIKED)
    assert second.mentioned == ("11", "13", "12") and second.mentioned_by == (SEEKER, SEEKER, RECOMMENDER)
    assert second.targets == ("11", "15") and second.new_targets == ("15",)
    assert second.events("all") == ("11", "15") and second.events("dedup") == ("15",)
    with pytest.raises(ValueError, match="variant"):
        second.events("fresh")


def test_recommender_first_message_is_no_turn():
    d = Dialogue("x", (Utterance(RECOMMENDER, "watch @11", ("11",)), Utterance(SEEKER, "ok", ())))
    assert recommendation_turns(d) == []


def test_dedup_events_mask_the_context_and_all_keeps_it():
    dedup, every = hand_data(), hand_data(variant="all")
    assert dedup.fingerprint == {"items": 5, "train_events": 4, "val_events": 2, "test_events": 2}
    assert every.fingerprint["test_events"] == 4
    batch = next(iter(dedup.test_dataloader()))
    items = dedup.log_.items
    targets = items.decode(batch["targets"][:, 0].numpy())
    assert sorted(targets) == ["12", "15"]
    # each event's seen items are exactly its context items
    for row, target in enumerate(targets):
        seen = items.decode(batch["seen_items"][batch["seen_rows"] == row].numpy())
        assert sorted(seen) == (["11", "13"] if target == "12" else ["11", "12", "13"])
        assert target not in seen
    full = next(iter(every.test_dataloader()))
    assert len(full["seen_items"]) == 0 and sorted(items.decode(full["targets"][:, 0].numpy())) == [
        "11",
        "12",
        "13",
        "15",
    ]


def test_turn_unit_groups_targets_and_training_stays_per_target():
    data = hand_data(variant="all", unit="turn")
    batch = next(iter(data.test_dataloader()))
    assert batch["targets"].shape == (2, 2)
    train = next(iter(data.train_dataloader()))
    assert (train["labels"] != 0).sum(1).tolist() == [1] * 4  # one label per training event


def test_training_labels_sit_where_the_backbone_reads():
    sequential = next(iter(hand_data(sequential=True).train_dataloader()))
    last = (sequential["history"] != 0).sum(1) - 1
    rows = torch.arange(len(last))
    assert (sequential["labels"][rows, last] != 0).all()
    flat = next(iter(hand_data(sequential=False).train_dataloader()))
    assert (flat["labels"][:, 0] != 0).all() and (flat["labels"][:, 1:] == 0).all()


def test_training_repeats_are_optional():
    assert hand_data().fingerprint["train_events"] == 4
    assert hand_data(train_repeats=True).fingerprint["train_events"] == 8


def test_targets_outside_the_catalogue_are_counted_not_dropped_silently():
    small = CATALOGUE.drop(index="15")
    dialogues = Dialogues(
        {"train": [hand_dialogue("a")], "val": [hand_dialogue("v")], "test": [hand_dialogue("t")]}, small, "hand"
    )
    data = ConversationDataModule(dialogues)
    assert "1 targets not in the catalogue left out" in data.summary()
    assert data.fingerprint["test_events"] == 1


def leaked_events(data: ConversationDataModule) -> list[int]:
    """Test events whose target's title appears (as whole words) in their own context text."""
    ev = data.events["test"]
    titles = data.spec.item_info["title"]
    return [
        int(user)
        for user, target in zip(ev.users, ev.targets.padded(ev.users)[:, 0], strict=True)
        if re.search(rf"(?<!\w){re.escape(titles[target])}(?!\w)", data.spec.user_info.loc[user, "context"])
    ]


def test_leakage_guard_no_target_title_in_its_context_under_dedup():
    assert leaked_events(ConversationDataModule(synthetic_dialogues())) == []
    assert leaked_events(ConversationDataModule(synthetic_dialogues(), variant="all")) != []  # the guard can fail


def test_bad_records_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="no messages"):
        parse_dialogue({"conversationId": 1, "initiatorWorkerId": 1, "messages": []}, "x.jsonl:1")
    with pytest.raises(ValueError, match="initiatorWorkerId"):
        parse_dialogue({"conversationId": 1, "messages": [{"text": "hi", "senderWorkerId": 1}]}, "x.jsonl:1")
    bad = tmp_path / "bad.jsonl"
    good = b'{"conversationId": "1", "initiatorWorkerId": 1, "messages": [{"text": "hi", "senderWorkerId": 1}]}'
    bad.write_bytes(good + b"\n\xff\xfe\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not UTF-8"):
        read_dialogues(bad)
    bad.write_text("{not json\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: not JSON"):
        read_dialogues(bad)


def test_redial_record_merges_speakers_and_reads_sentiment():
    record = {
        "conversationId": "7",
        "initiatorWorkerId": 1,
        "respondentWorkerId": 2,
        "messages": [
            {"senderWorkerId": 1, "text": "hi"},
            {"senderWorkerId": 1, "text": "I like @11"},
            {"senderWorkerId": 2, "text": "try @12"},
        ],
        "initiatorQuestions": [],  # ReDial writes [] when the seeker filled nothing
        "respondentQuestions": {
            "11": {"suggested": 0, "seen": 1, "liked": 1},
            "12": {"suggested": 1, "seen": 0, "liked": 2},
        },
    }
    d = parse_dialogue(record, "x")
    assert [u.speaker for u in d.utterances] == [SEEKER, RECOMMENDER]
    assert d.utterances[0].text == "hi I like @11" and d.utterances[0].items == ("11",)
    assert d.sentiment == {"11": LIKED, "12": UNKNOWN} and d.suggested == frozenset({"12"})


def event_batch(data: ConversationDataModule, stage: str = "test") -> dict:
    return next(iter(data._loader(stage, train=False)))


def test_repeat_ranks_mentions_latest_first_and_scores_zero_under_dedup():
    spec = hand_data(variant="all").spec
    model = BACKBONES.get("repeat")(spec)
    batch = {"user": torch.tensor([1]), "history": torch.tensor([[3, 1, 2]])}
    order = model.score(batch)[0].argsort(descending=True)[:3].tolist()
    assert order == [2, 1, 3]


def _metrics_of(experiment_overrides, tmp_path, name):
    from recframe.conversation.evaluate import evaluate_conversation

    overrides = [
        "dataset.name=synthetic_dialogues",
        f"run.dir={tmp_path}",
        "trainer.enable_progress_bar=false",
        *experiment_overrides,
    ]
    return evaluate_conversation(name, overrides, echo=lambda *a, **k: None)


@pytest.mark.slow
def test_evaluate_conversation_end_to_end_records_both_variants(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    run, table = _metrics_of(["~dataset.train"], tmp_path, "redial/repeat")
    # 30 movies: every unmentioned movie ties at 0 and ties count against the target (rank ~27 > 10)
    assert table["dedup"]["recall@10"] == 0.0 and table["dedup"]["mrr@10"] == 0.0
    assert table["all"]["recall@10"] > 0.0
    metrics = json.loads((run.dir / "metrics.json").read_text())
    assert metrics["test/dedup/recall@10"] == 0.0 and metrics["test/all/recall@10"] == table["all"]["recall@10"]
    assert metrics["test/recall@10"] == metrics["test/dedup/recall@10"]  # the configured variant
    assert json.loads((run.dir / "conversation.json").read_text())["variants"] == table
    summary = wandb_summary(run.record()["wandb_dir"])
    assert math.isclose(summary["test/recall@10"], 0.0) and "test/exposure/coverage@10" in summary
    # re-testing the recorded run gives the same numbers
    from recframe.conversation.evaluate import evaluate_conversation

    _, again = evaluate_conversation(str(run.dir), [], echo=lambda *a, **k: None)
    assert again["all"] == pytest.approx(table["all"]) and again["dedup"] == pytest.approx(table["dedup"])


def test_cooccurrence_counts_training_context_to_target():
    data = hand_data(train_repeats=True)
    model = BACKBONES.get("cooccurrence")(data.spec)
    items = data.log_.items
    dense = {raw: int(items.encode(np.array([raw]))[0]) for raw in CATALOGUE.index}
    counts = model.item_embeddings()
    # two training dialogues: "12" and "13" recommended after context {11, 13}; "11" and "15" after {11, 13, 12}
    assert counts[dense["12"], dense["11"]] == 2 and counts[dense["12"], dense["13"]] == 2
    assert counts[dense["15"], dense["12"]] == 2 and counts[dense["14"]].sum() == 0
    batch = {"user": torch.tensor([1]), "history": torch.tensor([[dense["12"]]])}
    scores = model.score(batch)[0]
    assert scores.argmax() in (dense["11"], dense["15"]) and scores[dense["11"]] > 1.9


def test_bm25_matches_a_hand_computation():
    docs = ["Alien (1979) space horror", "Aliens (1986) space marines", "Heat (1995) bank heist"]
    titles = pd.DataFrame({"title": [d.split(" (")[0] for d in docs], "plot": [d.split(") ")[1] for d in docs]})
    spec_items = pd.concat([pd.DataFrame({"title": [None], "plot": [None]}), titles], ignore_index=True)
    from recframe.data.datamodule import DataSpec

    info = pd.DataFrame({"utterances": [None, ["Seeker: space horror please"]]})
    spec = DataSpec(n_users=2, n_items=4, max_len=5, item_popularity=np.ones(4), item_info=spec_items, user_info=info)
    model = BACKBONES.get("bm25")(spec, template="{title} {plot}", k1=1.2, b=0.75)
    scores = model.score({"user": torch.tensor([1]), "history": torch.zeros(1, 1, dtype=torch.long)})[0]
    tokens = [["alien", "space", "horror"], ["aliens", "space", "marines"], ["heat", "bank", "heist"]]
    avg = sum(map(len, tokens)) / 3

    def bm25(doc):
        total = 0.0
        for term in ("space", "horror", "please"):
            df = sum(term in d for d in tokens)
            if term not in doc:
                continue
            idf = math.log(1 + (3 - df + 0.5) / (df + 0.5))
            tf = doc.count(term)
            total += idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * len(doc) / avg))
        return total

    expected = torch.tensor([bm25(d) for d in tokens])
    assert torch.allclose(scores[1:], expected, atol=1e-5) and torch.isneginf(scores[0])
    assert scores[1] > scores[2] > scores[3] == 0


def test_textmatch_is_the_mean_of_the_latest_utterance_vectors(tiny_bert):
    from recframe.text.encoder import TextEncoder

    data = ConversationDataModule(synthetic_dialogues(n_train=20, n_test=6, n_items=12))
    text = {"model": str(tiny_bert), "template": "{title} {plot}", "cache": False, "progress": False}
    model = BACKBONES.get("textmatch")(data.spec, text=text, window=2, utterance_length=16)
    assert list(model.parameters()) == []
    user = int(data.events["test"].users[-1])
    lines = data.spec.user_info.loc[user, "utterances"][-2:]
    encoder = TextEncoder(str(tiny_bert), max_length=16)
    psi = encoder.encode(lines, progress=False).mean(0)
    batch = {"user": torch.tensor([user]), "history": torch.zeros(1, 1, dtype=torch.long)}
    assert torch.allclose(model.query(batch)[0], psi, atol=1e-5)
    expected = psi @ model.item_embeddings().T
    assert torch.allclose(model.score(batch)[0, 1:], expected[1:], atol=1e-5)


def test_conversational_backbones_refuse_plain_interaction_data():
    from recframe.data.datamodule import DataSpec

    spec = DataSpec(n_users=3, n_items=4, max_len=5, item_popularity=np.ones(4))
    with pytest.raises(ValueError, match="conversational"):
        BACKBONES.get("cooccurrence")(spec)
    with pytest.raises(ValueError, match="conversational dataset"):
        titled = DataSpec(n_users=3, n_items=4, max_len=5, item_popularity=np.ones(4), item_info=CATALOGUE.iloc[:4])
        BACKBONES.get("bm25")(titled, template="{title}")


@pytest.mark.data
def test_redial_real_files_give_the_published_counts(real_data, monkeypatch):
    from recframe.conversation.redial import redial

    folder = real_data("redial", "test_data", "movies_with_mentions.csv")
    ievalm = real_data("redial-ievalm", "valid_data.jsonl", "id2info.json")
    d = redial(root=str(folder), ievalm_root=str(ievalm))
    assert len(d.dialogues["test"]) == 1342 and len(d.dialogues["train"]) == 1000
    assert len(d.catalogue) == 6924 and d.catalogue.index.is_unique
    turns = [t for x in d.dialogues["test"] for t in recommendation_turns(x)]
    # Kostric & Balog's "full" and "dedup" test sets
    assert len(turns) == 3617 and sum(bool(t.new_targets) for t in turns) == 3372
    assert sum(len(t.targets) for t in turns) == 4897 and sum(len(t.new_targets) for t in turns) == 4426
    assert sum(len(u.items) for x in d.dialogues["test"] for u in x.utterances) >= 4897
    data = ConversationDataModule(d)
    assert data.fingerprint["test_events"] == 4426
    # the leakage guard on the real turns: no dedup target's title is in its own context
    # The leakage guard on the real turns: no dedup target's title enters its context through its own
    # mention. (Its title may still occur as words: seekers type titles, and ReDial has near-duplicate
    # entries such as "Jurassic Park" and "Jurassic Park (1993)"; so occurrences are compared with the
    # target's own mentions blanked out.)
    titles = d.catalogue["title"].to_dict()

    def count(title: str, lines: list[str]) -> int:
        return sum(len(re.findall(rf"(?<!\w){re.escape(title)}(?!\w)", line)) for line in lines)

    def leaks(turn, target: str) -> bool:
        blanked = {**titles, target: "<item>"}
        return count(titles[target], context_lines(turn, titles)) > count(titles[target], context_lines(turn, blanked))

    leaked = [(t.dialogue, t.index, x) for t in turns for x in t.new_targets if leaks(t, x)]
    assert leaked == []
    assert sum(leaks(t, x) for t in turns for x in t.targets) == 471  # the guard fires on every repeat of "all"


def test_sentiment_labels_join_the_right_first_mentions():
    from recframe.conversation.sentiment import CLASSES, labelled_mentions

    titles = CATALOGUE["title"].to_dict()
    mentions, labels = labelled_mentions([hand_dialogue()], titles)
    by_item = {m.item: (m, CLASSES[k]) for m, k in zip(mentions, labels, strict=True)}
    assert set(by_item) == {"11", "13"}  # 12 and 15 carry no label
    alien, label = by_item["11"]
    assert (
        label == LIKED and alien.by_seeker and alien.utterance == "Seeker: I loved Alien (1979) but hated Heat (1995)"
    )
    assert alien.reply == "Recommender: Try Aliens (1986) or Heat (1995)"
    assert by_item["13"][1] == DISLIKED and by_item["13"][0].utterance == alien.utterance


def _bag_of_words(texts: list[str]) -> np.ndarray:
    vocab = ["love", "like", "not", "try", "then", "hi"]
    return np.array([[t.lower().split().count(w) for w in vocab] for t in texts], dtype=np.float32)


def test_sentiment_classifier_beats_the_majority_on_held_out_dialogues():
    from recframe.conversation.sentiment import evaluate_sentiment

    data = synthetic_dialogues(n_train=60, n_test=30)
    titles = data.catalogue["title"].to_dict()
    report = evaluate_sentiment(data.dialogues["train"], data.dialogues["test"], titles, _bag_of_words)
    assert report["test_counts"] == {"liked": 60, "disliked": 30, "unknown": 0}
    assert report["majority"]["accuracy"] == pytest.approx(2 / 3) and report["classifier"]["accuracy"] == 1.0
    assert report["classifier"]["macro_f1"] > report["majority"]["macro_f1"]


def test_sentiment_scores_match_a_hand_count():
    from recframe.conversation.sentiment import scores

    out = scores(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 0]))
    assert out["accuracy"] == 0.5
    assert out["f1/liked"] == pytest.approx(0.5) and out["f1/disliked"] == pytest.approx(2 / 3)
    assert out["f1/unknown"] == 0.0 and out["macro_f1"] == pytest.approx((0.5 + 2 / 3) / 3)


def test_mentions_are_read_from_the_context_and_labels_only_for_training_events():
    data = hand_data()
    info = data.spec.user_info
    for event in data.events["test"].users:
        assert info.loc[event, "mention_labels"] is None  # never an input: only training events carry labels
    train = info[info["stage"] == "train"]
    first = train[train["turn"] == 1].iloc[0]
    # at turn 1 the recommender's reply to "I loved Alien" is the turn itself: not in the context
    assert first["mentions"] == [["Seeker: I loved Alien (1979) but hated Heat (1995)", "", True]] * 2
    assert first["mention_labels"] == [LIKED, DISLIKED]
    later = train[train["turn"] == 3].iloc[0]
    assert later["mentions"][0][1] == "Recommender: Try Aliens (1986) or Heat (1995)"


def test_dialogue_sentiment_weights_follow_the_predicted_class(tiny_bert):
    data = ConversationDataModule(synthetic_dialogues(n_train=40, n_test=10, n_items=12), sequential=False)
    text = {"model": str(tiny_bert), "progress": False, "cache": False}
    torch.manual_seed(0)
    model = BACKBONES.get("dialogue")(data.spec, dim=8, text=text, sentiment=True)
    assert any(line.startswith("sentiment: fitted on") for line in model.report)
    batch = next(iter(data.test_dataloader()))
    classes = model._history_sentiment(batch["user"], batch["history"].shape[1])
    context = data.spec.train_items
    for row, user in enumerate(batch["user"].tolist()):
        n = int(context.lengths([user])[0])
        expected = model.context_sentiment[context.indptr[user] : context.indptr[user] + n]
        assert torch.equal(classes[row, :n], expected)
    with torch.no_grad():
        model.sentiment_weight.copy_(torch.tensor([1.0, 0.0, 0.0]))  # only "liked" mentions count
        liked_only = model.query(batch)
        model.sentiment_weight.copy_(torch.tensor([1.0, 1.0, 1.0]))
        everything = model.query(batch)
    has_other = ((classes != 0) & (batch["history"] != 0)).any(1)
    assert has_other.any() and not torch.allclose(liked_only[has_other], everything[has_other])
    assert torch.allclose(liked_only[~has_other], everything[~has_other])


def test_ievalm_turn_becomes_a_one_turn_dialogue_with_placed_mentions():
    from recframe.conversation.ievalm import turn_dialogue

    ids = {"Alien": "11", "Heat": "13", "Jaws": "15"}
    record = {
        "dialog_id": 3,
        "turn_id": 3,
        "context": ["any film like Alien?", "Heat is great", "I prefer sharks"],
        "entity": ["Alien", "Ridley Scott", "Heat", "Jaws"],
        "rec": ["Jaws", "Nope"],
        "resp": "then Jaws",
    }
    d, unplaced = turn_dialogue(record, "x:1", ids)
    assert [u.speaker for u in d.utterances] == [SEEKER, RECOMMENDER, SEEKER, RECOMMENDER]
    assert [u.items for u in d.utterances[:3]] == [("11",), ("13",), ("15",)]  # Jaws named nowhere: last one
    assert unplaced == 1 and d.turns == (3,)
    assert d.utterances[3].items == ("15", "?Nope")  # an unknown target stays visible to be counted
    (turn,) = recommendation_turns(d)  # only the shipped turn, not the recommender's "Heat is great"
    assert turn.index == 3 and turn.new_targets == ("?Nope",)
    with pytest.raises(ValueError, match="empty context"):
        turn_dialogue({**record, "context": [" "]}, "x:2", ids)


@pytest.mark.data
def test_opendialkg_and_ievalm_redial_real_counts(real_data):
    from recframe.conversation.ievalm import opendialkg, redial_ievalm

    odkg = opendialkg(root=str(real_data("opendialkg-ievalm", "test_data_processed.jsonl", "id2info.json")))
    assert len(odkg.catalogue) == 3672 and {k: len(v) for k, v in odkg.dialogues.items()} == {
        "train": 5547,
        "val": 1188,
        "test": 1188,
    }
    data = ConversationDataModule(odkg, variant="all")
    assert data.fingerprint["test_events"] == 1262 and data.fingerprint["val_events"] == 1254  # PROVENANCE counts
    assert ConversationDataModule(odkg).fingerprint["test_events"] == 1262 - 431  # 431 test targets repeat
    ievalm = redial_ievalm(
        root=str(real_data("redial-ievalm-eval", "test_data_processed.jsonl")),
        redial_root=str(real_data("redial", "movies_with_mentions.csv")),
        ievalm_root=str(real_data("redial-ievalm", "id2info.json")),
    )
    assert len(ievalm.dialogues["test"]) == 3341
    assert ConversationDataModule(ievalm, variant="all").fingerprint["test_events"] == 4499
    assert ConversationDataModule(ievalm).fingerprint["test_events"] == 4499 - 463


def test_seeker_turns_add_training_events_only():
    data = synthetic_dialogues(n_train=30, n_test=10)
    plain, more = ConversationDataModule(data), ConversationDataModule(data, train_seeker_turns=True)
    assert more.fingerprint["test_events"] == plain.fingerprint["test_events"]
    assert more.fingerprint["val_events"] == plain.fingerprint["val_events"]
    # every training dialogue's third utterance ("love it but not @x", by the seeker) becomes an event
    n_train_dialogues = len(set(plain.spec.user_info.loc[plain.events["train"].users, "dialogue"]))
    assert more.fingerprint["train_events"] == plain.fingerprint["train_events"] + n_train_dialogues


def test_dialogue_state_updates_utterance_by_utterance():
    from recframe.conversation.state import DialogueState, attribute_lexicon

    catalogue = CATALOGUE.assign(directors=[["Ridley Scott"], ["James Cameron"], ["Michael Mann"], [], []])
    state = DialogueState(attribute_lexicon(catalogue))
    labels = {"11": LIKED, "13": DISLIKED}
    state.update(Utterance(SEEKER, "I have seen @11 and loved it, no comedy please", ("11",)), labels)
    assert state.liked == {"11"} and state.seen == {"11"} and state.mentioned == {"11": SEEKER}
    assert ("genres", "comedy") in state.rejected_attributes and not state.accepted_attributes
    state.update(Utterance(RECOMMENDER, "Try @12 by James Cameron or @13", ("12", "13")), labels)
    assert state.recommended == ["12", "13"] and state.rejected == {"13"}  # a disliked suggestion
    assert state.disliked == {"13"} and not state.accepted_attributes  # only the seeker's words count
    state.update(Utterance(SEEKER, "something from the 90s by Ridley Scott, but not horror", ()))
    assert {("decade", "1990s"), ("directors", "Ridley Scott")} <= state.accepted_attributes
    assert ("genres", "horror") in state.rejected_attributes
    state.update(Utterance(SEEKER, "actually comedy is fine", ()))  # a later mention overrides
    assert ("genres", "comedy") in state.accepted_attributes and ("genres", "comedy") not in state.rejected_attributes
    state.set_sentiment("13", LIKED)
    assert state.rejected == set() and state.liked == {"11", "13"}
    assert len(state.utterances) == 4


def test_evaluate_conversation_refuses_a_non_conversational_experiment_before_training(tmp_path):
    from recframe.conversation.evaluate import evaluate_conversation
    from recframe.experiments.config import ConfigError

    with pytest.raises(ConfigError, match="not a conversational experiment"):
        evaluate_conversation("default", [f"run.dir={tmp_path}"], echo=lambda *a, **k: None)
    assert not any(tmp_path.iterdir())  # nothing was trained or recorded


@pytest.mark.data
def test_inspired_real_files(real_data):
    from recframe.conversation.inspired import inspired

    d = inspired(
        root=str(real_data("inspired-unicrs", "dev.jsonl", "test.jsonl")),
        instructlf_root=str(real_data("inspired-instructlf", "inspired_train.csv")),
    )
    assert len(d.dialogues["val"]) == 99 and len(d.dialogues["test"]) == 99  # PROVENANCE: 99 + 99 dialogues
    assert len(d.dialogues["train"]) == 1441 and "7 without context" in d.reports[1]  # of 1,448 pairs
    turns = [t for x in d.dialogues["test"] for t in recommendation_turns(x)]
    assert len(turns) == 256  # of the 257 recommender utterances with a movie, one opens its dialogue
    data = ConversationDataModule(d, variant="all")
    assert data.fingerprint["test_events"] == 291 and data.fingerprint["items"] == 1191


def test_train_share_keeps_nested_training_subsets_and_leaves_evaluation_alone():
    dialogues = Dialogues(
        {"train": [hand_dialogue(f"d{k}") for k in range(60)], "test": [hand_dialogue("t")]}, CATALOGUE, "hand"
    )

    def train_dialogues(data: ConversationDataModule) -> set[str]:
        return set(data.spec.user_info.loc[data.events["train"].users, "dialogue"])

    full, half, quarter = (ConversationDataModule(dialogues, train_share=s) for s in (1.0, 0.5, 0.25))
    assert train_dialogues(quarter) < train_dialogues(half) < train_dialogues(full)
    assert 0.3 < len(train_dialogues(half)) / len(train_dialogues(full)) < 0.7
    for data in (half, quarter):
        assert data.fingerprint["val_events"] == full.fingerprint["val_events"]
        assert data.fingerprint["test_events"] == full.fingerprint["test_events"]
    with pytest.raises(ValueError, match=r"data\.train_share must be in"):
        ConversationDataModule(dialogues, train_share=0)
