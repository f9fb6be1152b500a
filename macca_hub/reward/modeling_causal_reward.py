"""MACCA's causal reward model: per-agent rewards r_hat^i from masked joint state and action.

For every agent i a structure predictor psi_g gives a mask over the D_s joint-observation dims
and one over the D_a joint-action dims (the edges s -> r^i and a -> r^i of the causal graph); a
reward predictor psi_r maps (c^{i,s->r} * s, c^{i,a->r} * a, one-hot i) to r_hat^i. Training
fits sum_i r_hat^i to the team reward R with an L1 penalty that keeps the masks sparse.

All agents go through the networks in one batched call: the agent is an extra batch axis, and
the one-hot part of each first layer is stored as a per-agent row added to the hidden units (the
same function as concatenating the one-hot, without the wasted multiply-adds).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np
import torch
from torch import nn

from macca_hub.hub import HubMixin, resolve_model_dir
from macca_hub.reward.configuration_causal_reward import CausalRewardConfig
from macca_hub.utils.io import read_json, write_json

INFO_NAME = "training_info.json"
HEATMAP_NAME = "mask_heatmap.png"
_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "silu": nn.SiLU, "elu": nn.ELU}


class ShapeMismatchError(ValueError):
    """Data whose agents / observation / action sizes differ from the model's."""


class CausalRewardOutput(NamedTuple):
    """``rewards`` [B, n]; masks [B, n, D] (dynamic) or [1, n, D] (fixed / full), soft or binarised."""

    rewards: torch.Tensor
    state_mask: torch.Tensor
    action_mask: torch.Tensor


class AgentMLP(nn.Module):
    """An MLP on (x, one-hot i), evaluated for every agent i at once.

    ``x`` is [B, D] (shared by all agents, as in psi_g) or [B, n, D] (one input per agent, as in
    psi_r); the output is [B, n, out].
    """

    def __init__(self, in_dim: int, n_agents: int, hidden: Sequence[int], out_dim: int, activation: str) -> None:
        super().__init__()
        sizes = [*hidden, out_dim]
        self.inp = nn.Linear(in_dim, sizes[0])
        # Columns of the first layer's weight that multiply the one-hot agent index.
        bound = 1.0 / math.sqrt(in_dim + n_agents)
        self.agent = nn.Parameter(torch.empty(n_agents, sizes[0]).uniform_(-bound, bound))
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            act = nn.ReLU(inplace=True) if activation == "relu" else _ACTIVATIONS[activation]()
            layers += [act, nn.Linear(a, b)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x)
        # [B, n, H]; a shared row goes to every agent. The agent rows join in h's dtype: under bf16 autocast a
        # float32 parameter here would promote the whole activation (and its gradient) to float32.
        h = (h.unsqueeze(1) if h.dim() == 2 else h) + self.agent.to(h.dtype)
        if not len(self.body):
            return h
        # The sum is a fresh tensor, so the first (in-place) activation runs on it, not on a view; the body
        # then runs on 2-D rows, so every Linear output is fresh too (autograd copies the whole activation for
        # an in-place op on a view).
        first, rest = self.body[0], self.body[1:]
        rows = first(h).reshape(-1, h.shape[-1])
        out = rest(rows)
        return out.reshape(*h.shape[:-1], out.shape[-1])

    @property
    def last(self) -> nn.Linear:
        return self.body[-1] if len(self.body) else self.inp  # type: ignore[return-value]

    def flops_per_row(self, shared_input: bool, n_agents: int) -> int:
        """Multiply-add FLOPs (2 per MAC) of one row, all agents."""
        first = self.inp.in_features * self.inp.out_features * (1 if shared_input else n_agents)
        rest = sum(m.in_features * m.out_features for m in self.body if isinstance(m, nn.Linear)) * n_agents
        return 2 * (first + rest)


