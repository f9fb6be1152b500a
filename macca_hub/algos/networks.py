"""Per-agent networks stacked along a leading member axis, so one matmul serves every agent.

Independent learners are usually written as a Python loop over small ``nn.Sequential``s, one per
agent. Here agent ``i``'s layer is slice ``i`` of a weight tensor ``[members, in, out]`` and a layer
is one ``torch.baddbmm``: the same maths, one kernel launch for all agents. Because Adam is
elementwise, one optimizer over the stacked tensors is exactly one optimizer per agent.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor, nn

from macca_hub.utils.fast_ops import compute_dtype, relu_, relu_train_


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
    """One deterministic tanh policy per agent: ``obs [n, ..., obs_dim] -> actions [n, ..., act_dim]``.

    Always float32, also under bf16 autocast: actions feed the critics and the behaviour-cloning terms,
    and the actor's matmuls are a small part of a round (3 x B rows against the critics' 6 x 11 x B).
    """

    def __init__(self, n_agents: int, obs_dim: int, act_dim: int, hidden: int = 64, layers: int = 2) -> None:
        super().__init__(n_agents, obs_dim, act_dim, hidden, layers, output="tanh")

    def forward(self, x: Tensor) -> Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return super().forward(x.to(self.layers[0].weight.dtype))


def _row_head(h: Tensor, w: Tensor) -> Tensor:
    """``h [m, R, H] @ w [m, H, 1]`` as a row vector times a matrix, ``(w^T h^T)^T``: see :class:`_ScalarHead`."""
    return torch.bmm(w.transpose(1, 2), h.transpose(1, 2)).transpose(1, 2)


def _row_head_weight_grad(g: Tensor, h: Tensor) -> Tensor:
    """The gradient of :func:`_row_head` for ``w``, ``h^T g`` [m, H, 1], in the same row-vector layout."""
    return torch.bmm(g.transpose(1, 2), h).transpose(1, 2)


class _ScalarHead(torch.autograd.Function):
    """``h [m, R, H] @ w [m, H, 1] + b`` with the products laid out for speed on CPU; the output is float32.

    A batched matmul with one output column runs as a slow general GEMM (8-13 ms for 6 x 11k x 64
    rows on one core); the same products as a row-vector times matrix (forward, weight gradient) and
    a broadcast multiply (input gradient) take 2-4 ms. Same values up to float rounding.

    Under bf16 autocast ``h`` arrives in bfloat16: the products run in ``h``'s dtype (accumulated in
    float32 by the matmul) and the Q-values leave in float32, so TD errors and the CQL log-sum-exp are
    float32 arithmetic. Dtypes are handled here explicitly, so the backward needs no autocast state.
    """

    @staticmethod
    def forward(ctx, h: Tensor, w: Tensor, b: Tensor) -> Tensor:  # type: ignore[override]
        wc = w.to(h.dtype)
        ctx.save_for_backward(h, wc)
        ctx.weight_dtype = w.dtype
        return _row_head(h, wc).to(b.dtype) + b

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:  # type: ignore[override]
        h, wc = ctx.saved_tensors
        g = grad.to(h.dtype)
        grad_h = g * wc.transpose(1, 2) if ctx.needs_input_grad[0] else None
        grad_w = _row_head_weight_grad(g, h).to(ctx.weight_dtype) if ctx.needs_input_grad[1] else None
        grad_b = grad.sum(dim=1, keepdim=True) if ctx.needs_input_grad[2] else None
        return grad_h, grad_w, grad_b


class _HiddenHead(torch.autograd.Function):
    """The last hidden layer, its ReLU and the scalar head as one autograd node: ``relu(h @ w + b) @ w3 + b3``.

    The backward never forms the gradient of the hidden pre-activation, ``(g w3^T) * [z > 0]``, a pass over the
    largest activation (write, then read twice): it masks the broadcast ``g`` once and folds ``w3`` into the
    products that follow, ``(h^T M) * w3^T`` for the weight and ``M (w * w3^T)^T`` for the input. Same values up
    to float rounding; the products run in ``h``'s dtype (bfloat16 under autocast), Q-values leave in float32.
    """

    @staticmethod
    def forward(ctx, h: Tensor, w: Tensor, b: Tensor, w3: Tensor, b3: Tensor) -> Tensor:  # type: ignore[override]
        dt = h.dtype
        wc, w3c = w.to(dt), w3.to(dt)
        z = relu_(torch.baddbmm(b.to(dt), h, wc))
        ctx.save_for_backward(h, z, w, w3)
        ctx.dtypes = (w.dtype, b.dtype)
        return _row_head(z, w3c).to(b3.dtype) + b3

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        h, z, w, w3 = ctx.saved_tensors
        need = ctx.needs_input_grad
        m, rows, hidden = z.shape
        g = grad.to(z.dtype)
        masked = torch.ops.aten.threshold_backward(g.expand(m, rows, hidden), z, 0)  # g where the unit is active
        w3_row = w3.transpose(1, 2)  # [m, 1, H], in the weights' dtype: the folding products stay exact-ish
        grad_h = torch.bmm(masked, (w * w3_row).to(z.dtype).transpose(1, 2)) if need[0] else None
        grad_w = (torch.bmm(h.transpose(1, 2), masked).to(w.dtype) * w3_row).to(ctx.dtypes[0]) if need[1] else None
        grad_b = (masked.sum(dim=1, keepdim=True).to(w.dtype) * w3_row).to(ctx.dtypes[1]) if need[2] else None
        grad_w3 = _row_head_weight_grad(g, z).to(w3.dtype) if need[3] else None
        grad_b3 = grad.sum(dim=1, keepdim=True) if need[4] else None
        return grad_h, grad_w, grad_b, grad_w3, grad_b3


class TwinCritics(nn.Module):
    """Twin Q-functions of every agent as one ensemble of ``2 * n_agents`` members on ``(o_i, a_i)``.

    Member ``k * n_agents + i`` is critic ``k`` (0 or 1) of agent ``i``. K candidate actions per
    observation (CQL samples, OMAR's zeroth-order search) are K rows of one batched matmul per layer.

    With gradients (the critic loss) the first layer is one matmul over ``(obs, action)`` rows: splitting
    it into an observation part shared by the K candidates and a per-candidate action part saves
    multiply-adds, but its backward then reads the activation gradient twice and measured slower on CPU.
    Without gradients (target critics, OMAR's search) only the forward runs, and there the split wins:
    the observation part is computed once per observation, the action part is accumulated into its
    broadcast copy in place (:meth:`evaluator`).
    """

    def __init__(self, n_agents: int, obs_dim: int, act_dim: int, hidden: int = 64, layers: int = 2) -> None:
        super().__init__()
        self.n_agents, self.obs_dim = n_agents, obs_dim
        self.net = StackedMLP(2 * n_agents, obs_dim + act_dim, 1, hidden, layers)

    def forward(self, obs: Tensor, actions: Tensor, members: int = 2, detach: bool = False) -> Tensor:
        """Q-values of ``actions``.

        ``obs [n, B, obs_dim]``; ``actions [n, B, act_dim]`` or ``[n, B, K, act_dim]`` (K candidates per
        observation). Returns ``[members, n, B]`` or ``[members, n, B, K]`` (float32 also under autocast);
        ``members=1`` evaluates only the first critic of each agent. ``detach=True`` stops gradients into
        the critic weights (the actor's loss needs only d Q / d action), which skips computing unused
        weight gradients.
        """
        n, m = self.n_agents, members * self.n_agents
        many = actions.dim() == 4
        acts = actions if many else actions.unsqueeze(2)
        B, K = acts.shape[1], acts.shape[2]
        if not (torch.is_grad_enabled() and (obs.requires_grad or acts.requires_grad or
                                             (not detach and self.net.layers[0].weight.requires_grad))):
            q = self.evaluator(obs, members)(acts)
            return q if many else q.squeeze(-1)
        params = [(lay.weight[:m], lay.bias[:m]) for lay in self.net.layers]
        if detach:
            params = [(w.detach(), b.detach()) for w, b in params]
        dt = compute_dtype(params[0][0])  # the rows are built in it: no float32 copy that autocast then casts
        ones = obs.new_ones(n, B, K, 1, dtype=dt)
        x = torch.cat([obs.to(dt).unsqueeze(2).expand(n, B, K, obs.shape[-1]), acts.to(dt), ones], dim=-1)
        h = x.reshape(1, n, B * K, -1).expand(members, n, B * K, x.shape[-1]).reshape(m, B * K, -1)
        (w1, b1), hidden = params[0], params[1:-1]
        # The first layer's bias rides in the matmul as a row against the ones column: no bias copy into the
        # output and no separate bias-gradient reduction (each a pass over the largest activation).
        h = relu_train_(torch.bmm(h, torch.cat([w1, b1], dim=1)))
        for w, b in hidden[:-1]:
            h = relu_train_(torch.baddbmm(b, h, w))  # in place on a fresh matmul output (not a view): no autograd copies
        h = _HiddenHead.apply(h, *hidden[-1], *params[-1]) if hidden else _ScalarHead.apply(h, *params[-1])
        q = h.reshape(members, n, B, K)
        return q if many else q.squeeze(-1)

    @torch.no_grad()
    def evaluator(self, obs: Tensor, members: int = 2) -> Callable[[Tensor], Tensor]:
        """Q-values of candidate actions at fixed observations, forward only (no gradients).

        Returns ``q(actions [n, B, K, act_dim]) -> [members, n, B, K]`` (float32). What depends only on the
        observations and the weights is done once here: the weights cast to the compute dtype and the first
        layer's observation part (with its bias), so OMAR's search pays for it once, not per iteration.
        """
        n, B, od = obs.shape
        m = members * n
        dt = compute_dtype(self.net.layers[0].weight)
        first, hidden, last = self.net.layers[0], self.net.layers[1:-1], self.net.layers[-1]
        w1 = first.weight[:m].to(dt)
        h_obs = torch.baddbmm(first.bias[:m].to(dt), obs.to(dt).repeat(members, 1, 1), w1[:, :od])  # [m, B, H]
        weights = [w1[:, od:], *[t for lay in hidden for t in (lay.bias[:m].to(dt), lay.weight[:m].to(dt))],
                   last.weight[:m].to(dt)]
        by_split: dict[int, list[Tensor]] = {}

        def q(acts: Tensor) -> Tensor:
            K, A = acts.shape[2], acts.shape[3]
            # An odd number of members (3 agents' first critics in OMAR's search) splits unevenly over 2 threads:
            # halve each member's rows so the batched matmuls give every thread the same work (fp32: 1.5x faster).
            split = 2 if m % 2 and (B * K) % 2 == 0 and torch.get_num_threads() % 2 == 0 else 1
            if split not in by_split:
                by_split[split] = [t.repeat_interleave(split, dim=0) if split > 1 else t for t in weights]
            w_act, *rest, w_out = by_split[split]
            rows = (m * split, B * K // split)
            h = torch.empty(m, B, K, h_obs.shape[-1], dtype=dt, device=obs.device)
            h.copy_(h_obs.unsqueeze(2))  # the observation part under every candidate; the action part goes in place
            a = acts.to(dt).reshape(1, n, B * K, A).expand(members, n, B * K, A).reshape(*rows, A)
            h = relu_(h.view(*rows, -1).baddbmm_(a, w_act))
            for b, w in zip(rest[0::2], rest[1::2]):
                h = relu_(torch.baddbmm(b, h, w))
            out = _row_head(h, w_out)
            return (out.reshape(m, B * K, 1).to(last.bias.dtype) + last.bias[:m]).reshape(members, n, B, K)

        return q


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
