"""Backbones that read conversations; registered in :mod:`recframe.backbones` like every other one."""

from __future__ import annotations

import warnings

# bm25 and cooccurrence keep their [I, V] / [I, I] tables as sparse CSR tensors (exact, small)
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")

# The registry imports every module of this package: load it first, so importing one of them
# directly (``import recframe.conversation.backbones.dialogue``, as autodoc does) sees no cycle.
import recframe.backbones  # noqa: E402, F401
