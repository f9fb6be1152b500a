"""Behaviour policies that generate data: ``act(observations [n, obs_dim], rng) -> forces [n, 2]``.

A policy is described by a small picklable :class:`PolicySpec` so that worker processes can
rebuild it; the spec (and the sha256 of any weights) is recorded in the dataset's ``info.json``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

import numpy as np


class BehaviourPolicy(Protocol):
    def act(self, observations: np.ndarray, rng: np.random.Generator) -> np.ndarray: ...


@dataclasses.dataclass(frozen=True)
class PolicySpec:
    """What drives the team while collecting. ``kind='uniform'`` needs nothing else."""

    kind: str = "uniform"
    name: str = "uniform-random"
    path: str | None = None  # folder with config.json + model.safetensors, for learned policies
    noise_std: float = 0.0  # Gaussian exploration noise added to the policy's action, then clipped

    def to_info(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.name, "noise_std": self.noise_std}


class UniformRandomPolicy:
    """Independent uniform forces in [-1, 1]^2 for every agent."""

    def act(self, observations: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(-1.0, 1.0, size=(observations.shape[0], 2))


def make_policy(spec: PolicySpec) -> BehaviourPolicy:
    if spec.kind == "uniform":
        return UniformRandomPolicy()
    raise ValueError(f"Unknown behaviour policy kind {spec.kind!r}; available: ['uniform'].")
