"""OMAR: I-CQL critics plus actor rectification by zeroth-order optimisation (Pan et al., ICML 2022).

For every observation the critic's best action is searched by a few iterations of: sample
``num_samples`` actions from N(mu, sigma) (clipped to [-1, 1]), re-fit mu to the Q-softmax-weighted
mean of the samples and sigma to their spread around it. The best sample of the last iteration
replaces the policy's own action when its Q is higher, and the actor regresses toward it:

    actor loss = tau * ||pi(o) - a*||^2  -  (1 - tau) * Q_1(o, pi(o))  + small action penalty.

The search is one batched tensor program for all agents, observations and samples.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import torch
from torch import Tensor

from macca_hub.algos.base import Batch, published_setting
from macca_hub.algos.icql import ICQL, ICQLConfig
from macca_hub.utils.configs import cfg


@dataclasses.dataclass
class OMARConfig(ICQLConfig):
    tau: float | None = cfg(None, help="weight of the rectification (regression) term against the Q term "
                                       "(unset: the published per-dataset value, cn 1.0; else 1.0)")
    omar_iters: int = cfg(3, help="iterations of the zeroth-order search")
    omar_samples: int = cfg(10, help="actions sampled per observation and iteration")
    omar_mu: float = cfg(0.0, help="initial mean of the search distribution")
    omar_sigma: float = cfg(2.0, help="initial std of the search distribution")

    def resolve(self, task: str, quality: str) -> "OMARConfig":
        out = super().resolve(task, quality)
        if out.tau is None:
            out = dataclasses.replace(out, tau=published_setting(task, quality, "tau", 1.0))
        return out


class OMAR(ICQL):
    name = "omar"
    config_class = OMARConfig
    config: OMARConfig

    @torch.no_grad()
    def search(self, obs: Tensor, q1: Callable[[Tensor], Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """Zeroth-order search of ``argmax_a Q_1(o, a)``: returns (best action [n,B,A], its Q [n,B]).

        ``q1``: ``self.critic.evaluator(obs, members=1)`` when the caller has prepared it already."""
        c = self.config
        n, B, _ = obs.shape
        mu = torch.full((n, B, 1, self.act_dim), c.omar_mu, device=obs.device)
        sigma = torch.full_like(mu, c.omar_sigma)
        noise = torch.randn(c.omar_iters, n, B, c.omar_samples, self.act_dim, device=obs.device)  # one call for all
        if q1 is None:
            q1 = self.critic.evaluator(obs, members=1)  # weights and the observation part prepared once
        for it in range(c.omar_iters):
            samples = (mu + sigma * noise[it]).clamp(-1, 1)
            q = q1(samples)[0]  # [n, B, K]
            # softmax over K written out: torch.softmax over a last axis of ~10 runs ~3x slower on CPU
            e = (q - q.amax(dim=-1, keepdim=True)).exp_().unsqueeze(-1)
            mu = (e * samples).sum(dim=2, keepdim=True) / e.sum(dim=2, keepdim=True)
            sigma = (samples - mu).pow(2).mean(dim=2, keepdim=True).sqrt()
        best_q, best = q.max(dim=-1)
        best_a = samples.gather(2, best[..., None, None].expand(n, B, 1, self.act_dim)).squeeze(2)
        return best_a, best_q

    def actor_loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        tau = self.config.tau if self.config.tau is not None else 1.0
        obs = batch.observations
        a = self.actor(obs)
        q_eval = self.critic.evaluator(obs, members=1)
        if tau == 1.0:
            # The Q term has weight 0 (cn's published setting): Q_1 of the policy's action only picks the target,
            # so it needs no gradient and goes through the search's prepared no-grad critic.
            q1 = q_eval(a.detach().unsqueeze(2))[0, ..., 0]  # [n, B]
            q_term = q1.new_zeros(())
        else:
            q1 = self.critic(obs, a, members=1, detach=True)[0]  # [n, B]
            q_term = (1.0 - tau) * q1.mean(dim=-1).sum()
        best_a, best_q = self.search(obs, q_eval)
        target = torch.where((best_q > q1.detach()).unsqueeze(-1), best_a, a.detach())
        mimic = (a - target).pow(2).mean(dim=(1, 2))  # [n]
        loss = tau * mimic.sum() - q_term + self.actor_penalty(a)
        return loss, {"mimic_loss": mimic.sum().detach()}
