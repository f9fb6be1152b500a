"""Transitions per second of `macca-hub build` against raw mpe2 stepping with the same random actions.

Both are timed in the same run, so the ratio holds on a noisy machine. The builder's own overhead
(policy calls, bookkeeping, parquet, stats, card) should cost at most 30% over raw stepping
(ratio >= 0.77 at one worker). The two-worker figure shows what the parallel collector adds.

    python benchmarks/build_speed.py --task cn --transitions 20000
"""

from __future__ import annotations

import argparse
import importlib
import tempfile
import time
from pathlib import Path

import numpy as np

from dataset_builders.build import build_dataset
from dataset_builders.policies import PolicySpec
from macca_hub.tasks import episode_seed, force_to_mpe2, task_class


def raw_mpe2(task: str, transitions: int, seed: int) -> float:
    """Seconds to step mpe2's own parallel API for ``transitions`` team steps with uniform random forces."""
    cls = task_class(task)
    module = importlib.import_module(f"mpe2.{cls.env_id}")
    env = module.parallel_env(continuous_actions=True, max_cycles=cls.max_steps, **cls.env_kwargs)
    episodes = transitions // cls.max_steps
    start = time.perf_counter()
    for e in range(episodes):
        eseed = episode_seed(seed, e)
        rng = np.random.default_rng([eseed, 1])
        env.reset(seed=eseed)
        for _ in range(cls.max_steps):
            forces = force_to_mpe2(rng.uniform(-1, 1, (len(env.agents), 2)))
            actions = {}
            for name, f in zip(env.agents, forces):
                dim = env.action_space(name).shape[0]
                actions[name] = np.concatenate([f, np.zeros(dim - 5)]).astype(np.float32)
            env.step(actions)
    return time.perf_counter() - start


def builder(task: str, transitions: int, seed: int, workers: int, policy: PolicySpec | None) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        build_dataset(task, "random" if policy is None or policy.kind == "uniform" else "expert",
                      num_transitions=transitions, seed=seed, output=Path(tmp) / "ds", workers=workers,
                      policy=policy, progress=False)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="cn", help="task to measure (cn, pp, world)")
    parser.add_argument("--transitions", type=int, default=20000, help="transitions per measurement")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--expert", action="store_true", help="also time the expert recipe (shipped policy)")
    args = parser.parse_args()

    raw = raw_mpe2(args.task, args.transitions, args.seed)
    one = builder(args.task, args.transitions, args.seed, 1, PolicySpec(kind="uniform"))
    two = builder(args.task, args.transitions, args.seed, 2, PolicySpec(kind="uniform"))
    n = args.transitions
    print(f"task {args.task}, {n} transitions (uniform random forces)")
    print(f"raw mpe2 parallel_env stepping : {n / raw:10.0f} transitions/s")
    print(f"macca-hub build, 1 worker      : {n / one:10.0f} transitions/s  ratio to raw {raw / one:.2f} "
          f"(builder overhead {100 * (one / raw - 1):+.0f}%)")
    print(f"macca-hub build, 2 workers     : {n / two:10.0f} transitions/s  ratio to raw {raw / two:.2f}")
    if args.expert:
        from dataset_builders.recipes import recipe

        pol = recipe(args.task, "expert").policy
        exp1 = builder(args.task, n, args.seed, 1, pol)
        exp2 = builder(args.task, n, args.seed, 2, pol)
        print(f"expert build, 1 worker         : {n / exp1:10.0f} transitions/s  ratio to raw {raw / exp1:.2f}")
        print(f"expert build, 2 workers        : {n / exp2:10.0f} transitions/s  ratio to raw {raw / exp2:.2f}")


if __name__ == "__main__":
    main()
