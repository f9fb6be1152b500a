"""Write a dataset folder in Hub layout from streamed chunks of episodes.

Chunks arrive in episode order (one per shard), so memory stays bounded by one chunk and the
result does not depend on how many workers produced them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from macca_hub.data.format import (
    DATA_DIR,
    DEFAULT_COLUMNS,
    FORMAT_VERSION,
    INDIVIDUAL_DIR,
    default_features,
    individual_features,
    to_arrow,
)
from macca_hub.utils.io import write_json

STAT_COLUMNS = ("observations", "actions", "state", "team_reward")


class RunningStats:
    """Exact per-element mean/std/min/max over a stream of chunks (float64 accumulators)."""

    def __init__(self) -> None:
        self.n = 0
        self.sum: np.ndarray | None = None
        self.sumsq: np.ndarray | None = None
        self.min: np.ndarray | None = None
        self.max: np.ndarray | None = None

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64)
        s, sq, lo, hi = x.sum(0), np.square(x).sum(0), x.min(0), x.max(0)
        if self.sum is None:
            self.sum, self.sumsq, self.min, self.max = s, sq, lo, hi
        else:
            self.sum += s
            self.sumsq += sq
            self.min = np.minimum(self.min, lo)
            self.max = np.maximum(self.max, hi)
        self.n += len(x)

    def to_dict(self) -> dict[str, Any]:
        assert self.sum is not None and self.sumsq is not None
        mean = self.sum / self.n
        std = np.sqrt(np.maximum(self.sumsq / self.n - mean**2, 0.0))
        return {"mean": mean.tolist(), "std": std.tolist(), "min": self.min.tolist(), "max": self.max.tolist(),
                "count": self.n}


def summarize(values: np.ndarray) -> dict[str, float]:
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()), "max": float(v.max()),
            "count": int(v.size)}


class DatasetWriter:
    """Accumulates shards in a (temporary) folder; ``finalize`` writes metadata and the card."""

    def __init__(self, folder: str | os.PathLike, n_agents: int, obs_dim: int, act_dim: int, state_dim: int,
                 action_type: str = "continuous") -> None:
        self.folder = Path(folder)
        (self.folder / DATA_DIR).mkdir(parents=True, exist_ok=True)
        (self.folder / INDIVIDUAL_DIR).mkdir(parents=True, exist_ok=True)
        (self.folder / "meta").mkdir(parents=True, exist_ok=True)
        self.features = default_features(n_agents, obs_dim, act_dim, state_dim, action_type)
        self.individual = individual_features(n_agents)
        self.n_agents = n_agents
        self.stats = {k: RunningStats() for k in STAT_COLUMNS}
        self.episode_returns: list[np.ndarray] = []  # team return / n_agents, per episode
        self.agent_returns: list[np.ndarray] = []  # [episodes, n_agents], hidden rewards summed
        self.shards = 0
        self.rows = 0
        self.episodes = 0

    def add_chunk(self, chunk: dict[str, np.ndarray]) -> None:
        """Append one shard: ``chunk`` holds every default column plus ``individual_rewards``."""
        missing = [c for c in (*DEFAULT_COLUMNS, "individual_rewards") if c not in chunk]
        if missing:
            raise ValueError(f"chunk lacks columns {missing}")
        name = f"train-{self.shards:05d}.parquet"
        pq.write_table(to_arrow(chunk, self.features), self.folder / DATA_DIR / name, use_dictionary=False)
        pq.write_table(to_arrow(chunk, self.individual), self.folder / INDIVIDUAL_DIR / name, use_dictionary=False)
        for k in STAT_COLUMNS:
            self.stats[k].update(chunk[k])
        ends = np.flatnonzero(chunk["terminated"] | chunk["truncated"])
        starts = np.concatenate([[0], ends[:-1] + 1])
        team = np.add.reduceat(chunk["team_reward"].astype(np.float64), starts)
        self.episode_returns.append(team / self.n_agents)
        self.agent_returns.append(np.add.reduceat(chunk["individual_rewards"].astype(np.float64), starts, axis=0))
        self.shards += 1
        self.rows += len(chunk["step"])
        self.episodes += len(ends)

    def finalize(self, info: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Name shards ``-of-N``, write ``meta/info.json`` + ``meta/stats.json``; returns both."""
        for sub in (DATA_DIR, INDIVIDUAL_DIR):
            for i in range(self.shards):
                src = self.folder / sub / f"train-{i:05d}.parquet"
                src.rename(self.folder / sub / f"train-{i:05d}-of-{self.shards:05d}.parquet")
        returns = np.concatenate(self.episode_returns)
        agent_returns = np.concatenate(self.agent_returns)
        stats = {k: s.to_dict() for k, s in self.stats.items()}
        stats["episode_return"] = summarize(returns)
        stats["agent_episode_return"] = {
            "mean": agent_returns.mean(0).tolist(), "std": agent_returns.std(0).tolist(),
        }
        info = {
            **info,
            "format_version": FORMAT_VERSION,
            "num_episodes": int(self.episodes),
            "num_transitions": int(self.rows),
            "num_shards": int(self.shards),
            "configs": {"default": f"{DATA_DIR}/train-*.parquet", "individual_rewards": f"{INDIVIDUAL_DIR}/train-*.parquet"},
        }
        write_json(self.folder / "meta" / "info.json", info)
        write_json(self.folder / "meta" / "stats.json", stats)
        np.save(self.folder / "meta" / "episode_returns.npy", returns.astype(np.float32))
        return info, stats
