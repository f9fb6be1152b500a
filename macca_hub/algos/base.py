"""What every offline MARL backbone shares: the batch layout, the common config, the actor and the update API.

All tensors are agent-major (``[n_agents, B, ...]``) so that a stacked network consumes them directly.
An algorithm owns its networks and optimizers; ``update(batch)`` does one round (one gradient step of
every agent's critics and actor) and returns detached loss tensors (no ``.item()``: no host sync).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, ClassVar

import torch
from torch import Tensor, nn

from macca_hub.algos.networks import StackedActor, TwinCritics, clip_grad_norm_per_member_, soft_update_
from macca_hub.utils.configs import cfg
from macca_hub.utils.optim import adam

#: Per-dataset settings of the published OMAR code (cql_alpha, omar_coe) for the MPE tasks; these are the
#: defaults whenever ``alpha`` / ``tau`` are left unset. Task names are ours (cn, pp, world).
PUBLISHED_SETTINGS: dict[str, dict[str, dict[str, float]]] = {
    "cn": {"random": {"alpha": 0.5, "tau": 1.0}, "medium-replay": {"alpha": 1.0, "tau": 1.0},
           "medium": {"alpha": 5.0, "tau": 1.0}, "expert": {"alpha": 5.0, "tau": 1.0}},
    "pp": {"random": {"alpha": 0.5, "tau": 0.9}, "medium-replay": {"alpha": 0.5, "tau": 0.9},
           "medium": {"alpha": 5.0, "tau": 0.7}, "expert": {"alpha": 5.0, "tau": 0.9}},
    "world": {"random": {"alpha": 0.5, "tau": 1.0}, "medium-replay": {"alpha": 1.0, "tau": 0.7},
              "medium": {"alpha": 0.5, "tau": 0.1}, "expert": {"alpha": 5.0, "tau": 0.9}},
}


def published_setting(task: str, quality: str, key: str, fallback: float) -> float:
    """The published per-dataset value of ``key`` ("alpha" or "tau"), else ``fallback``."""
    return float(PUBLISHED_SETTINGS.get(task, {}).get(quality, {}).get(key, fallback))


@dataclasses.dataclass
class Batch:
    """A sampled mini-batch, agent-major. ``rewards`` are per-agent (team, MACCA or ground truth)."""

    observations: Tensor  # [n, B, obs_dim]
    actions: Tensor  # [n, B, act_dim]
    rewards: Tensor  # [n, B]
    next_observations: Tensor  # [n, B, obs_dim]
    not_done: Tensor  # [B] 1.0 unless the episode terminated (truncation still bootstraps)
    next_actions: Tensor | None = None  # [n, B, act_dim] behaviour action at t+1 (MA-ICQ)
    has_next: Tensor | None = None  # [B] whether next_actions exists (not the last step of an episode)


@dataclasses.dataclass
class AlgoConfig:
    """Settings shared by every backbone (defaults: the published MPE settings)."""

    hidden: int = cfg(64, help="hidden units of every per-agent MLP")
    layers: int = cfg(2, help="hidden layers of every per-agent MLP")
    gamma: float = cfg(0.95, help="discount factor")
    lr: float = cfg(0.01, help="Adam learning rate of actors and critics")
    polyak: float = cfg(0.01, help="soft target update rate (target += polyak * (online - target)) every round")
    grad_clip: float = cfg(0.5, help="per-agent gradient-norm clip of critics and actors")
    actor_l2: float = cfg(1e-3, help="weight of the squared-action penalty in the actor loss")

    def resolve(self, task: str, quality: str) -> "AlgoConfig":
        """Fill unset per-dataset values from the published table (subclasses override)."""
        return self


class OfflineAlgorithm(nn.Module):
    """Base of I-CQL, OMAR and MA-ICQ: stacked actor + twin critics (+ targets) of every agent."""

    name: ClassVar[str]
    config_class: ClassVar[type[AlgoConfig]]

    def __init__(self, config: AlgoConfig, n_agents: int, obs_dim: int, act_dim: int) -> None:
        super().__init__()
        self.config, self.n_agents, self.obs_dim, self.act_dim = config, n_agents, obs_dim, act_dim
        self.actor = StackedActor(n_agents, obs_dim, act_dim, config.hidden, config.layers)
        self.critic = TwinCritics(n_agents, obs_dim, act_dim, config.hidden, config.layers)
        self.target_actor = StackedActor(n_agents, obs_dim, act_dim, config.hidden, config.layers)
        self.target_critic = TwinCritics(n_agents, obs_dim, act_dim, config.hidden, config.layers)
        self.target_actor.load_state_dict(self.actor.state_dict())
        self.target_critic.load_state_dict(self.critic.state_dict())
        for p in (*self.target_actor.parameters(), *self.target_critic.parameters()):
            p.requires_grad_(False)
        self.critic_opt = adam(self.critic.parameters(), config.lr)
        self.actor_opt = adam(self.actor.parameters(), config.lr)
        #: Hook applied to every gradient before a step (multi-process training averages them here).
        self.grad_hook: Callable[[list[nn.Parameter]], None] | None = None

    # -- API ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def act(self, observations: Tensor) -> Tensor:
        """Deterministic actions ``[n, ..., act_dim]`` of ``observations [n, ..., obs_dim]``."""
        return self.actor(observations)

    def update(self, batch: Batch) -> dict[str, Tensor]:
        """One round: a gradient step of every agent's critics, then of every agent's actor."""
        critic_loss, logs = self.critic_loss(batch)
        self._step(self.critic_opt, list(self.critic.parameters()), critic_loss)
        actor_loss, actor_logs = self.actor_loss(batch)
        self._step(self.actor_opt, list(self.actor.parameters()), actor_loss)
        soft_update_(self.target_critic, self.critic, self.config.polyak)
        soft_update_(self.target_actor, self.actor, self.config.polyak)
        return {"critic_loss": critic_loss.detach(), "actor_loss": actor_loss.detach(), **logs, **actor_logs}

    def critic_loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        raise NotImplementedError

    def actor_loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        raise NotImplementedError

    # -- helpers -----------------------------------------------------------------------------------
    def _step(self, opt: torch.optim.Optimizer, params: list[nn.Parameter], loss: Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_hook is not None:
            self.grad_hook(params)
        if self.config.grad_clip > 0:
            clip_grad_norm_per_member_(params, self.n_agents, self.config.grad_clip)
        opt.step()

    def td_target(self, batch: Batch, next_actions: Tensor) -> Tensor:
        """``r + gamma * min_k Q'_k(o', a')`` per agent, ``[n, B]`` (no gradient)."""
        with torch.no_grad():
            q_next = self.target_critic(batch.next_observations, next_actions).min(dim=0).values
            return batch.rewards + self.config.gamma * batch.not_done * q_next

    def actor_penalty(self, actions: Tensor) -> Tensor:
        """Squared-action penalty, summed over agents (each agent's mean)."""
        return self.config.actor_l2 * actions.pow(2).mean(dim=(1, 2)).sum()
