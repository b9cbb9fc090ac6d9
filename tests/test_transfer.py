"""Extra training dialogues from other sources (recframe.conversation.transfer)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from recframe.conversation.datamodule import ConversationDataModule
from recframe.conversation.dialogue import EXTRA_TRAIN, RECOMMENDER, SEEKER, Dialogue, Dialogues, Utterance
from recframe.conversation.transfer import TitleMatcher, extra_training, read_iard, remap

CATALOGUE = pd.DataFrame(
    {
        "title": ["Alien (1979)", "Heat (1995)", "Heat (1986)", "Jaws (1975)"],
        "year": [1979, 1995, 1986, 1975],
    },
    index=pd.Index(["11", "12", "13", "14"], name="item"),
)


def test_titles_match_without_year_unless_the_year_must_decide():
    m = TitleMatcher(CATALOGUE)
    assert m.match("alien") == "11" and m.match("Alien (1979)") == "11" and m.match("  JAWS ") == "14"
    assert m.match("Heat") is None  # two films called Heat and no year: no guess
    assert m.match("Heat", "1986") == "13" and m.match("Heat (1995)") == "12"
    assert m.match("Heat", "2001") is None and m.match("Unknown Film") is None


def test_remap_replaces_ids_and_counts_what_it_removes():
    d = Dialogue(
        "7:1",
        (Utterance(SEEKER, "like Alien and Foo", ("a", "foo")), Utterance(RECOMMENDER, "Jaws", ("j",))),
        {"a": "liked", "foo": "liked"},
        turns=(1,),
    )
    (out,), report = remap([d], {"a": "11", "j": "14", "foo": None}, "src")
    assert out.id == "src:7:1" and out.turns == (1,)
    assert [u.items for u in out.utterances] == [("11",), ("14",)]
    assert out.sentiment == {"11": "liked"}
    assert report == "src: 1 dialogues, 2 item mentions matched to ReDial, 1 unmatched (removed)"
    with pytest.raises(ValueError, match="'@<digits>'"):
        remap([Dialogue("x", (Utterance(SEEKER, "mail me @123", ()),))], {}, "src")


def test_iard_records_read_as_redial_dialogues(tmp_path):
    record = {
        "accepted_recommendation": [2],
        "dialogue_info": {
            "R2": {"utterance_pos": 2, "role": "recommender", "utterance_text": "how about @12 <Heat  (1995)>  ?"},
            "S1": {"utterance_pos": 1, "role": "seeker", "utterance_text": "I liked @11 <Alien (1979)>"},
            "S3": {"utterance_pos": 3, "role": "seeker", "utterance_text": "seen it."},
            "S4": {"utterance_pos": 4, "role": "seeker", "utterance_text": "any other?"},
        },
    }
    path = tmp_path / "iard.json"
    path.write_text(json.dumps({"501": record}), encoding="utf-8")
    (d,) = read_iard(path)
    assert d.id == "501"
    assert [(u.speaker, u.text, u.items) for u in d.utterances] == [
        (SEEKER, "I liked @11", ("11",)),
        (RECOMMENDER, "how about @12  ?", ("12",)),
        (SEEKER, "seen it. any other?", ()),  # consecutive seeker messages merged
    ]
    path.write_text(json.dumps({"9": {"dialogue_info": {"S1": {"utterance_pos": 1, "role": "bot"}}}}))
    with pytest.raises(ValueError, match="dialogue 9: malformed IARD record"):
        read_iard(path)


def test_unknown_extra_source_is_named():
    with pytest.raises(ValueError, match=r"unknown dataset\.extra_train source 'nope'"):
        extra_training(["nope"], CATALOGUE, set())


def test_extra_dialogues_train_only_and_are_never_held_out():
    def dialogue(cid: str) -> Dialogue:
        return Dialogue(cid, (Utterance(SEEKER, "hi @11", ("11",)), Utterance(RECOMMENDER, "@14", ("14",))))

    own = [dialogue(f"own{k}") for k in range(40)]
    extra = [dialogue(f"extra{k}") for k in range(30)]
    base = {"train": own, "test": [dialogue("t")]}
    without = ConversationDataModule(Dialogues(base, CATALOGUE, "hand"), val_share=0.3)
    data = ConversationDataModule(Dialogues({**base, EXTRA_TRAIN: extra}, CATALOGUE, "hand"), val_share=0.3)
    info = data.spec.user_info

    def dialogues_of(stage: str) -> set[str]:
        return set(info.loc[data.events[stage].users, "dialogue"])

    assert {f"extra{k}" for k in range(30)} <= dialogues_of("train")
    assert not any(d.startswith("extra") for d in dialogues_of("val") | dialogues_of("test"))
    assert dialogues_of("val") == set(without.spec.user_info.loc[without.events["val"].users, "dialogue"])
    assert len(data.events["train"]) == len(without.events["train"]) + 30


@pytest.mark.data
def test_real_extra_sources_over_the_redial_catalogue(real_data, monkeypatch):
    from recframe.conversation.redial import redial

    iard = real_data("iard", "umap2020_IARD_Cai.json")
    real_data("opendialkg-ievalm", "train_data_processed.jsonl", "valid_data_processed.jsonl", "id2info.json")
    real_data("inspired-instructlf", "inspired_train.csv")
    monkeypatch.setenv("RECFRAME_DATA", str(iard.parent))
    every = read_iard(iard / "umap2020_IARD_Cai.json")
    assert len(every) == 336  # PROVENANCE.md: 336 dialogs
    d = redial(extra_train=["iard", "opendialkg", "inspired"])
    test_ids = {x.id for x in d.dialogues["test"]}
    train_ids = {x.id for x in d.dialogues["train"]}
    assert sum(x.id in test_ids for x in every) == 38  # PROVENANCE.md: 38 come from the test split
    extra = d.dialogues[EXTRA_TRAIN]
    iard_ids = {x.id.split(":", 1)[1] for x in extra if x.id.startswith("iard:")}
    assert len(iard_ids) == 271 and not iard_ids & (test_ids | train_ids)
    assert sum(x.id.startswith("opendialkg:") for x in extra) == 3555 + 777  # the movie turns of train + valid
    assert sum(x.id.startswith("inspired:") for x in extra) == 1441
    known = set(d.catalogue.index)
    assert all(i in known for x in extra for u in x.utterances for i in u.items)
    data = ConversationDataModule(d)
    assert data.fingerprint["test_events"] == 4426  # the test set is untouched
    val_dialogues = set(data.spec.user_info.loc[data.events["val"].users, "dialogue"])
    assert val_dialogues <= train_ids  # validation is held out of ReDial's own dialogues only
