"""He et al.'s test sets (recframe.conversation.he2023): parsing, the target mapping and the recall counts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recframe.conversation import he2023
from recframe.conversation.catalogue import Catalogue
from recframe.conversation.session import Recommendation

IRI = "<http://dbpedia.org/resource/{}>"


def test_iri_titles_and_years():
    assert he2023.iri_title(IRI.format("Alaska_(1996_film)")) == ("Alaska", 1996)
    assert he2023.iri_title(IRI.format("Game_Night_(film)")) == ("Game Night", None)
    assert he2023.iri_title(IRI.format("Avengers:_Infinity_War")) == ("Avengers: Infinity War", None)
    assert he2023.iri_title(IRI.format("Mama_(2013_Spanish_film)")) == ("Mama", 2013)
    assert he2023.iri_title(IRI.format("Am%C3%A9lie")) == ("Amélie", None)
    assert he2023.iri_title(IRI.format("Thor_(volcano)")) == ("Thor (volcano)", None)  # not a film: kept whole


def test_context_lines_drop_the_open_prompt_and_refuse_other_speakers():
    lines = he2023.parse_lines("\nUser: Hi, like Alien (1979)\nSystem: Try Aliens (1986)\nSystem: ", "x")
    assert lines == (("User", "Hi, like Alien (1979)"), ("System", "Try Aliens (1986)"))
    with pytest.raises(ValueError, match="x: a context line starts with neither"):
        he2023.parse_lines("Narrator: once upon a time", "x")


@pytest.fixture
def catalogue() -> Catalogue:
    titles = ["", "Alien (1979)", "Aliens (1986)", "Mama (2013)", "Mama (1990)", "Heat (1995)"]
    info = pd.DataFrame({"title": titles})
    return Catalogue(np.array(["a", "b", "c", "d", "e"]), info, np.array([0, 5, 1, 1, 9, 2.0]))


def test_targets_map_by_title_then_year(catalogue):
    assert he2023.target_item(catalogue, IRI.format("Alien_(film)")) == 1
    assert he2023.target_item(catalogue, IRI.format("Mama_(2013_film)")) == 3  # the year picks the item
    assert he2023.target_item(catalogue, IRI.format("Mama_(film)")) == 4  # no year: the more popular one
    assert he2023.target_item(catalogue, IRI.format("Mama_(film)"), ["Mama (2013)"]) == 3  # the turn names it
    assert he2023.target_item(catalogue, IRI.format("Thor_(volcano)")) is None


def write_set(folder: Path, records: list[dict], entities: dict[str, int]) -> Path:
    folder.mkdir(parents=True)
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (folder / "entity2id.json").write_text(json.dumps(entities))
    (folder / "item_ids.json").write_text(json.dumps(sorted(entities.values())))
    return folder


ENTITIES = {IRI.format("Alien_(film)"): 0, IRI.format("Aliens_(film)"): 1, IRI.format("Heat_(1995_film)"): 2,
            IRI.format("Thor_(volcano)"): 3}  # fmt: skip


def turn(n: int, text: str, rec: list[int], prev: list[int]) -> dict:
    return {"input": text, "rec": rec, "prev_entity": prev, "dialog_id": f"test_{n}", "turn_id": f"t{n}",
            "entity_name": [], "context": [], "resp": ""}  # fmt: skip


class FixedList:
    """A conversation whose ranking is fixed: the counting of :func:`he2023.evaluate` in isolation."""

    def __init__(self, catalogue: Catalogue, ranked: list[str]) -> None:
        self.catalogue, self.ranked, self.heard, self.mask_mentioned = catalogue, ranked, [], None

    def reset(self) -> None:
        self.heard.append("reset")

    def hear(self, text: str) -> None:
        self.heard.append(("seeker", text))

    def observe(self, utterance) -> None:
        self.heard.append(("recommender", utterance.text, utterance.items))

    def ranking(self, k: int) -> list[Recommendation]:
        return [Recommendation(raw, "", 0.0) for raw in self.ranked[:k]]


def test_evaluate_counts_every_target_and_scores_unmapped_ones_as_misses(tmp_path, catalogue):
    records = [
        turn(1, "\nUser: I loved Alien (1979)\nSystem: ", [1, 3], [0]),  # Aliens at rank 2; Thor unmapped
        turn(2, "\nUser: more\nSystem: Alien (1979)?\nUser: seen it\nSystem: ", [0, 2], [0]),  # Alien mentioned
    ]
    test = he2023.load("redial", write_set(tmp_path / "redial", records, ENTITIES))
    conversation = FixedList(catalogue, ["a", "b", "e"])  # Alien, Aliens, Heat
    result = he2023.evaluate(conversation, test, "all")
    assert result["events"] == 4 and result["targets_unmapped"] == 1 and conversation.mask_mentioned is False
    assert result["recall@1"] == pytest.approx(1 / 4)  # Alien at rank 1 in turn 2
    assert result["recall@10"] == pytest.approx(3 / 4)  # Aliens (2), Alien (1), Heat (3); Thor missed
    assert ("recommender", "Alien (1979)?", ("a",)) in conversation.heard  # the system line's title read
    dedup = he2023.evaluate(conversation, test, "dedup")
    assert dedup["events"] == 3 and dedup["targets_mentioned_before"] == 1 and conversation.mask_mentioned
    with pytest.raises(ValueError, match="unknown variant 'some'"):
        he2023.evaluate(conversation, test, "some")


def test_bad_files_are_named(tmp_path):
    folder = write_set(tmp_path / "redial", [turn(1, "\nUser: hi\nSystem: ", [7], [])], ENTITIES)
    with pytest.raises(ValueError, match=r"test.jsonl:1: target entity ids \[7\] are not in entity2id.json"):
        he2023.load("redial", folder)
    (folder / "test.jsonl").write_text('{"input": "User: hi"}\n')
    with pytest.raises(ValueError, match=r"test.jsonl:1: not a He et al. turn \(KeyError"):
        he2023.load("redial", folder)
    with pytest.raises(ValueError, match=r"unknown He et al\. test set 'gorecdial'"):
        he2023.load("gorecdial", folder)


@pytest.mark.data
@pytest.mark.parametrize(("name", "turns", "targets"), [("inspired", 228, 253), ("redial", 3552, 4778)])
def test_real_files_have_the_provenance_counts(real_data, name, turns, targets):
    folder = real_data(f"llm-crs-he2023/{name}", "test.jsonl", "entity2id.json", "item_ids.json")
    test = he2023.load(name, folder)
    assert len(test.turns) == turns and sum(len(t.targets) for t in test.turns) == targets
    assert all(t in test.items for turn in test.turns for t in turn.targets)
    assert all(turn.lines[-1][1] for turn in test.turns if turn.lines)  # the open prompt is gone
    assert sum(not turn.lines for turn in test.turns) == {"inspired": 1, "redial": 52}[name]  # recommender opens
