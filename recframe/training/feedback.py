"""``python -m recframe update RUN FEEDBACK``: fold new interactions into a trained model (warm-started fine-tuning).

The founding document's closing loop. ``FEEDBACK`` is a CSV (``user,item`` and optionally ``rating``,
``timestamp``, ``title``, ``genres``) or a chat transcript (JSONL from ``chat``/``serve``: its
``/like`` and ``/dislike`` become ratings 5 and 1 of one new user). The update is a new recorded run
of the parent's config over the parent's data plus the feedback:

- new users and items get dense ids (and, for items, side information from ``title``/``genres``, so
  a text item encoder places them by their text at once); the parent's weights are copied row by row
  through the raw ids into the larger tables (:func:`warm_start`), new rows keep their initialisation;
- the split protocol runs on the merged log, so each feedback user's last interactions are its
  validation and test events: the held-out slice of the feedback;
- ``feedback/before/...`` (the parent's weights, new items unrecommendable) and ``feedback/after/...``
  (the fine-tuned model) are measured on that slice and recorded with the run, whose ``run.json``
  names its parent.

Nothing is written when the feedback file is malformed: the error names the file and the line.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from recframe.data.interactions import Interactions

LIKED_RATING, DISLIKED_RATING = 5.0, 1.0
COLUMNS = ("user", "item", "rating", "timestamp", "title", "genres")


def _typed(values: pd.Series, like: np.ndarray, what: str, path: Path) -> np.ndarray:
    """Raw ids typed like the log's (integers stay integers), or an error naming the first bad line."""
    if np.issubdtype(like.dtype, np.integer):
        parsed = pd.to_numeric(values, errors="coerce")
        bad = parsed.isna() | (parsed != parsed.round())
        if bad.any():
            line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
            raise ValueError(f"{path}:{line}: {what} id {values.iloc[line - 2]!r} is not an integer like the dataset's")
        return parsed.astype(np.int64).to_numpy()
    return values.astype(str).to_numpy(dtype=object)


def read_csv_feedback(path: Path, log: Interactions) -> pd.DataFrame:
    """The rows of a feedback CSV, checked: required columns, ids typed like ``log``'s, finite ratings."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable CSV ({err})") from err
    missing = [c for c in ("user", "item") if c not in table.columns]
    if missing:
        optional = ",".join(COLUMNS[2:])
        raise ValueError(f"{path}: missing column(s) {missing}; a feedback CSV needs user,item (optional {optional})")
    unknown = [c for c in table.columns if c not in COLUMNS]
    if unknown:
        raise ValueError(f"{path}: unknown column(s) {unknown}; known: {list(COLUMNS)}")
    if table.empty:
        raise ValueError(f"{path}: no feedback rows")
    for column in ("user", "item"):
        empty = table[column].str.strip() == ""
        if empty.any():
            raise ValueError(f"{path}:{int(np.flatnonzero(empty)[0]) + 2}: empty {column}")
    out = pd.DataFrame({"user": _typed(table["user"], log.user, "user", path)})
    out["item"] = _typed(table["item"], log.item, "item", path)
    for column, default in (("rating", "1"), ("timestamp", "")):
        raw = table[column] if column in table.columns else pd.Series([default] * len(table))
        parsed = pd.to_numeric(raw.replace("", np.nan), errors="coerce")
        bad = raw.ne("") & (parsed.isna() | ~np.isfinite(parsed))
        if bad.any():
            line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
            raise ValueError(f"{path}:{line}: {column} {raw.iloc[line - 2]!r} is not a finite number")
        out[column] = parsed.to_numpy()
    for column in ("title", "genres"):
        out[column] = table[column].to_numpy() if column in table.columns else ""
    return out


def read_transcript_feedback(path: Path, log: Interactions) -> pd.DataFrame:
    """Likes and dislikes of a chat transcript as rows of one new user (``chat-<file stem>``)."""
    rows = []
    for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            record = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{line}: not JSON ({err.msg})") from None
        if record.get("feedback") in ("liked", "disliked"):
            if "item" not in record:
                raise ValueError(f"{path}:{line}: a feedback record without its item")
            rating = LIKED_RATING if record["feedback"] == "liked" else DISLIKED_RATING
            rows.append({"item": str(record["item"]), "rating": rating, "title": "", "genres": ""})
    if not rows:
        raise ValueError(f"{path}: the transcript holds no /like or /dislike")
    table = pd.DataFrame(rows)
    integer = np.issubdtype(log.user.dtype, np.integer)
    user = int(log.user.max()) + 1 if integer else f"chat-{path.stem}"  # integer ids: the next free one
    table.insert(0, "user", user)
    table["item"] = _typed(table["item"], log.item, "item", path)
    table["timestamp"] = np.nan
    return table


def read_feedback(path: str | Path, log: Interactions) -> pd.DataFrame:
    """A feedback file (CSV or chat transcript JSONL) as checked rows ``user,item,rating,timestamp,title,genres``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"feedback file {path} does not exist")
    reader = read_transcript_feedback if path.suffix == ".jsonl" else read_csv_feedback
    return reader(path, log)


