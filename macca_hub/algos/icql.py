"""I-CQL: independent TD3-style learners (twin critics on the agent's own ``(o_i, a_i)``) with a CQL penalty.

Critic loss of agent i (summed over agents, so each agent's gradient is its own):

    sum_k  E[(Q_k(o, a) - y)^2]  +  alpha * sum_k E[ T * logsumexp_j((Q_k(o, a_j) - log p(a_j)) / T) - Q_k(o, a) ]

with ``a_j`` uniform in [-1, 1]^2 (``cql_samples`` per observation, log p = log 0.5^2), ``T`` = ``lse_temp``,
and ``y = r_i + gamma * min_k Q'_k(o', clip(pi'(o') + clip(noise)))``. Actor: ``-Q_1(o, pi(o))`` + a small
action penalty. All agents and both critics are evaluated by one stacked network per role.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import Tensor

from macca_hub.algos.base import AlgoConfig, Batch, OfflineAlgorithm, published_setting
from macca_hub.utils.configs import cfg


@dataclasses.dataclass
class ICQLConfig(AlgoConfig):
    alpha: float | None = cfg(None, help="CQL penalty weight (unset: the published per-dataset value, "
                                         "e.g. cn expert/medium 5.0, random 0.5; else 1.0)")
    cql_samples: int = cfg(10, help="uniform random actions per observation in the CQL log-sum-exp")
    lse_temp: float = cfg(1.0, help="temperature of the CQL log-sum-exp")
    target_noise: float = cfg(0.2, help="std of the TD3 target-policy smoothing noise")
    noise_clip: float = cfg(0.5, help="clip of the target-policy smoothing noise")

    def resolve(self, task: str, quality: str) -> "ICQLConfig":
        if self.alpha is None:
            return dataclasses.replace(self, alpha=published_setting(task, quality, "alpha", 1.0))
        return self


class ICQL(OfflineAlgorithm):
    name = "icql"
    config_class = ICQLConfig
    config: ICQLConfig

    def next_actions(self, next_obs: Tensor) -> Tensor:
        """TD3 target action: target policy plus clipped Gaussian noise, clipped to the action box."""
        with torch.no_grad():
            a = self.target_actor(next_obs)
            if self.config.target_noise > 0:
                noise = (torch.randn_like(a) * self.config.target_noise).clamp(-self.config.noise_clip,
                                                                               self.config.noise_clip)
                a = (a + noise).clamp(-1.0, 1.0)
            return a

    def cql_penalty(self, q_data: Tensor, q_rand: Tensor) -> Tensor:
        """``T logsumexp((Q(o, a_rand) - log p) / T) - Q(o, a_data)``, mean over the batch: ``[2, n]``."""
        log_p = self.act_dim * math.log(0.5)
        t = self.config.lse_temp
        lse = torch.logsumexp((q_rand - log_p) / t, dim=-1) * t
        return (lse - q_data).mean(dim=-1)

    def critic_loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        alpha = self.config.alpha if self.config.alpha is not None else 1.0
        y = self.td_target(batch, self.next_actions(batch.next_observations))
        obs, acts = batch.observations, batch.actions.unsqueeze(2)  # [n, B, 1, A]
        if alpha > 0:  # the data action and the CQL samples go through the critics as one batch of rows
            n, B, _ = obs.shape
            rand = torch.empty(n, B, self.config.cql_samples, self.act_dim, device=obs.device).uniform_(-1.0, 1.0)
            acts = torch.cat([acts, rand], dim=2)
        q_all = self.critic(obs, acts)  # [2, n, B, 1 (+ K)]
        q = q_all[..., 0]
        td = (q - y.unsqueeze(0)).pow(2).mean(dim=-1)  # [2, n]
        penalty = self.cql_penalty(q, q_all[..., 1:]) if alpha > 0 else torch.zeros_like(td)
        loss = td.sum() + alpha * penalty.sum()
        return loss, {"td_loss": td.sum().detach(), "cql_penalty": penalty.sum().detach(),
                      "q_mean": q.mean().detach()}

    def actor_loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        a = self.actor(batch.observations)
        q1 = self.critic(batch.observations, a, members=1, detach=True)[0]  # [n, B]
        return -q1.mean(dim=-1).sum() + self.actor_penalty(a), {}
