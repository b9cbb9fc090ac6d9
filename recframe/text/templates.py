"""Item side information rendered as text by a documented template.

A template is a Python format string over the columns of the item table, e.g.
``"{title}. Genres: {genres}."``. List values (genres, S3-Rec attribute ids, tags) are joined with
``", "``; missing values (NaN, None, an empty list) render as an empty string. An item whose every
referenced field is missing has **no text**: :func:`render` returns it as ``""`` and counts it, and
the text encoder gives it a zero vector, so its other parts (ID embedding, attributes) carry it
alone. That fallback is reported at start-up, never applied silently.
"""

from __future__ import annotations

import string
from collections.abc import Sequence

import numpy as np
import pandas as pd


def template_fields(template: str) -> list[str]:
    """Column names a template reads, in order (``"{title} ({genres})" -> ['title', 'genres']``)."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as err:
        raise ValueError(f"bad text template {template!r}: {err}") from None
    bad = [f for f in fields if not f.isidentifier()]
    if not fields or bad:
        raise ValueError(f"text template {template!r} must name item columns like '{{title}}'; got fields {fields}")
    return fields


def is_missing(value: object) -> bool:
    """NaN, None, an empty string or an empty list count as missing."""
    if value is None:
        return True
    if isinstance(value, (list, tuple, np.ndarray)):
        return len(value) == 0
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _as_text(value: object) -> str:
    if is_missing(value):
        return ""
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(str(v) for v in value)
    return str(value)


def render(info: pd.DataFrame | None, template: str, n_items: int) -> tuple[list[str], np.ndarray]:
    """Text of every dense item ``0..n_items-1`` (row 0 = PAD renders as ``""``).

    Returns:
        ``(texts, missing)``: one string per dense id and a bool ``[n_items]`` mask of real items
        (PAD excluded) whose referenced fields are all missing.

    Raises:
        ValueError: the dataset has no item table, or the template names a column it lacks.
    """
    fields = template_fields(template)
    if info is None:
        raise ValueError(f"text template {template!r} needs item side information, but this dataset has none")
    unknown = [f for f in fields if f not in info.columns]
    if unknown:
        raise ValueError(f"text template names unknown item column {unknown[0]!r}; known: {sorted(info.columns)}")
    if len(info) != n_items:
        raise ValueError(f"item table has {len(info)} rows for {n_items} dense ids (PAD included)")
    columns: Sequence[list] = [info[f].tolist() for f in fields]
    texts, missing = [""], np.zeros(n_items, dtype=bool)
    for item in range(1, n_items):
        values = {f: col[item] for f, col in zip(fields, columns, strict=True)}
        if all(is_missing(v) for v in values.values()):
            texts.append("")
            missing[item] = True
        else:
            texts.append(template.format(**{f: _as_text(v) for f, v in values.items()}).strip())
    return texts, missing
