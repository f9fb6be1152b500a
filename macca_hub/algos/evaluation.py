"""Roll a policy out in the live mpe2 task (with the task's fixed opponents) and return episode returns."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from macca_hub.tasks import MPETask, episode_seed, make_task

#: Evaluation episodes draw seeds from a stream disjoint from dataset collection (which uses the build seed).
EVAL_STREAM = 1_000_003


def evaluate_policy(policy: Any, task: str | MPETask, episodes: int = 10, seed: int = 0) -> np.ndarray:
    """Returns of ``episodes`` episodes, ``[episodes]`` float64.

    ``policy`` has ``act(obs [n, obs_dim]) -> [n, 2]`` or is such a callable. An episode's return is the
    mean over team agents of each agent's summed individual reward, the dataset cards' definition, so it
    is comparable with S_random / S_expert.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be positive, got {episodes}.")
    env = make_task(task) if isinstance(task, str) else task
    act: Callable[[np.ndarray], np.ndarray] = policy.act if hasattr(policy, "act") else policy
    returns = np.zeros(episodes)
    for e in range(episodes):
        obs, _ = env.reset(episode_seed(seed + EVAL_STREAM, e))
        total = 0.0
        for _ in range(env.max_steps):
            res = env.step(np.clip(np.asarray(act(obs), dtype=np.float64), -1.0, 1.0))
            total += float(np.mean(res.individual_rewards))
            obs = res.observations
            if res.terminated or res.truncated:
                break
        returns[e] = total
    return returns
