"""The main job end to end on Cooperative Navigation, sized for minutes on 2 CPU cores.

1. build a cn dataset in the live mpe2 task from the shipped behaviour policy (``--quality``),
2. train MACCA's causal reward model on it and measure its credit-assignment fidelity (held-out episodes),
3. relabel the dataset with ``ds.map(model.relabel, batched=True)``,
4. train MACCA-OMAR on the relabelled per-agent rewards and OMAR on the team reward (same seed and budget),
5. evaluate both in the live task and print fidelity, returns and normalized scores side by side.

Everything goes under ``workdir``; flags scale every stage up (``--num-transitions``, ``--reward-steps``,
``--policy-updates``, ``--batch-size``).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any

from macca_hub.utils.configs import cfg


@dataclasses.dataclass
class MainJobConfig:
    workdir: str = cfg("macca_quickstart", help="folder for everything the job writes")
    quality: str = cfg("expert", help="dataset quality (its shipped behaviour policy collects the data; falls back to "
                                      "uniform-random forces when that policy is not shipped)")
    num_transitions: int = cfg(20_000, help="dataset size (rounded up to whole 25-step episodes)")
    reward_steps: int = cfg(1000, help="gradient steps of the causal reward model")
    reward_batch_size: int = cfg(256, help="batch size of the causal reward model")
    policy_updates: int = cfg(1000, help="rounds of OMAR / MACCA-OMAR")
    batch_size: int = cfg(256, help="batch size of the policy learners")
    eval_every: int = cfg(500, help="evaluate the policies every N rounds")
    eval_episodes: int = cfg(10, help="episodes per evaluation")
    seed: int = cfg(0, help="seed of every stage")
    num_threads: int | None = cfg(None, help="torch CPU threads (default: torch's choice)")
    mixed_precision: str = cfg("no", choices=["no", "bf16"], help="precision of the policy updates (train-policy "
                                                                 "--mixed-precision)")
    progress: bool = cfg(True, help="show progress bars")


def run_main_job(config: MainJobConfig) -> dict[str, Any]:
    """Run the five stages; returns {"dataset", "fidelity", "omar", "macca-omar"} and prints a summary.

    With ``progress=False`` the ``datasets`` progress bars (``ds.map``, the builders) are off for the job only.
    """
    import datasets

    silence = not config.progress and datasets.is_progress_bar_enabled()
    if silence:
        datasets.disable_progress_bars()
    try:
        return _run_stages(config)
    finally:
        if silence:
            datasets.enable_progress_bars()


def _run_stages(config: MainJobConfig) -> dict[str, Any]:
    from dataset_builders.build import build_dataset
    from dataset_builders.policies import PolicySpec, shipped_policy_dir
    from macca_hub.algos.training import TrainPolicyConfig, train_policy
    from macca_hub.commands.info import print_summary
    from macca_hub.data.loading import load_dataset
    from macca_hub.reward.evaluation import format_metrics
    from macca_hub.reward.training import RewardTrainingConfig, train_reward_model

    work = Path(config.workdir)
    t0 = time.perf_counter()
    quality, policy = config.quality, None
    try:
        shipped_policy_dir(f"cn-{quality}")
    except (FileNotFoundError, ValueError):
        print(f"note: no shipped cn-{quality} behaviour policy; collecting with uniform-random forces instead")
        quality, policy = "random", PolicySpec(kind="uniform")
    def stamp() -> str:
        return f"[{time.perf_counter() - t0:5.0f} s]"

    print(f"{stamp()} [1/5] build cn-{quality}: {config.num_transitions} transitions")
    data = build_dataset("cn", quality, num_transitions=config.num_transitions, seed=config.seed,
                         output=work / "datasets" / f"mpe-cn-{quality}", overwrite=True, policy=policy,
                         progress=config.progress)
    print_summary(data)

    print(f"{stamp()} [2/5] train the causal reward model: {config.reward_steps} steps")
    model, metrics = train_reward_model(RewardTrainingConfig(
        dataset=str(data), output=str(work / "models" / f"cn-{quality}-causal-reward"), steps=config.reward_steps,
        batch_size=config.reward_batch_size, seed=config.seed, overwrite=True, progress=config.progress, num_threads=config.num_threads, checkpoint_every=0))

    print(f"{stamp()} [3/5] relabel with ds.map(model.relabel, batched=True)")
    # Arrow batches reach the model without turning any row into Python objects (~5x faster than numpy).
    ds = load_dataset(str(data)).with_format("arrow")
    relabeled = ds.map(model.relabel, batched=True, batch_size=8192, keep_in_memory=True).with_format(None)
    print(f"      {len(relabeled)} rows, columns {relabeled.column_names[-3:]}")

    results = {}
    common = dict(dataset=str(data), algo="omar", num_updates=config.policy_updates, batch_size=config.batch_size,
                  eval_every=config.eval_every, eval_episodes=config.eval_episodes, seed=config.seed, overwrite=True,
                  checkpoint_every=0, num_threads=config.num_threads, progress=config.progress,
                  mixed_precision=config.mixed_precision)
    print(f"{stamp()} [4/5] train MACCA-OMAR and OMAR (team reward): {config.policy_updates} rounds each")
    results["macca-omar"] = train_policy(TrainPolicyConfig(
        reward="macca", paradigm="pretrained", reward_model=metrics["output"],
        output=str(work / "runs" / "macca-omar"), **common))
    results["omar"] = train_policy(TrainPolicyConfig(reward="team", output=str(work / "runs" / "omar"), **common))

    print(f"{stamp()} [5/5] results")
    fidelity = metrics.get("fidelity")
    if fidelity:
        print("credit-assignment fidelity of the causal reward model (held-out episodes):")
        print(format_metrics(fidelity))
    print(f"\n| method | final return (live mpe2, {config.eval_episodes} episodes) | normalized score |")
    print("|---|---|---|")
    for name, label in (("omar", "OMAR (team reward)"), ("macca-omar", "MACCA-OMAR")):
        r = results[name]
        score = f"{r['final_score']:.1f}" if r["final_score"] is not None else "n/a (no S_random/S_expert)"
        print(f"| {label} | {r['final_return']:.2f} | {score} |")
    print(f"\ndone in {time.perf_counter() - t0:.0f} s; everything is under {work}")
    return {"dataset": str(data), "fidelity": fidelity, **results}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from macca_hub.utils.configs import add_dataclass_arguments

    add_dataclass_arguments(parser, MainJobConfig)


def run(args: argparse.Namespace) -> int:
    from macca_hub.utils.configs import dataclass_from_args

    run_main_job(dataclass_from_args(MainJobConfig, args))
    return 0
