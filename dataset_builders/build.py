"""Collect episodes from a behaviour policy in a live mpe2 task and write a Hub-layout dataset.

Episodes are independent units (episode ``e`` is seeded by ``episode_seed(seed, e)``), so workers
collect disjoint episode ranges and the main process writes them in episode order: the result is
identical for any number of workers, and the same command twice gives identical parquet files.
"""

from __future__ import annotations

import math
import os
import sys
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from tqdm.auto import tqdm

from dataset_builders.policies import PolicySpec, make_policy
from dataset_builders.recipes import recipe
from macca_hub.data.format import dataset_repo_id
from macca_hub.data.writer import DatasetWriter
from macca_hub.hub import local_repo_path
from macca_hub.tasks import MPETask, episode_seed, make_task, task_class
from macca_hub.utils.io import atomic_directory

BUILDER_VERSION = "1.0.0"
EPISODES_PER_UNIT = 100  # one worker job
TARGET_SHARD_BYTES = 48 * 2**20  # keep shards modest: Hub mirrors read a whole file per request


def collect(task: MPETask, policy: Any, seed: int, episodes: range, noise_std: float = 0.0) -> dict[str, np.ndarray]:
    """Run ``episodes`` of ``task`` under ``policy``; returns every column, rows in episode order."""
    spec, T = task.spec, task.max_steps
    rows = len(episodes) * T
    n, od, sd = spec.n_agents, spec.obs_dim, spec.state_dim
    out = {
        "episode_index": np.empty(rows, np.int64), "step": np.empty(rows, np.int32),
        "observations": np.empty((rows, n, od), np.float32), "actions": np.empty((rows, n, 2), np.float32),
        "state": np.empty((rows, sd), np.float32), "team_reward": np.empty(rows, np.float32),
        "next_observations": np.empty((rows, n, od), np.float32), "next_state": np.empty((rows, sd), np.float32),
        "terminated": np.zeros(rows, bool), "truncated": np.zeros(rows, bool),
        "individual_rewards": np.empty((rows, n), np.float32),
    }
    r = 0
    for e in episodes:
        eseed = episode_seed(seed, e)
        rng = np.random.default_rng([eseed, 1])
        if hasattr(policy, "begin_episode"):  # replayed training runs also drive the opponents
            policy.begin_episode(task, e)
        obs, state = task.reset(eseed)
        for t in range(T):
            act = policy.act(obs, rng)
            if noise_std > 0:
                act = act + rng.normal(0.0, noise_std, size=act.shape)
            act = np.clip(act, -1.0, 1.0).astype(np.float32)
            res = task.step(act)
            out["episode_index"][r], out["step"][r] = e, t
            out["observations"][r], out["actions"][r], out["state"][r] = obs, act, state
            out["team_reward"][r], out["individual_rewards"][r] = res.team_reward, res.individual_rewards
            out["next_observations"][r], out["next_state"][r] = res.observations, res.state
            out["terminated"][r], out["truncated"][r] = res.terminated, res.truncated
            obs, state = res.observations, res.state
            r += 1
            if res.terminated or res.truncated:
                break
    if r != rows:  # early termination (not in the MPE tasks, but keep the format honest)
        out = {k: v[:r] for k, v in out.items()}
    return out


def _worker(task_name: str, reward: str, policy_spec: PolicySpec, seed: int, start: int, stop: int) -> dict[str, np.ndarray]:
    import torch

    torch.set_num_threads(1)
    task = make_task(task_name, reward=reward)
    return collect(task, make_policy(policy_spec), seed, range(start, stop), policy_spec.noise_std)


def _units(num_episodes: int) -> list[tuple[int, int]]:
    return [(s, min(s + EPISODES_PER_UNIT, num_episodes)) for s in range(0, num_episodes, EPISODES_PER_UNIT)]


def iter_units(task_name: str, reward: str, policy_spec: PolicySpec, seed: int, num_episodes: int,
               workers: int) -> Iterator[dict[str, np.ndarray]]:
    """Yield collected units in episode order, computed by ``workers`` processes (bounded in flight)."""
    units = _units(num_episodes)
    if workers <= 1 or len(units) == 1:
        task, policy = make_task(task_name, reward=reward), make_policy(policy_spec)
        for start, stop in units:
            yield collect(task, policy, seed, range(start, stop), policy_spec.noise_std)
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        pending: list[Future] = []
        it = iter(units)
        for start, stop in it:
            pending.append(pool.submit(_worker, task_name, reward, policy_spec, seed, start, stop))
            if len(pending) >= 2 * workers:
                break
        while pending:
            result = pending.pop(0).result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(_worker, task_name, reward, policy_spec, seed, *nxt))
            yield result


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def opponent_info(task: MPETask, policy: PolicySpec) -> dict[str, Any]:
    """Which opponent drove the non-team agents: the task's frozen one, or the logged co-trained one."""
    if not task.spec.opponents:
        return {}
    if policy.kind == "replay":
        return {"id": "co-trained", "doc": "the MATD3 run's co-trained opponents (their logged actions are replayed)"}
    return task.opponent_info()


