"""Offline MARL backbones: every algorithm passes the same checks (d3rlpy style), plus algorithm-specific ones."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from macca_hub.algos import ALGORITHMS, Batch, make_algorithm
from macca_hub.algos.networks import StackedMLP, TwinCritics, clip_grad_norm_per_member_
from macca_hub.algos.policy import MultiAgentPolicy, PolicyConfig

N_AGENTS, OBS, ACT = 3, 18, 2


pytestmark = pytest.mark.usefixtures("one_thread")


def toy_batch(B: int = 64, seed: int = 0, action: float | None = None) -> Batch:
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(N_AGENTS, B, OBS, generator=g)
    if action is None:
        act = torch.rand(N_AGENTS, B, ACT, generator=g) * 2 - 1
    else:
        act = (action + 0.05 * torch.randn(N_AGENTS, B, ACT, generator=g)).clamp(-1, 1)
    return Batch(observations=obs, actions=act, rewards=torch.randn(N_AGENTS, B, generator=g),
                 next_observations=torch.randn(N_AGENTS, B, OBS, generator=g), not_done=torch.ones(B),
                 next_actions=act.roll(1, dims=1), has_next=torch.arange(B) % 25 != 24)


def check_algorithm(name: str, tmp_path: Path) -> None:
    """What every backbone must satisfy: finite losses, every network moves, a Hub round trip of its actor."""
    torch.manual_seed(0)
    algo = make_algorithm(name, N_AGENTS, OBS, ACT, task="cn", quality="expert")
    before = {k: v.clone() for k, v in algo.state_dict().items()}
    logs = algo.update(toy_batch())
    assert {"critic_loss", "actor_loss"} <= set(logs)
    for k, v in logs.items():
        assert torch.isfinite(v).all(), f"{name}: {k} = {v}"
    after = algo.state_dict()
    for prefix in ("actor.", "critic.", "target_actor.", "target_critic."):
        keys = [k for k in before if k.startswith(prefix)]
        assert keys and all(not torch.equal(before[k], after[k]) for k in keys), f"{name}: {prefix} did not change"
    # Each agent's slice moves: the agents are all trained by the one batched update.
    w = "actor.layers.0.weight"
    assert all(not torch.equal(before[w][i], after[w][i]) for i in range(N_AGENTS))
    # Hub round trip of the trained actors: identical actions.
    policy = MultiAgentPolicy.from_actor(algo.actor, PolicyConfig(algorithm=name, dataset="toy"))
    folder = policy.save_pretrained(tmp_path / name)
    loaded = MultiAgentPolicy.from_pretrained(folder)
    obs = np.random.default_rng(0).normal(size=(N_AGENTS, OBS)).astype(np.float32)
    np.testing.assert_array_equal(policy.act(obs), loaded.act(obs))
    assert policy.act(obs).shape == (N_AGENTS, ACT) and np.abs(policy.act(obs)).max() <= 1.0
    assert (folder / "README.md").is_file() and name in (folder / "README.md").read_text().lower()


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_algorithm_contract(name: str, tmp_path: Path) -> None:
    check_algorithm(name, tmp_path)


def test_stacked_mlp_equals_per_agent_loop() -> None:
    """Slice i of the stacked network is exactly an independent MLP of agent i."""
    torch.manual_seed(0)
    net = StackedMLP(3, 5, 2, hidden=8)
    x = torch.randn(3, 7, 5)
    out = net(x)
    for i in range(3):
        h = x[i]
        for k, layer in enumerate(net.layers):
            h = h @ layer.weight[i] + layer.bias[i]
            h = torch.relu(h) if k < len(net.layers) - 1 else h
        torch.testing.assert_close(out[i], h)


def test_twin_critics_split_first_layer_is_exact() -> None:
    """K candidate actions per observation give the same Q as evaluating each (o, a_k) pair separately."""
    torch.manual_seed(0)
    critic = TwinCritics(3, OBS, ACT, hidden=16)
    obs, acts = torch.randn(3, 5, OBS), torch.rand(3, 5, 4, ACT) * 2 - 1
    many = critic(obs, acts)  # [2, 3, 5, 4]
    for k in range(4):
        torch.testing.assert_close(many[..., k], critic(obs, acts[:, :, k]))
    torch.testing.assert_close(critic(obs, acts, members=1)[0], many[0])


def test_per_agent_gradient_clipping() -> None:
    """Each agent's gradient is clipped on its own norm, as a per-agent loop would."""
    p = torch.nn.Parameter(torch.zeros(6, 2))  # 2 critics x 3 agents
    p.grad = torch.tensor([[3.0, 4.0], [0.1, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    norms = clip_grad_norm_per_member_([p], 3, 1.0)
    torch.testing.assert_close(norms, torch.tensor([5.0, 0.1, 0.0]))
    torch.testing.assert_close(p.grad[0], torch.tensor([0.6, 0.8]), atol=1e-5, rtol=0)  # clipped to norm 1
    torch.testing.assert_close(p.grad[1], torch.tensor([0.1, 0.0]))  # untouched


@pytest.mark.parametrize("name", ["icql", "omar"])
def test_cql_penalty_lowers_out_of_distribution_q(name: str) -> None:
    """On data whose actions sit near (0.5, 0.5), CQL pushes Q down far from them; without it, it does not."""
    gaps = {}
    for alpha in (0.0, 5.0):
        torch.manual_seed(0)
        extra = {"tau": 1.0, "omar_iters": 1} if name == "omar" else {}
        algo = make_algorithm(name, N_AGENTS, OBS, ACT, alpha=alpha, hidden=32, **extra)
        for step in range(60):
            algo.update(toy_batch(B=64, seed=step, action=0.5))
        test = toy_batch(B=256, seed=999, action=0.5)
        with torch.no_grad():
            q_data = algo.critic(test.observations, test.actions).mean()
            q_ood = algo.critic(test.observations, torch.full_like(test.actions, -0.9)).mean()
        gaps[alpha] = float(q_ood - q_data)
    assert gaps[5.0] < -1.0, gaps
    assert gaps[5.0] < gaps[0.0] - 1.0, gaps


def test_omar_search_finds_the_critic_maximum() -> None:
    """The zeroth-order search beats the mean of random actions under the critic it searches."""
    torch.manual_seed(0)
    algo = make_algorithm("omar", N_AGENTS, OBS, ACT, alpha=1.0, tau=1.0)
    obs = torch.randn(N_AGENTS, 256, OBS)
    best_a, best_q = algo.search(obs)
    assert best_a.shape == (N_AGENTS, 256, ACT) and best_a.abs().max() <= 1.0
    rand_q = algo.critic(obs, torch.rand(N_AGENTS, 256, 16, ACT) * 2 - 1, members=1)[0]
    assert (best_q >= rand_q.mean(-1)).float().mean() > 0.9
    torch.testing.assert_close(best_q, algo.critic(obs, best_a, members=1)[0].detach())


@pytest.mark.parametrize("tau", [1.0, 0.7])
def test_omar_actor_loss_matches_its_formula(tau: float) -> None:
    """OMAR's actor gradient is tau * ||pi - a*||^2 - (1 - tau) * Q_1(o, pi) + penalty, with a* the search's action
    where it beats Q_1(o, pi); at tau = 1 the Q term (weight 0) is skipped and Q_1 runs without gradients."""
    torch.manual_seed(0)
    algo = make_algorithm("omar", N_AGENTS, OBS, ACT, alpha=1.0, tau=tau)
    batch = toy_batch()
    params = list(algo.actor.parameters())
    torch.manual_seed(1)
    loss, _ = algo.actor_loss(batch)
    grads = torch.autograd.grad(loss, params)
    torch.manual_seed(1)  # the same search noise
    obs = batch.observations
    a = algo.actor(obs)
    q1 = algo.critic(obs, a, members=1, detach=True)[0]
    best_a, best_q = algo.search(obs)
    target = torch.where((best_q > q1.detach()).unsqueeze(-1), best_a, a.detach())
    ref = (tau * (a - target).pow(2).mean(dim=(1, 2)).sum() - (1 - tau) * q1.mean(dim=-1).sum()
           + algo.actor_penalty(a))
    torch.testing.assert_close(loss, ref)
    for g, r in zip(grads, torch.autograd.grad(ref, params)):
        torch.testing.assert_close(g, r)


def test_published_settings_and_overrides() -> None:
    from macca_hub.algos import make_config

    assert make_config("omar", "cn", "expert").alpha == 5.0
    assert make_config("omar", "pp", "medium").tau == 0.7
    assert make_config("omar", "cn", "expert", alpha=1.5).alpha == 1.5
    assert make_config("icql").alpha is None  # resolved later from the dataset
    with pytest.raises(ValueError, match="no setting"):
        make_config("icql", bogus=1)
    with pytest.raises(ValueError, match="Unknown algorithm"):
        make_algorithm("qmix", 3, 18, 2)


def test_maicq_weights_are_batch_normalised() -> None:
    algo = make_algorithm("maicq", N_AGENTS, OBS, ACT)
    w = algo.batch_weights(torch.randn(N_AGENTS, 100) * 50, beta=10.0)
    torch.testing.assert_close(w.mean(-1), torch.ones(N_AGENTS), atol=1e-4, rtol=0)
    assert math.isclose(float(w.max()), float(w.max().clamp(max=100.0)))


def test_scalar_head_gradients_match_autograd() -> None:
    """The hand-laid-out final critic layer has exact gradients (checked numerically in float64)."""
    from macca_hub.algos.networks import _ScalarHead

    torch.manual_seed(0)
    h = torch.randn(3, 40, 8, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 8, 1, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, 1, 1, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(_ScalarHead.apply, (h, w, b))
    torch.testing.assert_close(_ScalarHead.apply(h, w, b), torch.baddbmm(b, h, w))


def test_hidden_head_gradients_match_autograd() -> None:
    """The fused last hidden layer + ReLU + head (w3 folded into the backward's products) has exact gradients
    (numerically in float64), equals the unfused layers, and under bf16 stays close to float32 gradients."""
    from macca_hub.algos.networks import _HiddenHead

    torch.manual_seed(0)
    f64 = dict(dtype=torch.float64, requires_grad=True)
    h = torch.randn(3, 40, 8, **f64).relu().detach().requires_grad_()
    w, b = torch.randn(3, 8, 6, **f64), torch.randn(3, 1, 6, **f64)
    w3, b3 = torch.randn(3, 6, 1, **f64), torch.randn(3, 1, 1, **f64)
    assert torch.autograd.gradcheck(_HiddenHead.apply, (h, w, b, w3, b3))
    torch.testing.assert_close(_HiddenHead.apply(h, w, b, w3, b3), torch.baddbmm(b3, torch.baddbmm(b, h, w).relu(), w3))
    args = [t.detach().float().requires_grad_() for t in (h, w, b, w3, b3)]
    ref = torch.autograd.grad(torch.baddbmm(args[2], args[0], args[1]).relu().bmm(args[3]).add(args[4]).square().sum(),
                              args)
    low = torch.autograd.grad(_HiddenHead.apply(args[0].bfloat16(), *args[1:]).square().sum(), args)
    assert all(g.dtype == torch.float32 for g in low)
    for g, r in zip(low, ref):
        assert torch.allclose(g.float(), r, rtol=0.05, atol=0.05 * r.abs().max().item())


def test_bf16_relu_on_int16_bits_equals_relu() -> None:
    """The int16-view ReLU is bit-identical to torch.relu on bfloat16, signed zeros and infinities included."""
    from macca_hub.algos.networks import relu_

    x = torch.cat([torch.randn(4096) * 10, torch.tensor([0.0, -0.0, float("inf"), -float("inf"), 1e-40, -1e-40])])
    b = x.bfloat16()
    out = relu_(b.clone())
    assert torch.equal(out.view(torch.int16), torch.relu(b).view(torch.int16).clamp_min(0))
    assert torch.equal(out.float(), torch.relu(b).float())
    torch.testing.assert_close(relu_(x.clone()), torch.relu(x))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("members", [1, 2])
@pytest.mark.parametrize("k", [None, 7])
def test_twin_critics_inference_path_equals_autograd_path(members: int, k: int | None, threads: int) -> None:
    """Without gradients the critics take the split-first-layer path (with 2 threads and an odd member count
    also rows halved for balance); it gives the autograd path's Q-values."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    critic = TwinCritics(3, OBS, ACT, hidden=32)
    obs = torch.randn(3, 50, OBS)
    acts = torch.rand(3, 50, ACT) * 2 - 1 if k is None else torch.rand(3, 50, k, ACT) * 2 - 1
    with_grad = critic(obs, acts, members=members)
    assert with_grad.requires_grad
    with torch.no_grad():
        fast = critic(obs, acts, members=members)
    assert not fast.requires_grad and fast.shape == with_grad.shape
    torch.testing.assert_close(fast, with_grad.detach(), rtol=1e-5, atol=1e-5)


def test_float64_critics_stay_float64_on_both_paths() -> None:
    """A float64 critic computes in float64 with and without gradients (no path forces float32)."""
    torch.manual_seed(0)
    critic = TwinCritics(3, OBS, ACT, hidden=16).double()
    obs, acts = torch.randn(3, 20, OBS, dtype=torch.float64), torch.rand(3, 20, 4, ACT, dtype=torch.float64)
    with_grad = critic(obs, acts)
    with torch.no_grad():
        fast = critic(obs, acts)
    assert with_grad.dtype == fast.dtype == torch.float64
    torch.testing.assert_close(fast, with_grad.detach())


def test_bf16_autocast_keeps_q_values_float32_and_close() -> None:
    """Under bf16 autocast the critics' matmuls run in bfloat16 but Q-values leave in float32, near fp32's."""
    torch.manual_seed(0)
    critic = TwinCritics(3, OBS, ACT, hidden=64)
    obs, acts = torch.randn(3, 200, OBS), torch.rand(3, 200, 5, ACT) * 2 - 1
    ref = critic(obs, acts).detach()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        train_q = critic(obs, acts)
        with torch.no_grad():
            fast_q = critic(obs, acts)
    for q in (train_q, fast_q):
        assert q.dtype == torch.float32
        torch.testing.assert_close(q.detach(), ref, rtol=0, atol=0.05 * float(ref.abs().max()))
    train_q.sum().backward()  # gradients reach the float32 weights in float32
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in critic.parameters())


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_bf16_update_is_finite_and_learns(name: str) -> None:
    """Every backbone updates under bf16 autocast: finite losses, float32 parameters that move."""
    torch.manual_seed(0)
    algo = make_algorithm(name, N_AGENTS, OBS, ACT, hidden=32)
    before = [p.detach().clone() for p in algo.parameters()]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logs = algo.update(toy_batch(B=64))
    assert all(torch.isfinite(v).all() for v in logs.values())
    assert all(p.dtype == torch.float32 for p in algo.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, algo.parameters()))
