"""Behaviour policies that generate data: ``act(observations [n, obs_dim], rng) -> forces [n, 2]``.

A policy is described by a small picklable :class:`PolicySpec` so that worker processes can
rebuild it; the spec (and the sha256 of any weights) is recorded in the dataset's ``info.json``.

Kinds:

- ``uniform``: independent uniform forces in [-1, 1] (the foundation's random builder, kept as an option);
- ``mlp``: a trained (or randomly initialised) MATD3 actor, one small MLP per agent, stored as
  ``config.json`` + ``model.safetensors`` and evaluated for all agents at once (stacked weights, ``bmm``);
- ``replay``: the exact actions of a logged training run (``replay.npz``), re-simulated in mpe2; this is how
  the medium-replay datasets are rebuilt offline, bit for bit.
"""

from __future__ import annotations

import dataclasses
import math
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from macca_hub.hub import HubMixin
from macca_hub.utils.configs import cfg
from macca_hub.utils.io import sha256_file

POLICY_KINDS = ("uniform", "mlp", "replay")


class BehaviourPolicy(Protocol):
    def act(self, observations: np.ndarray, rng: np.random.Generator) -> np.ndarray: ...


SHIPPED = Path(str(resources.files("macca_hub").joinpath("assets/policies")))


def shipped_policy_dir(name: str) -> Path:
    """Folder of a policy shipped inside the package, e.g. ``cn-expert`` or ``pp-prey``."""
    path = SHIPPED / name
    if not path.is_dir():
        shipped = sorted(p.name for p in path.parent.iterdir()) if path.parent.is_dir() else []
        raise FileNotFoundError(f"No shipped behaviour policy {name!r} under {path.parent}; shipped: {shipped}. "
                                "Train one with `macca-hub train-behaviour <task>`.")
    return path


@dataclasses.dataclass(frozen=True)
class PolicySpec:
    """What drives the team while collecting. ``kind='uniform'`` needs nothing else."""

    kind: str = "uniform"
    name: str = "uniform-random"
    path: str | None = None  # folder with config.json + model.safetensors (mlp) or a replay.npz (replay)
    noise_std: float = 0.0  # Gaussian exploration noise added to the policy's action, then clipped

    def files(self) -> list[Path]:
        if self.path is None:
            return []
        p = Path(self.path)
        return sorted(f for f in p.iterdir() if f.suffix in (".json", ".safetensors", ".npz")) if p.is_dir() else [p]

    def to_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"kind": self.kind, "id": self.name, "noise_std": self.noise_std}
        if self.path is not None:
            files = {f.name: sha256_file(f) for f in self.files()}
            main = next((n for n in ("model.safetensors", "replay.npz") if n in files), next(iter(files), None))
            info["sha256"] = files.get(main) if main else None  # the weights (or the replayed log)
            info["files_sha256"] = files
        return info


