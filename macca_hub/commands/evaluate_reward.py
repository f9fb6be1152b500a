"""Measure a causal reward model's credit-assignment fidelity and write it into its model card.

Against the dataset's hidden `individual_rewards` config, on the held-out episodes recorded at
training (or all episodes with --all-episodes): team-reward R^2, per-agent Pearson correlation of
r_hat^i with r^i, correlation of the relative credit (minus the mean over agents), and the mask
density per agent. The mean-mask heatmap (mask_heatmap.png) is written next to the model.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from macca_hub.utils.configs import cfg

HELP = "evaluate a causal reward model against the hidden individual rewards"


@dataclass
class EvaluateRewardArgs:
    model: str = cfg(help="model folder or repo id")
    dataset: str | None = cfg(None, help="dataset folder or repo id (default: the one the model was trained on)")
    all_episodes: bool = cfg(False, help="evaluate on every episode instead of the held-out ones")
    output: str | None = cfg(None, help="write the updated model (card + heatmap) here (default: in place, if the "
                                        "model is a local folder)")
    write: bool = cfg(True, help="write the metrics into the model card (--no-write only prints them)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from macca_hub.utils.configs import add_dataclass_arguments

    add_dataclass_arguments(parser, EvaluateRewardArgs)


def run(args: argparse.Namespace) -> int:
    import json

    from macca_hub.hub import resolve_model_dir
    from macca_hub.reward.evaluation import evaluate_reward_model, format_metrics
    from macca_hub.reward.modeling_causal_reward import CausalRewardModel
    from macca_hub.reward.training import set_fidelity
    from macca_hub.utils.configs import dataclass_from_args

    a = dataclass_from_args(EvaluateRewardArgs, args)
    model = CausalRewardModel.from_pretrained(a.model)
    trained_on = model.card_info.get("dataset", {})
    dataset = a.dataset or trained_on.get("path") or trained_on.get("repo_id")
    if not dataset:
        raise ValueError("The model does not record its training dataset; pass --dataset.")
    same_data = a.dataset is None or a.dataset in (trained_on.get("path"), trained_on.get("repo_id"))
    held_out = model.card_info.get("training", {}).get("eval_episodes")
    episodes = held_out if (held_out and same_data and not a.all_episodes) else None
    if episodes is None and not a.all_episodes:
        print("note: evaluating on every episode (no held-out split recorded for this dataset)")
    metrics = evaluate_reward_model(model, dataset, episodes="all" if episodes is None else episodes)
    print(format_metrics(metrics))
    if a.write:
        folder = resolve_model_dir(a.model)
        target = a.output or (None if "snapshots" in folder.parts else str(folder))
        if target is None:
            raise ValueError(f"{a.model} is a read-only Hub download; pass --output <folder> to write the evaluated copy.")
        set_fidelity(model, metrics)
        model.card_info.setdefault("evaluations", []).append(
            {"dataset": str(dataset), "split": "all" if episodes is None else "held-out",
             **{k: v for k, v in metrics.items() if not k.startswith("mean_")}})
        model.save_pretrained(target, overwrite=True)
        print(f"metrics and mask heatmap written to {target}")
    else:
        print(json.dumps({k: v for k, v in metrics.items() if not k.startswith("mean_")}))
    return 0
