"""The interactive layer: reading messages, the Conversation API, ``chat`` through stdin, the simulated seeker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from recframe.conversation.catalogue import Catalogue, normalise, tokens
from recframe.conversation.dialogue import DISLIKED, LIKED, UNKNOWN
from recframe.conversation.session import Conversation, Reason, Recommendation, unfaithful
from recframe.conversation.simulator import ACCEPT, NO_INFORMATION, SimulatedUser, simulate_turn, summarise
from recframe.conversation.understand import SEEN, understand

INFO = pd.DataFrame(
    {
        "title": ["Alien (1979)", "Aliens (1986)", "Heat (1995)", "Matrix, The (1999)", "Airplane! (1980)", "Jaws"],
        "genres": [["Horror", "Sci-Fi"], ["Action", "Sci-Fi"], ["Crime"], ["Action", "Sci-Fi"], ["Comedy"], ["Horror"]],
        "actors": [["Sigourney Weaver"], ["Sigourney Weaver"], ["Al Pacino"], ["Keanu Reeves"], ["Leslie Nielsen"], []],
        "year": [1979, 1986, 1995, 1999, 1980, 1975],
    },
    index=np.arange(1, 7),
)
RAW = np.array(["11", "12", "13", "14", "15", "16"])  # dense ids 1..6


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue(RAW, INFO)


def read(text: str, catalogue: Catalogue):
    return understand(text, catalogue)


# --- reading a message ---------------------------------------------------------------------------------------


def test_titles_are_normalised_and_one_word_titles_need_a_capital(catalogue):
    assert normalise("Matrix, The (1999)") == "matrix" == normalise("the Matrix")
    heard = read("I loved the matrix but hated Heat", catalogue)
    assert heard.items == [(4, LIKED), (3, DISLIKED)]
    assert read("the heat was unbearable, so I stayed in", catalogue).items == []
    assert read("Heat 1995 was fine", catalogue).items == [(3, UNKNOWN)]
    assert catalogue.item("12") == 2 and catalogue.item("The Matrix") == 4


def test_a_shared_title_resolves_to_the_literal_then_the_most_popular():
    titles = ["The Alien (2016)", "Alien (1979)", "Heat (1986)", "Heat (1995)"]
    info = pd.DataFrame({"title": titles}, index=[1, 2, 3, 4])
    shared = Catalogue(np.array(["a", "b", "c", "d"]), info, popularity=np.array([0, 50, 1, 2, 9]))
    assert shared.item("Alien") == 2 and shared.item("The Alien") == 1
    assert shared.item("Heat") == 4 and shared.item("Heat 1986") == 3


def test_seen_marks_what_the_clause_names(catalogue):
    assert read("I have seen the first one", catalogue).positions == [(1, SEEN)]
    assert read("I haven't seen Alien", catalogue).items == [(1, UNKNOWN)]
    assert read("I saw Alien and loved it", catalogue).items == [(1, LIKED)]


def test_clause_sentiment_contrast_and_negation(catalogue):
    assert read("I loved Alien but not Aliens", catalogue).items == [(1, LIKED), (2, DISLIKED)]
    assert read("I didn't like Alien", catalogue).items == [(1, DISLIKED)]
    assert read("Alien was boring. Airplane was great!", catalogue).items == [(1, DISLIKED), (5, LIKED)]


def test_constraints_accept_and_reject_with_their_scope(catalogue):
    heard = read("no horror, something funny from the 80s", catalogue)
    assert heard.rejected == [("genres", "Horror")]
    assert set(heard.accepted) == {("genres", "Comedy"), ("decade", "1980s")}
    assert set(read("no horror or comedy please", catalogue).rejected) == {("genres", "Horror"), ("genres", "Comedy")}
    assert read("nothing with Keanu Reeves", catalogue).rejected == [("actors", "Keanu Reeves")]
    like_alien = read("like Alien but funnier", catalogue)
    assert like_alien.items == [(1, LIKED)] and like_alien.accepted == [("genres", "Comedy")]


def test_list_references_critiques_and_did_you_mean(catalogue):
    assert read("I hated the second one", catalogue).positions == [(2, DISLIKED)]
    assert read("loved #3, not the last one", catalogue).positions == [(3, LIKED), (-1, DISLIKED)]
    assert read("I hated that one", catalogue).focus == DISLIKED
    assert read("none of these, something else", catalogue).critique
    assert not read("I loved Alien", catalogue).critique
    (phrase, near), *_ = read("I loved Allien", catalogue).unknown_titles
    assert phrase == "Allien" and near[0] == "Alien (1979)"
    with pytest.raises(KeyError, match=r"did you mean 'Alien \(1979\)', 'Aliens \(1986\)'"):
        catalogue.item("Alienz")


def test_tokens_keep_case_and_offsets():
    assert tokens("Hi, Alien!") == [("Hi", 0), ("Alien", 4)]


# --- the Conversation on a model -------------------------------------------------------------------------------


class ItemTable(torch.nn.Module):
    """A fixed history model for the API tests: ψ = mean vector of the history; items on a circle."""

    sequential = True

    def __init__(self, n: int) -> None:
        super().__init__()
        angles = torch.linspace(0, 3.0, n)
        self.table = torch.nn.Parameter(torch.stack([torch.cos(angles), torch.sin(angles)], 1))

    def item_embeddings(self) -> torch.Tensor:
        return self.table

    def query(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        history = batch["history"]
        vectors = self.table[history] * (history != 0).unsqueeze(-1)
        return vectors.sum(1) / (history != 0).sum(1, keepdim=True).clamp(min=1)


@pytest.fixture
def history_conv(catalogue) -> Conversation:
    from recframe.conversation.profile import HistoryProfile

    return Conversation(HistoryProfile(ItemTable(len(catalogue))), catalogue, k=3)


def test_history_profile_scores_are_the_backbone_query(history_conv):
    history_conv.say("I loved Alien")
    scored = history_conv.profile.score(history_conv.context())
    expected = history_conv.profile.items @ history_conv.profile.items[1]
    assert torch.allclose(scored.scores[1:], expected[1:]) and scored.scores[0] == float("-inf")


def test_dislike_and_rejections_never_come_back(history_conv):
    first = history_conv.say("I loved Alien")
    assert "11" not in {r.item for r in first}  # mentioned items are not recommended back
    gone = first[0].item
    history_conv.dislike(gone)
    history_conv.say("none of these")
    rejected = {r.item for r in history_conv.last}
    for text in ("something else", "I liked Heat", "anything"):
        items = {r.item for r in history_conv.say(text)}
        assert gone not in items
    assert rejected.isdisjoint({r.item for r in history_conv.say("more please")})


def test_constraints_hold_in_every_later_list(history_conv, catalogue):
    history_conv.say("no sci-fi please")
    for text in ("I liked Heat", "more", "something from any decade"):
        for rec in history_conv.say(text):
            assert "Sci-Fi" not in catalogue.attributes[catalogue.dense[rec.item]]["genres"]
    history_conv.reset()
    recs = history_conv.say("something from the 80s")
    assert recs and all(1980 <= catalogue.years[catalogue.dense[r.item]] < 1990 for r in recs)


def test_reasons_are_faithful_and_a_forged_one_is_caught(history_conv):
    history_conv.say("I have seen Heat")
    assert "13" in history_conv.state.seen and "13" not in {r.item for r in history_conv.last}
    history_conv.say("I loved Alien, something with Sigourney Weaver")
    recs = history_conv.last
    assert recs[0].item == "12"  # the one Sigourney Weaver movie left goes first (accepted people lead)
    kinds = {r.kind for r in recs[0].reasons}
    assert kinds == {"attribute", "liked"}
    assert all(unfaithful(history_conv, r) == [] for r in recs)
    forged = Recommendation("12", "Aliens (1986)", 0.0, (Reason("liked", "13", "you liked Heat"),))
    assert unfaithful(history_conv, forged) == ["item 13 was not liked in this dialogue"]
    wrong = Recommendation("13", "Heat (1995)", 0.0, (Reason("attribute", ("actors", "Sigourney Weaver"), "x"),))
    assert "Heat (1995) has no actors 'Sigourney Weaver'" in unfaithful(history_conv, wrong)


def test_reset_clears_state_and_bad_input_is_named(history_conv):
    history_conv.say("no horror")
    history_conv.reset()
    assert not history_conv.state.rejected_attributes and not history_conv.state.utterances and not history_conv.last
    assert history_conv.say("   ") == [] and history_conv.turn.notes == ["empty message"]
    history_conv.say("x" * 5000)
    assert any("cut to its first 1000" in n for n in history_conv.turn.notes)
    history_conv.say("I loved Allien")
    assert any("did you mean 'Alien (1979)'" in n for n in history_conv.turn.notes)
    history_conv.say("I hated the ninth one")
    assert any("no number 9" in n for n in history_conv.turn.notes)
    history_conv.say("no horror, no comedy, no sci-fi, no crime, no action")
    assert history_conv.last == [] and "Nothing in the catalogue fits" in history_conv.turn.response


def test_a_catalogue_without_titles_is_refused():
    with pytest.raises(ValueError, match="needs item titles"):
        Catalogue(RAW, pd.DataFrame({"genre": ["a"] * 6}, index=np.arange(1, 7)))


# --- the dialogue model: trained, loaded from its run, chatted with --------------------------------------------


@pytest.fixture(scope="module")
def dialogue_run(tmp_path_factory) -> Path:
    from recframe.training.fitting import fit

    root = tmp_path_factory.mktemp("chat-runs")
    overrides = [
        "dataset.name=synthetic_dialogues",
        "~dataset.train",
        "trainer.max_epochs=3",
        f"run.dir={root}",
        "trainer.enable_progress_bar=false",
        "logger.name=none",
    ]
    run, _ = fit("redial/dialogue", overrides, echo=lambda *a, **k: None)
    return run.dir


@pytest.mark.slow
def test_dialogue_parts_sum_to_the_offline_psi(dialogue_run):
    conv = Conversation.load(str(dialogue_run))
    backbone = conv.profile.backbone
    user = 5
    ids = backbone.index[user][backbone.index[user] > 0]
    history = torch.tensor([3, 7])
    with torch.no_grad():
        psi = backbone({"user": torch.tensor([user]), "history": history[None]})[0, 0]
        parts = backbone.parts(backbone.utterances[ids], history)
    total = parts["bias"] + parts["utterances"].sum(0) + parts["items"].sum(0)
    assert torch.allclose(total, psi, atol=1e-5)


@pytest.mark.slow
def test_dialogue_conversation_explains_with_its_own_score_parts(dialogue_run):
    conv = Conversation.load(str(dialogue_run), k=5)
    recs = conv.say("hi i like horror film like film 3")
    assert recs and all(unfaithful(conv, r) == [] for r in recs)
    assert all("horror" in conv.catalogue.attributes[conv.catalogue.dense[r.item]]["genres"] for r in recs)
    scored = conv.profile.score(conv.context())
    for rec in recs:  # the cited utterance is the seeker message with the largest positive share
        cited = [r.value for r in rec.reasons if r.kind == "utterance"]
        item = conv.catalogue.dense[rec.item]
        if cited:
            assert cited[0] == int(np.argmax(scored.utterance_shares[:, item]))
        assert rec.score == pytest.approx(float(scored.scores[item]), abs=1e-5)


@pytest.mark.slow
def test_chat_through_stdin_saves_the_transcript(dialogue_run, tmp_path):
    transcript = tmp_path / "chat.jsonl"
    lines = "I like horror film like film 3\n/why 1\n/dislike 2\n/like 99\n/frobnicate\nno horror\n/reset\n/quit\n"
    done = subprocess.run(
        [sys.executable, "-m", "recframe", "chat", str(dialogue_run), "--k", "4", "--transcript", str(transcript)],
        input=lines,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "item 99 is not on screen" in done.stdout and "unknown command /frobnicate" in done.stdout
    records = [json.loads(x) for x in transcript.read_text().splitlines()]
    assert records[0]["experiment"] == "redial/dialogue"
    disliked = [r for r in records if r.get("feedback") == DISLIKED]
    assert len(disliked) == 1
    later_lists = [r["list"] for r in records[records.index(disliked[0]) :] if "list" in r]
    assert later_lists and all(disliked[0]["item"] not in items for items in later_lists)
    assert records[-1] == {"event": "reset"}


# --- the simulated seeker --------------------------------------------------------------------------------------


def test_simulated_user_answers_from_metadata_and_accepts_iff_a_target_is_listed(catalogue):
    user = SimulatedUser([1, 2], catalogue)  # Alien and Aliens
    assert user.answer("genres") == "Action, Horror, Sci-Fi"
    assert user.answer("actors") == "Sigourney Weaver"
    assert SimulatedUser([6], catalogue).answer("actors") == NO_INFORMATION
    assert user.accepts([5, 2]) and not user.accepts([3, 4, 5])


def test_simulator_never_says_a_target_title():
    info = INFO.copy()
    info.loc[3, "actors"] = ["Alien Jones"]  # an attribute value that names another item's title
    catalogue = Catalogue(RAW, info)
    user = SimulatedUser([1, 3], catalogue)  # targets Alien and Heat
    assert user.answer("actors") == "Sigourney Weaver" and user.withheld == 1
    with pytest.raises(AssertionError, match="leak"):
        user.say("have you tried Alien?")


def test_simulated_turn_ends_at_acceptance_and_scores_the_final_list(history_conv):
    outcome = simulate_turn(history_conv, (), [2], turns=5, columns=["genres", "actors"])
    assert outcome.success and outcome.ranks[0] is not None
    final = [history_conv.catalogue.dense[r.item] for r in history_conv.last]
    assert final[outcome.ranks[0] - 1] == 2
    said = [t["text"] for t in history_conv.transcript if t.get("speaker") == "seeker"]
    assert said[-1] == ACCEPT
    summary = summarise([outcome], turns=5)
    assert summary["recall@50"] == 1.0 and summary["success_by_round"][-1] == 1.0
    assert outcome.listed > 0 and outcome.reasons > 0 and outcome.unfaithful == 0 and outcome.rule_breaks == 0
    assert summary["listed_total"] == outcome.listed


class Scripted:
    """A stand-in seeker LLM with a fixed reply (the leakage filter and the reading are under test)."""

    name = "scripted"

    def __init__(self, reply: str) -> None:
        self.reply, self.prompts = reply, []

    def generate(self, messages):
        self.prompts.append(messages[-1]["content"])
        return self.reply


def test_free_mode_seeker_never_names_the_target_and_is_read_like_a_message():
    from recframe.conversation.profile import HistoryProfile

    n = 80  # more than a 50-item list, so the first list misses the target
    info = pd.DataFrame(
        {
            "title": [f"Film {k}" for k in range(1, n + 1)],
            "actors": [["Leslie Nielsen"] if k == 77 else [] for k in range(1, n + 1)],
        },
        index=np.arange(1, n + 1),
    )
    conv = Conversation(HistoryProfile(ItemTable(n + 1)), Catalogue(np.arange(1, n + 1), info), k=10)
    llm = Scripted("I want Film 77. Something with Leslie Nielsen!")
    outcome = simulate_turn(conv, (), [77], turns=3, columns=[], llm=llm)
    assert outcome.withheld == 1  # the sentence naming the target was dropped
    said = " ".join(t["text"] for t in conv.transcript if t.get("speaker") == "seeker")
    assert "Film 77" not in said and "Something with Leslie Nielsen!" in said
    assert "Film 77" not in llm.prompts[0] and "Leslie Nielsen" in llm.prompts[0]  # attributes, never the title
    assert ("actors", "Leslie Nielsen") in conv.state.accepted_attributes
    assert outcome.success and outcome.rounds == 2 and outcome.ranks == [1]  # the stated actor leads the list


@pytest.mark.slow
def test_simulate_command_records_its_results(dialogue_run):
    from recframe.cli import main

    assert main(["simulate", str(dialogue_run), "--turns", "3", "--limit", "12"]) == 0
    summary = json.loads((dialogue_run / "simulation-attribute-all.json").read_text())
    assert summary["conversations"] == 12 and len(summary["success_by_round"]) == 3
    metrics = json.loads((dialogue_run / "metrics.json").read_text())
    assert metrics["sim/attribute/all/recall@50"] == summary["recall@50"]
    assert summary["success"] == pytest.approx(summary["success_by_round"][-1])


def test_the_fixed_replies_pass_even_when_a_title_is_a_common_word():
    from recframe.conversation.profile import HistoryProfile

    info = pd.DataFrame({"title": ["You", "Heat (1995)"], "genres": [["Drama"], ["Crime"]]}, index=[1, 2])
    conv = Conversation(HistoryProfile(ItemTable(3)), Catalogue(np.array(["1", "2"]), info), k=2)
    outcome = simulate_turn(conv, (), [1], turns=2, columns=["genres"])  # "thank you" must not trip the guard
    assert outcome.success and ACCEPT in [t["text"] for t in conv.transcript]