def with_feedback(log: Interactions, path: str | Path) -> Interactions:
    """``log`` plus the feedback rows; new items get a side-table row from the feedback's title/genres.

    Rows without a timestamp come after the user's latest interaction, in file order.
    """
    rows = read_feedback(path, log)
    latest = pd.Series(log.timestamp, index=log.user).groupby(level=0).max()
    times = rows["timestamp"].to_numpy(dtype=float)
    start = rows["user"].map(latest).fillna(int(log.timestamp.max())).to_numpy(dtype=float)
    order = rows.groupby("user").cumcount().to_numpy() + 1
    times = np.where(np.isnan(times), start + order, times).astype(np.int64)
    items = log.items
    new = rows.loc[~rows["item"].isin(log.item)].drop_duplicates("item")
    if items is not None and len(new):
        side = pd.DataFrame(index=pd.Index(new["item"].to_numpy(), name=items.index.name), columns=items.columns)
        if "title" in side.columns:
            side["title"] = [t or f"item {i}" for t, i in zip(new["title"], new["item"], strict=True)]
        for column in ("genre", "genres"):
            if column in side.columns:
                side[column] = new["genres"].to_numpy()
        items = pd.concat([items, side])
    users = log.users
    if users is not None:
        fresh = pd.Index(np.setdiff1d(rows["user"].unique(), log.user), name=users.index.name)
        users = pd.concat([users, pd.DataFrame(index=fresh, columns=users.columns)]) if len(fresh) else users
    return Interactions(
        user=np.concatenate([log.user, rows["user"].to_numpy(dtype=log.user.dtype)]),
        item=np.concatenate([log.item, rows["item"].to_numpy(dtype=log.item.dtype)]),
        rating=np.concatenate([log.rating, rows["rating"].to_numpy(dtype=np.float32)]),
        timestamp=np.concatenate([log.timestamp, times]),
        items=items,
        users=users,
        name=log.name,
    )


def warm_start(module: torch.nn.Module, parent: Path, parent_data: Any, data: Any) -> list[str]:
    """Copy the parent checkpoint's weights into ``module``: id tables row by row through the raw ids.

    A tensor whose first dimension is the parent's ``n_items`` (``n_users``) and the new
    ``n_items`` (``n_users``) is an item (user) table; other tensors are copied when their shapes
    match. Returns one line per kind of copy for the run record.
    """
    old = torch.load(parent, map_location="cpu", weights_only=True)["state_dict"]
    state = module.state_dict()
    maps = {}
    for kind in ("items", "users"):
        before, after = getattr(parent_data.log_, kind), getattr(data.log_, kind)
        maps[kind] = (before.size, after.size, torch.as_tensor(after.encode(before.raw)))
    copied, remapped, kept = 0, [], []
    for key, value in state.items():
        if key not in old:
            kept.append(key)
            continue
        source = old[key]
        sizes = (source.shape[:1], value.shape[:1])
        table = next((k for k, (n0, n1, _) in maps.items() if sizes == ((n0,), (n1,))), None)
        if source.shape == value.shape and (table is None or maps[table][0] == maps[table][1]):
            state[key] = source
            copied += 1
        elif table is not None and source.shape[1:] == value.shape[1:]:
            rows = maps[table][2]
            merged = value.clone()
            merged[rows] = source[1:]
            merged[0] = source[0]
            state[key] = merged
            remapped.append(f"{key} ({table})")
        else:
            kept.append(key)
    module.load_state_dict(state)
    lines = [f"warm start from {parent}: {copied} tensors copied, {len(remapped)} id tables grown row by row"]
    if kept:
        lines.append(f"left at initialisation (new or reshaped): {kept}")
    return lines


