"""Conversational recommendation: dialogues, the turn-level protocol, and the models that read them.

``recframe.data`` registers the conversational dataset loaders; it is imported first so that
importing a submodule here directly (``recframe.conversation.redial``) sees a complete registry.
"""

from __future__ import annotations

import recframe.data  # noqa: F401  (import order: the data registry before its conversational loaders)
