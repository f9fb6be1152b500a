"""The main job on an embedded default, offline, in minutes on 2 CPU cores.

Builds a Cooperative Navigation dataset in a live mpe2 environment (into ``--workdir``, not the
user's local root), then prints its card summary. Flags scale it up.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "run the main job on an embedded default (build a cn dataset, print its summary)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workdir", default="macca_quickstart", help="folder for everything the job writes (default: ./macca_quickstart)")
    parser.add_argument("--num-transitions", type=int, default=25_000, help="dataset size (default: 25000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every stage (default: 0)")


def run(args: argparse.Namespace) -> int:
    from dataset_builders.build import build_dataset
    from macca_hub.commands.info import print_summary

    workdir = Path(args.workdir)
    path = build_dataset("cn", "random", num_transitions=args.num_transitions, seed=args.seed,
                         output=workdir / "datasets" / "mpe-cn-random", overwrite=True)
    print_summary(path)
    return 0
