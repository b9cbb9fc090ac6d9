"""Backbones registered by name; the name is the file name and ``backbone.name`` in YAML.

Every backbone follows :class:`~recframe.backbones.contract.Backbone` and is built as
``BACKBONES.get(name)(spec, **kwargs)``.
"""

from __future__ import annotations

from recframe.backbones.contract import Backbone
from recframe.backbones.gpt2 import GPT2
from recframe.backbones.lm import LM
from recframe.backbones.majority import Majority
from recframe.backbones.mf import MF
from recframe.backbones.pop import Pop
from recframe.backbones.preference import Preference
from recframe.backbones.rnn import RNN
from recframe.backbones.sasrec import SASRec
from recframe.backbones.text_rating import TextRating
from recframe.backbones.zeroshot import ZeroShot
from recframe.conversation.backbones.bm25 import BM25
from recframe.conversation.backbones.cooccurrence import Cooccurrence
from recframe.conversation.backbones.dialogue import Dialogue
from recframe.conversation.backbones.repeat import Repeat
from recframe.conversation.backbones.textmatch import TextMatch
from recframe.registry import Registry

BACKBONES: Registry[type] = Registry("backbone")
BACKBONES.register("mf")(MF)
BACKBONES.register("pop")(Pop)
BACKBONES.register("rnn")(RNN)
BACKBONES.register("sasrec")(SASRec)
BACKBONES.register("gpt2")(GPT2)
BACKBONES.register("zeroshot")(ZeroShot)
BACKBONES.register("lm")(LM)
BACKBONES.register("preference")(Preference)
BACKBONES.register("majority")(Majority)
BACKBONES.register("text_rating")(TextRating)
# conversational backbones (they read the dialogue of each event: recframe.conversation)
BACKBONES.register("repeat")(Repeat)
BACKBONES.register("bm25")(BM25)
BACKBONES.register("cooccurrence")(Cooccurrence)
BACKBONES.register("textmatch")(TextMatch)
BACKBONES.register("dialogue")(Dialogue)

__all__ = ["BACKBONES", "Backbone"]
