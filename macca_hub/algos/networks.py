"""Per-agent networks stacked along a leading member axis, so one matmul serves every agent.

Independent learners are usually written as a Python loop over small ``nn.Sequential``s, one per
agent. Here agent ``i``'s layer is slice ``i`` of a weight tensor ``[members, in, out]`` and a layer
is one ``torch.baddbmm``: the same maths, one kernel launch for all agents. Because Adam is
elementwise, one optimizer over the stacked tensors is exactly one optimizer per agent.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class StackedLinear(nn.Module):
    """``members`` independent linear layers: ``x [m, N, in] -> [m, N, out]`` (``nn.Linear`` init)."""

    def __init__(self, members: int, in_features: int, out_features: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(members, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(members, 1, out_features).uniform_(-bound, bound))

    def forward(self, x: Tensor) -> Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class StackedMLP(nn.Module):
    """``members`` MLPs (ReLU hidden layers) evaluated together: ``x [m, ..., in] -> [m, ..., out]``."""

    def __init__(self, members: int, in_dim: int, out_dim: int, hidden: int = 64, layers: int = 2,
                 output: str | None = None) -> None:
        super().__init__()
        dims = [in_dim] + [hidden] * layers + [out_dim]
        self.layers = nn.ModuleList(StackedLinear(members, a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.output = output

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        h = x.reshape(shape[0], -1, shape[-1])
        for k, layer in enumerate(self.layers):
            h = layer(h)
            if k < len(self.layers) - 1:
                h = torch.relu(h)
        if self.output == "tanh":
            h = torch.tanh(h)
        return h.reshape(*shape[:-1], h.shape[-1])


class StackedActor(StackedMLP):
    """One deterministic tanh policy per agent: ``obs [n, ..., obs_dim] -> actions [n, ..., act_dim]``."""

    def __init__(self, n_agents: int, obs_dim: int, act_dim: int, hidden: int = 64, layers: int = 2) -> None:
        super().__init__(n_agents, obs_dim, act_dim, hidden, layers, output="tanh")


class TwinCritics(nn.Module):
    """Twin Q-functions of every agent as one ensemble of ``2 * n_agents`` members on ``(o_i, a_i)``.

    Member ``k * n_agents + i`` is critic ``k`` (0 or 1) of agent ``i``. The first layer is split into
    an observation part and an action part, so K candidate actions of one observation (CQL samples,
    OMAR's zeroth-order search) reuse one observation product instead of K: exact, and cheaper.
    """

    def __init__(self, n_agents: int, obs_dim: int, act_dim: int, hidden: int = 64, layers: int = 2) -> None:
        super().__init__()
        self.n_agents, self.obs_dim = n_agents, obs_dim
        self.net = StackedMLP(2 * n_agents, obs_dim + act_dim, 1, hidden, layers)

    def forward(self, obs: Tensor, actions: Tensor, members: int = 2, detach: bool = False) -> Tensor:
        """Q-values of ``actions``.

        ``obs [n, B, obs_dim]``; ``actions [n, B, act_dim]`` or ``[n, B, K, act_dim]`` (K candidates per
        observation). Returns ``[members, n, B]`` or ``[members, n, B, K]``; ``members=1`` evaluates only
        the first critic of each agent. ``detach=True`` stops gradients into the critic weights (the
        actor's loss needs only d Q / d action), which skips computing unused weight gradients.
        """
        n, m = self.n_agents, members * self.n_agents
        many = actions.dim() == 4
        acts = actions if many else actions.unsqueeze(2)
        B, K = acts.shape[1], acts.shape[2]
        layers = self.net.layers
        params = [(lay.weight[:m], lay.bias[:m]) for lay in layers]
        if detach:
            params = [(w.detach(), b.detach()) for w, b in params]
        w0, b0 = params[0]
        w_obs, w_act = w0[:, : self.obs_dim], w0[:, self.obs_dim:]
        obs_m = obs.repeat(members, 1, 1)  # [m, B, obs]
        acts_m = acts.repeat(members, 1, 1, 1).reshape(m, B * K, -1)
        h_obs = torch.baddbmm(b0, obs_m, w_obs)  # [m, B, H], once per observation
        # In-place add / ReLU: no extra [m, B*K, H] buffers (autograd needs neither overwritten value).
        h = torch.bmm(acts_m, w_act).reshape(m, B, K, -1)
        h = h.add_(h_obs.unsqueeze(2)).relu_().reshape(m, B * K, -1)
        for k, (w, b) in enumerate(params[1:]):
            h = torch.baddbmm(b, h, w)
            if k < len(params) - 2:
                h = h.relu_()
        q = h.reshape(members, n, B, K)
        return q if many else q.squeeze(-1)


def soft_update_(target: nn.Module, source: nn.Module, rate: float) -> None:
    """Polyak averaging of every parameter in one fused call: ``target += rate * (source - target)``."""
    with torch.no_grad():
        torch._foreach_lerp_(list(target.parameters()), list(source.parameters()), rate)


def clip_grad_norm_per_member_(params: list[nn.Parameter], groups: int, max_norm: float) -> Tensor:
    """Clip gradients to ``max_norm`` separately for each agent (what a per-agent loop would do).

    Every parameter has a leading member axis whose size is a multiple of ``groups`` (the agents);
    member ``k * groups + i`` belongs to agent ``i``. Vectorised, and no host sync.
    """
    sq = None
    for p in params:
        g = p.grad
        if g is None:
            continue
        s = g.pow(2).reshape(-1, groups, g[0].numel()).sum(dim=(0, 2))
        sq = s if sq is None else sq + s
    if sq is None:
        return torch.zeros(groups)
    norms = sq.sqrt()
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for p in params:
        if p.grad is not None:
            reps = p.grad.shape[0] // groups
            p.grad.mul_(scale.repeat(reps).reshape(-1, *([1] * (p.grad.dim() - 1))))
    return norms
