"""Print the summary of a dataset (folder or repo id): task, shapes, sizes, return statistics."""

from __future__ import annotations

import argparse
import os

HELP = "print a dataset's card summary"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="dataset folder or repo id (e.g. macca/mpe-cn-random)")


def summary_lines(path: str | os.PathLike) -> list[str]:
    from macca_hub.data.loading import dataset_meta

    info, stats = dataset_meta(path)
    ret = stats["episode_return"]
    lines = [
        f"dataset      {info.get('repo_id', path)}  ({path})",
        f"task         {info['task']} ({info['env_id']}), quality {info.get('quality')}, reward {info['reward']}",
        f"agents       {info['n_agents']} x obs {info['obs_dim']}, act {info['act_dim']}; state {info['state_dim']}",
        f"size         {info['num_episodes']} episodes, {info['num_transitions']} transitions, {info['num_shards']} shard(s)",
        f"behaviour    {info['behaviour_policy'].get('id')}  seed {info['seed']}",
        f"return       mean {ret['mean']:.3f}  std {ret['std']:.3f}  min {ret['min']:.3f}  max {ret['max']:.3f}",
    ]
    if info.get("s_random") is not None and info.get("s_expert") is not None:
        from macca_hub.scores import normalized_score

        score = normalized_score(info["task"], ret["mean"], info["s_random"], info["s_expert"])
        lines.append(f"normalized   {score:.1f}  (S_random {info['s_random']:.3f}, S_expert {info['s_expert']:.3f})")
    return lines


def print_summary(path: str | os.PathLike) -> None:
    print("\n".join(summary_lines(path)))


def run(args: argparse.Namespace) -> int:
    print_summary(args.dataset)
    return 0
