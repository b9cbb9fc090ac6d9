"""Dataset cards: where each registered dataset comes from, its terms, and the files recframe reads.

One card per name in the dataset registry, ``recframe.data.DATASETS`` (a test checks that).
``docs/gen_datasets.py`` renders them, with the files' URLs and checksums from the loaders' own
:class:`~recframe.data.download.DatasetFiles` and the fingerprints the experiments check and the
recorded runs saw, into ``docs/datasets.md``. The terms are summaries of each
source's own statement (quoted in the ``PROVENANCE.md`` of the local copies); read the source before
redistributing anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from recframe.data.download import DatasetFiles


@dataclass(frozen=True)
class DatasetCard:
    """What a user needs to know before using one dataset family.

    Attributes:
        loader: the registry name (``dataset.name``).
        title: the dataset's common name.
        cite: the paper to cite.
        source: the official page.
        terms: license or terms of use, as the source states them.
        files: returns the file sets the loader reads (for ``variant`` config values, one per variant).
        note: protocol remarks (what is built from the files).
    """

    loader: str
    title: str
    cite: str
    source: str
    terms: str
    files: Callable[[], dict[str, DatasetFiles]] = field(default=lambda: {})
    note: str = ""


def _movielens() -> dict[str, DatasetFiles]:
    from recframe.data.movielens import VARIANTS, movielens_files

    return {f"variant={v}": movielens_files(v) for v in VARIANTS}


def _s3rec() -> dict[str, DatasetFiles]:
    from recframe.data.s3rec import DOWNLOADS, s3rec_files

    return {f"file={name}": s3rec_files(name) for name in DOWNLOADS}


def _redial_files() -> dict[str, DatasetFiles]:
    from recframe.conversation.redial import IEVALM_FILES, REDIAL_FILES

    return {"dialogues": REDIAL_FILES, "training dialogues and metadata (iEvaLM)": IEVALM_FILES}


def _redial() -> dict[str, DatasetFiles]:
    from recframe.conversation.transfer import IARD_FILES

    return {**_redial_files(), "extra training dialogues (IARD, `dataset.extra_train`)": IARD_FILES}


def _redial_ievalm() -> dict[str, DatasetFiles]:
    from recframe.conversation.ievalm import REDIAL_EVAL_FILES

    return {"turns": REDIAL_EVAL_FILES, **_redial_files()}


def _opendialkg() -> dict[str, DatasetFiles]:
    from recframe.conversation.ievalm import OPENDIALKG_FILES

    return {"dialogues": OPENDIALKG_FILES}


def _inspired() -> dict[str, DatasetFiles]:
    from recframe.conversation.inspired import INSTRUCTLF_FILES, UNICRS_FILES

    return {"dialogues (UniCRS)": UNICRS_FILES, "training pairs (InstructLF)": INSTRUCTLF_FILES}


CC_BY = "CC BY 4.0 (the ReDial site and download page); cite Li et al. 2018"
CARDS: tuple[DatasetCard, ...] = (
    DatasetCard(
        "synthetic",
        "Synthetic interactions",
        "—",
        "generated in code (recframe.data.synthetic)",
        "none: generated from a seed, no download",
        note="users with gender/group attributes and items with genres, so every metric family has data",
    ),
    DatasetCard(
        "movielens",
        "MovieLens 100K, 1M, latest-small",
        "Harper & Konstan, ACM TiiS 2015",
        "https://grouplens.org/datasets/movielens/",
        "GroupLens usage license: research use; 100K and 1M may not be redistributed without permission, "
        "latest-small may be redistributed under the same conditions; cite Harper & Konstan",
        _movielens,
        "ratings with user demographics (100K, 1M) and titles/genres; `variant` picks the release",
    ),
    DatasetCard(
        "s3rec",
        "Amazon Beauty, Sports_and_Outdoors and LastFM as processed by S3-Rec",
        "Zhou et al., CIKM 2020 (S3-Rec); Amazon reviews: McAuley et al., SIGIR 2015; He & McAuley, WWW 2016",
        "https://github.com/RUCAIBox/CIKM2020-S3Rec",
        "no license stated by the repository (it asks for a citation); the Amazon review data are "
        "distributed by McAuley et al. for research use; LastFM (HetRec 2011): commercial use needs Last.fm's consent",
        _s3rec,
        "5-core sequences ordered by time; `*_item2attributes.json` holds brand/category attribute ids",
    ),
    DatasetCard(
        "csv",
        "Any interaction table (CSV, TSV, Parquet)",
        "—",
        "your own file (`dataset.path`)",
        "yours",
        note="columns named by `dataset.user`, `dataset.item`, `dataset.rating`, `dataset.timestamp`; "
        "a malformed row is an error naming file:line",
    ),
    DatasetCard(
        "redial",
        "ReDial (REcommendations through DIALog)",
        "Li et al., NeurIPS 2018",
        "https://redialdata.github.io/website/",
        CC_BY + "; iEvaLM's processed files: MIT (Wang et al., EMNLP 2023); IARD (Cai & Chen, UMAP 2020): "
        "research use, non-commercial",
        _redial,
        "official test split (1,342 dialogues) with the seekers' liked/seen forms; training on iEvaLM's 1,000 "
        "processed training-split dialogues (`dataset.train: official` reads the full release); "
        "`dataset.extra_train` adds IARD, OpenDialKG and INSPIRED movie dialogues to training only",
    ),
    DatasetCard(
        "redial_ievalm",
        "ReDial as processed by iEvaLM (turn files)",
        "Wang et al., EMNLP 2023 (iEvaLM)",
        "https://github.com/RUCAIBox/iEvaLM-CRS",
        "MIT (the repository); the dialogues: " + CC_BY,
        _redial_ievalm,
        "iEvaLM's evaluation turns, joined to ReDial's catalogue and metadata",
    ),
    DatasetCard(
        "opendialkg",
        "OpenDialKG as processed by iEvaLM",
        "Moon et al., ACL 2019; Wang et al., EMNLP 2023 (iEvaLM)",
        "https://github.com/facebookresearch/opendialkg",
        "CC BY-NC 4.0 (OpenDialKG: non-commercial); iEvaLM's processing: MIT",
        _opendialkg,
        "complete train/valid/test splits; items carry genre, actor, director and writer",
    ),
    DatasetCard(
        "inspired",
        "INSPIRED",
        "Hayati et al., EMNLP 2020",
        "https://github.com/sweetpeach/Inspired",
        "no license stated (research use with citation); UniCRS's processing: MIT; InstructLF's: Apache 2.0",
        _inspired,
    ),
    DatasetCard(
        "synthetic_dialogues",
        "Synthetic dialogues",
        "—",
        "generated in code (recframe.conversation.synthetic)",
        "none: generated from a seed, no download",
        note="tiny dialogues with mentions, sentiment and targets, for tests and the docs' examples",
    ),
)


def card(loader: str) -> DatasetCard:
    """The card of ``loader``; a clear error names the known ones."""
    for found in CARDS:
        if found.loader == loader:
            return found
    raise KeyError(f"no dataset card for {loader!r}; known: {[c.loader for c in CARDS]}")
