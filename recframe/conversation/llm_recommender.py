"""The LLM-as-recommender baseline: an LLM reads the dialogue and names movies; names are matched to the catalogue.

The zero-shot protocol of He et al. (CIKM 2023, "Large Language Models as Zero-Shot Conversational
Recommenders"): the context of each test turn goes to the LLM with an instruction to list 10 titles,
one per line; each line is matched to a catalogue item (an exact normalised title, else the closest
title by difflib's ratio >= 0.75, as :meth:`~.Catalogue.suggest` does); unmatched lines and repeats
are dropped and counted. Recall@1/10 of the matched list is measured per target, like the offline
protocol. ``python -m recframe llm-recommend RUN --llm SPEC [--limit N]`` records it in the run
(``llm-recommender-<variant>.json``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from recframe.conversation.catalogue import Catalogue, normalise
from recframe.conversation.dialogue import Utterance, line

PROMPT = (
    "You are a movie recommender. Here is a conversation between a user and a recommender:\n{context}\n"
    "Recommend 10 movies the user would like next. Answer with the titles only, one per line."
)
LIST_MARK = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s*")


def titles_in(reply: str) -> list[str]:
    """The candidate titles of an LLM reply: one per non-empty line, list marks and quotes removed."""
    out = []
    for text in reply.splitlines():
        text = LIST_MARK.sub("", text).replace('"', "").strip()
        text = re.split(r"\s+[-–—:]\s+", text)[0]  # "Alien (1979) - a space horror" -> the title part
        if text:
            out.append(text)
    return out


def match(titles: list[str], catalogue: Catalogue) -> tuple[list[int], int]:
    """Dense items of ``titles`` in order (exact, else nearest title), without repeats; and how many missed."""
    items, missed = [], 0
    for title in titles:
        key = normalise(title)
        item = catalogue.by_title.get(key)
        if item is None:
            near = catalogue.suggest(title, n=1)
            item = catalogue.by_title.get(normalise(near[0])) if near else None
        if item is None:
            missed += 1
        elif item not in items:
            items.append(item)
    return items, missed


def recommend_turn(
    llm: Any, catalogue: Catalogue, context: Iterable[Utterance], window: int = 6
) -> tuple[list[int], int]:
    """The LLM's matched list for one turn (its last ``window`` utterances), and the unmatched count."""
    lines = [line(u, catalogue.title_of) for u in list(context)[-window:]]
    reply = llm.generate([{"role": "user", "content": PROMPT.format(context="\n".join(lines))}])
    return match(titles_in(reply), catalogue)


def evaluate_llm_recommender(
    target: str,
    llm_spec: str,
    *,
    variant: str = "all",
    limit: int | None = None,
    seed: int = 0,
    overrides: Iterable[str] = (),
    progress: Callable[[Iterable], Iterable] = lambda x: x,
) -> tuple[dict[str, Any], Path | None]:
    """Run the baseline on the test turns of a run's dataset; records the summary in the run directory."""
    from recframe.conversation.llm import load_llm
    from recframe.conversation.session import Conversation
    from recframe.conversation.simulator import turns_to_play
    from recframe.experiments.runs import Run, git_commit, write_json

    conv = Conversation.load(target, overrides)
    llm = load_llm(llm_spec, max_new_tokens=120)
    played = turns_to_play(conv, variant, limit, seed)
    hits = {1: [], 10: []}
    missed = listed = 0
    for context, raw_targets in progress(played):
        items, lost = recommend_turn(llm, conv.catalogue, context)
        missed, listed = missed + lost, listed + len(items)
        position = {item: k + 1 for k, item in enumerate(items)}
        for raw in raw_targets:
            rank = position.get(conv.catalogue.dense.get(raw, -1))
            for k in hits:
                hits[k].append(rank is not None and rank <= k)
    summary = {f"recall@{k}": float(np.mean(v)) if v else float("nan") for k, v in hits.items()}
    summary.update(
        turns=len(played), targets=len(hits[1]), titles_matched=listed, titles_unmatched=missed, llm=llm_spec,
        variant=variant, limit=limit, seed=seed, git=git_commit(), **conv.source,
    )  # fmt: skip
    path = Path(target)
    if not path.is_dir():
        return summary, None
    out = path / f"llm-recommender-{variant}.json"
    write_json(out, summary)
    Run(path.resolve()).write_metrics({f"llm-recommender/{variant}/{k}": summary[k] for k in ("recall@1", "recall@10")})
    return summary, out
