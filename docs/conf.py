"""Sphinx configuration of the recframe site: ``make docs`` (or ``sphinx-build -W -n -c docs . _site``).

The source directory is the repository root so that pages under ``docs/`` link the benchmark reports
in ``benchmarks/results/`` and the README with the same relative paths that work on GitHub; only
those three places are read (``include_patterns``). No network: no intersphinx, no remote assets.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

project = "recframe"
author = "the recframe developers"
copyright = "2026, the recframe developers"

root_doc = "docs/index"
include_patterns = ["docs/**", "benchmarks/results/**", "README.md"]
exclude_patterns = ["docs/_build/**", "docs/conf.py", "docs/reproductions/summary.md"]  # summary: included
templates_path = ["docs/_templates"]

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

autosummary_generate = True
autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_inherit_docstrings = False  # a LightningModule's hooks would otherwise carry Lightning's docs
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# benchmark reports and reproduction tables are linked from the pages, not listed in a toctree
suppress_warnings = ["toc.not_included"]
# Objects of the standard library and third-party packages cannot be resolved without downloading
# their inventories; every reference into recframe itself (``recframe.…``) is still checked.
EXTERNAL = (
    "Path|PathLike|Sequence|Callable|Iterable|Iterator|Mapping|Module|Tensor|Metric|Console|Table|DataFrame|ndarray"
    "|Trainer|LightningModule|LightningDataModule|DataLoader|Dataset|Generator|dtype|device"
)
nitpick_ignore_regex = [(role, rf"(?!recframe\.).*\.?({EXTERNAL})") for role in ("py:class", "py:obj")]
nitpick_ignore_regex += [
    (
        "py:class",
        r"(torch|numpy|np|pd|pandas|lightning|pl|nn|omegaconf|transformers|starlette|torchmetrics|rich|os|"
        r"pathlib|collections|typing|argparse|datetime|http|uvicorn|wandb)\..*",
    ),
    ("py:meth", r"(torch|lightning|pl)\..*"),
    ("py:class", r"ix\.Interactions"),  # an annotation written through a module alias
    ("py:class", r"recframe\.registry\.T"),  # the registry's type variable
    ("py:obj", r"recframe\.registry\.T"),
]

html_theme = "furo"
html_title = "recframe"
html_static_path: list[str] = []
