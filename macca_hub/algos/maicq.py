"""MA-ICQ: implicit constraint Q-learning (Yang et al., NeurIPS 2021) adapted to continuous actions.

ICQ never queries the critic on actions outside the data. Each agent's critic target uses the
behaviour's own next action ``a'`` from the dataset, re-weighted by a softmax over the mini-batch
(the batch estimates the normaliser of the implicit policy ``pi ~ mu * exp(Q / critic_beta)``):

    y = r + gamma * B * softmax_batch(Q'(o', a') / critic_beta) * Q'(o', a')

The actor is advantage-weighted regression onto dataset actions (a fixed-variance Gaussian policy, so
the log-likelihood is a squared error), with weights ``B * softmax_batch(A / actor_beta)`` and
``A = Q(o, a) - Q(o, pi(o))``. Rows whose next action is unknown (the last step of an episode) use
the target policy's action instead. Per-agent critics are the twin ensemble (min of the two).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from macca_hub.algos.base import AlgoConfig, Batch, OfflineAlgorithm
from macca_hub.utils.configs import cfg


@dataclasses.dataclass
class MAICQConfig(AlgoConfig):
    critic_beta: float = cfg(100.0, help="temperature of the batch softmax that weights critic targets "
                                         "(larger = closer to plain SARSA on the data)")
    actor_beta: float = cfg(10.0, help="temperature of the advantage weights of the actor regression")
    max_weight: float = cfg(100.0, help="clip of the batch-normalised weights (numerical safety)")


class MAICQ(OfflineAlgorithm):
    name = "maicq"
    config_class = MAICQConfig
    config: MAICQConfig
    needs_next_actions = True

    def batch_weights(self, x: Tensor, beta: float) -> Tensor:
        """``B * softmax(x / beta)`` over the batch axis (mean 1 per agent), clipped."""
        return (x.shape[-1] * torch.softmax(x / beta, dim=-1)).clamp(max=self.config.max_weight)

    def critic_loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        if batch.next_actions is None or batch.has_next is None:
            raise ValueError("MA-ICQ needs next actions from the dataset; sample batches with next_actions=True.")
        with torch.no_grad():
            fallback = self.target_actor(batch.next_observations)
            next_a = torch.where(batch.has_next[None, :, None], batch.next_actions, fallback)
            q_next = self.target_critic(batch.next_observations, next_a).min(dim=0).values  # [n, B]
            w = self.batch_weights(q_next, self.config.critic_beta)
            y = batch.rewards + self.config.gamma * batch.not_done * w * q_next
        q = self.critic(batch.observations, batch.actions)
        td = (q - y.unsqueeze(0)).pow(2).mean(dim=-1)
        return td.sum(), {"td_loss": td.sum().detach(), "q_mean": q.mean().detach(),
                          "critic_weight_max": w.max().detach()}

    def actor_loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        obs = batch.observations
        a = self.actor(obs)
        with torch.no_grad():
            q_data = self.critic(obs, batch.actions).min(dim=0).values
            q_pi = self.critic(obs, a).min(dim=0).values
            w = self.batch_weights(q_data - q_pi, self.config.actor_beta)
        nll = (a - batch.actions).pow(2).sum(dim=-1)  # [n, B]
        loss = (w * nll).mean(dim=-1).sum() + self.actor_penalty(a)
        return loss, {"actor_weight_max": w.max().detach()}