def versions() -> dict[str, str]:
    from importlib.metadata import version

    return {p: version(p) for p in ("mpe2", "pettingzoo", "numpy", "datasets", "pyarrow", "macca_hub")}


def build_dataset(task: str, quality: str = "random", num_transitions: int | None = None, seed: int | None = None,
                  output: str | os.PathLike | None = None, overwrite: bool = False, reward: str = "macca",
                  workers: int | None = None, policy: PolicySpec | None = None, progress: bool = True) -> Path:
    """Build one dataset folder atomically and return its path.

    Defaults come from the (task, quality) recipe; ``output`` defaults to the local root
    (``$MACCA_HUB_HOME/datasets/macca/mpe-<task>-<quality>``).
    """
    rec = recipe(task, quality)
    cls = task_class(task)
    num_transitions = rec.num_transitions if num_transitions is None else int(num_transitions)
    if num_transitions <= 0:
        raise ValueError(f"--num-transitions must be a positive number of transitions, got {num_transitions}.")
    seed = rec.seed if seed is None else int(seed)
    policy = policy or rec.policy
    workers = min(2, os.cpu_count() or 1) if workers is None else int(workers)
    if workers <= 0:
        raise ValueError(f"--workers must be positive, got {workers}.")
    repo_id = dataset_repo_id(task, quality)
    output = Path(output) if output is not None else local_repo_path(repo_id, "dataset")
    probe = make_task(task, reward=reward)
    spec = probe.spec
    num_episodes = math.ceil(num_transitions / spec.max_steps)
    row_bytes = 4 * (2 * spec.n_agents * spec.obs_dim + spec.n_agents * spec.act_dim + 2 * spec.state_dim + 4) + 16
    episodes_per_shard = max(1, TARGET_SHARD_BYTES // (row_bytes * spec.max_steps))
    build_command = f"macca-hub build {task} --quality {quality} --num-transitions {num_transitions} --seed {seed}"
    if reward != "macca":
        build_command += f" --reward {reward}"

    with atomic_directory(output, overwrite=overwrite) as tmp:
        writer = DatasetWriter(tmp, spec.n_agents, spec.obs_dim, spec.act_dim, spec.state_dim, spec.action_type)
        buffer: list[dict[str, np.ndarray]] = []
        buffered = 0
        bar = tqdm(total=num_episodes * spec.max_steps, unit="transition", desc=f"build {repo_id}",
                   disable=not progress, file=sys.stderr)
        for part in iter_units(task, reward, policy, seed, num_episodes, workers):
            buffer.append(part)
            buffered += len(np.unique(part["episode_index"]))
            bar.update(len(part["step"]))
            if buffered >= episodes_per_shard:
                writer.add_chunk(_concat(buffer))
                buffer, buffered = [], 0
        if buffer:
            writer.add_chunk(_concat(buffer))
        bar.close()
        from macca_hub.scores import reference_scores

        refs = reference_scores().get(task, {})
        info: dict[str, Any] = {
            "repo_id": repo_id, "pretty_name": f"MPE {task.upper()} {quality}", "task": task,
            "task_description": cls.description, "env_id": spec.env_id, "quality": quality, "reward": reward,
            "reward_doc": cls.reward_doc if reward == "macca" else "stock mpe2 rewards of the team agents",
            "n_agents": spec.n_agents, "obs_dim": spec.obs_dim, "act_dim": spec.act_dim, "state_dim": spec.state_dim,
            "action_type": spec.action_type, "max_steps": spec.max_steps, "team": ", ".join(spec.team),
            "opponent": {"agents": list(spec.opponents), "doc": cls.opponent_doc, **opponent_info(probe, policy)},
            "behaviour_policy": policy.to_info(), "seed": seed, "versions": versions(),
            "builder_version": BUILDER_VERSION, "build_command": build_command,
            "s_random": refs.get("s_random"), "s_expert": refs.get("s_expert"),
        }
        info, stats = writer.finalize(info)
        from macca_hub.cards import write_dataset_card

        write_dataset_card(tmp, info, stats)
    return output
