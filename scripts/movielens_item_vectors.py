"""Collaborative item vectors from MovieLens for a conversational catalogue, matched by title and year.

    RECFRAME_DATA=../shared/data python scripts/movielens_item_vectors.py --out redial-ml-vectors.npz

Cross-domain transfer: ReDial has 900 training dialogues, MovieLens 100k ratings of the same films.
The script factorises the MovieLens latest-small item x user matrix (implicit: every rating is an
interaction; truncated SVD, ``item = U_k · sqrt(S_k)``) and writes the vector of every ReDial movie
whose normalised title and year match a MovieLens movie to an ``.npz`` (``ids`` = ReDial raw ids,
``vectors``), the format of ``backbone.items.vectors`` (use ``missing: zero`` for the unmatched).
Titles are normalised by moving MovieLens' trailing article back to the front ("Matrix, The (1999)"
-> "the matrix"), lower-casing and dropping punctuation; only a unique (title, year) match counts.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

ARTICLE = re.compile(r"^(?P<rest>.*), (?P<article>the|a|an|les|la|le|el|il|das|der|die)$", re.IGNORECASE)
YEAR = re.compile(r"\s*\((\d{4})\)\s*$")


def normalise(title: str) -> tuple[str, int | None]:
    """``("the matrix", 1999)`` from "Matrix, The (1999)" or "The Matrix (1999)"."""
    year = YEAR.search(title)
    name = YEAR.sub("", title).strip()
    name = re.sub(r"\s*\(.*?\)\s*$", "", name)  # MovieLens' alternative titles: "Seven (a.k.a. Se7en)"
    moved = ARTICLE.match(name)
    if moved:
        name = f"{moved['article']} {moved['rest']}"
    name = re.sub(r"[^a-z0-9 ]+", " ", name.lower())
    return " ".join(name.split()), int(year.group(1)) if year else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import torch

    from recframe.conversation.redial import redial
    from recframe.data.movielens import movielens

    log = movielens("latest-small")
    items, item_index = np.unique(log.item, return_inverse=True)
    users, user_index = np.unique(log.user, return_inverse=True)
    matrix = torch.zeros(len(items), len(users))
    matrix[torch.as_tensor(item_index), torch.as_tensor(user_index)] = 1.0
    u, s, _ = torch.linalg.svd(matrix, full_matrices=False)
    factors = (u[:, : args.dim] * s[: args.dim].sqrt()).numpy()  # [items, dim]
    titles = log.items["title"].reindex(items)
    keys: dict[tuple[str, int | None], list[int]] = {}
    for row, title in enumerate(titles):
        keys.setdefault(normalise(str(title)), []).append(row)
    catalogue = redial().catalogue
    ids, vectors = [], []
    for raw, title in catalogue["title"].items():
        rows = keys.get(normalise(str(title)), [])
        if len(rows) == 1:
            ids.append(str(raw))
            vectors.append(factors[rows[0]])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, ids=np.array(ids), vectors=np.stack(vectors).astype(np.float32))
    print(f"{len(ids):,} of {len(catalogue):,} catalogue movies matched a MovieLens movie; wrote {args.out}")


if __name__ == "__main__":
    main()
