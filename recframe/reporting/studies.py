"""Study pages (docs/text-results/, docs/conversation-results/): tables and bar charts from published runs.

A *set* is a page of studies; a study is a table of experiments × metrics, mean ± std over seeds, and a
bar chart of its first metric at cut-off 10 (or its first metric). :func:`publish` copies each finished
run's small records (``config.yaml``, ``run.json``, ``metrics.json``) of the set's experiments to
``<out>/runs/<experiment>/<run id>/``; :func:`render` writes ``results.md``, ``index.jsonl`` and the
charts from those records only, so the committed pages can be rebuilt and checked
(``docs/gen_results.py --check``). Runs of one experiment with different settings (TALLRec's sample
sizes) are separate rows, told apart by the overrides that differ. Runs started from a tree with
uncommitted changes are not published (a headline needs a commit that reproduces it) unless asked.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
from pathlib import Path

from omegaconf import OmegaConf

from recframe.experiments import results
from recframe.experiments.config import reference_sections
from recframe.reporting.report import Group, _reference, metric_title, plot, slug

STUDIES = {
    "Text and attribute fusion vs ID-only (full ranking, LOO)": (
        ["ml-latest-small/sasrec", "ml-latest-small/sasrec-text", "ml-latest-small/lm", "beauty/sasrec-ce",
         "beauty/sasrec-ce-attributes", "sports/sasrec-ce", "sports/sasrec-ce-attributes"],
        ["test/recall@10", "test/ndcg@10", "test/mrr@10"],
    ),
    "Cold-item split: cold and warm targets apart": (
        ["ml-latest-small/cold-items", "ml-latest-small/cold-items-zeroshot", "ml-latest-small/cold-items-pop",
         "beauty/cold-items"],
        ["test/cold/hr@10", "test/cold/ndcg@10", "test/warm/hr@10", "test/warm/ndcg@10", "test/cold/users",
         "test/cold_users/ndcg@10"],
    ),
    "TALLRec's like task on ML-100K (AUC)": (
        ["ml-100k/tallrec", "ml-100k/tallrec-share", "ml-100k/tallrec-sasrec", "ml-100k/tallrec-zeroshot"],
        ["test/auc", "test/accuracy"],
    ),
    "Rating classification on ML-100K (fold 0 of the random 5-fold split)": (
        ["ml-100k/majority-rating", "ml-100k/mf-rating", "ml-100k/gpt2-rating-text"],
        ["test/accuracy", "test/macro_f1", "test/rmse", "test/mae"],
    ),
}  # fmt: skip
DEDUP = ["test/dedup/recall@1", "test/dedup/recall@10", "test/dedup/recall@50", "test/dedup/ndcg@10"]
CONVERSATION = {
    "ReDial turns (Kostric & Balog's construction): dedup R@1 / R@10 / R@50 / NDCG@10, all R@10, coverage@10": (
        ["redial/pop", "redial/repeat", "redial/bm25", "redial/cooccurrence", "redial/textmatch", "redial/dialogue",
         "redial/dialogue-sentiment", "redial/dialogue-movielens", "redial/dialogue-seeker-movielens",
         "redial/dialogue-transfer"],
        [*DEDUP, "test/all/recall@1", "test/all/recall@10", "test/all/recall@50", "test/dedup/exposure/coverage@10"],
    ),
    "ReDial learning curve: dedup R@1 / R@10 / R@50 / NDCG@10 by share of the 900 training dialogues": (
        ["redial/learning-curve"],
        [*DEDUP, "test/all/recall@10"],
    ),
    "ReDial turns as iEvaLM cut them (redial_ievalm)": (
        ["redial-ievalm/pop", "redial-ievalm/dialogue"],
        [*DEDUP, "test/all/recall@1", "test/all/recall@10", "test/all/recall@50"],
    ),
    "INSPIRED (UniCRS's test dialogues; trained on instructLF's pairs)": (
        ["inspired/pop", "inspired/repeat", "inspired/cooccurrence", "inspired/dialogue", "inspired/dialogue-repeats"],
        [*DEDUP, "test/all/recall@1", "test/all/recall@10", "test/all/recall@50"],
    ),
    "He et al.'s test turns (CIKM 2023), read as text by `evaluate-he2023`: ReDial all R@1 / R@10 / R@50, "
    "dedup R@10; INSPIRED all R@1 / R@10 / R@50, dedup R@10": (
        ["redial/dialogue-seeker-movielens", "redial/dialogue-transfer", "inspired/dialogue",
         "inspired/dialogue-repeats"],
        [*(f"he2023/redial/all/recall@{k}" for k in (1, 10, 50)), "he2023/redial/dedup/recall@10",
         *(f"he2023/inspired/all/recall@{k}" for k in (1, 10, 50)), "he2023/inspired/dedup/recall@10"],
    ),
    "OpenDialKG (iEvaLM's movie and book turns)": (
        ["opendialkg/pop", "opendialkg/repeat", "opendialkg/bm25", "opendialkg/cooccurrence", "opendialkg/dialogue",
         "opendialkg/dialogue-repeats"],
        [*DEDUP, "test/all/recall@1", "test/all/recall@10", "test/all/recall@50"],
    ),
}  # fmt: skip
PUBLISHED = {  # published rows printed under a set's tables (source: shared/REFERENCE.md §5)
    "conversation": [
        "## Published rows to compare with (shared/REFERENCE.md §5)",
        "",
        "ReDial, Kostric & Balog (SIGIR 2026), per-turn recall R@1 / R@10 / R@50 on their full (3,617 turns) and",
        "dedup (3,372) test sets: compare with our `unit=turn` rows; they train on the full 10,006 dialogues.",
        "",
        "| model | full | dedup |",
        "|---|---|---|",
        "| naive: repeat the mentioned items | 0.043 / 0.090 / 0.090 | 0 / 0 / 0 |",
        "| KBRD | 0.033 / 0.177 / 0.332 | 0.017 / 0.148 / 0.300 |",
        "| KGSF | 0.032 / 0.177 / 0.369 | 0.016 / 0.147 / 0.327 |",
        "| UniCRS | 0.049 / 0.213 / 0.421 | 0.024 / 0.180 / 0.335 |",
        "| ECR | 0.049 / 0.220 / 0.428 | 0.026 / 0.181 / 0.337 |",
        "| MESE | 0.032 / 0.178 / 0.381 | 0.025 / 0.159 / 0.361 |",
        "| ReFICR (before re-ranking) | 0.049 / 0.270 / 0.507 | 0.018 / 0.213 / 0.465 |",
        "",
        "iEvaLM (Wang et al., EMNLP 2023), offline R@1 / R@10 / R@50 on its processed test turns, all targets:",
        "ReDial KBRD .028 / .169 / .366, UniCRS .050 / .215 / .413, ChatGPT .037 / .174 / –; OpenDialKG KBRD",
        ".231 / .423 / .492, UniCRS .308 / .513 / .574, ChatGPT .310 / .539 / –. He et al. (CIKM 2023), zero-shot",
        "GPT-4 on their ReDial test turns: R@10 0.194 (all targets), 0.176 (mentioned items removed); on their",
        "INSPIRED test turns (228 turns of the same 99 dialogues, 1,123 items): GPT-4 0.091 / 0.194, GPT-3.5",
        "0.051 / 0.150 (R@1 / R@10, all targets).",
        "",
    ],
}
SETS = {  # name -> (page title, studies, default output folder)
    "text": ("Text-layer results", STUDIES, Path("docs/text-results")),
    "conversation": ("Conversational results", CONVERSATION, Path("docs/conversation-results")),
}
RECORDS = ("config.yaml", "run.json", "metrics.json")
HE2023_FILES = tuple(f"he2023-{name}-{variant}.json" for name in ("redial", "inspired") for variant in ("all", "dedup"))
OPTIONAL_RECORDS = ("conversation.json", *HE2023_FILES)
# settings that make separate rows of one experiment
VARYING = (
    "data.like_train_samples",
    "backbone.items.id_dropout",
    "data.split_args.val_ratio",
    "module.lr",
    "data.unit",
    "data.train_share",
    "dataset.extra_train",
    "data.train_repeats",
)


def settings(run_dir: Path) -> dict[str, str]:
    """The ``VARYING`` values of a run (keys it does not set are absent)."""
    cfg = OmegaConf.load(run_dir / "config.yaml")
    values = {key.split(".")[-1]: OmegaConf.select(cfg, key) for key in VARYING}
    return {k: str(v) for k, v in values.items() if v is not None}


def label_settings(records: list[dict]) -> None:
    """``record["setting"]``: the settings that differ between runs of the same experiment."""
    for experiment in {r["experiment"] for r in records}:
        group = [r for r in records if r["experiment"] == experiment]
        keys = sorted({k for r in group for k in r["settings"]})
        differ = [k for k in keys if len({r["settings"].get(k) for r in group}) > 1]
        for r in group:
            r["setting"] = ", ".join(f"{k}={r['settings'].get(k, '–')}" for k in differ)


def natural(setting: str) -> str:
    """Sort key of a setting label: numbers compare by value (``train_share=0.25`` before ``0.5``)."""
    return re.sub(r"\d+(\.\d+)?", lambda m: f"{float(m.group()):016.6f}", setting)


def fmt(values: list[float]) -> str:
    """A table cell: ``mean ± std`` over seeds, the mean alone for one run, a whole number for counts."""
    if not values:
        return "–"
    if all(float(v).is_integer() for v in values) and max(values) > 1:
        return f"{statistics.fmean(values):.0f}"
    mean = statistics.fmean(values)
    return f"{mean:.4f} ± {statistics.stdev(values):.4f}" if len(values) > 1 else f"{mean:.4f}"


def chart_name(title: str) -> str:
    """The file name of a study's chart."""
    return f"{slug(title)[:48].strip('-')}.png"


