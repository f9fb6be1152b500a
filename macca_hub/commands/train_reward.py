"""Train a MACCA causal reward model on a dataset's team rewards and save it in Hub format.

The loop runs on Accelerate, so the same command trains on CPU, on one GPU, or on several GPUs
or machines:

    macca-hub train-reward --dataset macca/mpe-cn-expert --output runs/cn-expert-reward
    accelerate launch --multi_gpu --num_processes 4 -m macca_hub.cli train-reward \\
        --dataset macca/mpe-cn-expert --output runs/cn-expert-reward

Episodes are split into train / held-out; the held-out team-reward R^2 is reported every
--eval-every steps, checkpoints go to <output>-checkpoints every --checkpoint-every steps and
--resume continues from the last one. At the end the credit-assignment fidelity (against the
hidden individual rewards) is measured and written into the model card.
"""

from __future__ import annotations

import argparse

HELP = "train a causal reward model (CPU, GPU or `accelerate launch`)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from macca_hub.reward.training import RewardTrainingConfig
    from macca_hub.utils.configs import add_dataclass_arguments

    add_dataclass_arguments(parser, RewardTrainingConfig)


def run(args: argparse.Namespace) -> int:
    from macca_hub.reward.evaluation import format_metrics
    from macca_hub.reward.training import RewardTrainingConfig, train_reward_model
    from macca_hub.utils.configs import dataclass_from_args

    config = dataclass_from_args(RewardTrainingConfig, args)
    _, metrics = train_reward_model(config)
    if "output" not in metrics:  # not the main process of a multi-process launch
        return 0
    ev = metrics["final_eval"]
    print(f"trained {metrics['steps']} steps in {metrics['seconds']:.1f} s; held-out team MSE {ev.get('team_mse', float('nan')):.4f}, "
          f"R^2 {ev.get('team_r2', float('nan')):.4f}")
    if "fidelity" in metrics:
        print(format_metrics(metrics["fidelity"]))
    print(f"saved to {metrics['output']}")
    return 0