def file_digest(path: str | Path) -> str:
    """The sha256 of a file's bytes (recorded with an update run)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def parent_weights(module: torch.nn.Module, cfg: dict[str, Any], data: Any) -> list[str]:
    """Warm-start ``module`` from ``cfg['update']['parent']`` (its best checkpoint, its own data's ids)."""
    from recframe.training.engine import build_data, resolve_checkpoint
    from recframe.training.fitting import saved_config

    parent = Path(cfg["update"]["parent"])
    _, parent_cfg = saved_config(parent)
    return warm_start(module, resolve_checkpoint(str(parent)), build_data(parent_cfg), data)


def held_out_metrics(module: Any, data: Any, users: np.ndarray, ks: tuple[int, ...], new_items: np.ndarray) -> dict:
    """HR/NDCG/recall@k over the test events of ``users`` (dense ids); ``new_items`` (dense) at -inf if given."""
    from recframe.metrics import target_ranks
    from recframe.metrics.functional import ranking_metrics

    module.eval()
    data.setup("test")
    wanted = torch.as_tensor(users)
    kept = []
    with torch.no_grad():
        for batch in data.test_dataloader():
            scores = module.scores(batch)
            if len(new_items):
                scores[:, torch.as_tensor(new_items)] = float("-inf")
            ranks = target_ranks(scores, batch["targets"], max_rank=max(ks))
            kept.append(ranks[torch.isin(batch["user"], wanted)])
    ranks = torch.cat(kept) if kept else torch.zeros(0, 1, dtype=torch.long)
    if not len(ranks):
        raise ValueError("no feedback user has a held-out test event: give each at least 3 interactions")
    values = ranking_metrics(ranks, ks)
    out = {"events": len(ranks)}
    for name in ("hr", "ndcg", "recall"):
        for j, k in enumerate(ks):
            out[f"{name}@{k}"] = float(values[name][:, j].mean())
    return out


def update(
    target: str, feedback: str, *, epochs: int = 3, overrides: list[str] = (), echo=print
) -> tuple[Any, dict[str, Any]]:
    """Fine-tune run ``target`` on ``feedback`` as a new run; returns it and the before/after record."""
    from recframe.data import DATASETS
    from recframe.experiments.config import ConfigError
    from recframe.training.engine import build_data, build_module, resolve_checkpoint
    from recframe.training.fitting import fit, saved_config

    if epochs < 1:
        raise ValueError(f"--epochs must be >= 1, got {epochs}")
    parent = Path(target).resolve()
    if not parent.is_dir():
        raise FileNotFoundError(f"update needs a run directory, got {target!r}")
    experiment, parent_cfg = saved_config(parent)
    checkpoint = resolve_checkpoint(str(parent))
    settings = dict(parent_cfg["dataset"])
    log = DATASETS.get(settings.pop("name"))(**settings)
    if not isinstance(log, Interactions):
        raise ConfigError(f"update folds interactions into an interaction dataset; {experiment} is not one")
    rows = read_feedback(feedback, log)  # a malformed file fails here, before anything is written
    base = {**parent_cfg, "update": {"parent": None, "feedback": None}}
    run, _ = fit(
        experiment,
        [
            f"update.parent={parent}",
            f"update.feedback={Path(feedback).resolve()}",
            f"trainer.max_epochs={epochs}",
            *overrides,
        ],
        base_config=base,
        echo=echo,
    )
    cfg = saved_config(run.dir)[1]
    data = build_data(cfg)
    users = data.log_.users.encode(np.unique(rows["user"].to_numpy(dtype=log.user.dtype)))
    fresh = np.setdiff1d(rows["item"].to_numpy(dtype=log.item.dtype), log.item)
    new_items = data.log_.items.encode(fresh) if len(fresh) else np.zeros(0, dtype=np.int64)
    ks = (10,) if not cfg["metrics"].get("ks") else tuple(cfg["metrics"]["ks"])
    before = build_module(cfg, data, experiment)
    warm_start(before, checkpoint, build_data(parent_cfg), data)
    after = build_module(cfg, data, experiment)
    best = run.dir / (run.record().get("best_checkpoint") or "checkpoints/best.ckpt")
    after.load_state_dict(torch.load(best, map_location="cpu", weights_only=True)["state_dict"])
    record = {
        "parent": str(parent),
        "feedback": str(Path(feedback).resolve()),
        "feedback_sha256": file_digest(feedback),
        "rows": len(rows),
        "new_users": len(np.setdiff1d(rows["user"].to_numpy(dtype=log.user.dtype), log.user)),
        "new_items": len(fresh),
        "before": held_out_metrics(before, data, users, ks, new_items),
        "after": held_out_metrics(after, data, users, ks, np.zeros(0, dtype=np.int64)),
    }
    run.update(update=record)
    run.write_metrics(
        {f"feedback/{when}/{k}": v for when in ("before", "after") for k, v in record[when].items() if k != "events"}
    )
    return run, record
