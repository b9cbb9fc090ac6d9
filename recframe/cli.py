"""``python -m recframe <command>``: fit, validate, test, predict, evaluate-conversation, chat, reproduce, list, ...

Heavy libraries (torch, Lightning) are imported inside the commands, so ``list`` and ``--help``
answer at once.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

# Pipes and CI logs get a wide fixed width instead of rich's 80-column fallback.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

OVERRIDES_HELP = "config overrides as key=value, e.g. trainer.max_epochs=3 backbone.layers=1"


def _split_experiment(experiment: str | None, overrides: list[str]) -> tuple[str, list[str]]:
    """Allow ``fit key=value`` without an experiment name (then the default experiment runs)."""
    if experiment is None:
        return "default", overrides
    if "=" in experiment:
        return "default", [experiment, *overrides]
    return experiment, overrides


def metrics_table(metrics: dict[str, float], stage: str, title: str) -> Table:
    """Rows = metric, columns = cut-off K, for keys ``{stage}/{metric}@{k}``; plain keys (rmse) get one column."""
    rows: dict[str, dict[int | None, float]] = {}
    for key, value in metrics.items():
        if not key.startswith(f"{stage}/") or key.startswith(f"{stage}/fair/") or "=" in key:
            continue
        name, _, k = key.split("/", 1)[1].rpartition("@")
        if not name:  # no cut-off: rmse, mae
            rows.setdefault(k, {})[None] = value
        elif k.isdigit():
            rows.setdefault(name, {})[int(k)] = value
    ks = sorted({k for r in rows.values() for k in r if k is not None})
    table = Table(title=escape(title))
    table.add_column("metric")
    if any(None in r for r in rows.values()):
        table.add_column("value", justify="right")
    for k in ks:
        table.add_column(f"@{k}", justify="right")
    plain = any(None in r for r in rows.values())
    for name, values in rows.items():
        cells = ([f"{values[None]:.4f}" if None in values else ""] if plain else []) + [
            f"{values[k]:.4f}" if k in values else "" for k in ks
        ]
        table.add_row(name, *cells)
    return table


def cmd_list(args: argparse.Namespace) -> int:
    """``python -m recframe list`` (see ``--help``)."""
    from omegaconf import OmegaConf

    from recframe.experiments.config import experiments_dir, find_experiment, list_experiments, read_experiment

    table = Table(title=f"experiments in {experiments_dir()}")
    for column in ("experiment", "dataset", "backbone", "description"):
        table.add_column(column)
    for name in list_experiments():
        cfg = read_experiment(find_experiment(name))
        dataset = OmegaConf.select(cfg, "dataset.name", default="synthetic")
        variant = OmegaConf.select(cfg, "dataset.variant") or OmegaConf.select(cfg, "dataset.file")
        table.add_row(
            name,
            f"{dataset}:{variant}" if variant else str(dataset),
            str(OmegaConf.select(cfg, "backbone.name", default="sasrec")),
            str(cfg.get("description", "")),
        )
    console.print(table)
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    """``python -m recframe fit`` (see ``--help``)."""
    from recframe.training import fitting

    if args.resume and args.experiment is None:
        experiment, overrides = None, args.overrides
    else:
        experiment, overrides = _split_experiment(args.experiment, args.overrides)
    try:
        run, metrics = fitting.fit(experiment, overrides, resume=args.resume, echo=console.print)
    except fitting.Interrupted as stop:
        err_console.print(str(stop))
        return 130
    if fitting.is_ddp_worker():
        return 0
    experiment = experiment or run.record().get("experiment")
    console.print(metrics_table(metrics, "test", f"test metrics of {experiment} (best checkpoint)"))
    console.print(f"run directory: {run.dir}")
    return 0


def _cmd_evaluate(args: argparse.Namespace, stage: str) -> int:
    from recframe.training import engine

    metrics = engine.evaluate(args.target, stage, args.overrides)
    if os.environ.get("LOCAL_RANK", "0") != "0" or os.environ.get("NODE_RANK", "0") != "0":
        return 0  # a DDP rank Lightning started: the metrics are already reduced; rank 0 reports them
    console.print(metrics_table(metrics, stage, f"{stage} metrics of {args.target}"))
    if args.output:
        from recframe.experiments.runs import write_json

        write_json(Path(args.output), metrics)
        console.print(f"wrote {args.output}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """``python -m recframe predict`` (see ``--help``)."""
    from recframe.training import engine

    users = [u.strip() for u in args.users.split(",") if u.strip()] if args.users else None
    n = engine.predict(args.target, args.top_k, Path(args.output), args.overrides, users=users)
    console.print(f"wrote top-{args.top_k} items for {n:,} users to {args.output}")
    return 0


def cmd_evaluate_conversation(args: argparse.Namespace) -> int:
    """``python -m recframe evaluate-conversation`` (see ``--help``)."""
    from recframe.conversation.evaluate import HEADLINE, evaluate_conversation

    run, table = evaluate_conversation(args.target, args.overrides, echo=console.print)
    out = Table(title=escape(f"turn-level test metrics of {run.record().get('experiment')} (run {run.id})"))
    out.add_column("variant")
    for name in HEADLINE:
        out.add_column(name.removeprefix("exposure/"), justify="right")
    for variant, values in table.items():
        out.add_row(variant, *(f"{values[n]:.4f}" if n in values else "—" for n in HEADLINE))
    console.print(out)
    console.print(f"run directory: {run.dir}")
    return 0


def _conversation(args: argparse.Namespace):
    """The Conversation of ``chat`` and ``serve``: the run's model, ``--k``, and ``--llm`` when given."""
    from recframe.conversation.session import Conversation

    conv = Conversation.load(args.target, args.overrides, k=args.k)
    if args.llm:
        from recframe.conversation.llm import load_llm

        conv.llm = load_llm(args.llm)
    return conv


