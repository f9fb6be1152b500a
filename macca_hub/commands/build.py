"""Build a dataset folder in Hub layout from a behaviour policy in a live mpe2 task.

Written atomically (temporary folder, then rename) and deterministic: the same command twice
gives identical parquet data. By default the folder goes to the local root, where
``macca_hub.load_dataset("macca/mpe-<task>-<quality>")`` finds it.
"""

from __future__ import annotations

import argparse

HELP = "build a dataset (task x quality) from a behaviour policy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from macca_hub.data.format import QUALITIES
    from macca_hub.tasks import TASKS

    parser.add_argument("task", help=f"task name, one of {sorted(TASKS)}")
    parser.add_argument("--quality", default="random", help=f"dataset quality, one of {list(QUALITIES)} (default: random)")
    parser.add_argument("--num-transitions", type=int, default=None,
                        help="number of transitions (rounded up to whole 25-step episodes; default: the recipe's, 1,000,000)")
    parser.add_argument("--seed", type=int, default=None, help="collection seed (default: the recipe's, 0)")
    parser.add_argument("--output", default=None,
                        help="output folder (default: $MACCA_HUB_HOME/datasets/macca/mpe-<task>-<quality>)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    parser.add_argument("--reward", default="macca", choices=["macca", "mpe2"],
                        help="individual rewards: the paper's benchmark rewards (macca) or stock mpe2 rewards (default: macca)")
    parser.add_argument("--workers", type=int, default=None, help="collector processes (default: min(2, CPU count))")
    parser.add_argument("--uniform", action="store_true",
                        help="drive the team with uniform random forces instead of the recipe's policy")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    from dataset_builders.build import build_dataset
    from dataset_builders.policies import PolicySpec
    from macca_hub.commands.info import print_summary

    path = build_dataset(args.task, args.quality, num_transitions=args.num_transitions, seed=args.seed,
                         output=args.output, overwrite=args.overwrite, reward=args.reward, workers=args.workers,
                         policy=PolicySpec(kind="uniform") if args.uniform else None, progress=not args.no_progress)
    print_summary(path)
    return 0