class UniformRandomPolicy:
    """Independent uniform forces in [-1, 1]^2 for every agent."""

    def act(self, observations: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(-1.0, 1.0, size=(observations.shape[0], 2))


# ---------------------------------------------------------------------------------------------
# Stacked per-agent MLPs: k independent networks evaluated with one batched matmul per layer.
# ---------------------------------------------------------------------------------------------
class StackedMLP(nn.Module):
    """``k`` independent MLPs with identical shapes; ``x [k, B, in] -> [k, B, out]``.

    Weights are stacked on a leading agent axis so a forward pass is one ``baddbmm`` per layer,
    not a Python loop of small networks. Initialisation matches ``nn.Linear`` (uniform +-1/sqrt(fan_in)).
    """

    def __init__(self, k: int, sizes: list[int], out_act: str | None = None) -> None:
        super().__init__()
        self.k, self.sizes, self.out_act = k, list(sizes), out_act
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / math.sqrt(fan_in)
            self.weights.append(nn.Parameter(torch.empty(k, fan_in, fan_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(k, 1, fan_out).uniform_(-bound, bound)))

    def forward(self, x: torch.Tensor, pre_activation: bool = False) -> torch.Tensor:
        """Output ``[k, B, out]``; ``pre_activation=True`` skips the final tanh (for its regulariser)."""
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(b, x, w)
            if i < last:
                x = torch.relu(x)
        return torch.tanh(x) if self.out_act == "tanh" and not pre_activation else x


@dataclasses.dataclass
class MLPActorConfig:
    """Shape and provenance of a behaviour actor (one deterministic tanh MLP per agent)."""

    task: str = cfg("cn", help="task the actor acts in")
    role: str = cfg("expert", help="expert | medium | random (team snapshots) or prey | good (frozen opponents)")
    n_agents: int = cfg(3, help="number of agents (networks) stacked")
    obs_dim: int = cfg(18, help="per-agent observation size")
    act_dim: int = cfg(2, help="per-agent action size (2-D force)")
    hidden: int = cfg(128, help="hidden units per layer")
    layers: int = cfg(2, help="hidden layers")
    training: dict = cfg({}, help="how the snapshot was made: command, seed, env step, evaluation")


class MLPActor(nn.Module, HubMixin):
    """Per-agent deterministic MATD3 actors ``obs [n, B, obs_dim] -> force [n, B, 2]`` in [-1, 1]."""

    config_class = MLPActorConfig
    model_type = "macca-mlp-actor"

    def __init__(self, config: MLPActorConfig) -> None:
        super().__init__()
        self.config = config
        sizes = [config.obs_dim] + [config.hidden] * config.layers + [config.act_dim]
        self.net = StackedMLP(config.n_agents, sizes, out_act="tanh")

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs)


class MLPPolicy:
    """A saved :class:`MLPActor` used as a behaviour policy (all agents in one batched forward pass)."""

    def __init__(self, path: str | Path) -> None:
        self.actor = MLPActor.from_pretrained(path)
        self.actor.requires_grad_(False)
        # One env step needs one tiny forward pass: numpy's batched matmul costs ~8x less than torch's
        # dispatch overhead here, and collection is what builds 1M-transition datasets.
        self._w = [w.detach().numpy().copy() for w in self.actor.net.weights]
        self._b = [b.detach().numpy().copy() for b in self.actor.net.biases]

    def act(self, observations: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        obs = np.asarray(observations, dtype=np.float32)
        cfg_ = self.actor.config
        if obs.shape != (cfg_.n_agents, cfg_.obs_dim):
            raise ValueError(f"{cfg_.task}-{cfg_.role} policy expects observations of shape "
                             f"{(cfg_.n_agents, cfg_.obs_dim)}, got {obs.shape}.")
        x = obs[:, None, :]
        last = len(self._w) - 1
        for i, (w, b) in enumerate(zip(self._w, self._b)):
            x = np.matmul(x, w) + b  # all agents at once: [n, 1, in] @ [n, in, out]
            if i < last:
                np.maximum(x, 0.0, out=x)
        return np.tanh(x[:, 0, :]).astype(np.float64)


class ReplayPolicy:
    """Replays the logged actions of a training run (team and opponents), episode by episode.

    ``replay.npz`` holds ``team_actions [E, T, n, 2]`` and, for tasks with opponents,
    ``opponent_actions [E, T, m, 2]`` (float32, exactly what was applied). Episode ``e`` of the
    training run was reset with ``episode_seed(train_seed, e)``, so collecting with the same seed
    reproduces every transition of the replay buffer.
    """

    def __init__(self, path: str | Path) -> None:
        with np.load(path) as data:
            self.team = data["team_actions"]
            self.opp = data["opponent_actions"] if "opponent_actions" in data.files else None
        self.episode, self.t = -1, 0

    @property
    def num_episodes(self) -> int:
        return int(self.team.shape[0])

    def begin_episode(self, task: Any, episode: int) -> None:
        if not 0 <= episode < self.num_episodes:
            raise ValueError(f"The replay log holds {self.num_episodes} episodes; episode {episode} was asked for. "
                             "Build medium-replay with the recipe's size (omit --num-transitions).")
        self.episode, self.t = episode, 0
        if self.opp is not None:
            task.opponent_policy = self._opponent_act

    def _opponent_act(self, opp_obs: np.ndarray) -> np.ndarray:
        return self.opp[self.episode, self.t - 1].astype(np.float64)  # act() already advanced t

    def act(self, observations: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        a = self.team[self.episode, self.t]
        self.t += 1
        return a


def frozen_opponent(name: str) -> Any:
    """The shipped, frozen opponent policy ``name`` (e.g. ``pp-prey``) as ``obs [m, d] -> forces [m, 2]``."""
    policy = MLPPolicy(shipped_policy_dir(name))
    return policy.act


def frozen_opponent_info(name: str) -> dict[str, Any]:
    """Id and sha256 of a shipped opponent, recorded in every dataset's ``info.json``."""
    folder = shipped_policy_dir(name)
    return {"id": name, "kind": "mlp", "sha256": {f.name: sha256_file(f) for f in sorted(folder.iterdir())
                                                   if f.suffix in (".json", ".safetensors")}}


def make_policy(spec: PolicySpec) -> BehaviourPolicy:
    if spec.kind == "uniform":
        return UniformRandomPolicy()
    if spec.kind in ("mlp", "replay") and spec.path is None:
        raise ValueError(f"A {spec.kind!r} behaviour policy needs a path (a policy folder or replay.npz).")
    if not Path(spec.path).exists():  # type: ignore[arg-type]
        raise FileNotFoundError(f"Behaviour policy {spec.name!r} is not at {spec.path}. Shipped policies live in "
                                f"{SHIPPED}; train and export one with `macca-hub train-behaviour --task <task> --export`.")
    if spec.kind == "mlp":
        return MLPPolicy(spec.path)  # type: ignore[arg-type]
    if spec.kind == "replay":
        return ReplayPolicy(spec.path)  # type: ignore[arg-type]
    raise ValueError(f"Unknown behaviour policy kind {spec.kind!r}; available: {list(POLICY_KINDS)}.")
