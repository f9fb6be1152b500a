"""Per-agent-loop I-CQL / OMAR: the structure of the public reference code, for timing comparisons only.

One small ``nn.Sequential`` per agent and per critic, one optimizer per agent, a Python loop over agents
for every update, and replay sampling with ``np.random.choice(size, batch, replace=False)`` for each
agent. The maths equals ``macca_hub.algos`` (same losses, same hyper-parameters), so the rounds/s ratio
measures only the implementation. Written from the papers, not copied from the reference code.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def mlp(in_dim: int, out_dim: int, hidden: int, tanh: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                               nn.Linear(hidden, out_dim)]
    if tanh:
        layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class LoopAgent:
    def __init__(self, obs_dim: int, act_dim: int, hidden: int, lr: float) -> None:
        self.actor = mlp(obs_dim, act_dim, hidden, tanh=True)
        self.q1, self.q2 = mlp(obs_dim + act_dim, 1, hidden), mlp(obs_dim + act_dim, 1, hidden)
        self.t_actor, self.t_q1, self.t_q2 = (copy.deepcopy(m) for m in (self.actor, self.q1, self.q2))
        self.critic_params = [*self.q1.parameters(), *self.q2.parameters()]
        self.critic_opt = torch.optim.Adam(self.critic_params, lr=lr)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=lr)


class LoopICQL:
    """I-CQL (or OMAR with ``omar=True``) as a loop over per-agent networks."""

    def __init__(self, n_agents: int, obs_dim: int, act_dim: int, omar: bool, hidden: int = 64, lr: float = 0.01,
                 gamma: float = 0.95, polyak: float = 0.01, alpha: float = 5.0, tau: float = 1.0,
                 cql_samples: int = 10, iters: int = 3, samples: int = 10) -> None:
        self.agents = [LoopAgent(obs_dim, act_dim, hidden, lr) for _ in range(n_agents)]
        self.act_dim, self.omar = act_dim, omar
        self.gamma, self.polyak, self.alpha, self.tau = gamma, polyak, alpha, tau
        self.cql_samples, self.iters, self.samples = cql_samples, iters, samples

    def update_agent(self, i: int, obs, act, rew, next_obs, not_done) -> None:
        ag = self.agents[i]
        o, a, r, no = obs[:, i], act[:, i], rew, next_obs[:, i]
        with torch.no_grad():
            na = ag.t_actor(no)
            na = (na + (torch.randn_like(na) * 0.2).clamp(-0.5, 0.5)).clamp(-1, 1)
            x = torch.cat([no, na], 1)
            y = r[:, None] + self.gamma * not_done[:, None] * torch.min(ag.t_q1(x), ag.t_q2(x))
        x = torch.cat([o, a], 1)
        q1, q2 = ag.q1(x), ag.q2(x)
        loss = F.mse_loss(q1, y) + F.mse_loss(q2, y)
        B, K = o.shape[0], self.cql_samples
        ro = o.unsqueeze(1).repeat(1, K, 1).view(B * K, -1)
        ra = torch.empty(B * K, self.act_dim).uniform_(-1, 1)
        xr = torch.cat([ro, ra], 1)
        log_p = self.act_dim * math.log(0.5)
        for q, qd in ((ag.q1, q1), (ag.q2, q2)):
            lse = torch.logsumexp(q(xr).view(B, K) - log_p, dim=1, keepdim=True)
            loss = loss + self.alpha * (lse - qd).mean()
        ag.critic_opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(ag.critic_params, 0.5)
        ag.critic_opt.step()

        pi = ag.actor(o)
        q_pi = ag.q1(torch.cat([o, pi], 1))
        if self.omar:
            with torch.no_grad():
                mu, sigma = torch.zeros(B, self.act_dim), torch.full((B, self.act_dim), 2.0)
                so = o.unsqueeze(1).repeat(1, self.samples, 1).view(B * self.samples, -1)
                for _ in range(self.iters):
                    s = (mu[:, None] + sigma[:, None] * torch.randn(B, self.samples, self.act_dim)).clamp(-1, 1)
                    qs = ag.q1(torch.cat([so, s.view(B * self.samples, -1)], 1)).view(B, self.samples)
                    w = torch.softmax(qs, 1)[..., None]
                    mu = (w * s).sum(1)
                    sigma = ((s - mu[:, None]) ** 2).mean(1).sqrt()
                bq, bi = qs.max(1)
                ba = s[torch.arange(B), bi]
                target = torch.where((bq > q_pi.detach()[:, 0])[:, None], ba, pi.detach())
            ploss = self.tau * F.mse_loss(pi, target) - (1 - self.tau) * q_pi.mean()
        else:
            ploss = -q_pi.mean()
        ploss = ploss + 1e-3 * (pi ** 2).mean()
        ag.actor_opt.zero_grad()
        ploss.backward()
        nn.utils.clip_grad_norm_(ag.actor.parameters(), 0.5)
        ag.actor_opt.step()

    def soft_update(self) -> None:
        with torch.no_grad():
            for ag in self.agents:
                for t, s in ((ag.t_actor, ag.actor), (ag.t_q1, ag.q1), (ag.t_q2, ag.q2)):
                    for pt, ps in zip(t.parameters(), s.parameters()):
                        pt.mul_(1 - self.polyak).add_(self.polyak * ps)


def loop_round(algo: LoopICQL, data: dict[str, np.ndarray], batch: int, causal=None) -> None:
    """One round as the reference does it: each agent samples its own batch without replacement.

    With ``causal = (model, optimizer)`` the causal reward model takes one step on the first agent's
    batch and relabels every agent's batch (MACCA's alternate paradigm).
    """
    size = len(data["team_reward"])
    for i in range(len(algo.agents)):
        idx = np.random.choice(size, batch, replace=False)
        obs, act = torch.from_numpy(data["observations"][idx]), torch.from_numpy(data["actions"][idx])
        rew = torch.from_numpy(data["team_reward"][idx])
        nobs = torch.from_numpy(data["next_observations"][idx])
        if causal is not None:
            model, opt = causal
            if i == 0:
                loss, _ = model.loss(obs, act, rew)
                opt.zero_grad()
                loss.backward()
                opt.step()
            rew = model.rewards(obs, act)[:, i]
        algo.update_agent(i, obs, act, rew, nobs, torch.ones(batch))
    algo.soft_update()
