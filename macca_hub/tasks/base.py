"""The task abstraction: one mpe2 scenario seen from the learning team's side.

A task owns a real mpe2 environment (``raw_env`` with continuous actions, 25 steps) and exposes
only what offline MARL needs: the team's stacked observations ``[n_agents, obs_dim]``, the global
state, 2-D forces as actions, and per-agent (individual) rewards whose sum is the team reward.
Non-team agents (the prey, the good agents of World) are driven by a fixed opponent policy that
is part of the task definition.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, ClassVar

import numpy as np

#: Maps opponents' stacked observations ``[n_opponents, opp_obs_dim]`` to forces ``[n_opponents, 2]``.
OpponentPolicy = Callable[[np.ndarray], np.ndarray]

REWARD_VARIANTS = ("macca", "mpe2")


def episode_seed(seed: int, episode_index: int) -> int:
    """Independent, reproducible seed of one episode; episodes can be built in any order or worker."""
    return int(np.random.SeedSequence([int(seed), int(episode_index)]).generate_state(1, dtype=np.uint32)[0])


def force_to_mpe2(force: np.ndarray) -> np.ndarray:
    """Map 2-D forces in [-1, 1] to mpe2's 5-component movement action [noop, -x, +x, -y, +y].

    mpe2 computes u_x = a[2] - a[1] and u_y = a[4] - a[3], so splitting each component into its
    positive and negative part reproduces the force exactly.
    """
    f = np.clip(np.asarray(force, dtype=np.float64), -1.0, 1.0)
    out = np.zeros(f.shape[:-1] + (5,))
    out[..., 1] = np.maximum(-f[..., 0], 0.0)
    out[..., 2] = np.maximum(f[..., 0], 0.0)
    out[..., 3] = np.maximum(-f[..., 1], 0.0)
    out[..., 4] = np.maximum(f[..., 1], 0.0)
    return out


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """Static facts about a task, recorded in every dataset's ``meta/info.json``."""

    name: str
    env_id: str
    n_agents: int
    obs_dim: int
    act_dim: int
    state_dim: int
    max_steps: int
    team: tuple[str, ...]
    opponents: tuple[str, ...]
    opponent_obs_dim: int
    action_type: str = "continuous"


@dataclasses.dataclass
class StepResult:
    observations: np.ndarray  # [n_agents, obs_dim] float32, after the step
    state: np.ndarray  # [state_dim] float32, after the step
    individual_rewards: np.ndarray  # [n_agents] float32
    team_reward: float
    terminated: bool
    truncated: bool


