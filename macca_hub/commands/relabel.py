"""Relabel a dataset with a causal reward model: a new Hub-layout dataset with `macca_rewards`.

The output folder is a complete dataset (default config + `macca_rewards` [n_agents] float32,
the hidden individual_rewards config, meta/, and a card naming the model); push it like any
other dataset. Shards are streamed batch by batch, so memory does not grow with the dataset.
In Python the same thing is one call: `ds.map(model.relabel, batched=True)`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from macca_hub.utils.configs import cfg

HELP = "add per-agent `macca_rewards` from a causal reward model to a dataset"


@dataclass
class RelabelArgs:
    dataset: str = cfg(help="dataset folder or repo id, e.g. macca/mpe-cn-expert")
    model: str = cfg(help="causal reward model folder or repo id")
    output: str = cfg(help="folder of the new dataset")
    repo_id: str | None = cfg(None, help="repo id recorded in the new dataset's card (default: <source>-macca-rewards)")
    batch_size: int = cfg(4096, help="rows per model call")
    num_proc: int | None = cfg(None, help="relabel shards in this many processes")
    overwrite: bool = cfg(False, help="replace an existing output folder")
    progress: bool = cfg(True, help="show a progress bar")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from macca_hub.utils.configs import add_dataclass_arguments

    add_dataclass_arguments(parser, RelabelArgs)


def run(args: argparse.Namespace) -> int:
    from macca_hub.reward.relabel import relabel_dataset
    from macca_hub.utils.configs import dataclass_from_args

    a = dataclass_from_args(RelabelArgs, args)
    path = relabel_dataset(a.dataset, a.model, a.output, overwrite=a.overwrite, batch_size=a.batch_size,
                           num_proc=a.num_proc, repo_id=a.repo_id, progress=a.progress)
    print(f"relabeled dataset written to {path}")
    return 0