def publish(roots: list[Path], set_name: str, out: Path | None = None, include_dirty: bool = False) -> Path:
    """Copy the records of the set's experiments found under ``roots`` to ``out/runs`` (replaced); return ``out``."""
    _, studies, default_out = SETS[set_name]
    out = out or default_out
    records = [r for root in roots for p in sorted(root.rglob("run.json")) if (r := results.summary(p.parent))]
    wanted = {e for experiments, _ in studies.values() for e in experiments}
    chosen = [r for r in records if r["experiment"] in wanted and (include_dirty or r["git_dirty"] is False)]
    shutil.rmtree(out / "runs", ignore_errors=True)
    for r in chosen:
        target = out / "runs" / r["experiment"] / r["id"]
        target.mkdir(parents=True)
        for name in (*RECORDS, *OPTIONAL_RECORDS):
            if name in RECORDS or (Path(r["path"]) / name).is_file():
                shutil.copy2(Path(r["path"]) / name, target / name)
    return out


def render(set_name: str, published: Path | None = None, out: Path | None = None) -> list[Path]:
    """Write ``results.md``, ``index.jsonl`` and one chart per study from the runs under ``published/runs``.

    ``published`` defaults to the set's docs folder, ``out`` to ``published``. Returns the paths written.
    """
    page, studies, default_out = SETS[set_name]
    published = published or default_out
    out = out or published
    out.mkdir(parents=True, exist_ok=True)
    chosen = [r for p in sorted((published / "runs").rglob("run.json")) if (r := results.summary(p.parent))]
    for r in chosen:
        r["settings"] = settings(Path(r["path"]))
    label_settings(chosen)
    references = reference_sections({r["experiment"] for r in chosen})
    lines = [
        f"# {page}",
        "",
        "Generated by `python docs/gen_results.py` from the run records under `runs/` (each has its config, git",
        "commit, seed and wall time), published there by `python scripts/publish_text_results.py --runs <root>",
        f"--set {set_name}`; mean ± std over seeds. One CPU thread on the 2-vCPU CI machine kind, with other",
        "jobs beside them.",
        "",
    ]
    written = []
    for title, (experiments, metrics) in studies.items():
        names = " | ".join(m.removeprefix("test/") for m in metrics)
        lines += [f"## {title}", "", f"| experiment | setting | seeds | {names} | wall / run | commit |"]
        lines.append("|---" * (len(metrics) + 5) + "|")
        groups = []
        for experiment in experiments:
            runs = [r for r in chosen if r["experiment"] == experiment and any(m in r["metrics"] for m in metrics)]
            for value in sorted({r["setting"] for r in runs}, key=natural):
                group = [r for r in runs if r["setting"] == value]
                reference = _reference(experiment, references.get(experiment))
                name = f"{experiment} ({value})" if value else experiment
                groups.append(Group(str(group[0].get("dataset")), experiment, None, group, reference, name))
                cells = [fmt([r["metrics"][m] for r in group if m in r["metrics"]]) for m in metrics]
                wall = statistics.median(r["wall_seconds"] or 0 for r in group)
                commits = sorted({(r["git_commit"] or "?")[:7] + ("+dirty" if r["git_dirty"] else "") for r in group})
                row = [f"`{experiment}`", value or "–", str(len(group)), *cells, f"{wall / 60:.1f} min"]
                lines.append("| " + " | ".join([*row, ", ".join(commits)]) + " |")
        lines.append("")
        charted = next((m for m in metrics if m.endswith("@10")), metrics[0])  # the headline cut-off
        chart = out / chart_name(title)
        if plot(groups, charted, f"{title.split(' (')[0].split(':')[0]}: {metric_title(charted)}", chart):
            written.append(chart)
            lines += [f"![{title}: {metric_title(charted)}]({chart.name})", ""]
    lines += PUBLISHED.get(set_name, [])
    (out / "results.md").write_text("\n".join(lines) + "\n")
    (out / "index.jsonl").write_text("".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in chosen))
    return [out / "results.md", out / "index.jsonl", *written]
