"""What one seeker message says: titles with their sentiment, list references, critiques, constraints.

Rules, each traceable to the words that fired it (no model, so every decision can be explained):

- a message is cut into clauses at ``. ; ! ?``, at a comma before "not" / "no" / "never", and at
  "but", "though", "however", "although", "whereas"; a clause's sentiment is *disliked* if it holds
  a negative word ("hated", "boring") or a positive word ("loved", "like") within three words after
  a negator ("didn't like", "not a fan"),
  else *liked* if it holds a positive word, else *seen* if it says "seen" / "saw" / "watched"
  (not "haven't seen"), else *unknown*; every title and list reference in the
  clause takes it; a clause that opens with "not" / "no" / "never" and has no sentiment word of its
  own takes the opposite of the previous clause's ("I loved Alien but not Aliens");
- list references: "the second one", "number 2", "#2", "2nd", "the last one"; "it" / "that one" /
  "this one" in a clause with a sentiment and no title refers to the item in focus (the last one
  named, else the top of the last list);
- a critique ("none of these", "something else", "nope") rejects the whole last list;
- an attribute (genre word, actor, director, decade such as "the 90s") is *rejected* when a negator
  or a negative word occurs at most four words before it in its clause and after the previous title
  or attribute ("no horror", "nothing with Tom Cruise", "I hate musicals"), or when only "or" / "nor"
  / "and" separate it from a rejected one ("no horror or comedy"); otherwise *accepted* ("something
  from the 90s", "no horror, something funny" accepts comedy);
- a capitalised phrase after "loved/liked/hated/seen/watched" or in quotes that names no title gets
  "did you mean" suggestions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from recframe.conversation.catalogue import Catalogue, normalise, tokens
from recframe.conversation.dialogue import DISLIKED, LIKED, UNKNOWN

POSITIVE = {
    "love", "loved", "loves", "like", "liked", "likes", "enjoy", "enjoyed", "enjoys", "great", "awesome", "amazing",
    "favorite", "favourite", "fan", "good", "best", "brilliant", "fantastic", "adore", "adored", "perfect", "yes",
}  # fmt: skip
NEGATIVE = {
    "hate", "hated", "hates", "dislike", "disliked", "boring", "awful", "terrible", "worst", "bad", "meh",
    "overrated", "disappointing", "stupid", "lame", "horrible",
}  # fmt: skip
NEGATORS = {"not", "no", "never", "don", "didn", "doesn", "wasn", "isn", "dont", "didnt", "nothing", "without",
            "except", "avoid", "skip", "neither", "nor", "none"}  # fmt: skip
CLAUSE_BREAK = re.compile(r"[.;!?]+|,\s*(?=(?:not|no|never)\b)|\b(?:but|though|however|although|whereas)\b", re.I)
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
            "ninth": 9, "tenth": 10, "last": -1}  # fmt: skip
POSITION = re.compile(
    r"\b(?:the\s+)?(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last)\s+(?:one|movie|film|"
    r"option|pick|suggestion)\b|(?:#|\bnumber\s+|\bno\.\s*)(\d+)\b|\b(\d+)(?:st|nd|rd|th)\b",
    re.IGNORECASE,
)
PRONOUN = re.compile(r"\b(?:it|that one|this one|that|this)\b", re.IGNORECASE)
CRITIQUE = re.compile(
    r"\b(?:none of (?:these|those|them|the above)|something else|anything else|other (?:options|ones|suggestions)|"
    r"not (?:these|those)|no thanks|nope|different ones?|don'?t like (?:any|them))\b",
    re.IGNORECASE,
)
TITLE_CUE = re.compile(
    r"(?:\b(?:loved?|liked?|hated?|enjoyed|seen|watched|saw)\s+((?:[A-Z0-9][\w']*\s*){1,6})|\"([^\"]{2,80})\")"
)
SEEN = "seen"  # a clause that says the seeker has seen what it names, without liking or disliking it
SEEN_WORDS = {"seen", "saw", "watched"}
ATTRIBUTE_WINDOW = 4
CONTRAST = {"not", "no", "never"}  # a clause opening with one of these, without its own sentiment, flips the last
CHAINS = {"or", "nor", "and"}  # words that carry a negation on to the next attribute


@dataclass
class Understanding:
    """What :func:`understand` read in one message (dense item ids, 1-based list positions)."""

    items: list[tuple[int, str]] = field(default_factory=list)  # (item, liked|disliked|unknown), in order
    positions: list[tuple[int, str]] = field(default_factory=list)  # (position, sentiment); -1 = last
    focus: str | None = None  # sentiment towards the item in focus ("I hated that one")
    critique: bool = False
    accepted: list[tuple[str, str]] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    unknown_titles: list[tuple[str, list[str]]] = field(default_factory=list)  # (phrase, suggestions)


def clause_sentiment(words: list[str]) -> str:
    """``liked`` / ``disliked`` / ``seen`` / ``unknown`` of one clause's lower-case words (module rules)."""
    liked = seen = False
    for k, word in enumerate(words):
        negated = bool(NEGATORS & set(words[max(0, k - 3) : k]) or "haven" in words[max(0, k - 3) : k])
        if word in NEGATIVE or (word in POSITIVE and negated):
            return DISLIKED
        liked = liked or word in POSITIVE
        seen = seen or (word in SEEN_WORDS and not negated)
    return LIKED if liked else SEEN if seen else UNKNOWN


