"""Hand-written mutants, each the bug a strengthened test exists to catch: apply, run the test, restore.

The mutation report (``benchmarks/mutation.py``) samples what a tool generates; these are the
specific holes issue 16 named (a k-core that removes everything, DDP ranks that all train on rank
0's shard, ...) plus one per strengthened test. For each mutant the named tests must fail on the
mutated code; the script restores every file it touched, also when interrupted.

Run: ``OMP_NUM_THREADS=1 python benchmarks/mutants_by_hand.py [NAME ...] [--json out.json]``; with
``--before OLD`` (e.g. ``git worktree add OLD c24a9a1``) the same mutants are applied there and the
tests that existed before are run, to show that they missed them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# name -> (file, original text, mutated text, tests that must now fail)
MUTANTS: dict[str, tuple[str, str, str, list[str]]] = {
    "k_core removes every interaction": (
        "recframe/data/interactions.py",
        "keep = (u_cnt[u_inv] >= user_min) & (i_cnt[i_inv] >= item_min)",
        "keep = np.zeros(len(out), dtype=bool)",
        [
            "tests/test_data_core.py::test_k_core_is_the_largest_core",
            "tests/test_data_core.py::test_k_core_hand_example_cascades",
        ],
    ),
    "k_core stops after one round (no cascade)": (
        "recframe/data/interactions.py",
        "        if keep.all():\n            break\n        out, rounds = out.take(keep), rounds + 1\n",
        "        out, rounds = out.take(keep), rounds + 1\n        break\n",
        [
            "tests/test_data_core.py::test_k_core_is_the_largest_core",
            "tests/test_data_core.py::test_k_core_hand_example_cascades",
        ],
    ),
    "every DDP rank trains on rank 0's shard": (
        "recframe/data/batching.py",
        "order = np.resize(order, per_rank * self.world_size)  # wraps around",
        "return np.resize(order, per_rank * self.world_size)[0 :: self.world_size]  # wraps around",
        ["tests/test_data_core.py::test_train_sampler_shards_split_the_epoch", "tests/test_ddp.py"],
    ),
    "the DataModule ignores the trainer's rank when training": (
        "recframe/data/datamodule.py",
        "            rank=self._rank,\n",
        "            rank=0 if train else self._rank,\n",
        ["tests/test_ddp.py"],
    ),
    "SIGINT stops at the epoch end instead of mid-epoch": (
        "recframe/training/callbacks.py",
        "        if self.requested is not None and not self.saved:\n",
        "        if self.requested is not None and not self.saved and trainer.is_last_batch:\n",
        ["tests/test_reliability.py::test_sigint_saves_a_resumable_checkpoint_mid_epoch"],
    ),
    "leaderboard bars drawn in sorted order, not the table's": (
        "recframe/reporting/report.py",
        "ax.barh(y, means, xerr=stds,",
        "ax.barh(y, sorted(means), xerr=stds,",
        ["tests/test_report.py::test_leaderboard_plots_draw_the_table"],
    ),
    "fairness bars of one experiment drawn against the wrong groups": (
        "recframe/reporting/report_fairness.py",
        "heights = [math.nan if m is None else m for m in row]",
        "heights = [math.nan if m is None else m for m in row[::-1]]",
        ["tests/test_report_fairness.py::test_fairness_plots_draw_the_group_means_and_lorenz_curves"],
    ),
    "Lorenz curve drawn with its axes swapped": (
        "recframe/reporting/report_fairness.py",
        "ax.plot(x, y, color=colors[i], linewidth=1.8, label=label)",
        "ax.plot(y, x, color=colors[i], linewidth=1.8, label=label)",
        ["tests/test_report_fairness.py::test_fairness_plots_draw_the_group_means_and_lorenz_curves"],
    ),
    "a training-mode forward renormalises MF's user table in place": (
        "recframe/backbones/mf.py",
        '        user = batch["user"]\n        query = self.users(user)  # [B, D]\n',
        '        user = batch["user"]\n'
        "        if self.training:\n"
        "            self.users.weight.data.renorm_(2, 0, 0.05)\n"
        "        query = self.users(user)  # [B, D]\n",
        ["tests/test_backbones.py::test_eval_is_deterministic[mf]"],
    ),
    "the optimiser is built with lr=0 (nothing trains)": (
        "recframe/module.py",
        "params, lr=self.lr, weight_decay",
        "params, lr=0.0, weight_decay",
        ["tests/test_config.py::test_every_experiment_builds_and_steps_on_synthetic_data[default]"],
    ),
    "chunked scoring forgets to mask PAD": (
        "recframe/metrics/chunked.py",
        '        if start == 0:\n            scores[:, PAD] = float("-inf")\n',
        "",
        ["tests/test_module.py"],
    ),
    "chunked scoring ignores exclude_seen": (
        "recframe/module.py",
        'seen = (batch["seen_rows"], batch["seen_items"]) if self.exclude_seen else (None, None)',
        "seen = (None, None)",
        ["tests/test_module.py"],
    ),
    "Parquet datetimes read as milliseconds": (
        "recframe/data/table.py",
        'values.astype("datetime64[s]").astype(np.int64)',
        'values.astype("datetime64[ms]").astype(np.int64)',
        ["tests/test_data_table.py::test_parquet_reads_as_the_same_csv"],
    ),
    # the bugs this work found and fixed, put back
    "interpolations across sections left unresolved": (
        "recframe/experiments/config.py",
        "            OmegaConf.resolve(cfg)\n",
        "            pass\n",
        ["tests/test_config.py::test_interpolations_are_resolved_within_and_across_sections"],
    ),
    "a non-YAML override escapes as yaml's ParserError": (
        "recframe/experiments/config.py",
        "except (OmegaConfBaseException, yaml.YAMLError) as err:",
        "except OmegaConfBaseException as err:",
        ["tests/test_config.py::test_overrides_delete_nested_keys_and_bad_ones_say_so_on_one_line"],
    ),
    "the loss function is saved as a hyperparameter": (
        "recframe/module.py",
        'ignore=["backbone", "loss", "val_metrics"',
        'ignore=["backbone", "LOSS", "val_metrics"',
        ["tests/test_module.py::test_hyperparameters_leave_out_the_built_parts_and_the_logger"],
    ),
    "train/loss logged on step 1 instead of step 0": (
        "recframe/module.py",
        "return self.global_step == 0 or",
        "return self.global_step == 1 or",
        ["tests/test_module.py::test_train_loss_is_logged_on_the_first_step_and_every_n_steps"],
    ),
    "train/loss not logged without a trainer": (
        "recframe/module.py",
        "        if self._trainer is None:\n            return True\n",
        "        if self._trainer is None:\n            return False\n",
        ["tests/test_module.py::test_train_loss_is_logged_on_the_first_step_and_every_n_steps"],
    ),
    "every checkpoint stores the training keys as a hyperparameter": (
        "recframe/module.py",
        '"test_metrics", "train_keys", "train_items"]',
        '"test_metrics"]',
        ["tests/test_module.py::test_hyperparameters_leave_out_the_built_parts_and_the_logger"],
    ),
}


# name -> the tests that covered the mutated code before issue 16 (they pass on the mutant: see --before)
BEFORE: dict[str, list[str]] = {
    "k_core removes every interaction": [
        "tests/test_data_core.py::test_k_core_fixed_point",
        "tests/test_bad_input.py::test_filter_that_removes_everything_names_itself",
    ],
    "k_core stops after one round (no cascade)": ["tests/test_data_core.py::test_k_core_fixed_point"],
    "every DDP rank trains on rank 0's shard": [
        "tests/test_data_core.py::test_train_sampler_even_shards_and_epoch_shuffles",
        "tests/test_data_core.py::test_eval_sampler_covers_each_index_once_across_ranks",
        "tests/test_reliability.py::test_ddp_two_processes_equal_one",
    ],
    "the DataModule ignores the trainer's rank when training": [
        "tests/test_reliability.py::test_ddp_two_processes_equal_one"
    ],
    "SIGINT stops at the epoch end instead of mid-epoch": [
        "tests/test_reliability.py::test_sigint_saves_a_resumable_checkpoint_mid_epoch"
    ],
    "leaderboard bars drawn in sorted order, not the table's": [
        "tests/test_report.py::test_leaderboard_markdown_and_plots"
    ],
    "fairness bars of one experiment drawn against the wrong groups": [
        "tests/test_report_fairness.py::test_report_tables_plots_and_gini_check"
    ],
    "Lorenz curve drawn with its axes swapped": [
        "tests/test_report_fairness.py::test_report_tables_plots_and_gini_check"
    ],
    "a training-mode forward renormalises MF's user table in place": [
        "tests/test_backbones.py::test_eval_is_deterministic[mf]"
    ],
    "the optimiser is built with lr=0 (nothing trains)": [
        "tests/test_config.py::test_every_experiment_builds_and_steps_on_synthetic_data[default]"
    ],
    "chunked scoring forgets to mask PAD": [],  # no test ran score_chunk through the module
    "chunked scoring ignores exclude_seen": [],
    "Parquet datetimes read as milliseconds": [],  # only "Parquet without pyarrow" was tested
    "interpolations across sections left unresolved": [],
    "a non-YAML override escapes as yaml's ParserError": [],
    "the loss function is saved as a hyperparameter": [],
    "train/loss logged on step 1 instead of step 0": ["tests/test_optimiser.py"],
    "train/loss not logged without a trainer": ["tests/test_optimiser.py"],
    "every checkpoint stores the training keys as a hyperparameter": [],
}


def run(name: str, root: Path = ROOT, before: bool = False) -> dict:
    path, old, new, tests = MUTANTS[name]
    tests = BEFORE[name] if before else tests
    if not tests:
        return {
            "mutant": name,
            "file": path,
            "tests": [],
            "killed": False,
            "failed": [],
            "summary": "no test",
            "seconds": 0,
        }
    file = root / path
    original = file.read_text()
    if original.count(old) != 1:
        raise ValueError(f"{name}: the text to mutate occurs {original.count(old)} times in {path}")
    start = time.time()
    file.write_text(original.replace(old, new))
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
            cwd=root,
            capture_output=True,
            text=True,
        )
    finally:
        file.write_text(original)
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    failed = [line.split(" ")[1] for line in lines if line.startswith("FAILED ")]
    return {
        "mutant": name,
        "file": path,
        "tests": tests,
        "killed": out.returncode == 1,
        "failed": failed,
        "summary": lines[-1] if lines else out.stderr[-500:],
        "seconds": round(time.time() - start),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", choices=[[], *MUTANTS], default=[])
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--before",
        type=Path,
        metavar="CHECKOUT",
        help="run the pre-issue tests (BEFORE) in this older checkout instead",
    )
    args = parser.parse_args()
    results = []
    for name in args.names or list(MUTANTS):
        results.append(run(name, args.before or ROOT, before=args.before is not None))
        r = results[-1]
        print(f"{'killed  ' if r['killed'] else 'SURVIVED'} {name}: {r['summary']} ({r['seconds']} s)", flush=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
