"""``python -m recframe chat TARGET``: a terminal conversation with a trained model (rich), stdin-drivable.

Free text goes to :meth:`~.Conversation.say`; commands act on the list on screen: ``/like N``,
``/dislike N``, ``/why N``, ``/reset``, ``/help``, ``/quit`` (end of input quits too). The whole
transcript (utterances, every list, feedback) is rewritten as JSONL after each turn, in the run's
``chats/`` folder unless ``--transcript`` names a file.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from recframe.conversation.session import Conversation, Recommendation
from recframe.experiments.runs import atomic_write

HELP = (
    "Tell me what you like or dislike, in your own words (titles, genres, actors, decades, 'no horror').\n"
    "Commands: /like N, /dislike N, /why N (N = position on screen), /reset, /help, /quit"
)
COMMANDS = ("/like", "/dislike", "/why", "/reset", "/help", "/quit")


def transcript_path(target: str, explicit: str | None) -> Path:
    """Where a chat is saved: ``--transcript``, else ``<run>/chats/<time>.jsonl`` beside the checkpoint's run."""
    if explicit:
        return Path(explicit)
    base = Path(target)
    run = base if base.is_dir() else base.parent.parent if base.parent.name == "checkpoints" else base.parent
    return run / "chats" / f"{dt.datetime.now():%Y%m%d-%H%M%S}.jsonl"


def show(console: Console, recs: list[Recommendation], *, reasons: bool = True) -> None:
    """The list as a table: position, title, score and (optionally) the reasons."""
    table = Table(show_header=True, header_style="bold")
    table.add_column("#", justify="right")
    table.add_column("title")
    table.add_column("score", justify="right")
    if reasons:
        table.add_column("why")
    for n, rec in enumerate(recs, 1):
        cells = [str(n), escape(rec.title), f"{rec.score:.3f}"]
        if reasons:
            cells.append(escape("; ".join(r.text for r in rec.reasons)))
        table.add_row(*cells)
    console.print(table)


def _position(argument: str, conv: Conversation) -> int:
    if not argument.strip().isdigit():
        raise ValueError(f"give the item's number on screen, e.g. /like 2 (got {argument.strip()!r})")
    position = int(argument)
    if not 1 <= position <= len(conv.last):
        raise ValueError(f"item {position} is not on screen: the list shows {len(conv.last)} items")
    return position


def handle(conv: Conversation, text: str, console: Console) -> bool:
    """One line of input; False when the chat should end."""
    command, _, argument = text.strip().partition(" ")
    if command in ("/quit", "/exit"):
        return False
    if command == "/help":
        console.print(HELP)
    elif command == "/reset":
        conv.reset()
        console.print("Starting over: everything said so far is forgotten.")
    elif command in ("/like", "/dislike", "/why"):
        try:
            position = _position(argument, conv)
        except ValueError as err:
            console.print(f"[yellow]{escape(str(err))}[/]")
            return True
        rec = conv.last[position - 1]
        if command == "/why":
            conv.why(position)
            lines = [f"- {escape(r.text)}" for r in rec.reasons] or ["- nothing specific: the model's overall profile"]
            console.print(f"[bold]{escape(rec.title)}[/] (score {rec.score:.3f}):\n" + "\n".join(lines))
        else:
            recs = (conv.like if command == "/like" else conv.dislike)(rec.item)
            console.print(f"{command[1:]}d {escape(rec.title)}.")
            show(console, recs)
    elif command.startswith("/"):
        console.print(f"[yellow]unknown command {escape(command)!s}; known: {', '.join(COMMANDS)}[/]")
    else:
        recs = conv.say(text)
        for note in conv.turn.notes:
            console.print(f"[yellow]{escape(note)}[/]")
        console.print(f"[bold green]recframe:[/] {escape(conv.turn.response)}")
        if recs:
            show(console, recs)
    return True


def chat(conv: Conversation, read: Callable[[], str], console: Console, save: Path | None = None) -> list[dict]:
    """Run the loop until ``/quit`` or end of input; returns the transcript (also saved to ``save``)."""
    console.print(HELP)
    started = dt.datetime.now().isoformat(timespec="seconds")
    for text in _lines(read):
        if not handle(conv, text, console):
            break
        if save is not None:
            save_transcript(save, conv, started=started)
    if save is not None:
        save_transcript(save, conv, started=started)
        console.print(f"transcript: {save}")
    return conv.transcript


def _lines(read: Callable[[], str]) -> Iterator[str]:
    while True:
        try:
            yield read()
        except EOFError:
            return


def save_transcript(path: Path, conv: Conversation, **header: str) -> None:
    """Rewrite ``path`` as JSONL: a header (``header`` and the model's source), then every transcript record."""
    records = [{**header, **conv.source}, *conv.transcript]
    atomic_write(path, "".join(json.dumps(r, default=str) + "\n" for r in records))