def cmd_chat(args: argparse.Namespace) -> int:
    """``python -m recframe chat`` (see ``--help``)."""
    from recframe.conversation.chat import chat, transcript_path

    conv = _conversation(args)
    chat(conv, lambda: console.input("[bold]you>[/] "), console, transcript_path(args.target, args.transcript))
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    """``python -m recframe update`` (see ``--help``)."""
    from recframe.training.feedback import update

    run, record = update(args.target, args.feedback, epochs=args.epochs, overrides=args.overrides, echo=console.print)
    table = Table(title=escape(f"held-out feedback ({record['before']['events']} events): before vs after the update"))
    keys = [k for k in record["after"] if k != "events"]
    table.add_column("model")
    for key in keys:
        table.add_column(key, justify="right")
    for when in ("before", "after"):
        table.add_row(when, *(f"{record[when][k]:.4f}" for k in keys))
    console.print(table)
    console.print(
        f"{record['rows']} feedback rows, {record['new_users']} new users, {record['new_items']} new items; "
        f"parent {record['parent']}"
    )
    console.print(f"run directory: {run.dir}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """``python -m recframe serve`` (see ``--help``)."""
    from recframe.conversation.chat import transcript_path
    from recframe.conversation.web import make_app

    conv = _conversation(args)
    app = make_app(conv, transcript_path(args.target, None).parent)
    import uvicorn

    console.print(f"chat page for {conv.source['experiment']}: http://{args.host}:{args.port}/")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_serve_llm(args: argparse.Namespace) -> int:
    """``python -m recframe serve-llm`` (see ``--help``)."""
    from recframe.conversation.llm import load_llm
    from recframe.conversation.llm_server import make_server

    if args.model.startswith("http"):
        raise ValueError("serve-llm runs a local model: give smollm2 or hf:<name or folder>")
    llm = load_llm(args.model, max_new_tokens=args.max_tokens)
    server = make_server(llm, args.host, args.port)
    console.print(f"serving {llm.name} at http://{args.host}:{server.server_port}/v1 (OpenAI chat completions)")
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """``python -m recframe simulate`` (see ``--help``)."""
    from rich.progress import track

    from recframe.conversation.simulator import KS, simulate_run

    if (args.mode == "free") != bool(args.llm):
        raise ValueError("--mode free needs --llm (the simulated seeker's LLM); --llm goes with --mode free only")
    summary, path = simulate_run(
        args.target,
        turns=args.turns,
        variant=args.variant,
        limit=args.limit,
        seed=args.seed,
        attribute_rules=not args.model_only,
        llm=args.llm,
        overrides=args.overrides,
        progress=lambda xs: track(xs, description="simulating", console=err_console),
    )
    rules = ", model only" if args.model_only else ""
    title = f"simulated {args.mode} mode{rules}, {args.turns} rounds, {args.variant} ({summary['experiment']})"
    table = Table(title=escape(title))
    for column in (*(f"recall@{k}" for k in KS), "success", "mean rounds", "conversations"):
        table.add_column(column, justify="right")
    table.add_row(
        *(f"{summary[f'recall@{k}']:.4f}" for k in KS),
        f"{summary['success']:.4f}",
        f"{summary['mean_rounds']:.2f}",
        f"{summary['conversations']:,}",
    )
    console.print(table)
    console.print("success by round: " + ", ".join(f"{v:.3f}" for v in summary["success_by_round"]))
    console.print(
        f"questions asked: {summary['asked']}; answer values withheld (they named a target): "
        f"{summary['withheld_values']}"
    )
    if path is not None:
        console.print(f"wrote {path}")
    return 0


def cmd_llm_recommend(args: argparse.Namespace) -> int:
    """``python -m recframe llm-recommend`` (see ``--help``)."""
    from rich.progress import track

    from recframe.conversation.llm_recommender import evaluate_llm_recommender

    summary, path = evaluate_llm_recommender(
        args.target,
        args.llm,
        variant=args.variant,
        limit=args.limit,
        seed=args.seed,
        overrides=args.overrides,
        progress=lambda xs: track(xs, description="asking the LLM", console=err_console),
    )
    console.print(
        f"LLM-as-recommender ({summary['llm']}, {summary['turns']:,} turns, {summary['targets']:,} targets): "
        f"recall@1 {summary['recall@1']:.4f}, recall@10 {summary['recall@10']:.4f}; titles matched "
        f"{summary['titles_matched']:,}, unmatched {summary['titles_unmatched']:,}"
    )
    if path is not None:
        console.print(f"wrote {path}")
    return 0


def cmd_evaluate_he2023(args: argparse.Namespace) -> int:
    """``python -m recframe evaluate-he2023`` (see ``--help``)."""
    from rich.progress import track

    from recframe.conversation.he2023 import KS, evaluate_run

    summary, path = evaluate_run(
        args.target,
        args.set,
        variant=args.variant,
        limit=args.limit,
        seed=args.seed,
        attribute_rules=not args.model_only,
        overrides=args.overrides,
        progress=lambda xs: track(xs, description="replaying turns", console=err_console),
    )
    rules = ", model only" if args.model_only else ""
    table = Table(title=escape(f"He et al. {args.set} test turns, {args.variant}{rules} ({summary['experiment']})"))
    for column in (*(f"recall@{k}" for k in KS), "events", "turns", "targets unmapped"):
        table.add_column(column, justify="right")
    table.add_row(
        *(f"{summary[f'recall@{k}']:.4f}" for k in KS),
        f"{summary['events']:,}",
        f"{summary['turns']:,}",
        f"{summary['targets_unmapped']:,}",
    )
    console.print(table)
    if path is not None:
        console.print(f"wrote {path}")
    return 0


def cmd_sentiment(args: argparse.Namespace) -> int:
    """``python -m recframe sentiment`` (see ``--help``)."""
    from recframe.conversation.sentiment import sentiment_report
    from recframe.experiments.runs import write_json

    report = sentiment_report(args.experiment, args.overrides, model=args.model)
    table = Table(title=escape(f"seeker sentiment on the {report['dataset']} test dialogues ({args.model})"))
    for column in ("model", "accuracy", "macro-F1", "F1 liked", "F1 disliked", "F1 unknown"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for row in ("classifier", "majority"):
        r = report[row]
        cells = [r["accuracy"], r["macro_f1"], r["f1/liked"], r["f1/disliked"], r["f1/unknown"]]
        table.add_row(row, *(f"{v:.4f}" for v in cells))
    console.print(table)
    console.print(f"test mentions per class: {report['test_counts']}; trained on {report['train_mentions']['n']:,}")
    if args.output:
        write_json(Path(args.output), report)
        console.print(f"wrote {args.output}")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    """``python -m recframe reproduce`` (see ``--help``)."""
    from recframe.experiments.reproduce import format_value, reproduce

    record = reproduce(args.experiment, args.seeds, args.folds, args.overrides, echo=console.print)
    ref = record["reference"]
    label = results_label(record["protocol"])
    title = f"{args.experiment} vs {ref.get('paper') or 'no published reference'} [{label}]"
    table = Table(title=escape(title))
    for column in ("metric", "published", "ours (mean ± std)", "n", "Δ%", "within tolerance"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for row in record["rows"]:
        ok = {True: "[green]yes[/]", False: "[red]no[/]", None: "—"}[row["within_tolerance"]]
        delta = "—" if row["delta_pct"] is None else f"{row['delta_pct']:+.1f}"
        ours = f"{format_value(row['mean'])} ± {format_value(row['std'])}"
        table.add_row(row["metric"], format_value(row["published"]), ours, str(row["n"]), delta, ok)
    console.print(table)
    if ref.get("tolerance") is not None and ref.get("metrics"):
        console.print(
            f"tolerance: {ref['tolerance']:.0%} of the published value; runs: {[r['id'] for r in record['runs']]}"
        )
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    """``python -m recframe runs`` (see ``--help``)."""
    from recframe.experiments import results

    root = Path(args.root)
    records = results.rescan(root) if args.rescan else results.load(root)
    records = results.filter_runs(
        records, experiment=args.experiment, dataset=args.dataset, backbone=args.backbone, since=args.since
    )
    if args.json:
        import json

        print(json.dumps(records, indent=2, default=str))
    else:
        console.print(results.runs_table(records, tuple(args.metric)))
        console.print(f"{len(records)} runs in {root / results.INDEX}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """``python -m recframe report`` (see ``--help``)."""
    from recframe.experiments import results
    from recframe.experiments.config import reference_sections
    from recframe.reporting import report

    records = results.load(Path(args.root))
    if not records:
        raise ValueError(
            f"no finished runs indexed in {Path(args.root) / results.INDEX}; run `fit` or `reproduce` first"
        )
    written = report.build_report(
        records, reference_sections({r.get("experiment") for r in records}), Path(args.output), tuple(args.metric)
    )
    from recframe.experiments.reproduce import REPRODUCTIONS
    from recframe.reporting.report_fairness import build_fairness_report

    summaries_path = Path(args.root) / REPRODUCTIONS
    if summaries_path.is_file():
        from recframe.reporting.reproductions import read_records

        written.append(report.build_reproductions(read_records(summaries_path), Path(args.output)))

    fair = [r for r in records if any(k.startswith(("test/fair/", "test/exposure/")) for k in r.get("metrics", {}))]
    if fair:
        written += build_fairness_report(fair, Path(args.output), metric=args.fairness_metric)
    for path in written:
        console.print(f"wrote {path}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """``python -m recframe compare`` (see ``--help``)."""
    from recframe.reporting import stats

    a, b = stats.load_per_user(args.run_a), stats.load_per_user(args.run_b)
    rows = [stats.paired_tests(a, b, metric) for metric in args.metric]
    console.print(stats.paired_table(rows, Path(args.run_a).name, Path(args.run_b).name))
    return 0


def results_label(card: dict) -> str:
    """A run's protocol label for the ``runs`` table, flagged when the ranking is sampled."""
    from recframe.experiments.results import protocol_label

    label = protocol_label(card)
    return f"SAMPLED: {label}" if card["ranking"] != "full" else label


def parser() -> argparse.ArgumentParser:
    """The argument parser of every command (the CLI reference page is generated from it)."""
    p = argparse.ArgumentParser(prog="python -m recframe", description="recframe: recommender-systems research runs.")
    sub = p.add_subparsers(dest="command", required=True)

    fit = sub.add_parser("fit", help="train an experiment, then validate and test its best checkpoint")
    fit.add_argument("experiment", nargs="?", help="experiment name under experiments/ (default: 'default')")
    fit.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    fit.add_argument(
        "--resume",
        metavar="RUN",
        help="continue an interrupted run (its directory) from checkpoints/last.ckpt with its saved config",
    )
    fit.set_defaults(func=cmd_fit)

    for stage, name in (("val", "validate"), ("test", "test")):
        cmd = sub.add_parser(name, help=f"evaluate a run's best checkpoint (or a .ckpt file) on the {stage} split")
        cmd.add_argument("target", help="a run directory or a checkpoint file")
        cmd.add_argument("--output", metavar="JSON", help="also write the metrics to this JSON file")
        cmd.add_argument("overrides", nargs="*", help=OVERRIDES_HELP + " (e.g. data.eval_batch_size=64)")
        cmd.set_defaults(func=lambda a, s=stage: _cmd_evaluate(a, s))

    pred = sub.add_parser("predict", help="write each test user's top-K items as CSV (user,rank,item,score)")
    pred.add_argument("target", help="a run directory or a checkpoint file")
    pred.add_argument("--top-k", type=int, default=10, help="items per user (default 10)")
    pred.add_argument("--output", default="recs.csv", help="CSV file to write (default recs.csv)")
    pred.add_argument("--users", help="comma-separated raw user ids (default: every test user)")
    pred.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    pred.set_defaults(func=cmd_predict)

    conv = sub.add_parser(
        "evaluate-conversation",
        help="fit a conversational experiment (or reuse a run) and test it under both variants (dedup, all)",
    )
    conv.add_argument("target", help="experiment name under experiments/, or a run directory to re-test")
    conv.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    conv.set_defaults(func=cmd_evaluate_conversation)

    talk = sub.add_parser("chat", help="talk with a trained model in the terminal (free text, /like N, /why N, ...)")
    talk.add_argument("target", help="a run directory or checkpoint of a conversational or sequential experiment")
    talk.add_argument("--k", type=int, default=10, help="items per list (default 10)")
    talk.add_argument("--transcript", help="JSONL file for the transcript (default: <run>/chats/<time>.jsonl)")
    talk.add_argument("--llm", help="write replies with an LLM: smollm2, hf:<name or folder>, http://host/v1#model")
    talk.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    talk.set_defaults(func=cmd_chat)

    upd = sub.add_parser("update", help="fold new interactions (CSV or a chat transcript) into a run's model")
    upd.add_argument("target", help="the parent run directory")
    upd.add_argument("feedback", help="CSV user,item[,rating,timestamp,title,genres] or a chat transcript .jsonl")
    upd.add_argument("--epochs", type=int, default=3, help="fine-tuning epochs (default 3)")
    upd.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    upd.set_defaults(func=cmd_update)

    web = sub.add_parser("serve", help="serve the chat as a web page on localhost (needs recframe[app])")
    web.add_argument("target", help="a run directory or checkpoint of a conversational or sequential experiment")
    web.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    web.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    web.add_argument("--k", type=int, default=10, help="items per list (default 10)")
    web.add_argument("--llm", help="write replies with an LLM: smollm2, hf:<name or folder>, http://host/v1#model")
    web.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    web.set_defaults(func=cmd_serve)

    llm = sub.add_parser("serve-llm", help="serve a local causal LM as an OpenAI-compatible chat endpoint")
    llm.add_argument("model", help="smollm2, or hf:<hub name or local folder>")
    llm.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    llm.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    llm.add_argument("--max-tokens", type=int, default=64, help="default reply length (default 64)")
    llm.set_defaults(func=cmd_serve_llm)

    sim = sub.add_parser("simulate", help="play a run's test turns with a simulated seeker (iEvaLM's protocol)")
    sim.add_argument("target", help="a run directory (or checkpoint) of a conversational experiment")
    sim.add_argument("--turns", type=int, default=5, help="rounds per conversation (default 5)")
    sim.add_argument("--mode", default="attribute", choices=("attribute", "free"), help="simulator (default attribute)")
    sim.add_argument("--variant", default="all", choices=("all", "dedup"), help="targets and masking (default all)")
    sim.add_argument("--limit", type=int, help="play a random sample of this many test turns")
    sim.add_argument("--seed", type=int, default=0, help="seed of the --limit sample (default 0)")
    sim.add_argument("--llm", help="free mode's seeker: smollm2, hf:<name or folder>, http://host/v1#model")
    sim.add_argument(
        "--model-only", action="store_true", help="ablation: answers reach the model as text only (no attribute rules)"
    )
    sim.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    sim.set_defaults(func=cmd_simulate)

    lrec = sub.add_parser("llm-recommend", help="the LLM-as-recommender baseline on a run's test turns (R@1/10)")
    lrec.add_argument("target", help="a run directory (or checkpoint) of a conversational experiment (its data)")
    lrec.add_argument("--llm", required=True, help="smollm2, hf:<name or folder>, http://host/v1#model")
    lrec.add_argument("--variant", default="all", choices=("all", "dedup"), help="targets (default all)")
    lrec.add_argument("--limit", type=int, help="a random sample of this many test turns")
    lrec.add_argument("--seed", type=int, default=0, help="seed of the --limit sample (default 0)")
    lrec.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    lrec.set_defaults(func=cmd_llm_recommend)

    he = sub.add_parser(
        "evaluate-he2023", help="score a conversational run on He et al.'s (CIKM 2023) test turns, read as text"
    )
    he.add_argument("target", help="a run directory (or checkpoint) of a conversational experiment")
    he.add_argument("--set", default="redial", choices=("redial", "inspired"), help="test set (default redial)")
    he.add_argument("--variant", default="all", choices=("all", "dedup"), help="targets and masking (default all)")
    he.add_argument("--limit", type=int, help="score a random sample of this many turns")
    he.add_argument("--seed", type=int, default=0, help="seed of the --limit sample (default 0)")
    he.add_argument("--model-only", action="store_true", help="ablation: no attribute rules on the list")
    he.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    he.set_defaults(func=cmd_evaluate_he2023)

    sent = sub.add_parser(
        "sentiment", help="train the seeker-sentiment classifier on a conversational dataset and score its test split"
    )
    sent.add_argument("experiment", help="a conversational experiment (its dataset section is used)")
    sent.add_argument("--model", default="minilm", help="text encoder of the mentions (default minilm)")
    sent.add_argument("--output", help="also write the scores as JSON")
    sent.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    sent.set_defaults(func=cmd_sentiment)

    rep = sub.add_parser("reproduce", help="run an experiment over seeds (and folds) and compare with its paper")
    rep.add_argument("experiment", help="experiment name under experiments/")
    rep.add_argument("--seeds", type=int, default=1, help="number of seeds, starting at run.seed (default 1)")
    rep.add_argument("--folds", type=int, default=None, help="k-fold CV: run every fold of data.split=kfold")
    rep.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    rep.set_defaults(func=cmd_reproduce)

    runs = sub.add_parser("runs", help="list and filter recorded runs (the results index)")
    runs.add_argument("--root", default="runs", help="runs folder holding index.jsonl (default runs)")
    runs.add_argument("--experiment", help="experiment name or glob, e.g. 'beauty/*'")
    runs.add_argument("--dataset", help="dataset or glob, e.g. 's3rec:Beauty'")
    runs.add_argument("--backbone", help="backbone name")
    runs.add_argument("--since", help="ISO date: runs started on or after it")
    runs.add_argument("--metric", action="append", default=None, help="metric column(s) (default ndcg@10, hr@10)")
    runs.add_argument("--rescan", action="store_true", help="rebuild the index from the run directories first")
    runs.add_argument("--json", action="store_true", help="print the records as JSON")
    runs.set_defaults(func=cmd_runs)

    rpt = sub.add_parser("report", help="write a Markdown leaderboard per dataset with PNG plots")
    rpt.add_argument("--root", default="runs", help="runs folder holding index.jsonl (default runs)")
    rpt.add_argument("--output", default="docs/results", help="folder for leaderboard.md and plots")
    rpt.add_argument("--metric", action="append", default=None, help="metric(s) to report (default hr@10, ndcg@10)")
    rpt.add_argument(
        "--fairness-metric", default="ndcg@10", help="metric broken down by user group in fairness.md (default ndcg@10)"
    )
    rpt.set_defaults(func=cmd_report)

    cmp = sub.add_parser("compare", help="paired t-test and Wilcoxon test between two runs, per user")
    cmp.add_argument("run_a", help="run directory A")
    cmp.add_argument("run_b", help="run directory B (differences are B - A)")
    cmp.add_argument("--metric", action="append", default=None, help="metric(s), e.g. ndcg@10 (default ndcg@10, hr@10)")
    cmp.set_defaults(func=cmd_compare)

    lst = sub.add_parser("list", help="list the experiments with dataset, backbone and description")
    lst.set_defaults(func=cmd_list)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; user errors print one clear line and exit with status 2."""
    p = parser()
    # Options may follow overrides (``reproduce x a=1 --seeds 3``): argparse leaves such trailing
    # overrides unparsed, so they are collected here.
    args, extra = p.parse_known_args(argv)
    stray = [e for e in extra if "=" not in e and not e.startswith("~")]
    if stray:
        p.error(f"unrecognized arguments: {' '.join(stray)}")
    if extra:
        args.overrides = [*getattr(args, "overrides", []), *extra]
    if getattr(args, "metric", "absent") is None:
        args.metric = ["test/ndcg@10", "test/hr@10"] if args.command != "compare" else ["ndcg@10", "hr@10"]
    from recframe.experiments.config import ConfigError

    try:
        return args.func(args)
    except (ConfigError, OSError, KeyError, ValueError) as err:
        if os.environ.get("RECFRAME_DEBUG"):
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        err_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
