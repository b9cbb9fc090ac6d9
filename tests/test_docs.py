"""The documentation site: it builds offline with warnings as errors, loads nothing remote, and the
generated CLI page matches the parser; CITATION.cff validates."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REMOTE_ASSET = re.compile(r"<(?:script|img|link|iframe|source)\b[^>]*?(?:src|href)=\"(https?:)?//[^\"]+\"", re.I)


def test_cli_reference_matches_the_parser():
    command = [sys.executable, str(ROOT / "docs" / "gen_cli.py"), "--check"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_models_page_matches_the_registries():
    command = [sys.executable, str(ROOT / "docs" / "gen_models.py"), "--check"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_datasets_page_matches_the_cards_and_records():
    command = [sys.executable, str(ROOT / "docs" / "gen_datasets.py"), "--check"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_results_pages_are_what_their_committed_records_give():
    """Every results page (leaderboards, study tables, simulation) re-renders from its records unchanged."""
    pytest.importorskip("matplotlib", reason='the plots need the report extra: pip install "recframe[report]"')
    command = [sys.executable, str(ROOT / "docs" / "gen_results.py"), "--check"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_results_check_names_a_stale_page(tmp_path):
    spec = importlib.util.spec_from_file_location("gen_results", ROOT / "docs" / "gen_results.py")
    gen_results = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_results)
    (tmp_path / "new.md").write_text("| a | 1 |\n")
    (tmp_path / "old.md").write_text("| a | 2 |\n")
    (tmp_path / "same.md").write_text("| a | 1 |\n")
    (tmp_path / "plot.png").write_bytes(b"one build")
    (tmp_path / "committed.png").write_bytes(b"another build")  # plots only need to exist
    pairs = [(tmp_path / "new.md", tmp_path / "old.md"), (tmp_path / "new.md", tmp_path / "same.md")]
    pairs += [(tmp_path / "plot.png", tmp_path / "committed.png"), (tmp_path / "new.md", tmp_path / "gone.md")]
    assert gen_results.stale(pairs) == [f"{tmp_path / 'old.md'} is out of date", f"{tmp_path / 'gone.md'} is missing"]


def test_every_registered_dataset_has_a_card_and_cards_name_real_loaders():
    from recframe.data import DATASETS
    from recframe.data.cards import CARDS, card

    assert sorted(c.loader for c in CARDS) == sorted(DATASETS.names())
    for c in CARDS:
        assert c.terms and c.source and c.title
        for files in c.files().values():  # each lists at least one required file in a named folder
            assert files.folder and any(not f.optional for f in files.files)
    with pytest.raises(KeyError, match=r"no dataset card for 'nope'; known: .*movielens"):
        card("nope")


def test_remote_asset_pattern_catches_what_it_should():
    assert REMOTE_ASSET.search('<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=x">')
    assert REMOTE_ASSET.search('<script src="//cdn.example.org/x.js"></script>')
    assert not REMOTE_ASSET.search('<a href="https://github.com/x">source</a>')  # a plain link loads nothing
    assert not REMOTE_ASSET.search('<script src="_static/x.js"></script>')


DOCS_EXTRA = 'needs the docs extra: pip install "recframe[docs]"'


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("sphinx") is None, reason=DOCS_EXTRA)
def test_site_builds_with_warnings_as_errors_and_loads_nothing_remote(tmp_path):
    out = tmp_path / "site"
    shutil.rmtree(ROOT / "docs" / "_api", ignore_errors=True)  # stale stubs of renamed modules
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-E", "-q", "-c", "docs", ".", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    pages = list(out.rglob("*.html"))
    assert (out / "docs" / "index.html").is_file() and len(pages) > 50
    remote = [(p.relative_to(out), m.group(0)[:120]) for p in pages for m in REMOTE_ASSET.finditer(p.read_text())]
    assert remote == []
    api = (out / "docs" / "_api" / "recframe.conversation.session.html").read_text()
    assert "Conversation" in api and "unfaithful" in api  # the API pages carry the docstrings


@pytest.mark.skipif(importlib.util.find_spec("cffconvert") is None, reason=DOCS_EXTRA)
def test_citation_file_validates():
    exe = shutil.which("cffconvert") or str(Path(sys.executable).parent / "cffconvert")
    done = subprocess.run([exe, "--validate", "-i", str(ROOT / "CITATION.cff")], capture_output=True, text=True)
    assert done.returncode == 0 and "valid" in done.stdout, done.stdout + done.stderr
