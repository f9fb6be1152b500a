"""Train the MATD3 behaviour policies of a task (and its co-trained opponents), optionally shipping them.

``macca-hub train-behaviour --task cn --output runs/matd3-cn --total-steps 200000 --train-every 8 --export``
reproduces the shipped ``cn-{random,medium,expert}`` policies and the ``cn-medium-replay`` log
(exact commands, seeds and wall times in ``dataset_builders/README.md``).
"""

from __future__ import annotations

import argparse

HELP = "train MATD3 behaviour policies for a task (then --export to ship random/medium/expert)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from dataset_builders.matd3 import MATD3Config
    from macca_hub.utils.configs import add_dataclass_arguments

    add_dataclass_arguments(parser, MATD3Config)
    parser.add_argument("--export", action="store_true",
                        help="after training, pick the random/medium/expert snapshots and write them (and the "
                             "frozen opponent, the medium-replay log) into macca_hub/assets/policies/")
    parser.add_argument("--export-episodes", type=int, default=50, help="evaluation episodes per snapshot for --export")


def run(args: argparse.Namespace) -> int:
    from dataset_builders.export import export
    from dataset_builders.matd3 import MATD3Config, train
    from macca_hub.utils.configs import dataclass_from_args

    config = dataclass_from_args(MATD3Config, args)
    if config.total_steps < config.snapshot_every:
        raise ValueError(f"--total-steps {config.total_steps} is below --snapshot-every {config.snapshot_every}; "
                         "no snapshot would be saved. Raise --total-steps or lower --snapshot-every.")
    run_dir = train(config)
    print(f"run folder: {run_dir}")
    if args.export:
        record = export(config.task, run_dir, args.export_episodes)
        print({k: v for k, v in record.items() if k != "evaluation"})
    return 0
