"""Train an offline MARL policy (I-CQL, OMAR, MA-ICQ) on a dataset from the team reward, MACCA's per-agent
rewards or the hidden ground truth, evaluating it in the live mpe2 task.

Examples:
  macca-hub train-policy --algo omar --reward macca --dataset macca/mpe-cn-expert --seed 0
  macca-hub train-policy --algo icql --reward team --dataset macca/mpe-cn-medium --num-updates 5000
  macca-hub train-policy --algo omar --reward macca --paradigm pretrained --reward-model macca/cn-expert-causal-reward
  accelerate launch --num_processes 2 -m macca_hub.cli train-policy --algo omar ...

Writes <output>/results.json (curve, final score, wall time) and <output>/policy (Hub format, with card).
"""

from __future__ import annotations

import argparse

HELP = "train an offline MARL policy (icql / omar / maicq) from team, MACCA or ground-truth rewards"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from macca_hub.algos.training import TrainPolicyConfig
    from macca_hub.utils.configs import add_dataclass_arguments

    add_dataclass_arguments(parser, TrainPolicyConfig)


def run(args: argparse.Namespace) -> int:
    from macca_hub.algos.training import TrainPolicyConfig, train_policy
    from macca_hub.utils.configs import dataclass_from_args

    results = train_policy(dataclass_from_args(TrainPolicyConfig, args))
    score = results["final_score"]
    what = f"normalized score {score:.1f}" if score is not None else "normalized score n/a (no S_random/S_expert)"
    print(f"{results['algo']} / {results['reward']} on {results['dataset']} seed {results['seed']}: "
          f"final return {results['final_return']:.3f}, {what}, {results['wall_time']:.0f} s")
    if results.get("policy"):
        print(f"policy saved to {results['policy']}")
    return 0