class MPETask:
    """Base class of the MPE tasks; a subclass fills in the class attributes and ``macca_rewards``."""

    name: ClassVar[str]
    env_id: ClassVar[str]
    description: ClassVar[str]
    reward_doc: ClassVar[str]
    opponent_doc: ClassVar[str] = "none (every agent is in the team)"
    opponent_id: ClassVar[str | None] = None  # shipped frozen opponent under macca_hub/assets/policies/
    env_kwargs: ClassVar[dict] = {}
    team_prefixes: ClassVar[tuple[str, ...]]
    max_steps: ClassVar[int] = 25

    def __init__(self, reward: str = "macca", opponent_policy: OpponentPolicy | None = None) -> None:
        if reward not in REWARD_VARIANTS:
            raise ValueError(f"Unknown reward variant {reward!r}; choose one of {list(REWARD_VARIANTS)}.")
        import importlib

        module = importlib.import_module(f"mpe2.{self.env_id}")
        self.env = module.raw_env(continuous_actions=True, max_cycles=self.max_steps, **self.env_kwargs)
        self.reward = reward
        self.world = self.env.world
        self.scenario = self.env.scenario
        agents = self.world.agents
        self.team_agents = [a for a in agents if a.name.startswith(self.team_prefixes)]
        self.opponent_agents = [a for a in agents if not a.name.startswith(self.team_prefixes)]
        self._team_idx = [agents.index(a) for a in self.team_agents]
        self._opp_idx = [agents.index(a) for a in self.opponent_agents]
        self._spaces = [self.env.action_spaces[a.name] for a in agents]
        self.opponent_policy = opponent_policy if opponent_policy is not None else self.default_opponent()
        obs = self._all_observations()
        self.spec = TaskSpec(
            name=self.name, env_id=self.env_id, n_agents=len(self.team_agents),
            obs_dim=int(obs[self._team_idx[0]].shape[0]), act_dim=2,
            state_dim=int(sum(o.shape[0] for o in obs)), max_steps=self.max_steps,
            team=tuple(a.name for a in self.team_agents),
            opponents=tuple(a.name for a in self.opponent_agents),
            opponent_obs_dim=int(obs[self._opp_idx[0]].shape[0]) if self._opp_idx else 0,
        )
        self.t = 0

    # -- task-specific parts -------------------------------------------------------------------
    def macca_rewards(self) -> np.ndarray:
        """Individual rewards of the team agents in the current world state, ``[n_agents]``."""
        raise NotImplementedError

    def default_opponent(self) -> OpponentPolicy | None:
        """The frozen, shipped policy ``opponent_id`` driving the non-team agents (``None`` when there are none)."""
        if self.opponent_id is None:
            return None
        from dataset_builders.policies import frozen_opponent

        return frozen_opponent(self.opponent_id)

    def opponent_info(self) -> dict:
        """Id and sha256 of the frozen opponent, recorded in every dataset's ``meta/info.json``."""
        if self.opponent_id is None:
            return {}
        from dataset_builders.policies import frozen_opponent_info

        return frozen_opponent_info(self.opponent_id)

    # -- episode API ---------------------------------------------------------------------------
    def _all_observations(self) -> list[np.ndarray]:
        return [self.scenario.observation(a, self.world).astype(np.float32) for a in self.world.agents]

    def _split(self, obs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        team = np.stack([obs[i] for i in self._team_idx])
        opp = np.stack([obs[i] for i in self._opp_idx]) if self._opp_idx else np.zeros((0, 0), np.float32)
        return team, np.concatenate(obs), opp

    def reset(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Start an episode from ``seed``; returns ``(observations [n, obs_dim], state [state_dim])``."""
        self.env.reset(seed=int(seed))
        self.t = 0
        team, state, self._opp_obs = self._split(self._all_observations())
        return team, state

    def step(self, actions: np.ndarray) -> StepResult:
        """Apply the team's forces ``[n_agents, 2]`` (clipped to [-1, 1]) and the opponents' policy."""
        actions = np.asarray(actions, dtype=np.float64)
        if actions.shape != (self.spec.n_agents, 2):
            raise ValueError(f"{self.name}: expected actions of shape {(self.spec.n_agents, 2)}, got {actions.shape}")
        forces = np.zeros((len(self.world.agents), 2))
        forces[self._team_idx] = actions
        if self._opp_idx:
            forces[self._opp_idx] = self.opponent_policy(self._opp_obs)
        moves = force_to_mpe2(forces)
        for i, agent in enumerate(self.world.agents):
            scenario_action = [moves[i]]
            if not agent.silent:  # the World leader: its channel is held silent (all-zero message)
                scenario_action.append(np.zeros(self.world.dim_c))
            self.env._set_action(scenario_action, agent, self._spaces[i])
        self.world.step()
        self.t += 1
        if self.reward == "macca":
            rewards = self.macca_rewards()
        else:
            rewards = np.array([self.scenario.reward(a, self.world) for a in self.team_agents])
        rewards = rewards.astype(np.float32)
        team, state, self._opp_obs = self._split(self._all_observations())
        return StepResult(team, state, rewards, float(rewards.sum(dtype=np.float64)),
                          terminated=False, truncated=self.t >= self.max_steps)

    # -- helpers shared by the subclasses ------------------------------------------------------
    def team_contacts(self) -> np.ndarray:
        """For each team agent, how many other team agents it touches now (``[n_agents]``, int)."""
        pos = self._positions(self.team_agents)
        sizes = np.array([a.size for a in self.team_agents])
        touch = self._touching(pos, pos, sizes, sizes)
        np.fill_diagonal(touch, False)
        return touch.sum(axis=1)

    @staticmethod
    def _positions(agents: list) -> np.ndarray:
        return np.array([a.state.p_pos for a in agents], dtype=np.float64)

    @staticmethod
    def _touching(a: np.ndarray, b: np.ndarray, size_a: np.ndarray, size_b: np.ndarray) -> np.ndarray:
        """Pairwise contact matrix as mpe2 defines it: distance < sum of sizes."""
        d = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)
        return d < (size_a[:, None] + size_b[None, :])


def flee_nearest(opp_obs: np.ndarray, pursuer_slice: slice, n_pursuers: int) -> np.ndarray:
    """Scripted escape: run away from the nearest pursuer, pulled back toward the arena centre.

    ``opp_obs[:, pursuer_slice]`` holds the pursuers' positions relative to each opponent.
    """
    rel = opp_obs[:, pursuer_slice].reshape(len(opp_obs), n_pursuers, 2)
    nearest = rel[np.arange(len(opp_obs)), np.linalg.norm(rel, axis=-1).argmin(axis=1)]
    away = -nearest / (np.linalg.norm(nearest, axis=-1, keepdims=True) + 1e-8)
    home = -opp_obs[:, 2:4]  # self position is obs[2:4]; pull toward the centre
    force = away + 0.5 * home
    return np.clip(force / (np.linalg.norm(force, axis=-1, keepdims=True) + 1e-8), -1, 1)
