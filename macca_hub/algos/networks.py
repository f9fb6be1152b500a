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


class _ScalarHead(torch.autograd.Function):
    """``h [m, R, H] @ w [m, H, 1] + b`` with the products laid out for speed on CPU.

    A batched matmul with one output column runs as a slow general GEMM (8-13 ms for 6 x 11k x 64
    rows on one core); the same products as a row-vector times matrix (forward, weight gradient) and
    a broadcast multiply (input gradient) take 2-4 ms. Same values up to float rounding.
    """

    @staticmethod
    def forward(ctx, h: Tensor, w: Tensor, b: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(h, w)
        return torch.bmm(w.transpose(1, 2), h.transpose(1, 2)).transpose(1, 2) + b

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:  # type: ignore[override]
        h, w = ctx.saved_tensors
        grad_h = grad * w.transpose(1, 2) if ctx.needs_input_grad[0] else None
        grad_w = torch.bmm(grad.transpose(1, 2), h).transpose(1, 2) if ctx.needs_input_grad[1] else None
        grad_b = grad.sum(dim=1, keepdim=True) if ctx.needs_input_grad[2] else None
        return grad_h, grad_w, grad_b


class TwinCritics(nn.Module):
    """Twin Q-functions of every agent as one ensemble of ``2 * n_agents`` members on ``(o_i, a_i)``.

    Member ``k * n_agents + i`` is critic ``k`` (0 or 1) of agent ``i``. K candidate actions per
    observation (CQL samples, OMAR's zeroth-order search) are K rows of one batched matmul per layer.
    (Splitting the first layer into an observation part computed once and an action part per
    candidate saves multiply-adds but measured slower on CPU: the 2-wide action product and the
    broadcast add are memory-bound passes over the whole activation.)
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
        params = [(lay.weight[:m], lay.bias[:m]) for lay in self.net.layers]
        if detach:
            params = [(w.detach(), b.detach()) for w, b in params]
        x = torch.cat([obs.unsqueeze(2).expand(n, B, K, obs.shape[-1]), acts], dim=-1)  # [n, B, K, in]
        h = x.reshape(1, n, B * K, -1).expand(members, n, B * K, x.shape[-1]).reshape(m, B * K, -1)
        for w, b in params[:-1]:
            h = torch.baddbmm(b, h, w).relu_()  # in place on a fresh matmul output (not a view): no autograd copies
        h = _ScalarHead.apply(h, *params[-1])
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
