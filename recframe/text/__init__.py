"""Language and side information for items and users: text templates, a Hugging Face text encoder
with an on-disk cache, precomputed vectors of other modalities, and the item encoder every
backbone's ``items`` key builds (see :mod:`recframe.text.items`)."""

from __future__ import annotations

from recframe.text.items import ItemEncoder, id_table, item_reports, item_table
from recframe.text.templates import render, template_fields

__all__ = ["ItemEncoder", "id_table", "item_reports", "item_table", "render", "template_fields"]
