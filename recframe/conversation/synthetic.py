"""A small generated conversational dataset: seekers name a genre and a movie, recommenders answer in kind.

Fast (milliseconds), deterministic from ``seed`` and solvable: each dialogue sticks to one genre, so a
model that reads the mentioned movies' genres (or the genre word) can find the targets. Some
recommenders repeat a movie the seeker named, so the ``all`` and ``dedup`` variants differ. Tests,
docs and CI use it; the real sets are :mod:`recframe.conversation.redial` and its siblings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recframe.conversation.dialogue import DISLIKED, LIKED, RECOMMENDER, SEEKER, Dialogue, Dialogues, Utterance

GENRES = ("horror", "comedy", "love")


def synthetic_dialogues(n_train: int = 120, n_test: int = 40, n_items: int = 30, seed: int = 0) -> Dialogues:
    """``n_train`` + ``n_test`` four-utterance dialogues over ``n_items`` movies of three genres."""
    if n_items < 2 * len(GENRES) or n_train < 1 or n_test < 1:
        raise ValueError(f"synthetic_dialogues needs n_items >= {2 * len(GENRES)} and dialogues in both splits")
    rng = np.random.default_rng(seed)
    ids = [str(k) for k in range(1, n_items + 1)]
    genre_of = {i: GENRES[k % len(GENRES)] for k, i in enumerate(ids)}
    catalogue = pd.DataFrame(
        {
            "title": [f"film {i}" for i in ids],
            "genres": [[genre_of[i]] for i in ids],
            "directors": [[f"{genre_of[i]} maker"] for i in ids],
            "actors": [[] for _ in ids],  # no cast: the documented missing-field fallback
            "writers": [[] for _ in ids],
            "plot": [f"a {genre_of[i]} film" for i in ids],
            "year": [1990 + k % 30 for k in range(len(ids))],
        },
        index=pd.Index(ids, name="item"),
    )
    by_genre = {g: [i for i in ids if genre_of[i] == g] for g in GENRES}

    def dialogue(cid: str) -> Dialogue:
        genre = GENRES[int(rng.integers(len(GENRES)))]
        named, first, second, other = rng.choice(by_genre[genre], 4, replace=False)
        repeat = rng.random() < 0.25
        utterances = (
            Utterance(SEEKER, f"hi i like {genre} film like @{named}", (named,)),
            Utterance(RECOMMENDER, f"try @{first}", (first,)),
            Utterance(SEEKER, f"love it but not @{other}", (other,)),
            Utterance(RECOMMENDER, f"then @{named if repeat else second}", (named if repeat else second,)),
        )
        return Dialogue(cid, utterances, {named: LIKED, first: LIKED, other: DISLIKED}, frozenset({first, second}))

    return Dialogues(
        {
            "train": [dialogue(f"train-{k}") for k in range(n_train)],
            "test": [dialogue(f"test-{k}") for k in range(n_test)],
        },
        catalogue,
        "synthetic_dialogues",
        [f"synthetic: {n_train} train and {n_test} test dialogues over {n_items} movies"],
    )
