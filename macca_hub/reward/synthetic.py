"""A dataset in our exact format whose individual rewards depend on known dims (no environment needed).

Agent i's reward is ``obs[i, i % obs_dim] + 0.5 * act[i, 0]``: one dim of its own observation and
one of its own action. Every other dim is noise. A causal reward model trained on the team reward
should keep exactly those edges, which makes this the ground truth for tests and benchmarks.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from macca_hub.data.writer import DatasetWriter
from macca_hub.utils.io import atomic_directory


def relevant_dims(n_agents: int, obs_dim: int, act_dim: int) -> tuple[list[int], list[int]]:
    """Joint state dims and joint action dims that agent i's reward depends on (index i of each list)."""
    return [i * obs_dim + i % obs_dim for i in range(n_agents)], [i * act_dim for i in range(n_agents)]


def write_synthetic_dataset(output: str | os.PathLike, episodes: int = 40, n_agents: int = 3, obs_dim: int = 4,
                            act_dim: int = 2, seed: int = 0, episode_len: int = 25, episodes_per_shard: int | None = None,
                            overwrite: bool = True) -> Path:
    """Write a Hub-layout dataset folder (both configs, meta/, card) of random i.i.d. steps."""
    from macca_hub.cards import write_dataset_card

    rng = np.random.default_rng(seed)
    n, sd = n_agents, n_agents * obs_dim
    s_dims, a_dims = relevant_dims(n, obs_dim, act_dim)
    per_shard = episodes_per_shard or episodes
    with atomic_directory(output, overwrite=overwrite) as tmp:
        writer = DatasetWriter(tmp, n, obs_dim, act_dim, sd)
        for start in range(0, episodes, per_shard):
            e = np.arange(start, min(start + per_shard, episodes))
            rows = len(e) * episode_len
            obs = rng.normal(size=(rows, n, obs_dim)).astype(np.float32)
            nxt = rng.normal(size=(rows, n, obs_dim)).astype(np.float32)
            act = rng.uniform(-1, 1, size=(rows, n, act_dim)).astype(np.float32)
            flat_s, flat_a = obs.reshape(rows, -1), act.reshape(rows, -1)
            indiv = (flat_s[:, s_dims] + 0.5 * flat_a[:, a_dims]).astype(np.float32)
            step = np.tile(np.arange(episode_len, dtype=np.int32), len(e))
            writer.add_chunk({
                "episode_index": np.repeat(e, episode_len).astype(np.int64), "step": step,
                "observations": obs, "actions": act, "state": flat_s.copy(), "team_reward": indiv.sum(1),
                "next_observations": nxt, "next_state": nxt.reshape(rows, -1), "terminated": np.zeros(rows, bool),
                "truncated": step == episode_len - 1, "individual_rewards": indiv,
            })
        info = {
            "task": "synthetic", "quality": "random", "repo_id": "macca/synthetic-random", "pretty_name": "Synthetic",
            "task_description": f"synthetic rewards on known dims ({n} agents)", "team": ", ".join(f"agent_{i}" for i in range(n)),
            "env_id": "none", "max_steps": episode_len, "n_agents": n, "obs_dim": obs_dim, "act_dim": act_dim,
            "state_dim": sd, "action_type": "continuous", "behaviour_policy": {"id": "uniform-random"},
            "opponent": {"doc": "none"}, "reward": "synthetic",
            "reward_doc": "r^i = obs[i, i % obs_dim] + 0.5 * act[i, 0]", "seed": seed, "builder_version": "synthetic",
            "versions": {"mpe2": "n/a", "pettingzoo": "n/a"}, "s_random": None, "s_expert": None,
            "build_command": "macca_hub.reward.synthetic.write_synthetic_dataset(...)",
        }
        info, stats = writer.finalize(info)
        write_dataset_card(tmp, info, stats)
    return Path(output)