class CausalRewardModel(nn.Module, HubMixin):
    """Causal reward model; ``forward(state, actions)`` returns per-agent rewards and the masks."""

    config_class = CausalRewardConfig
    model_type = "macca_causal_reward"

    def __init__(self, config: CausalRewardConfig) -> None:
        super().__init__()
        self.config = config
        n, ds, da = config.n_agents, config.state_dim, config.action_dim
        d = ds + da
        # Normalisation statistics (from the dataset's meta/stats.json); buffers, so they are saved.
        self.register_buffer("state_mean", torch.zeros(ds))
        self.register_buffer("state_std", torch.ones(ds))
        self.register_buffer("action_mean", torch.zeros(da))
        self.register_buffer("action_std", torch.ones(da))
        self.register_buffer("reward_mean", torch.zeros(()))
        self.register_buffer("reward_std", torch.ones(()))
        self.mask_net: AgentMLP | None = None
        self.mask_bias: nn.Parameter | None = None
        if config.graph in ("dynamic", "fixed"):
            # Per-agent mask logits (the whole mask for 'fixed', an input-independent offset for 'dynamic').
            self.mask_bias = nn.Parameter(self.initial_mask_logits(config))
        if config.graph == "dynamic":
            self.mask_net = AgentMLP(d, n, config.mask_hidden_sizes, d, config.activation)
            with torch.no_grad():  # start at the prior, input-dependent only a little
                self.mask_net.last.weight.mul_(0.1)
                self.mask_net.last.bias.zero_()
        self.reward_net = AgentMLP(d, n, config.hidden_sizes, 1, config.activation)
        self.card_info: dict[str, Any] = {}

    @staticmethod
    def initial_mask_logits(config: CausalRewardConfig) -> torch.Tensor:
        """[n, D] logits: ``mask_init_own`` on agent i's own obs/action dims, ``mask_init`` elsewhere."""
        n, od, ad, ds = config.n_agents, config.obs_dim, config.act_dim, config.state_dim
        logit = lambda p: math.log(p / (1.0 - p))  # noqa: E731
        out = torch.full((n, ds + config.action_dim), logit(config.mask_init))
        for i in range(n):
            out[i, i * od:(i + 1) * od] = logit(config.mask_init_own)
            out[i, ds + i * ad: ds + (i + 1) * ad] = logit(config.mask_init_own)
        return out

    # -- normalisation -----------------------------------------------------------------------
    def set_normalization(self, stats: Mapping[str, Any]) -> None:
        """Take input (and team-reward) statistics from a dataset's ``meta/stats.json``."""
        def vec(key: str, field: str, size: int) -> torch.Tensor:
            v = torch.as_tensor(np.asarray(stats[key][field], dtype=np.float64).reshape(-1), dtype=torch.float32)
            if v.numel() != size:
                raise ShapeMismatchError(f"stats.json {key}.{field} has {v.numel()} values but the model expects {size} "
                                         f"({self._shape_text()}).")
            return v

        def safe_std(v: torch.Tensor) -> torch.Tensor:
            return torch.where(v > 1e-6, v, torch.ones_like(v))  # constant features: leave unscaled

        c = self.config
        with torch.no_grad():
            self.state_mean.copy_(vec("observations", "mean", c.state_dim))
            self.state_std.copy_(safe_std(vec("observations", "std", c.state_dim)))
            self.action_mean.copy_(vec("actions", "mean", c.action_dim))
            self.action_std.copy_(safe_std(vec("actions", "std", c.action_dim)))
            if c.normalize_reward:
                self.reward_mean.fill_(float(stats["team_reward"]["mean"]))
                self.reward_std.fill_(max(float(stats["team_reward"]["std"]), 1e-6))

    # -- shapes --------------------------------------------------------------------------------
    def _shape_text(self) -> str:
        c = self.config
        return (f"n_agents={c.n_agents}, obs_dim={c.obs_dim}, act_dim={c.act_dim} "
                f"(joint state {c.state_dim}, joint action {c.action_dim})")

    def check_compatible(self, info: Mapping[str, Any]) -> None:
        """Raise :class:`ShapeMismatchError` naming both shapes if a dataset's ``info.json`` does not fit."""
        c = self.config
        got = (int(info["n_agents"]), int(info["obs_dim"]), int(info["act_dim"]))
        if got != (c.n_agents, c.obs_dim, c.act_dim):
            name = info.get("repo_id", "the dataset")
            raise ShapeMismatchError(
                f"This causal reward model was built for {self._shape_text()}, but {name} has n_agents={got[0]}, "
                f"obs_dim={got[1]}, act_dim={got[2]}. Use a model trained on a dataset of the same task "
                f"(`macca-hub train-reward --dataset {info.get('repo_id', '<dataset>')}`)."
            )

    def _flatten(self, x: torch.Tensor, per_agent: int, dim: int, what: str) -> torch.Tensor:
        n = self.config.n_agents
        if x.dim() == 3 and tuple(x.shape[1:]) == (n, per_agent):
            return x.reshape(x.shape[0], dim)
        if x.dim() == 2 and x.shape[1] == dim:
            return x
        raise ShapeMismatchError(
            f"{what} has shape {tuple(x.shape)}, but this model expects [batch, {n}, {per_agent}] or "
            f"[batch, {dim}] ({self._shape_text()}); was it trained on another task?"
        )

    # -- forward -------------------------------------------------------------------------------
    def mask_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Mask logits over the (normalised) joint input, [B, n, D] (dynamic) or [1, n, D]; +inf for 'full'."""
        c = self.config
        if self.mask_net is not None:
            return self.mask_net(x) + self.mask_bias
        if self.mask_bias is not None:
            return self.mask_bias.unsqueeze(0)
        return x.new_full((1, c.n_agents, c.state_dim + c.action_dim), float("inf"))

    def masks(self, x: torch.Tensor) -> torch.Tensor:
        """Soft masks (sigmoid of the logits), [B, n, D] (dynamic) or [1, n, D]."""
        return torch.sigmoid(self.mask_logits(x))

    def normalized_inputs(self, state: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Joint (state, action) [B, D_s + D_a], standardised with the dataset statistics."""
        c = self.config
        s = self._flatten(state, c.obs_dim, c.state_dim, "state")
        a = self._flatten(actions, c.act_dim, c.action_dim, "actions")
        if s.shape[0] != a.shape[0]:
            raise ValueError(f"state has {s.shape[0]} rows but actions has {a.shape[0]}.")
        return torch.cat([(s - self.state_mean) / self.state_std, (a - self.action_mean) / self.action_std], dim=-1)

    def rewards_from_masks(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """psi_r on the masked inputs of every agent: r_hat [B, n] in reward units, in the model's dtype (float32
        also under bf16 autocast)."""
        out = self.reward_net(m * x.unsqueeze(1)).squeeze(-1).to(self.reward_std.dtype)
        return out * self.reward_std + self.reward_mean / self.config.n_agents

    def forward(self, state: torch.Tensor, actions: torch.Tensor, hard: bool | None = None) -> CausalRewardOutput:
        """``state`` [B, n, obs] or [B, D_s], ``actions`` [B, n, act] or [B, D_a] -> r_hat [B, n] and masks.

        ``hard`` binarises the masks with the threshold. By default it follows ``config.binarize``:
        always with ``straight_through`` (binary values, sigmoid gradients), else in eval mode only
        (soft masks while training, as in the paper).
        """
        c = self.config
        x = self.normalized_inputs(state, actions)
        if hard is None:
            hard = c.binarize and (c.straight_through or not self.training)
        z = self.mask_logits(x)
        if hard and not z.requires_grad:  # inference: sigmoid(z) > h  <=>  z > logit(h), skip the sigmoid
            m = (z > math.log(c.threshold / (1.0 - c.threshold))).to(x.dtype) if c.threshold > 0 else (z > -math.inf).to(x.dtype)
        else:
            m = torch.sigmoid(z)
            if hard:
                b = (m > c.threshold).to(x.dtype)
                # Straight-through: the value is the binary mask, the gradient is the sigmoid's.
                m = b + (m - m.detach()) if c.straight_through else b
        rewards = self.rewards_from_masks(x, m)
        return CausalRewardOutput(rewards, m[..., : c.state_dim], m[..., c.state_dim:])

    def loss_from_outputs(self, out: CausalRewardOutput, team_reward: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """MSE(R, sum_i r_hat^i) + lambda1 * L1(state masks) + lambda2 * L1(action masks).

        The L1 terms are means over rows, agents and dims (with straight-through masks their value
        is the edge density and their gradient the soft masks'). With ``normalize_reward`` the MSE
        is in units of the team reward's std.
        """
        c = self.config
        err = out.rewards.float().sum(-1) - team_reward.reshape(-1).float()
        if c.normalize_reward:
            err = err / self.reward_std
        mse = err.square().mean()
        l1_s, l1_a = out.state_mask.float().abs().mean(), out.action_mask.float().abs().mean()
        total = mse + c.lambda_state * l1_s + c.lambda_action * l1_a
        parts = {"loss": total.detach(), "reward_mse": mse.detach(), "l1_state": l1_s.detach(),
                 "l1_action": l1_a.detach()}
        return total, parts

    def loss(self, state: torch.Tensor, actions: torch.Tensor, team_reward: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Training loss on one batch, for outer loops (e.g. policy and reward model updated in turns)."""
        return self.loss_from_outputs(self(state, actions), team_reward)

    @torch.no_grad()
    def rewards(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Per-agent rewards [B, n] for inference: binarised masks (if ``config.binarize``), no gradient."""
        return self(observations, actions, hard=self.config.binarize).rewards

    # -- datasets.map --------------------------------------------------------------------------
    def relabel(self, batch: Any, rank: int | None = None) -> Any:
        """``ds.map(model.relabel, batched=True)``: adds ``macca_rewards`` [n_agents] float32.

        Reads the ``observations`` and ``actions`` columns (Python lists, numpy, torch or Arrow;
        ``ds.with_format("arrow")`` is the fastest, as no row is turned into Python objects). An Arrow
        batch comes back as the same table with the column appended (``datasets`` replaces an Arrow
        batch by what the function returns, so returning only the new column would drop the others).
        With ``with_rank=True`` on a machine with GPUs, rank r runs on ``cuda:(r % device_count)``
        (each ``num_proc`` worker holds its own copy).
        """
        device = self.state_mean.device
        if rank is not None and torch.cuda.is_available():
            device = torch.device("cuda", rank % torch.cuda.device_count())
            if self.state_mean.device != device:
                self.to(device)
        with torch.inference_mode():
            obs = _as_tensor(batch["observations"], device)
            act = _as_tensor(batch["actions"], device)
            r = self.rewards(obs, act)
        rewards = r.float().cpu().numpy()
        import pyarrow as pa

        if isinstance(batch, pa.Table):
            column = pa.FixedSizeListArray.from_arrays(pa.array(rewards.reshape(-1)), rewards.shape[1])
            if "macca_rewards" in batch.column_names:
                return batch.set_column(batch.column_names.index("macca_rewards"), "macca_rewards", column)
            return batch.append_column("macca_rewards", column)
        return {"macca_rewards": rewards}

    def flops_per_row(self) -> int:
        """Multiply-add FLOPs of one row (all agents) at inference, for throughput targets."""
        n = self.config.n_agents
        flops = self.reward_net.flops_per_row(shared_input=False, n_agents=n)
        if self.mask_net is not None:
            flops += self.mask_net.flops_per_row(shared_input=True, n_agents=n)
        return flops

    # -- hub -----------------------------------------------------------------------------------
    def extra_files(self, folder: Path) -> None:
        """Write ``training_info.json``, the mask heatmap and the ``README.md`` model card."""
        from macca_hub.reward.card import write_model_card

        write_json(folder / INFO_NAME, self.card_info)
        write_model_card(self, folder)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, revision: str | None = None,
                        map_location: str | torch.device = "cpu") -> "CausalRewardModel":
        """Load config + safetensors (bit-identical outputs) and the training record of the card."""
        model = super().from_pretrained(name_or_path, revision=revision, map_location=map_location)
        folder = resolve_model_dir(name_or_path, revision=revision)
        if (folder / INFO_NAME).is_file():
            model.card_info = read_json(folder / INFO_NAME)
        return model


def _as_tensor(x: Any, device: torch.device) -> torch.Tensor:
    import pyarrow as pa

    if isinstance(x, (pa.Array, pa.ChunkedArray)):  # ds.with_format("arrow"): zero-copy, the fastest path
        from macca_hub.data.loading import arrow_to_numpy

        x = arrow_to_numpy(x)
    if isinstance(x, torch.Tensor):
        return x.to(device=device, dtype=torch.float32)
    if isinstance(x, np.ndarray) and x.dtype == object:  # numpy of per-row arrays
        x = np.stack([np.stack(list(r)) if isinstance(r, np.ndarray) and r.dtype == object else r for r in x])
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device)  # also plain lists