def clauses(text: str) -> list[tuple[int, int]]:
    """Character spans ``[start, stop)`` of the clauses of ``text``."""
    spans, start = [], 0
    for found in CLAUSE_BREAK.finditer(text):
        spans.append((start, found.start()))
        start = found.end()
    spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def understand(text: str, catalogue: Catalogue) -> Understanding:
    """Read one seeker message against ``catalogue`` (see the module docstring for every rule)."""
    out = Understanding(critique=bool(CRITIQUE.search(text)))
    titled_spans: list[tuple[int, int]] = []
    previous = UNKNOWN
    for start, stop in clauses(text):
        clause = text[start:stop]
        found = tokens(clause)
        words = [w.lower() for w, _ in found]
        sentiment = clause_sentiment(words)
        if sentiment == UNKNOWN and words and words[0] in CONTRAST and previous != UNKNOWN:
            sentiment = DISLIKED if previous == LIKED else LIKED  # "I loved Alien but not Aliens"
        previous = sentiment
        matches = catalogue.find([w for w, _ in found])
        previous_stop, previous_rejected = 0, False
        for match in matches:
            if match.kind == "title":
                out.items.append((int(match.value), sentiment))
                titled_spans.append((start + found[match.start][1], start + found[match.stop - 1][1]))
            elif match.stop - match.start == 1 and words[match.start] in POSITIVE | NEGATIVE:
                continue  # "love" is a sentiment here, not the genre of that name
            else:
                # a negation reaches back to the previous match at most; "no horror or comedy" chains it
                before = words[max(previous_stop, match.start - ATTRIBUTE_WINDOW) : match.start]
                rejected = bool(set(before) & (NEGATORS | NEGATIVE)) or (
                    previous_rejected and bool(before) and set(before) <= CHAINS
                )
                (out.rejected if rejected else out.accepted).append((match.kind, str(match.value)))
                previous_rejected = rejected
            previous_stop = match.stop
        positions = [_position(m) for m in POSITION.finditer(clause)]
        out.positions += [(p, sentiment) for p in positions]
        titled = any(m.kind == "title" for m in matches)
        if sentiment != UNKNOWN and not positions and not titled and PRONOUN.search(clause):
            out.focus = sentiment
    out.unknown_titles = _unknown_titles(text, catalogue, titled_spans)
    return out


def _position(match: re.Match) -> int:
    word, number, nth = match.groups()
    return ORDINALS[word.lower()] if word else int(number or nth)


def _unknown_titles(text: str, catalogue: Catalogue, titled: list[tuple[int, int]]) -> list[tuple[str, list[str]]]:
    out = []
    for cue in TITLE_CUE.finditer(text):
        group = 1 if cue.group(1) else 2
        phrase, begin = cue.group(group).strip(), cue.start(group)
        if not phrase or any(a <= begin + len(phrase) and begin <= b for a, b in titled):
            continue
        if normalise(phrase) in catalogue.by_title or normalise(phrase) in catalogue.by_attribute:
            continue
        near = catalogue.suggest(phrase)
        if near:
            out.append((phrase, near))
    return out
